"""Lesson 08 checkers: the test-time scaling loop, the linear probe and the map-back vote, right and wrong."""
import pytest
import torch

from trm_lib.course.exercises import (check_exact_per_step, check_fit_probe, check_wide_answer,
                                      reference_exact_per_step, reference_wide_answer)
from trm_lib.experiments.probe import fit_probe


@torch.no_grad()
def restarting_each_step(model, inputs, labels, n_steps):  # forgets to carry y and z
    return torch.stack([(model(inputs).logits.argmax(-1) == labels).all(-1).float().mean()
                        for _ in range(n_steps)])


@torch.no_grad()
def cell_accuracy(model, inputs, labels, n_steps):  # counts cells, not whole grids
    y = z = None
    accs = []
    for _ in range(n_steps):
        out = model(inputs, y, z)
        y, z = out.y, out.z
        accs.append((out.logits.argmax(-1) == labels).float().mean())
    return torch.stack(accs)


def not_attempted(*args):
    raise NotImplementedError


def test_the_reference_loop_passes_and_a_list_of_numbers_is_accepted(capsys):
    def as_list(*args):
        return reference_exact_per_step(*args).tolist()

    assert check_exact_per_step(reference_exact_per_step) is reference_exact_per_step
    assert check_exact_per_step(as_list) is as_list
    assert capsys.readouterr().out.count("✓ exact_per_step matches the reference") == 2


def test_restarting_from_the_initial_state_every_step_is_caught(capsys):
    assert check_exact_per_step(restarting_each_step) is reference_exact_per_step
    out = capsys.readouterr().out
    assert "✗ exact_per_step" in out and "values differ: max difference" in out
    assert "start from the last one's y and z" in out


def test_cell_accuracy_instead_of_exact_is_caught(capsys):
    assert check_exact_per_step(cell_accuracy) is reference_exact_per_step
    assert "values differ" in capsys.readouterr().out


def test_too_few_steps_names_both_shapes(capsys):
    def one_short(model, inputs, labels, n_steps):
        return reference_exact_per_step(model, inputs, labels, n_steps - 1)

    check_exact_per_step(one_short)
    assert "shape: yours (9,), expected (10,)" in capsys.readouterr().out


def test_unattempted_exercises_say_so_and_hand_back_the_reference(capsys):
    assert check_exact_per_step(not_attempted) is reference_exact_per_step
    assert check_fit_probe(not_attempted) is fit_probe
    out = capsys.readouterr().out
    assert "exact_per_step: not attempted yet, using the reference" in out
    assert "fit_probe: not attempted yet, using the reference" in out


def test_the_reference_probe_passes(capsys):
    assert check_fit_probe(fit_probe) is fit_probe
    assert "✓ fit_probe matches the reference on 3 random inputs" in capsys.readouterr().out


def test_a_probe_without_the_bias_column_gets_a_hint(capsys):
    def no_bias(features, digits, num_classes, ridge):
        Y = torch.nn.functional.one_hot(digits, num_classes).float()
        return torch.linalg.solve(features.T @ features + ridge * torch.eye(features.shape[1]), features.T @ Y)

    check_fit_probe(no_bias)
    out = capsys.readouterr().out
    assert "shape: yours (6, 4), expected (7, 4)" in out and "column of ones" in out


def test_a_probe_without_the_ridge_term_differs_in_values(capsys):
    def no_ridge(features, digits, num_classes, ridge):
        return fit_probe(features, digits, num_classes, 0.0)

    check_fit_probe(no_ridge)
    assert "✗ fit_probe: output values differ: max difference" in capsys.readouterr().out


def test_a_probe_that_raises_gives_one_line(capsys):
    def mixes_shapes(features, digits, num_classes, ridge):
        return features @ torch.nn.functional.one_hot(digits, num_classes).float()

    check_fit_probe(mixes_shapes)
    out = capsys.readouterr().out.strip()
    assert out.startswith("✗ fit_probe raised RuntimeError") and "\n" not in out and "Traceback" not in out


# -- thinking wider: map back and vote ----------------------------------------------------------
def _undo(answers, index, token_map):
    return torch.empty_like(answers).scatter_(1, index, token_map.argsort(1).gather(1, answers))


def _plain_vote(back, q_halt, tie):
    groups = {}
    for k, a in enumerate(back):
        groups.setdefault(tuple(a.tolist()), []).append(k)
    best = max(groups.items(), key=lambda kv: (len(kv[1]), tie(q_halt[kv[1]]), -kv[1][0]))
    return torch.tensor(best[0])


def right_wide(answers, index, token_map, q_halt):
    return _plain_vote(_undo(answers, index, token_map), q_halt, lambda q: torch.sigmoid(q).mean().item())


def gather_instead_of_scatter(answers, index, token_map, q_halt):
    back = token_map.argsort(1).gather(1, answers).gather(1, index)
    return _plain_vote(back, q_halt, lambda q: torch.sigmoid(q).mean().item())


def digits_not_undone(answers, index, token_map, q_halt):
    back = torch.empty_like(answers).scatter_(1, index, answers)
    return _plain_vote(back, q_halt, lambda q: torch.sigmoid(q).mean().item())


def digits_forward_again(answers, index, token_map, q_halt):
    back = torch.empty_like(answers).scatter_(1, index, token_map.gather(1, answers))
    return _plain_vote(back, q_halt, lambda q: torch.sigmoid(q).mean().item())


def ties_by_highest_q(answers, index, token_map, q_halt):
    return _plain_vote(_undo(answers, index, token_map), q_halt, lambda q: q.max().item())


def ties_by_first_copy(answers, index, token_map, q_halt):
    return _plain_vote(_undo(answers, index, token_map), q_halt, lambda q: 0.0)


def highest_q_no_vote(answers, index, token_map, q_halt):
    return _undo(answers, index, token_map)[q_halt.argmax()]


def test_a_right_map_back_and_vote_passes(capsys):
    assert check_wide_answer(right_wide) is right_wide
    assert "✓ wide_answer" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, hint", [
    (gather_instead_of_scatter, "gather instead of scatter"),
    (digits_not_undone, "digits are still relabelled"),
    (digits_forward_again, "relabelled forward again"),
    (ties_by_highest_q, "higher MEAN sigmoid(q_halt)"),
    (ties_by_first_copy, "higher MEAN sigmoid(q_halt)"),
    (highest_q_no_vote, "count identical answers"),
])
def test_each_map_back_or_vote_mistake_gets_its_own_hint(mistake, hint, capsys):
    assert check_wide_answer(mistake) is reference_wide_answer
    out = capsys.readouterr().out
    assert "✗ wide_answer" in out and hint in out, out


def test_an_unattempted_wide_answer_falls_back_to_the_reference(capsys):
    assert check_wide_answer(not_attempted) is reference_wide_answer
    assert "not attempted yet" in capsys.readouterr().out
