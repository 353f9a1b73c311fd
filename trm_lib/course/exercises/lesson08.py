"""Checkers of lesson 08, beyond the paper: the test-time scaling loop and the linear probe."""
from __future__ import annotations

import torch

from trm_lib.act import evaluate_steps
from trm_lib.losses import exact_match
from trm_lib.course.checks import CheckResult, run_check, verdict


def reference_exact_per_step(model, inputs: torch.Tensor, labels: torch.Tensor, n_steps: int) -> torch.Tensor:
    """(n_steps,) exact accuracy after each supervision step, every step run from the last one's (y, z)."""

    outs = evaluate_steps(model, inputs, n_steps)
    return torch.stack([exact_match(o.logits, labels).float().mean() for o in outs])


def _as_float_tensor(fn):
    """The learner may return a list of numbers or of 0-d tensors: compare it as a float tensor."""
    def wrapped(*args):
        out = fn(*args)
        if isinstance(out, (list, tuple)) and all(isinstance(v, (int, float, torch.Tensor)) for v in out):
            out = torch.tensor([float(v) for v in out])
        return out.float() if isinstance(out, torch.Tensor) else out
    return wrapped


def check_exact_per_step(fn, n_steps: int = 10, puzzles_per_trial: int = 16):
    """Lesson 08: exact_per_step(model, inputs, labels, n_steps) -> (n_steps,) accuracies, checked on
    the shipped 6x6 model and test puzzles, with more steps than it trained with."""
    from trm_lib.data.paths import dataset_files
    from trm_lib.pretrained import load_pretrained
    from trm_lib.data.puzzles import load_puzzles

    model, _ = load_pretrained("sudoku6-cpu")
    test = load_puzzles(dataset_files("sudoku-6x6")[1])

    def inputs(g: torch.Generator) -> tuple:
        idx = torch.randperm(len(test), generator=g)[:puzzles_per_trial]
        return model, test.inputs[idx], test.labels[idx], n_steps

    result = run_check(_as_float_tensor(fn), reference_exact_per_step, inputs, "exact_per_step", trials=2, grad=False)
    if not result.passed and result.attempted and "values differ" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "(trial", "(index k is the accuracy after step k + 1; does each step start from the last "
                      "one's y and z, and count a puzzle only when every cell is right?) (trial"))
    return verdict(result, fn, reference_exact_per_step)


def _probe_inputs(g: torch.Generator) -> tuple:
    digits = torch.randint(0, 4, (120,), generator=g)
    features = torch.randn(120, 6, generator=g) + torch.randn(4, 6, generator=g)[digits]  # a cloud per digit
    return features, digits, 4, 5.0


def check_fit_probe(fn):
    """Lesson 08: fit_probe(features (N, D), digits (N,), num_classes, ridge) -> W (D + 1, C)."""
    from trm_lib.experiments.probe import fit_probe

    result = run_check(fn, fit_probe, _probe_inputs, "fit_probe", trials=3, grad=False)
    if not result.passed and result.attempted and "shape: yours (6, 4)" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using", "; did you append the column of ones (the bias) to the features?; using"))
    return verdict(result, fn, fit_probe)
