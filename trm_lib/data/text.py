"""Puzzles typed by hand: text -> tokens, with messages that say what to fix.

    tokens = parse_puzzle("1.3.3.1.2.4.4.2.", "sudoku", 4)      # (1, 16) tokens

A puzzle is written row by row in the CSV characters (trm_lib.data.puzzles): a Sudoku as digits
with '.' (or '0') for blanks, a maze as `#` walls, spaces, one `S` and one `G`. It may be one
line, or one line per row. Every problem is a ValueError naming the row, column or count to
fix, so a command line or a notebook widget can show it in one line.
"""
from __future__ import annotations

import numpy as np

from trm_lib.data.puzzles import encode, to_grid


def rows_to_line(text: str, task: str, size: int) -> str:
    """The puzzle as one row-major line. Sudoku: all whitespace dropped. Maze (spaces are open
    cells): several lines are rows and must each hold `size` characters."""
    if task == "sudoku":
        return "".join(text.split())
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # drop blank lines around the maze, but not a first or last row that is all open (spaces)
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    while len(lines) > size and not lines[0].strip():
        lines.pop(0)
    while len(lines) > size and not lines[-1].strip():
        lines.pop()
    if len(lines) <= 1:
        return lines[0] if lines else ""
    if len(lines) != size:
        raise ValueError(f"the maze has {len(lines)} rows; this model solves {size}x{size} mazes")
    for r, line in enumerate(lines):
        if len(line) != size:
            raise ValueError(f"row {r + 1} of the maze has {len(line)} characters, expected {size} "
                             f"(spaces are open cells, so keep them)")
    return "".join(lines)


def parse_puzzle(text: str, task: str, size: int) -> np.ndarray:
    """The puzzle string as tokens (1, N*N) for a model of `task` on N x N grids, or a ValueError
    that says what is wrong (length, a character, clashing Sudoku givens, a maze without S or G)."""
    text = rows_to_line(text, task, size)
    cells = size * size
    if len(text) != cells:
        raise ValueError(f"the puzzle has {len(text)} characters; this checkpoint solves {task} "
                         f"{size}x{size} puzzles of {cells} cells, written row by row")
    tokens = encode([text], task, size)
    bad = [i for i, t in enumerate(tokens[0]) if t < 0]
    if bad:
        i = bad[0]
        allowed = f"'.' or 1-{size}" if task == "sudoku" else "'#', ' ', 'S' or 'G'"
        raise ValueError(f"character {text[i]!r} at row {i // size + 1}, column {i % size + 1} "
                         f"is not allowed in a {task}: use {allowed}")
    if task == "sudoku":
        from trm_lib.data.sudoku import clashes

        problems = clashes(to_grid(tokens[0], "sudoku"))
        if problems:
            raise ValueError("the givens clash: " + "; ".join(problems))
    else:
        for ch in "SG":
            if text.count(ch) != 1:
                raise ValueError(f"a maze needs exactly one {ch!r}; this one has {text.count(ch)}")
        if "o" in text:
            raise ValueError("the puzzle already marks a path ('o'); give the maze without it")
    return tokens
