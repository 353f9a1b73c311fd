"""The command line: train, eval, solve and bench work as written and fail kindly."""
import gzip
import re

import pytest

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.cli import main
from trm_lib.data.puzzles import save_puzzles
from trm_lib.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    data = tiny_sudoku_set(16)
    save_puzzles(data, folder / "test.csv.gz")
    train(tiny_cfg(max_steps=2), data, out_dir=folder, progress=False, device="cpu")
    return folder


def test_eval_prints_the_three_accuracies_and_writes_predictions(trained, capsys):
    out = trained / "pred.csv.gz"
    assert main(["eval", "--checkpoint", str(trained / "last.pt"), "--data", str(trained / "test.csv.gz"),
                 "--steps", "2", "--predictions-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "exact" in text and "cell" in text and "valid" in text and "2 supervision steps" in text
    rows = gzip.open(out, "rt").read().splitlines()
    assert rows[0] == "source,question,answer,rating" and len(rows) == 17


def test_solve_prints_the_grid_after_every_step(trained, capsys):
    assert main(["solve", "--checkpoint", str(trained / "last.pt"), "--puzzle", "1.3.3.1.2.4.4.2.",
                 "--steps", "3"]) == 0
    text = capsys.readouterr().out
    assert "step 1:" in text and "step 3:" in text and "halting probability" in text
    verdict = text.rstrip().splitlines()[-1]  # "(a correct Sudoku)" only where it is one
    assert verdict.endswith("is valid (a correct Sudoku)") or verdict.endswith("is NOT valid"), verdict


@pytest.mark.parametrize("puzzle, message", [
    ("1.3.3.1.2.4.4.2", "has 15 characters; this checkpoint solves sudoku 4x4 puzzles of 16 cells"),
    ("1.3.3." * 6, "has 36 characters"),  # a 6x6 puzzle
    ("1.3.3.1.2.4.4.2x", "character 'x' at row 4, column 4 is not allowed in a sudoku"),
    ("11..............", "the givens clash: digit 1 repeated in row 1"),
])
def test_solve_rejects_a_puzzle_that_does_not_fit(trained, capsys, puzzle, message):
    assert main(["solve", "--checkpoint", str(trained / "last.pt"), "--puzzle", puzzle]) == 2
    assert message in capsys.readouterr().err


def test_eval_of_a_missing_checkpoint_is_one_clear_line(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path / "nope.pt"), "--data", "x.csv"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_reports_throughput_and_fraction_of_peak(capsys):
    assert main(["bench", "--preset", "sudoku4-cpu", "--batch-size", "4", "--repeats", "1",
                 "model.hidden_size=16", "model.expansion=1"]) == 0
    text = capsys.readouterr().out
    assert "matmul peak" in text and "of peak" in text and "GFLOP per sample-step" in text


def test_solve_prints_an_unchanged_grid_once_and_says_where_the_model_halted(capsys):
    # the shipped 6x6 model halts early on the puzzle trm_lib/README.md solves; later steps change nothing
    assert main(["solve", "--checkpoint", "trm_lib/pretrained/sudoku6-cpu.pt", "--device", "cpu",
                 "--puzzle", ".4....2....16.......1.3.41........45"]) == 0
    text = capsys.readouterr().out
    assert text.count("no cell changed") == 7 and len(re.findall(r"^step \d: halting probability", text, re.M)) == 8
    assert "the model halts here, at step 1" in text and "halted at step 1 of 8" in text


def test_solve_with_halt_stops_at_the_halting_step_and_judges_that_answer(capsys):
    assert main(["solve", "--checkpoint", "trm_lib/pretrained/sudoku6-cpu.pt", "--device", "cpu", "--halt",
                 "--puzzle", ".4....2....16.......1.3.41........45"]) == 0
    text = capsys.readouterr().out
    assert "step 1:" in text and "step 2:" not in text  # nothing runs after the halt
    assert "1 of 8 steps run" in text and "the answer at the halt (step 1) is valid" in text


def test_eval_with_halt_reports_the_answer_at_the_halt_and_the_steps_saved(trained, capsys):
    assert main(["eval", "--checkpoint", str(trained / "last.pt"), "--data", str(trained / "test.csv.gz"),
                 "--steps", "3", "--halt"]) == 0
    line = [t for t in capsys.readouterr().out.splitlines() if t.startswith("halting at inference")]
    assert len(line) == 1 and re.search(r"after \d\.\d\d steps on average of 3 \(\d+% of the supervision", line[0])
