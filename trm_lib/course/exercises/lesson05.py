"""Checkers of lesson 05, EMA and the recipe: stablemax cross-entropy and the EMA update."""
from __future__ import annotations

from typing import Callable

import torch

from trm_lib.course.checks import CheckResult, run_check, verdict
from trm_lib.ema import EMA
from trm_lib.losses import cell_cross_entropy


def reference_stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-cell stablemax cross-entropy, (B, S, V) x (B, S) -> (B, S), as trm_lib.losses computes it."""
    return cell_cross_entropy(logits, labels, "stablemax")


def _logits_and_labels(g: torch.Generator) -> tuple:
    """Logits spread wide (both branches of s(x) and large values), with -1, 0 and exactly 1.0
    among them (where an unclamped 1 / (1 - x) is infinite), random labels."""
    logits = 4 * torch.randn(3, 7, 6, generator=g)
    logits[0, 0, :3] = torch.tensor([-1.0, 0.0, 1.0])
    logits[1, 2, 1] = 1.0
    return logits, torch.randint(0, 6, (3, 7), generator=g)


def check_stablemax_cross_entropy(fn: Callable) -> Callable:
    """stablemax_cross_entropy(logits, labels) -> (B, S) against trm_lib.losses.cell_cross_entropy."""
    result = run_check(fn, reference_stablemax_cross_entropy, _logits_and_labels, "stablemax_cross_entropy")
    if not result.passed and result.attempted and "nan" in result.message.lower():
        result = CheckResult(False, True, result.message.replace(
            "; using the reference", ". A NaN where a logit is exactly 1.0: torch.where computes both "
            "branches, and 1 / (1 - x) is infinite at x = 1, so its gradient poisons the sum even where "
            "the other branch is picked. Clamp x to at most 0 inside that branch: 1 / (1 - x.clamp(max=0)); "
            "using the reference"))
    if not result.passed and result.attempted and "values differ" in result.message:
        softmax = run_check(fn, lambda lg, lb: cell_cross_entropy(lg, lb, "softmax"), _logits_and_labels, grad=False)
        if softmax.passed:
            result = CheckResult(False, True, result.message.replace(
                "; using the reference", ". These are softmax's values: use s(x) = x + 1 (x >= 0), "
                "1 / (1 - x) (x < 0) in place of exp(x); using the reference"))
    return verdict(result, fn, reference_stablemax_cross_entropy)


def reference_ema_update(shadow: torch.Tensor, weight: torch.Tensor, decay: float) -> torch.Tensor:
    """One step of trm_lib.ema.EMA on a single weight: decay * shadow + (1 - decay) * weight."""
    holder = torch.nn.Module()
    holder.w = torch.nn.Parameter(shadow.detach().clone())
    ema = EMA(holder, decay)
    with torch.no_grad():
        holder.w.copy_(weight)
    ema.update(holder)
    return ema.shadow[0]


def _ema_inputs(g: torch.Generator) -> tuple:
    decay = float(0.5 + 0.49 * torch.rand((), generator=g))
    return torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g), decay


def check_ema_update(fn: Callable) -> Callable:
    """ema_update(shadow, weight, decay) -> the new shadow, against trm_lib.ema.EMA.update."""
    result = run_check(fn, reference_ema_update, _ema_inputs, "ema_update", grad=False)
    if not result.passed and result.attempted and "values differ" in result.message:
        swapped = run_check(fn, lambda s, w, d: reference_ema_update(s, w, 1 - d), _ema_inputs, grad=False)
        if swapped.passed:
            result = CheckResult(False, True, result.message.replace(
                "; using the reference", ". decay and 1 - decay are swapped: the shadow keeps `decay` of "
                "itself and takes 1 - decay of the new weight; using the reference"))
    return verdict(result, fn, reference_ema_update)
