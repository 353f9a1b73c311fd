"""Checkers of lesson 08, beyond the paper: the test-time scaling loop and the linear probe."""
from __future__ import annotations

import torch

from trm_lib.act import evaluate_steps
from trm_lib.ensemble import undo, vote_answers
from trm_lib.losses import exact_match
from trm_lib.course.checks import CheckResult, failed, raised, run_check, verdict


def reference_exact_per_step(model, inputs: torch.Tensor, labels: torch.Tensor, n_steps: int) -> torch.Tensor:
    """(n_steps,) exact accuracy after each supervision step, every step run from the last one's (y, z)."""

    outs = evaluate_steps(model, inputs, n_steps)
    return torch.stack([exact_match(o.logits, labels).float().mean() for o in outs])


def _as_float_tensor(fn):
    """The learner may return a list of numbers or of 0-d tensors: compare it as a float tensor."""
    def wrapped(*args):
        out = fn(*args)
        if isinstance(out, (list, tuple)) and all(isinstance(v, (int, float, torch.Tensor)) for v in out):
            out = torch.tensor([float(v) for v in out])
        return out.float() if isinstance(out, torch.Tensor) else out
    return wrapped


def check_exact_per_step(fn, n_steps: int = 10, puzzles_per_trial: int = 16):
    """Lesson 08: exact_per_step(model, inputs, labels, n_steps) -> (n_steps,) accuracies, checked on
    the shipped 6x6 model and test puzzles, with more steps than it trained with."""
    from trm_lib.data.paths import dataset_files
    from trm_lib.pretrained import load_pretrained
    from trm_lib.data.puzzles import load_puzzles

    model, _ = load_pretrained("sudoku6-cpu")
    test = load_puzzles(dataset_files("sudoku-6x6")[1])

    def inputs(g: torch.Generator) -> tuple:
        idx = torch.randperm(len(test), generator=g)[:puzzles_per_trial]
        return model, test.inputs[idx], test.labels[idx], n_steps

    result = run_check(_as_float_tensor(fn), reference_exact_per_step, inputs, "exact_per_step", trials=2, grad=False)
    if not result.passed and result.attempted and "values differ" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "(trial", "(index k is the accuracy after step k + 1; does each step start from the last "
                      "one's y and z, and count a puzzle only when every cell is right?) (trial"))
    return verdict(result, fn, reference_exact_per_step)


def _probe_inputs(g: torch.Generator) -> tuple:
    digits = torch.randint(0, 4, (120,), generator=g)
    features = torch.randn(120, 6, generator=g) + torch.randn(4, 6, generator=g)[digits]  # a cloud per digit
    return features, digits, 4, 5.0


def check_fit_probe(fn):
    """Lesson 08: fit_probe(features (N, D), digits (N,), num_classes, ridge) -> W (D + 1, C)."""
    from trm_lib.experiments.probe import fit_probe

    result = run_check(fn, fit_probe, _probe_inputs, "fit_probe", trials=3, grad=False)
    if not result.passed and result.attempted and "shape: yours (6, 4)" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using", "; did you append the column of ones (the bias) to the features?; using"))
    return verdict(result, fn, fit_probe)


# -- thinking wider: map the copies' answers back, then vote -----------------------------------
def reference_wide_answer(answers: torch.Tensor, index: torch.Tensor, token_map: torch.Tensor,
                          q_halt: torch.Tensor) -> torch.Tensor:
    """One puzzle's K copies -> one answer (S,) in the puzzle's own frame.

    answers (K, S): copy k's answer in its own frame, where copy cell j holds token_map[k][original
    cell index[k, j]]; q_halt (K,). Undo the relabelling, put every cell back where it came from,
    then take the answer most copies gave, ties by the higher mean sigmoid(q_halt)."""
    return _vote_plain(undo(answers, index, token_map), q_halt)


def _wide_cases() -> list[tuple[str, tuple, torch.Tensor]]:
    """(label, (answers, index, token_map, q_halt), the right pick), on 9x9 Sudoku symmetries."""
    from trm_lib.data.augment import sudoku_transforms

    g = torch.Generator().manual_seed(8)
    cases = []
    for label, votes, q in (("a clear majority", [0, 0, 0, 1, 2], [-2.0, -2.0, -2.0, 5.0, 5.0]),
                            ("a tie between two answers", [0, 1, 0, 1, 2, 3], [-3.0, 2.0, 1.0, 0.0, 0.0, 0.0]),
                            ("a tie the highest q_halt alone would break wrongly", [0, 1, 0, 1], [3.0, 1.0, -3.0, 0.5])):
        K = len(votes)
        candidates = torch.randint(2, 11, (4, 81), generator=g)  # 4 different answers in the puzzle's frame
        original = candidates[votes]  # (K, 81): copy k's answer, before it is transformed
        index, token_map = sudoku_transforms(K, 9, g)
        answers = token_map.gather(1, original.gather(1, index))  # what the copies said, in their frames
        expected = reference_wide_answer(answers, index, token_map, torch.tensor(q))
        cases.append((label, (answers, index, token_map, torch.tensor(q)), expected))
    return cases


def check_wide_answer(fn):
    """Lesson 08: wide_answer(answers, index, token_map, q_halt) -> the picked answer (S,)."""
    name = "wide_answer"
    for label, args, expected in _wide_cases():
        try:
            mine = fn(*(a.clone() for a in args))
        except NotImplementedError:
            return verdict(CheckResult(False, False, f"{name}: not attempted yet, using the reference"),
                           fn, reference_wide_answer)
        except Exception as err:
            return verdict(raised(name, err, on=label), fn, reference_wide_answer)
        mine = torch.as_tensor(mine)
        if mine.shape == expected.shape and torch.equal(mine.long(), expected):
            continue
        return verdict(failed(name, f"on {label}, {_wide_hint(mine, *args, expected)}"), fn, reference_wide_answer)
    return verdict(CheckResult(True, True, f"✓ {name} maps every copy back and picks the reference's answer "
                                           f"(majorities and ties)"), fn, reference_wide_answer)


def _wide_hint(mine: torch.Tensor, answers, index, token_map, q_halt, expected) -> str:
    if mine.shape != expected.shape:
        return f"the answer has shape {tuple(mine.shape)}, expected {tuple(expected.shape)}: one grid of S cells"
    inverse = token_map.argsort(1)
    forms = {
        "cells put back with gather instead of scatter: copy cell j came FROM original cell index[j], so "
        "write it back there (answer.scatter(0, index[k], ...))": inverse.gather(1, answers).gather(1, index),
        "the digits are still relabelled: undo token_map with its inverse (token_map.argsort()) before voting":
            torch.empty_like(answers).scatter_(1, index, answers),
        "the digits were relabelled forward again: the inverse map is token_map.argsort(), not token_map":
            torch.empty_like(answers).scatter_(1, index, token_map.gather(1, answers)),
    }
    for problem, back in forms.items():
        if torch.equal(mine.long(), _vote_plain(back, q_halt)):
            return problem
    back = undo(answers, index, token_map)
    if any(torch.equal(mine.long(), b) for b in back):
        return ("the answer is one of the copies' answers mapped back, but not the one the vote picks: count "
                "identical answers; on a tie, take the answer whose copies have the higher MEAN sigmoid(q_halt)")
    return "the answer is none of the copies' answers mapped back"


def _vote_plain(back: torch.Tensor, q_halt: torch.Tensor) -> torch.Tensor:
    """(S,): the vote of one puzzle's K answers (K, S), already in the puzzle's frame."""
    return vote_answers(back[None], q_halt[None].float())[0]
