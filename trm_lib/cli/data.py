"""`python -m trm_lib data ...`: generate puzzle sets and check puzzle files (the code: `trm_lib.data.generate`).

  data sudoku --size N --count K --seed S --out FILE [--hard] [--exclude TRAIN_FILE]
  data maze   --size N [--perfect [--construction C]] [--min-path L] --count K --seed S --out FILE [--exclude TRAIN_FILE]
  data check  FILE [FILE ...]
  data arc    [--version arcagi|kaggle2025] [--max-side N] [--num-aug K] [--show TASK]   (trm_lib.cli.arc)

`--exclude` skips any puzzle equivalent (under the augmentations) to one in the given files,
so a test set can be made disjoint from its training set; a file never holds two
equivalent puzzles either.
"""
from __future__ import annotations

import argparse
import time

from tqdm import tqdm

from trm_lib.cli.arc import add_data_parser as add_arc_parser, run_data as run_arc
from trm_lib.cli.args import path, refuse_to_overwrite, seed
from trm_lib.data.puzzle_csv import MAX_LINE
from trm_lib.data import sudoku as sd
from trm_lib.data.generate import check_file, equivalence_index, maze_rows, rating_histogram, sudoku_rows
from trm_lib.data.puzzles import PuzzleSet, write_rows


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("data", help="generate Sudoku / maze sets, check puzzle files, build ARC-AGI")
    sub = p.add_subparsers(dest="data_command", metavar="{sudoku,maze,check,arc}")
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
    m.add_argument("--construction", choices=["kruskal", "backtracker"], default="kruskal",
                   help="with --perfect: how the spanning tree is drawn (default kruskal; backtracker "
                        "makes long corridors with few branches)")
    m.add_argument("--min-path", type=int, default=None,
                   help="keep mazes whose shortest path is longer (default floor(110*N/30); "
                        "N + N//2 with --perfect)")
    for q in (s, m):
        q.add_argument("--count", type=int, required=True)
        q.add_argument("--seed", type=seed, required=True)
        q.add_argument("--out", type=path, required=True, help="CSV file; gzip when it ends in .gz")
        q.add_argument("--exclude", type=path, nargs="*", default=[], metavar="FILE",
                       help="skip puzzles equivalent to one in these files")
    c = sub.add_parser("check", help="verify every row of puzzle files, print a summary")
    c.add_argument("files", nargs="+")
    add_arc_parser(sub)
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


def check(path: str) -> PuzzleSet:
    """Check `path` (see `check_file`) and print its counts and rating histogram."""
    checked = check_file(path)
    puzzles, n = checked.puzzles, len(checked.puzzles)
    what = f"{puzzles.size}x{puzzles.size} {puzzles.task}"
    print(f"{path}: {n} {what} puzzles, all valid ({checked.seconds:.1f} s)")
    if checked.clues is not None:
        c = checked.clues
        print(f"  clues: min {c.min():.0f}, mean {c.mean():.1f}, max {c.max():.0f}")
    kind = "rating (dead ends)" if puzzles.task == "sudoku" else "path length (moves)"
    print(f"  {kind}: min {puzzles.ratings.min()}, mean {puzzles.ratings.float().mean():.1f}, "
          f"max {puzzles.ratings.max()}")
    for label, count in rating_histogram(puzzles):
        print(f"  {label:>8}: {count:6d}  {100 * count / n:5.1f}%")
    return puzzles


def run(args: argparse.Namespace) -> int:
    if args.data_command == "arc":
        return run_arc(args)
    if args.data_command == "check":
        for path in args.files:
            check(path)
        return 0
    if args.count < 1:
        raise ValueError(f"--count is {args.count}; ask for at least 1 puzzle")
    if args.data_command == "sudoku":
        if args.hard and args.size != 9:
            raise ValueError("--hard is for 9x9 only; use --size 9")
        task = "sudoku"
    else:
        if args.size < 4:
            raise ValueError(f"--size {args.size} is too small for a maze; use 4 or more")
        if 2 * args.size * args.size + 64 > MAX_LINE:
            raise ValueError(f"--size {args.size} is too large: a row of its file (question and answer, "
                             f"2 x {args.size}^2 characters) would pass the {MAX_LINE:,}-byte line limit "
                             "of the puzzle files; the paper's largest mazes are 30x30")
        if args.perfect and args.size % 2 == 0:
            raise ValueError(f"--perfect needs an odd --size (rooms on even rows and columns), "
                             f"got {args.size}")
        task = "maze"
    refuse_to_overwrite("--out", args.out, {"--exclude": args.exclude})
    index = equivalence_index(task, args.size, args.exclude)
    start = time.time()
    with tqdm(total=args.count, desc=f"{task} {args.size}x{args.size}", unit="puzzle") as bar:
        if task == "sudoku":
            rows = sudoku_rows(args.size, args.count, args.seed, index, bar, hard=args.hard,
                               min_clues=args.min_clues)
        else:
            rows = maze_rows(args.size, args.count, args.seed, index, bar, perfect=args.perfect,
                             min_path=args.min_path, construction=args.construction)
        written = write_rows(args.out, rows)
    seconds = time.time() - start
    print(f"wrote {written} puzzles to {args.out} in {seconds:.1f} s ({written / seconds:.1f}/s)")
    return 0
