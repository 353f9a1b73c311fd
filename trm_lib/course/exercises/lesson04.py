"""Checkers of lesson 04, ACT halting: the halting loss and slot refill."""
from __future__ import annotations

import copy
from dataclasses import fields as _fields
from typing import Any, Callable

import torch

from trm_lib.act import Carry, initial_carry
from trm_lib.act import refill as reference_refill
from trm_lib.course.checks import CheckResult, compare, failed, not_attempted, run_check, verdict
from trm_lib.course.exercises.lesson02 import tiny_trm
from trm_lib.course.exercises.lesson03 import _raised
from trm_lib.losses import trm_loss
from trm_lib.model import TRM


def reference_halt_loss(logits: torch.Tensor, labels: torch.Tensor, q_halt: torch.Tensor) -> torch.Tensor:
    """The halting part of trm_lib.losses.trm_loss: BCE(q_halt, whole grid exactly right)."""
    return trm_loss(logits, labels, q_halt).halt


CELLS = 20  # one wrong cell leaves 95% right: a "most cells right" target is caught too


def _halt_inputs(g: torch.Generator) -> tuple:
    """Logits of 6 grids of 20 cells; labels agree with the argmax everywhere in grids 0, 2, 4
    and in all but one cell in grids 1, 3, 5 (95% right, yet not exact)."""
    logits = torch.randn(6, CELLS, 5, generator=g)
    labels = logits.argmax(-1)
    cell = torch.randint(0, CELLS, (3,), generator=g)
    labels[1::2, :][torch.arange(3), cell] = (labels[1::2, :][torch.arange(3), cell] + 1) % 5
    return logits, labels, 2 * torch.randn(6, generator=g)


def check_halt_loss(fn: Callable) -> Callable:
    """halt_loss(logits, labels, q_halt) -> scalar, against the halting part of trm_loss:
    on grids that are exactly right, and on grids right in every cell but one."""
    result = run_check(fn, reference_halt_loss, _halt_inputs, "halt_loss", trials=3)
    if not result.passed and result.attempted and "values differ" in result.message:
        result = CheckResult(False, True, result.message.replace("; using the reference",
                                                                 f". {_likely_cause(fn)}; using the reference"))
    return verdict(result, fn, reference_halt_loss)


def _likely_cause(fn: Callable) -> str:
    """Name the mistake where the value gives it away: a sum over the batch, or another target."""
    logits, labels, q_halt = _halt_inputs(torch.Generator().manual_seed(0))
    expected = reference_halt_loss(logits, labels, q_halt)
    try:
        with torch.no_grad():
            mine = torch.as_tensor(fn(logits, labels, q_halt), dtype=torch.float32)
    except Exception:
        mine = None
    if mine is not None and mine.numel() == 1 and torch.isclose(mine, expected * len(q_halt), rtol=1e-4):
        return (f"Yours is {len(q_halt)} times the reference, once per grid of the batch: average over the "
                f"batch (the reduction 'mean'), do not sum")
    return (f"The target is 1 only where EVERY cell of the grid is right (a grid right in {CELLS - 1} of "
            f"{CELLS} cells, 95%, has target 0), and q_halt is a logit: binary_cross_entropy_with_logits")


def _refill_case(g: torch.Generator, model: TRM) -> tuple[Carry, torch.Tensor, torch.Tensor]:
    """A carry of 5 slots in mid-run (slots 1 and 3 halted), and the next batch of puzzles."""
    B, S = 5, model.cfg.seq_len
    inputs = torch.randint(1, 5, (B, S), generator=g)
    carry = initial_carry(model, inputs, inputs)
    shape = carry.y.shape
    carry = Carry(y=torch.randn(shape, generator=g), z=torch.randn(shape, generator=g),
                  steps=torch.randint(1, 4, (B,), generator=g, dtype=torch.int32),
                  halted=torch.tensor([False, True, False, True, False]),
                  inputs=inputs, labels=torch.randint(1, 5, (B, S), generator=g),
                  puzzle_ids=torch.zeros(B, dtype=torch.long))
    return carry, torch.randint(1, 5, (B, S), generator=g), torch.randint(1, 5, (B, S), generator=g)


def _refill_problem(mine: Any, expected: Carry, halted: torch.Tensor) -> str | None:
    if not all(hasattr(mine, f.name) for f in _fields(Carry)):
        return f"return a Carry (y, z, steps, halted, inputs, labels, puzzle_ids), got a {type(mine).__name__}"
    for f in _fields(Carry):
        a, b = getattr(mine, f.name), getattr(expected, f.name)
        problem = compare(a, b, what=f"carry.{f.name}")
        if problem:
            if " at index (" in problem:
                slot = int(problem.split(" at index (")[1].split(",")[0].rstrip(")"))
                state = "halted: it takes the new puzzle and starts afresh" if halted[slot] else \
                    "still running: it keeps its puzzle, its y, z and its step count"
                problem += f"; slot {slot} was {state}"
            return problem
    return None


def check_refill(fn: Callable) -> Callable:
    """refill(model, carry, inputs, labels) -> Carry, against trm_lib.act.refill, field by field."""
    name = "refill"
    model = tiny_trm()
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        carry, inputs, labels = _refill_case(g, model)
        try:
            mine = fn(model, copy.deepcopy(carry), inputs.clone(), labels.clone())
        except NotImplementedError:
            return verdict(not_attempted(name),
                           fn, reference_refill)
        except Exception as err:
            return verdict(_raised(name, err), fn, reference_refill)
        expected = reference_refill(model, copy.deepcopy(carry), inputs, labels)
        problem = _refill_problem(mine, expected, carry.halted)
        if problem:
            return verdict(failed(name, problem), fn, reference_refill)
    return verdict(CheckResult(True, True, f"✓ {name} matches trm_lib.act.refill on two carries "
                                           "(halted slots refilled and reset, the others untouched)"),
                   fn, reference_refill)
