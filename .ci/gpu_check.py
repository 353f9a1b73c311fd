"""The GPU check: everything a short GPU slot should measure, in one run of at most 9 minutes.

    .ci/gpu-check OUT_DIR           on a machine with a CUDA GPU (about 9 minutes)
    .ci/gpu-check --tiny OUT_DIR    the same parts at toy sizes on the CPU (seconds; the tests run it)

Parts, in order, each in its own process under its own time limit, so a part that hangs,
crashes or runs out of memory costs its own budget and nothing else; each writes its
results into OUT_DIR as soon as it finishes:

    env        the GPU, torch and CUDA versions                          -> env.json
    tests      tests/test_cuda.py (bf16 on CUDA against float32 on CPU)   -> tests.xml
    bench-*    `bench` on the paper presets at batch 768, eager and with torch.compile
                                                                          -> bench-PRESET[-compiled].json
    train      sudoku-extreme-mlp from scratch, the time that is left up to 5 minutes,
               1,000 test puzzles evaluated every minute                  -> metrics.jsonl (copied as it grows)
    export     the EMA weights of the last evaluation in bf16             -> PRESET-ema-bf16.pt

and always: parts.jsonl (one line per part: status ok / failed / timeout / skipped, seconds,
limit), logs/PART.log (its output), summary.json and summary.txt (also printed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):  # trm_lib and gpu_summary, when run as a file
    if _path not in sys.path:
        sys.path.insert(0, _path)

TOTAL_S = 540  # 9 minutes: a 10-minute command with room to spare
TRAIN_STARTUP_S = 30  # the training part's own start (imports, data, model) and final save
GRACE_S = 5  # after SIGTERM (a training run saves), before SIGKILL


@dataclass
class Part:
    name: str
    argv: list[str]
    limit_s: float  # at most this long; the training part gets what is left, up to this
    poll: Callable[[], None] | None = None  # called every few seconds while it runs
    skip: str = ""  # a reason not to run it


@dataclass
class Plan:
    """The sizes of one run: the full GPU check, or the same parts at toy sizes on the CPU."""

    device: str
    presets: tuple[str, ...] = ("sudoku-extreme-mlp", "maze-hard-att")
    batch: int = 768
    repeats: int = 5
    model: list[str] = field(default_factory=list)  # overrides for every preset
    compile: bool = True
    bench_limits: dict[str, float] = field(default_factory=lambda: {
        "sudoku-extreme-mlp": 35, "maze-hard-att": 50,
        "sudoku-extreme-mlp-compiled": 60, "maze-hard-att-compiled": 65})
    env_limit: float = 20
    tests_limit: float = 75
    export_limit: float = 20
    train_preset: str = "sudoku-extreme-mlp"
    train_minutes: float = 5.0
    train_limit: float = 360
    eval_minutes: float = 1.0
    eval_size: int = 1000
    train: list[str] = field(default_factory=list)  # overrides for the training run
    total_s: float = TOTAL_S


def full_plan() -> Plan:
    return Plan(device="cuda")


def tiny_plan() -> Plan:
    """Every part at toy sizes: the paper presets shrunk to under 200k weights, no compiler."""
    small = ["model.hidden_size=32", "model.num_heads=2", "model.expansion=1", "model.T=1", "model.n=1",
             "model.n_sup=2", "model.puzzle_emb_len=2"]
    # limits far above the seconds each part takes, so that a busy CI machine does not fail it
    return Plan(device="cpu", batch=4, repeats=1, model=small, compile=False,
                bench_limits={k: 240 for k in Plan(device="cpu").bench_limits},
                env_limit=120, tests_limit=240, export_limit=120, train_minutes=0.1, train_limit=300,
                eval_minutes=0.01, eval_size=20, train=["train.batch_size=8", "train.max_steps=30"],
                total_s=1800)


def worst_case_train_s(plan: Plan) -> float:
    """Training time left when every part before it runs to its limit."""
    before = plan.env_limit + plan.tests_limit + sum(plan.bench_limits.values())
    return min(plan.train_limit, plan.total_s - before - plan.export_limit - GRACE_S) - TRAIN_STARTUP_S


def build_parts(plan: Plan, out: Path, work: Path) -> list[Part]:
    py, me = sys.executable, str(Path(__file__).resolve())
    parts = [Part("env", [py, me, "--env", str(out / "env.json")], plan.env_limit)]
    tests = [py, "-m", "pytest", "tests/test_cuda.py", "-q", "-p", "no:cacheprovider",
             f"--junitxml={out / 'tests.xml'}"]
    parts.append(Part("tests", tests, plan.tests_limit))
    for compiled in (False, True):
        for preset in plan.presets:
            name = f"{preset}-compiled" if compiled else preset
            argv = [py, "-m", "trm_lib", "bench", "--preset", preset, "--batch-size", str(plan.batch),
                    "--repeats", str(plan.repeats), "--device", plan.device,
                    "--json", str(out / f"bench-{name}.json"), *plan.model, f"train.compile={compiled}"]
            skip = "" if plan.compile or not compiled else "no compiler run at toy size on the CPU"
            parts.append(Part(f"bench-{name}", argv, plan.bench_limits[name], skip=skip))
    run_dir = work / "train"
    train = [py, "-m", "trm_lib", "train", "--preset", plan.train_preset, "--out", str(run_dir),
             "--minutes", "MINUTES", "--eval-size", str(plan.eval_size), "--eval-minutes", str(plan.eval_minutes),
             "--fresh", "--device", plan.device, *plan.model, *plan.train]

    def copy_metrics() -> None:
        if (run_dir / "metrics.jsonl").exists():
            shutil.copyfile(run_dir / "metrics.jsonl", out / "metrics.jsonl")

    parts.append(Part("train", train, plan.train_limit, poll=copy_metrics))
    export = [py, me, "--export", str(run_dir / "last.pt"), str(out / f"{plan.train_preset}-ema-bf16.pt")]
    parts.append(Part("export", export, plan.export_limit))
    return parts


def select(parts: list[Part], only: list[str]) -> None:
    """Skip the parts not named in `only` ("bench" names every bench part; "train" brings
    its export). For a rerun of what failed, in the time a slot has left."""
    wanted = set(only) | ({"export"} if "train" in only else set())
    for part in parts:
        if not any(part.name == w or part.name.startswith(w + "-") for w in wanted):
            part.skip = part.skip or "not asked for (--only)"


def run_part(part: Part, out: Path) -> dict:
    """Run one part in its own process group; stop it at its limit. Returns its record."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    record = {"part": part.name, "limit_s": round(part.limit_s, 1)}
    if part.skip:
        return {**record, "status": "skipped", "reason": part.skip, "seconds": 0.0}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    with open(logs / f"{part.name}.log", "w") as log:
        log.write("+ " + " ".join(part.argv) + "\n")
        log.flush()
        try:
            proc = subprocess.Popen(part.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as err:
            log.write(f"could not start: {err}\n")
            return {**record, "status": "failed", "rc": None, "seconds": 0.0}
        status = None
        while status is None:
            try:
                rc = proc.wait(timeout=min(2.0, max(0.1, part.limit_s - (time.monotonic() - start))))
                status = "ok" if rc == 0 else "failed"
            except subprocess.TimeoutExpired:
                if time.monotonic() - start >= part.limit_s:
                    rc, status = _stop(proc), "timeout"
            if part.poll is not None:
                part.poll()
    return {**record, "status": status, "rc": rc, "seconds": round(time.monotonic() - start, 1)}


def _stop(proc: subprocess.Popen) -> int:
    """SIGTERM to the part's whole process group (compiler workers too), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def run_parts(parts: list[Part], out: Path, deadline: float | None = None,
              before: Callable[[Part], None] | None = None) -> list[dict]:
    """Run the parts in order, appending each record to out/parts.jsonl as it ends."""
    records = []
    for part in parts:
        if before is not None:
            before(part)
        if deadline is not None:
            part.limit_s = max(0.0, min(part.limit_s, deadline - time.monotonic()))
            if part.limit_s < 1 and not part.skip:
                part.skip = "no time left before the deadline"
        record = run_part(part, out)
        records.append(record)
        with open(out / "parts.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{record['part']:34s} {record['status']:8s} {record['seconds']:6.1f} s "
              f"(limit {record['limit_s']:.0f} s)", flush=True)
    return records


def check(plan: Plan, out: Path, work: Path | None = None, only: list[str] | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts.jsonl").unlink(missing_ok=True)
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="trm-gpu-check-")) if own_work else work
    start = time.monotonic()
    deadline = start + plan.total_s
    parts = build_parts(plan, out, work)
    if only:
        select(parts, only)
    export = parts[-1]

    def before(part: Part) -> None:
        if part.name != "env" and not part.skip and _no_gpu(plan, out):
            part.skip = "no CUDA GPU visible (env.json); `--tiny` runs the CPU version"
        if part.name == "train":  # the time that is left, less what the export needs
            part.limit_s = min(part.limit_s, deadline - time.monotonic() - export.limit_s - GRACE_S)
            minutes = min(plan.train_minutes, (part.limit_s - TRAIN_STARTUP_S) / 60)
            part.argv[part.argv.index("MINUTES")] = f"{max(minutes, 0.01):.2f}"

    try:
        records = run_parts(parts, out, deadline, before)
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    from gpu_summary import summarise

    text = summarise(out, plan, records, time.monotonic() - start)
    print(text)
    return 0 if all(r["status"] in ("ok", "skipped") for r in records) and not _no_gpu(plan, out) else 1


def _no_gpu(plan: Plan, out: Path) -> bool:
    if plan.device != "cuda" or not (out / "env.json").exists():
        return False
    return not json.loads((out / "env.json").read_text()).get("cuda_available", False)


def write_env(path: Path) -> None:
    """The machine in a few numbers: torch, CUDA, the GPU, its driver."""
    import platform

    import torch

    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
           "python": platform.python_version(), "cpus": os.cpu_count(), "host": platform.node()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_count=torch.cuda.device_count(), capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported())
    try:
        env["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        env["nvidia_smi"] = None
    path.write_text(json.dumps(env, indent=1) + "\n")
    print(json.dumps(env, indent=1))


def export_ema(run_checkpoint: Path, out: Path) -> None:
    import torch

    from trm_lib.pretrained import export_weights

    path = export_weights(run_checkpoint, out, dtype=torch.bfloat16)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=".ci/gpu-check", description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, nargs="?", help="folder for the results (made if missing)")
    p.add_argument("--tiny", action="store_true", help="toy sizes on the CPU, in seconds")
    p.add_argument("--work", type=Path, default=None, help="folder for the training run (default: a temporary one)")
    p.add_argument("--only", default="", help="run only these parts, e.g. tests,bench (env always runs)")
    p.add_argument("--env", type=Path, help=argparse.SUPPRESS)  # the parts' entry points
    p.add_argument("--export", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.env:
        write_env(args.env)
        return 0
    if args.export:
        export_ema(*args.export)
        return 0
    if args.out is None:
        p.error("give OUT_DIR, the folder for the results")
    work = args.work.resolve() if args.work else None
    only = [w for w in args.only.split(",") if w] + ["env"] if args.only else None
    return check(tiny_plan() if args.tiny else full_plan(), args.out.resolve(), work, only)


if __name__ == "__main__":
    raise SystemExit(main())
