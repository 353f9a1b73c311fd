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

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from trm_lib.act import initial_carry, train_step_forward
from trm_lib.data.augment import batch_sampler
from trm_lib.checkpoint import check_config_matches, config_of, load_weights, read_checkpoint, save_checkpoint
from trm_lib.config import Config
from trm_lib.device import autocast, maybe_compile, pick_device
from trm_lib.ema import EMA
from trm_lib.evaluate import evaluate
from trm_lib.limits import check_model_fits
from trm_lib.losses import trm_loss
from trm_lib.model import TRM
from trm_lib.optim import build_optimizer, set_learning_rate
from trm_lib.data.puzzles import PuzzleSet
from trm_lib.run_folder import RunFolderLock, append_record, move_aside, read_history
from trm_lib import train_state
from trm_lib.train_state import MetricsWindow, StopSignals, TrainingInterrupted


@dataclass
class TrainResult:
    model: TRM  # holds the EMA weights at the end (the raw ones when EMA is off)
    step: int
    seconds: float
    history: list[dict] = field(default_factory=list)  # the records of metrics.jsonl
    checkpoint: Path | None = None


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None = None,
          out_dir: str | Path | None = None, minutes: float | None = None,
          device: torch.device | str | None = None, eval_size: int | None = 1000, log_every: int = 50,
          progress: bool = True, resume: bool = True,
          on_record: Callable[[dict], None] | None = None,
          eval_minutes: float | None = None) -> TrainResult:
    """Train `cfg` on `train_set`; evaluate on (the first `eval_size`, None: all, of) `test_set`.

    Writes `metrics.jsonl` and `last.pt` into `out_dir` when given, and resumes from
    `out_dir/last.pt` when it exists (a different model config there is an error).
    Stops after `cfg.train.max_steps` iterations in all, or after `minutes` of training in
    this call (a resumed run gets the full `minutes` again). `on_record` receives every
    record of the metrics log as it is written (a live plot in a notebook). `eval_minutes`
    also evaluates and saves after every `eval_minutes` of training in this call (a curve
    against minutes, whatever the speed of the machine).

    SIGINT or SIGTERM stops after the current step, saves, and raises TrainingInterrupted;
    resuming then continues exactly as the uninterrupted run would have. Only one run at a
    time may train into `out_dir` (a lock); `resume=False` moves an earlier run's log and
    checkpoint aside. A loss that becomes NaN or infinite stops the run (TrainingDiverged)
    and keeps the last good checkpoint.
    """
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a number above 0 (or None: no time limit), got {minutes}")
    if eval_size is not None and eval_size < 1:
        raise ValueError(f"eval_size must be at least 1 test puzzle, got {eval_size}")
    out = Path(out_dir) if out_dir else None

    def run() -> TrainResult:
        return _train(cfg, train_set, test_set, out, minutes, device, eval_size, log_every, progress,
                      resume, on_record, eval_minutes)

    if out is None or int(os.environ.get("RANK", "0")) != 0:
        return run()
    with RunFolderLock(out):
        if not resume:
            for old, new in move_aside(out):
                if progress:
                    print(f"--fresh: kept the earlier {old.name} as {new}")
        return run()


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


def _train(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None, out: Path | None,
           minutes: float | None, device: torch.device | str | None, eval_size: int, log_every: int,
           progress: bool, resume: bool, on_record: Callable[[dict], None] | None,
           eval_minutes: float | None) -> TrainResult:
    t, m = cfg.train, cfg.model
    if (train_set.task, train_set.seq_len, train_set.vocab_size) != (cfg.task, m.seq_len, m.vocab_size):
        raise ValueError(
            f"training data is {train_set.task} {train_set.size}x{train_set.size} "
            f"(vocab {train_set.vocab_size}) but preset {cfg.name} expects {cfg.task} "
            f"{cfg.grid_size}x{cfg.grid_size} (vocab {m.vocab_size})"
        )
    if test_set is not None and (test_set.task, test_set.seq_len) != (cfg.task, m.seq_len):
        raise ValueError(f"test data is {test_set.task} {test_set.size}x{test_set.size} but preset {cfg.name} "
                         f"expects {cfg.task} {cfg.grid_size}x{cfg.grid_size}; give a --test of the same task and size")
    rank, world = _distributed()
    if t.batch_size % world:
        raise ValueError(f"batch_size {t.batch_size} is not divisible by {world} processes")
    device = torch.device(device) if device else pick_device()
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)

    check_model_fits(m, device, copies=5)  # weights, gradients, two Adam moments, EMA
    torch.manual_seed(t.seed)  # identical initial weights on every process
    model = TRM(m).to(device)
    optimizer = build_optimizer(model, t)
    ema = EMA(model, t.ema_decay) if t.ema_decay > 0 else None
    data_gen = torch.Generator().manual_seed(t.seed + 1)
    step, history, saved_state = 0, [], None
    ckpt = out / "last.pt" if out else None
    if resume and ckpt is not None and ckpt.exists():
        step, history, saved_state = _resume(ckpt, cfg, model, optimizer, ema)
        if progress and rank == 0:
            print(f"resuming from {ckpt} at step {step} (--fresh or a new folder starts over)")
    maybe_compile(model, t.compile)  # TRM.compile: every network
    forward = model
    if world > 1:
        forward = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    train_set = train_set.to(device)
    eval_set = test_set.subset(slice(0, eval_size)) if test_set is not None else None
    local = slice(rank * t.batch_size // world, (rank + 1) * t.batch_size // world)

    draw = batch_sampler(train_set, t.batch_size, t.augment, t.augment_pool, seed=t.seed + 2)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = draw(step, data_gen)  # batch number `step`: the same on every process and on resume
        return x[local], y[local]

    slots = torch.zeros(local.stop - local.start, m.seq_len, dtype=torch.long, device=device)
    carry = initial_carry(model, slots, slots)  # every slot starts halted: the first step fills them
    window = MetricsWindow(device)
    if saved_state is not None:
        carry = train_state.restore(saved_state, data_gen, carry, window, device)
    start = time.monotonic()
    elapsed_before = history[-1]["time_s"] if history else 0.0
    # tqdm's own estimate runs to max_steps; ours stops at --minutes too, and counts the rate of
    # this call's steps only, so a resumed run is not judged by the steps before it
    bar = tqdm(total=t.max_steps, initial=step, disable=not progress or rank != 0, desc=cfg.name,
               unit="it", dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]")
    shown: dict[str, str] = {}
    saved_step, diverged, checked_step = step, False, step
    first_step = step
    eval_period = 60 * eval_minutes if eval_minutes else float("inf")
    next_eval = eval_period  # seconds into this call

    def log(record: dict) -> None:
        history.append(record)
        if out is not None and rank == 0:
            append_record(out / "metrics.jsonl", record)
        if on_record is not None and rank == 0:
            on_record(record)

    def save(keep: bool = False) -> None:
        nonlocal saved_step
        if ckpt is not None and rank == 0:
            state = train_state.capture(carry if world == 1 else None, data_gen, window, device)
            save_checkpoint(ckpt, cfg, model, step, {"last": history[-1] if history else {}}, ema, optimizer,
                            train_state=state)
            if keep:  # one per evaluation, as the official keeps (checkpoint_every_eval)
                shutil.copyfile(ckpt, out / f"step_{step}.pt")
        saved_step = step

    def check_finite(loss: float) -> None:
        nonlocal diverged, checked_step
        if math.isfinite(loss):
            checked_step = step
        else:
            diverged = True
            kept = f"the last good checkpoint (step {saved_step}) is kept in {ckpt}" if ckpt and saved_step \
                else "no checkpoint was written"
            raise TrainingDiverged(
                f"training stopped: the loss became {loss} between steps {checked_step + 1} and {step}; "
                f"{kept}. Try a lower train.lr (now {t.lr}) or more train.warmup_steps")

    stop = StopSignals()
    try:
        stop.__enter__()
        while step < t.max_steps:
            lr = set_learning_rate(optimizer, step, t.warmup_steps, t.max_steps, t.lr_min_ratio)
            x, y = next_batch()
            with autocast(device):
                carry, step_out = train_step_forward(model, carry, x, y, forward=forward,
                                                     local=local, global_size=t.batch_size)
                loss = trm_loss(step_out.logits, carry.labels, step_out.q_halt, t.loss, t.halt_loss_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model)
            step += 1
            bar.update(1)
            window.add(loss, carry)
            seconds = time.monotonic() - start + elapsed_before
            time_up = minutes is not None and time.monotonic() - start >= 60 * minutes
            time_up = time_up or stop.requested is not None
            left = time_left(step, t.max_steps, step - first_step, seconds - elapsed_before, minutes)
            if left is not None:
                shown["left"] = _clock(left)
                bar.set_postfix(shown, refresh=False)
            if world > 1:
                flag = torch.tensor(float(time_up), device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                time_up = bool(flag.item())
            last = step >= t.max_steps or time_up
            if step % log_every == 0 or last:
                record = window.record(step, seconds, lr)
                check_finite(record["loss"])
                if "train_exact" in record:
                    shown.update(loss=f"{record['loss']:.3f}", train_exact=f"{record['train_exact']:.1%}",
                                 train_cell=f"{record['train_cell']:.1%}")
                    bar.set_postfix(shown)
                log(record)
            due = step % t.eval_every == 0 or last
            if seconds - elapsed_before >= next_eval:
                due, next_eval = True, next_eval + eval_period
            if window.steps and due:
                check_finite(window.loss_sum())  # steps since the last record: no NaN goes into a checkpoint
            if eval_set is not None and rank == 0 and due:
                bar.set_description_str(f"{cfg.name} (evaluating {len(eval_set)} test puzzles)")
                result = _evaluate_ema(model, ema, eval_set, device, t.eval_steps or None, progress)
                bar.set_description_str(cfg.name)
                log({"step": step, "time_s": round(seconds, 2), "eval": result.summary()})
                bar.write(f"step {step}: test {result} [EMA weights]")
            if due:
                save(keep=t.keep_checkpoints)
            if time_up:
                break
    finally:
        stop.__exit__()
        bar.close()
        if step != saved_step and not diverged:  # interrupted: keep what was learned
            save()
    if stop.requested is not None:
        raise TrainingInterrupted(stop.requested, step, ckpt)
    if ema is not None:
        ema.copy_to(model)
    model.eval()
    return TrainResult(model, step, time.monotonic() - start + elapsed_before, history, ckpt)


def _resume(ckpt: Path, cfg: Config, model: TRM, optimizer, ema: EMA | None) -> tuple[int, list[dict], dict]:
    """Load a run's checkpoint into the model, optimizer and EMA; (step, history, train state)."""
    state = read_checkpoint(ckpt)
    if state.get("optimizer") is None or not (state.get("train_state") or "data_rng" in state["metrics"]):
        raise ValueError(f"{ckpt} holds weights only (no optimizer state or data generator), like a "
                         f"shipped model: training cannot resume from it; use --fresh or another --out")
    check_config_matches(config_of(state, ckpt), cfg, ckpt)
    load_weights(model, state["model"], ckpt)
    optimizer.load_state_dict(state["optimizer"])
    if ema is not None and state["ema"]:
        ema.load_state_dict(state["ema"])
    saved_state = state.get("train_state") or {
        "data_rng": torch.tensor(state["metrics"]["data_rng"], dtype=torch.uint8),  # older checkpoints
        "torch_rng": torch.get_rng_state(), "sums": torch.zeros(5), "n_since": 0}
    return state["step"], read_history(ckpt.parent / "metrics.jsonl", state["step"]), saved_state


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
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _evaluate_ema(model: TRM, ema: EMA | None, puzzles: PuzzleSet, device: torch.device,
                  n_steps: int | None, progress: bool = False):
    if ema is None:
        return evaluate(model, puzzles, n_steps, device=device, progress=progress)
    with ema.applied(model):
        return evaluate(model, puzzles, n_steps, device=device, progress=progress)
