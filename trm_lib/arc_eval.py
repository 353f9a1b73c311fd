"""ARC-AGI evaluation as the official evaluator scores it (`evaluators/arc.py`).

    for every augmented copy of every test input:
        run all supervision steps; the answer is the last step's grid
        crop it: the largest top-left block of colour tokens (EOS and PAD end it)
        undo the copy's augmentation (the inverse dihedral map, then the inverse colours)
    for every test input: rank its distinct answers by votes, then by mean sigmoid(q_halt)
    pass@k: the input is solved when the true output is among the first k answers
    a task scores the fraction of its test inputs solved; the result is the mean over tasks

Differences from the official evaluator: answers are grouped by (task, test input) rather
than by the hash of the de-augmented input grid (the same thing unless a task repeats a test
input), and each evaluation votes over its own answers only: the official pools the votes
of every evaluation of a run (`aggregated_voting`), which mixes answers of earlier weights in.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.act import iter_steps
from trm_lib.data.arc import COLOUR0
from trm_lib.data.arc_set import ArcSet
from trm_lib.device import autocast
from trm_lib.evaluate import eval_mode
from trm_lib.model import TRM

PASS_KS = (1, 2)


def crop(tokens: np.ndarray, size: int) -> np.ndarray:
    """The grid a prediction holds: the largest-area block at the canvas's top-left corner
    with only colour tokens in it (the official `_crop`), as colours 0-9."""
    canvas = np.asarray(tokens).reshape(size, size)
    colour = (canvas >= COLOUR0) & (canvas < COLOUR0 + 10)
    best, best_shape, width = 0, (0, 0), size
    for rows in range(1, size + 1):
        bad = np.flatnonzero(~colour[rows - 1, :width])
        width = int(bad[0]) if len(bad) else width
        if rows * width > best:
            best, best_shape = rows * width, (rows, width)
    return (canvas[:best_shape[0], :best_shape[1]] - COLOUR0).astype(np.uint8)


@dataclass
class Candidate:
    grid: np.ndarray
    votes: int
    q_sum: float

    @property
    def confidence(self) -> float:
        """The mean sigmoid(q_halt) of the copies that gave this answer."""
        return self.q_sum / self.votes


def rank_answers(answers: list[tuple[np.ndarray, float]]) -> list[Candidate]:
    """Distinct grids among (grid, sigmoid(q_halt)) answers, most votes first, ties broken by
    the higher mean sigmoid(q_halt)."""
    by_grid: dict[tuple, Candidate] = {}
    for grid, q in answers:
        key = (grid.shape, grid.tobytes())
        if key not in by_grid:
            by_grid[key] = Candidate(grid, 0, 0.0)
        by_grid[key].votes += 1
        by_grid[key].q_sum += float(q)
    return sorted(by_grid.values(), key=lambda c: (c.votes, c.confidence), reverse=True)


@dataclass
class ArcResult:
    pass_at: dict[int, float]  # k -> the mean over tasks of the fraction of test inputs solved
    tasks: int
    test_inputs: int
    copies: int  # augmented copies of each test input (the original among them)
    n_steps: int
    copy_exact: float  # fraction of single copies whose de-augmented answer is right, before the vote
    ranked: dict[tuple[str, int], list[Candidate]] = field(default_factory=dict, repr=False)

    @property
    def exact(self) -> float:
        """pass@1, the number training logs beside the other tasks' exact accuracy."""
        return self.pass_at[1]

    def summary(self) -> dict:
        return {**{f"pass@{k}": v for k, v in self.pass_at.items()}, "exact": self.exact, "tasks": self.tasks,
                "test_inputs": self.test_inputs, "copies": self.copies, "n_steps": self.n_steps,
                "copy_exact": self.copy_exact}

    def __str__(self) -> str:
        return (f"pass@1 {self.pass_at[1]:.1%}  pass@2 {self.pass_at[2]:.1%}  ({self.test_inputs} test inputs of "
                f"{self.tasks} tasks, {'1 copy, no vote' if self.copies == 1 else f'{self.copies} copies voted'}, "
                f"{self.n_steps} supervision steps; one copy "
                f"alone {self.copy_exact:.1%})")

    def submission(self, attempts: int = 2) -> dict[str, list[dict[str, list]]]:
        """The ARC Prize format: {task id: [{"attempt_1": grid, "attempt_2": grid}, ...]}, one
        entry per test input in order; a test input with one answer repeats it."""
        out: dict[str, list] = {}
        for (task_id, _), ranked in sorted(self.ranked.items(), key=lambda kv: kv[0]):
            grids = [c.grid.tolist() for c in ranked[:attempts]]
            grids += [grids[0]] * (attempts - len(grids))
            out.setdefault(task_id, []).append({f"attempt_{i + 1}": g for i, g in enumerate(grids)})
        return out

    def write_submission(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(json.dumps(self.submission()))
        os.replace(tmp, path)


@torch.no_grad()
def predict(model: TRM, arc_set: ArcSet, n_steps: int | None = None, batch_size: int = 256,
            device: torch.device | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every example's answer after the last of `n_steps` supervision steps: tokens (E, S*S)
    and sigmoid(q_halt) (E,), in the set's order."""
    device = device or next(model.parameters()).device
    n_steps = n_steps or model.cfg.n_sup
    preds, qs = [], []
    chunks = range(0, len(arc_set), batch_size)
    with eval_mode(model), tqdm(total=len(chunks) * n_steps, desc="evaluating ARC", unit=" steps", leave=False,
                                disable=not progress) as bar:
        for start in chunks:
            inputs, _, ids = arc_set.to(device).tokens(np.arange(start, min(start + batch_size, len(arc_set))))
            with autocast(device):
                for out in iter_steps(model, inputs, n_steps, ids):
                    bar.update(1)
            preds.append(out.logits.argmax(-1).cpu())
            qs.append(torch.sigmoid(out.q_halt.double()).cpu())
    if not preds:
        return np.zeros((0, arc_set.seq_len), dtype=np.int64), np.zeros(0)
    return torch.cat(preds).numpy(), torch.cat(qs).numpy()


def score(arc_set: ArcSet, preds: np.ndarray, q: np.ndarray, n_steps: int) -> ArcResult:
    """Vote and score the answers `preds`, `q` of `predict` on `arc_set` (a test split)."""
    answers: dict[tuple[int, int], list] = {}
    right = 0
    for e, p in enumerate(arc_set.example_puzzle()):
        _, truth, t, k = arc_set.pairs[arc_set.example_pair[e]]
        grid = arc_set.augmentation(p).invert(crop(preds[e], arc_set.size))
        answers.setdefault((t, k), []).append((grid, q[e]))
        right += np.array_equal(grid, truth)
    per_task: dict[int, dict[int, list[bool]]] = {}
    ranked = {}
    for (t, k), got in answers.items():
        truth = arc_set.tasks[t].test[k][1]
        order = rank_answers(got)
        ranked[(arc_set.tasks[t].id, k)] = order
        hits = [any(np.array_equal(c.grid, truth) for c in order[:n]) for n in PASS_KS]
        per_task.setdefault(t, {})[k] = hits
    tasks = sorted(set(arc_set.group_tasks.tolist()))
    pass_at = {}
    for i, n in enumerate(PASS_KS):
        scores = [np.mean([per_task.get(t, {}).get(k, [False] * len(PASS_KS))[i]
                           for k in range(len(arc_set.tasks[t].test))]) for t in tasks]
        pass_at[n] = float(np.mean(scores)) if scores else 0.0
    copies = int(np.max(np.diff(arc_set.group_start))) if arc_set.num_groups else 0
    return ArcResult(pass_at, len(tasks), arc_set.test_inputs, copies, n_steps,
                     right / max(len(preds), 1), ranked)


def evaluate_arc(model: TRM, arc_set: ArcSet, n_steps: int | None = None, copies: int | None = None,
                 batch_size: int = 256, device: torch.device | None = None, progress: bool = False) -> ArcResult:
    """pass@1 and pass@2 of `model` on a test (or seen) split, voting over `copies` augmented copies of
    each test input (None: every copy the build holds)."""
    if arc_set.split == "train":
        raise ValueError("ARC is scored on a test split (the evaluation tasks' test inputs) or on `seen` (the "
                         "training tasks'), not on the train split")
    if copies is not None:
        arc_set = arc_set.copies(copies)
    n_steps = n_steps or model.cfg.n_sup
    preds, q = predict(model, arc_set, n_steps, batch_size, device, progress)
    return score(arc_set, preds, q, n_steps)
