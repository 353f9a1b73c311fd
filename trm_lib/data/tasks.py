"""The tasks' rules, written once: the Sudoku sizes, the maze characters, how many tokens
a task has, and a grid's side from its cell count. Imports nothing, so every part can use it.

Tokens (trm_lib.data.puzzles): PAD 0; Sudoku N x N: blank 1, digits 2..N+1 (N + 2 in all);
maze: the characters of MAZE_CHARS as 1..5 (6 in all); ARC (trm_lib.data.arc): EOS 1 and the
colours 0-9 as 2..11 on an N x N canvas (12 in all).
"""
from __future__ import annotations

import math

TASKS = ("sudoku", "maze", "arc")
BOX_SHAPES: dict[int, tuple[int, int]] = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # N -> (box rows, box columns)
MAZE_CHARS = "# SGo"  # wall, open, start, goal, path: MAZE_CHARS[code - 1] is a code's CSV character


def vocab_size(task: str, size: int) -> int:
    """Tokens of an N x N puzzle, PAD included: N + 2 for Sudoku, 6 for mazes, 12 for ARC."""
    if task not in TASKS:
        raise ValueError(f"task is {task!r}, expected 'sudoku', 'maze' or 'arc'")
    return {"sudoku": size + 2, "maze": len(MAZE_CHARS) + 1, "arc": 12}[task]


def grid_side(cells: int, task: str = "grid", what: str = "grid") -> int:
    """N of the N x N grid of `cells` cells; an error naming `what` when no such `task` grid exists."""
    n = math.isqrt(cells)
    if n * n != cells or (task == "sudoku" and n not in BOX_SHAPES):
        allowed = "16, 36 or 81" if task == "sudoku" else "a square number (N x N)"
        raise ValueError(f"{what} has {cells} cells; a {task} needs {allowed}")
    return n
