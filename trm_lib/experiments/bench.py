"""Timing of training and inference: throughput, FLOPs per sample, peak memory, and the
fraction of a matrix-multiply peak measured in the same run (medians over timed repeats).

    figures = measure(get_preset("sudoku6-cpu"), torch.device("cpu"), batch=64)
    seconds = seconds_per_training_iteration("sudoku6-cpu")

`python -m trm_lib bench` prints `measure`'s figures; lesson 00 and `doctor` time an iteration.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from trm_lib.act import initial_carry
from trm_lib.config import Config
from trm_lib.device import autocast, describe, grad_scaler, maybe_compile, pick_device, precision
from trm_lib.limits import check_model_fits
from trm_lib.losses import trm_loss
from trm_lib.model import count_parameters
from trm_lib.optim import build_optimizer
from trm_lib.presets import get_preset
from trm_lib.train import train_iteration
from trm_lib.variants import build_model


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
    dtype, n = (precision(device), 8192) if device.type == "cuda" else (torch.float32, 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = _median_seconds(lambda: a @ b, device, repeats)
    return 2 * n**3 / seconds, f"{str(dtype).removeprefix('torch.')} {n}x{n} matmul"


class TrainingIteration:
    """One training iteration (`trm_lib.train.train_iteration`) of a config on a fixed random
    batch, callable repeatedly for timing."""

    def __init__(self, cfg: Config, device: torch.device, batch_size: int):
        self.cfg, self.device = cfg, device
        torch.manual_seed(0)
        self.model = build_model(cfg.model).to(device)
        maybe_compile(self.model, cfg.train.compile)  # TRM.compile: every network
        self.opt = build_optimizer(self.model, cfg.train)
        self.x = torch.randint(2, cfg.model.vocab_size, (batch_size, cfg.model.seq_len), device=device)
        self.carry = initial_carry(self.model, self.x, self.x)
        self.scaler = grad_scaler(device)

    def __call__(self) -> None:
        self.carry, _ = train_iteration(self.model, self.opt, self.carry, self.x, self.x, self.cfg.train,
                                        scaler=self.scaler)

    @torch.no_grad()
    def infer(self) -> None:
        """One supervision step without gradients, from the current carry."""
        with autocast(self.device):
            self.model(self.x, self.carry.y, self.carry.z)


def seconds_per_training_iteration(preset: str, device: torch.device | None = None, repeats: int = 5,
                                   batch_size: int | None = None) -> float:
    """Median wall time of one training iteration of a preset (random tokens; the first run is left out)."""
    device = device or pick_device()
    cfg = get_preset(preset)
    return _median_seconds(TrainingIteration(cfg, device, batch_size or cfg.train.batch_size), device, repeats)


def flops_per_sample_step(cfg, device: torch.device) -> tuple[int, int]:
    """(training, inference) FLOPs of one sample and one supervision step, counted on an
    uncompiled copy of the network (the counter sees every matmul and attention)."""
    model = build_model(cfg.model).to(device)
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
    check_model_fits(cfg.model, device, copies=4, batch=batch)  # before any network is built
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
