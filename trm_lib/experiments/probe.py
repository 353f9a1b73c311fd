"""What the carried state holds: y and z after every supervision step, a 2-D view, linear probes.

    states = collect_states(model, puzzles.inputs, n_steps=8)     # y, z: (steps, P, S, D)
    acc = probe_per_step(states.z, puzzles, blanks_only=True)     # can a linear map read the answer from z?

A linear probe is a least-squares map from a cell's D-dimensional state to the one-hot
digit of the cell's answer, fitted on one half of the puzzles and scored on the other. If
it reads the digit well, the answer is there, linearly; if not, it may still be there in a
form a linear map cannot read. The model's own output head is one such linear map for y.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from trm_lib.act import evaluate_steps
from trm_lib.evaluate import eval_mode
from trm_lib.data.puzzles import PuzzleSet


@dataclass
class States:
    """y and z at the end of each supervision step, cell positions only (the prefix dropped)."""

    y: torch.Tensor  # (steps, P, S, D)
    z: torch.Tensor  # (steps, P, S, D)
    logits: torch.Tensor  # (steps, P, S, vocab): the model's decoding of y


@torch.no_grad()
def collect_states(model: torch.nn.Module, inputs: torch.Tensor, n_steps: int | None = None) -> States:
    """Run `n_steps` supervision steps (default n_sup) and keep y, z and the logits of each."""
    with eval_mode(model):
        outs = evaluate_steps(model, inputs, n_steps)
    prefix = model.cfg.puzzle_emb_len
    return States(torch.stack([o.y[:, prefix:].float() for o in outs]),
                  torch.stack([o.z[:, prefix:].float() for o in outs]),
                  torch.stack([o.logits.float() for o in outs]))


def pca_2d(features: torch.Tensor, fit_on: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Project (N, D) features on the top two principal directions of `fit_on` (default: themselves).

    Returns the (N, 2) coordinates and the fraction of variance each direction explains.
    """
    ref = features if fit_on is None else fit_on
    mean = ref.mean(0)
    _, s, v = torch.linalg.svd(ref - mean, full_matrices=False)  # v: (D, D), rows are directions
    explained = s.square() / s.square().sum()
    return (features - mean) @ v[:2].T, explained[:2]


def fit_probe(features: torch.Tensor, digits: torch.Tensor, num_classes: int, ridge: float = 1e-3) -> torch.Tensor:
    """Ridge least squares from features (N, D) to one-hot digits (N,): W of shape (D + 1, C).

    A column of ones is appended to the features (the bias, the last row of W), and
    W = (X^T X + ridge I)^-1 X^T Y; the ridge term keeps the solve stable and also shrinks the bias.
    """
    X = torch.cat([features, features.new_ones(features.shape[0], 1)], dim=1)  # (N, D + 1)
    Y = torch.nn.functional.one_hot(digits, num_classes).to(X.dtype)  # (N, C)
    A = X.T @ X + ridge * torch.eye(X.shape[1], dtype=X.dtype)
    return torch.linalg.solve(A, X.T @ Y)


def probe_predict(W: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """The digit (0..C-1) a fitted probe reads from each row of features (N, D)."""
    X = torch.cat([features, features.new_ones(features.shape[0], 1)], dim=1)
    return (X @ W).argmax(-1)


def answer_digits(puzzles: PuzzleSet) -> torch.Tensor:
    """(P, S) the answer of every cell as a class 0..N-1 (Sudoku token d + 1 -> class d - 1)."""
    if puzzles.task != "sudoku":
        raise ValueError(f"answer_digits reads Sudoku answers; these puzzles are {puzzles.task}")
    return puzzles.labels - 2


def probe_per_step(states: torch.Tensor, puzzles: PuzzleSet, blanks_only: bool = True,
                   ridge: float = 1e-3, fit_fn=fit_probe) -> list[float]:
    """Held-out accuracy of a linear probe fitted at each step: states (steps, P, S, D).

    The first half of the puzzles fits the probe, the second half scores it; with
    `blanks_only` only the cells the model had to fill count (givens are easy to copy).
    """
    P = states.shape[1]
    if P < 4:
        raise ValueError(f"a probe needs at least 4 puzzles (half to fit, half to score), got {P}")
    digits = answer_digits(puzzles)[:P]
    keep = puzzles.inputs[:P] == 1 if blanks_only else torch.ones_like(digits, dtype=torch.bool)
    half = P // 2
    C = puzzles.size
    accs = []
    for step_states in states:
        fit_x, fit_d = step_states[:half][keep[:half]], digits[:half][keep[:half]]
        test_x, test_d = step_states[half:][keep[half:]], digits[half:][keep[half:]]
        W = fit_fn(fit_x, fit_d, C, ridge)
        accs.append((probe_predict(W, test_x) == test_d).float().mean().item())
    return accs


def head_per_step(model: torch.nn.Module, states: torch.Tensor, puzzles: PuzzleSet,
                  blanks_only: bool = True) -> list[float]:
    """Accuracy of the model's own output head applied to `states` (steps, P, S, D) at each step."""
    P = states.shape[1]
    digits = answer_digits(puzzles)[:P]
    keep = puzzles.inputs[:P] == 1 if blanks_only else torch.ones_like(digits, dtype=torch.bool)
    with torch.no_grad():
        pred = model.head(states).argmax(-1) - 2  # tokens -> classes
    return [(p[keep] == digits[keep]).float().mean().item() for p in pred]
