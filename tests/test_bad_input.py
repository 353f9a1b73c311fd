"""Bad input, as a hostile user would give it: every case below is one clear line on stderr
(exit code 2) naming the input and the fix, never a traceback, and it comes before any work.

The table CASES is the list of what is covered; the tests after it cover what is accepted
(a BOM header, an open first maze row) and what warns instead of failing.
"""
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.cli import main
from trm_lib.data.puzzles import PuzzleSet, save_puzzles
from trm_lib.train import train

PRETRAINED = Path(__file__).resolve().parent.parent / "trm_lib" / "pretrained"
HEADER = "source,question,answer,rating\n"
S4 = ("...43....1..4..1", "1234341221434321")  # a 4x4 puzzle with one solution
TRAIN = "train --preset sudoku4-cpu --data {data} --test {data} --out {tmp}/run --device cpu"
EVAL = "eval --checkpoint {ckpt} --data {data} --device cpu"
WALLED_IN = "\n".join(["         ", "#### ####", "S#     #G"] + ["#########"] * 6)  # S cannot move

# (what is wrong, command line, what the message must say)
CASES = [
    # 5. validation: numbers that used to be accepted, then crash or be silently wrong
    ("expansion 0", TRAIN + " model.expansion=0", "expansion must be > 0"),
    ("expansion negative", TRAIN + " model.expansion=-1", "expansion must be > 0"),
    ("num_heads 0", TRAIN + " model.num_heads=0", "num_heads must be >= 1"),
    ("num_heads 0, attention", TRAIN + " model.mixer=attention model.num_heads=0", "num_heads must be >= 1"),
    ("num_puzzle_ids 0", TRAIN + " model.num_puzzle_ids=0", "num_puzzle_ids must be >= 1"),
    ("lr nan", TRAIN + " train.lr=nan", "lr must be a finite number, got nan"),
    ("lr inf", TRAIN + " train.lr=inf", "lr must be a finite number, got inf"),
    ("weight decay nan", TRAIN + " train.weight_decay=nan", "weight_decay must be a finite number"),
    ("rms_norm_eps negative", TRAIN + " model.rms_norm_eps=-1e-5", "rms_norm_eps must be >= 0"),
    ("n not an integer", TRAIN + " model.n=2.7e0", "override model.n='2.7e0': expected an integer"),
    ("minutes negative", TRAIN + " --minutes -1", "argument --minutes: must be a number of minutes above 0"),
    ("minutes zero", TRAIN + " --minutes 0", "argument --minutes: must be a number of minutes above 0"),
    ("minutes nan", TRAIN + " --minutes nan", "argument --minutes: must be a number of minutes above 0"),
    ("eval-size zero", TRAIN + " --eval-size 0", "argument --eval-size: must be at least 1, got 0"),
    ("eval-size negative", TRAIN + " --eval-size -5", "argument --eval-size: must be at least 1, got -5"),
    ("bench batch 0", "bench --preset sudoku4-cpu --batch-size 0", "argument --batch-size: must be at least 1"),
    ("bench batch negative", "bench --preset sudoku4-cpu --batch-size -4", "argument --batch-size: must be at least 1"),
    ("bench repeats 0", "bench --preset sudoku4-cpu --repeats 0", "argument --repeats: must be at least 1"),
    ("eval batch 0", EVAL + " --batch-size 0", "argument --batch-size: must be at least 1"),
    ("eval steps 0", EVAL + " --steps 0", "argument --steps: must be at least 1"),
    ("device bogus", TRAIN.replace("--device cpu", "--device bogus"), "device 'bogus' is not one trm_lib trains on"),
    ("device meta", TRAIN.replace("--device cpu", "--device meta"), "device 'meta' is not one trm_lib trains on"),
    ("eval device bogus", EVAL.replace("--device cpu", "--device bogus"), "device 'bogus' is not one trm_lib trains on"),
    ("hidden_size 10^7", TRAIN + " model.hidden_size=10000000", "FLOPs (hidden_size 10,000,000"),
    ("bench hidden_size 10^7", "bench --preset sudoku4-cpu model.hidden_size=10000000", "FLOPs (hidden_size 10,000,000"),
    ("ablate eval-size 0", "ablate --steps 1 --eval-size 0", "argument --eval-size: must be at least 1, got 0"),
    ("ablate eval-size negative", "ablate --steps 1 --eval-size -5", "argument --eval-size: must be at least 1, got -5"),
    ("train data empty", TRAIN.replace("--data {data} --test {data}", "--data {empty} --test {empty}"),
     "argument --data: is empty; name a file"),
    ("seed negative", "data sudoku --size 4 --count 2 --seed -1 --out {tmp}/s.csv",
     "argument --seed: must be an integer from 0 to 2^63-1, got -1"),
    ("maze too large to write", "data maze --size 1000000 --count 1 --seed 0 --out {tmp}/m.csv",
     "--size 1000000 is too large: a row of its file"),
    ("seed overflowing", "data maze --size 5 --count 2 --seed 99999999999999999999 --out {tmp}/m.csv",
     "argument --seed: must be an integer from 0 to 2^63-1"),
    ("ensemble seed negative", EVAL + " --ensemble 2 --seed -1", "argument --seed: must be an integer from 0"),
    # 6. an output that would overwrite an input
    ("data out over the excluded file", "data sudoku --size 4 --count 2 --seed 1 --out {data} --exclude {data}",
     "--out {data} is the --exclude file"),
    ("predictions over the data", EVAL + " --predictions-out {data}", "is the --data file"),
    ("predictions over the checkpoint", EVAL + " --predictions-out {ckpt}", "is the --checkpoint file"),
    # 7. impossible amounts of work
    ("eval steps 10^12", EVAL + " --steps 1000000000000", "supervision steps would keep"),
    ("checkpoint n_sup 10^12", EVAL.replace("{ckpt}", "{ckpt_huge_n_sup}"), "n_sup 1,000,000,000,000 is above the limit"),
    # what one step may cost, bounded where a config is made (an override, a checkpoint's config)
    ("n 10^9: an endless step", TRAIN + " model.n=1000000000", "= 4,000,000,004 blocks; the limit is 10,000"),
    ("checkpoint n 10^9: eval", EVAL.replace("{ckpt}", "{ckpt_huge_n}"), "blocks; the limit is 10,000"),
    ("info layers 10^8", "info --preset sudoku4-cpu model.num_layers=100000000", "blocks; the limit is 10,000"),
    ("bench n_sup 10^6", "bench --preset sudoku4-cpu model.n_sup=1000000", "n_sup 1,000,000 is above the limit"),
    ("info hidden_size 10^5", "info --preset sudoku4-cpu model.hidden_size=100000", "most of it for model.hidden_size=100000"),
    ("info prefix 10^6", "info --preset sudoku4-cpu model.puzzle_emb_len=1000000", "FLOPs (hidden_size 64, 1,000,016 positions)"),
    ("info puzzle ids 10^11", "info --preset sudoku4-cpu model.num_puzzle_ids=100000000000",
     "most of it for the puzzle-embedding table"),
    ("expansion 1e-9", TRAIN + " model.expansion=1e-9", "expansion 1e-09 leaves the SwiGLU of hidden_size (64) no hidden units"),
    ("batch 10^12", TRAIN + " train.batch_size=1000000000000", "most of it for the activations of train.batch_size"),
    ("bench batch 10^12", "bench --preset sudoku4-cpu --batch-size 1000000000000", "the activations of train.batch_size"),
    # 8. files that are not what they claim
    ("letter in a Sudoku", "data check {letter}", "line 2: bad character 'x' in question at cell 4"),
    ("padding in a written prediction", "data check {padded_answer}",
     "line 2: no value in the answer at cell 1 ('?': a cell the model left as padding"),
    ("not UTF-8", "data check {latin1}", "line 3: not UTF-8 text (byte 0xe9"),
    ("corrupt gzip", "data check {corrupt_gz}", "gzip data is damaged or cut short"),
    ("truncated gzip", "data check {truncated_gz}", "gzip data is damaged or cut short"),
    ("text named .gz", "data check {text_gz}", "is named .gz but is not gzip data"),
    ("gzip not named .gz", "data check {gzip_csv}", "holds gzip data; name it .gz"),
    ("field over 128 KB", "data check {big_field}", "line 2: field larger than field limit"),
    ("a line over 1 MiB", "data check {garbage}", "line 1: longer than 1 MiB"),
    ("a folder", "data check {tmp}", "is a folder"),
    ("a rating that overflows", "data check {over_rating}", "line 2: rating 99999999999999999999 is outside 0 to 2^63-1"),
    ("a negative rating", "data check {neg_rating}", "line 3: rating -3 is outside 0 to 2^63-1"),
    ("a row of empty fields", "data check {empty_row}", "line 2: the question is empty"),
    ("weight decay 1e30", TRAIN + " train.weight_decay=1e30", "weight_decay x lr = 2e+27"),
    ("checkpoint as data", EVAL.replace("{data}", "{ckpt}"), "is a zip archive (a trm_lib checkpoint?)"),
    ("checkpoint as training data", TRAIN.replace("--data {data}", "--data {ckpt}"), "is a zip archive"),
    # 9. damaged checkpoints
    ("weights: a key missing", EVAL.replace("{ckpt}", "{ckpt_missing_key}"), "weights do not fit the checkpoint's config: missing head.weight"),
    ("weights: an extra key", EVAL.replace("{ckpt}", "{ckpt_extra_key}"), "unexpected stowaway"),
    ("weights: a wrong shape", EVAL.replace("{ckpt}", "{ckpt_wrong_shape}"), "head.weight is (3, 16), expected (6, 16)"),
    ("no step", EVAL.replace("{ckpt}", "{ckpt_no_step}"), "the checkpoint has no 'step' entry"),
    ("no config", EVAL.replace("{ckpt}", "{ckpt_no_config}"), "the checkpoint has no 'config' entry"),
    ("config: a field missing", EVAL.replace("{ckpt}", "{ckpt_no_field}"), "config is not valid: lacks the field 'model.vocab_size'"),
    ("config: an unknown field", EVAL.replace("{ckpt}", "{ckpt_unknown_field}"), "config is not valid: unknown field model.colour"),
    ("config: a wrong type", EVAL.replace("{ckpt}", "{ckpt_str_field}"), "hidden_size must be an integer, got '16'"),
    ("config: another task", EVAL.replace("{ckpt}", "{ckpt_chess}"), "task is 'chess', expected 'sudoku', 'maze' or 'arc'"),
    ("config: grid and seq_len disagree", EVAL.replace("{ckpt}", "{ckpt_grid_6}"), "a sudoku 6x6 needs model.seq_len=36"),
    ("all-NaN weights", EVAL.replace("{ckpt}", "{ckpt_nan}"), "weights are NaN or infinite"),
    ("resume from a shipped model", TRAIN.replace("{tmp}/run", "{shipped_run}"), "holds weights only"),
    # 10. where a clear answer exists
    ("solve: no solution", "solve --checkpoint {ckpt} --puzzle ...1.3.4..4..1..", "this Sudoku has no solution"),
    ("solve: walled-in maze", "solve --checkpoint " + str(PRETRAINED / "maze-small-cpu.pt") + " --puzzle {walled_in}",
     "G cannot be reached from S"),
    ("train: test of another size", TRAIN.replace("--test {data}", "--test {sudoku6}"),
     "test data is sudoku 6x6 but preset sudoku4-cpu expects sudoku 4x4"),
]


def _damaged(good: dict, tmp: Path) -> dict:
    """Checkpoints edited in every way the loader must catch."""
    def edited(name, change):
        state = {k: (dict(v) if isinstance(v, dict) else v) for k, v in good.items()}
        state["config"] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in good["config"].items()}
        change(state)
        torch.save(state, tmp / f"{name}.pt")
        return str(tmp / f"{name}.pt")

    return {
        "ckpt_missing_key": edited("missing_key", lambda s: s["model"].pop("head.weight")),
        "ckpt_extra_key": edited("extra_key", lambda s: s["model"].update(stowaway=torch.zeros(1))),
        "ckpt_wrong_shape": edited("wrong_shape", lambda s: s["model"].update({"head.weight": torch.zeros(3, 16)})),
        "ckpt_no_step": edited("no_step", lambda s: s.pop("step")),
        "ckpt_no_config": edited("no_config", lambda s: s.pop("config")),
        "ckpt_no_field": edited("no_field", lambda s: s["config"]["model"].pop("vocab_size")),
        "ckpt_unknown_field": edited("unknown_field", lambda s: s["config"]["model"].update(colour="red")),
        "ckpt_str_field": edited("str_field", lambda s: s["config"]["model"].update(hidden_size="16")),
        "ckpt_chess": edited("chess", lambda s: s["config"].update(task="chess")),
        "ckpt_grid_6": edited("grid_6", lambda s: s["config"].update(grid_size=6)),
        "ckpt_nan": edited("nan", lambda s: s.update(model={k: v * float("nan") for k, v in s["model"].items()},
                                                      ema=None)),
        "ckpt_huge_n_sup": edited("huge_n_sup", lambda s: s["config"]["model"].update(n_sup=10**12)),
        "ckpt_huge_n": edited("huge_n", lambda s: s["config"]["model"].update(n=10**9)),
    }


def _bad_files(tmp: Path) -> dict:
    good_row = f"x,{S4[0]},{S4[1]},0\n"
    (tmp / "letter.csv").write_text(HEADER + f"x,...x3....1..4..1,{S4[1]},0\n")
    (tmp / "latin1.csv").write_bytes((HEADER + good_row + "caf\u00e9," + S4[0] + "," + S4[1] + ",0\n").encode("latin-1"))
    packed = gzip.compress((HEADER + good_row * 2000).encode())
    (tmp / "corrupt.csv.gz").write_bytes(packed[:40] + bytes(b ^ 0x5A for b in packed[40:80]) + packed[80:])
    (tmp / "truncated.csv.gz").write_bytes(packed[: len(packed) // 2])
    (tmp / "text.csv.gz").write_text(HEADER + good_row)
    (tmp / "gzip.csv").write_bytes(packed)
    (tmp / "big_field.csv").write_text(HEADER + "x," + "1" * 200_000 + ",1,0\n")
    (tmp / "garbage.bin").write_bytes(b"\x00\x01garbage" * 200_000)
    (tmp / "over_rating.csv").write_text(HEADER + f"x,{S4[0]},{S4[1]},99999999999999999999\n")
    (tmp / "neg_rating.csv").write_text(HEADER + good_row + f"x,{S4[0]},{S4[1]},-3\n")
    (tmp / "empty_row.csv").write_text(HEADER + ",,,\n")
    (tmp / "padded_answer.csv").write_text(HEADER + f"x,{S4[0]},?{S4[1][1:]},0\n")
    shipped_run = tmp / "shipped_run"
    shipped_run.mkdir()
    shutil.copy(PRETRAINED / "sudoku4-cpu.pt", shipped_run / "last.pt")
    return {"letter": tmp / "letter.csv", "latin1": tmp / "latin1.csv", "corrupt_gz": tmp / "corrupt.csv.gz",
            "truncated_gz": tmp / "truncated.csv.gz", "text_gz": tmp / "text.csv.gz", "gzip_csv": tmp / "gzip.csv",
            "big_field": tmp / "big_field.csv", "garbage": tmp / "garbage.bin",
            "over_rating": tmp / "over_rating.csv", "neg_rating": tmp / "neg_rating.csv", "empty_row": tmp / "empty_row.csv",
            "padded_answer": tmp / "padded_answer.csv", "shipped_run": shipped_run,
            "sudoku6": Path(__file__).resolve().parent.parent / "datasets" / "sudoku-6x6" / "test.csv.gz"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    data = tiny_sudoku_set(16)
    save_puzzles(data, tmp / "test.csv.gz")
    train(tiny_cfg(max_steps=2), data, out_dir=tmp / "trained", progress=False, device="cpu")
    ckpt = tmp / "trained" / "last.pt"
    good = torch.load(ckpt, weights_only=True)
    paths = {"tmp": tmp, "data": tmp / "test.csv.gz", "ckpt": ckpt, **_damaged(good, tmp), **_bad_files(tmp)}
    return {k: str(v) for k, v in paths.items()}


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stderr, stdout) of the command line, run in this process."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses a bad argument this way
        code = exit_.code
    out, err = capsys.readouterr()
    return code, err, out


@pytest.mark.parametrize("what, command, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(files, capsys, what, command, message):
    argv = [part.format(**files, walled_in="{walled_in}", empty="") for part in command.split(" ")]
    argv = [WALLED_IN if part == "{walled_in}" else part for part in argv]
    code, err, _ = _run(argv, capsys)
    assert code == 2, err
    assert message.format(**files) in err
    assert "Traceback" not in err
    assert not Path(files["tmp"], "run", "last.pt").exists()  # refused before any training


def test_a_bom_header_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + f"x,{S4[0]},{S4[1]},0\n").encode())
    assert _run(["data", "check", str(path)], capsys)[0] == 0


def test_a_maze_whose_first_row_is_all_open_is_accepted_by_solve(capsys):
    rows = ["         ", "#### ####", "S       G"] + ["#########"] * 6
    code, err, out = _run(["solve", "--checkpoint", str(PRETRAINED / "maze-small-cpu.pt"), "--puzzle",
                           "\n".join(rows), "--steps", "1", "--device", "cpu"], capsys)
    assert code == 0 and "step 1:" in out, err


def test_asking_for_more_distinct_puzzles_than_exist_fails_fast(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("trm_lib.data.generate.MAX_REPEATS_IN_A_ROW", 300)  # the real limit, 2000, takes seconds
    code, err, _ = _run(["data", "sudoku", "--size", "4", "--count", "100000", "--seed", "0",
                      "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 2 and "only 36 distinct puzzles exist here, it seems" in err and "ask for at most 36" in err
    assert not (tmp_path / "s.csv").exists()


def test_eval_warns_about_labels_that_are_not_the_only_right_answer():
    from trm_lib.cli.eval import label_warning

    several = "....21....34...."  # a 4x4 Sudoku with two solutions
    from trm_lib.data import sudoku as sd

    grid = sd.from_string(several)
    first = sd.solve(grid, limit=1).solution.reshape(-1)
    other = next(s for s in _all_solutions(grid) if not np.array_equal(s, first))
    x = torch.as_tensor(grid.reshape(1, -1) + 1)
    puzzles = PuzzleSet("sudoku", 4, x, torch.as_tensor(first[None] + 1), torch.zeros(1, dtype=torch.long), ["s"])
    warning = label_warning(puzzles, torch.as_tensor(other[None] + 1), "set.csv")
    assert warning.startswith("warning: 1 of 1 Sudoku have several solutions") and "data check set.csv" in warning
    assert label_warning(puzzles, puzzles.labels, "set.csv") is None


def test_eval_warns_about_a_maze_labelled_with_a_longer_path():
    from trm_lib.cli.eval import label_warning
    from trm_lib.data.puzzles import encode

    maze = ["S  G", "    ", "####", "####"]
    shortest = ["SooG", "    ", "####", "####"]  # 3 moves
    longer = ["S  G", "oooo", "####", "####"]  # 5 moves: a path, but not a shortest one
    x = torch.as_tensor(encode(["".join(maze)], "maze", 4))
    for label, warned in ((shortest, False), (longer, True)):
        y = torch.as_tensor(encode(["".join(label)], "maze", 4))
        puzzles = PuzzleSet("maze", 4, x, y, torch.zeros(1, dtype=torch.long), ["m"])
        assert (label_warning(puzzles, y, "m.csv") is not None) == warned


def _all_solutions(grid):
    """Every solution of a small Sudoku, by trying each digit in the first blank."""
    from trm_lib.data import sudoku as sd

    flat = grid.reshape(-1)
    blanks = np.flatnonzero(flat == 0)
    if not len(blanks):
        return [flat.copy()] if sd.is_valid_solution(grid) else []
    out = []
    for d in range(1, 5):
        trial = flat.copy()
        trial[blanks[0]] = d
        if not sd.clashes(trial.reshape(4, 4)):
            out += _all_solutions(trial.reshape(4, 4))
    return out


def test_ablate_on_a_maze_shows_no_sudoku_paper_figure():
    from trm_lib.experiments.ablations import VARIANTS

    full = VARIANTS["full TRM"]
    assert full.paper_for("sudoku") == 87.4 and full.paper_for("maze") is None


def test_the_library_evaluate_refuses_puzzles_of_another_task():
    from trm_lib.checkpoint import load_model
    from trm_lib.data.puzzles import load_puzzles
    from trm_lib.evaluate import evaluate

    model, _, _ = load_model(PRETRAINED / "sudoku9-cpu.pt")
    mazes = load_puzzles(Path(__file__).resolve().parent.parent / "datasets" / "maze-9x9" / "test.csv.gz").subset(slice(0, 2))
    with pytest.raises(ValueError, match=r"these are maze 9x9 puzzles \(81 cells, vocabulary 6\) but the model "
                                         r"reads 81 cells of vocabulary 11"):
        evaluate(model, mazes)
    with pytest.raises(TypeError, match="puzzles must be a PuzzleSet"):
        evaluate(model, mazes.inputs)


def _api_cases():
    from trm_lib.config import Config
    from trm_lib.evaluate import evaluate
    from trm_lib.model import TRM
    from trm_lib.pretrained import load_pretrained
    from trm_lib.presets import get_preset
    cfg = get_preset("sudoku4-cpu")
    # (what is wrong, the call, the error type, what the message must say)
    return [
        ("load_pretrained of a number", lambda: load_pretrained(6), TypeError, "a str such as 'sudoku6-cpu', got int"),
        ("with_overrides of one string", lambda: cfg.with_overrides("model.n=2"), TypeError, "(put it in a list)"),
        ("Config.from_dict of a string", lambda: Config.from_dict("x"), TypeError, "needs a dict"),
        ("Config.from_dict without its fields", lambda: Config.from_dict({"model": {}}), ValueError,
         "lacks name, task, grid_size"),
        ("Config.from_dict with a model that is no dict", lambda: Config.from_dict(
            {"name": "x", "task": "sudoku", "grid_size": 4, "model": 5}), TypeError, "'model' must be a dict"),
        ("Config.from_dict with model fields missing", lambda: Config.from_dict(
            {"name": "x", "task": "sudoku", "grid_size": 4, "model": {}}), ValueError, "vocab_size, seq_len missing"),
        ("TRM of the whole Config", lambda: TRM(cfg), TypeError, "pass cfg.model, not the whole Config"),
        ("evaluate of no model", lambda: evaluate("model", tiny_sudoku_set(2)), TypeError, "model must be a TRM"),
        ("evaluate of a file name", lambda: evaluate(TRM(cfg.model), "test.csv.gz"), TypeError,
         "puzzles must be a PuzzleSet"),
        ("train of a preset name", lambda: train("sudoku4-cpu", tiny_sudoku_set(2)), TypeError,
         "cfg must be a Config (get_preset(name) gives one), got str"),
        ("train of the model part", lambda: train(cfg.model, tiny_sudoku_set(2)), TypeError, "pass the whole Config"),
        ("train of a file name", lambda: train(cfg, "train.csv.gz"), TypeError, "train_set must be a PuzzleSet"),
    ]


@pytest.mark.parametrize("what, call, error, message", _api_cases(), ids=[c[0] for c in _api_cases()])
def test_the_public_api_names_a_wrong_argument_and_what_it_expects(what, call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value), f"{what}: {raised.value}"
