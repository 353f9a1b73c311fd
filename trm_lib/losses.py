"""Losses: stablemax cross-entropy over the cells, and the halting loss.

Stablemax replaces exp in softmax by a function that grows only linearly:

    s(x) = x + 1          for x >= 0
    s(x) = 1 / (1 - x)    for x < 0          p_i = s(x_i) / sum_j s(x_j)

It never overflows, which keeps long training runs stable. The reference computes it in
float64; Apple's MPS has no float64, so there we fall back to float32.

The TRM loss for one supervision step:

    L = mean_b [ mean_cells CE(logits, labels) ]  +  0.5 * mean_b BCE(q_halt, exact_b)

where exact_b = 1 iff EVERY cell of sample b is predicted correctly (whole-grid exact match).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # label value for cells that carry no target


def _wide_float(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0."""
    # clamp the branch that torch.where discards, so neither branch divides by zero
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))


def log_stablemax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log p with p = s(x) / sum s(x), computed in float64 (float32 on MPS)."""
    s = stablemax_s(logits.to(_wide_float(logits.device)))
    return torch.log(s) - torch.log(s.sum(dim=dim, keepdim=True))


def cell_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, kind: str = "stablemax") -> torch.Tensor:
    """Cross-entropy per cell, (B, S, V) x (B, S) -> (B, S) float32; 0 where label == IGNORE_INDEX."""
    valid = labels != IGNORE_INDEX
    safe = torch.where(valid, labels, 0)
    if kind == "stablemax":
        logp = log_stablemax(logits)
    elif kind == "softmax":
        logp = F.log_softmax(logits.float(), dim=-1)
    else:
        raise ValueError(f"loss kind {kind!r}: expected 'stablemax' or 'softmax'")
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, nll, 0).float()


def exact_match(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) bool: every target cell's argmax equals its label (the whole grid is right)."""
    valid = labels != IGNORE_INDEX
    correct = (logits.argmax(-1) == labels) | ~valid
    return correct.all(dim=-1)


def cell_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) float32: the fraction of each sample's target cells whose argmax equals the label."""
    valid = labels != IGNORE_INDEX
    right = (logits.argmax(-1) == labels) & valid
    return (right.sum(-1) / valid.sum(-1).clamp(min=1)).float()


@dataclass
class LossOutput:
    total: torch.Tensor  # scalar, what backward() is called on
    cell_loss: torch.Tensor  # scalar, the cell cross-entropy part
    halt: torch.Tensor  # scalar, the halting BCE part (unweighted)
    exact: torch.Tensor  # (B,) bool, whole-grid exact match (also the halt target)
    cell_correct: torch.Tensor  # (B,) float, fraction of target cells right


def trm_loss(logits: torch.Tensor, labels: torch.Tensor, q_halt: torch.Tensor,
             kind: str = "stablemax", halt_weight: float = 0.5) -> LossOutput:
    """The per-step TRM loss: cell CE (mean over cells, then over the batch) + halt_weight * BCE."""
    if logits.shape[:2] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}")
    n_cells = (labels != IGNORE_INDEX).sum(-1).clamp(min=1)  # (B,)
    per_sample = cell_cross_entropy(logits, labels, kind).sum(-1) / n_cells  # (B,)
    cell_loss = per_sample.mean()
    with torch.no_grad():
        exact = exact_match(logits, labels)
        cell_correct = cell_accuracy(logits, labels)
    halt = F.binary_cross_entropy_with_logits(q_halt.float(), exact.float())
    return LossOutput(cell_loss + halt_weight * halt, cell_loss, halt, exact, cell_correct)
