"""Small trained checkpoints shipped with the course, so a lesson can show a trained model at once.

    model, cfg = load_pretrained("sudoku6-cpu")

Each file in `trm_lib/pretrained/` holds the EMA weights of one run of a CPU preset (no
optimizer state), its config, and the metrics it reached; its card is in the README there.
"""
from __future__ import annotations

from pathlib import Path

import torch

from trm_lib.checkpoint import load_model, read_checkpoint, save_checkpoint
from trm_lib.config import Config

PRETRAINED = Path(__file__).resolve().parent  # the .pt files sit beside this module


def available() -> list[str]:
    return sorted(p.stem for p in PRETRAINED.glob("*.pt"))


def pretrained_path(name: str) -> Path:
    if not isinstance(name, str):
        raise TypeError(f"name must be a shipped model's name, a str such as 'sudoku6-cpu', got "
                        f"{type(name).__name__} {name!r}; shipped: {', '.join(available()) or 'none'}")
    path = PRETRAINED / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no pretrained checkpoint {name!r}; shipped: {', '.join(available()) or 'none'}")
    return path


def load_pretrained(name: str, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Config]:
    """The shipped model `name` (its EMA weights), in eval mode, and its config."""
    model, cfg, _ = load_model(pretrained_path(name), use_ema=True, device=device)
    return model, cfg


def pretrained_metrics(name: str) -> dict:
    """What the shipped run reached: its final evaluation, steps and training time."""
    return read_checkpoint(pretrained_path(name))["metrics"]


def export_weights(run_checkpoint: str | Path, out: str | Path, metrics: dict | None = None,
                   dtype: torch.dtype | None = None) -> Path:
    """The EMA weights of a run alone (no optimizer state), with its config and step.

    `dtype=torch.bfloat16` halves the file; the fixed y and z inits stay float32, and
    `load_model` turns the weights back into float32.
    """
    model, cfg, state = load_model(run_checkpoint, use_ema=True)
    if dtype is not None:
        for p in model.parameters():
            p.data = p.data.to(dtype)
        model.puzzle_emb = model.puzzle_emb.to(dtype)  # the table is a buffer
    return save_checkpoint(out, cfg, model, state["step"], state["metrics"] if metrics is None else metrics)
