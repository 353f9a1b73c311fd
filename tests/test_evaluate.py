"""Evaluation metrics on hand-made cases: exact vs valid, per-step curves, halting."""
import numpy as np
import torch

from tests.conftest import tiny_config
from trm_lib.evaluate import evaluate, is_valid
from trm_lib.model import StepOutput
from trm_lib.data.puzzles import PuzzleSet, encode

SOLUTION_4 = "1234341221434321"
PUZZLE_4 = "1.3.3.1.2.4.4.2."


def tokens(text, task, size):
    return torch.as_tensor(encode([text], task, size)[0])


def test_a_correct_sudoku_is_valid_and_one_breaking_a_rule_is_not():
    q = tokens(PUZZLE_4, "sudoku", 4).numpy()
    assert is_valid("sudoku", q, tokens(SOLUTION_4, "sudoku", 4).numpy())
    broken = "2134341221434321"  # swap two cells of row 1: columns now repeat
    assert not is_valid("sudoku", q, tokens(broken, "sudoku", 4).numpy())
    assert not is_valid("sudoku", q, tokens("1." + SOLUTION_4[2:], "sudoku", 4).numpy())  # a blank left


MAZE = ("S   "
        "    "
        "  G "
        "####")
OUR_PATH = ("Soo "
            "  o "
            "  G "
            "####")
OTHER_SHORTEST = ("S   "
                  "o   "
                  "ooG "
                  "####")
TOO_LONG = ("Sooo"
            "   o"
            "  Go"
            "####")


def test_a_different_shortest_maze_path_is_valid_and_a_longer_one_is_not():
    m = tokens(MAZE, "maze", 4).numpy()
    assert is_valid("maze", m, tokens(OUR_PATH, "maze", 4).numpy())
    assert is_valid("maze", m, tokens(OTHER_SHORTEST, "maze", 4).numpy())
    assert not is_valid("maze", m, tokens(TOO_LONG, "maze", 4).numpy())


class ScriptedModel(torch.nn.Module):
    """Answers with a fixed token sequence per supervision step (and a fixed halting logit)."""

    def __init__(self, answers, q_halts, cfg):
        super().__init__()
        self.cfg = cfg
        self.answers, self.q_halts = answers, q_halts
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.k = 0

    def forward(self, inputs, y=None, z=None, puzzle_ids=None):
        if y is None:
            self.k = 0
        B = inputs.shape[0]
        ans = self.answers[self.k].expand(B, -1)
        logits = torch.nn.functional.one_hot(ans, self.cfg.vocab_size).float()
        q = torch.full((B,), self.q_halts[self.k])
        self.k += 1
        state = torch.zeros(B, 1, 1)
        return StepOutput(state, state, logits, q, q)


def test_evaluate_reports_exact_cell_valid_per_step_and_when_it_would_halt():
    m = tokens(MAZE, "maze", 4)
    answers = [m, tokens(OUR_PATH, "maze", 4), tokens(OTHER_SHORTEST, "maze", 4)]
    cfg = tiny_config(vocab_size=6, seq_len=16, n_sup=3)
    model = ScriptedModel(answers, [-1.0, 2.0, 3.0], cfg)
    puzzles = PuzzleSet("maze", 4, m[None], tokens(OUR_PATH, "maze", 4)[None], torch.zeros(1), ["t"])
    result = evaluate(model, puzzles, device=torch.device("cpu"))
    assert result.exact_per_step == [0.0, 1.0, 0.0]  # the last answer differs from our label...
    assert result.valid == 1.0  # ... but it is a valid shortest path
    assert result.exact == 0.0 and result.n_steps == 3
    assert np.isclose(result.cell_per_step[0], 13 / 16)  # only the 3 path cells are wrong
    assert result.halt_step_mean == 2.0  # first step with q_halt > 0
    assert torch.equal(result.predictions[0], answers[-1])


def test_halting_at_inference_keeps_the_answer_of_the_first_step_with_q_halt_above_0():
    m = tokens(MAZE, "maze", 4)
    wrong = tokens(TOO_LONG, "maze", 4)
    answers = [m, tokens(OUR_PATH, "maze", 4), wrong]  # right at step 2 only
    cfg = tiny_config(vocab_size=6, seq_len=16, n_sup=3)
    puzzles = PuzzleSet("maze", 4, m[None], tokens(OUR_PATH, "maze", 4)[None], torch.zeros(1), ["t"])
    halts_at_2 = evaluate(ScriptedModel(answers, [-1.0, 2.0, 3.0], cfg), puzzles, device=torch.device("cpu"))
    assert halts_at_2.exact == 0.0 and halts_at_2.valid == 0.0  # all steps: the answer was lost
    assert halts_at_2.exact_at_halt == 1.0 and halts_at_2.valid_at_halt == 1.0  # halting kept it
    never = evaluate(ScriptedModel(answers, [-1.0, -2.0, -3.0], cfg), puzzles, device=torch.device("cpu"))
    assert never.halt_step_mean == 3.0
    assert never.exact_at_halt == never.exact == 0.0  # no halt: the last answer stands


def test_evaluate_counts_ignored_cells_as_the_loss_does():
    from trm_lib.losses import IGNORE_INDEX, trm_loss

    m, path = tokens(MAZE, "maze", 4), tokens(OUR_PATH, "maze", 4)
    label = path.clone()
    label[1] = IGNORE_INDEX  # the model's first answer (the bare maze) is wrong only at cells 1, 2, 6
    label[2] = IGNORE_INDEX
    label[6] = IGNORE_INDEX
    cfg = tiny_config(vocab_size=6, seq_len=16, n_sup=1)
    puzzles = PuzzleSet("maze", 4, m[None], label[None], torch.zeros(1), ["t"])
    result = evaluate(ScriptedModel([m], [0.0], cfg), puzzles, device=torch.device("cpu"), check_validity=False)
    loss = trm_loss(torch.nn.functional.one_hot(m, 6).float()[None], label[None], torch.zeros(1))
    assert result.exact == 1.0 == loss.exact.float().item()
    assert result.cell == 1.0 == loss.cell_correct.item()  # 13 target cells, all right


def test_evaluate_leaves_the_model_in_its_own_mode_even_after_an_error(monkeypatch):
    import pytest

    import trm_lib.evaluate as evaluate_module
    from trm_lib.model import TRM

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory half way")

    model = TRM(tiny_config())
    fits = PuzzleSet("sudoku", 3, torch.ones(2, 9, dtype=torch.long), torch.ones(2, 9, dtype=torch.long),
                     torch.zeros(2), ["a", "b"])
    with monkeypatch.context() as patch:
        patch.setattr(evaluate_module, "iter_steps", broken)  # fails inside, after the switch to eval mode
        with pytest.raises(RuntimeError, match="out of memory half way"):
            evaluate(model, fits)
    assert model.training
    model.eval()
    evaluate(model, fits, check_validity=False)
    assert not model.training


def test_evaluate_gives_the_same_numbers_whatever_the_batch_size():
    m = tokens(MAZE, "maze", 4)
    answers = [m, tokens(OUR_PATH, "maze", 4), tokens(OTHER_SHORTEST, "maze", 4)]
    labels = torch.stack([tokens(t, "maze", 4) for t in (OUR_PATH, OTHER_SHORTEST, TOO_LONG, OUR_PATH, OTHER_SHORTEST)])
    puzzles = PuzzleSet("maze", 4, m.expand(5, -1).clone(), labels, torch.zeros(5), list("abcde"))
    cfg = tiny_config(vocab_size=6, seq_len=16, n_sup=3)
    results = [evaluate(ScriptedModel(answers, [-1.0, 2.0, 3.0], cfg), puzzles, batch_size=b,
                        device=torch.device("cpu"), valid_per_step=True) for b in (1, 2, 5)]
    assert results[0].exact_per_step == [0.0, 2 / 5, 2 / 5]  # counts / puzzles
    assert results[0].valid_per_step == [0.0, 1.0, 1.0]  # the bare maze is no path; both others are shortest
    for other in results[1:]:
        assert other.summary() == results[0].summary()
        assert torch.equal(other.predictions, results[0].predictions)


def test_evaluate_refuses_a_step_count_or_batch_size_below_1_by_name():
    import pytest

    cfg = tiny_config(vocab_size=6, seq_len=16, n_sup=1)
    m = tokens(MAZE, "maze", 4)
    puzzles = PuzzleSet("maze", 4, m[None], m[None], torch.zeros(1), ["t"])
    model = ScriptedModel([m], [0.0], cfg)
    with pytest.raises(ValueError, match="supervision steps must be at least 1, got 0"):
        evaluate(model, puzzles, n_steps=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        evaluate(model, puzzles, batch_size=0)
