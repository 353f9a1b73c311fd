"""Nothing lost, nothing silent: a run survives SIGTERM, a busy folder is refused, resume is
exact, --fresh keeps the old files, a torn log line or a NaN loss is handled with a message."""
import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def _signals_during_step(step, times):
    """A loss function that sends this process SIGTERM `times` times during training step `step`."""
    import trm_lib.train as train_module
    real, calls = train_module.trm_loss, {"n": 0}

    def sending(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)  # the handler runs between bytecodes of this thread
        return real(*args, **kwargs)
    return sending


def test_a_second_sigterm_stops_at_once_without_saving_and_says_what_the_folder_holds(tmp_path, monkeypatch):
    import trm_lib.train as train_module
    from trm_lib.train_state import StoppedAtOnce

    monkeypatch.setattr(train_module, "trm_loss", _signals_during_step(step=4, times=2))
    with pytest.raises(StoppedAtOnce) as stopped:
        train(tiny_cfg(max_steps=10, eval_every=2), tiny_sudoku_set(), out_dir=tmp_path, log_every=1,
              progress=False, device="cpu")
    # step 4 was cut short and step 3 was never saved: the checkpoint still holds step 2
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 2
    assert stopped.value.saved == f"the checkpoint {tmp_path / 'last.pt'} holds step 2; the 1 step after it was not saved"


def test_a_second_sigterm_before_the_first_save_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    import trm_lib.train as train_module
    from trm_lib.cli import main

    monkeypatch.setattr(train_module, "trm_loss", _signals_during_step(step=2, times=2))
    data = tiny_sudoku_set(16)
    save_puzzles(data, tmp_path / "train.csv")
    code = main(["train", "--preset", "sudoku4-cpu", "--data", str(tmp_path / "train.csv"), "--test",
                 str(tmp_path / "train.csv"), "--out", str(tmp_path / "run"), "--device", "cpu",
                 "model.hidden_size=16", "model.expansion=1", "train.batch_size=8"])
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM
    assert "stopped at once by a second SIGTERM: nothing was saved" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_ctrl_c_while_the_data_loads_does_not_claim_a_checkpoint(tmp_path, monkeypatch, capsys):
    import trm_lib.cli.train as train_cli
    from trm_lib.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(train_cli, "load_puzzles", interrupted)
    code = main(["train", "--preset", "sudoku4-cpu", "--out", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 130
    assert "before training started: nothing new was saved" in err and "checkpoint" not in err


def test_a_log_without_its_checkpoint_is_kept_aside_not_continued(tmp_path, capsys):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=4), data, out_dir=tmp_path, log_every=2, progress=False, device="cpu")
    (tmp_path / "last.pt").unlink()  # or the first save was killed
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, log_every=2, progress=False, device="cpu")
    assert [r["step"] for r in _records(tmp_path)] == [2]  # the new run's log alone
    aside = tmp_path / "metrics.before-fresh-1.jsonl"
    assert [json.loads(line)["step"] for line in aside.read_text().splitlines()] == [2, 4]
    assert "no last.pt to resume from: this is a new run" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    ({"train.optimizer": "adamw"}, "was trained with train.optimizer=adam_atan2, not adamw"),
    ({"train.ema_decay": 0.0}, "holds EMA weights (train.ema_decay=0.9) that train.ema_decay=0 would drop"),
])
def test_a_resume_that_would_change_the_optimizer_or_drop_the_ema_is_refused(tmp_path, change, message):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, progress=False, device="cpu")
    with pytest.raises(ValueError, match=re.escape(message)):
        train(tiny_cfg(max_steps=4).with_overrides(change), data, out_dir=tmp_path, progress=False, device="cpu")
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_without_an_ema_no_output_claims_ema_weights(tmp_path, capsys):
    from trm_lib.cli import main

    data = tiny_sudoku_set(16)
    save_puzzles(data, tmp_path / "train.csv")
    args = ["--data", str(tmp_path / "train.csv"), "--device", "cpu"]
    assert main(["train", "--preset", "sudoku4-cpu", "--test", str(tmp_path / "train.csv"), "--out",
                 str(tmp_path / "run"), "model.hidden_size=16", "model.expansion=1", "train.batch_size=8",
                 "train.max_steps=2", "train.ema_decay=0", *args]) == 0
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "last.pt"), *args]) == 0
    out = capsys.readouterr().out
    assert "EMA weights" not in out
    assert "raw weights: train.ema_decay=0" in out and "raw weights: trained without an EMA" in out


def test_a_full_disk_says_so_removes_the_temporary_and_names_the_last_good_checkpoint(tmp_path, monkeypatch):
    import errno

    import trm_lib.checkpoint as checkpoint_module
    real, saves = checkpoint_module.torch.save, {"n": 0}

    def filling(state, path):
        saves["n"] += 1
        if saves["n"] < 2:
            return real(state, path)
        Path(path).write_bytes(b"half a checkpoint")  # the disk fills up part way
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 983808 vs 983696")

    monkeypatch.setattr(checkpoint_module.torch, "save", filling)
    with pytest.raises(OSError) as failed:
        train(tiny_cfg(max_steps=6, eval_every=2), tiny_sudoku_set(), out_dir=tmp_path, progress=False, device="cpu")
    assert str(failed.value) == (f"no space left on the device while saving {tmp_path / 'last.pt'}; "
                                 f"the last good checkpoint is step 2 in {tmp_path / 'last.pt'}")
    assert saves["n"] == 2  # no second attempt on the way out
    assert not list(tmp_path.glob("*.tmp"))
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_an_out_that_is_a_file_is_refused_before_training(tmp_path):
    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(ValueError, match="run folder .* is a file; give --out a folder"):
        train(tiny_cfg(max_steps=2), tiny_sudoku_set(), out_dir=tmp_path / "run", progress=False, device="cpu")


def _first_moment(state):
    moments = state["optimizer"]["optimizers"][0]["state"][0]
    return next(k for k, v in moments.items() if isinstance(v, torch.Tensor) and v.dim() > 0)


DAMAGED_RESUMES = [  # (what, edit of the saved dict, what the message must say)
    ("a weight that is not a tensor", lambda s: s["model"].update({"head.weight": [1.0, 2.0]}),
     "head.weight is a list, expected a tensor"),
    ("an EMA that is a list", lambda s: s.update(ema=[1.0]), "'ema' is a list (expected a dict)"),
    ("an EMA weight that is text", lambda s: s["ema"].update({"head.weight": "x"}), "EMA weight head.weight is a str"),
    ("a bad RNG state", lambda s: s["train_state"].update(data_rng=torch.zeros(3, dtype=torch.uint8)),
     "run state (train_state) is damaged"),
    ("train_state without sums", lambda s: s["train_state"].pop("sums"), "run state (train_state) lacks 'sums'"),
    ("an optimizer moment of the wrong shape",
     lambda s: s["optimizer"]["optimizers"][0]["state"][0].update({_first_moment(s): torch.zeros(7, 7, 7)}),
     "the optimizer state is damaged"),
    ("a negative step", lambda s: s.update(step=-5), "'step' is -5 (expected 0 or more)"),
]


@pytest.mark.parametrize("what, change, message", DAMAGED_RESUMES, ids=[c[0] for c in DAMAGED_RESUMES])
def test_a_damaged_checkpoint_is_refused_on_resume_with_one_message_naming_it(tmp_path, what, change, message):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, progress=False, device="cpu")
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    change(state)
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        train(tiny_cfg(max_steps=4), data, out_dir=tmp_path, progress=False, device="cpu")
    assert str(tmp_path / "last.pt") in str(refused.value)


def test_a_log_line_whose_step_is_not_a_number_is_named_by_file_and_line(tmp_path):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=2), data, out_dir=tmp_path, log_every=1, progress=False, device="cpu")
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    lines[0] = lines[0].replace('"step": 1', '"step": "abc"')
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 1: not a metrics record"):
        train(tiny_cfg(max_steps=4), data, out_dir=tmp_path, progress=False, device="cpu")
