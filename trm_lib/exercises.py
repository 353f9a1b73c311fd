"""One checker per lesson exercise: the learner's function against the reference on fresh inputs.

Each `check_*` runs `trm_lib.checks` machinery with the inputs that exercise needs, prints one
kind line (what passed, or what differs), and returns the function the notebook should use
next: the learner's when it matches, the reference otherwise. An exercise still raising
`NotImplementedError` prints "not attempted yet, using the reference".
"""
from __future__ import annotations

import torch

from trm_lib.checks import check_function, run_check  # noqa: F401  (used by the sections below)

# ---- lesson 01: the MLP block -------------------------------------------------------------
# The learner's modules get the reference's weights (torch.func.functional_call), so values
# and gradients, for the input and for every weight, can be compared exactly.
import itertools  # noqa: E402
from typing import Any, Callable  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from trm_lib import layers  # noqa: E402
from trm_lib.checks import CheckResult, compare  # noqa: E402

def _cycling(*makers: Callable[[torch.Generator], tuple]) -> Callable[[], Callable]:
    """A factory of input makers that take turns, so each trial tests a different case."""
    def factory() -> Callable[[torch.Generator], tuple]:
        turn = itertools.cycle(makers)
        return lambda g: next(turn)(g)
    return factory


def _with_hint(result: CheckResult, yours: Callable, variants: list[tuple[str, Callable]],
               inputs: Callable[[], Callable], **kw) -> CheckResult:
    """Name the likely cause when the learner's output is exactly that of a known mistake."""
    if result.passed or not result.attempted or " raised " in result.message:
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


def _report(result: CheckResult, yours: Any, reference: Any) -> Any:
    print(result)
    return yours if result.passed else reference


def _fail(name: str, problem: str) -> CheckResult:
    return CheckResult(False, True, f"✗ {name}: {problem}; using the reference for now")


def check_rms_norm(fn: Callable) -> Callable:
    """rms_norm(h, eps=1e-5) against trm_lib.layers.rms_norm: values and gradients at three
    scales (a tiny one, where eps matters), then a float16 input (computed in float32?)."""
    inputs = _cycling(lambda g: (torch.randn(2, 5, 16, generator=g),),
                      lambda g: (1e-3 * torch.randn(2, 5, 16, generator=g),),
                      lambda g: (50 * torch.randn(3, 16, generator=g),))
    result = run_check(fn, layers.rms_norm, inputs(), "rms_norm", arg_names=["h"])
    result = _with_hint(result, fn, [
        ("eps belongs inside the square root, sqrt(mean(h²) + eps)",
         lambda h: h * torch.rsqrt(h.square().mean(-1, keepdim=True))),
        ("the mean runs over the last axis (the features of one vector)",
         lambda h: layers.rms_norm(h.transpose(-1, -2)).transpose(-1, -2)),
    ], inputs, name="rms_norm")
    if result.passed:
        problem = _half_precision_problem(fn)
        if problem:
            result = _fail("rms_norm", problem)
    return _report(result, fn, layers.rms_norm)


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
            return CheckResult(False, False, f"{name}: not attempted yet, using the reference")
        except Exception as err:
            return _fail(call, f"building it raised {type(err).__name__}: {err}")
        with torch.random.fork_rng():
            torch.manual_seed(0)
            ref = reference_cls(*size)
        params = dict(ref.named_parameters())
        problem = _parameter_problem(yours, params, shape_hint)
        if problem:
            return _fail(call, problem)
        names = list(params)

        def as_function(module: torch.nn.Module) -> Callable:
            return lambda h, *w: torch.func.functional_call(module, dict(zip(names, w)), (h,))

        def inputs() -> Callable:
            return lambda g: (make_input(g, size), *(p.detach().clone() for p in params.values()))

        result = run_check(as_function(yours), as_function(ref), inputs(), call, arg_names=["the input"] + names)
        result = _with_hint(result, as_function(yours), variants(size), inputs, name=call)
        if not result.attempted:
            return CheckResult(False, False, f"{name}: not attempted yet, using the reference")
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


def _swiglu_f(x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor, swap: bool = False) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=0)
    if swap:
        gate, up = up, gate
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


def check_swiglu(cls: Any) -> Any:
    """Your SwiGLU(width, expansion) against trm_lib.layers.SwiGLU at three widths."""
    result = _check_module(
        "SwiGLU", cls, layers.SwiGLU, [(64, 4.0), (40, 4.0), (512, 4.0)],
        lambda g, size: torch.randn(2, 3, size[0], generator=g),
        lambda size: [("the gate is the FIRST half of gate_up's output: down(silu(gate) * up)",
                       lambda x, gu, d: _swiglu_f(x, gu, d, swap=True))],
        shape_hint=": the hidden width is round(expansion * width * 2/3) rounded UP to a multiple of 256")
    return _report(result, cls, layers.SwiGLU)


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
    return _report(result, cls, ReferenceMixerBlock)


# ---- lesson 02: latent recursion ----------------------------------------------------------
# The learner's functions take the network (and the head) as arguments; the reference is
# TRM's own methods, run on that same network through a stand-in for the model.
from types import SimpleNamespace  # noqa: E402

from trm_lib.config import ModelConfig  # noqa: E402
from trm_lib.model import TRM  # noqa: E402

def _stand_in(net: Callable, head: Callable | None, T: int, n: int) -> SimpleNamespace:
    """Just enough of a TRM to run TRM's own recursion methods on `net` (and `head`)."""
    model = SimpleNamespace(net=net, answer_net=net, head=head, q_head=lambda h: h.new_zeros(h.shape[0], 2),
                            cfg=ModelConfig(vocab_size=2, seq_len=1, T=T, n=n, puzzle_emb_len=0))
    model.latent_recursion = lambda x, y, z: TRM.latent_recursion(model, x, y, z)
    return model


def reference_latent_recursion(net: Callable, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                               n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """TRM.latent_recursion on the network `net`, with the exercise's signature."""
    return _stand_in(net, None, 1, n).latent_recursion(x, y, z)


def reference_deep_recursion(net: Callable, head: Callable, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                             T: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TRM.deep_recursion on `net` and `head`: (y, z) detached, and head(y) with its graph."""
    out = TRM.deep_recursion(_stand_in(net, head, T, n), x, y, z)
    return out.y, out.z, out.logits


def _detach_problem(yours: Callable, name: str, T: int) -> CheckResult:
    """(y, z) come back detached; with T > 1 the starting y and z reach the logits only
    through recursions without gradients."""
    x, y, z = (t.requires_grad_() for t in _xyz(torch.Generator().manual_seed(1)))
    try:
        y_out, z_out, logits = yours(x, y, z)
        if y_out.requires_grad or z_out.requires_grad:
            return _fail(name, "the y and z you return still carry gradients; return y.detach() and z.detach(), "
                               "so the next supervision step starts a fresh graph")
        grads = torch.autograd.grad(logits.sum(), [y, z], allow_unused=True) if logits.requires_grad else ()
    except Exception as err:
        return _fail(name, f"raised {type(err).__name__}: {err}")
    if T > 1 and any(gr is not None and bool(gr.abs().sum() > 0) for gr in grads):
        return _fail(name, "gradients reach the starting y and z, so more than the last recursion kept its graph; "
                           "run the first T-1 recursions inside torch.no_grad()")
    return CheckResult(True, True, "")


def _tiny_trm(T: int = 1, n: int = 1) -> TRM:
    """A TRM with 2 + 9 positions of width 16; the same weights for every T and n."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return TRM(ModelConfig(vocab_size=5, seq_len=9, hidden_size=16, expansion=2.0, puzzle_emb_len=2, T=T, n=n))


def _xyz(g: torch.Generator, shape: tuple = (2, 11, 16)) -> tuple:
    return tuple(torch.randn(shape, generator=g) for _ in range(3))


def check_latent_recursion(fn: Callable) -> Callable:
    """latent_recursion(net, x, y, z, n) -> (y, z) against TRM.latent_recursion, for n = 1, 2, 3."""
    result = None
    for n in (1, 2, 3):
        model = _tiny_trm(n=n)
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

        name = f"latent_recursion (n={n})"
        result = run_check(yours, ref, lambda g: _xyz(g), name, trials=2, arg_names=["x", "y", "z"])
        result = _with_hint(result, yours, [
            ("x is injected into the answer update; it must be y = net(y + z), without x", x_in_answer),
            ("y is updated once, after all n latent updates, not inside the loop", y_inside_loop),
            ("the latent update sees the answer too: z = net(x + y + z)", no_y_in_latent),
        ], lambda: (lambda g: _xyz(g)), name=name, trials=2)
        if not result.attempted:
            result = CheckResult(False, False, "latent_recursion: not attempted yet, using the reference")
        if not result.passed:
            break
    if result.passed:
        result = CheckResult(True, True, "✓ latent_recursion matches TRM.latent_recursion for n = 1, 2, 3 "
                                         "(values and gradients of x, y and z)")
    return _report(result, fn, reference_latent_recursion)


def check_deep_recursion(fn: Callable) -> Callable:
    """deep_recursion(net, head, x, y, z, T, n) -> (y, z, logits) against TRM.deep_recursion:
    the values, that y and z come back detached, and that gradients reach x only through the
    last recursion (none reach the starting y and z when T > 1)."""
    for T, n in ((1, 2), (2, 1), (3, 2)):
        name = f"deep_recursion (T={T}, n={n})"
        model = _tiny_trm(T, n)
        net, P = model.net, model.cfg.puzzle_emb_len

        def head(h, model=model, P=P):  # the output head, on the puzzle's cells only
            return model.head(h)[:, P:]

        def yours(x, y, z, T=T, n=n, net=net, head=head):
            return fn(net, head, x, y, z, T, n)

        def ref(x, y, z, model=model):
            out = model.deep_recursion(x, y, z)
            return out.y, out.z, out.logits

        result = run_check(yours, ref, lambda g: _xyz(g), name, trials=2, grad=False)
        result = _with_hint(result, yours, [
            ("T recursions in all: T-1 without gradients, then one with",
             lambda x, y, z, T=T, n=n, net=net, head=head: reference_deep_recursion(net, head, x, y, z, T + 1, n)),
            ("run the T-1 recursions without gradients first, then the one with gradients",
             lambda x, y, z, n=n, net=net, head=head: reference_deep_recursion(net, head, x, y, z, 1, n)),
        ], lambda: (lambda g: _xyz(g)), name=name, trials=2)
        if not result.attempted:
            result = CheckResult(False, False, "deep_recursion: not attempted yet, using the reference")
        if result.passed:
            result = _detach_problem(yours, name, T)
        if result.passed:
            result = run_check(lambda x, y, z: yours(x, y, z)[2], lambda x, y, z: ref(x, y, z)[2],
                               lambda g: _xyz(g), name, trials=2, arg_names=["x", "the starting y", "the starting z"])
        if not result.passed:
            return _report(result, fn, reference_deep_recursion)
    return _report(CheckResult(True, True, "✓ deep_recursion matches TRM.deep_recursion for (T, n) = (1, 2), "
                                           "(2, 1), (3, 2): values, detached (y, z), and gradients through the "
                                           "last recursion only"), fn, reference_deep_recursion)


# ---- lesson 03: deep supervision ----------------------------------------------------------
# The learner's loop trains a copy of a tiny TRM, the reference loop (trm_lib.supervision)
# another copy; an optimizer that records every gradient it applies lets the check say at
# which supervision step, and in which weight, the two part ways.
# Lessons 03-05 import what they use themselves, so their sections stand on their own.
import copy  # noqa: E402
from typing import Any, Callable  # noqa: E402

from trm_lib.checks import CheckResult, _where_raised, compare  # noqa: E402
from trm_lib.config import ModelConfig  # noqa: E402
from trm_lib.model import TRM  # noqa: E402
from trm_lib.supervision import deep_supervision as reference_deep_supervision  # noqa: E402


def _verdict(result: CheckResult, yours: Any, reference: Any) -> Any:
    """Print the check's one line; hand back the learner's function if it passed, else the reference."""
    print(result)
    return yours if result.passed else reference


def _wrong(name: str, problem: str) -> CheckResult:
    return CheckResult(False, True, f"✗ {name}: {problem}; using the reference for now")


def _small_trm(**changes: Any) -> TRM:
    """A TRM of a few thousand weights on 3x3 'puzzles', the same for every call with the same changes."""
    base = dict(vocab_size=5, seq_len=9, hidden_size=16, expansion=2.0, puzzle_emb_len=2, T=2, n=2, n_sup=4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return TRM(ModelConfig(**{**base, **changes}))


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


def _raised(name: str, err: Exception) -> CheckResult:
    text = str(err).split("\n")[0].split(". ")[0][:200]
    hint = ""
    if "backward through the graph a second time" in text:
        hint = ("; the carry still holds the graph of the step before: carry y.detach() and z.detach() "
                "into the next step")
    return CheckResult(False, True, f"✗ {name} raised {type(err).__name__}: {text}{_where_raised(err)}{hint}; "
                                    "using the reference for now")


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
    trm_lib.supervision.deep_supervision: the loss of every step and every gradient applied,
    with T = 1 (where a missing detach breaks the second backward) and T = 2."""
    name = "deep_supervision"
    for T in (1, 2):
        model = _small_trm(T=T)
        g = torch.Generator().manual_seed(T)
        inputs, labels = torch.randint(1, 5, (4, 9), generator=g), torch.randint(1, 5, (4, 9), generator=g)
        mine_model, ref_model = copy.deepcopy(model), copy.deepcopy(model)
        opt_m, opt_r = _RecordingSGD(mine_model), _RecordingSGD(ref_model)
        try:
            mine = fn(mine_model, inputs, labels, 3, opt_m)
        except NotImplementedError:
            return _verdict(CheckResult(False, False, f"{name}: not attempted yet, using the reference"),
                           fn, reference_deep_supervision)
        except Exception as err:
            return _verdict(_raised(name, err), fn, reference_deep_supervision)
        expected = reference_deep_supervision(ref_model, inputs, labels, 3, opt_r)
        problem = _supervision_problem(mine, expected, opt_m, opt_r)
        if problem:
            return _verdict(_wrong(f"{name} (T={T})", problem), fn, reference_deep_supervision)
    return _verdict(CheckResult(True, True, f"✓ {name} matches trm_lib on a tiny TRM with T = 1 and T = 2: "
                                           "the loss of every step and every gradient applied"),
                   fn, reference_deep_supervision)


def reference_one_step_gradient(model: TRM, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
    """The last recursion under HRM's 1-step gradient, as TRM runs it with gradient="one_step"."""
    return model._one_step_gradient_recursion(x, y, z)


def check_one_step_gradient(fn: Callable) -> Callable:
    """one_step_gradient_recursion(model, x, y, z) -> (y, z) against TRM with gradient="one_step":
    the values and the gradients reaching x, y and z (inputs 0, 1 and 2)."""
    model = _small_trm(n=3, gradient="one_step")
    result = run_check(lambda x, y, z: fn(model, x, y, z),
                       lambda x, y, z: reference_one_step_gradient(model, x, y, z),
                       lambda g: tuple(torch.randn(2, 11, 16, generator=g) for _ in range(3)),
                       "one_step_gradient_recursion", trials=2)
    if not result.passed and "gradient of input" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using the reference", ". Inputs 0, 1, 2 are x, y, z: only the last latent update and the answer "
            "update may carry gradients, the n-1 latent updates before them run under torch.no_grad(); "
            "using the reference"))
    return _verdict(result, fn, reference_one_step_gradient)


# ---- lesson 04: ACT halting ---------------------------------------------------------------
from dataclasses import fields as _fields  # noqa: E402

from trm_lib.act import Carry, initial_carry  # noqa: E402
from trm_lib.act import refill as reference_refill  # noqa: E402
from trm_lib.losses import trm_loss  # noqa: E402


def reference_halt_loss(logits: torch.Tensor, labels: torch.Tensor, q_halt: torch.Tensor) -> torch.Tensor:
    """The halting part of trm_lib.losses.trm_loss: BCE(q_halt, whole grid exactly right)."""
    return trm_loss(logits, labels, q_halt).halt


def _halt_inputs(g: torch.Generator) -> tuple:
    """Logits of 6 grids of 9 cells; labels agree with the argmax everywhere in grids 0, 2, 4
    and in all but one cell in grids 1, 3, 5 (mostly right, yet not exact)."""
    logits = torch.randn(6, 9, 5, generator=g)
    labels = logits.argmax(-1)
    cell = torch.randint(0, 9, (3,), generator=g)
    labels[1::2, :][torch.arange(3), cell] = (labels[1::2, :][torch.arange(3), cell] + 1) % 5
    return logits, labels, 2 * torch.randn(6, generator=g)


def check_halt_loss(fn: Callable) -> Callable:
    """halt_loss(logits, labels, q_halt) -> scalar, against the halting part of trm_loss:
    on grids that are exactly right, and on grids right in every cell but one."""
    result = run_check(fn, reference_halt_loss, _halt_inputs, "halt_loss", trials=3)
    if not result.passed and result.attempted and "values differ" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using the reference", ". The target is 1 only where EVERY cell of the grid is right "
            "(a grid right in 8 of 9 cells has target 0), and q_halt is a logit: "
            "binary_cross_entropy_with_logits; using the reference"))
    return _verdict(result, fn, reference_halt_loss)


def _refill_case(g: torch.Generator, model: TRM) -> tuple[Carry, torch.Tensor, torch.Tensor]:
    """A carry of 5 slots in mid-run (slots 1 and 3 halted), and the next batch of puzzles."""
    B, S = 5, model.cfg.seq_len
    inputs = torch.randint(1, 5, (B, S), generator=g)
    carry = initial_carry(model, inputs, inputs)
    shape = carry.y.shape
    carry = Carry(y=torch.randn(shape, generator=g), z=torch.randn(shape, generator=g),
                  steps=torch.randint(1, 4, (B,), generator=g, dtype=torch.int32),
                  halted=torch.tensor([False, True, False, True, False]),
                  inputs=inputs, labels=torch.randint(1, 5, (B, S), generator=g),
                  puzzle_ids=torch.zeros(B, dtype=torch.long))
    return carry, torch.randint(1, 5, (B, S), generator=g), torch.randint(1, 5, (B, S), generator=g)


def _refill_problem(mine: Any, expected: Carry, halted: torch.Tensor) -> str | None:
    if not all(hasattr(mine, f.name) for f in _fields(Carry)):
        return f"return a Carry (y, z, steps, halted, inputs, labels, puzzle_ids), got a {type(mine).__name__}"
    for f in _fields(Carry):
        a, b = getattr(mine, f.name), getattr(expected, f.name)
        problem = compare(a, b, what=f"carry.{f.name}")
        if problem:
            if " at index (" in problem:
                slot = int(problem.split(" at index (")[1].split(",")[0].rstrip(")"))
                state = "halted: it takes the new puzzle and starts afresh" if halted[slot] else \
                    "still running: it keeps its puzzle, its y, z and its step count"
                problem += f"; slot {slot} was {state}"
            return problem
    return None


def check_refill(fn: Callable) -> Callable:
    """refill(model, carry, inputs, labels) -> Carry, against trm_lib.act.refill, field by field."""
    name = "refill"
    model = _small_trm()
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        carry, inputs, labels = _refill_case(g, model)
        try:
            mine = fn(model, copy.deepcopy(carry), inputs.clone(), labels.clone())
        except NotImplementedError:
            return _verdict(CheckResult(False, False, f"{name}: not attempted yet, using the reference"),
                           fn, reference_refill)
        except Exception as err:
            return _verdict(_raised(name, err), fn, reference_refill)
        expected = reference_refill(model, copy.deepcopy(carry), inputs, labels)
        problem = _refill_problem(mine, expected, carry.halted)
        if problem:
            return _verdict(_wrong(name, problem), fn, reference_refill)
    return _verdict(CheckResult(True, True, f"✓ {name} matches trm_lib.act.refill on two carries "
                                           "(halted slots refilled and reset, the others untouched)"),
                   fn, reference_refill)


# ---- lesson 05: EMA and the training recipe -----------------------------------------------
from trm_lib.ema import EMA  # noqa: E402
from trm_lib.losses import cell_cross_entropy  # noqa: E402


def reference_stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-cell stablemax cross-entropy, (B, S, V) x (B, S) -> (B, S), as trm_lib.losses computes it."""
    return cell_cross_entropy(logits, labels, "stablemax")


def _logits_and_labels(g: torch.Generator) -> tuple:
    """Logits spread wide (both branches of s(x) and large values), random labels."""
    logits = 4 * torch.randn(3, 7, 6, generator=g)
    return logits, torch.randint(0, 6, (3, 7), generator=g)


def check_stablemax_cross_entropy(fn: Callable) -> Callable:
    """stablemax_cross_entropy(logits, labels) -> (B, S) against trm_lib.losses.cell_cross_entropy."""
    result = run_check(fn, reference_stablemax_cross_entropy, _logits_and_labels, "stablemax_cross_entropy")
    if not result.passed and result.attempted and "values differ" in result.message:
        softmax = run_check(fn, lambda lg, lb: cell_cross_entropy(lg, lb, "softmax"), _logits_and_labels, grad=False)
        if softmax.passed:
            result = CheckResult(False, True, result.message.replace(
                "; using the reference", ". These are softmax's values: use s(x) = x + 1 (x >= 0), "
                "1 / (1 - x) (x < 0) in place of exp(x); using the reference"))
    return _verdict(result, fn, reference_stablemax_cross_entropy)


def reference_ema_update(shadow: torch.Tensor, weight: torch.Tensor, decay: float) -> torch.Tensor:
    """One step of trm_lib.ema.EMA on a single weight: decay * shadow + (1 - decay) * weight."""
    holder = torch.nn.Module()
    holder.w = torch.nn.Parameter(shadow.detach().clone())
    ema = EMA(holder, decay)
    with torch.no_grad():
        holder.w.copy_(weight)
    ema.update(holder)
    return ema.shadow[0]


def _ema_inputs(g: torch.Generator) -> tuple:
    decay = float(0.5 + 0.49 * torch.rand((), generator=g))
    return torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g), decay


def check_ema_update(fn: Callable) -> Callable:
    """ema_update(shadow, weight, decay) -> the new shadow, against trm_lib.ema.EMA.update."""
    result = run_check(fn, reference_ema_update, _ema_inputs, "ema_update", grad=False)
    if not result.passed and result.attempted and "values differ" in result.message:
        swapped = run_check(fn, lambda s, w, d: reference_ema_update(s, w, 1 - d), _ema_inputs, grad=False)
        if swapped.passed:
            result = CheckResult(False, True, result.message.replace(
                "; using the reference", ". decay and 1 - decay are swapped: the shadow keeps `decay` of "
                "itself and takes 1 - decay of the new weight; using the reference"))
    return _verdict(result, fn, reference_ema_update)


# ---- lessons 06-08: end to end and beyond -------------------------------------------------

import numpy as np

from trm_lib.checkpoint import _flatten
from trm_lib.checks import CheckResult, _where_raised
from trm_lib.config import Config, get_preset
from trm_lib import maze as _mz

# lesson 06: Sudoku end to end


def _changes_inputs(g: torch.Generator) -> tuple:
    """Answers after 6 steps of 36 cells; each step rewrites a few random cells."""
    answers = [torch.randint(2, 8, (36,), generator=g)]
    for _ in range(5):
        step = answers[-1].clone()
        cells = torch.rand(36, generator=g) < 0.2
        step[cells] = torch.randint(2, 8, (36,), generator=g)[cells]
        answers.append(step)
    return (torch.stack(answers),)


def check_changes_per_step(fn):
    """Lesson 06: (K, S) answers -> (K, S) bool, the cells that differ from the step before."""
    from trm_lib.watch import changes_per_step

    return check_function(fn, changes_per_step, _changes_inputs, name="changes_per_step", grad=False)


def _configure_reference(preset: str, max_steps: int, eval_every: int):
    return get_preset(preset).with_overrides({"train.max_steps": max_steps, "train.eval_every": eval_every})


def _run_cases(fn, reference, cases: list[tuple[str, tuple]], name: str, same) -> CheckResult:
    """Call `fn` and `reference` on each (description, args); `same(a, b)` returns None or a difference."""
    for label, args in cases:
        try:
            mine = fn(*args)
        except NotImplementedError:
            return CheckResult(False, False, f"{name}: not attempted yet, using the reference")
        except Exception as err:
            return CheckResult(False, True, f"✗ {name} raised {type(err).__name__} on {label}: {err}"
                                            f"{_where_raised(err)}; using the reference for now")
        problem = same(mine, reference(*args))
        if problem is not None:
            return CheckResult(False, True, f"✗ {name}: on {label}, {problem}; using the reference for now")
    return CheckResult(True, True, f"✓ {name} matches the reference on {len(cases)} cases")


def _same_config(mine, expected) -> str | None:
    if not isinstance(mine, Config):
        return f"you returned a {type(mine).__name__}, expected a Config (get_preset(...) gives one)"
    a, b = _flatten(mine.to_dict()), _flatten(expected.to_dict())
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f"{key} is {a.get(key)!r}, expected {b.get(key)!r}"
    return None


def check_configure(fn):
    """Lesson 06: configure(preset, max_steps, eval_every) -> the preset with those two changed."""
    cases = [(f"configure{args}", args) for args in
             (("sudoku6-cpu", 1000, 100), ("sudoku4-cpu", 300, 50), ("sudoku-extreme-mlp", 65000, 5000))]
    result = _run_cases(fn, _configure_reference, cases, "configure", _same_config)
    print(result)
    return fn if result.passed else _configure_reference


# lesson 07: mazes end to end


def _maze_cases(size: int = 8, count: int = 3, seed: int = 0) -> list[tuple[str, tuple]]:
    """Small mazes with right and wrong paths: our label, another shortest path, and broken ones."""
    OPEN, PATH, WALL = _mz.OPEN, _mz.PATH, _mz.WALL
    rng = np.random.default_rng(seed)
    cases = []
    for m in range(count):
        maze, label, _ = _mz.generate_maze(size, 2 * size - 4, rng)
        maze, label = maze.reshape(-1), label.reshape(-1)
        path = np.flatnonzero(label == PATH)
        cases.append((f"maze {m + 1} with our shortest path", (maze, label)))
        to_goal = _mz.bfs((maze != WALL).tolist(), size, int(np.flatnonzero(maze == _mz.GOAL)[0]))
        other = maze.copy()  # another shortest path: step to the LAST neighbour one move closer
        here = int(np.flatnonzero(maze == _mz.START)[0])
        while to_goal[here] > 1:
            here = [v for v in _mz.neighbours(size)[here] if to_goal[v] == to_goal[here] - 1][-1]
            other[here] = PATH
        if not np.array_equal(other, label):
            cases.append((f"maze {m + 1} with a different shortest path", (maze, other)))
        missing = label.copy()
        missing[path[len(path) // 2]] = OPEN
        cases.append((f"maze {m + 1} with one path cell missing", (maze, missing)))
        spare = [c for c in np.flatnonzero(maze == OPEN) if label[c] == OPEN]
        if spare:
            extra = label.copy()
            extra[spare[0]] = PATH
            cases.append((f"maze {m + 1} with one path cell too many", (maze, extra)))
            moved = missing.copy()
            moved[spare[0]] = PATH
            cases.append((f"maze {m + 1} with a path cell moved off the path", (maze, moved)))
        cases.append((f"maze {m + 1} with no path at all", (maze, maze.copy())))
    return cases


def check_is_shortest_path(fn):
    """Lesson 07: is_shortest_path(maze, answer) -> True when answer marks a shortest S-G path."""
    def same(mine, expected) -> str | None:
        if isinstance(mine, torch.Tensor) and mine.numel() == 1:
            mine = mine.item()
        if not isinstance(mine, (bool, np.bool_)):
            return f"you returned a {type(mine).__name__}, expected True or False"
        return None if bool(mine) == expected else f"yours says {bool(mine)}, expected {expected}"

    result = _run_cases(fn, _mz.is_valid_shortest_path, _maze_cases(), "is_shortest_path", same)
    print(result)
    return fn if result.passed else _mz.is_valid_shortest_path


# lesson 08: beyond the paper


def reference_exact_per_step(model, inputs: torch.Tensor, labels: torch.Tensor, n_steps: int) -> torch.Tensor:
    """(n_steps,) exact accuracy after each supervision step, every step run from the last one's (y, z)."""
    from trm_lib.act import evaluate_steps

    outs = evaluate_steps(model, inputs, n_steps)
    return torch.stack([(o.logits.argmax(-1) == labels).all(-1).float().mean() for o in outs])


def _as_float_tensor(fn):
    """The learner may return a list of numbers or of 0-d tensors: compare it as a float tensor."""
    def wrapped(*args):
        out = fn(*args)
        if isinstance(out, (list, tuple)) and all(isinstance(v, (int, float, torch.Tensor)) for v in out):
            out = torch.tensor([float(v) for v in out])
        return out.float() if isinstance(out, torch.Tensor) else out
    return wrapped


def check_exact_per_step(fn, n_steps: int = 10, puzzles_per_trial: int = 16):
    """Lesson 08: exact_per_step(model, inputs, labels, n_steps) -> (n_steps,) accuracies, checked on
    the shipped 6x6 model and test puzzles, with more steps than it trained with."""
    from trm_lib.paths import dataset_files
    from trm_lib.pretrained import load_pretrained
    from trm_lib.puzzles import load_puzzles

    model, _ = load_pretrained("sudoku6-cpu")
    test = load_puzzles(dataset_files("sudoku-6x6")[1])

    def inputs(g: torch.Generator) -> tuple:
        idx = torch.randperm(len(test), generator=g)[:puzzles_per_trial]
        return model, test.inputs[idx], test.labels[idx], n_steps

    result = run_check(_as_float_tensor(fn), reference_exact_per_step, inputs, "exact_per_step", trials=2, grad=False)
    if not result.passed and result.attempted and "values differ" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "(trial", "(index k is the accuracy after step k + 1; does each step start from the last "
                      "one's y and z, and count a puzzle only when every cell is right?) (trial"))
    print(result)
    return fn if result.passed else reference_exact_per_step


def _probe_inputs(g: torch.Generator) -> tuple:
    digits = torch.randint(0, 4, (120,), generator=g)
    features = torch.randn(120, 6, generator=g) + torch.randn(4, 6, generator=g)[digits]  # a cloud per digit
    return features, digits, 4, 5.0


def check_fit_probe(fn):
    """Lesson 08: fit_probe(features (N, D), digits (N,), num_classes, ridge) -> W (D + 1, C)."""
    from trm_lib.probe import fit_probe

    result = run_check(fn, fit_probe, _probe_inputs, "fit_probe", trials=3, grad=False)
    if not result.passed and result.attempted and "shape: yours (6, 4)" in result.message:
        result = CheckResult(False, True, result.message.replace(
            "; using", "; did you append the column of ones (the bias) to the features?; using"))
    print(result)
    return fn if result.passed else fit_probe
