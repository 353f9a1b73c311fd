"""Checkers of lesson 06, Sudoku end to end: the cells that changed, a configured run."""
from __future__ import annotations

import torch

from trm_lib.checkpoint import _flatten
from trm_lib.course.checks import run_cases, run_check, verdict
from trm_lib.config import Config
from trm_lib.presets import get_preset


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
    result = run_cases(fn, _configure_reference, cases, "configure", _same_config)
    return verdict(result, fn, _configure_reference)
