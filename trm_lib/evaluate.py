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
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.act import iter_steps
from trm_lib.data.maze import is_valid_shortest_path
from trm_lib.data.puzzles import PuzzleSet, require_puzzle_set, to_grid
from trm_lib.data.sudoku import is_valid_solution
from trm_lib.device import autocast
from trm_lib.limits import memory_bytes
from trm_lib.losses import cell_accuracy, exact_match
from trm_lib.model import TRM, ModelConfig, StepOutput


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` in eval mode inside the block, and back in its own mode after it, error or not."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


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


@torch.no_grad()
def evaluate(model: TRM, puzzles: PuzzleSet, n_steps: int | None = None, batch_size: int = 256,
             device: torch.device | None = None, check_validity: bool = True,
             valid_per_step: bool = False, progress: bool = False) -> EvalResult:
    """Run every puzzle for `n_steps` supervision steps (default: the model's n_sup).

    `valid_per_step` also checks the answer after every step by the task's rules (test-time
    scaling curves); by default only the last step's answer is checked. `progress` shows a
    bar over batches x supervision steps.
    """
    check_puzzles_fit(model, puzzles)
    device = device or next(model.parameters()).device
    n_steps = model.cfg.n_sup if n_steps is None else n_steps
    P = len(puzzles)
    _check_request(n_steps, batch_size, P * puzzles.seq_len if valid_per_step else 0)
    with eval_mode(model):
        sums, answers, at_halt = _run(model, puzzles, n_steps, batch_size, device, valid_per_step, progress)
    predictions = answers[-1]
    q = puzzles.inputs.cpu().numpy()
    valid, valid_halt = float("nan"), float("nan")
    if check_validity and P:
        valid, valid_halt = _valid_last_and_at_halt(puzzles.task, q, predictions, at_halt)
    valid_l = [sum(_valid_each(puzzles.task, q, a)) / P for a in answers] if valid_per_step and P else None
    n = max(P, 1)
    exact_l = [c / n for c in sums.exact.tolist()]  # counts / P, exactly as `valid` is computed
    cell_l = (sums.cell / n).tolist()
    return EvalResult(
        n_puzzles=P, n_steps=n_steps, exact=exact_l[-1], cell=cell_l[-1], valid=valid,
        exact_per_step=exact_l, cell_per_step=cell_l, halt_prob_per_step=(sums.halt_prob / n).tolist(),
        halt_step_mean=(sums.halt_step / n).item(), exact_at_halt=(sums.exact_at_halt / n).item(),
        valid_at_halt=valid_halt, predictions=predictions, valid_per_step=valid_l,
    )


@dataclass
class _Sums:
    """Counts summed over puzzles, on the device; divided by the number of puzzles at the end."""
    exact: torch.Tensor  # (n_steps,) puzzles whose whole grid is right after step k+1
    cell: torch.Tensor  # (n_steps,) each puzzle's share of right cells
    halt_prob: torch.Tensor  # (n_steps,) sigmoid(q_halt)
    halt_step: torch.Tensor  # () each puzzle's first step with q_halt > 0
    exact_at_halt: torch.Tensor  # () puzzles right at that step

    @classmethod
    def zeros(cls, n_steps: int, device: torch.device) -> _Sums:
        per_step = [torch.zeros(n_steps, device=device) for _ in range(3)]
        return cls(*per_step, torch.zeros((), device=device), torch.zeros((), device=device))

    def add_step(self, k: int, out: StepOutput, y: torch.Tensor, right: torch.Tensor) -> None:
        self.exact[k] += right.sum()
        self.cell[k] += cell_accuracy(out.logits, y).sum()
        self.halt_prob[k] += torch.sigmoid(out.q_halt).sum()


class FirstHalt:
    """ACT at inference: each puzzle stops at its first step with q_halt > 0 (at `n_steps` if it
    never does) and answers with that step's answer; `q` is q_halt there."""

    def __init__(self, batch: int, n_steps: int, device: torch.device):
        self.n_steps = n_steps
        self.step = torch.full((batch,), float(n_steps), device=device)  # (B,) 1-based
        self.answer: torch.Tensor | None = None  # (B, S)
        self.q: torch.Tensor | None = None  # (B,) q_halt at that step
        self.right: torch.Tensor | None = None  # (B,) is the answer exact (when told)

    def update(self, k: int, q_halt: torch.Tensor, pred: torch.Tensor, right: torch.Tensor | None = None) -> None:
        wants = (q_halt > 0) & (self.step == self.n_steps)
        self.step = torch.where(wants, float(k + 1), self.step)
        # a puzzle that has not halted before this step takes this step's answer; so one that
        # never halts ends with the last answer, as halting at n_steps would give
        take = self.step >= k + 1
        keep = lambda new, old: new if old is None else torch.where(take.view(-1, *[1] * (new.dim() - 1)), new, old)  # noqa: E731
        self.answer, self.q = keep(pred, self.answer), keep(q_halt, self.q)
        if right is not None:
            self.right = keep(right, self.right)


def _run(model: TRM, puzzles: PuzzleSet, n_steps: int, batch_size: int, device: torch.device,
         keep_each_step: bool, progress: bool) -> tuple[_Sums, list[torch.Tensor], torch.Tensor]:
    """Every batch through every step: the sums, the answers on the CPU (after each step, or
    after the last one only: a list of (P, S)) and the answers at halting (P, S)."""
    P = len(puzzles)
    sums = _Sums.zeros(n_steps, device)
    answers = {k: [] for k in (range(n_steps) if keep_each_step else [n_steps - 1])}  # step: batches
    at_halt = []
    with tqdm(total=-(-P // batch_size) * n_steps, disable=not progress, unit="step", desc="evaluating",
              mininterval=1.0) as bar:
        for start in range(0, P, batch_size):
            x = puzzles.inputs[start:start + batch_size].to(device)
            y = puzzles.labels[start:start + batch_size].to(device)
            halt = FirstHalt(x.shape[0], n_steps, device)
            steps = iter_steps(model, x, n_steps)
            for k in range(n_steps):
                with autocast(device):
                    out = next(steps)
                bar.update(1)
                pred = out.logits.argmax(-1)  # (B, S)
                right = exact_match(out.logits, y)  # (B,)
                sums.add_step(k, out, y, right)
                halt.update(k, out.q_halt, pred, right)
                if k in answers:
                    answers[k].append(pred.cpu())
            sums.halt_step += halt.step.sum()
            sums.exact_at_halt += halt.right.sum()
            at_halt.append(halt.answer.cpu())
    return sums, [_cat(a, puzzles.seq_len) for a in answers.values()], _cat(at_halt, puzzles.seq_len)


def _cat(batches: list[torch.Tensor], seq_len: int) -> torch.Tensor:
    return torch.cat(batches) if batches else torch.zeros(0, seq_len, dtype=torch.long)


def _valid_each(task: str, questions: np.ndarray, answers: torch.Tensor) -> list[bool]:
    a = answers.numpy()
    return [is_valid(task, questions[i], a[i]) for i in range(len(a))]


def _valid_last_and_at_halt(task: str, questions: np.ndarray, last: torch.Tensor,
                            at_halt: torch.Tensor) -> tuple[float, float]:
    """Shares of valid answers after the last step and at halting (the task's rules, on the CPU)."""
    P = len(questions)
    last_ok = _valid_each(task, questions, last)
    differs = (at_halt != last).any(-1).tolist()  # check only the answers that differ
    halt_np = at_halt.numpy()
    halt_ok = [is_valid(task, questions[i], halt_np[i]) if differs[i] else last_ok[i] for i in range(P)]
    return sum(last_ok) / P, sum(halt_ok) / P


def check_puzzles_fit(model: TRM, puzzles: PuzzleSet) -> None:
    """Refuse puzzles of another kind than the model reads (a Sudoku model on mazes would score 0)."""
    if not (isinstance(model, torch.nn.Module) and isinstance(getattr(model, "cfg", None), ModelConfig)):
        raise TypeError(f"model must be a TRM (load_pretrained or load_model gives one), got {type(model).__name__}")
    require_puzzle_set(puzzles)
    cfg = model.cfg
    if (puzzles.seq_len, puzzles.vocab_size) != (cfg.seq_len, cfg.vocab_size):
        raise ValueError(f"these are {puzzles.task} {puzzles.size}x{puzzles.size} puzzles ({puzzles.seq_len} cells, "
                         f"vocabulary {puzzles.vocab_size}) but the model reads {cfg.seq_len} cells of vocabulary "
                         f"{cfg.vocab_size}; give it puzzles of the task it was trained on")


def _check_request(n_steps: int, batch_size: int, kept_per_step: int) -> None:
    """Refuse a step count or batch size below 1, and a step count whose per-step records (three
    numbers per step, and with `valid_per_step` every answer of every step) cannot fit in memory."""
    if n_steps < 1:
        raise ValueError(f"the number of supervision steps must be at least 1, got {n_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    need = n_steps * (128 + 8 * kept_per_step)  # bytes: tensors, Python floats, kept answers
    available = memory_bytes(torch.device("cpu"))
    if available is not None and need > available // 2:
        raise ValueError(f"{n_steps:,} supervision steps would keep {need / 2**30:,.0f} GiB of per-step "
                         f"results, more than half of this machine's {available / 2**30:,.0f} GiB; "
                         f"ask for fewer steps")
