"""Checkers of lessons 06 and 07: the cells that changed, a configured run, the shortest-path check."""
from __future__ import annotations

import numpy as np
import torch

from trm_lib.data import maze as _mz
from trm_lib.checkpoint import _flatten
from trm_lib.course.checks import CheckResult, failed, not_attempted, raised, run_check, verdict
from trm_lib.config import Config, get_preset


# lesson 06: Sudoku end to end


def _changes_inputs(g: torch.Generator) -> tuple:
    """Answers after 6 steps of 36 cells; each step rewrites a few random cells."""
    answers = [torch.randint(2, 8, (36,), generator=g)]
    for _ in range(5):
        step = answers[-1].clone()
        cells = torch.rand(36, generator=g) < 0.2
        step[cells] = torch.randint(2, 8, (36,), generator=g)[cells]
        answers.append(step)
    return (torch.stack(answers),)


def check_changes_per_step(fn):
    """Lesson 06: (K, S) answers -> (K, S) bool, the cells that differ from the step before."""
    from trm_lib.viz.watch import changes_per_step

    return verdict(run_check(fn, changes_per_step, _changes_inputs, name="changes_per_step", grad=False),
                   fn, changes_per_step)


def _configure_reference(preset: str, max_steps: int, eval_every: int):
    return get_preset(preset).with_overrides({"train.max_steps": max_steps, "train.eval_every": eval_every})


def _run_cases(fn, reference, cases: list[tuple[str, tuple]], name: str, same) -> CheckResult:
    """Call `fn` and `reference` on each (description, args); `same(a, b)` returns None or a difference."""
    for label, args in cases:
        try:
            mine = fn(*args)
        except NotImplementedError:
            return not_attempted(name)
        except Exception as err:
            return raised(name, err, on=label)
        problem = same(mine, reference(*args))
        if problem is not None:
            return failed(name, f"on {label}, {problem}")
    return CheckResult(True, True, f"✓ {name} matches the reference on {len(cases)} cases")


def _same_config(mine, expected) -> str | None:
    if not isinstance(mine, Config):
        return f"you returned a {type(mine).__name__}, expected a Config (get_preset(...) gives one)"
    a, b = _flatten(mine.to_dict()), _flatten(expected.to_dict())
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f"{key} is {a.get(key)!r}, expected {b.get(key)!r}"
    return None


def check_configure(fn):
    """Lesson 06: configure(preset, max_steps, eval_every) -> the preset with those two changed."""
    cases = [(f"configure{args}", args) for args in
             (("sudoku6-cpu", 1000, 100), ("sudoku4-cpu", 300, 50), ("sudoku-extreme-mlp", 65000, 5000))]
    result = _run_cases(fn, _configure_reference, cases, "configure", _same_config)
    return verdict(result, fn, _configure_reference)


# lesson 07: mazes end to end


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
    return cases


def check_is_shortest_path(fn):
    """Lesson 07: is_shortest_path(maze, answer) -> True when answer marks a shortest S-G path."""
    def same(mine, expected) -> str | None:
        if isinstance(mine, torch.Tensor) and mine.numel() == 1:
            mine = mine.item()
        if not isinstance(mine, (bool, np.bool_)):
            return f"you returned a {type(mine).__name__}, expected True or False"
        return None if bool(mine) == expected else f"yours says {bool(mine)}, expected {expected}"

    result = _run_cases(fn, _mz.is_valid_shortest_path, _maze_cases(), "is_shortest_path", same)
    return verdict(result, fn, _mz.is_valid_shortest_path)
