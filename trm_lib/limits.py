"""Requests that cannot fit are refused at once, with the reason, instead of failing deep
inside torch after minutes of work (or never finishing)."""
from __future__ import annotations

import os

import torch

from trm_lib.model import ModelConfig


def min_parameters(cfg: ModelConfig) -> int:
    """A lower bound on the parameter count: the blocks' SwiGLU weights alone,
    3 matrices of D x (2/3 * expansion * D) per layer = 2 * expansion * D^2."""
    return int(cfg.num_layers * 2 * cfg.expansion * cfg.hidden_size ** 2)


def memory_bytes(device: torch.device) -> int | None:
    """Memory of the device (a GPU's own, else the machine's), or None where unknown."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_model_fits(cfg: ModelConfig, device: torch.device | str, copies: int = 1) -> None:
    """Refuse a model whose float32 weights (times `copies`: gradients, Adam's two moments, the
    EMA) cannot fit in the device's memory, before anything is allocated."""
    device = torch.device(device)
    available = memory_bytes(device)
    need = 4 * copies * min_parameters(cfg)
    if available is not None and need > available:
        raise ValueError(
            f"model.hidden_size={cfg.hidden_size} (expansion {cfg.expansion}, {cfg.num_layers} layers) needs "
            f"at least {min_parameters(cfg):.3g} parameters, {need / 2**30:,.0f} GiB with "
            f"{'its training state' if copies > 1 else 'the weights alone'}; this {device.type} has "
            f"{available / 2**30:,.0f} GiB. Use a smaller model.hidden_size")
