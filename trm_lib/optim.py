"""Optimizers and the learning-rate schedule, in plain PyTorch (no CUDA extension).

AdamATan2 (Everett et al., 2024) is Adam with the division m / (sqrt(v) + eps) replaced by
atan2(m, sqrt(v)): bounded, scale-invariant, and free of epsilon. Per parameter p, step t:

    p <- p * (1 - lr * wd)                                   decoupled weight decay
    m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))

This is the form of the reference's fused kernel. The puzzle embedding is trained, as in
the reference, by sign-SGD with decoupled weight decay, p <- p * (1 - lr * wd) - lr * sign(g),
on the rows of the batch's puzzle ids only.
Schedule: linear warmup to the base learning rate over `warmup_steps`, then constant (the
paper's), or, with `lr_min_ratio` < 1, a cosine from the base rate down to `lr_min_ratio` times
it at `max_steps` (the official code's `lr_min_ratio`; its configs keep 1.0).
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import nn

from trm_lib.config import TrainConfig


class AdamATan2(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.0):
        if lr < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"AdamATan2: bad lr={lr}, betas={betas} or weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            ms, vs = [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                ms.append(state["exp_avg"])
                vs.append(state["exp_avg_sq"])
            t = self.state[params[0]]["step"]  # all params of a group step together
            grads = [p.grad for p in params]
            if wd:
                torch._foreach_mul_(params, 1 - lr * wd)  # p <- p (1 - lr wd): decoupled weight decay
            torch._foreach_lerp_(ms, grads, 1 - b1)  # m <- m + (1 - b1)(g - m) = b1 m + (1 - b1) g
            torch._foreach_mul_(vs, b2)  # v <- b2 v + (1 - b2) g^2
            torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
            denom = torch._foreach_sqrt(vs)
            torch._foreach_div_(denom, math.sqrt(1 - b2**t))  # sqrt(v_hat), v_hat = v / (1 - b2^t)
            for p, m, d in zip(params, ms, denom):
                # p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v_hat)): m's bias correction scales the
                # step rather than atan2's argument, as in the reference's kernel
                p.add_(torch.atan2(m, d), alpha=-lr / (1 - b1**t))
        return loss


class PuzzleEmbeddingSignSGD:
    """Sign-SGD with decoupled weight decay on the puzzle-embedding rows of the batch only,
    as the official's sparse embedding optimizer. For every id in the batch (the batches of
    all processes, gathered, so that every process applies the same update):

        g   = the sum of the gradients of the batch's rows with this id
        row <- row * (1 - lr * wd) - lr * sign(g)

    Rows of ids outside the batch do not change, and no gradient the size of the table is
    ever made. The table is `model.puzzle_emb`; the rows are `model.rows_in_use`, set by the
    model's training forward (`TRM.puzzle_rows`).
    """

    def __init__(self, model: nn.Module, lr: float, weight_decay: float = 0.0):
        self.model = model
        self.param_groups = [dict(params=[], lr=lr, weight_decay=weight_decay, base_lr=lr)]
        self.state: dict = {}

    @torch.no_grad()
    def step(self) -> None:
        ids, grad = self._batch_rows()
        if ids is None:
            return
        if dist.is_initialized() and dist.get_world_size() > 1:
            ids, grad = _all_gather(ids), _all_gather(grad)
        unique, inverse = ids.unique(return_inverse=True)
        summed = grad.new_zeros(len(unique), grad.shape[1]).index_add_(0, inverse, grad)
        group, table = self.param_groups[0], self.model.puzzle_emb
        table[unique] = table[unique] * (1 - group["lr"] * group["weight_decay"]) - group["lr"] * summed.sign()
        if not isinstance(table, nn.Parameter):
            self.model.rows_in_use = None  # used once: the next training forward makes its rows afresh

    def _batch_rows(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(ids, gradients) of the rows the last training forward read. A model whose table is a
        parameter that it indexes itself (lesson 09's own TRM) has a dense gradient: every row."""
        table = self.model.puzzle_emb
        if isinstance(table, nn.Parameter):
            return (None, None) if table.grad is None else (torch.arange(len(table), device=table.device), table.grad)
        used = self.model.rows_in_use
        return (None, None) if used is None or used[1].grad is None else (used[0], used[1].grad)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """A parameter table's gradient is cleared; the batch's rows (`rows_in_use`) are not: training
        clears gradients between its forward and its backward, and the rows are fresh each forward."""
        if isinstance(self.model.puzzle_emb, nn.Parameter):
            self.model.puzzle_emb.grad = None

    def state_dict(self) -> dict:
        return {"param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]}

    def load_state_dict(self, state: dict) -> None:
        saved = state["param_groups"][0]
        self.param_groups[0].update({k: saved[k] for k in ("lr", "weight_decay", "base_lr") if k in saved})


def _all_gather(t: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


class Optimizers:
    """Several optimizers stepped as one (the network's and the puzzle embedding's).

    A plain class, not a torch.optim.Optimizer: it has what training uses (step, zero_grad,
    param_groups, state_dict, load_state_dict); hooks and add_param_group belong to the
    optimizers inside (`.optimizers`), so asking this one for them is an AttributeError, not
    a group that nothing steps.
    """

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        """One flat list of groups, so the schedule and logging treat all groups alike."""
        return [g for o in self.optimizers for g in o.param_groups]

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def zero_grad(self, set_to_none: bool = True):
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state):
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


def build_optimizer(model: nn.Module, train: TrainConfig) -> Optimizers:
    """The network's optimizer (AdamATan2 or AdamW), and sign-SGD for the puzzle embedding."""
    net = [p for n, p in model.named_parameters() if p.requires_grad and n != "puzzle_emb"]
    group = dict(params=net, lr=train.lr, weight_decay=train.weight_decay, base_lr=train.lr)
    if train.optimizer == "adam_atan2":
        main = AdamATan2([group], lr=train.lr, betas=train.betas)
    elif train.optimizer == "adamw":
        fused = all(p.is_cuda for p in net)
        main = torch.optim.AdamW([group], lr=train.lr, betas=train.betas, eps=1e-8, fused=fused or None)
    else:
        raise ValueError(f"optimizer {train.optimizer!r}: expected 'adam_atan2' or 'adamw'")
    return Optimizers(main, PuzzleEmbeddingSignSGD(model, train.puzzle_emb_lr, train.puzzle_emb_weight_decay))


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Multiplier of the base lr at optimizer step `step` (0-based): linear ramp, then 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def lr_factor(step: int, warmup_steps: int, max_steps: int = 1, min_ratio: float = 1.0) -> float:
    """Multiplier of the base lr at optimizer step `step` (0-based): the warmup ramp, then a
    cosine from 1 to `min_ratio` over the steps left to `max_steps` (1.0: constant)."""
    if step < warmup_steps or min_ratio == 1.0:
        return warmup_factor(step, warmup_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer | Optimizers, step: int, warmup_steps: int,
                      max_steps: int = 1, min_ratio: float = 1.0) -> float:
    """Apply the schedule (`lr_factor`) to every group (each keeps its own base_lr); return the main lr."""
    f = lr_factor(step, warmup_steps, max_steps, min_ratio)
    for g in optimizer.param_groups:
        g["lr"] = g.get("base_lr", g["lr"]) * f
    return optimizer.param_groups[0]["lr"]
