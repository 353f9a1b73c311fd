"""Evaluation: exact, cell and valid accuracy after every supervision step, and halting.

Exact accuracy (the whole grid right) is the paper's metric; cell accuracy is inflated by
the givens, so we report it but never lead with it. "Valid" asks the task itself: a Sudoku
answer that obeys the rules and keeps the givens, or a maze path that is valid and shortest
(shortest paths are rarely unique, so a different shortest path than our label is valid).

Evaluation always runs every supervision step, as the reference does; `n_steps` above the
training count is test-time scaling.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.act import iter_steps
from trm_lib.data.maze import is_valid_shortest_path
from trm_lib.data.sudoku import is_valid_solution
from trm_lib.device import autocast
from trm_lib.losses import cell_accuracy, exact_match
from trm_lib.model import TRM
from trm_lib.data.puzzles import PuzzleSet, to_grid


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` in eval mode inside the block, and back in its own mode after it, error or not."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def in_eval_mode(fn: Callable) -> Callable:
    """`fn(model, ...)` run inside `eval_mode(model)`."""
    @functools.wraps(fn)
    def run(model: torch.nn.Module, *args, **kwargs):
        with eval_mode(model):
            return fn(model, *args, **kwargs)
    return run


@dataclass
class EvalResult:
    n_puzzles: int
    n_steps: int
    exact: float  # after the last step
    cell: float
    valid: float
    exact_per_step: list[float] = field(default_factory=list)  # index k: after step k+1
    cell_per_step: list[float] = field(default_factory=list)
    halt_prob_per_step: list[float] = field(default_factory=list)  # mean sigmoid(q_halt)
    halt_step_mean: float = 0.0  # mean first step with q_halt > 0 (n_steps if never)
    exact_at_halt: float = 0.0  # ACT at inference: the answer at that first halting step
    valid_at_halt: float = float("nan")
    predictions: torch.Tensor | None = None  # (P, S) tokens after the last step, on CPU
    valid_per_step: list[float] | None = None  # only when asked for: validity is checked on the CPU

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("predictions")
        if d["valid_per_step"] is None:
            d.pop("valid_per_step")
        return d

    def __str__(self) -> str:
        return (f"exact {self.exact:.1%}  cell {self.cell:.1%}  valid {self.valid:.1%}  "
                f"({self.n_puzzles} puzzles, {self.n_steps} supervision steps)")


def is_valid(task: str, question: np.ndarray, prediction: np.ndarray) -> bool:
    """Does `prediction` (a grid of tokens) answer `question` by the task's own rules?"""
    if task == "sudoku":
        return bool(is_valid_solution(to_grid(prediction, "sudoku"), to_grid(question, "sudoku")))
    return bool(is_valid_shortest_path(to_grid(question, "maze"), to_grid(prediction, "maze")))


@in_eval_mode
@torch.no_grad()
def evaluate(model: TRM, puzzles: PuzzleSet, n_steps: int | None = None, batch_size: int = 256,
             device: torch.device | None = None, check_validity: bool = True,
             valid_per_step: bool = False, progress: bool = False) -> EvalResult:
    """Run every puzzle for `n_steps` supervision steps (default: the model's n_sup).

    `valid_per_step` also checks the answer after every step by the task's rules (test-time
    scaling curves); by default only the last step's answer is checked. `progress` shows a
    bar over batches x supervision steps.
    """
    device = device or next(model.parameters()).device
    n_steps = model.cfg.n_sup if n_steps is None else n_steps
    if n_steps < 1:
        raise ValueError(f"the number of supervision steps must be at least 1, got {n_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    _check_steps_fit(n_steps, len(puzzles) * puzzles.seq_len if valid_per_step else 0)
    P = len(puzzles)
    exact = torch.zeros(n_steps, device=device)
    cell = torch.zeros(n_steps, device=device)
    halt_prob = torch.zeros(n_steps, device=device)
    halt_step = torch.zeros((), device=device)
    exact_halt = torch.zeros((), device=device)
    halt_preds = []
    preds = [[] for _ in range(n_steps if valid_per_step else 1)]  # per step, or the last one only
    bar = tqdm(total=-(-P // batch_size) * n_steps, disable=not progress, unit="step", desc="evaluating",
               mininterval=1.0)
    for start in range(0, P, batch_size):
        x = puzzles.inputs[start:start + batch_size].to(device)
        y = puzzles.labels[start:start + batch_size].to(device)
        first_halt = torch.full((x.shape[0],), float(n_steps), device=device)
        halt_pred = None  # the answer at each puzzle's first step with q_halt > 0
        steps = iter_steps(model, x, n_steps)
        for k in range(n_steps):
            with autocast(device):
                out = next(steps)
            bar.update(1)
            pred = out.logits.argmax(-1)
            right = exact_match(out.logits, y)
            exact[k] += right.sum()
            cell[k] += cell_accuracy(out.logits, y).sum()
            halt_prob[k] += torch.sigmoid(out.q_halt).sum()
            wants = (out.q_halt > 0) & (first_halt == n_steps)
            first_halt = torch.where(wants, float(k + 1), first_halt)
            # a puzzle that has not halted before this step takes this step's answer; so one that
            # never halts ends with the last answer, as halting at n_steps would give
            take = first_halt >= k + 1
            halt_pred = pred if halt_pred is None else torch.where(take.unsqueeze(-1), pred, halt_pred)
            right_at_halt = right if k == 0 else torch.where(take, right, right_at_halt)
            if valid_per_step:
                preds[k].append(pred.cpu())
        halt_step += first_halt.sum()
        exact_halt += right_at_halt.sum()
        halt_preds.append(halt_pred.cpu())
        if not valid_per_step:
            preds[0].append(pred.cpu())
    bar.close()
    per_step = [torch.cat(p) if p else torch.zeros(0, puzzles.seq_len, dtype=torch.long) for p in preds]
    predictions = per_step[-1]
    q = puzzles.inputs.cpu().numpy()

    def valid_each(p: torch.Tensor) -> list[bool]:
        p = p.numpy()
        return [is_valid(puzzles.task, q[i], p[i]) for i in range(P)]

    def valid_share(p: torch.Tensor) -> float:
        return sum(valid_each(p)) / P

    valid, valid_halt = float("nan"), float("nan")
    if check_validity and P:
        last_ok = valid_each(predictions)
        valid = sum(last_ok) / P
        at_halt = torch.cat(halt_preds)
        differs = (at_halt != predictions).any(-1).tolist()  # check only the answers that differ
        at_halt_np = at_halt.numpy()
        valid_halt = sum(is_valid(puzzles.task, q[i], at_halt_np[i]) if differs[i] else last_ok[i]
                         for i in range(P)) / P
    valid_l = [valid_share(p) for p in per_step] if valid_per_step and P else None
    exact_l = [c / max(P, 1) for c in exact.tolist()]  # counts / P, exactly as `valid` is computed
    cell_l = (cell / max(P, 1)).tolist()
    return EvalResult(
        n_puzzles=P, n_steps=n_steps, exact=exact_l[-1], cell=cell_l[-1], valid=valid,
        exact_per_step=exact_l, cell_per_step=cell_l,
        halt_prob_per_step=(halt_prob / max(P, 1)).tolist(),
        halt_step_mean=(halt_step / max(P, 1)).item(), exact_at_halt=(exact_halt / max(P, 1)).item(),
        valid_at_halt=valid_halt, predictions=predictions, valid_per_step=valid_l,
    )


def _check_steps_fit(n_steps: int, kept_per_step: int) -> None:
    """Refuse a step count whose per-step records (three numbers per step, and with
    `valid_per_step` every answer of every step) cannot fit in memory."""
    from trm_lib.limits import memory_bytes

    need = n_steps * (128 + 8 * kept_per_step)  # bytes: tensors, Python floats, kept answers
    available = memory_bytes(torch.device("cpu"))
    if available is not None and need > available // 2:
        raise ValueError(f"{n_steps:,} supervision steps would keep {need / 2**30:,.0f} GiB of per-step "
                         f"results, more than half of this machine's {available / 2**30:,.0f} GiB; "
                         f"ask for fewer steps")
