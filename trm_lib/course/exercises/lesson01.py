"""Checkers of lesson 01, the MLP block: RMSNorm, SwiGLU, the post-norm mixer block."""
from __future__ import annotations

import itertools
from typing import Any, Callable

import torch
import torch.nn.functional as F

from trm_lib import layers
from trm_lib.course.checks import CheckResult, compare, failed, not_attempted, run_check, verdict


# The learner's modules get the reference's weights (torch.func.functional_call), so values
# and gradients, for the input and for every weight, can be compared exactly.


def _cycling(*makers: Callable[[torch.Generator], tuple]) -> Callable[[], Callable]:
    """A factory of input makers that take turns, so each trial tests a different case."""
    def factory() -> Callable[[torch.Generator], tuple]:
        turn = itertools.cycle(makers)
        return lambda g: next(turn)(g)
    return factory


def _with_hint(result: CheckResult, yours: Callable, variants: list[tuple[str, Callable]],
               inputs: Callable[[], Callable], **kw) -> CheckResult:
    """Name the likely cause when the learner's output is exactly that of a known mistake.
    Only for values that differ: the variants are compared by value, so when only a gradient
    differs, a variant with the reference's values would match and name the wrong cause."""
    if result.passed or not result.attempted or " raised " in result.message or "gradient" in result.message:
        return result
    for hint, mistake in variants:
        try:
            if run_check(yours, mistake, inputs(), **{**kw, "grad": False}).passed:
                text = result.message.replace("; using the reference for now",
                                              f". Likely cause: {hint}. Using the reference for now")
                return CheckResult(False, True, text)
        except Exception:  # a variant that cannot run on these inputs proves nothing
            continue
    return result


def check_rms_norm(fn: Callable) -> Callable:
    """rms_norm(h, eps=1e-5) against trm_lib.layers.rms_norm: values and gradients at three
    scales (a tiny one, where eps matters), then a float16 input (computed in float32?)."""
    inputs = _cycling(lambda g: (torch.randn(2, 5, 16, generator=g),),
                      lambda g: (1e-3 * torch.randn(2, 5, 16, generator=g),),
                      lambda g: (50 * torch.randn(3, 16, generator=g),))
    notes = ["h of ordinary size (standard normal)", "a tiny h (about 1e-3), where eps matters",
             "a large h (about 50)"]
    result = run_check(fn, layers.rms_norm, inputs(), "rms_norm", arg_names=["h"], trial_notes=notes)
    result = _with_hint(result, fn, [
        ("this is LayerNorm: RMSNorm does not subtract the mean, it only divides by sqrt(mean(h²) + eps)",
         lambda h: F.layer_norm(h, h.shape[-1:], eps=1e-5)),
        ("eps is missing: h / sqrt(mean(h²) + eps); without it a tiny h is blown up to size 1",
         lambda h: h * torch.rsqrt(h.square().mean(-1, keepdim=True))),
        ("eps belongs inside the square root: h / sqrt(mean(h²) + eps), not h / (sqrt(mean(h²)) + eps)",
         lambda h: h / (h.square().mean(-1, keepdim=True).sqrt() + 1e-5)),
        ("the mean runs over the last axis only, one mean per vector: h.square().mean(-1, keepdim=True), "
         "not one mean over the whole tensor",
         lambda h: h * torch.rsqrt(h.square().mean() + 1e-5)),
        ("the mean runs over the last axis (the features of one vector)",
         lambda h: layers.rms_norm(h.transpose(-1, -2)).transpose(-1, -2)),
    ], inputs, name="rms_norm", trial_notes=notes)
    if result.passed:
        problem = _half_precision_problem(fn)
        if problem:
            result = failed("rms_norm", problem)
    return verdict(result, fn, layers.rms_norm)


def _half_precision_problem(fn: Callable) -> str | None:
    h = (300 * torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(1))).half()
    try:
        out = fn(h)
    except Exception as err:
        return f"with a float16 input it raised {type(err).__name__}: {err}"
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float16:
        kind = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
        return f"a float16 input gave a {kind} output; return h's dtype (compute in float32, then .to(h.dtype))"
    problem = compare(out, layers.rms_norm(h), atol=1e-3, rtol=1e-2, what="float16 output")
    if problem:
        return f"{problem}: in float16, h² overflows; compute in float32 (h.float()) and cast back"
    return None


def _check_module(name: str, yours_cls: Any, reference_cls: Callable, sizes: list[tuple],
                  make_input: Callable[[torch.Generator, tuple], torch.Tensor],
                  variants: Callable[[tuple], list[tuple[str, Callable]]] = lambda size: [],
                  shape_hint: str = "") -> CheckResult:
    """Build both modules at each size, compare parameter names and shapes, then values and
    gradients (of the input and of every weight) with the reference's weights in both."""
    for size in sizes:
        call = f"{name}{size}"
        try:
            yours = yours_cls(*size)
        except NotImplementedError:
            return not_attempted(name)
        except Exception as err:
            return failed(call, f"building it raised {type(err).__name__}: {err}")
        with torch.random.fork_rng():
            torch.manual_seed(0)
            ref = reference_cls(*size)
        params = dict(ref.named_parameters())
        problem = _parameter_problem(yours, params, shape_hint)
        if problem:
            return failed(call, problem)
        names = list(params)

        def as_function(module: torch.nn.Module) -> Callable:
            return lambda h, *w: torch.func.functional_call(module, dict(zip(names, w)), (h,))

        def inputs() -> Callable:
            return lambda g: (make_input(g, size), *(p.detach().clone() for p in params.values()))

        result = run_check(as_function(yours), as_function(ref), inputs(), call, arg_names=["the input"] + names,
                           shown_args=1)
        result = _with_hint(result, as_function(yours), variants(size), inputs, name=call, shown_args=1)
        if not result.attempted:
            return not_attempted(name)
        if not result.passed:
            return result
    return CheckResult(True, True, f"✓ {name} matches the reference at {len(sizes)} sizes "
                                   f"(values and gradients of the input and every weight)")


def _parameter_problem(yours: torch.nn.Module, expected: dict[str, torch.Tensor], shape_hint: str) -> str | None:
    mine = {k: tuple(v.shape) for k, v in yours.named_parameters()}
    want = {k: tuple(v.shape) for k, v in expected.items()}
    extra, missing = sorted(set(mine) - set(want)), sorted(set(want) - set(mine))
    if extra or missing:
        parts = ([f"extra parameter(s) {', '.join(extra)}"] if extra else []) + \
                ([f"missing {', '.join(missing)}"] if missing else [])
        gain = " (TRM's RMSNorm has no learned gain)" if any("norm" in k for k in extra) else ""
        return f"{'; '.join(parts)}{gain}; keep the layers the exercise defines"
    for k in want:
        if mine[k] != want[k]:
            return f"{k} has shape {mine[k]}, expected {want[k]}{shape_hint}"
    return None


def _swiglu_f(x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor, swap: bool = False,
              act: Callable = F.silu) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=0)
    if swap:
        gate, up = up, gate
    return F.linear(act(F.linear(x, gate)) * F.linear(x, up), down)


def check_swiglu(cls: Any) -> Any:
    """Your SwiGLU(width, expansion) against trm_lib.layers.SwiGLU at three widths."""
    result = _check_module(
        "SwiGLU", cls, layers.SwiGLU, [(64, 4.0), (40, 4.0), (512, 4.0)],
        lambda g, size: torch.randn(2, 3, size[0], generator=g),
        lambda size: [("the gate is the FIRST half of gate_up's output: down(silu(gate) * up)",
                       lambda x, gu, d: _swiglu_f(x, gu, d, swap=True)),
                      ("SiLU is not the sigmoid: silu(g) = g * sigmoid(g), so the gate is F.silu(gate), "
                       "not torch.sigmoid(gate)", lambda x, gu, d: _swiglu_f(x, gu, d, act=torch.sigmoid))],
        shape_hint=": the hidden width is round(expansion * width * 2/3) rounded UP to a multiple of 256")
    return verdict(result, cls, layers.SwiGLU)


class ReferenceMixerBlock(layers.Block):
    """trm_lib's MLP-t block with the exercise's signature (what a failing check hands back)."""

    def __init__(self, hidden_size: int, total_len: int, expansion: float = 4.0, eps: float = 1e-5):
        super().__init__(hidden_size, total_len, "mlp_t", 1, expansion, eps)


def _block_mistakes(size: tuple) -> list[tuple[str, Callable]]:
    eps = size[3]

    def pre_norm(h, tg, td, cg, cd):
        ht = h.transpose(1, 2)
        h = (ht + _swiglu_f(layers.rms_norm(ht, eps), tg, td)).transpose(1, 2)
        return h + _swiglu_f(layers.rms_norm(h, eps), cg, cd)

    def token_norm_over_channels(h, tg, td, cg, cd):
        ht = h.transpose(1, 2)
        h = layers.rms_norm((ht + _swiglu_f(ht, tg, td)).transpose(1, 2), eps)
        return layers.rms_norm(h + _swiglu_f(h, cg, cd), eps)

    return [("post-norm means h = rms_norm(h + f(h)), not h + f(rms_norm(h))", pre_norm),
            ("the token mixer's RMSNorm runs over the positions: normalise (B, D, L) before transposing back",
             token_norm_over_channels)]


def check_mixer_block(cls: Any) -> Any:
    """Your MixerBlock(hidden_size, total_len, expansion, eps) against trm_lib.layers.Block (MLP-t)."""
    result = _check_module(
        "MixerBlock", cls, ReferenceMixerBlock, [(16, 11, 2.0, 1e-5), (32, 20, 4.0, 1e-5)],
        lambda g, size: torch.randn(2, size[1], size[0], generator=g), _block_mistakes)
    if not result.passed and "shapes cannot be multiplied" in result.message:
        result = CheckResult(False, True, result.message.split(" raised ")[0] + ": the token MLP mixes the L "
                             "positions, so it needs them last: call it on h.transpose(1, 2), shape (B, D, L), "
                             "and transpose back; using the reference for now")
    return verdict(result, cls, ReferenceMixerBlock)
