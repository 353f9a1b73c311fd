"""The setup check behind `python -m trm_lib doctor`: is this machine ready for the course, and
how long will the lessons take on it?

It reports the versions (Python, torch and the course's requirements), the device, the threads
torch will use against the cores free right now, then times a few training iterations of the
course's three CPU presets (about 5 seconds) and turns them into an estimate per lesson.

The estimate is each lesson's training work, counted in iterations of those presets, times the
time measured here, plus half again for evaluation, plots and start-up (a rough allowance). The counts come from
the lessons' default (not FAST) settings; a lesson that mostly evaluates counts its evaluation.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import sys
from dataclasses import dataclass

import torch

from trm_lib.data.paths import REPO

# lesson -> {preset: training iterations its default run does}. Lesson 01's one-pass network
# runs 1 network call per iteration against the TRM's 6, so its 600 steps count as 100.
LESSON_WORK: dict[str, dict[str, float]] = {
    "00 start here": {"sudoku6-cpu": 20, "maze-small-cpu": 20},  # its own short timing, a few solves
    "01 the MLP block": {"sudoku6-cpu": 100},  # 600 one-pass steps
    "02 latent recursion": {"sudoku6-cpu": 700},  # 600 one-pass steps, 600 TRM steps
    "03 deep supervision": {"sudoku4-cpu": 240, "sudoku6-cpu": 1200},  # 60 batches x 4 steps; 2 x 600
    "04 ACT halting": {"sudoku4-cpu": 300, "sudoku6-cpu": 100},  # 300 steps; halting statistics
    "05 EMA and the recipe": {"sudoku4-cpu": 600, "sudoku6-cpu": 100},  # 300 steps, raw and EMA
    "06 Sudoku end to end": {"sudoku6-cpu": 1000},
    "07 mazes end to end": {"maze-small-cpu": 1000},
    "08 beyond the paper": {"sudoku6-cpu": 1700},  # 5 ablations x 300 steps, scaling and probes
    "09 your own TRM": {"sudoku4-cpu": 800},  # 2 models x 100 batches x 4 supervision steps
}
OVERHEAD = 1.5  # evaluation, plots and start-up on top of the training iterations (a rough allowance)
REQUIREMENTS = REPO / "requirements.txt"


@dataclass
class Finding:
    ok: bool
    text: str


def _plural(n: float, noun: str) -> str:
    return f"{n:g} {noun}" + ("" if n == 1 else "s")


def versions() -> list[Finding]:
    """Python 3.10+, and each requirement installed at (at least) the version the course needs."""
    found = [Finding(sys.version_info >= (3, 10), f"Python {platform.python_version()}"
                     + ("" if sys.version_info >= (3, 10) else ": the course needs 3.10 or newer"))]
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", line.strip())
        if not m:
            continue
        name, wanted = m.groups()
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found.append(Finding(False, f"{name}: not installed (pip install -r requirements.txt)"))
            continue
        ok = _as_tuple(have) >= _as_tuple(wanted)
        found.append(Finding(ok, f"{name} {have}" + ("" if ok else f": older than the {wanted} the course needs")))
    return found


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3])


def threads() -> list[Finding]:
    """torch's threads against the machine's cores and the load on them now."""
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    n = torch.get_num_threads()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    text = (f"torch uses {_plural(n, 'thread')} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
            f"{_plural(usable, 'core')} of {cores} open to it; load average {load:.1f}")
    policy = wait_policy()
    text += f"; its threads wait {'passively' if policy == 'PASSIVE' else 'by spinning'}"
    if n > 1 and policy != "PASSIVE" and cores - load < n - 0.5:
        return [Finding(False, text + f": other work keeps about {min(load, cores):.1f} cores busy, and a "
                                      "spinning thread starves the working one (10x slower measured); "
                                      "import trm_lib before torch, or start Jupyter with OMP_WAIT_POLICY=PASSIVE")]
    if load > cores - 0.5:
        return [Finding(True, text + ": the machine is busy, so the times below are longer than on a free one")]
    if n > 1 and policy == "PASSIVE" and load < 0.5:
        return [Finding(True, text + QUIET_ADVICE)]
    return [Finding(True, text)]


# measured on the 2-core CPU, 2 threads, nothing else running (README, "Set up"): sudoku6-cpu
# 206 ms spinning against 276 passive; maze-small-cpu 391 against 589
QUIET_ADVICE = ("; nothing else runs now, so a long training run started from a shell as "
                "`OMP_WAIT_POLICY=ACTIVE python -m trm_lib train ...` would be 1.3-1.5x faster (its threads "
                "spin), but 10x slower as soon as other work takes a core")


def wait_policy() -> str:
    """How torch's OpenMP threads wait: OMP_WAIT_POLICY as it was when torch loaded (trm_lib sets
    PASSIVE when it is imported first; None when torch came first and nobody had set it)."""
    import trm_lib

    return (trm_lib.OMP_WAIT_POLICY_AT_TORCH_LOAD or "").upper() or "spinning (the default)"


def time_presets(device: torch.device, repeats: int = 3) -> dict[str, float]:
    """Seconds per training iteration of each preset the lessons train (median of `repeats`)."""
    from trm_lib.experiments.bench import seconds_per_training_iteration

    presets = sorted({p for work in LESSON_WORK.values() for p in work})
    return {p: seconds_per_training_iteration(p, device, repeats=repeats) for p in presets}


def lesson_minutes(seconds: dict[str, float]) -> dict[str, float]:
    """Estimated minutes of each lesson's default run, from the measured seconds per iteration."""
    return {lesson: OVERHEAD * sum(n * seconds[p] for p, n in work.items()) / 60
            for lesson, work in LESSON_WORK.items()}


def report(device: torch.device | None = None, repeats: int = 3) -> tuple[list[str], bool]:
    """The doctor's lines and whether everything needed is in place."""
    from trm_lib.device import describe, pick_device

    device = device or pick_device()
    lines, ok = [], True
    for f in versions() + [Finding(True, describe(device))] + threads():
        lines.append(f"{'ok  ' if f.ok else 'fix '} {f.text}")
        ok &= f.ok or f.text.startswith("torch uses")  # a busy CPU is advice, not a missing piece
    seconds = time_presets(device, repeats)
    lines.append("")
    lines.append("one training iteration here: " + ", ".join(f"{p} {1000 * s:.0f} ms" for p, s in seconds.items()))
    minutes = lesson_minutes(seconds)
    lines.append(f"expected lesson times on this machine, as it is loaded now "
                 f"(about {sum(minutes.values()):.0f} minutes of computing in all):")
    lines += [f"  {lesson:24s} {_about(m)}" for lesson, m in minutes.items()]
    return lines, ok


def _about(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    return f"about {minutes:.0f} minute{'' if round(minutes) == 1 else 's'}"
