"""Puzzle sets made and checked: the generators behind `python -m trm_lib data` and its file checker.

    index = equivalence_index("sudoku", 6, ["datasets/sudoku-6x6/train.csv"])
    rows = sudoku_rows(6, count=100, seed=1, index=index, bar=tqdm(total=100))
    write_rows("test.csv", rows)

An `EquivalenceIndex` holds every puzzle made so far (and those of the excluded files), so a
set never holds two puzzles equivalent under the augmentations, and a test set can be made
disjoint from its training set.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from tqdm import tqdm

from trm_lib.data import maze as mz
from trm_lib.data import sudoku as sd
from trm_lib.data.equivalence import EquivalenceIndex
from trm_lib.data.puzzle_csv import iter_chunks
from trm_lib.data.puzzles import PuzzleSet, load_puzzles, parse_rows, to_grid
from trm_lib.data.sudoku_hard import RATING_BINS, generate_hard, next_target_bin, rating_bin


def equivalence_index(task: str, size: int, files: list[str]) -> EquivalenceIndex:
    """An index holding every puzzle of `files` (which must hold `size` x `size` `task` puzzles)."""
    index = EquivalenceIndex(task, size)
    for path in files:
        held = load_puzzles(path)
        if (held.task, held.size) != (task, size):
            raise ValueError(f"{path}: holds {held.size}x{held.size} {held.task}, "
                             f"cannot exclude it from {size}x{size} {task}")
        for tokens in held.inputs:
            index.add(to_grid(tokens, task))
    return index


MAX_REPEATS_IN_A_ROW = 2000


def _count_repeat(bar: tqdm, count: int) -> None:
    """Give up when puzzles keep repeating: the space of distinct ones is used up. (Minimal
    4x4 Sudoku: 60,000 draws found 36 distinct puzzles, the last new one at draw 268.)"""
    if getattr(bar, "repeat_from", None) != bar.n:  # a new puzzle since the last repeat
        bar.repeat_from, bar.repeats = bar.n, 0
    bar.repeats += 1
    if bar.repeats >= MAX_REPEATS_IN_A_ROW:
        raise ValueError(f"only {bar.n} distinct puzzles exist here, it seems: {bar.repeats:,} draws in a "
                         f"row gave no new one (--count asks for {count:,}); ask for at most {bar.n}, "
                         "or allow more clues (--min-clues) or a larger size")


def sudoku_rows(size: int, count: int, seed: int, index: EquivalenceIndex, bar: tqdm, hard: bool = False,
                min_clues: tuple[int, int] = (0, 0)) -> Iterator[tuple]:
    """`count` CSV rows (source, puzzle, solution, rating) of distinct uniquely solvable Sudoku;
    `hard` (9x9) aims at a Sudoku-Extreme-like rating mix; `min_clues` (LO, HI) stops removing
    clues at a number drawn from LO..HI for each puzzle."""
    rng = random.Random(seed)
    counts = [0] * len(RATING_BINS)
    name = f"gen-sudoku{size}{'hard' if hard else ''}-seed{seed}"
    made = 0
    while made < count:
        if hard:
            h = generate_hard(rng, next_target_bin(counts))
            puzzle, solution, rating = h.puzzle, h.solution, h.rating
        else:
            lo, hi = min_clues  # a fixed number draws nothing: older sets stay byte-identical
            puzzle, solution = sd.generate_puzzle(size, rng, lo if lo == hi else rng.randint(lo, hi))
            rating = sd.rate(puzzle)
        if not index.add(puzzle):
            _count_repeat(bar, count)  # equivalent to a puzzle already held
            continue
        counts[rating_bin(rating)] += 1
        made += 1
        bar.update()
        yield name, sd.to_string(puzzle), sd.to_string(solution), rating


def maze_rows(size: int, count: int, seed: int, index: EquivalenceIndex, bar: tqdm, perfect: bool = False,
              min_path: int | None = None, construction: str = "kruskal") -> Iterator[tuple]:
    """`count` CSV rows (source, maze, path, length) of distinct mazes whose shortest path is
    longer than `min_path` (default: the task's); `perfect` mazes have exactly one path, built
    by `construction` (maze.CONSTRUCTIONS)."""
    rng = np.random.default_rng(seed)
    default = mz.perfect_min_path if perfect else mz.default_min_path
    min_path = default(size) if min_path is None else min_path
    if perfect:
        def generate(n, shortest, r):
            return mz.generate_perfect_maze(n, shortest, r, construction=construction)
    else:
        generate = mz.generate_maze
    kind = ("perfect" if construction == "kruskal" else f"perfect-{construction}") if perfect else ""
    name = f"gen-maze{size}{kind}-seed{seed}"
    made = 0
    while made < count:
        maze, label, length = generate(size, min_path, rng)
        if not index.add(maze):
            _count_repeat(bar, count)
            continue
        made += 1
        bar.update()
        yield name, mz.to_string(maze), mz.to_string(label), length


def rating_histogram(puzzles: PuzzleSet) -> list[tuple[str, int]]:
    """(bin label, count): Sudoku by RATING_BINS, mazes by path length in tens."""
    ratings = puzzles.ratings.tolist()
    if puzzles.task == "sudoku":
        labels = [f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
                  for lo, hi in RATING_BINS]
        counts = [0] * len(RATING_BINS)
        for r in ratings:
            counts[rating_bin(r)] += 1
        return list(zip(labels, counts))
    lo = min(ratings) // 10 * 10
    edges = range(lo, max(ratings) + 1, 10)
    return [(f"{e}-{e + 9}", sum(e <= r <= e + 9 for r in ratings)) for e in edges]


@dataclass
class CheckedFile:
    """What `check_file` read: the ratings (a PuzzleSet whose inputs and labels have no
    columns), the clue count of each Sudoku (None for mazes), and the seconds it took."""

    puzzles: PuzzleSet
    clues: torch.Tensor | None
    seconds: float


def check_file(path: str) -> CheckedFile:
    """Verify every row of `path` while reading it, in chunks (bounded memory, a progress bar,
    the first bad row stops it with an error that names the row)."""
    start = time.time()
    ratings, clues, first = [], [], None
    with tqdm(desc=f"checking {path}", unit="puzzle", disable=None) as bar:
        for chunk in iter_chunks(path):
            part = parse_rows(path, chunk, verify=True)
            if first is None:
                first = part
            elif (part.task, part.size) != (first.task, first.size):
                raise ValueError(f"{path}: mixes {first.size}x{first.size} {first.task} and "
                                 f"{part.size}x{part.size} {part.task} puzzles")
            ratings.append(part.ratings)
            if part.task == "sudoku":
                clues.append((part.inputs > 1).sum(1).float())
            bar.update(len(part))
    ratings = torch.cat(ratings)
    empty = torch.zeros(len(ratings), 0, dtype=torch.long)  # n puzzles, their cells not kept
    puzzles = PuzzleSet(first.task, first.size, empty, empty, ratings, [])
    return CheckedFile(puzzles, torch.cat(clues) if clues else None, time.time() - start)
