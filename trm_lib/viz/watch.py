"""Watch TRM think: the answer y decoded after every supervision step, and pictures of it.

    trace = trace_puzzle(model, "sudoku", question, label)   # or trace_text(model, cfg, "1.3.3...")
    plot_trace(trace)                                          # chosen steps and the halting curve
    plot_step(trace, 3)                                        # one step: what the widget shows

After each supervision step the model's output head decodes y into a full grid (argmax per
cell), and its Q head gives q_halt; sigmoid(q_halt) > 0.5 (q_halt > 0) is the model saying
"I am done". Cells that changed since the step before are shaded (a maze: outlined in
yellow); cells that are wrong are red (a maze: a red cross). An answer that is valid by the
task's rules counts as right even where it differs from our label (a maze with another
shortest path, a Sudoku with several solutions).
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from trm_lib.act import evaluate_steps
from trm_lib.config import Config
from trm_lib.viz.draw import draw_maze, draw_sudoku
from trm_lib.evaluate import eval_mode, is_valid
from trm_lib.data.maze import solve_label
from trm_lib.losses import exact_match
from trm_lib.model import TRM
from trm_lib.data.text import parse_puzzle
from trm_lib.data.puzzles import to_grid
from trm_lib.data.sudoku import solve
from trm_lib.data.tasks import grid_side


def changes_per_step(answers: torch.Tensor) -> torch.Tensor:
    """(K, S) answers after each step -> (K, S) bool: the cells that differ from the step before.
    The first step has nothing before it, so its row is all False."""
    first = torch.zeros_like(answers[:1], dtype=torch.bool)
    return torch.cat([first, answers[1:] != answers[:-1]])


@dataclass
class Trace:
    """One puzzle, solved step by step. S cells, K supervision steps."""

    task: str  # 'sudoku' or 'maze'
    question: torch.Tensor  # (S,) tokens
    answers: torch.Tensor  # (K, S) the decoded answer after each step
    halt_prob: torch.Tensor  # (K,) sigmoid(q_halt) after each step
    label: torch.Tensor | None = None  # (S,) a known solution, when there is one

    @property
    def n_steps(self) -> int:
        return self.answers.shape[0]

    @property
    def size(self) -> int:
        return grid_side(self.question.numel())

    @property
    def changed(self) -> torch.Tensor:
        return changes_per_step(self.answers)

    def _index(self, step: int) -> int:
        if not 1 <= step <= self.n_steps:
            raise ValueError(f"step {step} is outside 1..{self.n_steps}")
        return step - 1

    def solved(self, step: int) -> bool:
        """Is the answer after `step` valid by the task's rules?"""
        answer = self.answers[self._index(step)]
        return is_valid(self.task, self.question.numpy(), answer.numpy())

    def solved_at(self) -> int | None:
        """The first step from which every answer is valid; None if the last one is not."""
        first = None
        for step in range(self.n_steps, 0, -1):
            if not self.solved(step):
                break
            first = step
        return first

    def halted_at(self) -> int | None:
        """The first step whose halting probability is above 0.5 (q_halt > 0): where ACT at
        inference would stop; None if the model never halts."""
        above = (self.halt_prob > 0.5).nonzero()
        return int(above[0]) + 1 if len(above) else None

    def wrong(self, step: int) -> torch.Tensor | None:
        """(S,) bool: cells that differ from the label (none when the answer is valid anyway);
        None when there is no label to compare with."""
        answer = self.answers[self._index(step)]
        if self.solved(step):
            return torch.zeros_like(answer, dtype=torch.bool)
        return None if self.label is None else answer != self.label


@torch.no_grad()
def slowest_solved(outs: list, labels: torch.Tensor) -> int:
    """Index of the puzzle, among those right after the last step, that took the most steps to
    become right for good. `outs` is `evaluate_steps(model, questions)`, `labels` (P, S)."""
    right = torch.stack([exact_match(o.logits.cpu(), labels.cpu()) for o in outs])  # (steps, P)
    solved_from = len(outs) + 1 - right.flip(0).int().cumprod(0).sum(0)  # first step from which it stays right
    return int(torch.where(right[-1], solved_from, 0).argmax())


def trace_puzzle(model: TRM, task: str, question: torch.Tensor, label: torch.Tensor | None = None,
                 n_steps: int | None = None) -> Trace:
    """Run every supervision step on one puzzle (tokens (S,)) and keep each decoded answer."""
    device = next(model.parameters()).device
    x = torch.as_tensor(question).reshape(1, -1).to(device)
    with eval_mode(model):
        outs = evaluate_steps(model, x, n_steps)
    answers = torch.stack([o.logits[0].argmax(-1) for o in outs]).cpu()  # (K, S)
    halt = torch.sigmoid(torch.stack([o.q_halt[0] for o in outs]).float()).cpu()  # (K,)
    lab = None if label is None else torch.as_tensor(label).reshape(-1).cpu()
    return Trace(task, x[0].cpu(), answers, halt, lab)


def solution_of(task: str, question: np.ndarray) -> np.ndarray | None:
    """A label for a typed puzzle (tokens (S,)): the unique Sudoku solution or a shortest maze
    path; None for a Sudoku with several solutions; ValueError when there is no solution."""
    if task == "sudoku":
        result = solve(to_grid(question, "sudoku"), limit=2)
        if result.count == 0:
            raise ValueError("this Sudoku has no solution: the givens are consistent, "
                             "but no way of filling the blanks works")
        return None if result.count > 1 else result.solution.reshape(-1) + 1
    try:
        return solve_label(np.asarray(question).reshape(-1))
    except ValueError:
        raise ValueError("G cannot be reached from S: walls block every route") from None


def trace_text(model: TRM, cfg: Config, text: str, n_steps: int | None = None) -> Trace:
    """Parse a typed puzzle (one line, or one line per row) and trace the model on it.
    Bad input is a ValueError that says what to fix."""
    tokens = parse_puzzle(text, cfg.task, cfg.grid_size)[0]
    label = solution_of(cfg.task, tokens)
    return trace_puzzle(model, cfg.task, torch.as_tensor(tokens),
                        None if label is None else torch.as_tensor(label), n_steps)


# ---------------------------------------------------------------- pictures
def describe_step(trace: Trace, step: int) -> str:
    """One line: what changed at `step`, how much is wrong, the halting probability."""
    i = trace._index(step)
    parts = [f"step {step} of {trace.n_steps}"]
    if i > 0:
        changed = int(trace.changed[i].sum())
        parts.append(f"{changed} cell{'' if changed == 1 else 's'} changed")
    wrong = trace.wrong(step)
    if wrong is not None:
        parts.append(f"{int(wrong.sum())} wrong")
    parts.append(f"halting probability {trace.halt_prob[i].item():.2f}")
    verdict = "a valid shortest path" if trace.task == "maze" else "a valid solution"
    parts.append(verdict if trace.solved(step) else "not solved yet")
    return ", ".join(parts)


def draw_step(trace: Trace, step: int, ax=None, title: str | None = None):
    """The answer after `step` as a grid or maze, changes and mistakes marked."""
    i = trace._index(step)
    answer, wrong = trace.answers[i], trace.wrong(step)
    changed = trace.changed[i] if i > 0 else None
    title = f"after step {step}" if title is None else title
    if trace.task == "sudoku":
        return draw_sudoku(answer, ax, givens=trace.question, wrong=wrong, changed=changed, title=title)
    ax = draw_maze(answer, ax, title=title)
    n = trace.size
    for cell in ([] if changed is None else changed.nonzero().flatten().tolist()):
        r, c = divmod(cell, n)
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="#ffbf00", lw=1.8))
    if wrong is not None and wrong.any():
        rows, cols = np.divmod(wrong.nonzero().flatten().numpy(), n)
        ax.plot(cols, rows, "x", color="#d62728", ms=max(3, 60 / n), mew=1.5)
    return ax


def draw_halting(trace: Trace, ax=None, step: int | None = None):
    """sigmoid(q_halt) after every step; the model would stop where it passes 0.5."""
    ax = ax or plt.subplots(figsize=(4, 2.6))[1]
    steps = np.arange(1, trace.n_steps + 1)
    colours = ["#1f77b4" if step is None or s == step else "#b0c4de" for s in steps]
    ax.bar(steps, trace.halt_prob.numpy(), color=colours)
    ax.axhline(0.5, color="#d62728", ls="--", lw=1, label="halts above 0.5 (q_halt > 0)")
    ax.set(xlabel="supervision step", ylabel="halting probability", ylim=(0, 1.3), yticks=[0, 0.25, 0.5, 0.75, 1],
           xticks=steps if trace.n_steps <= 16 else None, title="sigmoid(q_halt) per step")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_step(trace: Trace, step: int):
    """One step as the widget shows it: the grid, and the halting curve with this step marked."""
    fig, (grid, halt) = plt.subplots(1, 2, figsize=(8, 3.4), gridspec_kw={"width_ratios": [1, 1.3]})
    draw_step(trace, step, grid)
    draw_halting(trace, halt, step)
    fig.suptitle(describe_step(trace, step), fontsize=10)
    fig.tight_layout()
    return fig


def pick_steps(trace: Trace, panels: int = 4) -> list[int]:
    """Steps worth a picture: the first, the last, and the steps where the answer changed."""
    moved = [i + 1 for i in range(1, trace.n_steps) if trace.changed[i].any()]
    steps = sorted({1, *moved, trace.n_steps})
    if len(steps) > panels:  # evenly spread, the first and the last kept
        keep = np.linspace(0, len(steps) - 1, panels).round().astype(int)
        steps = [steps[k] for k in sorted(set(keep))]
    return steps


def plot_trace(trace: Trace, steps: list[int] | None = None, title: str = ""):
    """The answer at a few steps side by side, then the halting probability of every step."""
    steps = pick_steps(trace) if steps is None else steps
    k = len(steps)
    fig, axes = plt.subplots(1, k + 1, figsize=(2.7 * k + 3.6, 3.2),
                             gridspec_kw={"width_ratios": [1] * k + [1.4]})
    for ax, s in zip(axes, steps):
        wrong = trace.wrong(s)
        notes = [] if wrong is None else [f"{int(wrong.sum())} wrong"]
        if s > 1:
            notes.append(f"{int(trace.changed[s - 1].sum())} changed")
        draw_step(trace, s, ax, title=f"after step {s}\n" + ", ".join(notes))
    draw_halting(trace, axes[-1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
