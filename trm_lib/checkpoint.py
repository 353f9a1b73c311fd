"""Checkpoints: a plain dict of tensors and numbers, loadable with `weights_only=True`.

    {"format": 1, "config": Config.to_dict(), "step": int, "metrics": dict,
     "model": raw weights, "ema": EMA weights or None, "optimizer": optimizer state or None}

Files are written to a temporary name and renamed, so a crash never leaves half a file.
Evaluation and the notebooks use the EMA weights (`load_model(..., use_ema=True)`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from trm_lib.config import Config
from trm_lib.model import TRM

FORMAT = 1


def save_checkpoint(path: str | Path, cfg: Config, model: torch.nn.Module, step: int,
                    metrics: dict | None = None, ema: Any = None,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "config": _plain(cfg.to_dict()),
        "step": int(step),
        "metrics": _plain(metrics or {}),
        "model": {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()},
        "ema": {k: v.cpu() for k, v in ema.state_dict().items()} if ema is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise ValueError(f"{path} is not a trm_lib checkpoint (torch.load with weights_only=True "
                         f"cannot read it); checkpoints are the last.pt files that `train` writes") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a trm_lib checkpoint (format {FORMAT})")
    return state


def check_config_matches(saved: Config, current: Config, path: str | Path) -> None:
    """Resuming or loading into a different model is an error that names the differences."""
    a, b = _flatten(saved.to_dict()), _flatten(current.to_dict())
    diffs = [f"{k}: checkpoint {a.get(k)!r} vs now {b.get(k)!r}"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k.startswith("model.")]
    if diffs:
        raise ValueError(f"checkpoint {path} was made with another model config: " + "; ".join(diffs))


def load_model(path: str | Path, use_ema: bool = True, device: torch.device | str = "cpu",
               expect: Config | None = None) -> tuple[TRM, Config, dict]:
    """(model, config, checkpoint dict) with the EMA weights when there are any."""
    state = read_checkpoint(path)
    cfg = Config.from_dict(state["config"])
    if expect is not None:
        check_config_matches(cfg, expect, path)
    model = TRM(cfg.model)
    model.load_state_dict(state["model"])
    if use_ema and state.get("ema"):
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state["ema"].items():
                params[name].copy_(value)
    return model.to(device).eval(), cfg, state


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP or torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def _plain(obj: Any) -> Any:
    """Tuples become lists and numbers become Python numbers, so weights_only can load them."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else obj.tolist()
    return obj


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
