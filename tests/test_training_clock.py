"""`eval_minutes`: evaluations follow the clock, whatever the number of steps per minute."""
import json
import types

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.train import train


def test_eval_minutes_evaluates_and_saves_on_the_clock_not_the_step_count(tmp_path, monkeypatch):
    clock = iter(range(0, 10**6))  # a fake clock: every reading is one second later
    monkeypatch.setattr("trm_lib.train.time", types.SimpleNamespace(monotonic=lambda: float(next(clock))))
    data = tiny_sudoku_set()
    cfg = tiny_cfg(max_steps=250, eval_every=10**6)  # never by the step count
    saves = []
    monkeypatch.setattr("trm_lib.train_run.save_checkpoint", lambda *args, **kw: saves.append(args[3]))
    train(cfg, data, data, out_dir=tmp_path, progress=False, device="cpu", eval_minutes=1, log_every=10**6)
    evals = [r for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines()) if "eval" in r]
    times = [r["time_s"] for r in evals]
    assert len(evals) >= 3 and evals[-1]["step"] == 250  # every minute, and at the end
    assert times[0] >= 60 and all(b - a >= 60 for a, b in zip(times[:-2], times[1:-1]))  # a minute apart
    assert saves == [r["step"] for r in evals]  # a checkpoint with every evaluation


def test_without_eval_minutes_only_the_step_count_and_the_end_evaluate(tmp_path):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=7, eval_every=3), data, data, out_dir=tmp_path, progress=False, device="cpu")
    evals = [r["step"] for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines()) if "eval" in r]
    assert evals == [3, 6, 7]
