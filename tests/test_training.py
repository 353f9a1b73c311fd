"""Training: checkpoints round-trip, resume continues, configs must match, 2 gloo processes = 1."""
import json
import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

import trm_lib.train
from trm_lib.checkpoint import load_model, read_checkpoint
from trm_lib.presets import get_preset
from trm_lib.model import TRM
from trm_lib.data.puzzles import PuzzleSet
from trm_lib.data.sudoku import generate_puzzle
from trm_lib.train import train


def tiny_sudoku_set(count: int = 24, seed: int = 0) -> PuzzleSet:
    import random

    rng = random.Random(seed)
    qs, ans = [], []
    for _ in range(count):
        puzzle, solution = generate_puzzle(4, rng)[:2]
        qs.append(torch.as_tensor(puzzle).reshape(-1) + 1)
        ans.append(torch.as_tensor(solution).reshape(-1) + 1)
    x, y = torch.stack(qs).long(), torch.stack(ans).long()
    return PuzzleSet("sudoku", 4, x, y, torch.zeros(count, dtype=torch.long), ["test"] * count)


def tiny_cfg(**train):
    cfg = get_preset("sudoku4-cpu")
    over = {"model.hidden_size": 16, "model.expansion": 1.0, "train.batch_size": 8,
            "train.max_steps": 6, "train.eval_every": 3, "train.warmup_steps": 2, "train.ema_decay": 0.9}
    over.update({f"train.{k}": v for k, v in train.items()})
    return cfg.with_overrides(over)


def test_training_writes_metrics_and_a_checkpoint_that_loads_with_weights_only(tmp_path):
    data = tiny_sudoku_set()
    result = train(tiny_cfg(), data, data, out_dir=tmp_path, progress=False, log_every=2, device="cpu")
    assert result.step == 6
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval" in r] == [3, 6]
    train_records = [r for r in records if "loss" in r]
    assert "train_exact" not in train_records[0]  # no puzzle has finished after 2 of 4 steps
    assert {"loss", "lr", "train_exact", "train_cell", "train_steps"} <= set(train_records[1])
    state = read_checkpoint(tmp_path / "last.pt")  # weights_only=True inside
    assert state["step"] == 6 and state["ema"] is not None and state["optimizer"] is not None
    model, cfg, _ = load_model(tmp_path / "last.pt")
    assert cfg == tiny_cfg()
    ema = state["ema"]
    assert "puzzle_emb" not in ema  # the EMA leaves it out, as the official: the live one is loaded
    assert all(torch.equal(p, ema.get(n, state["model"][n])) for n, p in model.named_parameters())  # EMA by default
    raw, _, _ = load_model(tmp_path / "last.pt", use_ema=False)
    assert all(torch.equal(p, state["model"][n]) for n, p in raw.named_parameters())


def test_eval_steps_sets_the_supervision_steps_of_the_evaluations_in_training_and_of_eval(tmp_path, capsys):
    from trm_lib.cli import main
    from trm_lib.data.puzzles import save_puzzles

    data = tiny_sudoku_set()
    cfg = tiny_cfg(eval_steps=6)  # the model trains with n_sup=4 and is scored after 6
    train(cfg, data, data, out_dir=tmp_path, progress=False, device="cpu")
    evals = [json.loads(line)["eval"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
             if "eval" in line]
    assert cfg.model.n_sup == 4 and [e["n_steps"] for e in evals] == [6, 6]
    assert all(len(e["exact_per_step"]) == 6 for e in evals)
    save_puzzles(data, tmp_path / "test.csv.gz")
    capsys.readouterr()  # the training's own evaluation lines
    assert main(["eval", "--checkpoint", str(tmp_path / "last.pt"), "--data", str(tmp_path / "test.csv.gz")]) == 0
    assert "6 supervision steps" in capsys.readouterr().out
    with pytest.raises(ValueError, match="eval_steps must be >= 0"):
        tiny_cfg(eval_steps=-1)


def test_training_follows_the_cosine_schedule_down_to_lr_min_ratio(tmp_path):
    data = tiny_sudoku_set()
    cfg = tiny_cfg(lr_min_ratio=0.1, warmup_steps=1)
    train(cfg, data, None, out_dir=tmp_path, progress=False, log_every=1, device="cpu")
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    base = cfg.train.lr
    assert lrs[0] == pytest.approx(base) and lrs[-1] == pytest.approx(base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 4 / 5))))
    assert lrs[1] == pytest.approx(base) and all(a > b for a, b in zip(lrs[1:], lrs[2:]))  # step 0 ends the warmup


def test_minutes_limit_counts_only_this_call_so_a_resumed_run_trains_again(tmp_path, monkeypatch):
    import types

    clock = iter(range(0, 10**6))  # a fake clock: every reading is one second later
    monkeypatch.setattr("trm_lib.train.time", types.SimpleNamespace(monotonic=lambda: float(next(clock))))
    data = tiny_sudoku_set()
    first = train(tiny_cfg(max_steps=80), data, out_dir=tmp_path, progress=False, device="cpu")
    assert first.seconds > 60  # the first run already used more than a minute
    result = train(tiny_cfg(max_steps=300), data, out_dir=tmp_path, progress=False, device="cpu", minutes=1)
    assert 80 + 20 < result.step < 300  # a fresh minute of training, then a stop


def test_resume_continues_from_the_checkpoint_step(tmp_path):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=3), data, data, out_dir=tmp_path, progress=False, device="cpu")
    first = read_checkpoint(tmp_path / "last.pt")
    result = train(tiny_cfg(max_steps=6), data, data, out_dir=tmp_path, progress=False, device="cpu")
    assert result.step == 6
    second = read_checkpoint(tmp_path / "last.pt")
    assert second["optimizer"]["optimizers"][0]["state"][0]["step"] == 6  # the optimizer went on too
    assert not torch.equal(first["model"]["head.weight"], second["model"]["head.weight"])
    steps = [r["step"] for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines())
             if "eval" in r]
    assert steps == [3, 6]  # one history, no restart from zero


def test_resuming_with_another_model_config_is_a_clear_error(tmp_path):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=2), data, data, out_dir=tmp_path, progress=False, device="cpu")
    other = tiny_cfg(max_steps=4).with_overrides(["model.n=3"])
    with pytest.raises(ValueError, match=r"another model config: model\.n: checkpoint 2 vs now 3"):
        train(other, data, data, out_dir=tmp_path, progress=False, device="cpu")


def test_data_that_does_not_fit_the_preset_is_a_clear_error():
    data = tiny_sudoku_set()
    with pytest.raises(ValueError, match="expects sudoku 6x6"):
        train(get_preset("sudoku6-cpu"), data, progress=False, device="cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _EagerToHalt(TRM):
    """A TRM whose Q head wants to halt at once, so exploration alone decides who goes on."""

    def __init__(self, cfg):
        super().__init__(cfg)
        with torch.no_grad():
            self.q_head.bias.fill_(5.0)


def _ddp_worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank))
    torch.set_num_threads(1)
    trm_lib.train.build_model = _EagerToHalt
    cfg = tiny_cfg(max_steps=4).with_overrides(["model.halt_exploration_prob=0.5"])
    train(cfg, tiny_sudoku_set(), out_dir=out_dir, progress=False, device="cpu")
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one_process_on_the_same_global_batch(tmp_path, monkeypatch):
    # exploration is on and decides who halts: every process draws it for the whole global batch
    monkeypatch.setattr(trm_lib.train, "build_model", _EagerToHalt)
    cfg = tiny_cfg(max_steps=4).with_overrides(["model.halt_exploration_prob=0.5"])
    single = train(cfg, tiny_sudoku_set(), out_dir=tmp_path / "one", progress=False, device="cpu")
    mp.spawn(_ddp_worker, args=(_free_port(), str(tmp_path / "two")), nprocs=2, join=True)
    one = read_checkpoint(tmp_path / "one" / "last.pt")
    two = read_checkpoint(tmp_path / "two" / "last.pt")
    assert single.step == two["step"] == 4
    for name, value in one["model"].items():
        torch.testing.assert_close(two["model"][name], value, atol=1e-5, rtol=1e-4)


def test_a_plot_of_a_running_log_drops_its_torn_last_line(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from trm_lib.viz.plots import plot_runs

    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1, "time_s": 1.0, "loss": 2.0}\n{"step": 2, "time_s": 2.0, "loss": 1.5}\n{"step": 3, "ti')
    fig = plot_runs(log, x="minutes")
    assert list(fig.axes[1].lines[0].get_ydata()) == [2.0, 1.5]
    assert "a torn last record" in capsys.readouterr().err
    assert log.read_text().endswith('"ti')  # plotting never rewrites the log


def test_plot_runs_draws_a_metrics_log_against_minutes_and_the_loss(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from trm_lib.viz.plots import METRICS, plot_runs

    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=4, eval_every=2), data, data, out_dir=tmp_path, progress=False, log_every=1, device="cpu")
    fig = plot_runs(tmp_path / "metrics.jsonl", "tiny", x="minutes", metrics=METRICS)
    acc, loss = fig.axes
    assert acc.get_xlabel() == "training time (minutes)" and len(acc.lines[0].get_xdata()) == 2
    assert [line.get_label() for line in acc.lines] == ["exact (whole grid)", "valid", "cell"]
    assert len(loss.lines[0].get_xdata()) == 4


def test_time_left_after_a_resume_counts_only_this_calls_steps_and_minutes():
    from trm_lib.train import time_left

    # resumed at step 1,000 of 2,000; 100 steps done here in 20 s: 900 left at 0.2 s each
    assert time_left(1100, 2000, 100, 20.0) == pytest.approx(180.0)
    # the same with --minutes 2: the run stops after 120 s of this call, 100 s from now
    assert time_left(1100, 2000, 100, 20.0, minutes=2) == pytest.approx(100.0)
    assert time_left(1000, 2000, 0, 0.0) is None


def test_a_log_window_averages_per_iteration_and_over_the_puzzles_that_halted():
    from types import SimpleNamespace

    from trm_lib.train_state import MetricsWindow

    window = MetricsWindow(torch.device("cpu"))

    def add(total, halted, exact, cell, steps):  # the fields of LossOutput and Carry the window reads
        loss = SimpleNamespace(total=torch.tensor(total), exact=torch.tensor(exact), cell_correct=torch.tensor(cell))
        window.add(loss, SimpleNamespace(halted=torch.tensor(halted), steps=torch.tensor(steps)))

    add(2.0, [True, False], [True, True], [1.0, 0.5], [3, 1])
    add(4.0, [True, True], [False, True], [0.5, 1.0], [2, 4])
    record = window.record(step=2, seconds=1.234, lr=0.1)
    assert record == {"step": 2, "time_s": 1.23, "lr": 0.1, "loss": 3.0, "halted_per_step": 1.5,
                      "train_exact": 2 / 3, "train_cell": 2.5 / 3, "train_steps": 3.0}
    add(1.0, [False, False], [True, True], [1.0, 1.0], [1, 1])
    assert window.steps == 1 and "train_exact" not in window.record(3, 2.0, 0.1)  # no puzzle halted
