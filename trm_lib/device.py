"""Pick the device (cuda, then mps, then cpu), print a one-line banner, set up precision.

No other module hard-codes a device: they all take one from here or from their inputs.
"""
from __future__ import annotations

import contextlib
import os
import platform

import torch
from torch import nn


def pick_device(prefer: str | None = None) -> torch.device:
    """cuda if present, then mps, then cpu. `prefer` (or $TRM_DEVICE) forces one."""
    prefer = prefer or os.environ.get("TRM_DEVICE")
    if prefer:
        try:
            device = torch.device(prefer)
        except (RuntimeError, TypeError):
            device = None
        if device is None or device.type not in ("cuda", "mps", "cpu"):
            raise ValueError(f"device {prefer!r} is not one trm_lib trains on; use cuda (or cuda:K), mps or cpu")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} was asked for, but this torch sees no CUDA GPU")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {prefer!r} was asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA GPUs (cuda:0 ...)")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"device {prefer!r} was asked for, but MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def precision(device: torch.device) -> torch.dtype:
    """What training computes in: bf16 autocast on a CUDA GPU that has bf16 (compute capability
    8.0 and up: A100, H100, RTX 30xx and later), float16 autocast with a gradient scaler on older
    ones (T4, V100: bf16 there is emulated and slow), float32 elsewhere."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16


_PRECISION = {torch.bfloat16: "bf16 autocast", torch.float32: "float32",
              torch.float16: "float16 autocast with a gradient scaler (no bf16 below compute capability 8.0)"}


def describe(device: torch.device) -> str:
    """One line: what runs where, and in which precision."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        mem = torch.cuda.get_device_properties(device).total_memory / 2**30
        what = f"cuda ({name}, {mem:.0f} GiB), {_PRECISION[precision(device)]}"
    elif device.type == "mps":
        what = "mps (Apple GPU), float32"
    else:
        what = f"cpu ({platform.processor() or platform.machine()}, {_count(torch.get_num_threads(), 'thread')}), float32"
    return f"trm_lib on {what} | torch {torch.__version__}"


def banner(device: torch.device) -> None:
    print(describe(device))


def autocast(device: torch.device, enabled: bool | None = None) -> contextlib.AbstractContextManager:
    """Autocast to the device's `precision` (on CUDA: bf16, or float16 on GPUs without bf16);
    off where that is float32, unless `enabled=True` (bf16: a CPU supports it too)."""
    dtype = precision(device)
    if enabled is None:
        enabled = dtype != torch.float32
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if dtype == torch.float32 else dtype)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler where training computes in float16 (small gradients would underflow
    to zero there); None where it is not needed (bf16 has float32's range)."""
    return torch.amp.GradScaler(device.type) if precision(device) == torch.float16 else None


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`t` on `device`. A CPU tensor bound for CUDA goes through pinned memory without
    blocking: a plain `.to()` from ordinary memory makes the host wait until the GPU has
    finished all queued work, once per call."""
    if t.device.type == "cpu" and device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def maybe_compile(module: nn.Module, enabled: bool) -> nn.Module:
    """Compile the module in place when asked (its state_dict keys stay the same)."""
    if enabled:
        module.compile()
    return module


def _count(n: int, noun: str) -> str:
    """'1 thread', '2 threads'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
