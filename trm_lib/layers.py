"""The building blocks of TRM's one small network.

Everything here is post-norm and bias-free, as in the reference:

    attention block:  h = RMSNorm(h + Attn(h));          h = RMSNorm(h + SwiGLU(h))
    MLP-t block:      h^T = RMSNorm(h^T + SwiGLU_L(h^T)); h = RMSNorm(h + SwiGLU(h))

where `h^T` is h with the sequence and channel axes swapped, so the first MLP mixes
positions (and its norm runs over the sequence axis), and RMSNorm has no learned gain.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def trunc_normal_(tensor: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    """Fill `tensor` from a normal truncated at +-2 std whose *actual* std is `std`.

    Truncating at two standard deviations shrinks the spread by a factor of about 0.88;
    we widen the underlying normal to compensate (JAX's initialiser does the same).
    """
    if std == 0:
        return tensor.zero_()
    # a standard normal truncated to [-a, a] has variance 1 - 2 a phi(a) / (2 Phi(a) - 1),
    # phi the density and Phi the distribution function of the standard normal; here a = 2
    pdf2 = math.exp(-2.0) / math.sqrt(2 * math.pi)  # phi(2) = exp(-2^2 / 2) / sqrt(2 pi)
    mass = math.erf(2 / math.sqrt(2))  # 2 Phi(2) - 1 = erf(2 / sqrt(2)), the mass kept
    truncated_std = math.sqrt(1 - 2 * 2 * pdf2 / mass)  # sqrt(1 - 2 a phi(a) / mass), about 0.880
    wide = std / truncated_std
    with torch.no_grad():
        return nn.init.trunc_normal_(tensor, mean=0.0, std=wide, a=-2 * wide, b=2 * wide)


def rms_norm(h: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """h / sqrt(mean(h^2) + eps) over the last axis, in float32; no learned gain."""
    dtype = h.dtype
    h32 = h.float()
    h32 = h32 * torch.rsqrt(h32.square().mean(-1, keepdim=True) + eps)
    return h32.to(dtype)


class Linear(nn.Module):
    """A bias-free (by default) linear layer with LeCun truncated-normal init (std 1/sqrt(fan_in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), std=in_features**-0.5))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def swiglu_width(width: int, expansion: float) -> int:
    """Hidden width of the reference SwiGLU: round(expansion * width * 2/3), up to a multiple of 256.

    >>> swiglu_width(512, 4), swiglu_width(97, 4)
    (1536, 512)
    """
    hidden = round(expansion * width * 2 / 3)
    return -(-hidden // 256) * 256


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) over the last axis of x: (..., width) -> (..., width)."""

    def __init__(self, width: int, expansion: float):
        super().__init__()
        hidden = swiglu_width(width, expansion)
        self.gate_up = Linear(width, 2 * hidden)  # gate and up in one matmul
        self.down = Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Two matmuls against halves of the one weight: same math as chunking one matmul's
        # output, but the backward pass needs no activation-sized concatenation.
        w = self.gate_up.weight
        half = w.shape[0] // 2
        gate, up = F.linear(x, w[:half]), F.linear(x, w[half:])
        return self.down(F.silu(gate) * up)


class RotaryEmbedding(nn.Module):
    """RoPE tables (cos, sin) of shape (L, head_dim) for positions 0..L-1."""

    def __init__(self, head_dim: int, max_len: int, theta: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (L, hd/2)
        angles = torch.cat((angles, angles), dim=-1)  # (L, hd): rotate the two halves together
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, H, L, hd) by position: x*cos + rotate_half(x)*sin, in float32."""
    dtype = x.dtype
    x = x.float()
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated * sin).to(dtype)


class Attention(nn.Module):
    """Non-causal multi-head self-attention with RoPE on q and k, over SDPA."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv = Linear(hidden_size, 3 * hidden_size)
        self.out = Linear(hidden_size, hidden_size)

    def forward(self, h: torch.Tensor, rope: RotaryEmbedding) -> torch.Tensor:
        B, L, D = h.shape
        qkv = self.qkv(h).view(B, L, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, hd)
        cos, sin = rope.cos[:L], rope.sin[:L]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=False)  # (B, H, L, hd)
        return self.out(out.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    """One post-norm block: a token mixer (MLP-t or attention), then a channel SwiGLU."""

    def __init__(self, hidden_size: int, total_len: int, mixer: str, num_heads: int,
                 expansion: float, eps: float):
        super().__init__()
        self.mixer = mixer
        self.eps = eps
        if mixer == "mlp_t":
            self.token_mlp = SwiGLU(total_len, expansion)  # mixes the L positions
        else:
            self.attn = Attention(hidden_size, num_heads)
        self.channel_mlp = SwiGLU(hidden_size, expansion)

    def forward(self, h: torch.Tensor, rope: RotaryEmbedding | None = None) -> torch.Tensor:
        # h: (B, L, D)
        if self.mixer == "mlp_t":
            ht = h.transpose(1, 2)  # (B, D, L): the MLP and its norm run over positions
            ht = rms_norm(ht + self.token_mlp(ht), self.eps)
            h = ht.transpose(1, 2)  # (B, L, D)
        else:
            h = rms_norm(h + self.attn(h, rope), self.eps)
        return rms_norm(h + self.channel_mlp(h), self.eps)


class Net(nn.Module):
    """TRM's single network: net(h) = blocks(h). Both z and y updates call this same module."""

    def __init__(self, hidden_size: int, total_len: int, num_layers: int, mixer: str,
                 num_heads: int, expansion: float, eps: float, rope_theta: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(hidden_size, total_len, mixer, num_heads, expansion, eps) for _ in range(num_layers)
        )
        self.rope = RotaryEmbedding(hidden_size // num_heads, total_len, rope_theta) if mixer == "attention" else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h, self.rope)
        return h
