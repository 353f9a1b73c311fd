"""Kind checkers for the lessons' exercises.

A check runs the learner's function and the reference on the same fresh random inputs and
says what differs: the shape, the values (with the largest difference and where), or the
gradients. It never lets a torch traceback reach the learner. An exercise left as
`raise NotImplementedError` is "not attempted yet": the check says so and hands back the
reference, so the notebook carries on.

    result = run_check(my_rms_norm, reference.rms_norm, lambda g: (torch.randn(2, 5, 8, generator=g),), "rms_norm")
    rms_norm = verdict(result, my_rms_norm, reference.rms_norm)  # prints the line; yours if it passed
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

Inputs = Callable[[torch.Generator], tuple]

_LIBRARY = str(Path(__file__).resolve().parents[1])  # trm_lib/: frames there are not the learner's


@dataclass
class CheckResult:
    passed: bool
    attempted: bool
    message: str

    def __str__(self) -> str:
        return self.message


def verdict(result: CheckResult, yours: Any, reference: Any) -> Any:
    """Print the check's one line; hand back the learner's function if it passed, else the reference."""
    print(result)
    return yours if result.passed else reference


def not_attempted(name: str) -> CheckResult:
    return CheckResult(False, False, f"{name}: not attempted yet, using the reference")


def failed(name: str, problem: str) -> CheckResult:
    return CheckResult(False, True, f"✗ {name}: {problem}; using the reference for now")


def raised(name: str, err: BaseException, on: str = "", message: str | None = None, hint: str = "") -> CheckResult:
    """The learner's code raised: its type, message (or `message`) and line, no traceback."""
    where = f" on {on}" if on else ""
    text = str(err) if message is None else message
    return CheckResult(False, True, f"✗ {name} raised {type(err).__name__}{where}: {text}{_where_raised(err)}{hint}; "
                                    "using the reference for now")


def _where_raised(err: BaseException) -> str:
    """' (line N of your code)' for the innermost frame outside torch and trm_lib (a learner is
    never sent into the library's files)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if "site-packages" not in f.filename and not f.filename.startswith(_LIBRARY)]
    return f" (line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""


def run_cases(fn: Callable, reference: Callable, cases: list[tuple[str, tuple]], name: str,
              same: Callable[[Any, Any], str | None]) -> CheckResult:
    """Call `fn` and `reference` on each (description, args); `same(a, b)` returns None or a difference."""
    for label, args in cases:
        try:
            mine = fn(*args)
        except NotImplementedError:
            return not_attempted(name)
        except Exception as err:
            return raised(name, err, on=label)
        problem = same(mine, reference(*args))
        if problem is not None:
            return failed(name, f"on {label}, {problem}")
    return CheckResult(True, True, f"✓ {name} matches the reference on {len(cases)} cases")


def _as_tuple(out: Any) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def compare(yours: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, what: str = "output",
            names: list[str] | None = None) -> str | None:
    """None when `yours` matches `expected` (tensors or tuples of them), else what differs.
    `names` name the values of a tuple in messages ("y", "z"); by default "output 0", "output 1"."""
    yours_t, expected_t = _as_tuple(yours), _as_tuple(expected)
    if len(yours_t) != len(expected_t):
        return f"{what}: you returned {len(yours_t)} value(s), expected {len(expected_t)}"
    for i, (a, b) in enumerate(zip(yours_t, expected_t)):
        label = what if len(expected_t) == 1 else (names[i] if names and i < len(names) else f"{what} {i}")
        if not isinstance(a, torch.Tensor):
            return f"{label}: you returned a {type(a).__name__}, expected a tensor"
        if a.shape != b.shape:
            return f"{label} shape: yours {tuple(a.shape)}, expected {tuple(b.shape)}"
        a32, b32 = a.detach().float(), b.detach().float()
        if not torch.isfinite(a32).all():
            return f"{label}: yours contains NaN or inf"
        diff = (a32 - b32).abs()
        if not torch.allclose(a32, b32, atol=atol, rtol=rtol):
            worst = tuple(int(j) for j in torch.unravel_index(diff.argmax(), diff.shape))
            return (f"{label} values differ: max difference {diff.max().item():.3g} at index {worst} "
                    f"(yours {a32[worst].item():.4g}, expected {b32[worst].item():.4g})")
    return None


def run_check(yours: Callable, reference: Callable, make_inputs: Inputs, name: str = "your function",
              trials: int = 3, atol: float = 1e-5, rtol: float = 1e-4, grad: bool = True,
              seed: int = 0, arg_names: list[str] | None = None, out_names: list[str] | None = None,
              trial_notes: list[str] | None = None, shown_args: int | None = None) -> CheckResult:
    """Compare `yours` with `reference` on `trials` random inputs and say how it went.

    `make_inputs(generator)` returns the positional arguments. With `grad`, floating inputs
    require gradients and the gradients of a random projection of the outputs are compared too.
    `arg_names` name the inputs in messages ("gradient of x"); by default "input 0", "input 1", ...
    `out_names` name the returned values ("y values differ"); by default "output 0", ...
    A failure says which trial (with `trial_notes[k]`, what that trial tries) and the shapes of
    the first `shown_args` arguments (all by default; the rest are weights handed in, not inputs)."""
    g = torch.Generator().manual_seed(seed)
    for trial in range(trials):
        args = make_inputs(g)
        mine_args = [_leaf(a, grad) for a in args]
        ref_args = [_leaf(a, grad) for a in args]
        try:
            mine = yours(*mine_args)
        except NotImplementedError:
            return not_attempted(name)
        except Exception as err:  # the learner's bug: say what and where, no traceback
            return raised(name, err)
        expected = reference(*ref_args)
        problem = compare(mine, expected, atol, rtol, names=out_names)
        if problem is None and grad:
            problem = _compare_grads(mine, expected, mine_args, ref_args, g, atol, rtol, arg_names, out_names)
        if problem is not None:
            return failed(name, f"{problem} ({_trial(trial, trials, trial_notes, args, arg_names, shown_args)})")
    return CheckResult(True, True, f"✓ {name} matches the reference on {trials} random inputs"
                                   + (" (values and gradients)" if grad else ""))


def _trial(k: int, trials: int, notes: list[str] | None, args: tuple, arg_names: list[str] | None,
           shown: int | None) -> str:
    """'trial 2 of 3: tiny values; x (2, 11, 16), y (2, 11, 16)': which trial, what it tries, the inputs."""
    note = f": {notes[k % len(notes)]}" if notes else ""
    tensors = [(i, a) for i, a in enumerate(args[:shown]) if isinstance(a, torch.Tensor)]
    if arg_names:
        shapes = ", ".join(f"{arg_names[i] if i < len(arg_names) else f'input {i}'} {tuple(a.shape)}"
                           for i, a in tensors)
    else:
        shapes = ("input" + ("s" if len(tensors) > 1 else "") + " of shape "
                  + ", ".join(str(tuple(a.shape)) for _, a in tensors))
    return f"trial {k + 1} of {trials}{note}; {shapes}"


def _leaf(a: Any, grad: bool) -> Any:
    if isinstance(a, torch.Tensor):
        a = a.detach().clone()
        if grad and a.is_floating_point():
            a.requires_grad_(True)
    return a


def _compare_grads(mine: Any, expected: Any, mine_args: list, ref_args: list, g: torch.Generator,
                   atol: float, rtol: float, arg_names: list[str] | None = None,
                   out_names: list[str] | None = None) -> str | None:
    outs_m, outs_r = _as_tuple(mine), _as_tuple(expected)
    leaves = [i for i, a in enumerate(ref_args) if isinstance(a, torch.Tensor) and a.requires_grad]
    if not leaves or not all(o.requires_grad for o in outs_r):
        return None
    dead = [i for i, o in enumerate(outs_m) if not (isinstance(o, torch.Tensor) and o.requires_grad)]
    if dead:
        which = ("output" if len(outs_m) == 1 else
                 " and ".join(out_names[i] if out_names and i < len(out_names) else f"output {i}" for i in dead))
        return f"your {which} does not carry gradients (was something detached or computed under no_grad?)"
    weights = [torch.randn(o.shape, generator=g) for o in outs_r]
    grads_m = torch.autograd.grad(sum((o.float() * w).sum() for o, w in zip(outs_m, weights)),
                                  [mine_args[i] for i in leaves], allow_unused=True)
    grads_r = torch.autograd.grad(sum((o.float() * w).sum() for o, w in zip(outs_r, weights)),
                                  [ref_args[i] for i in leaves], allow_unused=True)
    for i, gm, gr in zip(leaves, grads_m, grads_r):
        gm = torch.zeros_like(ref_args[i]) if gm is None else gm
        gr = torch.zeros_like(ref_args[i]) if gr is None else gr
        arg = arg_names[i] if arg_names and i < len(arg_names) else f"input {i}"
        problem = compare(gm, gr, atol * 10, rtol * 10, what=f"gradient of {arg}")
        if problem:
            return problem
    return None
