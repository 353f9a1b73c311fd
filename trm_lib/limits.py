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


def table_bytes(cfg: ModelConfig) -> int:
    """The puzzle-embedding table, float32: one row of D per puzzle id."""
    return 4 * cfg.num_puzzle_ids * cfg.hidden_size


def activation_bytes(cfg: ModelConfig, batch: int) -> int:
    """A lower bound on what one training step keeps for its backward pass: the carried y
    and z, and about 8 tensors of B x L x D per block call of the recursion with gradients."""
    per_slot = cfg.total_len * cfg.hidden_size
    return 4 * batch * per_slot * (2 + 8 * cfg.num_layers * (cfg.n + 1))


def check_model_fits(cfg: ModelConfig, device: torch.device | str, copies: int = 1, batch: int = 0) -> None:
    """Refuse a model whose float32 weights (times `copies`: gradients, Adam's two moments, the
    EMA), puzzle-embedding table and, for a training `batch`, activations cannot fit in the
    device's memory, before anything is allocated. Every command that builds a model calls it."""
    device = torch.device(device)
    available = memory_bytes(device)
    if available is None:
        return
    parts = {f"model.hidden_size={cfg.hidden_size} (expansion {cfg.expansion}, {cfg.num_layers} layers): "
             f"at least {min_parameters(cfg):.3g} parameters, "
             f"{'with its training state' if copies > 1 else 'the weights alone'}": 4 * copies * min_parameters(cfg),
             f"the puzzle-embedding table of model.num_puzzle_ids={cfg.num_puzzle_ids:,} rows of "
             f"{cfg.hidden_size}": table_bytes(cfg),
             f"the activations of train.batch_size={batch:,}": activation_bytes(cfg, batch)}
    need = sum(parts.values())
    if need > available:
        largest = max(parts, key=parts.get)
        raise ValueError(f"this config needs at least {need / 2**30:,.1f} GiB, most of it for {largest} "
                         f"({parts[largest] / 2**30:,.1f} GiB); this {device.type} has {available / 2**30:,.0f} GiB. "
                         f"Make that smaller")
