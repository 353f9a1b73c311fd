"""Deep supervision on one batch, in the form of the paper's pseudocode, and what it costs in memory.

    y, z = y_init, z_init
    for step in range(N_sup):
        (y, z), logits, q_halt = deep_recursion(x, y, z)     # one supervision step
        loss = CE(logits, y_true) + 0.5 * BCE(q_halt, exact)
        loss.backward(); optimizer.step(); optimizer.zero_grad()
        y, z = y.detach(), z.detach()                         # carry the values, not the history

The training loop of `trm_lib.train` spreads these steps over iterations (slot refill, lesson
04); this per-batch form is the one to read first. `backprop_through_all_steps` is what the
detach avoids: one graph through every recursion of every step. `peak_saved_bytes` measures
the tensors autograd keeps for the backward pass, on any device, through
`torch.autograd.graph.saved_tensors_hooks`.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import torch

from trm_lib.losses import trm_loss
from trm_lib.model import TRM


def deep_supervision(model: TRM, inputs: torch.Tensor, labels: torch.Tensor, n_sup: int,
                     optimizer: torch.optim.Optimizer) -> list[float]:
    """Train on one batch for `n_sup` supervision steps, one optimizer step after each.

    Returns the loss of every step. `model(inputs, y, z)` is one deep recursion. TRM already
    returns its carry detached; the loop detaches it again because it is the loop that needs
    each step's graph to end where the step ends, whatever model it is handed.
    """
    y = z = None  # None: start from the model's fixed initial (y, z)
    losses = []
    for _ in range(n_sup):
        out = model(inputs, y, z)
        loss = trm_loss(out.logits, labels, out.q_halt).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        y, z = out.y.detach(), out.z.detach()
        losses.append(loss.item())
    return losses


def backprop_through_all_steps(model: TRM, inputs: torch.Tensor, labels: torch.Tensor, n_sup: int) -> float:
    """The road not taken: every recursion of every step keeps its graph, one backward at the end.

    No `no_grad`, no detach: the loss of step k reaches back through all k steps, so the
    graphs of all steps stay in memory until the single backward pass. Returns the summed loss.
    """
    cfg = model.cfg
    y, z = model.initial_state(inputs.shape[0])
    total = 0.0
    for _ in range(n_sup):
        x = model.embed_input(inputs)
        for _ in range(cfg.T):
            y, z = model.latent_recursion(x, y, z)
        logits, q = model.readout(y)
        total = total + trm_loss(logits, labels, q[:, 0]).total
    total.backward()
    return total.item()


class _Saved:
    """One tensor kept for backward; its bytes count as live until autograd lets it go."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


def peak_saved_bytes(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Run `fn(*args, **kwargs)`; return its result and the peak bytes autograd held for backward.

    Every tensor autograd saves is counted from the moment it is saved until the graph that
    holds it is freed (after its backward pass, or when nothing refers to it any more).
    Tensors saved twice, or parameters saved by reference, count each time: this measures
    what the graph asks to keep, the quantity that grows when steps are not detached.
    """
    live, peak = 0, 0

    def release(nbytes: int) -> None:
        nonlocal live
        live -= nbytes

    def pack(t: torch.Tensor) -> _Saved:
        nonlocal live, peak
        box = _Saved(t)
        nbytes = t.numel() * t.element_size()
        live += nbytes
        peak = max(peak, live)
        weakref.finalize(box, release, nbytes)
        return box

    def unpack(box: _Saved) -> torch.Tensor:
        return box.tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        result = fn(*args, **kwargs)
    return result, peak
