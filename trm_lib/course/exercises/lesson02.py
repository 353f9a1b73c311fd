"""Checkers of lesson 02, latent recursion: `latent_recursion` and `deep_recursion`."""
from __future__ import annotations

import types
from typing import Any, Callable

import torch

from trm_lib.course.checks import CheckResult, failed, not_attempted, run_check, verdict
from trm_lib.model import ModelConfig
from trm_lib.course.exercises.lesson01 import _with_hint
from trm_lib.model import TRM
from trm_lib.variants import build_model


# The learner's functions take the network (and the head) as arguments; the references run
# TRM's own recursion methods on that same network: `_OnNet` is what those methods read of
# `self` (the network, T and n, and a readout through the given head).


class _OnNet:
    latent_recursion = TRM.latent_recursion
    deep_recursion = TRM.deep_recursion

    def __init__(self, net: Callable, T: int, n: int, head: Callable | None = None):
        self.net, self.head, self.cfg = net, head, types.SimpleNamespace(T=T, n=n)

    def readout(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(y), y.new_zeros(y.shape[0], 2)  # no Q head in the exercise


def reference_latent_recursion(net: Callable, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                               n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """TRM.latent_recursion on the network `net`, with the exercise's signature."""
    return _OnNet(net, 1, n).latent_recursion(x, y, z)


def reference_deep_recursion(net: Callable, head: Callable, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                             T: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TRM.deep_recursion on `net`: (y, z) detached, and head(y) with its graph."""
    out = _OnNet(net, T, n, head).deep_recursion(x, y, z)
    return out.y, out.z, out.logits


def _detach_problem(yours: Callable, name: str, T: int) -> CheckResult:
    """(y, z) come back detached; with T > 1 the starting y and z reach the logits only
    through recursions without gradients."""
    x, y, z = (t.requires_grad_() for t in _xyz(torch.Generator().manual_seed(1)))
    try:
        y_out, z_out, logits = yours(x, y, z)
        if y_out.requires_grad or z_out.requires_grad:
            return failed(name, "the y and z you return still carry gradients; return y.detach() and z.detach(), "
                               "so the next supervision step starts a fresh graph")
        grads = torch.autograd.grad(logits.sum(), [y, z], allow_unused=True) if logits.requires_grad else ()
    except Exception as err:
        return failed(name, f"raised {type(err).__name__}: {err}")
    if T > 1 and any(gr is not None and bool(gr.abs().sum() > 0) for gr in grads):
        return failed(name, "gradients reach the starting y and z, so more than the last recursion kept its graph; "
                           "run the first T-1 recursions inside torch.no_grad()")
    return CheckResult(True, True, "")


def tiny_trm(**changes: Any) -> TRM:
    """A TRM of a few thousand weights on 3x3 'puzzles' (2 + 9 positions of width 16); the same
    weights for every call, whatever the changes to T, n or the ablation switches."""
    base = dict(vocab_size=5, seq_len=9, hidden_size=16, expansion=2.0, puzzle_emb_len=2, T=2, n=2, n_sup=4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build_model(ModelConfig(**{**base, **changes}))


def _xyz(g: torch.Generator, shape: tuple = (2, 11, 16)) -> tuple:
    return tuple(torch.randn(shape, generator=g) for _ in range(3))


def check_latent_recursion(fn: Callable) -> Callable:
    """latent_recursion(net, x, y, z, n) -> (y, z) against TRM.latent_recursion, for n = 1, 2, 3."""
    result = None
    for n in (1, 2, 3):
        model = tiny_trm(T=1, n=n)
        net = model.net

        def yours(x, y, z, n=n, net=net):
            return fn(net, x, y, z, n)

        ref = model.latent_recursion

        def x_in_answer(x, y, z, n=n, net=net):
            for _ in range(n):
                z = net(x + y + z)
            return net(x + y + z), z

        def y_inside_loop(x, y, z, n=n, net=net):
            for _ in range(n):
                z = net(x + y + z)
                y = net(y + z)
            return y, z

        def no_y_in_latent(x, y, z, n=n, net=net):
            for _ in range(n):
                z = net(x + z)
            return net(y + z), z

        def y_before_z(x, y, z, n=n, net=net):
            y = net(y + z)
            for _ in range(n):
                z = net(x + y + z)
            return y, z

        def z_and_y(x, y, z, n=n, net=net):
            y, z = reference_latent_recursion(net, x, y, z, n)
            return z, y

        name = f"latent_recursion (n={n})"
        result = run_check(yours, ref, lambda g: _xyz(g), name, trials=2, arg_names=["x", "y", "z"],
                           out_names=["y", "z"])
        result = _with_hint(result, yours, [
            ("you returned (z, y); return (y, z), the answer first", z_and_y),
            ("x is injected into the answer update; it must be y = net(y + z), without x", x_in_answer),
            ("y is updated once, after all n latent updates, not inside the loop", y_inside_loop),
            ("y is updated before the latent updates; first n times z = net(x + y + z), then y = net(y + z) "
             "from the new z", y_before_z),
            ("the latent update sees the answer too: z = net(x + y + z)", no_y_in_latent),
        ], lambda: (lambda g: _xyz(g)), name=name, trials=2, out_names=["y", "z"])
        if not result.attempted:
            result = not_attempted("latent_recursion")
        if not result.passed:
            break
    if result.passed:
        result = CheckResult(True, True, "✓ latent_recursion matches TRM.latent_recursion for n = 1, 2, 3 "
                                         "(values and gradients of x, y and z)")
    return verdict(result, fn, reference_latent_recursion)


def _z_first(out: tuple) -> tuple:
    y, z, logits = out
    return z, y, logits


def check_deep_recursion(fn: Callable) -> Callable:
    """deep_recursion(net, head, x, y, z, T, n) -> (y, z, logits) against TRM.deep_recursion:
    the values, that y and z come back detached, and that gradients reach x only through the
    last recursion (none reach the starting y and z when T > 1)."""
    for T, n in ((1, 2), (2, 1), (3, 2)):
        name = f"deep_recursion (T={T}, n={n})"
        model = tiny_trm(T=T, n=n)
        net, P = model.net, model.cfg.puzzle_emb_len

        def head(h, model=model, P=P):  # the output head, on the puzzle's cells only
            return model.head(h)[:, P:]

        def yours(x, y, z, T=T, n=n, net=net, head=head):
            return fn(net, head, x, y, z, T, n)

        def ref(x, y, z, model=model):
            out = model.deep_recursion(x, y, z)
            return out.y, out.z, out.logits

        out_names = ["y", "z", "logits"]
        result = run_check(yours, ref, lambda g: _xyz(g), name, trials=2, grad=False,
                           arg_names=["x", "y", "z"], out_names=out_names)
        result = _with_hint(result, yours, [
            ("you returned z before y; return (y, z, logits)",
             lambda x, y, z, T=T, n=n, net=net, head=head: _z_first(reference_deep_recursion(net, head, x, y, z, T, n))),
            ("T recursions in all: T-1 without gradients, then one with",
             lambda x, y, z, T=T, n=n, net=net, head=head: reference_deep_recursion(net, head, x, y, z, T + 1, n)),
            ("run the T-1 recursions without gradients first, then the one with gradients",
             lambda x, y, z, n=n, net=net, head=head: reference_deep_recursion(net, head, x, y, z, 1, n)),
        ], lambda: (lambda g: _xyz(g)), name=name, trials=2, arg_names=["x", "y", "z"], out_names=out_names)
        if not result.attempted:
            result = not_attempted("deep_recursion")
        if result.passed:
            result = _detach_problem(yours, name, T)
        if result.passed:
            result = run_check(lambda x, y, z: yours(x, y, z)[2], lambda x, y, z: ref(x, y, z)[2],
                               lambda g: _xyz(g), name, trials=2, arg_names=["x", "the starting y", "the starting z"])
        if not result.passed:
            return verdict(result, fn, reference_deep_recursion)
    return verdict(CheckResult(True, True, "✓ deep_recursion matches TRM.deep_recursion for (T, n) = (1, 2), "
                                           "(2, 1), (3, 2): values, detached (y, z), and gradients through the "
                                           "last recursion only"), fn, reference_deep_recursion)
