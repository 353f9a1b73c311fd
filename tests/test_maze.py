"""Behaviour of the maze generator, labels, shortest-path checker and augmentation."""
import numpy as np
import pytest

from trm_lib.data import maze as mz


def grid(rows: list[str]) -> np.ndarray:
    return mz.from_string("".join(rows))


OPEN_3X3 = grid(["S  ", "   ", "  G"])


def test_generated_maze_path_is_longer_than_the_minimum_and_the_label_is_shortest():
    rng = np.random.default_rng(0)
    for _ in range(5):
        maze, label, length = mz.generate_maze(12, mz.default_min_path(12), rng)
        assert length > 44
        assert (label == mz.PATH).sum() == length - 1
        assert mz.is_valid_shortest_path(maze, label)
        assert 0.15 < (maze == mz.WALL).mean() < 0.6


def test_30x30_maze_hard_minimum_is_110_and_scales_linearly():
    assert mz.default_min_path(30) == 110
    assert mz.default_min_path(12) == 44


def test_generator_is_reproducible_from_its_seed():
    a = mz.generate_maze(10, 20, np.random.default_rng(5))
    b = mz.generate_maze(10, 20, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_label_uses_the_fixed_neighbour_order():
    label = mz.solve_label(OPEN_3X3)
    # from S the first neighbour one move closer is "down", so the path runs down first
    assert mz.to_string(label) == "S  o  ooG"


def test_checker_accepts_any_shortest_path_not_only_the_canonical_one():
    other = grid(["Soo", "  o", "  G"])
    assert mz.is_valid_shortest_path(OPEN_3X3, other)
    zigzag = grid(["So ", " oo", "  G"])
    assert mz.is_valid_shortest_path(OPEN_3X3, zigzag)


@pytest.mark.parametrize("rows, reason", [
    (["Soo", " oo", "  G"], "marks 4 cells"),  # a longer route
    (["So ", "   ", " oG"], "marks 2 cells"),  # too short and broken
    (["S o", "  o", "o G"], "do not connect"),  # right count, not connected
    (["S# ", "   ", "  G"], "other than path"),  # a wall added
    (["S  ", "   ", "  S"], "changes a wall, S or G"),
])
def test_checker_rejects_invalid_paths_with_a_reason(rows, reason):
    assert reason in mz.path_problem(OPEN_3X3, grid(rows))
    assert not mz.is_valid_shortest_path(OPEN_3X3, grid(rows))


def test_checker_rejects_a_path_through_a_wall():
    maze = grid(["S# ", " # ", "  G"])
    assert mz.is_valid_shortest_path(maze, grid(["S# ", "o# ", "ooG"]))
    assert "changes a wall" in mz.path_problem(maze, grid(["So ", " o ", "  G"]))


def test_maze_without_goal_is_an_error():
    with pytest.raises(ValueError, match="0 cells marked goal G"):
        mz.solve_label(grid(["S  ", "   ", "   "]))


def test_all_8_dihedral_transforms_are_distinct_permutations():
    perms = mz.dihedral_perms(5)
    assert perms.shape == (8, 25)
    assert len({p.tobytes() for p in perms}) == 8
    assert all(sorted(p) == list(range(25)) for p in perms)


def test_unknown_character_is_named():
    with pytest.raises(ValueError, match="bad maze character 'x'"):
        mz.from_string("S  x   G ")


def test_count_shortest_paths_counts_every_route_of_shortest_length():
    flat = OPEN_3X3.reshape(-1)
    assert mz.count_shortest_paths((flat != mz.WALL).tolist(), 3, 0, 8) == 6  # 4 moves, choose 2 downs
    walled = grid(["S# ", " # ", "  G"]).reshape(-1)
    assert mz.count_shortest_paths((walled != mz.WALL).tolist(), 3, 0, 8) == 1
    assert mz.count_shortest_paths([True, False, False, True], 2, 0, 3) == 0  # unreachable


def test_perfect_maze_has_exactly_one_path_longer_than_the_minimum():
    rng = np.random.default_rng(0)
    for _ in range(5):
        maze, label, length = mz.generate_perfect_maze(9, 13, rng)
        flat = maze.reshape(-1)
        start, goal = int(np.flatnonzero(flat == mz.START)[0]), int(np.flatnonzero(flat == mz.GOAL)[0])
        assert length > 13
        assert mz.count_shortest_paths((flat != mz.WALL).tolist(), 9, start, goal) == 1
        assert (label == mz.PATH).sum() == length - 1
        assert mz.is_valid_shortest_path(maze, label)
        assert (maze[1::2, 1::2] == mz.WALL).all()  # pillars between rooms
        assert (maze[::2, ::2] != mz.WALL).all()  # every room is open


@pytest.mark.parametrize("construction", sorted(mz.CONSTRUCTIONS))
def test_perfect_maze_is_a_spanning_tree_of_its_rooms(construction):
    walls = mz.CONSTRUCTIONS[construction](11, np.random.default_rng(3))
    open_cells = int((~walls).sum())
    rooms = 6 * 6
    assert open_cells == rooms + (rooms - 1)  # a tree on 36 rooms has 35 doors
    dist = mz.bfs((~walls).reshape(-1).tolist(), 11, 0)
    assert all(d >= 0 for d, w in zip(dist, walls.reshape(-1)) if not w)  # all connected


def test_perfect_maze_needs_an_odd_size_and_is_reproducible():
    with pytest.raises(ValueError, match="odd size"):
        mz.generate_perfect_maze(10, 10, np.random.default_rng(0))
    a = mz.generate_perfect_maze(9, 13, np.random.default_rng(7))
    b = mz.generate_perfect_maze(9, 13, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_the_backtracker_draws_other_mazes_than_kruskal_with_longer_corridors():
    rng = np.random.default_rng(0)
    dead_ends = {}
    for construction, make in mz.CONSTRUCTIONS.items():
        ends = 0
        for _ in range(20):
            open_ = ~make(11, rng)
            padded = np.pad(open_, 1)
            degree = padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
            ends += int((open_ & (degree == 1)).sum())
        dead_ends[construction] = ends
    assert dead_ends["backtracker"] < 0.6 * dead_ends["kruskal"]  # fewer branches, so fewer dead ends
    maze, label, length = mz.generate_perfect_maze(11, 20, rng, construction="backtracker")
    assert length > 20 and mz.is_valid_shortest_path(maze, label)
