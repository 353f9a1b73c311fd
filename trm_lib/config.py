"""Configs as dataclasses.

A `Config` is two small records: `ModelConfig` (what the network is) and `TrainConfig`
(how it is trained); the named ones are in `trm_lib.presets`. `with_overrides` changes single
fields by name (`model.n=4`, `train.lr=3e-4`), as the command line's `key=value` arguments do.

Paper names -> ours: n (L_cycles) -> `n`, T (H_cycles) -> `T`, N_sup (halt_max_steps) ->
`n_sup`. The paper's recipes are in ../shared/TRM_SPEC.md and in the `*-mlp` / `*-att`
presets of `trm_lib.presets`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from trm_lib.data.tasks import BOX_SHAPES, TASKS, vocab_size

Mixer = Literal["mlp_t", "attention"]


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int  # PAD 0 plus the task's tokens (Sudoku N x N: N + 2; maze: 6)
    seq_len: int  # puzzle cells, without the puzzle-embedding prefix (81, 900, ...)
    hidden_size: int = 512  # D
    num_layers: int = 2  # blocks in the one shared network `net`
    num_heads: int = 8  # attention mixer only; head_dim = hidden_size // num_heads
    expansion: float = 4.0  # SwiGLU width factor (before the 2/3 and the rounding)
    mixer: Mixer = "mlp_t"  # token mixing: "mlp_t" (MLP over positions) or "attention" (+ RoPE)
    puzzle_emb_len: int = 16  # prefix positions; the Q head reads position 0
    num_puzzle_ids: int = 1  # one shared learned vector for Sudoku and mazes
    T: int = 3  # recursions per supervision step (T-1 without gradients)
    n: int = 6  # latent updates per recursion
    n_sup: int = 16  # supervision (ACT) steps at most; evaluation always runs them all
    halt_exploration_prob: float = 0.1
    # ours, not the paper's: False runs every training slot for all n_sup steps (no early halt),
    # so the steps after an answer is found get gradients too; the Q head still learns
    halt_in_training: bool = True
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    # ablations of the paper's Tables 1-2 (the defaults are TRM itself)
    gradient: Literal["last_recursion", "one_step"] = "last_recursion"  # one_step: HRM's 1-step gradient
    latents: Literal["y_and_z", "z_only"] = "y_and_z"  # z_only: a single latent feature, no separate y
    separate_nets: bool = False  # True: a second network for the answer update (HRM's two levels)

    @property
    def total_len(self) -> int:
        """Sequence length the network sees: the prefix, then the cells."""
        return self.puzzle_emb_len + self.seq_len

    def validate(self) -> None:
        problems = _type_problems(self)
        if problems:  # the checks below compare numbers
            raise ValueError("invalid model config: " + "; ".join(problems))
        if self.mixer not in ("mlp_t", "attention"):
            problems.append(f"mixer is {self.mixer!r}, expected 'mlp_t' or 'attention'")
        if self.mixer == "attention" and self.num_heads >= 1 and self.hidden_size % self.num_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )
        if self.mixer == "attention" and (self.hidden_size // max(self.num_heads, 1)) % 2:
            problems.append("head_dim must be even for RoPE")
        if self.gradient not in ("last_recursion", "one_step"):
            problems.append(f"gradient is {self.gradient!r}, expected 'last_recursion' or 'one_step'")
        if self.latents not in ("y_and_z", "z_only"):
            problems.append(f"latents is {self.latents!r}, expected 'y_and_z' or 'z_only'")
        if self.puzzle_emb_len < 1:
            problems.append("puzzle_emb_len must be >= 1: the Q head reads prefix position 0")
        for name in ("vocab_size", "seq_len", "hidden_size", "num_layers", "num_heads", "num_puzzle_ids",
                     "T", "n", "n_sup"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("expansion", "rope_theta"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if self.rms_norm_eps < 0:
            problems.append(f"rms_norm_eps must be >= 0, got {self.rms_norm_eps}")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            problems.append("halt_exploration_prob must be in [0, 1]")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 768  # slots carried across supervision steps (global, all processes)
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 1.0  # decoupled: p <- p * (1 - lr * wd)
    puzzle_emb_lr: float = 1e-4
    puzzle_emb_weight_decay: float = 1.0
    optimizer: Literal["adam_atan2", "adamw"] = "adam_atan2"
    warmup_steps: int = 2000  # linear warmup, then constant
    lr_min_ratio: float = 1.0  # < 1: cosine decay to lr * lr_min_ratio at max_steps (1.0: constant, the paper's)
    ema_decay: float = 0.999  # 0 disables EMA
    loss: Literal["stablemax", "softmax"] = "stablemax"
    halt_loss_weight: float = 0.5
    max_steps: int = 65_000  # optimizer steps (= training iterations)
    eval_every: int = 5_000
    eval_steps: int = 0  # supervision steps of the test evaluations (0: model.n_sup; more is test-time scaling)
    seed: int = 0
    compile: bool = False  # torch.compile the network (CUDA: worth it; CPU: try it)
    augment: bool = True
    # 0: every draw takes a puzzle at random and a fresh random symmetry of it. N > 0: the
    # official pipeline's scheme: per puzzle a fixed pool of N symmetries plus the original,
    # the puzzles visited in epochs (each once, in a new random order), a random member each
    augment_pool: int = 0
    keep_checkpoints: bool = False  # True: also keep step_N.pt at every evaluation, as the official does

    def validate(self) -> None:
        problems = _type_problems(self)
        if problems:  # the checks below compare numbers
            raise ValueError("invalid train config: " + "; ".join(problems))
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            problems.append(f"betas must be two numbers in [0, 1), got {self.betas}")
        for name in ("lr", "puzzle_emb_lr"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("weight_decay", "puzzle_emb_weight_decay", "warmup_steps", "halt_loss_weight",
                     "augment_pool", "eval_steps"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "max_steps", "eval_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            problems.append(f"lr_min_ratio must be in [0, 1] (1 keeps the lr constant), got {self.lr_min_ratio}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"ema_decay must be in [0, 1) (0 turns EMA off), got {self.ema_decay}")
        if self.optimizer not in ("adam_atan2", "adamw"):
            problems.append(f"optimizer is {self.optimizer!r}, expected 'adam_atan2' or 'adamw'")
        if self.loss not in ("stablemax", "softmax"):
            problems.append(f"loss is {self.loss!r}, expected 'stablemax' or 'softmax'")
        if problems:
            raise ValueError("invalid train config: " + "; ".join(problems))


@dataclass(frozen=True)
class Config:
    name: str
    task: Literal["sudoku", "maze"]
    grid_size: int  # N for an N x N grid
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: str = ""  # folder under datasets/ with train.csv.gz and test.csv.gz
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task is {self.task!r}, expected 'sudoku' or 'maze'")
        if type(self.grid_size) is not int or self.grid_size < 2:
            raise ValueError(f"grid_size must be an integer >= 2, got {self.grid_size!r}")
        if self.task == "sudoku" and self.grid_size not in BOX_SHAPES:
            raise ValueError(f"a sudoku grid_size is 4, 6 or 9, got {self.grid_size}")
        self.model.validate()
        self.train.validate()
        cells = self.grid_size * self.grid_size
        vocab = vocab_size(self.task, self.grid_size)
        if (self.model.seq_len, self.model.vocab_size) != (cells, vocab):
            raise ValueError(
                f"a {self.task} {self.grid_size}x{self.grid_size} needs model.seq_len={cells} and "
                f"model.vocab_size={vocab}, got {self.model.seq_len} and {self.model.vocab_size}"
            )

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Config":
        train = dict(d.get("train", {}))
        if "betas" in train:
            train["betas"] = tuple(train["betas"])
        return Config(
            name=d["name"],
            task=d["task"],
            grid_size=d["grid_size"],
            model=ModelConfig(**d["model"]),
            train=TrainConfig(**train),
            dataset=d.get("dataset", ""),
            notes=d.get("notes", ""),
        )

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> "Config":
        """Return a copy with fields changed: ["model.n=4", "train.lr=3e-4"] or a dict."""
        items = overrides.items() if isinstance(overrides, dict) else map(_split_override, overrides)
        cfg = self
        for key, value in items:
            section, _, name = key.partition(".")
            if section not in ("model", "train") or not name:
                raise ValueError(f"override {key!r}: expected model.FIELD or train.FIELD")
            record = getattr(cfg, section)
            known = {f.name: f for f in fields(record)}
            if name not in known:
                raise ValueError(
                    f"override {key!r}: {section} has no field {name!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
            new_value = _coerce(value, getattr(record, name), key)
            cfg = replace(cfg, **{section: replace(record, **{name: new_value})})
        cfg.validate()
        return cfg


def _type_problems(record: Any) -> list[str]:
    """Fields of the wrong kind (an edited checkpoint's config), and numbers that are NaN or inf."""
    problems = []
    for f in fields(record):
        value, kind = getattr(record, f.name), f.type
        if kind == "int" and type(value) is not int:
            problems.append(f"{f.name} must be an integer, got {value!r}")
        elif kind == "float" and (type(value) not in (int, float) or not math.isfinite(value)):
            problems.append(f"{f.name} must be a finite number, got {value!r}")
        elif kind == "bool" and type(value) is not bool:
            problems.append(f"{f.name} must be true or false, got {value!r}")
        elif kind.startswith("tuple") and not (isinstance(value, tuple) and all(
                type(v) in (int, float) and math.isfinite(v) for v in value)):
            problems.append(f"{f.name} must be finite numbers, got {value!r}")
    return problems


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"override {text!r}: expected key=value, e.g. model.n=4")
    return key.strip(), value.strip()


_KIND = {bool: "true or false", int: "an integer", float: "a number", tuple: "numbers like 0.9,0.95"}


def _coerce(value: Any, current: Any, key: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        if isinstance(current, int):
            number = float(value) if "e" in value.lower() else int(value)
            if number != int(number):  # 2.7e0 is not an integer; 1e3 is
                raise ValueError
            return int(number)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, tuple):
            return tuple(float(v) for v in value.strip("()[] ").split(","))
    except ValueError:
        raise ValueError(
            f"override {key}={value!r}: expected {_KIND.get(type(current), type(current).__name__)}"
        ) from None
    return value


__all__ = ["Config", "ModelConfig", "TrainConfig"]
