"""Checkers of lesson 03, deep supervision: the supervision loop and the 1-step gradient."""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable

import torch

from trm_lib.course.checks import CheckResult, compare, failed, not_attempted, raised, run_check, verdict
from trm_lib.course.exercises.lesson02 import tiny_trm
from trm_lib.model import TRM
from trm_lib.variants import OneStepGradientTRM
from trm_lib.course.supervision import deep_supervision as reference_deep_supervision


# The learner's loop trains a copy of a tiny TRM, the reference loop (trm_lib.course.supervision)
# another copy; an optimizer that records every gradient it applies lets the check say at
# which supervision step, and in which weight, the two part ways.


class _RecordingSGD(torch.optim.SGD):
    """Plain SGD that keeps a copy of the gradients of every step it takes."""

    def __init__(self, model: torch.nn.Module, lr: float = 0.5):
        self.names = [n for n, _ in model.named_parameters()]
        super().__init__(list(model.parameters()), lr=lr)
        self.seen: list[list[torch.Tensor]] = []

    @torch.no_grad()
    def step(self, closure=None):
        self.seen.append([p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                          for p in self.param_groups[0]["params"]])
        return super().step(closure)


class _CarryWithHistory(TRM):
    """A TRM whose supervision steps hand back y and z with their graph, unlike TRM's.

    TRM's own step detaches its carry, which would hide a loop that forgets to: the learner's
    loop gets this model, so a missing detach shows, as the carried y or z arriving at the next
    step with the graph of the step before (`carried_history` counts those steps).
    """

    carried_history = 0

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, z = super().latent_recursion(x, y, z)
        self._last = (y, z)
        return y, z

    def deep_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        handed_out = getattr(self, "_handed_out", ())
        if any(t is h for t in (y, z) for h in handed_out):
            self.carried_history += 1
        out = super().deep_recursion(x, y, z)
        y, z = self._last  # the same values as out.y and out.z, with their graph
        self._handed_out = (y, z)
        return dataclasses.replace(out, y=y, z=z)


def _with_history(model: TRM) -> _CarryWithHistory:
    mine = copy.deepcopy(model)
    mine.__class__ = _CarryWithHistory
    return mine


_NO_DETACH = ("the y and z of one supervision step go into the next without .detach(): the next step's "
              "backward would reach into the graph of the step before. Carry y, z = out.y.detach(), "
              "out.z.detach()")


def _raised(name: str, err: Exception) -> CheckResult:
    text = str(err).split("\n")[0].split(". ")[0][:200]
    hint = ""
    if "backward through the graph a second time" in text:
        hint = ("; the carry still holds the graph of the step before: carry y.detach() and z.detach() "
                "into the next step")
    return raised(name, err, message=text, hint=hint)


def _supervision_problem(mine: Any, expected: list[float], opt_m: _RecordingSGD, opt_r: _RecordingSGD) -> str | None:
    n_sup = len(expected)
    if not isinstance(mine, (list, tuple)):
        return f"return the list of the {n_sup} step losses, got a {type(mine).__name__}"
    if len(mine) != n_sup:
        return f"you returned {len(mine)} losses, expected one per supervision step ({n_sup})"
    if len(opt_m.seen) != n_sup:
        k = len(opt_m.seen)
        return (f"the optimizer stepped {k} time{'' if k == 1 else 's'}, expected once after every supervision step "
                f"({n_sup}): loss.backward(), optimizer.step(), optimizer.zero_grad() inside the loop")
    for s in range(n_sup):
        a, b = float(mine[s]), expected[s]
        if abs(a - b) > 1e-4 * (1 + abs(b)):
            hint = ("start from model.initial_state and run one step with model(inputs, y, z)" if s == 0 else
                    "carry the y and z of the step before into this one")
            return f"the loss of step {s + 1} is {a:.5g}, expected {b:.5g}: {hint}"
        for pname, gm, gr in zip(opt_m.names, opt_m.seen[s], opt_r.seen[s]):
            problem = compare(gm, gr, 1e-5, 1e-3, what=f"gradient of {pname} at step {s + 1}")
            if problem:
                return problem + (" (were the gradients of the step before cleared with optimizer.zero_grad()?)"
                                  if s else "")
    return None


def check_deep_supervision(fn: Callable) -> Callable:
    """deep_supervision(model, inputs, labels, n_sup, optimizer) -> losses, against
    trm_lib.course.supervision.deep_supervision: the loss of every step and every gradient applied,
    with T = 1 and T = 2, and that the carry is detached (the learner's model hands back y and z
    with their graph, so a loop that forgets the detach is seen to carry it)."""
    name = "deep_supervision"
    for T in (1, 2):
        model = tiny_trm(T=T)
        g = torch.Generator().manual_seed(T)
        inputs, labels = torch.randint(1, 5, (4, 9), generator=g), torch.randint(1, 5, (4, 9), generator=g)
        mine_model, ref_model = _with_history(model), copy.deepcopy(model)
        opt_m, opt_r = _RecordingSGD(mine_model), _RecordingSGD(ref_model)
        try:
            mine = fn(mine_model, inputs, labels, 3, opt_m)
        except NotImplementedError:
            return verdict(not_attempted(name),
                           fn, reference_deep_supervision)
        except Exception as err:
            result = failed(f"{name} (T={T})", _NO_DETACH) if mine_model.carried_history else _raised(name, err)
            return verdict(result, fn, reference_deep_supervision)
        if mine_model.carried_history:
            return verdict(failed(f"{name} (T={T})", _NO_DETACH), fn, reference_deep_supervision)
        expected = reference_deep_supervision(ref_model, inputs, labels, 3, opt_r)
        problem = _supervision_problem(mine, expected, opt_m, opt_r)
        if problem:
            return verdict(failed(f"{name} (T={T})", problem), fn, reference_deep_supervision)
    return verdict(CheckResult(True, True, f"✓ {name} matches trm_lib on a tiny TRM with T = 1 and T = 2: "
                                           "the loss of every step, every gradient applied, and the carry detached"),
                   fn, reference_deep_supervision)


def reference_one_step_gradient(model: TRM, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
    """The last recursion under HRM's 1-step gradient, as `OneStepGradientTRM` runs it: the
    n-1 latent updates before the last one without gradients."""
    return OneStepGradientTRM.latent_recursion(model, x, y, z)


def check_one_step_gradient(fn: Callable) -> Callable:
    """one_step_gradient_recursion(model, x, y, z) -> (y, z) on a plain TRM, against the
    recursion of OneStepGradientTRM: the values and the gradients reaching x, y and z
    (inputs 0, 1 and 2)."""
    model = tiny_trm(n=3)
    result = run_check(lambda x, y, z: fn(model, x, y, z),
                       lambda x, y, z: reference_one_step_gradient(model, x, y, z),
                       lambda g: tuple(torch.randn(2, 11, 16, generator=g) for _ in range(3)),
                       "one_step_gradient_recursion", trials=2)
    if not result.passed and "gradient of input" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using the reference", ". Inputs 0, 1, 2 are x, y, z: only the last latent update and the answer "
            "update may carry gradients, the n-1 latent updates before them run under torch.no_grad(); "
            "using the reference"))
    return verdict(result, fn, reference_one_step_gradient)
