"""Lesson 06's checkers: the reference passes, typical mistakes are named, a stub is 'not attempted'."""
import torch

from trm_lib.presets import get_preset
from trm_lib.course.exercises import check_changes_per_step, check_configure
from trm_lib.viz.watch import changes_per_step


def stub(*args):
    raise NotImplementedError("exercise: write this part, then run the check below")


def test_the_reference_changes_per_step_passes(capsys):
    assert check_changes_per_step(changes_per_step) is changes_per_step
    assert "✓ changes_per_step matches" in capsys.readouterr().out


def test_changes_compared_with_the_next_step_instead_of_the_one_before_fail_with_the_values(capsys):
    def shifted(answers):
        return torch.cat([answers[:-1] != answers[1:], torch.zeros_like(answers[:1], dtype=torch.bool)])

    assert check_changes_per_step(shifted) is changes_per_step
    out = capsys.readouterr().out
    assert "✗ changes_per_step" in out and "values differ" in out and "max difference" in out


def test_changes_without_the_first_step_fail_with_the_shape(capsys):
    check_changes_per_step(lambda answers: answers[1:] != answers[:-1])
    assert "shape: yours (5, 36), expected (6, 36)" in capsys.readouterr().out


def test_an_unwritten_changes_per_step_is_not_attempted(capsys):
    assert check_changes_per_step(stub) is changes_per_step
    assert "changes_per_step: not attempted yet, using the reference" in capsys.readouterr().out


def test_a_changes_per_step_that_raises_gives_one_line(capsys):
    check_changes_per_step(lambda answers: answers.no_such_method())
    out = capsys.readouterr().out
    assert "raised AttributeError" in out and "Traceback" not in out and out.count("\n") == 1


def configure(preset, max_steps, eval_every):
    return get_preset(preset).with_overrides({"train.max_steps": max_steps, "train.eval_every": eval_every})


def test_the_reference_configure_passes(capsys):
    assert check_configure(configure) is configure
    assert "✓ configure matches the reference on 3 cases" in capsys.readouterr().out


def test_a_configure_that_forgets_eval_every_names_the_field(capsys):
    fallback = check_configure(lambda preset, max_steps, eval_every:
                               get_preset(preset).with_overrides({"train.max_steps": max_steps}))
    out = capsys.readouterr().out
    assert fallback is not configure and "train.eval_every is 250, expected 100" in out


def test_a_configure_with_a_misspelt_field_gives_the_config_message(capsys):
    check_configure(lambda preset, max_steps, eval_every: get_preset(preset).with_overrides([f"train.max_step={max_steps}"]))
    out = capsys.readouterr().out
    assert "raised ValueError" in out and "train has no field 'max_step'" in out and "Traceback" not in out


def test_a_configure_that_returns_a_dict_says_a_config_is_expected(capsys):
    check_configure(lambda preset, max_steps, eval_every: {"preset": preset})
    assert "you returned a dict, expected a Config" in capsys.readouterr().out


def test_an_unwritten_configure_is_not_attempted_and_the_reference_works(capsys):
    cfg = check_configure(stub)("sudoku6-cpu", 10, 5)
    assert "configure: not attempted yet, using the reference" in capsys.readouterr().out
    assert (cfg.train.max_steps, cfg.train.eval_every) == (10, 5)
