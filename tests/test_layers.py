"""The blocks: post-norm, no gains, the MLP-t token mixer, RoPE attention."""
import torch

from trm_lib.layers import Attention, Block, RotaryEmbedding, SwiGLU, apply_rope, rms_norm, swiglu_width, trunc_normal_


def test_trunc_normal_has_the_requested_std_and_no_values_past_two_std():
    t = trunc_normal_(torch.empty(200_000), std=0.5)
    assert abs(t.std().item() - 0.5) < 0.01
    assert t.abs().max().item() <= 2 * 0.5 / 0.8796 + 1e-6


def test_rms_norm_has_no_learned_gain_and_unit_mean_square():
    h = torch.randn(3, 5, 7) * 10
    out = rms_norm(h)
    torch.testing.assert_close(out.square().mean(-1), torch.ones(3, 5), atol=1e-4, rtol=0)


def test_rms_norm_computes_in_float32_and_returns_the_input_dtype():
    h = torch.randn(4, 8).to(torch.bfloat16)
    out = rms_norm(h)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), rms_norm(h.float()), atol=1e-2, rtol=1e-2)


def test_swiglu_width_follows_the_reference_rounding():
    assert swiglu_width(512, 4) == 1536  # round(1365.3) -> next multiple of 256
    assert swiglu_width(97, 4) == 512  # Sudoku MLP-t over 81 + 16 positions
    assert swiglu_width(916, 4) == 2560
    sw = SwiGLU(12, 4)
    assert sw.gate_up.weight.shape == (2 * 256, 12) and sw.down.weight.shape == (12, 256)
    assert sw.gate_up.bias is None


def test_mlp_t_norm_runs_over_the_sequence_axis():
    B, L, D = 2, 6, 10
    block = Block(hidden_size=D, total_len=L, mixer="mlp_t", num_heads=1, expansion=2, eps=1e-5)
    seen = {}

    class Spy(torch.nn.Module):  # stands in for the channel MLP to see its input
        def forward(self, h):
            seen["h"] = h
            return torch.zeros_like(h)

    block.channel_mlp = Spy()
    block(torch.randn(B, L, D) * 3)
    h = seen["h"]  # after the token mixer and its norm
    # unit mean square along positions (for each channel), not along channels
    torch.testing.assert_close(h.square().mean(1), torch.ones(B, D), atol=1e-4, rtol=0)
    assert not torch.allclose(h.square().mean(2), torch.ones(B, L), atol=1e-2)


def test_mlp_t_token_mixer_mixes_positions_and_has_no_position_encoding():
    block = Block(hidden_size=8, total_len=5, mixer="mlp_t", num_heads=1, expansion=2, eps=1e-5)
    assert block.token_mlp.gate_up.weight.shape[1] == 5  # an MLP over the 5 positions
    h = torch.randn(1, 5, 8)
    h2 = h.clone()
    h2[0, 4] += 1.0  # change only the last position
    d = (block(h) - block(h2)).abs().sum(-1)[0]
    assert (d[:4] > 0).all()  # ... and every other position sees it


def test_attention_block_is_post_norm():
    block = Block(hidden_size=16, total_len=7, mixer="attention", num_heads=2, expansion=2, eps=1e-5)
    rope = RotaryEmbedding(8, 7)
    out = block(torch.randn(2, 7, 16) * 5, rope)
    torch.testing.assert_close(out.square().mean(-1), torch.ones(2, 7), atol=1e-4, rtol=0)


def test_rope_preserves_norms_and_makes_scores_depend_on_relative_position():
    rope = RotaryEmbedding(head_dim=8, max_len=12)
    q = torch.randn(8)
    k = torch.randn(8)
    qs = apply_rope(q.expand(1, 1, 12, 8), rope.cos, rope.sin)[0, 0]
    ks = apply_rope(k.expand(1, 1, 12, 8), rope.cos, rope.sin)[0, 0]
    torch.testing.assert_close(qs.norm(dim=-1), q.norm().expand(12))
    # score(i, j) depends on i - j only
    torch.testing.assert_close(qs[3] @ ks[1], qs[7] @ ks[5], atol=1e-5, rtol=1e-5)


def test_attention_is_non_causal():
    attn = Attention(hidden_size=16, num_heads=2)
    rope = RotaryEmbedding(8, 6)
    h = torch.randn(1, 6, 16)
    h2 = h.clone()
    h2[0, 5] += 1.0  # a change at the last position reaches the first
    assert not torch.allclose(attn(h, rope)[0, 0], attn(h2, rope)[0, 0])
