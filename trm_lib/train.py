"""The training loop of the reference TRM: slot refill, one supervision step and one
optimizer step per iteration, EMA, warmup, the halting loss; seeded; resumable.

    for each iteration:
        halted slots take new (augmented) puzzles; the others keep theirs and their (y, z)
        one supervision step for every slot  ->  loss = CE + 0.5 * BCE(q_halt, exact)
        one optimizer step, one EMA step
        every eval_every: evaluate the EMA weights on the test set, write a checkpoint

metrics.jsonl has one record per `log_every` steps: loss (mean over the window), lr,
halted_per_step (puzzles that finished per iteration) and, over the puzzles that finished,
train_exact, train_cell and train_steps (supervision steps they used); and one record per
evaluation with the EMA weights' test metrics under "eval".

Several GPUs or machines: launch with `torchrun --nproc_per_node=K -m trm_lib train ...`.
Every process draws the same global batch and keeps its own slice of the slots, so K
processes compute what one process would on the whole batch (DDP averages the gradients).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from trm_lib.act import Carry, train_step_forward
from trm_lib.config import Config, TrainConfig
from trm_lib.data.arc_set import ArcSet
from trm_lib.data.puzzles import PuzzleSet, require_puzzle_set
from trm_lib.device import autocast, maybe_compile, pick_device
from trm_lib.ema import EMA
from trm_lib.limits import check_model_fits
from trm_lib.losses import LossOutput, trm_loss
from trm_lib.model import TRM, ModelConfig
from trm_lib.optim import build_optimizer, set_learning_rate
from trm_lib.run_folder import RunFolderLock, move_aside
from trm_lib.train_run import Run, TrainingDiverged
from trm_lib.train_state import StopSignals, StoppedAtOnce, TrainingInterrupted
from trm_lib.variants import build_model

__all__ = ["train", "train_iteration", "TrainResult", "TrainingDiverged", "TrainingInterrupted", "time_left"]


@dataclass
class TrainResult:
    model: TRM  # holds the EMA weights at the end (the raw ones when EMA is off)
    step: int
    seconds: float
    history: list[dict] = field(default_factory=list)  # the records of metrics.jsonl
    checkpoint: Path | None = None


def train_iteration(model: TRM, optimizer: torch.optim.Optimizer, carry: Carry, inputs: torch.Tensor,
                    labels: torch.Tensor, recipe: TrainConfig, ema: EMA | None = None,
                    forward: torch.nn.Module | None = None, local: slice | None = None,
                    scaler: torch.amp.GradScaler | None = None,
                    puzzle_ids: torch.Tensor | None = None) -> tuple[Carry, LossOutput]:
    """One training iteration: halted slots take the new puzzles (and their puzzle ids), one
    supervision step for every slot, the loss, one optimizer step and one EMA step. `forward` runs the step in
    place of `model` (its DDP wrapper); `local` is this process's slice of the global batch;
    `scaler` scales the loss where training computes in float16 (`device.grad_scaler`)."""
    with autocast(inputs.device):
        carry, out = train_step_forward(model, carry, inputs, labels, puzzle_ids, forward=forward, local=local,
                                        global_size=recipe.batch_size if local is not None else None)
        loss = trm_loss(out.logits, carry.labels, out.q_halt, recipe.loss, recipe.halt_loss_weight)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:  # float32 or bf16
        loss.total.backward()
        optimizer.step()
    else:  # float16: scaled so that small gradients do not underflow; a step with inf is skipped
        scaler.scale(loss.total).backward()
        scaler.step(optimizer)
        scaler.update()
    if ema is not None:
        ema.update(model)
    return carry, loss


def train(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None = None,
          out_dir: str | Path | None = None, minutes: float | None = None,
          device: torch.device | str | None = None, eval_size: int | None = 1000, log_every: int = 50,
          progress: bool = True, resume: bool = True, on_record: Callable[[dict], None] | None = None,
          eval_minutes: float | None = None) -> TrainResult:
    """Train `cfg` on `train_set`; evaluate on (the first `eval_size`, None: all, of) `test_set`
    every `cfg.train.eval_every` steps, at the end, and after every `eval_minutes` of training.

    Writes `metrics.jsonl` and `last.pt` into `out_dir`, and resumes from `out_dir/last.pt`
    (`resume=False` moves an earlier run aside). Stops after `cfg.train.max_steps` steps in
    all, or `minutes` of training in this call. `on_record` gets every record of the log.
    SIGINT or SIGTERM stops after the current step, saves and raises TrainingInterrupted; a
    second one stops at once without saving and raises StoppedAtOnce; a NaN loss raises
    TrainingDiverged and keeps the last good checkpoint.
    """
    _check_types(cfg, train_set, test_set)
    recipe = cfg.train
    _check_request(cfg, train_set, test_set, minutes, eval_size)
    out = Path(out_dir) if out_dir else None
    with _run_folder(out, resume, progress), StopSignals() as stop:
        run = _start(cfg, train_set, out, device, resume, progress, on_record)
        eval_set = test_set.subset(slice(0, eval_size)) if test_set is not None else None
        clock = Clock(run.step, run.history[-1]["time_s"] if run.history else 0.0, minutes, eval_minutes)
        bar = _progress_bar(cfg.name, recipe.max_steps, run.step, enabled=progress and run.rank == 0)
        at_once = False
        try:
            while run.step < recipe.max_steps:
                lr = set_learning_rate(run.optimizer, run.step, recipe.warmup_steps, recipe.max_steps,
                                       recipe.lr_min_ratio)
                inputs, labels, puzzle_ids = run.next_batch()
                run.carry, loss = train_iteration(run.model, run.optimizer, run.carry, inputs, labels, recipe,
                                                  run.ema, run.forward, run.local, run.scaler, puzzle_ids)
                run.step += 1
                bar.update(1)
                run.window.add(loss, run.carry)
                clock.tick()
                run.show(bar, refresh=False, left=clock.left(run.step, recipe.max_steps))
                stopping = run.all_agree(clock.time_up() or stop.requested is not None)
                last = run.step >= recipe.max_steps or stopping
                if run.step % log_every == 0 or last:
                    run.log_window(clock.seconds(), lr, bar)
                timed_eval = clock.eval_due()  # read every step: it moves the next timed evaluation on
                if run.step % recipe.eval_every == 0 or last or timed_eval:
                    run.evaluate_and_save(eval_set, clock.seconds(), bar, progress)
                if stopping:
                    break
        except StoppedAtOnce as err:  # a second signal: no save, the weights may be half-updated
            at_once = True
            err.saved = run.what_is_saved()
            raise
        finally:
            bar.close()
            # an error: keep what was learned (not after a failed save, a NaN or a second signal)
            if run.step != run.saved_step and not (run.diverged or run.save_failed or at_once):
                run.save()
    if stop.requested is not None:
        raise TrainingInterrupted(stop.requested, run.step, run.checkpoint)
    if run.ema is not None:
        run.ema.copy_to(run.model)
    run.model.eval()
    clock.tick()
    return TrainResult(run.model, run.step, clock.seconds(), run.history, run.checkpoint)


@contextlib.contextmanager
def _run_folder(out: Path | None, resume: bool, progress: bool) -> Iterator[None]:
    """Only one run at a time trains into `out` (process 0 holds the lock); a fresh start
    moves an earlier run's log and checkpoint aside."""
    if out is None or int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    with RunFolderLock(out):
        if not resume:
            for old, new in move_aside(out):
                if progress:
                    print(f"--fresh: kept the earlier {old.name} as {new}")
        elif not (out / "last.pt").exists():  # a log without its checkpoint: that run cannot go on
            for old, new in move_aside(out, ("metrics.jsonl",)):
                print(f"{out} has a {old.name} but no last.pt to resume from: this is a new run; "
                      f"kept the earlier log as {new}", file=sys.stderr)
        yield


def _check_types(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None) -> None:
    """A wrong kind of argument, named, before it fails somewhere inside."""
    if not isinstance(cfg, Config):
        raise TypeError("cfg must be a Config (get_preset(name) gives one" + (
            "; this is its .model part: pass the whole Config)" if isinstance(cfg, ModelConfig) else
            f"), got {type(cfg).__name__}"))
    require_puzzle_set(train_set, "train_set", also=(ArcSet,))
    if test_set is not None:
        require_puzzle_set(test_set, "test_set", also=(ArcSet,))


def _check_request(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None, minutes: float | None,
                   eval_size: int | None) -> None:
    """What `train` is asked for, checked before anything is built."""
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a number above 0 (or None: no time limit), got {minutes}")
    if eval_size is not None and eval_size < 1:
        raise ValueError(f"eval_size must be at least 1 test puzzle, got {eval_size}")
    model_cfg = cfg.model
    if (train_set.task, train_set.seq_len, train_set.vocab_size) != (cfg.task, model_cfg.seq_len, model_cfg.vocab_size):
        raise ValueError(
            f"training data is {train_set.task} {train_set.size}x{train_set.size} "
            f"(vocab {train_set.vocab_size}) but preset {cfg.name} expects {cfg.task} "
            f"{cfg.grid_size}x{cfg.grid_size} (vocab {model_cfg.vocab_size})"
        )
    if test_set is not None and (test_set.task, test_set.seq_len) != (cfg.task, model_cfg.seq_len):
        raise ValueError(f"test data is {test_set.task} {test_set.size}x{test_set.size} but preset {cfg.name} "
                         f"expects {cfg.task} {cfg.grid_size}x{cfg.grid_size}; give a --test of the same task and size")
    ids = getattr(train_set, "num_puzzle_ids", 1)
    if ids != model_cfg.num_puzzle_ids:
        raise ValueError(f"the training data has {ids:,} puzzle ids (0, the blank, among them) but "
                         f"model.num_puzzle_ids is {model_cfg.num_puzzle_ids:,}; set model.num_puzzle_ids={ids}")


def _start(cfg: Config, train_set: PuzzleSet, out: Path | None, device: torch.device | str | None, resume: bool,
           progress: bool, on_record: Callable[[dict], None] | None) -> Run:
    """The run at its first step, or where `out/last.pt` left it."""
    recipe = cfg.train
    rank, world = _distributed()
    if recipe.batch_size % world:
        raise ValueError(f"batch_size {recipe.batch_size} is not divisible by {world} processes")
    device = torch.device(device) if device else pick_device()
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    # weights, gradients, two Adam moments, EMA; this process's slots
    check_model_fits(cfg.model, device, copies=5, batch=recipe.batch_size // world)
    torch.manual_seed(recipe.seed)  # identical initial weights on every process
    model = build_model(cfg.model).to(device)
    ema = EMA(model, recipe.ema_decay) if recipe.ema_decay > 0 else None
    run = Run(cfg, model, build_optimizer(model, recipe), ema, train_set.to(device), device, out, rank, world, on_record)
    if resume and run.checkpoint is not None and run.checkpoint.exists():
        run.resume()
        if progress and rank == 0:
            print(f"resuming from {run.checkpoint} at step {run.step} (--fresh or a new folder starts over)")
    maybe_compile(model, recipe.compile)  # TRM.compile: every network
    if world > 1:
        # buffers are the same on every process (the puzzle-embedding table gets the same
        # update everywhere): nothing to broadcast
        run.forward = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None, broadcast_buffers=False)
    return run


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _progress_bar(name: str, max_steps: int, step: int, enabled: bool) -> tqdm:
    # tqdm's own estimate runs to max_steps; ours (Clock.left) stops at --minutes too
    return tqdm(total=max_steps, initial=step, disable=not enabled, desc=name, unit="it", dynamic_ncols=True,
                mininterval=1.0 if sys.stderr.isatty() else 30.0,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]")


class Clock:
    """The time of one `train` call, read once a step (`tick`): its seconds (with those of
    the run before a resume), its `minutes` limit, and its evaluations every `eval_minutes`."""

    def __init__(self, first_step: int, seconds_before: float, minutes: float | None, eval_minutes: float | None):
        self.start, self.first_step, self.before = time.monotonic(), first_step, seconds_before
        self.here = 0.0  # seconds into this call at the last tick
        self.minutes = minutes
        self.eval_period = 60 * eval_minutes if eval_minutes else float("inf")
        self.next_eval = self.eval_period

    def tick(self) -> None:
        self.here = time.monotonic() - self.start

    def seconds(self) -> float:
        """Training seconds of the whole run at the last tick."""
        return self.here + self.before

    def time_up(self) -> bool:
        return self.minutes is not None and self.here >= 60 * self.minutes

    def eval_due(self) -> bool:
        """True once per `eval_minutes` of this call."""
        if self.here < self.next_eval:
            return False
        self.next_eval += self.eval_period
        return True

    def left(self, step: int, max_steps: int) -> str | None:
        """The time this call has left, as h:mm:ss or m:ss; None before the first step."""
        left = time_left(step, max_steps, step - self.first_step, self.here, self.minutes)
        return None if left is None else _clock(left)


def time_left(step: int, max_steps: int, steps_here: int, seconds_here: float,
              minutes: float | None = None) -> float | None:
    """Seconds until this call stops: the steps left to `max_steps` at this call's own rate
    (`steps_here` in `seconds_here`; steps before a resume do not count), or what is left of
    `minutes`, whichever comes first. None before the first step."""
    if steps_here <= 0 or seconds_here <= 0:
        return None
    left = (max_steps - step) * seconds_here / steps_here
    if minutes is not None:
        left = min(left, max(0.0, 60 * minutes - seconds_here))
    return left


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"
