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

import json
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
from trm_lib.augment import batch_sampler
from trm_lib.checkpoint import check_config_matches, read_checkpoint, save_checkpoint
from trm_lib.config import Config
from trm_lib.device import autocast, maybe_compile, pick_device
from trm_lib.ema import EMA
from trm_lib.evaluate import evaluate
from trm_lib.losses import trm_loss
from trm_lib.model import TRM
from trm_lib.optim import build_optimizer, set_learning_rate
from trm_lib.puzzles import PuzzleSet


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
          on_record: Callable[[dict], None] | None = None) -> TrainResult:
    """Train `cfg` on `train_set`; evaluate on (the first `eval_size`, None: all, of) `test_set`.

    Writes `metrics.jsonl` and `last.pt` into `out_dir` when given, and resumes from
    `out_dir/last.pt` when it exists (a different model config there is an error).
    Stops after `cfg.train.max_steps` iterations in all, or after `minutes` of training in
    this call (a resumed run gets the full `minutes` again). `on_record` receives every
    record of the metrics log as it is written (a live plot in a notebook).
    """
    t, m = cfg.train, cfg.model
    if (train_set.task, train_set.seq_len, train_set.vocab_size) != (cfg.task, m.seq_len, m.vocab_size):
        raise ValueError(
            f"training data is {train_set.task} {train_set.size}x{train_set.size} "
            f"(vocab {train_set.vocab_size}) but preset {cfg.name} expects {cfg.task} "
            f"{cfg.grid_size}x{cfg.grid_size} (vocab {m.vocab_size})"
        )
    rank, world = _distributed()
    if t.batch_size % world:
        raise ValueError(f"batch_size {t.batch_size} is not divisible by {world} processes")
    device = torch.device(device) if device else pick_device()
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)

    torch.manual_seed(t.seed)  # identical initial weights on every process
    model = TRM(m).to(device)
    optimizer = build_optimizer(model, t)
    ema = EMA(model, t.ema_decay) if t.ema_decay > 0 else None
    data_gen = torch.Generator().manual_seed(t.seed + 1)
    out = Path(out_dir) if out_dir else None
    step, history = 0, []
    ckpt = out / "last.pt" if out else None
    if resume and ckpt is not None and ckpt.exists():
        state = read_checkpoint(ckpt)
        check_config_matches(Config.from_dict(state["config"]), cfg, ckpt)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state["ema"]:
            ema.load_state_dict(state["ema"])
        data_gen.set_state(torch.tensor(state["metrics"]["data_rng"], dtype=torch.uint8))
        step = state["step"]
        history = _read_history(out / "metrics.jsonl", step)
        if progress and rank == 0:
            print(f"resuming from {ckpt} at step {step} (--fresh or a new folder starts over)")
    maybe_compile(model.net, t.compile)
    if cfg.model.separate_nets:
        maybe_compile(model.net_y, t.compile)
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
    sums = torch.zeros(5, device=device)  # loss, halted, halted exact, halted cells, halted steps
    n_since = 0
    start = time.monotonic()
    elapsed_before = history[-1]["time_s"] if history else 0.0
    bar = tqdm(total=t.max_steps, initial=step, disable=not progress or rank != 0, desc=cfg.name,
               unit="it", dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0)
    saved_step = step

    def log(record: dict) -> None:
        history.append(record)
        if on_record is not None and rank == 0:
            on_record(record)
        if out is not None and rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def save(keep: bool = False) -> None:
        nonlocal saved_step
        if ckpt is not None and rank == 0:
            metrics = {"data_rng": data_gen.get_state().tolist(),
                       "last": history[-1] if history else {}}
            save_checkpoint(ckpt, cfg, model, step, metrics, ema, optimizer)
            if keep:  # one per evaluation, as the official keeps (checkpoint_every_eval)
                shutil.copyfile(ckpt, out / f"step_{step}.pt")
        saved_step = step

    try:
        while step < t.max_steps:
            lr = set_learning_rate(optimizer, step, t.warmup_steps)
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
            with torch.no_grad():  # accumulated on the device: no synchronisation per step
                h = carry.halted.float()
                sums += torch.stack([loss.total.detach().float(), h.sum(), (loss.exact.float() * h).sum(),
                                     (loss.cell_correct * h).sum(), (carry.steps.float() * h).sum()])
            n_since += 1
            seconds = time.monotonic() - start + elapsed_before
            time_up = minutes is not None and time.monotonic() - start >= 60 * minutes
            if world > 1:
                flag = torch.tensor(float(time_up), device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                time_up = bool(flag.item())
            last = step >= t.max_steps or time_up
            if step % log_every == 0 or last:
                s = sums.tolist()
                record = {"step": step, "time_s": round(seconds, 2), "lr": lr, "loss": s[0] / n_since,
                          "halted_per_step": s[1] / n_since}
                if s[1] > 0:  # accuracy of the puzzles that finished (halted) in this window
                    record.update(train_exact=s[2] / s[1], train_cell=s[3] / s[1], train_steps=s[4] / s[1])
                    bar.set_postfix(loss=f"{record['loss']:.3f}", train_exact=f"{record['train_exact']:.1%}",
                                    train_cell=f"{record['train_cell']:.1%}")
                log(record)
                sums.zero_()
                n_since = 0
            if eval_set is not None and rank == 0 and (step % t.eval_every == 0 or last):
                bar.set_description_str(f"{cfg.name} (evaluating {len(eval_set)} test puzzles)")
                result = _evaluate_ema(model, ema, eval_set, device, progress)
                bar.set_description_str(cfg.name)
                log({"step": step, "time_s": round(seconds, 2), "eval": result.summary()})
                bar.write(f"step {step}: test {result} [EMA weights]")
            if step % t.eval_every == 0 or last:
                save(keep=t.keep_checkpoints)
            if time_up:
                break
    finally:
        bar.close()
        if step != saved_step:  # interrupted: keep what was learned
            save()
    if ema is not None:
        ema.copy_to(model)
    model.eval()
    return TrainResult(model, step, time.monotonic() - start + elapsed_before, history, ckpt)


def _evaluate_ema(model: TRM, ema: EMA | None, puzzles: PuzzleSet, device: torch.device,
                  progress: bool = False):
    if ema is None:
        return evaluate(model, puzzles, device=device, progress=progress)
    with ema.applied(model):
        return evaluate(model, puzzles, device=device, progress=progress)


def _read_history(path: Path, up_to_step: int) -> list[dict]:
    """Records of an earlier run up to the checkpoint's step (later ones were not saved)."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in records if r["step"] <= up_to_step]
    if len(kept) != len(records):
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return kept
