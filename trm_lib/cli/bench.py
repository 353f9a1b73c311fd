"""`python -m trm_lib bench --preset NAME`: throughput, FLOPs per sample, peak memory, and the
fraction of a matrix-multiply peak measured in the same run (medians over timed repeats).

`--json FILE` also writes the figures as one JSON object (`.ci/gpu-check` collects them);
`train.compile=true` measures the compiled network (the first call, compilation included,
is timed separately as `first_call_s`).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from trm_lib.cli.args import positive_int
from trm_lib.config import PRESETS, get_preset
from trm_lib.limits import check_model_fits


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="training and inference throughput against a matmul peak")
    p.add_argument("--preset", default="sudoku6-cpu", help=", ".join(PRESETS))
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the preset's (capped at 64 on CPU)")
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures to FILE as JSON")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="change a field, e.g. model.n=4")
    return p


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn, device: torch.device, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):  # warm-up (and compilation, if any)
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(device: torch.device, repeats: int = 5) -> tuple[float, str]:
    """Measured FLOP/s of a large square matmul in the precision training uses."""
    dtype, n = (torch.bfloat16, 8192) if device.type == "cuda" else (torch.float32, 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = _median_seconds(lambda: a @ b, device, repeats)
    return 2 * n**3 / seconds, f"{str(dtype).removeprefix('torch.')} {n}x{n} matmul"


class TrainingIteration:
    """One training iteration of a config on a fixed random batch, callable repeatedly for timing."""

    def __init__(self, cfg, device: torch.device, batch_size: int):
        from trm_lib.act import initial_carry
        from trm_lib.device import maybe_compile
        from trm_lib.model import TRM
        from trm_lib.optim import build_optimizer

        check_model_fits(cfg.model, device, copies=4)
        self.cfg, self.device = cfg, device
        torch.manual_seed(0)
        self.model = TRM(cfg.model).to(device)
        maybe_compile(self.model.net, cfg.train.compile)
        self.opt = build_optimizer(self.model, cfg.train)
        self.x = torch.randint(2, cfg.model.vocab_size, (batch_size, cfg.model.seq_len), device=device)
        self.carry = initial_carry(self.model, self.x, self.x)

    def __call__(self) -> None:
        from trm_lib.act import train_step_forward
        from trm_lib.device import autocast
        from trm_lib.losses import trm_loss

        with autocast(self.device):
            self.carry, out = train_step_forward(self.model, self.carry, self.x, self.x)
            loss = trm_loss(out.logits, self.carry.labels, out.q_halt, self.cfg.train.loss)
        self.opt.zero_grad(set_to_none=True)
        loss.total.backward()
        self.opt.step()

    @torch.no_grad()
    def infer(self) -> None:
        """One supervision step without gradients, from the current carry."""
        from trm_lib.device import autocast

        with autocast(self.device):
            self.model(self.x, self.carry.y, self.carry.z)


def seconds_per_training_iteration(preset: str, device: torch.device | None = None, repeats: int = 5,
                                   batch_size: int | None = None) -> float:
    """Median wall time of one training iteration of a preset (random tokens; the first run is left out)."""
    from trm_lib.device import pick_device

    device = device or pick_device()
    cfg = get_preset(preset)
    return _median_seconds(TrainingIteration(cfg, device, batch_size or cfg.train.batch_size), device, repeats)


def flops_per_sample_step(cfg, device: torch.device) -> tuple[int, int]:
    """(training, inference) FLOPs of one sample and one supervision step, counted on an
    uncompiled copy of the network (the counter sees every matmul and attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    from trm_lib.device import autocast
    from trm_lib.losses import trm_loss
    from trm_lib.model import TRM

    model = TRM(cfg.model).to(device)
    one = torch.randint(2, cfg.model.vocab_size, (1, cfg.model.seq_len), device=device)
    with FlopCounterMode(display=False) as counter:
        with autocast(device):
            out = model(one)
            trm_loss(out.logits, one, out.q_halt).total.backward()
    train_flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        with autocast(device):
            model(one)
    return train_flops, counter.get_total_flops()


def measure(cfg, device: torch.device, batch: int, repeats: int = 5) -> dict:
    """The bench figures of `cfg` at `batch` on `device`, as one flat dict (rates per second)."""
    from trm_lib.device import describe
    from trm_lib.model import count_parameters

    check_model_fits(cfg.model, device, copies=4)  # before any network is built
    train_flops, infer_flops = flops_per_sample_step(cfg, device)
    peak, peak_what = matmul_peak(device, repeats)
    step = TrainingIteration(cfg, device, batch)
    _sync(device)
    t = time.perf_counter()
    step()  # the first call: compilation, if any, happens here
    _sync(device)
    first_call = time.perf_counter() - t
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_train = _median_seconds(step, device, repeats)
    peak_memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    t_infer = _median_seconds(step.infer, device, repeats)
    m = cfg.model
    result = dict(preset=cfg.name, device=describe(device), compile=cfg.train.compile, batch=batch,
                  parameters=count_parameters(step.model), T=m.T, n=m.n, positions=m.total_len,
                  repeats=repeats, first_call_s=first_call, peak_flops=peak, peak_what=peak_what,
                  peak_memory_bytes=peak_memory)
    for name, seconds, flops in (("train", t_train, train_flops), ("infer", t_infer, infer_flops)):
        rate = batch / seconds
        result.update({f"{name}_seconds": seconds, f"{name}_samples_steps_per_s": rate,
                       f"{name}_flops_per_sample_step": flops, f"{name}_flops_per_s": rate * flops,
                       f"{name}_fraction_of_peak": rate * flops / peak})
    return result


def run(args: argparse.Namespace) -> int:
    from trm_lib.device import banner, pick_device

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
