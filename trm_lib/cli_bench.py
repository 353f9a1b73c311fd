"""`python -m trm_lib bench --preset NAME`: throughput, FLOPs per sample, and the fraction of
a matrix-multiply peak measured in the same run (medians over timed repeats)."""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from trm_lib.config import PRESETS, get_preset


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="training and inference throughput against a matmul peak")
    p.add_argument("--preset", default="sudoku6-cpu", help=", ".join(PRESETS))
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's (capped at 64 on CPU)")
    p.add_argument("--repeats", type=int, default=5)
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


def seconds_per_training_iteration(preset: str, device: torch.device | None = None, repeats: int = 5,
                                   batch_size: int | None = None) -> float:
    """Median wall time of one training iteration of a preset (random tokens; the first run is left out)."""
    from trm_lib.act import initial_carry, train_step_forward
    from trm_lib.device import autocast, pick_device
    from trm_lib.losses import trm_loss
    from trm_lib.model import TRM
    from trm_lib.optim import build_optimizer

    device = device or pick_device()
    cfg = get_preset(preset)
    torch.manual_seed(0)
    model = TRM(cfg.model).to(device)
    opt = build_optimizer(model, cfg.train)
    x = torch.randint(2, cfg.model.vocab_size, (batch_size or cfg.train.batch_size, cfg.model.seq_len), device=device)
    carry = initial_carry(model, x, x)

    def iteration():
        nonlocal carry
        with autocast(device):
            carry, out = train_step_forward(model, carry, x, x)
            loss = trm_loss(out.logits, carry.labels, out.q_halt, cfg.train.loss)
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
        opt.step()

    return _median_seconds(iteration, device, repeats)


def run(args: argparse.Namespace) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    from trm_lib.act import initial_carry, train_step_forward
    from trm_lib.device import autocast, banner, maybe_compile, pick_device
    from trm_lib.losses import trm_loss
    from trm_lib.model import TRM, count_parameters
    from trm_lib.optim import build_optimizer

    device = pick_device(args.device)
    banner(device)
    cfg = get_preset(args.preset).with_overrides(args.overrides)
    m = cfg.model
    batch = args.batch_size or (cfg.train.batch_size if device.type == "cuda" else min(cfg.train.batch_size, 64))
    torch.manual_seed(0)
    model = TRM(m).to(device)
    maybe_compile(model.net, cfg.train.compile)
    opt = build_optimizer(model, cfg.train)
    x = torch.randint(2, m.vocab_size, (batch, m.seq_len), device=device)
    carry = initial_carry(model, x, x)

    def train_iteration():
        nonlocal carry
        with autocast(device):
            carry, out = train_step_forward(model, carry, x, x)
            loss = trm_loss(out.logits, carry.labels, out.q_halt, cfg.train.loss)
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
        opt.step()

    @torch.no_grad()
    def inference_step():
        with autocast(device):
            model(x, carry.y, carry.z)

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
    t_train = _median_seconds(train_iteration, device, args.repeats)
    t_infer = _median_seconds(inference_step, device, args.repeats)
    print(f"preset {cfg.name}: {count_parameters(model):,} parameters, batch {batch}, "
          f"T={m.T} n={m.n}, {m.total_len} positions")
    print(f"matmul peak: {peak / 1e12:.2f} TFLOP/s ({peak_what}, measured now)")
    for name, seconds, flops in (("training", t_train, train_flops), ("inference", t_infer, infer_flops)):
        rate = batch / seconds
        achieved = rate * flops
        print(f"{name:9s}: {rate:10.1f} samples x supervision steps / s   {seconds * 1000:8.1f} ms per step   "
              f"{flops / 1e9:7.3f} GFLOP per sample-step   {achieved / 1e12:6.3f} TFLOP/s = {achieved / peak:.0%} of peak")
    return 0
