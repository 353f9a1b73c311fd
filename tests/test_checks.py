"""Exercise checkers: they say exactly what differs, never show a traceback, and fall back kindly."""
import torch

from trm_lib.course.checks import run_check, verdict
from trm_lib.layers import rms_norm


def inputs(g):
    return (torch.randn(2, 5, 8, generator=g),)


def test_a_correct_answer_passes_and_is_used():
    def mine(h):
        return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)

    assert run_check(mine, rms_norm, inputs, "rms_norm").passed
    assert verdict(run_check(mine, rms_norm, inputs, "rms_norm"), mine, rms_norm) is mine


def test_an_unattempted_exercise_says_so_and_hands_back_the_reference(capsys):
    def mine(h):
        raise NotImplementedError

    assert verdict(run_check(mine, rms_norm, inputs, "rms_norm"), mine, rms_norm) is rms_norm
    assert "rms_norm: not attempted yet, using the reference" in capsys.readouterr().out


def test_a_shape_mistake_names_both_shapes():
    result = run_check(lambda h: h.mean(-1), rms_norm, inputs, "rms_norm")
    assert not result.passed and "shape: yours (2, 5), expected (2, 5, 8)" in result.message


def test_a_value_mistake_gives_the_largest_difference_and_where():
    def mine(h):  # forgot the epsilon and normalised over the wrong axis
        return h / h.pow(2).mean(-2, keepdim=True).sqrt()

    result = run_check(mine, rms_norm, inputs, "rms_norm")
    assert not result.passed and "values differ: max difference" in result.message and "at index" in result.message


def test_a_detached_output_is_caught_by_the_gradient_check():
    def mine(h):
        return rms_norm(h).detach()

    result = run_check(mine, rms_norm, inputs, "rms_norm")
    assert not result.passed and "does not carry gradients" in result.message


def test_an_exception_in_the_learners_code_is_one_line_with_the_line_that_raised():
    def mine(h):
        return h @ torch.ones(3, 3)  # a shape bug inside the learner's code

    result = run_check(mine, rms_norm, inputs, "rms_norm")
    assert not result.passed and result.message.startswith("✗ rms_norm raised RuntimeError")
    assert "h @ torch.ones(3, 3)" in result.message and "Traceback" not in result.message
