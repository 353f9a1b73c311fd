"""Checkers of lesson 09, a TRM of your own: the input embedding, the model's supervision step
and the training step.

The embedding is a function of the model's two tables, compared with TRM.embed_input on the
same weights. The learner's model gets the weights of a trm_lib TRM of the same config (the
parameter names are TRM's), so one supervision step can be compared value for value; the
learner's training step runs on a copy of the same model beside `reference_train_step` on another.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import torch

from trm_lib.course.checks import CheckResult, compare, failed, not_attempted, run_check, verdict
from trm_lib.model import ModelConfig
from trm_lib.course.exercises.lesson01 import _with_hint
from trm_lib.course.exercises.lesson03 import _raised
from trm_lib.losses import trm_loss
from trm_lib.model import TRM


def _tiny_config() -> ModelConfig:
    return ModelConfig(vocab_size=5, seq_len=9, hidden_size=16, expansion=2.0, puzzle_emb_len=2, T=2, n=2, n_sup=3)


def _library_model(cfg: ModelConfig) -> TRM:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = TRM(cfg)
    with torch.no_grad():  # TRM starts these at zero; random values make a wiring mistake show
        model.puzzle_emb.normal_(generator=torch.Generator().manual_seed(1))
        model.q_head.weight.normal_(std=0.5, generator=torch.Generator().manual_seed(2))
    return model


def _build_with_library_weights(cls: Any, cfg: ModelConfig) -> tuple[Any, TRM, str | None]:
    """(yours, the library's TRM, problem): yours built from `cfg` and given the TRM's weights."""
    ref = _library_model(cfg)
    yours = cls(cfg)
    mine = {k: tuple(v.shape) for k, v in yours.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    if mine != want:
        extra, missing = sorted(set(mine) - set(want)), sorted(set(want) - set(mine))
        wrong = [k for k in set(mine) & set(want) if mine[k] != want[k]]
        parts = ([f"extra {', '.join(extra)}"] if extra else []) + ([f"missing {', '.join(missing)}"] if missing else []) \
            + [f"{k} has shape {mine[k]}, expected {want[k]}" for k in sorted(wrong)]
        return yours, ref, "its weights are not TRM's: " + "; ".join(parts)
    yours.load_state_dict(ref.state_dict())
    return yours, ref, None


class _Tables:
    """What TRM.embed_input reads of `self`, from any model with TRM's tables (the learner's
    holds the puzzle vectors as a parameter, TRM as a buffer), outside training."""
    embed_input = TRM.embed_input
    training = False

    def __init__(self, cfg: ModelConfig, embed_tokens: torch.Tensor, puzzle_emb: torch.Tensor):
        self.cfg, self.embed_tokens, self.puzzle_emb = cfg, embed_tokens, puzzle_emb
        self.embed_scale = math.sqrt(cfg.hidden_size)

    def puzzle_rows(self, puzzle_ids: torch.Tensor) -> torch.Tensor:
        return self.puzzle_emb[puzzle_ids]


def reference_embed_input(model: Any, inputs: torch.Tensor) -> torch.Tensor:
    """TRM.embed_input for puzzle 0 on `model`'s tables: x = sqrt(D) [prefix; embed_tokens[inputs]],
    (B, S) -> (B, P + S, D), the puzzle vector in prefix slot 0 and the other slots zero."""
    return _Tables(model.cfg, model.embed_tokens, model.puzzle_emb).embed_input(inputs)


def check_embed_input(fn: Callable) -> Callable:
    """embed_input(model, inputs) -> x against TRM.embed_input on the same tables (a random puzzle
    vector, so a missing or misplaced prefix shows): values, and gradients of both tables."""
    cfg = _tiny_config()
    ref = _library_model(cfg)

    def on_tables(f: Callable) -> Callable:
        return lambda inputs, tokens, puzzles: f(_Tables(cfg, tokens, puzzles), inputs)

    def inputs(g: torch.Generator) -> tuple:
        return (torch.randint(0, cfg.vocab_size, (3, cfg.seq_len), generator=g),
                ref.embed_tokens.detach().clone(), ref.puzzle_emb.detach().clone())

    def without_scale(model: Any, x: torch.Tensor) -> torch.Tensor:
        return reference_embed_input(model, x) / math.sqrt(cfg.hidden_size)

    def without_puzzle(model: Any, x: torch.Tensor) -> torch.Tensor:
        return reference_embed_input(_Tables(cfg, model.embed_tokens, torch.zeros_like(model.puzzle_emb)), x)

    def prefix_last(model: Any, x: torch.Tensor) -> torch.Tensor:
        P = cfg.puzzle_emb_len
        return reference_embed_input(model, x).roll(-P, dims=1)

    kw = dict(name="embed_input", arg_names=["inputs", "embed_tokens", "puzzle_emb"], shown_args=1)
    result = run_check(on_tables(fn), on_tables(reference_embed_input), inputs, **kw)
    result = _with_hint(result, on_tables(fn), [
        (f"everything is multiplied by sqrt(D) = {math.sqrt(cfg.hidden_size):g}: x = sqrt(D) [prefix; tokens]",
         on_tables(without_scale)),
        ("prefix slot 0 holds the puzzle vector, puzzle_emb[0]; the other P - 1 slots are zero",
         on_tables(without_puzzle)),
        ("the prefix comes first: torch.cat((prefix, tokens), dim=1)", on_tables(prefix_last)),
    ], lambda: inputs, **kw)
    return verdict(result, fn, reference_embed_input)


def check_my_trm(cls: Any) -> Any:
    """Your model class, built from a ModelConfig, against trm_lib.TRM with the same weights:
    two supervision steps from the initial state, comparing y, z, logits and q_halt."""
    name = "MyTRM"
    cfg = _tiny_config()
    try:
        yours, ref, problem = _build_with_library_weights(cls, cfg)
        if problem:
            return verdict(failed(name, problem), cls, TRM)
        inputs = torch.randint(1, 5, (3, 9), generator=torch.Generator().manual_seed(3))
        y = z = None
        ry = rz = None
        for step in (1, 2):
            out = yours(inputs, y, z)
            expected = ref(inputs, ry, rz)
            for what in ("y", "z", "logits", "q_halt"):
                problem = compare(getattr(out, what), getattr(expected, what), 1e-5, 1e-4, what=what)
                if problem:
                    hint = {"q_halt": ": q_halt = q_head(y[:, 0])[:, 0], read from the first prefix position",
                            "logits": ": logits = head(y) on the puzzle's cells, the prefix dropped",
                            }.get(what, "")
                    return verdict(failed(name, f"step {step}: {problem}{hint}"), cls, TRM)
            y, z, ry, rz = out.y, out.z, expected.y, expected.z
        problem = _gradient_problem(yours, ref, inputs)
        if problem:
            return verdict(failed(name, problem), cls, TRM)
    except NotImplementedError:
        return verdict(not_attempted(name), cls, TRM)
    except Exception as err:
        return verdict(_raised(name, err), cls, TRM)
    return verdict(CheckResult(True, True, f"✓ {name} matches trm_lib.TRM with the same weights: y, z, logits "
                                           "and q_halt over two supervision steps, and their gradients"), cls, TRM)


def _gradient_problem(yours: Any, ref: TRM, inputs: torch.Tensor) -> str | None:
    """Equal values can hide a broken gradient (q_halt read from a detached y): compare the
    weights' gradients of one supervision step's logits and q_halt, each under a random projection."""
    g = torch.Generator().manual_seed(4)
    outs = [m(inputs, None, None) for m in (yours, ref)]
    projections = {what: torch.randn(getattr(outs[1], what).shape, generator=g) for what in ("logits", "q_halt")}
    for what in ("q_halt", "logits"):
        for model in (yours, ref):
            model.zero_grad(set_to_none=True)
        grads = []
        for model, out in zip((yours, ref), outs):
            (getattr(out, what) * projections[what]).sum().backward(retain_graph=True)
            grads.append({k: (p.grad if p.grad is not None else torch.zeros_like(p)) for k, p in model.named_parameters()})
        for k, expected in grads[1].items():
            problem = compare(grads[0][k], expected, 1e-5, 1e-3, what=f"gradient of {what} with respect to {k}")
            if problem:
                hint = (": read q_halt from the y that carries gradients (the new y before .detach()); "
                        "the values are the same, but the halting loss cannot reach the network"
                        if what == "q_halt" else ": only the last recursion's n+1 calls carry gradients, "
                        "the first T-1 recursions run under torch.no_grad()")
                return f"values match but {problem}{hint}"
    return None


def reference_train_step(model: torch.nn.Module, shadow: dict[str, torch.Tensor], inputs: torch.Tensor,
                         labels: torch.Tensor, optimizer: torch.optim.Optimizer, decay: float) -> list[float]:
    """One batch of deep supervision with the EMA: N_sup steps, each a loss (stablemax CE +
    0.5 x halting BCE, trm_lib.losses.trm_loss), an optimizer step and an EMA update of
    `shadow` (name -> tensor, changed in place); the carry detached. Returns the step losses."""
    y = z = None
    losses = []
    for _ in range(model.cfg.n_sup):
        out = model(inputs, y, z)
        loss = trm_loss(out.logits, labels, out.q_halt).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        with torch.no_grad():
            for name, w in model.named_parameters():
                shadow[name] = decay * shadow[name] + (1 - decay) * w.detach()
        y, z = out.y.detach(), out.z.detach()
        losses.append(loss.item())
    return losses


def _train_step_problem(mine: Any, expected: list[float], shadow_m: dict, shadow_r: dict,
                        model_m: torch.nn.Module, model_r: torch.nn.Module) -> str | None:
    n = len(expected)
    if not isinstance(mine, (list, tuple)) or len(mine) != n:
        return f"return the list of the {n} step losses (one per supervision step, as floats)"
    for s, (a, b) in enumerate(zip(mine, expected)):
        if abs(float(a) - b) > 1e-4 * (1 + abs(b)):
            hint = ("the loss is stablemax_cross_entropy(out.logits, labels).mean() + "
                    "0.5 * halt_loss(out.logits, labels, out.q_halt)" if s == 0 else
                    "the step before left other weights or another carry: after every supervision step "
                    "optimizer.step() then optimizer.zero_grad(), and carry out.y.detach(), out.z.detach()")
            return f"the loss of step {s + 1} is {float(a):.5g}, expected {b:.5g}: {hint}"
    for (name, wm), wr in zip(model_m.named_parameters(), model_r.parameters()):
        problem = compare(wm, wr, 1e-5, 1e-3, what=f"weight {name} after the batch")
        if problem:
            return problem + " (one optimizer step after every supervision step, then zero_grad)"
    for name in shadow_r:
        problem = compare(shadow_m.get(name, torch.zeros(0)), shadow_r[name], 1e-5, 1e-3,
                          what=f"EMA shadow of {name}")
        if problem:
            return problem + (" (after every optimizer step: shadow[name] = ema_update(shadow[name], "
                              "w.detach(), decay), for every named parameter)")
    return None


def check_train_step(fn: Callable) -> Callable:
    """train_step(model, shadow, inputs, labels, optimizer, decay) -> losses, against
    reference_train_step: every step's loss, the weights after the batch, and the EMA shadow."""
    name = "train_step"
    model = _library_model(_tiny_config())
    g = torch.Generator().manual_seed(4)
    inputs, labels = torch.randint(1, 5, (4, 9), generator=g), torch.randint(1, 5, (4, 9), generator=g)
    model_m, model_r = copy.deepcopy(model), copy.deepcopy(model)
    shadow_m = {k: w.detach().clone() for k, w in model_m.named_parameters()}
    shadow_r = {k: w.detach().clone() for k, w in model_r.named_parameters()}
    opt_m, opt_r = (torch.optim.SGD(m.parameters(), lr=0.5) for m in (model_m, model_r))
    try:
        mine = fn(model_m, shadow_m, inputs, labels, opt_m, 0.8)
    except NotImplementedError:
        return verdict(not_attempted(name), fn, reference_train_step)
    except Exception as err:
        return verdict(_raised(name, err), fn, reference_train_step)
    expected = reference_train_step(model_r, shadow_r, inputs, labels, opt_r, 0.8)
    problem = _train_step_problem(mine, expected, shadow_m, shadow_r, model_m, model_r)
    if problem:
        return verdict(failed(name, problem), fn, reference_train_step)
    return verdict(CheckResult(True, True, f"✓ {name} matches the reference on a tiny TRM: every step's loss, "
                                           "the weights after the batch and the EMA shadow"), fn, reference_train_step)
