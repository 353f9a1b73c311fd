"""`python -m trm_lib bench --preset NAME`: throughput, FLOPs per sample, peak memory, and the
fraction of a matrix-multiply peak measured in the same run (medians over timed repeats).

`--json FILE` also writes the figures as one JSON object (`.ci/gpu-check` collects them);
`train.compile=true` measures the compiled network (the first call, compilation included,
is timed separately as `first_call_s`). The measuring is `trm_lib.experiments.bench`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from trm_lib.cli.args import positive_int
from trm_lib.presets import PRESETS, get_preset


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="training and inference throughput against a matmul peak")
    p.add_argument("--preset", default="sudoku6-cpu", help=", ".join(PRESETS))
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the preset's (capped at 64 on CPU)")
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures to FILE as JSON")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="change a field, e.g. model.n=4")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.device import banner, pick_device
    from trm_lib.experiments.bench import measure

    device = pick_device(args.device)
    banner(device)
    cfg = get_preset(args.preset).with_overrides(args.overrides)
    m = cfg.model
    batch = args.batch_size or (cfg.train.batch_size if device.type == "cuda" else min(cfg.train.batch_size, 64))
    r = measure(cfg, device, batch, args.repeats)
    print(f"preset {cfg.name}: {r['parameters']:,} parameters, batch {batch}, "
          f"T={m.T} n={m.n}, {m.total_len} positions" + (", compiled" if cfg.train.compile else ""))
    print(f"matmul peak: {r['peak_flops'] / 1e12:.2f} TFLOP/s ({r['peak_what']}, measured now)")
    for label, name in (("training", "train"), ("inference", "infer")):
        print(f"{label:9s}: {r[f'{name}_samples_steps_per_s']:10.1f} samples x supervision steps / s   "
              f"{r[f'{name}_seconds'] * 1000:8.1f} ms per step   "
              f"{r[f'{name}_flops_per_sample_step'] / 1e9:7.3f} GFLOP per sample-step   "
              f"{r[f'{name}_flops_per_s'] / 1e12:6.3f} TFLOP/s = {r[f'{name}_fraction_of_peak']:.0%} of peak")
    first = f"first training call {r['first_call_s']:.1f} s"
    if r["peak_memory_bytes"] is not None:
        first = f"peak memory in training {r['peak_memory_bytes'] / 2**30:.2f} GiB; " + first
    print(first + (" (compilation included)" if cfg.train.compile else ""))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(r, indent=1) + "\n")
    return 0
