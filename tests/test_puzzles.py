"""The puzzle CSV format, tokens, loader errors, batch augmentation and the shipped sets."""
import argparse
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from trm_lib.data import maze as mz
from trm_lib.data import sudoku as sd
from trm_lib.data.augment import augment_batch, sample_batch, sudoku_transforms
from trm_lib.cli.data import add_parser, check, run
from trm_lib.data.equivalence import overlaps
from trm_lib.data.puzzles import load_puzzles, save_puzzles, to_grid, write_rows

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
SHIPPED = sorted(DATASETS.glob("*/*.csv.gz"))
HEADER = "source,question,answer,rating\n"
S4 = ("...43....1..4..1", "1234341221434321")  # a 4x4 puzzle with one solution


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def test_sudoku_tokens_are_blank_1_and_digit_plus_1(tmp_path):
    ps = load_puzzles(write(tmp_path / "s.csv", [f"x,{S4[0]},{S4[1]},0"]))
    assert (ps.task, ps.size, ps.vocab_size, ps.seq_len) == ("sudoku", 4, 6, 16)
    assert ps.inputs[0, :4].tolist() == [1, 1, 1, 5]
    assert ps.labels[0, :4].tolist() == [2, 3, 4, 5]
    assert ps.inputs.dtype == torch.long


def test_maze_tokens_follow_the_characters_wall_open_start_goal_path(tmp_path):
    ps = load_puzzles(write(tmp_path / "m.csv", ["m,S #    G ,So# o  G ,3"]))
    assert (ps.task, ps.size, ps.vocab_size) == ("maze", 3, 6)
    assert ps.inputs[0].tolist() == [3, 2, 1, 2, 2, 2, 2, 4, 2]
    assert ps.labels[0].tolist() == [3, 5, 1, 2, 5, 2, 2, 4, 2]


def test_csv_round_trip_is_byte_identical_with_gzip(tmp_path):
    rows = [("gen", sd.to_string(p), sd.to_string(s), sd.rate(p))
            for p, s in (sd.generate_puzzle(6, __import__("random").Random(i)) for i in range(5))]
    first, second = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    write_rows(first, rows)
    assert gzip.open(first, "rt").readline() == HEADER
    save_puzzles(load_puzzles(first), second)
    assert first.read_bytes() == second.read_bytes()


def test_reads_rows_in_the_original_sudoku_extreme_layout(tmp_path):
    q = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
    a = "".join(map(str, sd.solve(sd.from_string(q)).solution.reshape(-1)))
    ps = load_puzzles(write(tmp_path / "x.csv", [f"puzzles7_serg_benchmark,{q},{a},161"]), verify=True)
    assert ps.ratings.tolist() == [161] and ps.sources == ["puzzles7_serg_benchmark"]


@pytest.mark.parametrize("line, problem", [
    (f"x,{S4[0]}.,{S4[1]},0", "line 2: question has 17 cells"),
    (f"x,{S4[0]},{S4[1][:-1]}x,0", "line 2: bad character 'x' in answer at cell 16"),
    (f"x,11..............,{S4[1]},0", "disagrees with the answer"),
    (f"x,{S4[0]},{S4[1]},hard", "rating 'hard' is not an integer"),
    (f"x,{S4[0]},0", "line 2: 3 fields, expected 4"),
])
def test_bad_rows_name_the_file_line_and_problem(tmp_path, line, problem):
    path = write(tmp_path / "bad.csv", [line])
    with pytest.raises(ValueError, match=problem) as err:
        load_puzzles(path)
    assert "bad.csv" in str(err.value)


def test_clashing_givens_are_reported_with_the_unit(tmp_path):
    path = write(tmp_path / "c.csv", [f"x,{S4[0]},{S4[1]},0", f"x,11..............,{'1' * 16},0"])
    with pytest.raises(ValueError, match=r"c.csv, line 3: clashing digits in the question: digit 1 repeated in row 1"):
        load_puzzles(path)


def test_verify_rejects_a_puzzle_with_several_solutions(tmp_path):
    ambiguous = ".." + S4[1][2:8] + ".." + S4[1][10:]
    path = write(tmp_path / "amb.csv", [f"x,{S4[0]},{S4[1]},0", f"x,{ambiguous},{S4[1]},0"])
    load_puzzles(path)  # cheap checks pass
    with pytest.raises(ValueError, match="amb.csv, line 3: puzzle has several solutions"):
        load_puzzles(path, verify=True)


def test_maze_without_start_or_with_a_longer_path_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="line 2: maze has 0 cells marked start S"):
        load_puzzles(write(tmp_path / "m1.csv", ["m,  #    G ,  #    G ,3"]))
    with pytest.raises(ValueError, match="not a shortest path"):
        load_puzzles(write(tmp_path / "m2.csv", ["m,S       G,Sooooo  G,0"]), verify=True)


def test_missing_file_and_missing_header_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_puzzles(tmp_path / "nope.csv")
    (tmp_path / "h.csv").write_text(f"x,{S4[0]},{S4[1]},0\n")
    with pytest.raises(ValueError, match="h.csv, line 1: header"):
        load_puzzles(tmp_path / "h.csv")


@pytest.mark.parametrize("size", [4, 6, 9])
def test_augment_batch_keeps_every_sudoku_solution_valid_and_unique(size):
    rng = __import__("random").Random(size)
    pairs = [sd.generate_puzzle(size, rng) for _ in range(4)]
    x = torch.tensor(np.stack([p.reshape(-1) + 1 for p, _ in pairs]))
    y = torch.tensor(np.stack([s.reshape(-1) + 1 for _, s in pairs]))
    xa, ya = augment_batch(x.repeat(8, 1), y.repeat(8, 1), "sudoku", size, torch.Generator().manual_seed(0))
    for xi, yi in zip(xa, ya):
        assert sd.is_valid_solution(to_grid(yi, "sudoku"), to_grid(xi, "sudoku"))
    for xi in xa[::4]:  # a symmetry keeps the clue count and the one solution
        assert sd.solve(to_grid(xi, "sudoku")).count == 1
    assert ((xa > 1).sum(1) == (x > 1).sum(1).repeat(8)).all()
    assert not torch.equal(xa, x.repeat(8, 1))


def test_augment_batch_never_transposes_6x6_but_does_transpose_9x9():
    for size, expect_transposes in ((6, False), (9, True)):
        index, _ = sudoku_transforms(400, size, torch.Generator().manual_seed(1))
        source_rows = index.view(400, size, size) // size
        keeps_rows = (source_rows == source_rows[:, :, :1]).all(2).all(1)
        # without a transpose every new row is one old row, reordered
        assert bool((~keeps_rows).any()) == expect_transposes


def test_augment_batch_applies_the_dihedral_group_to_mazes():
    rng = np.random.default_rng(0)
    maze, label, _ = mz.generate_maze(10, 20, rng)
    x = torch.tensor(maze.reshape(1, -1)).repeat(64, 1)
    y = torch.tensor(label.reshape(1, -1)).repeat(64, 1)
    xa, ya = augment_batch(x, y, "maze", 10, torch.Generator().manual_seed(0))
    assert len({tuple(r.tolist()) for r in xa}) == 8
    assert all(mz.is_valid_shortest_path(a.numpy(), b.numpy()) for a, b in zip(xa, ya))


def test_sample_batch_is_seeded():
    ps = load_puzzles(DATASETS / "sudoku-4x4" / "train.csv.gz")
    x1, y1 = sample_batch(ps, 32, torch.Generator().manual_seed(3))
    x2, _ = sample_batch(ps, 32, torch.Generator().manual_seed(3))
    assert x1.shape == y1.shape == (32, 16) and x1.dtype == torch.long and torch.equal(x1, x2)


def test_cli_writes_a_test_set_disjoint_from_its_training_set(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    for out, seed, extra in ((train, 1, []), (test, 2, ["--exclude", str(train)])):
        args = parser.parse_args(["data", "sudoku", "--size", "4", "--min-clues", "6", "--count", "60",
                                  "--seed", str(seed), "--out", str(out), *extra])
        assert run(args) == 0
    a, b = load_puzzles(train), load_puzzles(test)
    grids = [[to_grid(t, "sudoku") for t in s.inputs] for s in (a, b)]
    assert overlaps(grids[0], grids[1], "sudoku") == []
    assert "0:     60  100.0%" in (check(str(test)) and capsys.readouterr().out)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_file_passes_data_check(path):
    ps = check(str(path))
    assert len(ps) >= 200


@pytest.mark.parametrize("folder", sorted({p.parent for p in SHIPPED}), ids=lambda p: p.name)
def test_shipped_test_sets_have_no_puzzle_equivalent_to_a_training_puzzle(folder):
    train = load_puzzles(folder / "train.csv.gz")
    tests = [load_puzzles(f) for f in sorted(folder.glob("test*.csv.gz"))]  # test.csv.gz and harder extras
    grids = [[to_grid(t, train.task) for t in s.inputs] for s in (train, *tests)]
    everything_tested = [g for test in grids[1:] for g in test]
    assert overlaps(grids[0], everything_tested, train.task) == []
    assert overlaps(everything_tested, None, train.task) == []  # nor two equivalent test puzzles


def test_a_clue_range_draws_the_number_of_givens_for_each_puzzle(tmp_path):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    out = tmp_path / "mix.csv"
    args = parser.parse_args(["data", "sudoku", "--size", "9", "--min-clues", "28-32", "--count", "40",
                              "--seed", "3", "--out", str(out)])
    assert run(args) == 0
    clues = (load_puzzles(out, verify=True).inputs > 1).sum(1)
    assert clues.min() >= 28 and clues.max() <= 32 and len(set(clues.tolist())) >= 3
    with pytest.raises(SystemExit):  # argparse reports the bad range and exits
        parser.parse_args(["data", "sudoku", "--size", "9", "--min-clues", "32-28", "--count", "1",
                           "--seed", "0", "--out", str(out)])


def test_overlaps_finds_an_augmented_copy_and_a_repeat_within_a_file():
    rng = __import__("random").Random(0)
    pairs = [sd.generate_puzzle(9, rng) for _ in range(3)]
    grids = [p for p, _ in pairs]
    tokens = torch.tensor(pairs[1][0].reshape(1, -1) + 1)  # digits 0..9 -> tokens 1..10
    copy = to_grid(augment_batch(tokens, tokens, "sudoku", 9, torch.Generator().manual_seed(0))[0][0], "sudoku")
    assert not np.array_equal(copy, grids[1])
    assert overlaps(grids, [copy], "sudoku") == [(1, 0)]
    assert overlaps(grids + [copy], None, "sudoku") == [(1, 3)]


def test_tokens_of_a_grid_that_is_not_square_are_refused_by_name():
    with pytest.raises(ValueError, match=r"token sequence has 10 cells; a maze needs a square number \(N x N\)"):
        to_grid(torch.arange(10), "maze")
    with pytest.raises(ValueError, match="token sequence has 25 cells; a sudoku needs 16, 36 or 81"):
        to_grid(torch.ones(25, dtype=torch.long), "sudoku")


def test_every_preset_has_the_vocabulary_of_its_task_files():
    from trm_lib.presets import PRESETS, get_preset
    from trm_lib.data.puzzles import PuzzleSet

    for name in PRESETS:
        cfg = get_preset(name)
        empty = torch.zeros(0, cfg.grid_size ** 2, dtype=torch.long)
        shipped = PuzzleSet(cfg.task, cfg.grid_size, empty, empty, torch.zeros(0), [])
        assert (cfg.model.vocab_size, cfg.model.seq_len) == (shipped.vocab_size, shipped.seq_len), name
