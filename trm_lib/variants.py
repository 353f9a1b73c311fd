"""The paper's ablations (Tables 1-2) as named variants of TRM, each one method changed.

    OneStepGradientTRM   HRM's 1-step gradient: of the last recursion, only the last latent
                         update and the answer update carry gradients (Sudoku: 87.4 -> 56.5)
    SingleLatentTRM      one feature for both roles: n + 1 updates z = net(x + z), y is z (71.9)
    TwoNetworkTRM        a second network for the answer update, as HRM's two levels (82.4)

`build_model(cfg)` builds the class a config names (`model.gradient=one_step`,
`model.latents=z_only`, `model.separate_nets=true`; one at a time), and TRM itself otherwise.
"""
from __future__ import annotations

import torch

from trm_lib.model import TRM, ModelConfig, build_net
from trm_lib.layers import Net


class OneStepGradientTRM(TRM):
    """HRM's 1-step gradient: the first n-1 latent updates of a recursion run without gradients."""

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            for _ in range(self.cfg.n - 1):
                z = self.net(x + y + z)
        z = self.net(x + y + z)
        y = self.net(y + z)
        return y, z


class SingleLatentTRM(TRM):
    """A single latent feature: n + 1 updates z = net(x + z); the answer is read from z."""

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.cfg.n + 1):
            z = self.net(x + z)
        return z, z


class TwoNetworkTRM(TRM):
    """HRM's two levels: `net` for the latent updates, a second network `net_y` for the answer."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.net_y = build_net(cfg)

    @property
    def networks(self) -> list[Net]:
        return [self.net, self.net_y]

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.cfg.n):
            z = self.net(x + y + z)
        y = self.net_y(y + z)
        return y, z


VARIANTS: dict[str | None, type[TRM]] = {None: TRM, "gradient=one_step": OneStepGradientTRM,
                                         "latents=z_only": SingleLatentTRM, "separate_nets": TwoNetworkTRM}


def build_model(cfg: ModelConfig) -> TRM:
    """TRM, or the ablation the config names."""
    return VARIANTS[cfg.ablation](cfg)
