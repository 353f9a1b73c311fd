"""Checkers of lesson 07, mazes end to end: the shortest-path check."""
from __future__ import annotations

import numpy as np
import torch

from trm_lib.course.checks import run_cases, verdict
from trm_lib.data import maze as _mz


def _maze_cases(size: int = 8, count: int = 3, seed: int = 0) -> list[tuple[str, tuple]]:
    """Small mazes with right and wrong paths: our label, another shortest path, and broken ones."""
    OPEN, PATH, WALL = _mz.OPEN, _mz.PATH, _mz.WALL
    rng = np.random.default_rng(seed)
    cases = []
    for m in range(count):
        maze, label, _ = _mz.generate_maze(size, 2 * size - 4, rng)
        maze, label = maze.reshape(-1), label.reshape(-1)
        path = np.flatnonzero(label == PATH)
        cases.append((f"maze {m + 1} with our shortest path", (maze, label)))
        to_goal = _mz.bfs((maze != WALL).tolist(), size, int(np.flatnonzero(maze == _mz.GOAL)[0]))
        other = maze.copy()  # another shortest path: step to the LAST neighbour one move closer
        here = int(np.flatnonzero(maze == _mz.START)[0])
        while to_goal[here] > 1:
            here = [v for v in _mz.neighbours(size)[here] if to_goal[v] == to_goal[here] - 1][-1]
            other[here] = PATH
        if not np.array_equal(other, label):
            cases.append((f"maze {m + 1} with a different shortest path", (maze, other)))
        missing = label.copy()
        missing[path[len(path) // 2]] = OPEN
        cases.append((f"maze {m + 1} with one path cell missing", (maze, missing)))
        spare = [c for c in np.flatnonzero(maze == OPEN) if label[c] == OPEN]
        if spare:
            extra = label.copy()
            extra[spare[0]] = PATH
            cases.append((f"maze {m + 1} with one path cell too many", (maze, extra)))
            moved = missing.copy()
            moved[spare[0]] = PATH
            cases.append((f"maze {m + 1} with a path cell moved off the path", (maze, moved)))
        cases.append((f"maze {m + 1} with no path at all", (maze, maze.copy())))
        if m == 0:  # rule 1: the answer keeps every wall, S and G, and uses only the maze's tokens
            rule = "rule 1: walls, S and G stay as they are"
            erased = label.copy()
            erased[int(np.flatnonzero(maze == WALL)[0])] = OPEN
            cases.append((f"maze 1 with our path and a wall erased ({rule})", (maze, erased)))
            no_start = label.copy()
            no_start[int(np.flatnonzero(maze == _mz.START)[0])] = PATH
            cases.append((f"maze 1 with our path and S overwritten by a path cell ({rule})", (maze, no_start)))
            foreign = label.copy()
            foreign[int(np.flatnonzero(maze == WALL)[-1])] = 0
            cases.append((f"maze 1 with our path and a padding token 0 in place of a wall ({rule})", (maze, foreign)))
    return cases


def check_is_shortest_path(fn):
    """Lesson 07: is_shortest_path(maze, answer) -> True when answer marks a shortest S-G path."""
    def same(mine, expected) -> str | None:
        if isinstance(mine, torch.Tensor) and mine.numel() == 1:
            mine = mine.item()
        if not isinstance(mine, (bool, np.bool_)):
            return f"you returned a {type(mine).__name__}, expected True or False"
        return None if bool(mine) == expected else f"yours says {bool(mine)}, expected {expected}"

    result = run_cases(fn, _mz.is_valid_shortest_path, _maze_cases(), "is_shortest_path", same)
    return verdict(result, fn, _mz.is_valid_shortest_path)
