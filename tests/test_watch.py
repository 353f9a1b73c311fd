"""Watching TRM think: the trace of one puzzle, typed puzzles, pictures, widgets, the live plot."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.presets import get_preset
from trm_lib.viz.live_plot import LivePlot
from trm_lib.model import TRM
from trm_lib.data.text import parse_puzzle
from trm_lib.train import train
from trm_lib.viz.watch import (Trace, changes_per_step, describe_step, pick_steps, plot_step, plot_trace,
                           slowest_solved, trace_puzzle, trace_text)
from trm_lib.viz.widgets import PuzzleSolver, StepViewer

PUZZLE = "..2.2.1..3......"  # 4x4, unique solution 3124 2413 1342 4231


@pytest.fixture(scope="module")
def model_and_cfg():
    cfg = tiny_cfg()
    torch.manual_seed(0)
    return TRM(cfg.model).eval(), cfg


def test_changes_per_step_marks_cells_that_differ_from_the_step_before_and_none_at_step_one():
    answers = torch.tensor([[2, 3, 4], [2, 5, 4], [2, 5, 4], [3, 5, 2]])
    assert changes_per_step(answers).tolist() == [[False] * 3, [False, True, False], [False] * 3, [True, False, True]]


def test_a_trace_keeps_every_steps_answer_and_halting_probability(model_and_cfg):
    model, cfg = model_and_cfg
    data = tiny_sudoku_set(2)
    trace = trace_puzzle(model, "sudoku", data.inputs[0], data.labels[0], n_steps=5)
    assert trace.answers.shape == (5, 16) and trace.halt_prob.shape == (5,)
    assert ((trace.halt_prob > 0) & (trace.halt_prob < 1)).all() and trace.size == 4
    assert trace.wrong(5).dtype == torch.bool and trace.changed.shape == (5, 16)


def test_a_valid_answer_has_no_wrong_cells_even_where_it_differs_from_the_label():
    question = torch.tensor([1] * 16)  # an empty 4x4: many solutions
    answer = torch.tensor([2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 2])
    other = torch.tensor([3, 2, 4, 5, 4, 5, 3, 2, 2, 3, 5, 4, 5, 4, 2, 3])
    trace = Trace("sudoku", question, answer[None], torch.tensor([0.9]), label=other)
    assert trace.solved(1) and not trace.wrong(1).any() and trace.solved_at() == 1


def test_solved_at_is_the_step_from_which_every_answer_is_valid():
    question = torch.tensor([1] * 16)
    good = torch.tensor([2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 2])
    bad = good.clone()
    bad[0] = 3
    trace = Trace("sudoku", question, torch.stack([good, bad, good, good]), torch.zeros(4))
    assert trace.solved_at() == 3
    assert Trace("sudoku", question, torch.stack([good, bad]), torch.zeros(2)).solved_at() is None


def test_a_typed_puzzle_is_parsed_solved_for_its_label_and_traced(model_and_cfg):
    model, cfg = model_and_cfg
    trace = trace_text(model, cfg, "..2.\n2.1.\n.3..\n....\n", n_steps=3)
    assert trace.n_steps == 3
    assert trace.label.tolist() == [4, 2, 3, 5, 3, 5, 2, 4, 2, 4, 5, 3, 5, 3, 4, 2]


@pytest.mark.parametrize("text, message", [
    ("1.3.3.1.2.4.4.2", "has 15 characters"),
    ("1.3.3.1.2.4.4.2x", "character 'x' at row 4, column 4"),
    ("11..............", "the givens clash: digit 1 repeated in row 1"),
    ("12........3...4.", "this Sudoku has no solution"),
])
def test_a_typed_puzzle_that_cannot_be_solved_says_why(model_and_cfg, text, message):
    model, cfg = model_and_cfg
    with pytest.raises(ValueError, match=message):
        trace_text(model, cfg, text)


def test_a_maze_may_be_typed_one_row_per_line_and_bad_rows_are_named():
    rows = ["S  #", " # #", " #  ", "   G"]
    assert parse_puzzle("\n".join(rows), "maze", 4).shape == (1, 16)
    with pytest.raises(ValueError, match="row 2 of the maze has 2 characters, expected 4"):
        parse_puzzle("\n".join([rows[0], " #", *rows[2:]]), "maze", 4)
    with pytest.raises(ValueError, match="exactly one 'G'"):
        parse_puzzle("S  # # # #      ", "maze", 4)


def test_an_unreachable_goal_is_a_clear_error():
    cfg = get_preset("maze-small-cpu").with_overrides({"model.hidden_size": 16, "model.num_heads": 2})
    model = TRM(cfg.model).eval()
    n = cfg.grid_size
    rows = ["S" + " " * (n - 1), "#" * n] + [" " * n] * (n - 3) + [" " * (n - 1) + "G"]
    with pytest.raises(ValueError, match="G cannot be reached from S"):
        trace_text(model, cfg, "\n".join(rows), n_steps=1)


def test_maze_traces_draw_with_changes_and_mistakes_marked():
    n = 4
    question = torch.tensor([3, 2, 2, 1, 2, 1, 2, 1, 2, 1, 2, 2, 2, 2, 2, 4])
    label = torch.tensor([3, 2, 2, 1, 5, 1, 2, 1, 5, 1, 2, 2, 5, 5, 5, 4])
    first = question.clone()
    first[1] = 5
    trace = Trace("maze", question, torch.stack([first, label]), torch.tensor([0.1, 0.8]), label)
    assert trace.wrong(1).sum() == 6 and not trace.solved(1) and trace.solved(2)
    fig = plot_trace(trace)
    assert len(fig.axes) == 3 and pick_steps(trace) == [1, 2]
    assert describe_step(trace, 2).startswith("step 2 of 2, 6 cells changed, 0 wrong")
    step_fig = plot_step(trace, 2)
    assert "a valid shortest path" in step_fig.texts[0].get_text() and n == trace.size


def test_pick_steps_keeps_first_last_and_a_few_that_changed():
    answers = torch.arange(10).repeat_interleave(16).reshape(10, 16)  # every step changes everything
    trace = Trace("sudoku", torch.ones(16, dtype=torch.long), answers, torch.zeros(10))
    assert pick_steps(trace, panels=4) == [1, 4, 7, 10]


def test_the_step_viewer_draws_the_step_the_slider_points_at(model_and_cfg):
    model, cfg = model_and_cfg
    trace = trace_text(model, cfg, PUZZLE, n_steps=4)
    viewer = StepViewer(trace)
    assert viewer.step == 1 and viewer.slider.max == 4 and len(viewer.out.outputs) == 1
    viewer.slider.value = 3
    assert viewer.step == 3 and "image/png" in viewer.out.outputs[0]["data"]


def test_halted_at_is_the_first_step_with_halting_probability_above_one_half():
    question = torch.tensor([1] * 16)
    good = torch.tensor([2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 2])
    trace = Trace("sudoku", question, good.expand(4, -1), torch.tensor([0.2, 0.7, 0.4, 0.9]))
    assert trace.halted_at() == 2
    assert Trace("sudoku", question, good.expand(2, -1), torch.tensor([0.5, 0.1])).halted_at() is None


def test_the_solver_box_says_where_the_model_halts(model_and_cfg):
    model, cfg = model_and_cfg
    box = PuzzleSolver(model, cfg, n_steps=3)
    box.solve(PUZZLE)  # an untrained model: q_halt starts far below 0
    assert box.status.endswith("The model never halts (halting probability at most 0.5).")


def test_the_solver_box_shows_bad_input_as_a_message_not_a_traceback(model_and_cfg):
    model, cfg = model_and_cfg
    box = PuzzleSolver(model, cfg, n_steps=3)
    assert box.solve("11..............") is None
    assert "Cannot solve this puzzle: the givens clash" in box.message.value
    assert box.status == "Cannot solve this puzzle: the givens clash: digit 1 repeated in row 1; digit 1 repeated in box 1."
    assert box.viewer.widget.layout.display == "none"
    box.text.value = PUZZLE
    box.button.click()
    assert box.trace is not None and box.trace.n_steps == 3 and box.viewer.step == 1
    assert box.viewer.widget.layout.display is None and "step" in box.message.value


def test_the_solver_box_catches_unexpected_errors_too(model_and_cfg, monkeypatch):
    model, cfg = model_and_cfg
    box = PuzzleSolver(model, cfg)

    def broken(*args):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("trm_lib.viz.widgets.trace_text", broken)
    assert box.solve(PUZZLE) is None
    assert "Something went wrong (RuntimeError: out of memory)" in box.message.value


def test_the_live_plot_collects_every_record_that_train_logs():
    data = tiny_sudoku_set(16)
    live = LivePlot("tiny", every_s=0.0)
    result = train(tiny_cfg(max_steps=4, eval_every=2), data, data, progress=False, log_every=1,
                   device="cpu", on_record=live)
    live.finish()
    assert live.history == result.history and live.draws == len(result.history) + 1
    assert sum("eval" in r for r in live.history) == 2


def test_one_changed_cell_is_singular():
    question = torch.tensor([3, 2, 2, 4])
    first, label = torch.tensor([3, 5, 2, 4]), torch.tensor([3, 2, 2, 4])
    trace = Trace("maze", question, torch.stack([first, label]), torch.tensor([0.1, 0.8]), label)
    assert describe_step(trace, 2).startswith("step 2 of 2, 1 cell changed, 0 wrong")


def test_slowest_solved_is_the_puzzle_that_became_right_for_good_last():
    from types import SimpleNamespace
    labels = torch.tensor([[1, 2], [3, 4], [5, 6]])
    wrong = torch.tensor([9, 9])
    # puzzle 0 right from step 1; puzzle 1 right at step 1, wrong at 2, right again from 3;
    # puzzle 2 right from step 2 but wrong at the last step (not solved, never chosen)
    answers = [torch.stack([labels[0], labels[1], wrong]),
               torch.stack([labels[0], wrong, labels[2]]),
               torch.stack([labels[0], labels[1], wrong])]
    outs = [SimpleNamespace(logits=torch.nn.functional.one_hot(a, 10).float()) for a in answers]
    assert slowest_solved(outs, labels) == 1


def test_the_solver_box_asks_eight_copies_and_says_what_the_vote_picked(model_and_cfg):
    model, cfg = model_and_cfg
    box = PuzzleSolver(model, cfg, n_steps=2)
    box.text.value = PUZZLE
    box.wide_button.click()
    assert box.status.startswith("8 symmetric copies reached ") and "the vote picked one that" in box.status
    assert box.status in box.message.value
    assert box.solve_wide(text="11..............") is None
    assert "Cannot solve this puzzle: the givens clash" in box.message.value
