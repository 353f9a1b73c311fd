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

Three switches in ModelConfig turn this into the paper's ablations: `gradient="one_step"`
(HRM's 1-step gradient: only the last latent update and the answer update carry gradients),
`latents="z_only"` (one feature: n+1 updates z = net(x + z), the answer read from z) and
`separate_nets=True` (a second network for the answer update).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from trm_lib.config import ModelConfig
from trm_lib.layers import Linear, Net, trunc_normal_


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
        cfg.validate()
        self.cfg = cfg
        D = cfg.hidden_size
        self.embed_scale = math.sqrt(D)
        # token embedding: init std 1/sqrt(D), multiplied by sqrt(D) on use
        self.embed_tokens = nn.Parameter(trunc_normal_(torch.empty(cfg.vocab_size, D), std=1 / self.embed_scale))
        # the learned puzzle embedding fills prefix slot 0; the other slots stay zero
        self.puzzle_emb = nn.Parameter(torch.zeros(cfg.num_puzzle_ids, D))
        self.net = build_net(cfg)
        if cfg.separate_nets:  # ablation: HRM-style second network for the answer
            self.net_y = build_net(cfg)
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
        """Every network the recursion calls: `net`, and `net_y` in the two-network ablation."""
        return [self.net, self.net_y] if self.cfg.separate_nets else [self.net]

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
        prefix[:, 0] = self.puzzle_emb[puzzle_ids].to(prefix.dtype)
        return self.embed_scale * torch.cat((prefix, tokens), dim=1)  # (B, L, D)

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, z) at the start of a puzzle: the fixed init vectors, broadcast to (B, L, D)."""
        shape = (batch_size, self.cfg.total_len, self.cfg.hidden_size)
        return self.y_init.expand(shape), self.z_init.expand(shape)

    # -- the recursion -------------------------------------------------------------------
    @property
    def answer_net(self) -> Net:
        """The network of the answer update: `net` itself, unless the two-network ablation."""
        return self.net_y if self.cfg.separate_nets else self.net

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                         no_grad_updates: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """n latent updates, then one answer update, on this model's networks. All (B, L, D)."""
        return latent_recursion(self.net, self.answer_net, x, y, z, self.cfg.n, self.cfg.latents == "z_only",
                                no_grad_updates)

    def deep_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> StepOutput:
        """One supervision step: T-1 recursions without gradients, one with."""
        # the 1-step-gradient ablation (HRM's): gradients through the last two updates only
        # (the last one with a single feature), the n-1 (n) updates before them without
        frozen = self.cfg.n - (self.cfg.latents != "z_only") if self.cfg.gradient == "one_step" else 0
        y, z = deep_recursion(self.latent_recursion, x, y, z, self.cfg.T, no_grad_updates=frozen)
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


def latent_recursion(net: Callable, answer_net: Callable, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                     n: int, z_only: bool = False, no_grad_updates: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The latent recursion on explicit networks (TRM's, or a lesson's): n updates
    z = net(x + y + z), then y = answer_net(y + z). `z_only` (the single-feature ablation):
    n + 1 updates z = net(x + z), and y is z. The first `no_grad_updates` of the n + 1
    updates run without gradients (the 1-step-gradient ablation)."""
    grad = torch.is_grad_enabled()

    def update(i: int) -> torch.set_grad_enabled:
        return torch.set_grad_enabled(grad and i >= no_grad_updates)

    if z_only:  # ablation: a single feature plays both roles
        for i in range(n + 1):
            with update(i):
                z = net(x + z)
        return z, z
    for i in range(n):
        with update(i):
            z = net(x + y + z)  # z = net(x + y + z)
    with update(n):
        y = answer_net(y + z)  # y = net(y + z): the answer update never sees x
    return y, z


def deep_recursion(recursion: Callable[..., tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, y: torch.Tensor,
                   z: torch.Tensor, T: int, no_grad_updates: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """T latent recursions (`recursion(x, y, z, no_grad_updates=...)`), the first T-1 without
    gradients; the (y, z) returned keep the last one's graph (TRM's step detaches them)."""
    with torch.no_grad():
        for _ in range(T - 1):
            y, z = recursion(x, y, z)
    return recursion(x, y, z, no_grad_updates=no_grad_updates)


def build_net(cfg: ModelConfig) -> Net:
    """The one small network of TRM (post-norm blocks over all L = prefix + S positions)."""
    return Net(cfg.hidden_size, cfg.total_len, cfg.num_layers, cfg.mixer, cfg.num_heads,
               cfg.expansion, cfg.rms_norm_eps, cfg.rope_theta)


def count_parameters(model: nn.Module, include_puzzle_emb: bool = False) -> int:
    """Trainable parameters; the puzzle embedding is left out by default, as the paper counts."""
    return sum(
        p.numel() for name, p in model.named_parameters()
        if p.requires_grad and (include_puzzle_emb or not name.startswith("puzzle_emb"))
    )
