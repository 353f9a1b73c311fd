"""The Tiny Recursive Model: one small network, applied recursively.

    x = embed(question)                     the question, embedded once, never changes
    y, z = y_init, z_init                   the answer and the latent, fixed random vectors

    latent_recursion(x, y, z):
        repeat n times:  z = net(x + y + z)     # think: update the latent from question, answer, latent
        y = net(y + z)                          # act: update the answer; x is NOT injected here

    deep_recursion(x, y, z):                # one supervision step
        T-1 times, without gradients: y, z = latent_recursion(x, y, z)
        once, with gradients:          y, z = latent_recursion(x, y, z)
        return (y, z) detached, head(y), q_head(y[:, 0])

Gradients flow through the n+1 net calls of the last recursion only. The carry returned
is detached, so the next supervision step starts a fresh graph.

This file, `layers.py` and `ModelConfig` below are the whole model: nothing here reads data
or files. The paper's ablations (HRM's 1-step gradient, a single latent, two networks) are
subclasses in `trm_lib.variants`; `build_model(cfg)` there picks the class a config names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from trm_lib.layers import Linear, Net, swiglu_width, trunc_normal_


# what one supervision step may cost (ModelConfig refuses more): generous bounds that keep a
# typo such as model.n=1000000000 from starting a step that never ends
MAX_BLOCK_CALLS = 10_000  # num_layers x T x (n+1) per supervision step
MAX_SUPERVISION_STEPS = 1_000  # n_sup
MAX_FLOPS_PER_EXAMPLE_STEP = 1e14  # the paper's ARC model (arc1-att): 2.4e11


@dataclass(frozen=True)
class ModelConfig:
    """What the network is. Paper names -> ours: n (L_cycles) -> `n`, T (H_cycles) -> `T`,
    N_sup (halt_max_steps) -> `n_sup`. A config is checked when it is made."""

    vocab_size: int  # PAD 0 plus the task's tokens (Sudoku N x N: N + 2; maze: 6)
    seq_len: int  # puzzle cells, without the puzzle-embedding prefix (81, 900, ...)
    hidden_size: int = 512  # D
    num_layers: int = 2  # blocks in the one shared network `net`
    num_heads: int = 8  # attention mixer only; head_dim = hidden_size // num_heads
    expansion: float = 4.0  # SwiGLU width factor (before the 2/3 and the rounding)
    mixer: Literal["mlp_t", "attention"] = "mlp_t"  # token mixing: MLP over positions, or attention + RoPE
    puzzle_emb_len: int = 16  # prefix positions; the Q head reads position 0
    num_puzzle_ids: int = 1  # one shared learned vector for Sudoku and mazes
    T: int = 3  # recursions per supervision step (T-1 without gradients)
    n: int = 6  # latent updates per recursion
    n_sup: int = 16  # supervision (ACT) steps at most; evaluation always runs them all
    halt_exploration_prob: float = 0.1
    # ours, not the paper's: False runs every training slot for all n_sup steps (no early halt),
    # so the steps after an answer is found get gradients too; the Q head still learns
    halt_in_training: bool = True
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    # the ablations of the paper's Tables 1-2, one at a time (the defaults are TRM itself)
    gradient: Literal["last_recursion", "one_step"] = "last_recursion"  # one_step: HRM's 1-step gradient
    latents: Literal["y_and_z", "z_only"] = "y_and_z"  # z_only: a single latent feature, no separate y
    separate_nets: bool = False  # True: a second network for the answer update (HRM's two levels)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def total_len(self) -> int:
        """Sequence length the network sees: the prefix, then the cells."""
        return self.puzzle_emb_len + self.seq_len

    @property
    def ablations(self) -> list[str]:
        """The paper's ablations this config names (none for TRM itself; at most one is valid)."""
        named = (("gradient=one_step", self.gradient == "one_step"), ("latents=z_only", self.latents == "z_only"),
                 ("separate_nets", self.separate_nets))
        return [name for name, on in named if on]

    @property
    def ablation(self) -> str | None:
        """The ablation this config names, or None for TRM itself."""
        return self.ablations[0] if self.ablations else None

    def validate(self) -> None:
        problems = [f"{name} must be >= 1, got {getattr(self, name)}" for name in
                    ("vocab_size", "seq_len", "hidden_size", "num_layers", "num_heads", "num_puzzle_ids",
                     "T", "n", "n_sup") if getattr(self, name) < 1]
        problems += [f"{name} must be a finite number, got {getattr(self, name)}" for name in
                     ("expansion", "rope_theta", "rms_norm_eps", "halt_exploration_prob")
                     if not math.isfinite(getattr(self, name))]
        problems += [f"{name} must be > 0, got {getattr(self, name)}" for name in ("expansion", "rope_theta")
                     if getattr(self, name) <= 0]
        if self.rms_norm_eps < 0:
            problems.append(f"rms_norm_eps must be >= 0, got {self.rms_norm_eps}")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            problems.append("halt_exploration_prob must be in [0, 1]")
        if self.mixer not in ("mlp_t", "attention"):
            problems.append(f"mixer is {self.mixer!r}, expected 'mlp_t' or 'attention'")
        if self.mixer == "attention" and self.num_heads >= 1 and self.hidden_size % self.num_heads:
            problems.append(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.mixer == "attention" and (self.hidden_size // max(self.num_heads, 1)) % 2:
            problems.append("head_dim must be even for RoPE")
        if self.puzzle_emb_len < 1:
            problems.append("puzzle_emb_len must be >= 1: the Q head reads prefix position 0")
        if self.gradient not in ("last_recursion", "one_step"):
            problems.append(f"gradient is {self.gradient!r}, expected 'last_recursion' or 'one_step'")
        if self.latents not in ("y_and_z", "z_only"):
            problems.append(f"latents is {self.latents!r}, expected 'y_and_z' or 'z_only'")
        if len(self.ablations) > 1:
            problems.append("the ablations gradient=one_step, latents=z_only and separate_nets change one thing "
                            "at a time; choose one")
        if not problems:
            problems = self._cost_problems()
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    def flops_per_example_step(self) -> float:
        """Forward multiply-adds x 2 of one example through one supervision step (an estimate:
        the SwiGLUs and the token mixing, which are nearly all of it)."""
        L, D = self.total_len, self.hidden_size
        block = 3 * D * swiglu_width(D, self.expansion)
        block += 3 * L * swiglu_width(L, self.expansion) if self.mixer == "mlp_t" else 4 * D * D + 2 * L * D
        return 2.0 * L * block * self.num_layers * self.T * (self.n + 1)

    def _cost_problems(self) -> list[str]:
        """What one supervision step may cost, bounded where every config is made (an override,
        a checkpoint's config), so that no command starts work it cannot finish."""
        problems = []
        widths = [("hidden_size", self.hidden_size)] + ([("the sequence", self.total_len)] if self.mixer == "mlp_t" else [])
        for what, width in widths:
            if swiglu_width(width, self.expansion) < 1:
                problems.append(f"expansion {self.expansion} leaves the SwiGLU of {what} ({width}) no hidden "
                                f"units; use 1 or more (the paper: 4)")
        calls = self.num_layers * self.T * (self.n + 1)
        if calls > MAX_BLOCK_CALLS:
            problems.append(f"one supervision step would run num_layers x T x (n+1) = {self.num_layers} x {self.T} "
                            f"x {self.n + 1} = {calls:,} blocks; the limit is {MAX_BLOCK_CALLS:,} (the paper: 42)")
        if self.n_sup > MAX_SUPERVISION_STEPS:
            problems.append(f"n_sup {self.n_sup:,} is above the limit of {MAX_SUPERVISION_STEPS:,} supervision "
                            f"steps (the paper: 16)")
        flops = self.flops_per_example_step() if not problems else 0.0
        if flops > MAX_FLOPS_PER_EXAMPLE_STEP:
            problems.append(f"one example's supervision step would cost {flops:.2g} FLOPs "
                            f"(hidden_size {self.hidden_size:,}, {self.total_len:,} positions); the limit is "
                            f"{MAX_FLOPS_PER_EXAMPLE_STEP:.0e}, about 400 times the paper's ARC model")
        return problems


@dataclass
class StepOutput:
    """What one supervision step returns. Shapes: B batch, S cells, L = prefix + S, D hidden."""

    y: torch.Tensor  # (B, L, D) the new answer state, detached
    z: torch.Tensor  # (B, L, D) the new latent state, detached
    logits: torch.Tensor  # (B, S, vocab) decoded from y, prefix dropped
    q_halt: torch.Tensor  # (B,) float32 halting logit: > 0 means "halt, I am done"
    q_continue: torch.Tensor  # (B,) float32, kept for the Q-learning variant (unused in the loss)


class TRM(nn.Module):
    """TRM with a puzzle-embedding prefix, the output head and the halting (Q) head."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            whole = isinstance(getattr(cfg, "model", None), ModelConfig)
            raise TypeError("TRM takes a ModelConfig: " + ("pass cfg.model, not the whole Config" if whole else
                            f"get one from get_preset(name).model, got {type(cfg).__name__}"))
        if cfg.ablation and type(self) is TRM:
            raise ValueError(f"this config is the {cfg.ablation} ablation: build it with "
                             f"trm_lib.variants.build_model(cfg)")
        self.cfg = cfg
        D = cfg.hidden_size
        self.embed_scale = math.sqrt(D)
        # token embedding: init std 1/sqrt(D), multiplied by sqrt(D) on use
        self.embed_tokens = nn.Parameter(trunc_normal_(torch.empty(cfg.vocab_size, D), std=1 / self.embed_scale))
        # the learned puzzle embedding fills prefix slot 0; the other slots stay zero. A table
        # of one zero-initialised row per puzzle id, held as a buffer (as the official): training
        # reads the batch's rows (`puzzle_rows`) and sign-SGD updates those rows only
        self.register_buffer("puzzle_emb", torch.zeros(cfg.num_puzzle_ids, D))
        self.rows_in_use: tuple[torch.Tensor, torch.Tensor] | None = None
        self.net = build_net(cfg)
        self.head = Linear(D, cfg.vocab_size)
        self.q_head = Linear(D, 2, bias=True)  # (halt, continue)
        with torch.no_grad():  # start near "never halt" so early training is not cut short
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        # fixed, not learned: the starting answer and latent, broadcast over positions
        self.register_buffer("y_init", trunc_normal_(torch.empty(D), std=1.0))
        self.register_buffer("z_init", trunc_normal_(torch.empty(D), std=1.0))

    @property
    def networks(self) -> list[Net]:
        """Every network the recursion calls (the two-network ablation has two)."""
        return [self.net]

    def compile(self, *args, **kwargs) -> None:
        """Compile every network in place (the recursion around them stays eager Python, and
        the state_dict keys stay the same); arguments go to `torch.compile`."""
        for net in self.networks:
            net.compile(*args, **kwargs)

    # -- input ---------------------------------------------------------------------------
    def embed_input(self, inputs: torch.Tensor, puzzle_ids: torch.Tensor | None = None) -> torch.Tensor:
        """x: tokens (B, S) -> (B, L, D), the prefix first, everything times sqrt(D)."""
        if inputs.dim() != 2 or inputs.shape[1] != self.cfg.seq_len:
            raise ValueError(
                f"inputs have shape {tuple(inputs.shape)}, expected (batch, {self.cfg.seq_len}) "
                f"tokens for this model"
            )
        B = inputs.shape[0]
        if puzzle_ids is None:
            puzzle_ids = torch.zeros(B, dtype=torch.long, device=inputs.device)
        tokens = self.embed_tokens[inputs]  # (B, S, D)
        prefix = tokens.new_zeros(B, self.cfg.puzzle_emb_len, self.cfg.hidden_size)
        prefix[:, 0] = self.puzzle_rows(puzzle_ids).to(prefix.dtype)
        return self.embed_scale * torch.cat((prefix, tokens), dim=1)  # (B, L, D)

    def puzzle_rows(self, puzzle_ids: torch.Tensor) -> torch.Tensor:
        """The batch's rows of the puzzle-embedding table, (B, D). In training they are a leaf
        copy, kept with the ids in `rows_in_use`: its gradient is what the puzzle embedding's
        sign-SGD (trm_lib.optim.PuzzleEmbeddingSignSGD) applies to these rows, and to no other."""
        rows = self.puzzle_emb[puzzle_ids]
        if self.training and torch.is_grad_enabled():
            rows.requires_grad_()
            self.rows_in_use = (puzzle_ids, rows)
        return rows

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, z) at the start of a puzzle: the fixed init vectors, broadcast to (B, L, D)."""
        shape = (batch_size, self.cfg.total_len, self.cfg.hidden_size)
        return self.y_init.expand(shape), self.z_init.expand(shape)

    # -- the recursion -------------------------------------------------------------------
    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """n latent updates, then one answer update. All (B, L, D)."""
        for _ in range(self.cfg.n):
            z = self.net(x + y + z)  # z = net(x + y + z)
        y = self.net(y + z)  # y = net(y + z): the answer update never sees x
        return y, z

    def deep_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> StepOutput:
        """One supervision step: T-1 recursions without gradients, one with; (y, z) detached."""
        with torch.no_grad():
            for _ in range(self.cfg.T - 1):
                y, z = self.latent_recursion(x, y, z)
        y, z = self.latent_recursion(x, y, z)
        logits, q = self.readout(y)
        return StepOutput(y.detach(), z.detach(), logits, q[:, 0], q[:, 1])

    def readout(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the answer state says: logits (B, S, vocab), the prefix dropped, and the
        float32 Q logits (B, 2) = (halt, continue), read from prefix position 0."""
        return self.head(y)[:, self.cfg.puzzle_emb_len:], self.q_head(y[:, 0]).float()

    def forward(self, inputs: torch.Tensor, y: torch.Tensor | None = None, z: torch.Tensor | None = None,
                puzzle_ids: torch.Tensor | None = None) -> StepOutput:
        """One supervision step from (y, z), or from the initial state when they are None."""
        x = self.embed_input(inputs, puzzle_ids)
        if y is None or z is None:
            y, z = self.initial_state(inputs.shape[0])
        return self.deep_recursion(x, y, z)


def build_net(cfg: ModelConfig) -> Net:
    """The one small network of TRM (post-norm blocks over all L = prefix + S positions)."""
    return Net(cfg.hidden_size, cfg.total_len, cfg.num_layers, cfg.mixer, cfg.num_heads,
               cfg.expansion, cfg.rms_norm_eps, cfg.rope_theta)


def count_parameters(model: nn.Module, include_puzzle_emb: bool = False) -> int:
    """Trainable parameters; the puzzle-embedding table (a buffer) only when asked, as the
    paper and the official code count (ARC-AGI-1's 6,829,058 leave its 730,515 rows out)."""
    table = getattr(model, "puzzle_emb", None)
    extra = table.numel() if include_puzzle_emb and table is not None else 0
    return sum(p.numel() for p in model.parameters() if p.requires_grad) + extra
