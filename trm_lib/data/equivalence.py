"""When are two puzzles the same up to augmentation? Used to keep test sets disjoint from
training sets (a test puzzle equivalent to a training one would be seen in training).

Sudoku group: digit relabelling, band / row-in-band and stack / column-in-stack
permutations, and the transpose where boxes are square. A uniquely solvable puzzle fixes its
solution, so comparing the givens is enough.
- 4 x 4 and 6 x 6: an exact canonical form (the smallest relabelled image over all
  128 / 3456 geometric transforms).
- 9 x 9 (3.4 million geometric transforms): a cheap invariant first, then an exact check by
  brute force over all transforms for the rare pairs whose invariants agree.
Maze group: the 8 symmetries of the square; the canonical form is the smallest image.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from trm_lib.data.maze import dihedral_perms
from trm_lib.data.tasks import BOX_SHAPES, grid_side


@lru_cache(maxsize=None)
def _line_perms(size: int, group: int) -> np.ndarray:
    """All permutations of `size` lines in blocks of `group` (blocks and lines within)."""
    blocks = size // group
    out = []
    for order in itertools.permutations(range(blocks)):
        for inner in itertools.product(itertools.permutations(range(group)), repeat=blocks):
            out.append([b * group + i for b, perm in zip(order, inner) for i in perm])
    return np.array(out)


def _relabel(arr: np.ndarray, size: int) -> np.ndarray:
    """Rename digits of each row of `arr` (T, S) in order of first appearance; 0 stays 0."""
    t, s = arr.shape
    eq = arr[:, :, None] == np.arange(1, size + 1)  # (T, S, N)
    first = np.where(eq.any(1), eq.argmax(1), s + np.arange(size))  # (T, N)
    rank = first.argsort(1).argsort(1)
    mapping = np.concatenate([np.zeros((t, 1), dtype=rank.dtype), rank + 1], axis=1)
    return np.take_along_axis(mapping, arr, axis=1)


@lru_cache(maxsize=None)
def _small_sudoku_perms(size: int) -> np.ndarray:
    br, bc = BOX_SHAPES[size]
    rows, cols = _line_perms(size, br), _line_perms(size, bc)
    perms = (rows[:, None, :, None] * size + cols[None, :, None, :]).reshape(-1, size * size)
    if br == bc:
        transposed = perms.reshape(-1, size, size).transpose(0, 2, 1).reshape(-1, size * size)
        perms = np.concatenate([perms, transposed])
    return perms


def sudoku_canonical(puzzle: np.ndarray) -> bytes:
    """Exact canonical form of a 4 x 4 or 6 x 6 puzzle under the augmentation group."""
    flat = np.asarray(puzzle).reshape(-1)
    size = grid_side(flat.size, "sudoku")
    if size == 9:
        raise ValueError("no cheap canonical form for 9 x 9; use EquivalenceIndex")
    images = _relabel(flat[_small_sudoku_perms(size)], size).astype(np.uint8)
    return min(map(bytes, images))


def _line_profile(given: np.ndarray, digits: np.ndarray, br: int, bc: int) -> tuple:
    """Row-side quantities kept by relabelling and line permutations (not by transpose)."""
    size = given.shape[0]
    rows = given.sum(1)
    bands = tuple(sorted(tuple(sorted(rows[i:i + br])) for i in range(0, size, br)))
    cols = given.sum(0)
    stacks = tuple(sorted(tuple(sorted(cols[i:i + bc])) for i in range(0, size, bc)))
    # per digit: in how many rows of each band / columns of each stack it is given
    per_digit = []
    for d in range(1, size + 1):
        at = digits == d
        in_bands = tuple(sorted(at.reshape(size // br, -1).sum(1)))
        in_stacks = tuple(sorted(at.T.reshape(size // bc, -1).sum(1)))
        per_digit.append((in_bands, in_stacks))
    return bands, stacks, tuple(sorted(per_digit))


def sudoku_invariant(puzzle: np.ndarray) -> tuple:
    """Quantities unchanged by every augmentation (equal invariants do not prove equal)."""
    flat = np.asarray(puzzle).reshape(-1)
    size = grid_side(flat.size, "sudoku")
    br, bc = BOX_SHAPES[size]
    digits = flat.reshape(size, size)
    profile = _line_profile(digits > 0, digits, br, bc)
    if br == bc:  # the transpose swaps rows and columns
        profile = min(profile, _line_profile(digits.T > 0, digits.T, br, bc))
    boxes = (digits > 0).reshape(size // br, br, size // bc, bc).sum((1, 3))
    return profile, tuple(sorted(boxes.reshape(-1)))


def sudoku_equivalent(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact check that puzzle `a` maps onto puzzle `b` by some augmentation."""
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    size = grid_side(a.size, "sudoku")
    if sudoku_invariant(a) != sudoku_invariant(b):
        return False
    if size != 9:
        return sudoku_canonical(a) == sudoku_canonical(b)
    br, bc = BOX_SHAPES[size]
    b_grid = b.reshape(size, size)
    target = _relabel(b[None], size)[0]
    row_perms, col_perms = _line_perms(size, br), _line_perms(size, bc)
    for grid in (a.reshape(size, size), a.reshape(size, size).T):
        # line permutations keep clue counts per line: only those matching b's survive
        given = grid > 0
        rows = row_perms[(given.sum(1)[row_perms] == (b_grid > 0).sum(1)).all(1)]
        cols = col_perms[(given.sum(0)[col_perms] == (b_grid > 0).sum(0)).all(1)]
        for r in rows:
            images = grid[r][:, cols].transpose(1, 0, 2).reshape(len(cols), -1)  # (C, S)
            images = images[((images > 0) == (b > 0)).all(1)]  # same cells given
            if len(images) and np.any((_relabel(images, size) == target).all(1)):
                return True
    return False


def maze_canonical(maze: np.ndarray) -> bytes:
    """Exact canonical form of a maze under the 8 dihedral transforms."""
    flat = np.asarray(maze).reshape(-1)
    size = grid_side(flat.size, "maze", what="maze")
    return min(map(bytes, flat[dihedral_perms(size)].astype(np.uint8)))


class EquivalenceIndex:
    """A set of puzzles up to augmentation: `add` refuses a puzzle equivalent to one held.

    `task` is 'sudoku' or 'maze'; puzzles are grids of digits (Sudoku, 0 = blank) or maze
    codes, shaped (N, N) or flat.
    """

    def __init__(self, task: str, size: int):
        self.task, self.size = task, size
        self._held: dict[object, list[np.ndarray]] = {}

    def _key(self, grid: np.ndarray) -> object:
        if self.task == "maze":
            return maze_canonical(grid)
        if self.size == 9:
            return sudoku_invariant(grid)
        return sudoku_canonical(grid)

    def find(self, grid: np.ndarray) -> int | None:
        """Position (in order of adding) of a held puzzle equivalent to `grid`, or None."""
        for pos, held in self._held.get(self._key(grid), []):
            # canonical keys are exact; 9 x 9 invariants need the exact check
            if self.task == "maze" or self.size != 9 or sudoku_equivalent(held, grid):
                return pos
        return None

    def add(self, grid: np.ndarray) -> bool:
        """Add `grid`; False (and not added) if an equivalent puzzle is already held."""
        if self.find(grid) is not None:
            return False
        self._held.setdefault(self._key(grid), []).append((len(self), np.asarray(grid).reshape(-1)))
        return True

    def __len__(self) -> int:
        return sum(len(v) for v in self._held.values())


def overlaps(a: list[np.ndarray], b: list[np.ndarray] | None, task: str) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] equivalent to b[j] (b None: pairs i < j within a).
    Invariants first, exact checks only where they agree: cheap enough for whole files."""
    key = maze_canonical if task == "maze" else sudoku_invariant
    keys_a = [key(grid) for grid in a]
    groups: dict[object, list[int]] = {}
    for i, k in enumerate(keys_a):
        groups.setdefault(k, []).append(i)
    found = []
    for j, grid in enumerate(a if b is None else b):
        k = keys_a[j] if b is None else key(grid)
        for i in groups.get(k, []):
            if b is None and i >= j:
                break
            if task == "maze" or sudoku_equivalent(a[i], grid):
                found.append((i, j))
    return found
