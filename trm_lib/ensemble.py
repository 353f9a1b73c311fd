"""Thinking wider: K versions of every puzzle run side by side, and one answer picked.

    copies of each puzzle     copy 0 is the puzzle as given, run as usual
      "augment"  copy i > 0 is the puzzle under a symmetry of the task (Sudoku: bands, rows,
                 stacks, columns, transpose, digits; mazes: the 8 maps of the square, in turn)
      "noise"    copy i > 0 is the puzzle as given, with Gaussian noise of scale sigma added
                 to its carried state (y, z or both) before every supervision step
      "both"     a symmetry and the noise
    run all K x P copies as one batch through every supervision step
    map every answer back to the puzzle's own frame (the inverse symmetry)
    pick one answer per puzzle:
      "vote"        the answer most copies gave; ties by their mean sigmoid(q_halt)
      "q"           the copy with the highest q_halt after the last step
      "first-halt"  the copy whose q_halt turned positive first, with its answer at that step
                    (ties by q_halt then; copies that never halt come last)

The task's own checker (Sudoku's rules, a maze's BFS) is the answer key, so it never picks:
`oracle` reports it only as an upper bound, the share of puzzles where some copy was right.
Copy 0 alone is the one-trajectory accuracy, so `subset(k)` of a K-copy run gives the curve
for every smaller k at no extra cost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.data.augment import apply_transforms, draw_transforms, identity_transform, sudoku_build
from trm_lib.data.maze import dihedral_perms
from trm_lib.data.puzzles import PuzzleSet
from trm_lib.device import autocast
from trm_lib.evaluate import FirstHalt, eval_mode, is_valid
from trm_lib.model import TRM

COPIES = ("augment", "noise", "both")
RULES = ("vote", "q", "first-halt")
NOISE_ON = ("y", "z", "yz")


@dataclass
class Trajectories:
    """Every copy's answers, in the puzzle's own frame. P puzzles, K copies, S cells."""

    last: torch.Tensor  # (P, K, S) the answer after the last step
    at_halt: torch.Tensor  # (P, K, S) the answer at the first step with q_halt > 0 (else the last)
    q_last: torch.Tensor  # (P, K) q_halt after the last step
    halt_step: torch.Tensor  # (P, K) 1-based first step with q_halt > 0; n_steps if never
    q_at_halt: torch.Tensor  # (P, K) q_halt at that step (after the last step if never)
    n_steps: int

    @property
    def k(self) -> int:
        return self.last.shape[1]

    def subset(self, k: int) -> Trajectories:
        """The first k copies: a k-copy ensemble (its random copies drawn from other numbers)."""
        if not 1 <= k <= self.k:
            raise ValueError(f"k must be between 1 and {self.k}, got {k}")
        return Trajectories(self.last[:, :k], self.at_halt[:, :k], self.q_last[:, :k],
                            self.halt_step[:, :k], self.q_at_halt[:, :k], self.n_steps)


def select(traj: Trajectories, rule: str = "vote") -> torch.Tensor:
    """(P, S): one answer per puzzle, picked by `rule` (see the module's docstring)."""
    if rule == "vote":
        return vote_answers(traj.last, traj.q_last)
    if rule == "q":
        pick = traj.q_last.argmax(1)
        return traj.last[torch.arange(len(pick)), pick]
    if rule == "first-halt":
        # earliest halting step first; among those, the highest q_halt (sigmoid < 1 breaks ties only;
        # at step n_steps it also puts a copy that halted there, q > 0, before one that never did)
        score = -traj.halt_step.double() + torch.sigmoid(traj.q_at_halt.double()) * 0.5
        pick = score.argmax(1)
        return traj.at_halt[torch.arange(len(pick)), pick]
    raise ValueError(f"unknown selection rule {rule!r}; choose one of: {', '.join(RULES)}")


def vote_answers(answers: torch.Tensor, q: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """(P, S) the answer given by most copies, ties broken by the higher mean sigmoid(q_halt)."""
    picked = []
    for start in range(0, answers.shape[0], chunk):
        a, s = answers[start:start + chunk], torch.sigmoid(q[start:start + chunk].double())
        same = (a[:, :, None, :] == a[:, None, :, :]).all(-1)  # (p, K, K): copy i agrees with copy j
        votes = same.sum(-1).double()  # (p, K) copies giving copy i's answer
        mean_q = (same.double() * s[:, None, :]).sum(-1) / votes
        pick = (votes + 0.5 * mean_q).argmax(1)  # votes are integers, 0.5 * mean_q < 1 only breaks ties
        picked.append(a[torch.arange(len(pick)), pick])
    return torch.cat(picked) if picked else answers[:, 0]


# -- the copies ---------------------------------------------------------------------------
def copy_transforms(task: str, size: int, k: int, copies: str, gen: torch.Generator) -> torch.Tensor | None:
    """(K, n) symmetry parameters for the copies of one puzzle (row 0 the identity), or None
    when the copies are not augmented. Mazes take the 8 maps of the square in turn."""
    if copies not in COPIES:
        raise ValueError(f"unknown kind of copies {copies!r}; choose one of: {', '.join(COPIES)}")
    if copies == "noise":
        return None
    if task == "maze":
        return (torch.arange(k) % 8)[:, None]
    drawn = draw_transforms(k, task, size, gen)
    drawn[0] = identity_transform(task, size)
    return drawn


def _gathers(task: str, size: int, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(cell index (B, S), token map (B, V) or None) of the symmetries `params` (B, n)."""
    if task == "maze":
        perms = torch.as_tensor(dihedral_perms(size))
        return perms[params[:, 0].long()], None
    return sudoku_build(params, size)


def to_copies(inputs: torch.Tensor, task: str, size: int, params: torch.Tensor | None) -> torch.Tensor:
    """(P, S) puzzles -> (P, K, S) their copies under the symmetries `params` (K, n)."""
    if params is None:
        return inputs[:, None, :]
    P, K = inputs.shape[0], params.shape[0]
    x = inputs.repeat_interleave(K, 0)  # (P * K, S): puzzle p's copies at rows p*K .. p*K + K-1
    return apply_transforms(x, x, task, size, params.repeat(P, 1))[0].reshape(P, K, -1)


def undo(answers: torch.Tensor, index: torch.Tensor, token_map: torch.Tensor | None) -> torch.Tensor:
    """Answers (..., K, S) made in copies where `copy[j] = token_map[puzzle[index[j]]]` ->
    the same answers in the puzzle's frame: the inverse relabelling, then each cell put back
    where it came from (a scatter). index (K, S), token_map (K, V) or None."""
    if token_map is not None:
        answers = token_map.argsort(-1).expand(*answers.shape[:-1], -1).gather(-1, answers)
    return torch.empty_like(answers).scatter_(-1, index.expand_as(answers), answers)


def from_copies(answers: torch.Tensor, task: str, size: int, params: torch.Tensor | None) -> torch.Tensor:
    """(P, K, S) answers of the copies -> the same answers in each puzzle's own frame."""
    return answers if params is None else undo(answers, *_gathers(task, size, params))


# -- running them ---------------------------------------------------------------------------
@torch.no_grad()
def run_copies(model: TRM, puzzles: PuzzleSet, k: int, n_steps: int | None = None, copies: str = "augment",
               sigma: float = 0.0, noise_on: str = "z", seed: int = 0, batch_size: int = 256,
               device: torch.device | None = None, progress: bool = False) -> Trajectories:
    """Run k copies of every puzzle (see the module's docstring) for `n_steps` supervision steps.

    The noise is sigma * N(0, 1) added to y, z or both ("y", "z", "yz") of copies 1..k-1 before
    every supervision step, the first one included; copy 0 never gets any. `batch_size`
    counts rows (copies), and a puzzle's copies always share a batch.
    """
    _check(model, puzzles, k, copies, sigma, noise_on)
    device = device or next(model.parameters()).device
    n_steps = model.cfg.n_sup if n_steps is None else n_steps
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    gen = torch.Generator().manual_seed(seed)
    params = copy_transforms(puzzles.task, puzzles.size, k, copies, gen)
    noisy = copies in ("noise", "both") and sigma > 0
    per_batch = max(1, batch_size // k)
    parts = []
    with eval_mode(model), tqdm(total=-(-len(puzzles) // per_batch) * n_steps, disable=not progress,
                                unit="step", desc=f"{k} copies", mininterval=1.0) as bar:
        for start in range(0, len(puzzles), per_batch):
            x = to_copies(puzzles.inputs[start:start + per_batch], puzzles.task, puzzles.size, params)
            x = x.expand(-1, k, -1).reshape(-1, x.shape[-1]).to(device)  # (p * k, S)
            parts.append(_steps(model, x, k, n_steps, sigma if noisy else 0.0, noise_on, gen, bar))
    last, at_halt, q_last, halt_step, q_at_halt = (torch.cat(t) for t in zip(*parts))
    back = lambda a: from_copies(a, puzzles.task, puzzles.size, params)  # noqa: E731
    return Trajectories(back(last), back(at_halt), q_last, halt_step, q_at_halt, n_steps)


def _steps(model: TRM, x: torch.Tensor, k: int, n_steps: int, sigma: float, noise_on: str,
           gen: torch.Generator, bar) -> tuple[torch.Tensor, ...]:
    """One batch of p * k copies through every step; everything returned is (p, k, ...) on the CPU."""
    rows = x.shape[0]
    y, z = (s.clone() for s in model.initial_state(rows))
    copy_mask = (torch.arange(rows) % k != 0).float().view(-1, 1, 1).to(x.device)  # copy 0: no noise
    halt = FirstHalt(rows, n_steps, x.device)
    for step in range(n_steps):
        if sigma > 0:
            if "y" in noise_on:
                y = y + sigma * copy_mask * torch.randn(y.shape, generator=gen).to(y)
            if "z" in noise_on:
                z = z + sigma * copy_mask * torch.randn(z.shape, generator=gen).to(z)
        with autocast(x.device):
            out = model(x, y, z)
        y, z = out.y, out.z
        pred, q = out.logits.argmax(-1), out.q_halt.float()
        halt.update(step, q, pred)
        bar.update(1)
    shape = lambda t: t.reshape(-1, k, *t.shape[1:]).cpu()  # noqa: E731
    return shape(pred), shape(halt.answer), shape(q), shape(halt.step), shape(halt.q)


def _check(model: TRM, puzzles: PuzzleSet, k: int, copies: str, sigma: float, noise_on: str) -> None:
    if puzzles.task not in ("sudoku", "maze"):
        raise ValueError(f"ensembles of {puzzles.task!r} puzzles run through trm_lib.arc_eval")
    if puzzles.seq_len != model.cfg.seq_len:
        raise ValueError(f"these puzzles have {puzzles.seq_len} cells; the model reads {model.cfg.seq_len}")
    if k < 1:
        raise ValueError(f"an ensemble needs at least 1 copy, got k={k}")
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a number >= 0, got {sigma}")
    if copies == "noise" and sigma == 0 and k > 1:
        raise ValueError("noisy copies need a noise scale: sigma > 0 (with sigma 0 every copy is copy 0)")
    if noise_on not in NOISE_ON:
        raise ValueError(f"noise goes on 'y', 'z' or 'yz', got {noise_on!r}")


# -- scoring --------------------------------------------------------------------------------
@dataclass
class EnsembleScore:
    """Accuracies of one selection rule over P puzzles with k copies."""

    k: int
    rule: str
    n_steps: int
    exact: float  # the picked answer equals the label
    valid: float  # the picked answer is right by the task's rules
    single_exact: float  # copy 0 alone: one trajectory
    single_valid: float
    oracle: float  # some copy's last answer is valid: an upper bound, not a method

    @property
    def forward_passes(self) -> int:
        """Supervision steps run per puzzle: k copies x n_steps."""
        return self.k * self.n_steps

    def __str__(self) -> str:
        return (f"{self.k} copies, {self.rule}: exact {self.exact:.1%}  valid {self.valid:.1%}  "
                f"(one trajectory: exact {self.single_exact:.1%}  valid {self.single_valid:.1%}; "
                f"an oracle picking among the copies: {self.oracle:.1%}; "
                f"{self.forward_passes} supervision steps a puzzle)")


def score(traj: Trajectories, puzzles: PuzzleSet, rule: str = "vote",
          validity: dict | None = None) -> EnsembleScore:
    """Score `rule`'s pick against the labels and the task's rules. `validity` caches the rule
    checks of answers already seen (pass one dict to several calls on the same puzzles)."""
    validity = {} if validity is None else validity
    q, labels = puzzles.inputs.numpy(), puzzles.labels
    P = len(puzzles)

    def valid(i: int, answer: torch.Tensor) -> bool:
        key = (i, answer.numpy().tobytes())
        if key not in validity:
            validity[key] = is_valid(puzzles.task, q[i], answer.numpy())
        return validity[key]

    picked = select(traj, rule)
    single = traj.last[:, 0]
    n = max(P, 1)
    oracle = sum(any(valid(i, a) for a in torch.unique(traj.last[i], dim=0)) for i in range(P))
    return EnsembleScore(
        k=traj.k, rule=rule, n_steps=traj.n_steps,
        exact=(picked == labels).all(1).sum().item() / n, valid=sum(valid(i, picked[i]) for i in range(P)) / n,
        single_exact=(single == labels).all(1).sum().item() / n,
        single_valid=sum(valid(i, single[i]) for i in range(P)) / n, oracle=oracle / n)


# -- one typed puzzle -----------------------------------------------------------------------
@dataclass
class OnePuzzle:
    """What k copies of one puzzle said: the picked answer (S,), how many copies gave it, how many
    different answers they reached and how many copies are right (the task's checker, told after)."""

    picked: torch.Tensor
    agree: int
    distinct: int
    right_copies: int
    picked_valid: bool
    k: int


def wide_on_one(model: TRM, task: str, size: int, tokens: torch.Tensor, k: int = 8, rule: str = "vote",
                **run) -> OnePuzzle:
    """Run k copies of one puzzle (tokens (S,)); `run` goes to `run_copies`."""
    tokens = torch.as_tensor(tokens).long().reshape(1, -1)
    one = PuzzleSet(task, size, tokens, tokens.clone(), torch.zeros(1, dtype=torch.long), ["typed"])
    traj = run_copies(model, one, k, **run)
    question = tokens[0].numpy()
    answers, counts = torch.unique(traj.last[0], dim=0, return_counts=True)
    right = sum(int(c) for a, c in zip(answers, counts) if is_valid(task, question, a.numpy()))
    picked = select(traj, rule)[0]
    return OnePuzzle(picked, int((traj.last[0] == picked).all(1).sum()), len(answers), right,
                     is_valid(task, question, picked.numpy()), k)
