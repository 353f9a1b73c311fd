"""Deep supervision with adaptive computation time (ACT), batched by slot refill.

A training batch is B *slots*. Each slot holds one puzzle and its carried state (y, z)
across supervision steps. One training iteration runs ONE supervision step for every slot,
then one optimizer step. A slot whose puzzle halted is refilled with a new puzzle from the
incoming batch (fresh y, z; steps = 0); the other slots keep their puzzle and state. So
the N_sup supervision steps of a puzzle are spread over N_sup iterations.

Halting in training: a slot halts when q_halt > 0 or it has run n_sup steps. Exploration:
with probability p a slot draws a minimum step count uniformly from 2..n_sup and cannot
halt before it (no exploration when n_sup is 1). With `halt_in_training=False` (ours, not
the paper's) a slot halts only after n_sup steps: every step of every puzzle is trained,
the steps after the answer was found included. Evaluation never halts early: it always
runs all n_sup steps, and reports the answer at the first step with q_halt > 0 beside it.

Everything here stays on the device: no .item(), no host-device synchronisation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from trm_lib.model import TRM, StepOutput


@dataclass
class Carry:
    """The state of B slots between training iterations."""

    y: torch.Tensor  # (B, L, D) answer state, detached
    z: torch.Tensor  # (B, L, D) latent state, detached
    steps: torch.Tensor  # (B,) int: supervision steps this slot's puzzle has had
    halted: torch.Tensor  # (B,) bool: refill this slot at the next iteration
    inputs: torch.Tensor  # (B, S) the slot's current puzzle
    labels: torch.Tensor  # (B, S) its solution
    puzzle_ids: torch.Tensor  # (B,)


def initial_carry(model: TRM, inputs: torch.Tensor, labels: torch.Tensor,
                  puzzle_ids: torch.Tensor | None = None) -> Carry:
    """A carry whose every slot is marked halted, so the first step fills them all."""
    B = inputs.shape[0]
    y, z = model.initial_state(B)
    if puzzle_ids is None:
        puzzle_ids = torch.zeros(B, dtype=torch.long, device=inputs.device)
    return Carry(
        y=y.clone(), z=z.clone(),
        steps=torch.zeros(B, dtype=torch.int32, device=inputs.device),
        halted=torch.ones(B, dtype=torch.bool, device=inputs.device),
        inputs=torch.zeros_like(inputs), labels=torch.zeros_like(labels), puzzle_ids=puzzle_ids.clone(),
    )


def refill(model: TRM, carry: Carry, inputs: torch.Tensor, labels: torch.Tensor,
           puzzle_ids: torch.Tensor | None = None) -> Carry:
    """Halted slots take the puzzle at the same index of the new batch and a fresh (y, z)."""
    h = carry.halted
    if puzzle_ids is None:
        puzzle_ids = torch.zeros_like(carry.puzzle_ids)
    y0, z0 = model.initial_state(h.shape[0])
    h3 = h.view(-1, 1, 1)
    return Carry(
        y=torch.where(h3, y0, carry.y),
        z=torch.where(h3, z0, carry.z),
        steps=torch.where(h, 0, carry.steps),
        halted=torch.zeros_like(h),
        inputs=torch.where(h.view(-1, 1), inputs, carry.inputs),
        labels=torch.where(h.view(-1, 1), labels, carry.labels),
        puzzle_ids=torch.where(h, puzzle_ids, carry.puzzle_ids),
    )


def halting_decision(q_halt: torch.Tensor, steps: torch.Tensor, n_sup: int,
                     exploration_prob: float, generator: torch.Generator | None = None,
                     local: slice | None = None, global_size: int | None = None,
                     use_q: bool = True) -> torch.Tensor:
    """(B,) bool: halt where q_halt > 0 or steps >= n_sup, but not before an explored minimum.

    `use_q=False` halts at n_sup only (`ModelConfig.halt_in_training=False`).

    `steps` counts the steps already run, this one included. With several processes the
    exploration is drawn for all `global_size` slots on every process and each keeps its
    `local` slice, so K processes explore exactly as one process with the whole batch does.
    Exploration needs room for a minimum of 2 steps: none when n_sup is 1 (as the official).
    """
    if not use_q:
        return steps >= n_sup
    halted = (steps >= n_sup) | (q_halt > 0)
    if exploration_prob > 0 and n_sup > 1:
        device = q_halt.device
        shape = (global_size,) if global_size is not None else q_halt.shape
        explore = torch.rand(shape, generator=generator, device=device) < exploration_prob
        min_steps = torch.randint(2, n_sup + 1, shape, generator=generator, device=device)
        if local is not None:
            explore, min_steps = explore[local], min_steps[local]
        halted = halted & (steps >= torch.where(explore, min_steps, 0))
    return halted


def train_step_forward(model: TRM, carry: Carry, inputs: torch.Tensor, labels: torch.Tensor,
                       puzzle_ids: torch.Tensor | None = None,
                       generator: torch.Generator | None = None,
                       forward: torch.nn.Module | None = None,
                       local: slice | None = None, global_size: int | None = None) -> tuple[Carry, StepOutput]:
    """Refill halted slots, run one supervision step for all slots, decide who halts.

    Returns the new carry (its labels are the ones to train `out.logits` against) and the
    step's output, whose logits and q_halt still carry the graph of the last recursion.
    `forward` runs the step in place of `model` (a DistributedDataParallel wrapper of it);
    `local` and `global_size` say which slots of the global batch these are (see
    `halting_decision`).
    """
    cfg = model.cfg
    carry = refill(model, carry, inputs, labels, puzzle_ids)
    out = (forward or model)(carry.inputs, carry.y, carry.z, carry.puzzle_ids)
    steps = carry.steps + 1
    with torch.no_grad():
        halted = halting_decision(out.q_halt, steps, cfg.n_sup, cfg.halt_exploration_prob, generator,
                                  local, global_size, use_q=cfg.halt_in_training)
    new = Carry(out.y, out.z, steps, halted, carry.inputs, carry.labels, carry.puzzle_ids)
    return new, out


@torch.no_grad()
def evaluate_steps(model: TRM, inputs: torch.Tensor, n_steps: int | None = None,
                   puzzle_ids: torch.Tensor | None = None) -> list[StepOutput]:
    """Run every supervision step (no early halting) and return each step's output.

    `n_steps` defaults to the model's n_sup; more steps than in training is test-time scaling.
    """
    return list(iter_steps(model, inputs, n_steps, puzzle_ids))


@torch.no_grad()
def iter_steps(model: TRM, inputs: torch.Tensor, n_steps: int | None = None,
               puzzle_ids: torch.Tensor | None = None) -> Iterator[StepOutput]:
    """`evaluate_steps` one step at a time: only the current step's output is kept."""
    n_steps = model.cfg.n_sup if n_steps is None else n_steps
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    y = z = None
    for _ in range(n_steps):
        out = model(inputs, y, z, puzzle_ids)
        y, z = out.y, out.z
        yield out
