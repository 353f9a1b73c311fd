"""Shared test setup. FAST mode: notebooks run by nbval shrink their data and steps."""
import os

os.environ.setdefault("TRM_FAST", "1")  # inherited by the notebook kernels nbval starts
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see trm_lib/__init__.py

import pytest
import torch

from trm_lib.model import ModelConfig


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_config(**overrides) -> ModelConfig:
    """A model small enough to run in milliseconds: 3x3 'puzzles', D=16."""
    base = dict(vocab_size=5, seq_len=9, hidden_size=16, num_heads=2, expansion=2.0,
                puzzle_emb_len=2, T=3, n=2, n_sup=4)
    base.update(overrides)
    return ModelConfig(**base)
