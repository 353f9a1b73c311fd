"""N x N Sudoku: an exact solver with a difficulty rating and a generator (augmentation: `trm_lib.data.augment`).

Sizes: 4 (2x2 boxes), 6 (boxes of 2 rows x 3 columns), 9 (3x3 boxes).
A grid is a numpy int array of shape (N, N) (or flat (N*N,)), digits 1..N, 0 = blank.

The solver keeps one bitmask of candidate digits per cell (bit d-1 = digit d is still
possible), propagates naked singles (a cell with one candidate) and hidden singles (a digit
with one place left in a row, column or box), and when stuck it guesses on the cell with
the fewest candidates (first such cell, lowest digit first).

Difficulty rating (our scale): the number of dead ends (guesses that led to a
contradiction) in the search tree explored to *prove* the solution unique, i.e. counting
solutions up to 2. Rating 0 = solvable by singles alone; every guess adds at least one dead
end. This mirrors the "backtracks" of the tdoku solver used for Sudoku-Extreme in spirit
(singles propagation + guessing), but the numbers are not identical; see datasets/README.md.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from trm_lib.data.tasks import BOX_SHAPES, grid_side


@dataclass(frozen=True)
class Geometry:
    """Cell indices of an N x N Sudoku; cells are numbered row-major, r * N + c."""

    size: int
    box_rows: int  # rows per box
    box_cols: int  # columns per box
    units: tuple[tuple[int, ...], ...]  # N rows, N columns, N boxes
    peers: tuple[tuple[int, ...], ...]  # per cell: the cells sharing a unit with it
    full: int  # bitmask with all N digits set


@lru_cache(maxsize=None)
def geometry(size: int) -> Geometry:
    if size not in BOX_SHAPES:
        raise ValueError(f"Sudoku size {size} is not supported; use one of {sorted(BOX_SHAPES)}")
    br, bc = BOX_SHAPES[size]
    rows = [tuple(r * size + c for c in range(size)) for r in range(size)]
    cols = [tuple(r * size + c for r in range(size)) for c in range(size)]
    boxes = []
    for r0 in range(0, size, br):
        for c0 in range(0, size, bc):
            boxes.append(tuple((r0 + r) * size + c0 + c for r in range(br) for c in range(bc)))
    units = tuple(rows + cols + boxes)
    peers = []
    for cell in range(size * size):
        ps = set()
        for u in units:
            if cell in u:
                ps.update(u)
        ps.discard(cell)
        peers.append(tuple(sorted(ps)))
    return Geometry(size, br, bc, units, tuple(peers), (1 << size) - 1)


def size_of(grid: np.ndarray) -> int:
    """Side N of a grid given as (N, N) or flat (N*N,)."""
    return grid_side(np.asarray(grid).size, "sudoku")


# ---------------------------------------------------------------- solver internals
def _propagate(cand: list[int], geo: Geometry, todo: list[int]) -> bool:
    """Apply naked and hidden singles in place. `todo` holds cells just fixed to one digit.

    Returns False on a contradiction (a cell with no candidate, or a digit with no place).
    """
    peers, units, full = geo.peers, geo.units, geo.full
    while True:
        while todo:
            cell = todo.pop()
            bit = cand[cell]
            for p in peers[cell]:
                m = cand[p]
                if m & bit:
                    m ^= bit
                    if not m:
                        return False
                    cand[p] = m
                    if not m & (m - 1):
                        todo.append(p)
        for unit in units:
            once = twice = fixed = 0
            for cell in unit:
                m = cand[cell]
                twice |= once & m
                once |= m
                if not m & (m - 1):
                    fixed |= m
            if once != full:
                return False
            hidden = once & ~twice & ~fixed  # digits with exactly one unfixed place
            while hidden:
                bit = hidden & -hidden
                hidden ^= bit
                for cell in unit:
                    if cand[cell] & bit:
                        cand[cell] = bit
                        todo.append(cell)
                        break
        if not todo:
            return True


class _Search:
    """Depth-first search counting solutions up to `limit` and dead ends."""

    def __init__(self, geo: Geometry, limit: int, rng: random.Random | None = None):
        self.geo, self.limit, self.rng = geo, limit, rng
        self.solutions: list[list[int]] = []
        self.dead_ends = 0

    def run(self, cand: list[int]) -> None:
        best, fewest = -1, 99
        for cell, m in enumerate(cand):
            if m & (m - 1):
                k = m.bit_count()
                if k < fewest:
                    best, fewest = cell, k
                    if k == 2:
                        break
        if best < 0:
            self.solutions.append(cand)
            return
        m = cand[best]
        bits = []
        while m:
            bit = m & -m
            bits.append(bit)
            m ^= bit
        if self.rng is not None:
            self.rng.shuffle(bits)
        for bit in bits:
            new = cand[:]
            new[best] = bit
            if _propagate(new, self.geo, [best]):
                self.run(new)
                if len(self.solutions) >= self.limit:
                    return
            else:
                self.dead_ends += 1


def _initial_candidates(cells: list[int], geo: Geometry) -> tuple[list[int], list[int]]:
    cand = [geo.full] * (geo.size * geo.size)
    todo = []
    for i, d in enumerate(cells):
        if d:
            cand[i] = 1 << (d - 1)
            todo.append(i)
    return cand, todo


def _digits(cand: list[int]) -> list[int]:
    return [m.bit_length() for m in cand]


# ---------------------------------------------------------------- public solver
@dataclass
class SolveResult:
    count: int  # solutions found, capped at the limit
    solution: np.ndarray | None  # (N, N) first solution found, or None
    rating: int  # dead ends met (our difficulty scale; meaningful when count == 1)


def solve(puzzle: np.ndarray, limit: int = 2) -> SolveResult:
    """Count the solutions of `puzzle` ((N, N) or flat, 0 = blank) up to `limit`."""
    flat = np.asarray(puzzle, dtype=np.int64).reshape(-1)
    size = size_of(flat)
    geo = geometry(size)
    if flat.min() < 0 or flat.max() > size:
        raise ValueError(f"puzzle has a digit outside 0..{size}")
    cand, todo = _initial_candidates(flat.tolist(), geo)
    search = _Search(geo, limit)
    if _propagate(cand, geo, todo):
        search.run(cand)
    sol = None
    if search.solutions:
        sol = np.array(_digits(search.solutions[0]), dtype=np.int64).reshape(size, size)
    return SolveResult(len(search.solutions), sol, search.dead_ends)


def rate(puzzle: np.ndarray) -> int:
    """Difficulty rating of a uniquely solvable puzzle (dead ends proving uniqueness)."""
    return solve(puzzle, limit=2).rating


def _has_other_solution(cells: list[int], cell: int, digit: int, geo: Geometry) -> bool:
    """True if the puzzle `cells` has a solution with `cells[cell] != digit` (cell blank)."""
    cand, todo = _initial_candidates(cells, geo)
    cand[cell] &= ~(1 << (digit - 1))
    if not cand[cell] & (cand[cell] - 1):
        todo.append(cell)
    if not _propagate(cand, geo, todo):
        return False
    search = _Search(geo, 1)
    search.run(cand)
    return bool(search.solutions)


# ---------------------------------------------------------------- validity
def clashes(grid: np.ndarray) -> list[str]:
    """Descriptions of repeated digits in rows, columns or boxes (blanks ignored)."""
    flat = np.asarray(grid).reshape(-1)
    size = size_of(flat)
    geo = geometry(size)
    kinds = ["row"] * size + ["column"] * size + ["box"] * size
    out = []
    for k, unit in enumerate(geo.units):
        vals = [int(flat[c]) for c in unit if flat[c]]
        dup = sorted({v for v in vals if vals.count(v) > 1})
        if dup:
            out.append(f"digit {dup[0]} repeated in {kinds[k]} {k % size + 1}")
    return out


def is_valid_solution(grid: np.ndarray, puzzle: np.ndarray | None = None) -> bool:
    """True if `grid` is a complete N x N Sudoku (every unit holds 1..N) that keeps the
    givens of `puzzle` (when given). Any valid solution counts, not only the stored one."""
    g = np.asarray(grid).reshape(-1)
    try:
        size = size_of(g)
    except ValueError:
        return False
    geo = geometry(size)
    target = set(range(1, size + 1))
    if any({int(g[c]) for c in unit} != target for unit in geo.units):
        return False
    if puzzle is not None:
        p = np.asarray(puzzle).reshape(-1)
        if p.shape != g.shape or np.any((p != 0) & (p != g)):
            return False
    return True


# ---------------------------------------------------------------- generation
def random_solution(size: int, rng: random.Random) -> np.ndarray:
    """A uniformly shuffled search's first complete grid, (N, N)."""
    geo = geometry(size)
    cand = [geo.full] * (size * size)
    search = _Search(geo, 1, rng)
    search.run(cand)
    return np.array(_digits(search.solutions[0]), dtype=np.int64).reshape(size, size)


def generate_puzzle(
    size: int, rng: random.Random, min_clues: int = 0, solution: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A uniquely solvable puzzle: a random full grid, then clues removed in random order
    while the solution stays unique, stopping at `min_clues` clues (0: until minimal).

    Returns (puzzle, solution), both (N, N), 0 = blank in the puzzle.
    """
    geo = geometry(size)
    sol = random_solution(size, rng) if solution is None else np.asarray(solution).reshape(size, size)
    cells = sol.reshape(-1).tolist()
    order = list(range(size * size))
    rng.shuffle(order)
    clues = size * size
    for cell in order:
        if clues <= min_clues:
            break
        digit = cells[cell]
        cells[cell] = 0
        if _has_other_solution(cells, cell, digit, geo):
            cells[cell] = digit
        else:
            clues -= 1
    return np.array(cells, dtype=np.int64).reshape(size, size), sol.copy()


def to_string(grid: np.ndarray) -> str:
    """Row-major string, '.' for blank: the CSV encoding."""
    return "".join("." if d == 0 else str(int(d)) for d in np.asarray(grid).reshape(-1))


def from_string(text: str) -> np.ndarray:
    """Inverse of `to_string` ('.' or '0' = blank); returns (N, N)."""
    cells = [0 if ch in ".0" else int(ch) for ch in text]
    n = size_of(np.zeros(len(cells)))
    return np.array(cells, dtype=np.int64).reshape(n, n)
