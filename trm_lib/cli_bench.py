"""`python -m trm_lib bench --preset NAME`: throughput, FLOPs per sample, and the fraction of
a matrix-multiply peak measured in the same run (medians over timed repeats)."""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from trm_lib.cli_args import positive_int
from trm_lib.config import PRESETS, get_preset


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="training and inference throughput against a matmul peak")
    p.add_argument("--preset", default="sudoku6-cpu", help=", ".join(PRESETS))
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the preset's (capped at 64 on CPU)")
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="change a field, e.g. model.n=4")
    return p


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up (and compilation, if any)
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

        from trm_lib.limits import check_model_fits

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


def run(args: argparse.Namespace) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    from trm_lib.device import autocast, banner, pick_device
    from trm_lib.losses import trm_loss
    from trm_lib.model import count_parameters

    device = pick_device(args.device)
    banner(device)
    cfg = get_preset(args.preset).with_overrides(args.overrides)
    m = cfg.model
    batch = args.batch_size or (cfg.train.batch_size if device.type == "cuda" else min(cfg.train.batch_size, 64))
    step = TrainingIteration(cfg, device, batch)
    model, x = step.model, step.x

    with FlopCounterMode(display=False) as counter:  # one sample, one supervision step
        one = x[:1]
        with autocast(device):
            out = model(one)
            trm_loss(out.logits, one, out.q_halt).total.backward()
    train_flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        with autocast(device):
            model(x[:1])
    infer_flops = counter.get_total_flops()

    peak, peak_what = matmul_peak(device, args.repeats)
    t_train = _median_seconds(step, device, args.repeats)
    t_infer = _median_seconds(step.infer, device, args.repeats)
    print(f"preset {cfg.name}: {count_parameters(model):,} parameters, batch {batch}, "
          f"T={m.T} n={m.n}, {m.total_len} positions")
    print(f"matmul peak: {peak / 1e12:.2f} TFLOP/s ({peak_what}, measured now)")
    for name, seconds, flops in (("training", t_train, train_flops), ("inference", t_infer, infer_flops)):
        rate = batch / seconds
        achieved = rate * flops
        print(f"{name:9s}: {rate:10.1f} samples x supervision steps / s   {seconds * 1000:8.1f} ms per step   "
              f"{flops / 1e9:7.3f} GFLOP per sample-step   {achieved / 1e12:6.3f} TFLOP/s = {achieved / peak:.0%} of peak")
    return 0
