"""Deep supervision on one batch, and the memory autograd keeps: flat with the detach, growing without."""
import torch

from tests.conftest import tiny_config
from trm_lib.model import TRM
from trm_lib.course.supervision import backprop_through_all_steps, deep_supervision, peak_saved_bytes


def _batch():
    g = torch.Generator().manual_seed(0)
    return torch.randint(1, 5, (4, 9), generator=g), torch.randint(1, 5, (4, 9), generator=g)


def test_deep_supervision_takes_one_optimizer_step_per_supervision_step_and_learns_the_batch():
    torch.manual_seed(0)  # the same model wherever the test runs in the suite
    model = TRM(tiny_config(T=2, n=2))
    steps = []
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    optimizer.step = (lambda step: lambda *a, **k: (steps.append(1), step(*a, **k)))(optimizer.step)
    inputs, labels = _batch()
    first = deep_supervision(model, inputs, labels, 4, optimizer)
    assert len(first) == 4 and len(steps) == 4
    for _ in range(30):  # after 10 rounds half of the random initialisations were not yet below step 1's loss
        last = deep_supervision(model, inputs, labels, 4, optimizer)
    assert last[-1] < first[0]


def test_memory_is_flat_in_n_sup_with_the_detach_and_grows_without_it():
    model = TRM(tiny_config(T=2, n=2))
    inputs, labels = _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    flat = [peak_saved_bytes(deep_supervision, model, inputs, labels, k, opt)[1] for k in (1, 2, 4)]
    grows = [peak_saved_bytes(backprop_through_all_steps, model, inputs, labels, k)[1] for k in (1, 2, 4)]
    assert flat[0] > 0 and flat[0] == flat[1] == flat[2]
    assert grows[1] == 2 * grows[0] and grows[2] == 4 * grows[0]


def test_the_meter_counts_only_what_is_alive_at_once_and_returns_the_result():
    w = torch.randn(100, requires_grad=True)

    def two_graphs_one_after_the_other():
        for _ in range(2):
            (w * w).sum().backward()  # saves w twice (400 bytes each), freed by backward
        return "done"

    result, peak = peak_saved_bytes(two_graphs_one_after_the_other)
    assert result == "done" and peak == 800


def test_backprop_through_all_steps_reaches_the_first_step():
    model = TRM(tiny_config(T=1, n=1))
    inputs, labels = _batch()
    backprop_through_all_steps(model, inputs, labels, 3)
    assert model.embed_tokens.grad is not None and model.embed_tokens.grad.abs().sum() > 0
