"""`.ci/gpu-check`: its CPU version runs every part and writes every file; a part that fails
or overruns its limit is recorded and the next part still runs; the full plan fits its slot."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("gpu_check", ROOT / ".ci" / "gpu_check.py")
gpu_check = sys.modules["gpu_check"] = importlib.util.module_from_spec(SPEC)  # dataclasses look it up
SPEC.loader.exec_module(gpu_check)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    done = subprocess.run([str(ROOT / ".ci" / "gpu-check"), "--tiny", str(out)], capture_output=True,
                          text=True, timeout=1800)
    return out, done


def test_the_tiny_check_runs_every_part_on_the_cpu(tiny_run):
    out, done = tiny_run
    assert done.returncode == 0, done.stdout + done.stderr
    parts = {r["part"]: r["status"] for r in map(json.loads, (out / "parts.jsonl").read_text().splitlines())}
    assert parts == {"env": "ok", "tests": "ok", "bench-sudoku-extreme-mlp": "ok", "bench-maze-hard-att": "ok",
                     "bench-sudoku-extreme-mlp-compiled": "skipped", "bench-maze-hard-att-compiled": "skipped",
                     "train": "ok", "export": "ok"}
    assert "skipped" in (out / "logs" / "tests.log").read_text()  # the CUDA tests, on a CPU
    assert done.stdout.rstrip().endswith((out / "summary.txt").read_text().rstrip())  # printed at the end


def test_the_bench_files_hold_throughput_flops_and_the_peak(tiny_run):
    out, _ = tiny_run
    for preset in ("sudoku-extreme-mlp", "maze-hard-att"):
        bench = json.loads((out / f"bench-{preset}.json").read_text())
        assert bench["preset"] == preset and bench["batch"] == 4 and bench["compile"] is False
        assert bench["train_samples_steps_per_s"] > 0 and 0 < bench["train_fraction_of_peak"]
        assert bench["peak_what"] == "float32 2048x2048 matmul" and bench["peak_memory_bytes"] is None


def test_the_training_log_has_evaluations_and_the_bf16_weights_load(tiny_run):
    from trm_lib.checkpoint import load_model, read_checkpoint
    from trm_lib.evaluate import evaluate
    from trm_lib.data.paths import dataset_files
    from trm_lib.data.puzzles import load_puzzles

    out, _ = tiny_run
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval" in r]
    assert evals and evals[-1]["step"] == records[-1]["step"] and evals[-1]["eval"]["n_puzzles"] == 20
    weights = out / "sudoku-extreme-mlp-ema-bf16.pt"
    assert weights.stat().st_size < 16 * 2**20
    state = read_checkpoint(weights)
    assert state["optimizer"] is None and "data_rng" not in state["metrics"]
    assert {v.dtype for k, v in state["model"].items() if k not in ("y_init", "z_init")} == {torch.bfloat16}
    assert state["model"]["y_init"].dtype == torch.float32
    model, cfg, _ = load_model(weights)
    assert cfg.name == "sudoku-extreme-mlp" and next(model.parameters()).dtype == torch.float32
    result = evaluate(model, load_puzzles(dataset_files(cfg.dataset)[1]).subset(slice(0, 4)))
    assert result.n_puzzles == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"]["steps"] == records[-1]["step"] and summary["ema_mib"] < 16
    assert summary["bench"]["maze-hard-att-compiled"] == {"missing": "skipped: no compiler run at toy size on the CPU"}


def run_parts(tmp_path, *parts):
    return [r["status"] for r in gpu_check.run_parts(list(parts), tmp_path)]


def test_a_part_over_its_limit_is_stopped_and_the_next_part_still_runs(tmp_path):
    slow = gpu_check.Part("slow", [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"], 1.0)
    quick = gpu_check.Part("quick", [sys.executable, "-c", "print('done')"], 30.0)
    assert run_parts(tmp_path, slow, quick) == ["timeout", "ok"]
    records = [json.loads(line) for line in (tmp_path / "parts.jsonl").read_text().splitlines()]
    assert records[0]["seconds"] < 30 and records[0]["limit_s"] == 1.0
    assert "started" in (tmp_path / "logs" / "slow.log").read_text()
    assert "done" in (tmp_path / "logs" / "quick.log").read_text()


def test_a_failing_part_is_recorded_with_its_exit_code_and_the_next_still_runs(tmp_path):
    bad = gpu_check.Part("bad", [sys.executable, "-c", "raise SystemExit(3)"], 30.0)
    good = gpu_check.Part("good", [sys.executable, "-c", "pass"], 30.0)
    assert run_parts(tmp_path, bad, good) == ["failed", "ok"]
    assert json.loads((tmp_path / "parts.jsonl").read_text().splitlines()[0])["rc"] == 3


def test_the_full_check_fits_in_nine_minutes_and_always_trains_for_three():
    plan = gpu_check.full_plan()
    assert plan.total_s <= 540 and plan.batch == 768 and plan.eval_size == 1000 and plan.eval_minutes == 1
    assert gpu_check.worst_case_train_s(plan) >= 180  # every earlier part at its limit
    names = [p.name for p in gpu_check.build_parts(plan, Path("/out"), Path("/work"))]
    assert names == ["env", "tests", "bench-sudoku-extreme-mlp", "bench-maze-hard-att",
                     "bench-sudoku-extreme-mlp-compiled", "bench-maze-hard-att-compiled", "train", "export"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_the_full_check_without_a_gpu_stops_after_looking(tmp_path):
    done = subprocess.run([str(ROOT / ".ci" / "gpu-check"), str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    assert "no CUDA GPU visible" in done.stdout
    statuses = [json.loads(line)["status"] for line in (tmp_path / "parts.jsonl").read_text().splitlines()]
    assert statuses[0] == "ok" and set(statuses[1:]) == {"skipped"}


def test_only_runs_the_named_parts_for_a_rerun():
    parts = gpu_check.build_parts(gpu_check.full_plan(), Path("/out"), Path("/work"))
    gpu_check.select(parts, ["env", "bench", "train"])
    assert [p.name for p in parts if not p.skip] == [
        "env", "bench-sudoku-extreme-mlp", "bench-maze-hard-att", "bench-sudoku-extreme-mlp-compiled",
        "bench-maze-hard-att-compiled", "train", "export"]
    parts = gpu_check.build_parts(gpu_check.full_plan(), Path("/out"), Path("/work"))
    gpu_check.select(parts, ["env", "bench-maze-hard-att-compiled"])
    assert [p.name for p in parts if not p.skip] == ["env", "bench-maze-hard-att-compiled"]
