"""The one-pass baseline and the plain training loop of lessons 01 and 02."""
import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from trm_lib import TRM, get_preset  # noqa: E402
from trm_lib.course.baseline import OnePassNet, final_eval, fit  # noqa: E402
from trm_lib.viz.plots import plot_runs  # noqa: E402
from trm_lib.data.paths import dataset_files  # noqa: E402
from trm_lib.data.puzzles import load_puzzles  # noqa: E402


def tiny_run_config(steps=6):
    return get_preset("sudoku4-cpu").with_overrides(
        {"model.hidden_size": 16, "model.n_sup": 1, "train.batch_size": 8, "train.max_steps": steps,
         "train.eval_every": 3, "train.warmup_steps": 2})


@pytest.fixture(scope="module")
def sudoku4():
    train, test = dataset_files("sudoku-4x4")
    return load_puzzles(train).subset(slice(0, 64)), load_puzzles(test).subset(slice(0, 16))


def count_net_calls(model, inputs):
    calls = []
    handle = model.net.register_forward_hook(lambda *args: calls.append(1))
    model(inputs)
    handle.remove()
    return len(calls)


def test_the_one_pass_net_has_exactly_trms_parameters_and_the_same_seed_gives_the_same_weights():
    cfg = tiny_run_config().model
    torch.manual_seed(0)
    one = OnePassNet(cfg)
    torch.manual_seed(0)
    trm = TRM(cfg)
    a, b = one.state_dict(), trm.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_one_pass_net_calls_the_network_once_and_trm_calls_it_T_times_n_plus_1():
    cfg = tiny_run_config().with_overrides({"model.T": 3, "model.n": 2}).model
    inputs = torch.ones(2, cfg.seq_len, dtype=torch.long)
    assert count_net_calls(OnePassNet(cfg), inputs) == 1
    assert count_net_calls(TRM(cfg), inputs) == 3 * (2 + 1)


def test_the_one_pass_logits_are_the_head_of_one_pass_over_x():
    cfg = tiny_run_config().model
    model = OnePassNet(cfg)
    inputs = torch.randint(1, cfg.vocab_size, (2, cfg.seq_len))
    expected = model.head(model.net(model.embed_input(inputs)))[:, cfg.puzzle_emb_len:]
    assert torch.allclose(model(inputs).logits, expected)


def test_fit_logs_training_and_test_records_and_is_reproducible(sudoku4):
    cfg = tiny_run_config()
    runs = [fit(cfg, *sudoku4, OnePassNet, log_every=2, device="cpu", progress=False) for _ in range(2)]
    history = runs[0].history
    assert [r["step"] for r in history if "eval" in r] == [3, 6]
    assert [r["step"] for r in history if "loss" in r] == [2, 4, 6]
    assert set(final_eval(history)) == {"exact", "cell", "valid"}
    strip = [{k: v for k, v in r.items() if k != "time_s"} for r in history]
    assert strip == [{k: v for k, v in r.items() if k != "time_s"} for r in runs[1].history]
    assert not runs[0].model.training


def test_fit_lowers_the_loss_of_trm_on_a_few_puzzles(sudoku4):
    cfg = tiny_run_config(steps=40).with_overrides({"train.lr": 3e-3})
    history = fit(cfg, sudoku4[0], None, TRM, log_every=10, device="cpu", progress=False).history
    losses = [r["loss"] for r in history]
    assert losses[-1] < 0.8 * losses[0]


def test_fit_rejects_data_of_another_size(sudoku4):
    cfg = get_preset("sudoku6-cpu")
    with pytest.raises(ValueError, match="training data has 16 cells and vocab 6; sudoku6-cpu expects 36 and 8"):
        fit(cfg, sudoku4[0], progress=False)


def test_final_eval_needs_a_test_evaluation():
    with pytest.raises(ValueError, match="no test evaluation"):
        final_eval([{"step": 1, "loss": 1.0}])


def test_plot_runs_draws_one_colour_per_run(sudoku4):
    history = fit(tiny_run_config(), *sudoku4, OnePassNet, device="cpu", progress=False).history
    fig = plot_runs({"a": history, "b": history}, title="t")
    acc, loss = fig.axes[:2]
    assert len(acc.lines) == 4 and len(loss.lines) == 2 and acc.get_title() == "t: test accuracy"
