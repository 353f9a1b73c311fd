"""Behaviour of the Sudoku solver, rating, generator and augmentation."""
import random

import numpy as np
import pytest

from trm_lib.data import sudoku as sd
from trm_lib.data.sudoku_hard import RATING_BINS, generate_hard, next_target_bin, rating_bin

# A well-known very hard 9x9 puzzle (needs many guesses) and an easy one.
HARD = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def test_solver_finds_the_unique_solution_of_a_very_hard_puzzle():
    puzzle = sd.from_string(HARD)
    result = sd.solve(puzzle)
    assert result.count == 1
    assert sd.is_valid_solution(result.solution, puzzle)


def test_solver_counts_all_288_solutions_of_the_empty_4x4_grid():
    assert sd.solve(np.zeros((4, 4), dtype=int), limit=1000).count == 288


def test_solver_counts_two_solutions_for_ambiguous_puzzle():
    # Blanking the rectangle 1 2 / 2 1 (rows 1 and 3, columns 1 and 2) lets both orders fit.
    grid = sd.from_string("1234341221434321")
    puzzle = grid.copy()
    puzzle[[0, 0, 2, 2], [0, 1, 0, 1]] = 0
    result = sd.solve(puzzle, limit=5)
    assert result.count == 2
    assert sd.is_valid_solution(result.solution, puzzle)


def test_solver_reports_no_solution_for_clashing_givens():
    puzzle = np.zeros((6, 6), dtype=int)
    puzzle[0, 0] = puzzle[0, 5] = 3
    assert sd.solve(puzzle).count == 0
    assert sd.clashes(puzzle) == ["digit 3 repeated in row 1"]


def test_rating_is_zero_for_a_singles_puzzle_and_large_for_a_very_hard_one():
    assert sd.rate(sd.from_string(EASY)) == 0
    assert sd.rate(sd.from_string(HARD)) > 20


@pytest.mark.parametrize("size", [4, 6, 9])
def test_generated_puzzles_have_exactly_one_solution_matching_the_grid(size):
    rng = random.Random(size)
    for _ in range(5):
        puzzle, solution = sd.generate_puzzle(size, rng)
        result = sd.solve(puzzle)
        assert result.count == 1
        assert np.array_equal(result.solution, solution)
        assert sd.is_valid_solution(solution, puzzle)


def test_generated_puzzles_are_minimal_unless_a_clue_floor_is_set():
    rng = random.Random(0)
    puzzle, _ = sd.generate_puzzle(6, rng)
    for cell in np.flatnonzero(puzzle):
        fewer = puzzle.copy().reshape(-1)
        fewer[cell] = 0
        assert sd.solve(fewer).count == 2
    floored, _ = sd.generate_puzzle(4, rng, min_clues=7)
    assert (floored > 0).sum() == 7


def test_generator_is_reproducible_from_its_seed():
    a = sd.generate_puzzle(9, random.Random(7))
    b = sd.generate_puzzle(9, random.Random(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_is_valid_solution_rejects_repeats_and_changed_givens():
    puzzle, solution = sd.generate_puzzle(4, random.Random(1))
    assert sd.is_valid_solution(solution, puzzle)
    broken = solution.copy()
    broken[0, 0], broken[0, 1] = broken[0, 1], broken[0, 0]
    assert not sd.is_valid_solution(broken)
    other = solution % 4 + 1  # relabelled: a valid grid, but not with these givens
    assert sd.is_valid_solution(other) and not sd.is_valid_solution(other, puzzle)


def test_hard_search_reaches_the_requested_rating_bin():
    rng = random.Random(3)
    for target in (1, 2):
        h = generate_hard(rng, target)
        lo, hi = RATING_BINS[target]
        assert lo <= h.rating <= hi and rating_bin(h.rating) == target
        assert sd.solve(h.puzzle).count == 1


def test_target_bins_follow_the_deficit_of_the_mix():
    assert next_target_bin([0, 0, 0, 0]) == 2  # the 50% bin first
    assert next_target_bin([14, 25, 50, 0]) == 3
