"""Exponential moving average of the weights, used for evaluation and checkpoints.

    ema <- decay * ema + (1 - decay) * w        after every optimizer step

The average of a noisy trajectory sits closer to the valley floor than any single point
on it: in the paper, dropping EMA costs Sudoku-Extreme 87.4 -> 79.9.

The puzzle embedding is left out of the average, as in the official code (there it is a
buffer, which its EMA does not see): evaluation uses the live embedding with the averaged
network.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999, skip: tuple[str, ...] = ("puzzle_emb",)):
        """Average the trainable weights of `model` except those whose names start with `skip`."""
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.names = [n for n, p in model.named_parameters() if p.requires_grad and not n.startswith(skip)]
        params = dict(model.named_parameters())
        self.shadow = [params[n].detach().clone().float() for n in self.names]

    def _params(self, model: nn.Module) -> list[torch.Tensor]:
        params = dict(model.named_parameters())
        return [params[n] for n in self.names]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step, fused over all tensors: shadow += (1 - decay) * (w - shadow)."""
        current = [p.detach().float() for p in self._params(model)]
        torch._foreach_lerp_(self.shadow, current, 1.0 - self.decay)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for p, s in zip(self._params(model), self.shadow):
            p.copy_(s.to(p.dtype))

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Within the block the model holds the EMA weights; the raw ones come back after."""
        backup = [p.detach().clone() for p in self._params(model)]
        self.copy_to(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                for p, b in zip(self._params(model), backup):
                    p.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: s for n, s in zip(self.names, self.shadow)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(self.names) - set(state)
        if missing:
            raise ValueError(f"EMA state is missing weights: {sorted(missing)[:5]}")
        for name, shadow in zip(self.names, self.shadow):
            value = state[name]
            if not isinstance(value, torch.Tensor) or value.shape != shadow.shape:
                found = tuple(value.shape) if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"
                raise ValueError(f"EMA weight {name} is {found}, expected {tuple(shadow.shape)}")
        self.shadow = [state[n].detach().clone().float().to(s.device) for n, s in zip(self.names, self.shadow)]
