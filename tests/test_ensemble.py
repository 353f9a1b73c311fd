"""Thinking wider: copies map back to the puzzle's frame, the selection rules pick what they
promise, copy 0 is the one-trajectory answer, and the commands print one trajectory beside K."""
import gzip

import pytest
import torch

from tests.test_cli import trained  # noqa: F401  (a fixture: a tiny trained 4x4 run folder)
from tests.test_training import tiny_sudoku_set
from trm_lib.cli import main
from trm_lib.data.puzzles import PuzzleSet, load_puzzles
from trm_lib.data.sudoku import is_valid_solution
from trm_lib.ensemble import Trajectories, copy_transforms, from_copies, run_copies, score, select, to_copies
from trm_lib.evaluate import evaluate, is_valid
from trm_lib.model import TRM
from tests.conftest import tiny_config


def _maze_set(count: int = 4) -> PuzzleSet:
    return load_puzzles("datasets/maze-9x9/test.csv.gz").subset(slice(0, count))


def test_sudoku_copies_are_puzzles_whose_solutions_map_back_to_the_original_solution():
    data = tiny_sudoku_set(6)
    params = copy_transforms("sudoku", 4, 8, "augment", torch.Generator().manual_seed(1))
    questions, answers = to_copies(data.inputs, "sudoku", 4, params), to_copies(data.labels, "sudoku", 4, params)
    assert (questions[:, 0] == data.inputs).all()  # copy 0 is the puzzle as given
    assert (questions[:, 1:] != data.inputs[:, None]).any()  # the others are not
    for p in range(6):
        for k in range(8):
            grid = lambda t: (t.reshape(4, 4) - 1).numpy()  # noqa: E731
            assert is_valid_solution(grid(answers[p, k]), grid(questions[p, k]))
    assert (from_copies(answers, "sudoku", 4, params) == data.labels[:, None]).all()


def test_maze_copies_take_the_eight_maps_in_turn_and_their_paths_map_back():
    data = _maze_set()
    params = copy_transforms("maze", 9, 10, "augment", torch.Generator())
    assert params[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    questions, answers = to_copies(data.inputs, "maze", 9, params), to_copies(data.labels, "maze", 9, params)
    assert len({questions[0, k].numpy().tobytes() for k in range(8)}) == 8
    assert all(is_valid("maze", questions[0, k].numpy(), answers[0, k].numpy()) for k in range(10))
    assert (from_copies(answers, "maze", 9, params) == data.labels[:, None]).all()


def _traj(last, q_last, halt_step=None, at_halt=None, q_at_halt=None, n_steps=4):
    last = torch.as_tensor(last)
    q_last = torch.as_tensor(q_last, dtype=torch.float)
    halt_step = torch.full(q_last.shape, n_steps + 1.0) if halt_step is None else torch.as_tensor(halt_step).float()
    return Trajectories(last, last.clone() if at_halt is None else torch.as_tensor(at_halt), q_last, halt_step,
                        q_last.clone() if q_at_halt is None else torch.as_tensor(q_at_halt).float(), n_steps)


def test_the_vote_takes_the_answer_most_copies_gave_even_against_a_higher_q():
    a, b = [1, 1], [2, 2]
    traj = _traj([[a, b, b, a, b]], [[9.0, -1.0, -1.0, 9.0, -1.0]])
    assert select(traj, "vote").tolist() == [b]
    assert select(traj, "q").tolist() == [a]  # the highest q_halt alone


def test_a_tied_vote_goes_to_the_answer_with_the_higher_mean_halting_probability():
    a, b = [1, 1], [2, 2]
    assert select(_traj([[a, b, a, b]], [[-3.0, 2.0, 1.0, 0.0]]), "vote").tolist() == [b]  # means -1.0 < 1.0
    assert select(_traj([[a, b, a, b]], [[3.0, -2.0, 1.0, 0.0]]), "vote").tolist() == [a]


def test_first_halt_trusts_the_copy_that_halted_first_with_its_answer_at_that_step():
    last = [[[1, 1], [2, 2], [3, 3]]]
    at_halt = [[[4, 4], [5, 5], [3, 3]]]
    traj = _traj(last, [[5.0, 5.0, 5.0]], halt_step=[[3, 2, 5]], at_halt=at_halt, q_at_halt=[[4.0, 0.5, -1.0]])
    assert select(traj, "first-halt").tolist() == [[5, 5]]
    # a tie in the step goes to the higher q_halt at that step
    traj = _traj(last, [[5.0, 5.0, 5.0]], halt_step=[[2, 2, 5]], at_halt=at_halt, q_at_halt=[[4.0, 0.5, -1.0]])
    assert select(traj, "first-halt").tolist() == [[4, 4]]


def test_copy_zero_is_exactly_the_one_trajectory_answer_of_evaluate():
    data = tiny_sudoku_set(10)
    model = TRM(tiny_config(vocab_size=6, seq_len=16)).eval()
    plain = evaluate(model, data, n_steps=3, check_validity=False).predictions
    for copies, sigma in (("augment", 0.0), ("noise", 0.5), ("both", 0.5)):
        traj = run_copies(model, data, 4, n_steps=3, copies=copies, sigma=sigma, batch_size=8)
        assert traj.last.shape == (10, 4, 16)
        assert torch.equal(traj.last[:, 0], plain), copies


def test_noisy_copies_differ_from_copy_zero_and_the_noise_is_reproducible_by_seed():
    data = tiny_sudoku_set(10)
    model = TRM(tiny_config(vocab_size=6, seq_len=16)).eval()
    runs = [run_copies(model, data, 4, n_steps=3, copies="noise", sigma=2.0, seed=s) for s in (0, 0, 1)]
    assert (runs[0].last[:, 1:] != runs[0].last[:, :1]).any()
    assert torch.equal(runs[0].last, runs[1].last) and not torch.equal(runs[0].last, runs[2].last)


def test_score_counts_the_picked_answer_one_trajectory_and_an_oracle_separately():
    data = tiny_sudoku_set(2)
    right, wrong = data.labels, data.inputs  # the unsolved puzzle is not a solution
    # puzzle 0: copy 0 wrong, the majority right; puzzle 1: only copy 2 right
    last = torch.stack([torch.stack([wrong[0], right[0], right[0]]), torch.stack([wrong[1], wrong[1], right[1]])])
    result = score(_traj(last, torch.zeros(2, 3)), data, "vote")
    assert (result.exact, result.valid, result.single_exact, result.oracle) == (0.5, 0.5, 0.0, 1.0)
    assert result.forward_passes == 3 * 4


def test_bad_ensemble_requests_are_refused_with_the_reason():
    data = tiny_sudoku_set(2)
    model = TRM(tiny_config(vocab_size=6, seq_len=16))
    with pytest.raises(ValueError, match="sigma > 0"):
        run_copies(model, data, 4, copies="noise", sigma=0.0)
    with pytest.raises(ValueError, match="unknown kind of copies"):
        run_copies(model, data, 4, copies="mirror")
    with pytest.raises(ValueError, match="at least 1 copy"):
        run_copies(model, data, 0)
    with pytest.raises(ValueError, match="16 cells; the model reads 9"):
        run_copies(TRM(tiny_config()), data, 2)
    with pytest.raises(ValueError, match="unknown selection rule"):
        select(_traj([[[1]]], [[0.0]]), "best")


def test_eval_with_an_ensemble_prints_one_trajectory_beside_k_and_the_cost(trained, capsys):  # noqa: F811
    out = trained / "wide.csv.gz"
    assert main(["eval", "--checkpoint", str(trained / "last.pt"), "--data", str(trained / "test.csv.gz"),
                 "--steps", "2", "--ensemble", "4", "--predictions-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one trajectory:  exact" in text and "4 copies (augment), vote:  exact" in text
    assert "4 x 2 = 8 supervision steps a puzzle, 4x one trajectory's" in text
    assert len(gzip.open(out, "rt").read().splitlines()) == 17


def test_solve_with_an_ensemble_shows_the_picked_answer_and_how_many_copies_gave_it(capsys):
    assert main(["solve", "--checkpoint", "trm_lib/pretrained/sudoku6-cpu.pt", "--device", "cpu",
                 "--puzzle", ".4....2....16.......1.3.41........45", "--ensemble", "4", "--steps", "2"]) == 0
    text = capsys.readouterr().out
    assert "4 copies (augment), vote, 2 steps each" in text and "of 4 copies gave it" in text
    assert "it is valid (a correct Sudoku)" in text



def test_an_arc_ensemble_is_its_augmented_copies_and_conflicting_counts_are_refused():
    from argparse import Namespace

    from trm_lib.cli.arc import arc_copies

    assert arc_copies(Namespace(copies=None, ensemble=4, copies_kind="auto")) == 4
    assert arc_copies(Namespace(copies=3, ensemble=None, copies_kind="auto")) == 3
    with pytest.raises(ValueError, match="noisy copies are not implemented for ARC"):
        arc_copies(Namespace(copies=None, ensemble=4, copies_kind="noise"))
    with pytest.raises(ValueError, match="--copies 3 and --ensemble 4 ask for different numbers"):
        arc_copies(Namespace(copies=3, ensemble=4, copies_kind="auto"))
