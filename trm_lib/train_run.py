"""The bookkeeping of a training run, kept out of the loop in `trm_lib.train`: the batches
it draws, its metrics log, its checkpoints and evaluations, its resume, and its stop when
the loss stops being a number.

    run = Run(cfg, model, optimizer, ema, train_set, device, out, rank, world, on_record)
    run.resume()                        # where out/last.pt left it
    inputs, labels = run.next_batch()   # batch number `run.step`: the same on every process
    run.log_window(seconds, lr, bar)    # one record of metrics.jsonl
    run.evaluate_and_save(test_set, seconds, bar, progress)
"""
from __future__ import annotations

import contextlib
import math
import shutil
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from trm_lib import train_state
from trm_lib.act import initial_carry
from trm_lib.checkpoint import check_config_matches, config_of, load_weights, read_checkpoint, save_checkpoint
from trm_lib.config import Config
from trm_lib.arc_eval import ArcResult, evaluate_arc
from trm_lib.data.arc_set import ArcBatches, ArcSet
from trm_lib.data.augment import batch_sampler
from trm_lib.data.puzzles import PuzzleSet
from trm_lib.device import grad_scaler
from trm_lib.ema import EMA
from trm_lib.evaluate import EvalResult, evaluate
from trm_lib.model import TRM
from trm_lib.run_folder import append_record, read_history
from trm_lib.train_state import MetricsWindow


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """load_state_dict, then check that every moment has its parameter's shape (load_state_dict
    does not; the first step would fail deep inside); a damaged state is a ValueError."""
    try:
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"the optimizer state is damaged ({err})") from None
    for inner in getattr(optimizer, "optimizers", [optimizer]):
        for p, moments in getattr(inner, "state", {}).items():
            for name, value in moments.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != p.shape:
                    raise ValueError(f"the optimizer state is damaged ({name} of a {tuple(p.shape)} parameter "
                                     f"is {tuple(value.shape)})")


class Run:
    """One training run's state beside the loop: step, carry, metrics window, history, and
    where it saves. With several processes each keeps its `local` slice of the batch's slots."""

    def __init__(self, cfg: Config, model: TRM, optimizer: torch.optim.Optimizer, ema: EMA | None,
                 train_set: PuzzleSet, device: torch.device, out: Path | None, rank: int, world: int,
                 on_record: Callable[[dict], None] | None):
        recipe = cfg.train
        self.cfg, self.model, self.forward, self.optimizer, self.ema = cfg, model, model, optimizer, ema
        self.device, self.rank, self.world, self.on_record = device, rank, world, on_record
        self.checkpoint = out / "last.pt" if out else None
        self.local = slice(rank * recipe.batch_size // world, (rank + 1) * recipe.batch_size // world)
        self.data_gen = torch.Generator().manual_seed(recipe.seed + 1)
        if train_set.task == "arc":  # the build holds the augmentations; batches pack whole puzzles
            self.draw = ArcBatches(train_set, recipe.batch_size, seed=recipe.seed + 2)
        else:
            self.draw = batch_sampler(train_set, recipe.batch_size, recipe.augment, recipe.augment_pool,
                                      seed=recipe.seed + 2)
        slots = torch.zeros(self.local.stop - self.local.start, cfg.model.seq_len, dtype=torch.long, device=device)
        self.carry = initial_carry(model, slots, slots)  # every slot starts halted: the first step fills them
        self.window = MetricsWindow(device)
        self.scaler = grad_scaler(device)  # float16 only: GPUs without bf16
        self.step, self.saved_step, self.checked_step = 0, 0, 0
        self.history: list[dict] = []
        self.diverged = self.save_failed = False
        self.bar_fields: dict[str, str] = {}  # what the progress bar shows after the rate

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(inputs, labels, puzzle ids or None: all 0) of this process's slots."""
        inputs, labels, ids = self.draw(self.step, self.data_gen)  # the same on every process and on resume
        return inputs[self.local], labels[self.local], None if ids is None else ids[self.local]

    def all_agree(self, flag: bool) -> bool:
        """True on every process when it is true on any (a stop must stop them all)."""
        if self.world == 1:
            return flag
        flag_t = torch.tensor(float(flag), device=self.device)
        dist.all_reduce(flag_t, op=dist.ReduceOp.MAX)
        return bool(flag_t.item())

    def resume(self) -> None:
        """Load the run's checkpoint into the model, optimizer and EMA, and its carry, random
        states and history."""
        state = read_checkpoint(self.checkpoint)
        if state.get("optimizer") is None or not state.get("train_state"):
            raise ValueError(f"{self.checkpoint} holds weights only (no optimizer state or data generator), like "
                             f"a shipped model: training cannot resume from it; use --fresh or another --out")
        saved = config_of(state, self.checkpoint)
        check_config_matches(saved, self.cfg, self.checkpoint)
        self.check_recipe_matches(saved.train, bool(state.get("ema")))
        load_weights(self.model, state["model"], self.checkpoint)
        try:  # each part says what in it is damaged; this names the file and the way out
            load_optimizer_state(self.optimizer, state["optimizer"])
            if self.ema is not None and state["ema"]:
                self.ema.load_state_dict(state["ema"])
            self.carry = train_state.restore(state["train_state"], self.data_gen, self.carry, self.window,
                                             self.device)
        except ValueError as err:
            raise ValueError(f"{self.checkpoint}: {err}; use --fresh to start over (the old files are kept) "
                             f"or another --out") from None
        if self.scaler is not None and "scaler" in state["train_state"]:
            self.scaler.load_state_dict(state["train_state"]["scaler"])
        self.step = self.saved_step = self.checked_step = state["step"]
        self.history = read_history(self.checkpoint.parent / "metrics.jsonl", self.step)

    def check_recipe_matches(self, saved, saved_has_ema: bool) -> None:
        """What a resume cannot change: the optimizer (its saved moments are another kind) and
        whether there is an EMA (turning it off would drop the saved EMA weights)."""
        now = self.cfg.train
        how = "resume with the checkpoint's value, or use --fresh or another --out"
        if saved.optimizer != now.optimizer:
            raise ValueError(f"{self.checkpoint} was trained with train.optimizer={saved.optimizer}, not "
                             f"{now.optimizer}; {how}")
        if saved_has_ema and self.ema is None:
            raise ValueError(f"{self.checkpoint} holds EMA weights (train.ema_decay={saved.ema_decay}) that "
                             f"train.ema_decay=0 would drop; {how}")
        if not saved_has_ema and self.ema is not None:
            raise ValueError(f"{self.checkpoint} was trained without an EMA (train.ema_decay=0) but "
                             f"train.ema_decay is now {now.ema_decay}; {how}")

    # -- what the run writes -----------------------------------------------------------------
    def show(self, bar: tqdm, refresh: bool = True, **fields: str | None) -> None:
        self.bar_fields.update({k: v for k, v in fields.items() if v is not None})
        if any(v is not None for v in fields.values()):
            bar.set_postfix(self.bar_fields, refresh=refresh)

    def log(self, record: dict) -> None:
        self.history.append(record)
        if self.checkpoint is not None and self.rank == 0:
            append_record(self.checkpoint.parent / "metrics.jsonl", record)
        if self.on_record is not None and self.rank == 0:
            self.on_record(record)

    def log_window(self, seconds: float, lr: float, bar: tqdm) -> None:
        """The metrics window's record: checked for NaN, shown on the bar, logged."""
        record = self.window.record(self.step, seconds, lr)
        self.check_finite(record["loss"])
        if "train_exact" in record:
            self.show(bar, loss=f"{record['loss']:.3f}", train_exact=f"{record['train_exact']:.1%}",
                      train_cell=f"{record['train_cell']:.1%}")
        self.log(record)

    def check_finite(self, loss: float) -> None:
        if math.isfinite(loss):
            self.checked_step = self.step
            return
        self.diverged = True
        kept = (f"the last good checkpoint (step {self.saved_step}) is kept in {self.checkpoint}"
                if self.checkpoint and self.saved_step else "no checkpoint was written")
        raise TrainingDiverged(
            f"training stopped: the loss became {loss} between steps {self.checked_step + 1} and {self.step}; "
            f"{kept}. Try a lower train.lr (now {self.cfg.train.lr}) or more train.warmup_steps")

    def save(self, keep: bool = False) -> None:
        """The checkpoint, with what an exact resume needs; `keep` also copies it to step_N.pt
        (one per evaluation, as the official's checkpoint_every_eval)."""
        if self.checkpoint is not None and self.rank == 0:
            try:
                self._write(keep)
            except OSError as err:
                self.save_failed = True
                kept = (f"the last good checkpoint is step {self.saved_step} in {self.checkpoint}"
                        if self.checkpoint.exists() else "no checkpoint was written before")
                raise OSError(f"{err}; {kept}") from None
        self.saved_step = self.step

    def what_is_saved(self) -> str:
        """What the run folder holds now, in words (after a stop that did not save)."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return "nothing was saved"
        unsaved = self.step - self.saved_step
        lost = (f"; the {unsaved} step{'s' * (unsaved > 1)} after it {'were' if unsaved > 1 else 'was'} not saved"
                if unsaved else "")
        return f"the checkpoint {self.checkpoint} holds step {self.saved_step}{lost}"

    def _write(self, keep: bool) -> None:
        state = train_state.capture(self.carry if self.world == 1 else None, self.data_gen, self.window,
                                    self.device)
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        save_checkpoint(self.checkpoint, self.cfg, self.model, self.step,
                        {"last": self.history[-1] if self.history else {}}, self.ema, self.optimizer,
                        train_state=state)
        if keep:
            shutil.copyfile(self.checkpoint, self.checkpoint.parent / f"step_{self.step}.pt")

    def evaluate_and_save(self, test_set: PuzzleSet | None, seconds: float, bar: tqdm, progress: bool) -> None:
        """Evaluate the EMA weights on `test_set` (process 0 only) and save; no NaN goes into a
        checkpoint, so the steps since the last record are checked first."""
        if self.window.steps:
            self.check_finite(self.window.loss_sum())
        if test_set is not None and self.rank == 0:
            bar.set_description_str(f"{self.cfg.name} (evaluating {len(test_set)} test puzzles)")
            result = self.evaluate(test_set, progress)
            bar.set_description_str(self.cfg.name)
            self.log({"step": self.step, "time_s": round(seconds, 2), "eval": result.summary()})
            bar.write(f"step {self.step}: test {result} [{'EMA' if self.ema is not None else 'raw'} weights]")
        self.save(keep=self.cfg.train.keep_checkpoints)

    def evaluate(self, test_set: PuzzleSet | ArcSet, progress: bool = False) -> EvalResult | ArcResult:
        n_steps = self.cfg.train.eval_steps or None
        with self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext():
            if test_set.task == "arc":
                return evaluate_arc(self.model, test_set, n_steps, self.cfg.train.eval_copies or None,
                                    device=self.device, progress=progress)
            return evaluate(self.model, test_set, n_steps, device=self.device, progress=progress)
