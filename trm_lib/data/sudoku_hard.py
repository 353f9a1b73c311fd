"""Hard 9 x 9 Sudoku with a Sudoku-Extreme-like difficulty mix, by local search.

Randomly generated minimal puzzles are mostly easy (rating 0-5 on our scale, see
`trm_lib.data.sudoku`). Sudoku-Extreme's mix by the tdoku solver is about 14% rating 0, 25% 1-5,
50% 6-20 and 10% 21+. We draw a target bin for each puzzle from that mix, generate a random
minimal puzzle, then walk towards the bin one clue at a time: move a given to another cell
(taking that cell's digit from the fixed solution) or drop a given, keeping the puzzle
uniquely solvable, and accept the change if the rating gets no further from the bin.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from trm_lib.data.sudoku import generate_puzzle, solve

# (low, high) rating bins of Sudoku-Extreme and their share in it; high None = no bound
RATING_BINS: tuple[tuple[int, int | None], ...] = ((0, 0), (1, 5), (6, 20), (21, None))
TARGET_MIX: tuple[float, ...] = (0.14, 0.25, 0.50, 0.11)


def rating_bin(rating: int) -> int:
    """Index into RATING_BINS of a rating."""
    for i, (lo, hi) in enumerate(RATING_BINS):
        if rating >= lo and (hi is None or rating <= hi):
            return i
    raise ValueError(f"rating {rating} is negative")


def _distance(rating: int, lo: int, hi: int | None) -> int:
    if rating < lo:
        return lo - rating
    if hi is not None and rating > hi:
        return rating - hi
    return 0


@dataclass
class HardPuzzle:
    puzzle: np.ndarray  # (9, 9), 0 = blank
    solution: np.ndarray  # (9, 9)
    rating: int
    target_bin: int  # the bin the search aimed at
    steps: int  # accepted + rejected moves tried


def _neighbour(cells: np.ndarray, sol: np.ndarray, harder: bool, rng: random.Random) -> np.ndarray:
    """Move one given to a blank cell (its digit from the solution), or, when aiming
    harder, sometimes just drop it: fewer clues tend to make a puzzle harder."""
    new = cells.copy()
    new[rng.choice(np.flatnonzero(cells).tolist())] = 0
    if not (harder and rng.random() < 0.3):
        cell = rng.choice(np.flatnonzero(cells == 0).tolist())
        new[cell] = sol[cell]
    return new


def walk_to_rating(
    puzzle: np.ndarray,
    solution: np.ndarray,
    lo: int,
    hi: int | None,
    rng: random.Random,
    max_steps: int = 400,
    tries: int = 4,
) -> tuple[np.ndarray, int, int]:
    """Local search from a unique `puzzle` towards a rating in [lo, hi].

    Returns (puzzle, rating, steps tried); the puzzle stays uniquely solvable throughout.
    """
    cells = np.asarray(puzzle).reshape(-1).copy()
    sol = np.asarray(solution).reshape(-1)
    rating = solve(cells).rating
    dist = _distance(rating, lo, hi)
    steps = 0
    while dist > 0 and steps < max_steps:
        # Try a few neighbours and keep the best: plain first-improvement stalls on
        # plateaus long before rating 21+.
        best = None
        for _ in range(tries):
            steps += 1
            new = _neighbour(cells, sol, rating < lo, rng)
            result = solve(new, limit=2)
            if result.count != 1:
                continue
            d = _distance(result.rating, lo, hi)
            if best is None or d < best[0]:
                best = (d, new, result.rating)
        if best is not None and best[0] <= dist:
            dist, cells, rating = best
    return cells.reshape(9, 9), rating, steps


def generate_hard(rng: random.Random, target_bin: int, max_steps: int | None = None,
                  max_restarts: int = 3, tries: int = 4) -> HardPuzzle:
    """One hard 9 x 9 puzzle whose rating lies in RATING_BINS[target_bin]. After
    `max_restarts` fresh starts the closest puzzle found is returned (its true rating is
    reported, so a miss is never mislabelled)."""
    lo, hi = RATING_BINS[target_bin]
    if max_steps is None:
        max_steps = 1500 if hi is None else 400  # 21+ needs a long walk
    best, total = None, 0
    for _ in range(max_restarts):
        puzzle, solution = generate_puzzle(9, rng)
        puzzle, rating, steps = walk_to_rating(puzzle, solution, lo, hi, rng, max_steps, tries)
        total += steps
        d = _distance(rating, lo, hi)
        if best is None or d < best[0]:
            best = (d, puzzle, solution, rating)
        if d == 0:
            break
    _, puzzle, solution, rating = best
    return HardPuzzle(puzzle, solution, rating, target_bin, total)


def next_target_bin(counts: list[int]) -> int:
    """The bin furthest below its TARGET_MIX share, given the bins of puzzles kept so far.
    Targeting the deficit (rather than drawing at random) makes up for walks that missed."""
    total = sum(counts) + 1
    deficits = [share * total - have for share, have in zip(TARGET_MIX, counts)]
    return max(range(len(deficits)), key=lambda i: deficits[i])
