"""`python -m trm_lib data ...`: generate puzzle sets and check puzzle files.

  data sudoku --size N --count K --seed S --out FILE [--hard] [--exclude TRAIN_FILE]
  data maze   --size N [--perfect] [--min-path L] --count K --seed S --out FILE [--exclude TRAIN_FILE]
  data check  FILE [FILE ...]

`--exclude` skips any puzzle equivalent (under the augmentations) to one in the given files,
so a test set can be made disjoint from its training set; a file never holds two
equivalent puzzles either.
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Iterator

import numpy as np
from tqdm import tqdm

from trm_lib.data import maze as mz
from trm_lib.data import sudoku as sd
from trm_lib.data.equivalence import EquivalenceIndex
import torch

from trm_lib.data.puzzle_csv import iter_chunks
from trm_lib.data.puzzles import PuzzleSet, load_puzzles, parse_rows, to_grid, write_rows
from trm_lib.data.sudoku_hard import RATING_BINS, generate_hard, next_target_bin, rating_bin


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("data", help="generate Sudoku / maze sets, check puzzle files")
    sub = p.add_subparsers(dest="data_command", metavar="{sudoku,maze,check}")
    sub.required = True
    s = sub.add_parser("sudoku", help="uniquely solvable N x N Sudoku")
    s.add_argument("--size", type=int, required=True, choices=sorted(sd.BOX_SHAPES))
    s.add_argument("--hard", action="store_true",
                   help="9x9 only: local search to a Sudoku-Extreme-like rating mix")
    s.add_argument("--min-clues", type=_clue_range, default=(0, 0), metavar="N|LO-HI",
                   help="stop removing clues at this many (default 0: minimal puzzles); "
                        "LO-HI draws the number for each puzzle uniformly from LO..HI")
    m = sub.add_parser("maze", help="Maze-Hard style mazes, or perfect mazes (--perfect)")
    m.add_argument("--size", type=int, required=True)
    m.add_argument("--perfect", action="store_true",
                   help="a spanning tree of rooms (odd size): exactly one path from S to G")
    m.add_argument("--min-path", type=int, default=None,
                   help="keep mazes whose shortest path is longer (default floor(110*N/30); "
                        "N + N//2 with --perfect)")
    for q in (s, m):
        q.add_argument("--count", type=int, required=True)
        q.add_argument("--seed", type=int, required=True)
        q.add_argument("--out", required=True, help="CSV file; gzip when it ends in .gz")
        q.add_argument("--exclude", nargs="*", default=[], metavar="FILE",
                       help="skip puzzles equivalent to one in these files")
    c = sub.add_parser("check", help="verify every row of puzzle files, print a summary")
    c.add_argument("files", nargs="+")
    return p


def _clue_range(text: str) -> tuple[int, int]:
    """'30' -> (30, 30); '26-34' -> (26, 34)."""
    lo, sep, hi = text.partition("-")
    try:
        bounds = (int(lo), int(hi) if sep else int(lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number like 30 or a range like 26-34") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 <= LO <= HI")
    return bounds


def _index_of(task: str, size: int, files: list[str]) -> EquivalenceIndex:
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


def _count_repeat(bar: tqdm, args: argparse.Namespace) -> None:
    """Give up when puzzles keep repeating: the space of distinct ones is used up. (Minimal
    4x4 Sudoku: 60,000 draws found 36 distinct puzzles, the last new one at draw 268.)"""
    if getattr(bar, "repeat_from", None) != bar.n:  # a new puzzle since the last repeat
        bar.repeat_from, bar.repeats = bar.n, 0
    bar.repeats += 1
    if bar.repeats >= MAX_REPEATS_IN_A_ROW:
        raise ValueError(f"only {bar.n} distinct puzzles exist here, it seems: {bar.repeats:,} draws in a "
                         f"row gave no new one (--count asks for {args.count:,}); ask for at most {bar.n}, "
                         "or allow more clues (--min-clues) or a larger size")


def sudoku_rows(args: argparse.Namespace, index: EquivalenceIndex, bar: tqdm) -> Iterator[tuple]:
    rng = random.Random(args.seed)
    counts = [0] * len(RATING_BINS)
    name = f"gen-sudoku{args.size}{'hard' if args.hard else ''}-seed{args.seed}"
    made = 0
    while made < args.count:
        if args.hard:
            h = generate_hard(rng, next_target_bin(counts))
            puzzle, solution, rating = h.puzzle, h.solution, h.rating
        else:
            lo, hi = args.min_clues  # a fixed number draws nothing: older sets stay byte-identical
            puzzle, solution = sd.generate_puzzle(args.size, rng, lo if lo == hi else rng.randint(lo, hi))
            rating = sd.rate(puzzle)
        if not index.add(puzzle):
            _count_repeat(bar, args)  # equivalent to a puzzle already held
            continue
        counts[rating_bin(rating)] += 1
        made += 1
        bar.update()
        yield name, sd.to_string(puzzle), sd.to_string(solution), rating


def maze_rows(args: argparse.Namespace, index: EquivalenceIndex, bar: tqdm) -> Iterator[tuple]:
    rng = np.random.default_rng(args.seed)
    default = mz.perfect_min_path if args.perfect else mz.default_min_path
    min_path = default(args.size) if args.min_path is None else args.min_path
    generate = mz.generate_perfect_maze if args.perfect else mz.generate_maze
    name = f"gen-maze{args.size}{'perfect' if args.perfect else ''}-seed{args.seed}"
    made = 0
    while made < args.count:
        maze, label, length = generate(args.size, min_path, rng)
        if not index.add(maze):
            _count_repeat(bar, args)
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


def check(path: str) -> PuzzleSet:
    """Verify every row of `path` while reading it, in chunks (bounded memory, a progress bar,
    the first bad row stops it); print counts and the rating histogram. Returns a PuzzleSet
    of the ratings only: its inputs and labels have no columns."""
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
    n = len(ratings)
    empty = torch.zeros(n, 0, dtype=torch.long)  # n puzzles, their cells not kept
    puzzles = PuzzleSet(first.task, first.size, empty, empty, ratings, [])
    what = f"{puzzles.size}x{puzzles.size} {puzzles.task}"
    print(f"{path}: {n} {what} puzzles, all valid ({time.time() - start:.1f} s)")
    if puzzles.task == "sudoku":
        c = torch.cat(clues)
        print(f"  clues: min {c.min():.0f}, mean {c.mean():.1f}, max {c.max():.0f}")
    kind = "rating (dead ends)" if puzzles.task == "sudoku" else "path length (moves)"
    print(f"  {kind}: min {puzzles.ratings.min()}, mean {puzzles.ratings.float().mean():.1f}, "
          f"max {puzzles.ratings.max()}")
    for label, count in rating_histogram(puzzles):
        print(f"  {label:>8}: {count:6d}  {100 * count / n:5.1f}%")
    return puzzles


def run(args: argparse.Namespace) -> int:
    if args.data_command == "check":
        for path in args.files:
            check(path)
        return 0
    if args.count < 1:
        raise ValueError(f"--count is {args.count}; ask for at least 1 puzzle")
    if args.data_command == "sudoku":
        if args.hard and args.size != 9:
            raise ValueError("--hard is for 9x9 only; use --size 9")
        task, make = "sudoku", sudoku_rows
    else:
        if args.size < 4:
            raise ValueError(f"--size {args.size} is too small for a maze; use 4 or more")
        if args.perfect and args.size % 2 == 0:
            raise ValueError(f"--perfect needs an odd --size (rooms on even rows and columns), "
                             f"got {args.size}")
        task, make = "maze", maze_rows
    index = _index_of(task, args.size, args.exclude)
    start = time.time()
    with tqdm(total=args.count, desc=f"{task} {args.size}x{args.size}", unit="puzzle") as bar:
        written = write_rows(args.out, make(args, index, bar))
    seconds = time.time() - start
    print(f"wrote {written} puzzles to {args.out} in {seconds:.1f} s ({written / seconds:.1f}/s)")
    return 0
