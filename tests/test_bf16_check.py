"""The bf16 comparison of tests/test_cuda.py, run on the CPU with bf16 autocast: rounding
passes it, and a step on other puzzles fails it, so the GPU test can fail."""
from tests.test_cuda import beyond_tolerance, relative_differences, shipped_puzzles, training_step
from trm_lib.pretrained import load_pretrained


def test_bf16_rounding_passes_the_check_and_other_puzzles_fail_it():
    model, cfg = load_pretrained("sudoku4-cpu")
    x, labels = shipped_puzzles(cfg.dataset, 32)
    float32 = training_step(model, x, labels, "cpu", bf16=False)
    bf16 = training_step(model, x, labels, "cpu", bf16=True)
    assert not beyond_tolerance(bf16, float32), relative_differences(bf16, float32)
    other = training_step(model, *shipped_puzzles(cfg.dataset, 32, start=32), "cpu", bf16=False)
    assert set(beyond_tolerance(other, float32)) == {"loss", "logits", "y", "z", "gradients"}


def test_the_step_runs_on_a_copy_and_leaves_the_model_alone():
    """training_step works on a copy: the shipped model keeps its weights and has no gradients."""
    model, cfg = load_pretrained("sudoku4-cpu")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    training_step(model, *shipped_puzzles(cfg.dataset, 4), "cpu", bf16=False)
    assert all(p.grad is None and p.equal(before[n]) for n, p in model.named_parameters())
