"""Checkpoints: a plain dict of tensors and numbers, loadable with `weights_only=True`.

    {"format": 1, "config": Config.to_dict(), "step": int, "metrics": dict,
     "model": raw weights, "ema": EMA weights or None, "optimizer": optimizer state or None,
     "train_state": carry and random states for an exact resume (checkpoints `train` writes)}

Files are written to a temporary name and renamed, so a crash never leaves half a file.
Evaluation and the notebooks use the EMA weights (`load_model(..., use_ema=True)`).
"""
from __future__ import annotations

import errno
import os
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import torch

from trm_lib.config import Config, TrainConfig
from trm_lib.limits import check_model_fits
from trm_lib.model import TRM, ModelConfig
from trm_lib.variants import build_model

FORMAT = 1


def save_checkpoint(path: str | Path, cfg: Config, model: torch.nn.Module, step: int,
                    metrics: dict | None = None, ema: Any = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    train_state: dict | None = None) -> Path:
    """`train_state` (trm_lib.train_state.capture) is what an exact resume needs beside the weights."""
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
    if train_state is not None:
        state["train_state"] = train_state
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two writers never share a temporary
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # a full disk: torch reports it as a RuntimeError
        tmp.unlink(missing_ok=True)
        full = (isinstance(err, OSError) and err.errno == errno.ENOSPC) or "unexpected pos" in str(err)
        raise OSError(f"no space left on the device while saving {path}" if full
                      else f"could not save {path}: {err}") from None
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
    kinds = {"config": dict, "step": int, "model": dict}
    for key, kind in kinds.items():
        if not isinstance(state.get(key), kind):
            problem = "has no" if key not in state else f"has a {type(state[key]).__name__} as its"
            raise ValueError(f"{path}: the checkpoint {problem} {key!r} entry (expected a {kind.__name__}); "
                             f"it is damaged or was not written by trm_lib")
    state.setdefault("metrics", {})
    state.setdefault("ema", None)
    state.setdefault("optimizer", None)
    problems = [f"'step' is {state['step']} (expected 0 or more)"] if state["step"] < 0 else []
    problems += [f"{key!r} is a {type(state[key]).__name__} (expected a dict)" for key in ("ema", "optimizer")
                 if state[key] is not None and not isinstance(state[key], dict)]
    if "train_state" in state and not isinstance(state["train_state"], dict):
        problems.append(f"'train_state' is a {type(state['train_state']).__name__} (expected a dict)")
    if problems:
        raise ValueError(f"{path}: the checkpoint is damaged: {'; '.join(problems)}")
    return state


def config_of(state: dict, path: str | Path) -> Config:
    """The checkpoint's config, checked like a preset; a damaged one is an error naming the file."""
    try:
        _check_fields(state["config"])
        cfg = Config.from_dict(state["config"])
    except (KeyError, TypeError, ValueError) as err:
        what = f"lacks the field {err.args[0]!r}" if isinstance(err, KeyError) else str(err)
        raise ValueError(f"{path}: the checkpoint's config is not valid: {what}") from None
    return cfg


def _check_fields(config: dict) -> None:
    """Missing and unknown fields by name (a dataclass would say "__init__() missing ...")."""
    for key in ("name", "task", "grid_size", "model"):
        if key not in config:
            raise KeyError(key)
    for section, record in (("model", ModelConfig), ("train", TrainConfig)):
        given = config.get(section, {})
        if not isinstance(given, dict):
            raise ValueError(f"{section} is a {type(given).__name__}, expected a dict of fields")
        known = {f.name: f for f in fields(record)}
        for name, f in known.items():
            if name not in given and f.default is MISSING and f.default_factory is MISSING:
                raise KeyError(f"{section}.{name}")
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown field {section}.{unknown[0]}")


def load_weights(model: torch.nn.Module, weights: dict, path: str | Path, what: str = "model") -> None:
    """load_state_dict, with one line that names the file and what does not fit."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    shapes = [f"{k} is a {type(v).__name__}, expected a tensor" if not isinstance(v, torch.Tensor)
              else f"{k} is {tuple(v.shape)}, expected {tuple(expected[k].shape)}" for k, v in weights.items()
              if k in expected and (not isinstance(v, torch.Tensor) or v.shape != expected[k].shape)]
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
               ([f"unexpected {', '.join(extra)}"] if extra else []) + shapes
    if problems:
        raise ValueError(f"{path}: the {what} weights do not fit the checkpoint's config: "
                         + "; ".join(problems))
    bad = sum(int((~torch.isfinite(v)).sum()) for v in weights.values() if v.is_floating_point())
    if bad:
        total = sum(v.numel() for v in weights.values())
        raise ValueError(f"{path}: {bad:,} of {total:,} {what} weights are NaN or infinite (the run "
                         f"diverged before this save); use an earlier checkpoint or train again")
    model.load_state_dict(weights)


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
    cfg = config_of(state, path)
    if expect is not None:
        check_config_matches(cfg, expect, path)
    check_model_fits(cfg.model, "cpu")
    model = build_model(cfg.model)
    load_weights(model, state["model"], path)
    if use_ema and state.get("ema"):
        ema = {**model.state_dict(), **state["ema"]}  # the EMA covers the parameters, not buffers
        load_weights(model, ema, path, "EMA")
    return model.to(device).eval(), cfg, state


def weights_named(state: dict, use_ema: bool = True) -> str:
    """Which weights `load_model(..., use_ema)` put in the model, in words."""
    if not use_ema:
        return "raw weights"
    return "EMA weights" if state.get("ema") else "raw weights: trained without an EMA"


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
