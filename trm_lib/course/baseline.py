"""A one-pass baseline and a plain training loop, for comparing networks on equal terms.

`OnePassNet` is TRM without the loop: the same parameters (it *is* a `TRM`, so the same
seed gives the very same initial weights), used once:

    logits = head(net(x))                   2 blocks deep; y and z play no part

`fit(cfg, train_set, test_set, model_class)` trains any such model on fresh (augmented)
batches, one supervision step from the initial state per batch, with the loss on the cells
only (no halting, no EMA: lessons 03-05 add those). So `fit(cfg, ..., OnePassNet)` and
`fit(cfg, ..., TRM)` differ in one thing only: the recursion.

    result = fit(get_preset("sudoku6-cpu"), train_set, test_set, OnePassNet)
    plot_runs({"one pass": result.history})  # trm_lib.viz.plots
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from trm_lib.data.augment import sample_batch
from trm_lib.config import Config
from trm_lib.device import autocast, pick_device
from trm_lib.evaluate import evaluate
from trm_lib.losses import cell_accuracy, cell_cross_entropy, exact_match
from trm_lib.model import TRM, StepOutput
from trm_lib.optim import build_optimizer, set_learning_rate
from trm_lib.data.puzzles import PuzzleSet


class OnePassNet(TRM):
    """TRM's parameters used once: logits = head(net(x)). No recursion, no y, no z."""

    def deep_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> StepOutput:
        h = self.net(x)  # (B, L, D): one pass through the 2 blocks
        logits, q = self.readout(h)  # q kept so the output has TRM's shape; not trained here
        return StepOutput(h.detach(), z.detach(), logits, q[:, 0], q[:, 1])


@dataclass
class FitResult:
    model: TRM  # the trained model, in eval mode
    seconds: float
    history: list[dict] = field(default_factory=list)  # records like train's metrics.jsonl


def fit(cfg: Config, train_set: PuzzleSet, test_set: PuzzleSet | None = None,
        model_class: type[TRM] = TRM, eval_size: int = 500, log_every: int = 25,
        device: torch.device | str | None = None, progress: bool = True) -> FitResult:
    """Train `model_class(cfg.model)` for `cfg.train.max_steps` steps of one supervision step each.

    Uses from `cfg.train`: seed, batch_size, lr, betas, weight_decay, optimizer, warmup_steps, lr_min_ratio,
    loss, augment, max_steps and eval_every (the test set's first `eval_size` puzzles are
    evaluated then, and at the end; with `progress` each evaluation prints one line). The
    same cfg and seed give the same initial weights and the same batches for every `model_class`.
    """
    t = cfg.train
    if (train_set.seq_len, train_set.vocab_size) != (cfg.model.seq_len, cfg.model.vocab_size):
        raise ValueError(f"training data has {train_set.seq_len} cells and vocab {train_set.vocab_size}; "
                         f"{cfg.name} expects {cfg.model.seq_len} and {cfg.model.vocab_size}")
    device = torch.device(device) if device else pick_device()
    torch.manual_seed(t.seed)
    model = model_class(cfg.model).to(device)
    optimizer = build_optimizer(model, t)
    gen = torch.Generator().manual_seed(t.seed + 1)
    train_set = train_set.to(device)
    eval_set = test_set.subset(slice(0, eval_size)) if test_set is not None else None
    history: list[dict] = []
    sums = torch.zeros(3)  # loss, cells right, grids right
    start = time.monotonic()
    for step in range(1, t.max_steps + 1):
        set_learning_rate(optimizer, step - 1, t.warmup_steps, t.max_steps, t.lr_min_ratio)
        x, labels = sample_batch(train_set, t.batch_size, gen, augment=t.augment)
        with autocast(device):
            logits = model(x).logits  # (B, S, vocab), from the initial y and z
            loss = cell_cross_entropy(logits, labels, t.loss).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            cell, exact = cell_accuracy(logits, labels).mean(), exact_match(logits, labels).float().mean()
            sums += torch.stack([loss.detach().float(), cell, exact]).cpu()
        last = step == t.max_steps
        if step % log_every == 0 or last:
            n = log_every if step % log_every == 0 else step % log_every
            loss_m, cell, exact = (sums / n).tolist()
            history.append({"step": step, "time_s": round(time.monotonic() - start, 2), "loss": loss_m,
                            "train_cell": cell, "train_exact": exact})
            sums.zero_()
        if eval_set is not None and (step % t.eval_every == 0 or last):
            result = evaluate(model, eval_set, n_steps=1, device=device)
            seconds = time.monotonic() - start
            history.append({"step": step, "time_s": round(seconds, 2),
                            "eval": {"exact": result.exact, "cell": result.cell, "valid": result.valid}})
            if progress:
                print(f"{model_class.__name__} step {step:4d}/{t.max_steps}: test cell {result.cell:6.1%}, "
                      f"exact {result.exact:6.1%} ({seconds:.0f} s)", flush=True)
    model.eval()
    return FitResult(model, time.monotonic() - start, history)


def final_eval(history: list[dict]) -> dict:
    """The last test evaluation of a run: {"exact", "cell", "valid"}."""
    evals = [r["eval"] for r in history if "eval" in r]
    if not evals:
        raise ValueError("this run has no test evaluation: pass a test set to fit()")
    return evals[-1]
