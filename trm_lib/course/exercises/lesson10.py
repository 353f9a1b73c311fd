"""Checkers of lesson 10, ARC-AGI: undoing an augmentation, and the vote that ranks answers."""
from __future__ import annotations

import numpy as np

from trm_lib.arc_eval import rank_answers
from trm_lib.course.checks import CheckResult, verdict
from trm_lib.data.arc import DIHEDRAL_INVERSE, Augmentation, dihedral


def reference_undo_augmentation(grid: np.ndarray, tid: int, colours: tuple[int, ...]) -> np.ndarray:
    """The grid in the task's own frame: the inverse of dihedral map `tid`, then the inverse colours."""
    return Augmentation(tid, tuple(colours)).invert(np.asarray(grid, dtype=np.uint8))


def _undo_cases() -> list[tuple[str, tuple, np.ndarray]]:
    rng = np.random.default_rng(10)
    cases = []
    for tid in range(8):
        grid = rng.integers(0, 10, size=(2, 3), dtype=np.uint8)  # not square: a transpose changes the shape
        colours = (0, *[int(c) for c in rng.permutation(np.arange(1, 10))])
        augmented = Augmentation(tid, colours).apply(grid)
        cases.append((f"dihedral map {tid}", (augmented.copy(), tid, colours), grid))
    return cases


def check_undo_augmentation(fn):
    """Lesson 10: undo_augmentation(grid, tid, colours) -> the original grid, for all 8 maps."""
    name = "undo_augmentation"
    for label, args, original in _undo_cases():
        try:
            mine = fn(*args)
        except NotImplementedError:
            return verdict(CheckResult(False, False, f"{name}: not attempted yet, using the reference"),
                           fn, reference_undo_augmentation)
        except Exception as err:
            return verdict(CheckResult(False, True, f"✗ {name} raised {type(err).__name__} on {label}: {err}; "
                                                    "using the reference for now"), fn, reference_undo_augmentation)
        mine = np.asarray(mine)
        if mine.shape == original.shape and np.array_equal(mine, original):
            continue
        return verdict(CheckResult(False, True, f"✗ {name}: wrong grid on {label}; {_hint(mine, *args, original)}; "
                                                "using the reference for now"), fn, reference_undo_augmentation)
    return verdict(CheckResult(True, True, f"✓ {name} gives back the original grid under all 8 dihedral maps"),
                   fn, reference_undo_augmentation)


def _hint(mine: np.ndarray, grid: np.ndarray, tid: int, colours: tuple, original: np.ndarray) -> str:
    table = np.asarray(colours, dtype=np.uint8)
    inverse = np.argsort(table).astype(np.uint8)
    shape = f"yours is {mine.shape[0]}x{mine.shape[1]}, the original {original.shape[0]}x{original.shape[1]}"
    if mine.shape == original.shape:
        if np.array_equal(mine, table[dihedral(grid, DIHEDRAL_INVERSE[tid])]):
            return "the positions are right but the colours are mapped forward again: undo them with the inverse " \
                   "permutation (np.argsort(colours)[grid])"
        if np.array_equal(mine, inverse[dihedral(grid, tid)]):
            return (f"the colours are right but map {tid} was applied again instead of undone: its inverse is map "
                    f"{DIHEDRAL_INVERSE[tid]} (rotations 1 and 3 undo each other; the others undo themselves)")
        if np.array_equal(mine, inverse[grid]):
            return "the colours are right but the dihedral map was not undone"
        return "the colours and positions both differ from the original"
    return shape + ": a rotation by 90 or 270 degrees, a transpose or an anti-transpose swaps rows and columns"


def _answers(rng: np.random.Generator, n: int, distinct: int) -> list[tuple[np.ndarray, float]]:
    grids = [np.full((1, 2), v, dtype=np.uint8) for v in range(distinct)]
    return [(grids[int(rng.integers(distinct))].copy(), float(rng.random())) for _ in range(n)]


def _ranked_grids(ranked) -> list[tuple]:
    out = []
    for item in ranked:
        grid = item.grid if hasattr(item, "grid") else item[0] if isinstance(item, tuple) else item
        out.append(np.asarray(grid).tobytes())
    return out


def check_rank_answers(fn):
    """Lesson 10: rank_answers(answers) -> the distinct grids, most votes first, ties by the higher mean
    confidence. Answers are (grid, confidence) pairs; what comes back may be grids, (grid, ...) tuples
    or objects with a `.grid`."""
    name = "rank_answers"
    rng = np.random.default_rng(0)
    a, b, c = (np.full((1, 2), v, dtype=np.uint8) for v in (7, 8, 9))
    # a and b have 2 votes each: a's mean 0.5 < b's 0.6, though a holds the highest single one
    tie = [(a, 0.9), (b, 0.6), (b, 0.6), (a, 0.1), (c, 0.99)]
    cases = [("a tie of votes broken by the mean confidence", tie)]
    cases += [(f"{n} random answers", _answers(rng, n, 4)) for n in (1, 6, 30)]
    for label, answers in cases:
        try:
            mine = list(fn([(g.copy(), q) for g, q in answers]))
        except NotImplementedError:
            return verdict(CheckResult(False, False, f"{name}: not attempted yet, using the reference"), fn, rank_answers)
        except Exception as err:
            return verdict(CheckResult(False, True, f"✗ {name} raised {type(err).__name__} on {label}: {err}; "
                                                    "using the reference for now"), fn, rank_answers)
        want = _ranked_grids(rank_answers(answers))
        try:
            got = _ranked_grids(mine)
        except Exception:
            got = None
        if got == want:
            continue
        hint = "the order differs"
        if got is not None and len(got) != len(want):
            hint = f"{len(got)} answers came back for {len(want)} distinct grids: keep each grid once"
        elif label.startswith("a tie"):
            hint = ("grids 8 and 7 have two votes each: the tie goes to the higher mean confidence (8: 0.6 "
                    "against 7: 0.5), not to the highest single one; one vote (9, at 0.99) comes after both")
        return verdict(CheckResult(False, True, f"✗ {name}: on {label}, {hint}; using the reference for now"),
                       fn, rank_answers)
    return verdict(CheckResult(True, True, f"✓ {name} ranks like the official evaluator on {len(cases)} cases"),
                   fn, rank_answers)
