"""Lesson 07's checker: a maze path is judged by the rules, not by our label."""
import numpy as np

from trm_lib.course.exercises import check_is_shortest_path
from trm_lib.data.maze import PATH, is_valid_shortest_path


def test_the_reference_path_check_passes(capsys):
    assert check_is_shortest_path(is_valid_shortest_path) is is_valid_shortest_path
    assert "✓ is_shortest_path matches the reference on" in capsys.readouterr().out


def test_comparing_with_our_label_fails_on_another_shortest_path(capsys):
    from trm_lib.data.maze import solve_label

    def same_as_label(maze, answer):
        return bool(np.array_equal(solve_label(maze), answer))

    assert check_is_shortest_path(same_as_label) is is_valid_shortest_path
    assert "a different shortest path, yours says False, expected True" in capsys.readouterr().out


def test_counting_path_cells_only_fails_on_a_disconnected_path(capsys):
    from trm_lib.data.maze import WALL, bfs

    def counts_only(maze, answer):
        m = np.asarray(maze).reshape(-1)
        size = int(round(m.size ** 0.5))
        start, goal = int(np.flatnonzero(m == 3)[0]), int(np.flatnonzero(m == 4)[0])
        return int((np.asarray(answer) == PATH).sum()) == bfs((m != WALL).tolist(), size, start)[goal] - 1

    check_is_shortest_path(counts_only)
    assert "a path cell moved off the path, yours says True, expected False" in capsys.readouterr().out


def test_a_path_check_that_returns_an_array_says_a_bool_is_expected(capsys):
    check_is_shortest_path(lambda maze, answer: np.asarray(answer) == PATH)
    assert "you returned a ndarray, expected True or False" in capsys.readouterr().out


def test_an_unwritten_path_check_is_not_attempted(capsys):
    def stub(maze, answer):
        raise NotImplementedError

    assert check_is_shortest_path(stub) is is_valid_shortest_path
    assert "is_shortest_path: not attempted yet, using the reference" in capsys.readouterr().out


def test_a_path_check_that_raises_names_the_case_in_one_line(capsys):
    check_is_shortest_path(lambda maze, answer: maze[99, 99])
    out = capsys.readouterr().out
    assert "raised IndexError on maze 1 with our shortest path" in out and out.count("\n") == 1
