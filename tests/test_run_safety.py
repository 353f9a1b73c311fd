"""Nothing lost, nothing silent: a run survives SIGTERM, a busy folder is refused, resume is
exact, --fresh keeps the old files, a torn log line or a NaN loss is handled with a message."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.checkpoint import read_checkpoint
from trm_lib.data.puzzles import save_puzzles
from trm_lib.run_folder import RunFolderLock
from trm_lib.train import TrainingDiverged, train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _records(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_sigterm_saves_a_checkpoint_and_exits_with_a_message(tmp_path):
    data = tiny_sudoku_set(16)
    save_puzzles(data, tmp_path / "train.csv")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "trm_lib", "train", "--preset", "sudoku4-cpu", "--data", str(tmp_path / "train.csv"),
           "--test", str(tmp_path / "train.csv"), "--out", str(out), "--eval-size", "4", "--device", "cpu",
           "model.hidden_size=16", "model.expansion=1", "train.batch_size=8", "train.max_steps=1000000",
           "train.eval_every=1000000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):  # the first record (step 50) says the loop is running
            if (out / "metrics.jsonl").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr and "run the same command to resume" in stderr
    state = read_checkpoint(out / "last.pt")
    assert state["step"] >= 50
    assert _records(out)[-1]["step"] == state["step"]  # the steps before the save are in the log
    assert not list(out.glob("*.tmp"))


def _interrupt_at(step):
    def on_record(record):
        if record["step"] == step:
            raise KeyboardInterrupt
    return on_record


def test_an_interrupted_and_resumed_run_equals_the_uninterrupted_one_bitwise(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg, data = tiny_cfg(max_steps=24, eval_every=8), tiny_sudoku_set()
        assert cfg.model.halt_exploration_prob > 0  # the exploration draws must be resumed too
        whole = train(cfg, data, data, out_dir=tmp_path / "whole", progress=False, log_every=1, device="cpu")
        with pytest.raises(KeyboardInterrupt):
            train(cfg, data, data, out_dir=tmp_path / "parts", progress=False, log_every=1, device="cpu",
                  on_record=_interrupt_at(11))
        assert read_checkpoint(tmp_path / "parts" / "last.pt")["step"] == 11
        resumed = train(cfg, data, data, out_dir=tmp_path / "parts", progress=False, log_every=1, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert whole.step == resumed.step == 24
    a, b = read_checkpoint(tmp_path / "whole" / "last.pt"), read_checkpoint(tmp_path / "parts" / "last.pt")
    for key in ("model", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), f"{key} {name} differs after resume"
    for name, value in a["train_state"]["carry"].items():
        assert torch.equal(value, b["train_state"]["carry"][name]), f"carry {name} differs"
    untimed = [[{k: v for k, v in r.items() if k != "time_s"} for r in _records(tmp_path / f)]
               for f in ("whole", "parts")]
    assert untimed[0] == untimed[1]  # every loss and every evaluation, identical


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path):
    data = tiny_sudoku_set()
    with RunFolderLock(tmp_path):  # as a run in another process holds it
        with pytest.raises(ValueError, match=r"is in use by process \d+ .*another --out"):
            train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, progress=False, device="cpu")
    assert not (tmp_path / "metrics.jsonl").exists()


def test_a_lock_left_by_a_dead_process_and_its_stale_temporary_do_not_block(tmp_path):
    (tmp_path / ".lock").write_text("process 999999 on elsewhere\n")  # its flock died with it
    (tmp_path / "last.pt.4242.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "last.pt.tmp").write_bytes(b"older name")
    result = train(tiny_cfg(max_steps=2), tiny_sudoku_set(), out_dir=tmp_path, progress=False, device="cpu")
    assert result.step == 2 and not list(tmp_path.glob("*.tmp"))


def test_fresh_moves_the_old_log_and_checkpoint_aside(tmp_path, capsys):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=4), data, out_dir=tmp_path, log_every=2, progress=False, device="cpu")
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, log_every=2, resume=False, device="cpu")
    assert [r["step"] for r in _records(tmp_path)] == [2]
    assert "kept the earlier metrics.jsonl" in capsys.readouterr().out
    old = tmp_path / "metrics.before-fresh-1.jsonl"
    assert [json.loads(line)["step"] for line in old.read_text().splitlines()] == [2, 4]
    assert read_checkpoint(tmp_path / "last.before-fresh-1.pt")["step"] == 4


def test_a_torn_last_line_of_the_log_is_dropped_with_a_warning(tmp_path, capsys):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, log_every=1, progress=False, device="cpu")
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')  # the process died mid-write
    result = train(tiny_cfg(max_steps=4), data, out_dir=tmp_path, log_every=1, progress=False, device="cpu")
    assert result.step == 4 and [r["step"] for r in _records(tmp_path)] == [1, 2, 3, 4]
    assert "torn last record" in capsys.readouterr().err


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import trm_lib.train as train_module

    calls = {"n": 0}
    real = train_module.trm_loss

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        if calls["n"] > 4:
            loss.total = loss.total * float("nan")
        return loss

    monkeypatch.setattr(train_module, "trm_loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss became nan between steps 5 and 6; the last good "
                                               r"checkpoint \(step 4\)"):
        train(tiny_cfg(max_steps=10, eval_every=2), tiny_sudoku_set(), out_dir=tmp_path, log_every=3,
              progress=False, device="cpu")
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 4 and all(torch.isfinite(v).all() for v in state["model"].values())
    text = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
