"""Lesson 01's checkers: the reference passes; typical mistakes fail with a message naming what differs."""
import torch
import torch.nn.functional as F
from torch import nn

from trm_lib import layers
from trm_lib.course.exercises import ReferenceMixerBlock, check_mixer_block, check_rms_norm, check_swiglu
from trm_lib.layers import Linear, rms_norm, swiglu_width


def out(capsys) -> str:
    return capsys.readouterr().out.strip()


# -- rms_norm ---------------------------------------------------------------------------------

def test_the_reference_rms_norm_passes_and_is_handed_back(capsys):
    assert check_rms_norm(rms_norm) is rms_norm
    assert out(capsys).startswith("✓ rms_norm matches the reference")


def test_an_rms_norm_left_as_a_stub_is_not_attempted_yet(capsys):
    def stub(h, eps=1e-5):
        raise NotImplementedError

    assert check_rms_norm(stub) is rms_norm
    assert out(capsys) == "rms_norm: not attempted yet, using the reference"


def test_an_rms_norm_without_eps_fails_on_tiny_inputs_and_says_why(capsys):
    def mine(h, eps=1e-5):
        return h / h.square().mean(-1, keepdim=True).sqrt()

    assert check_rms_norm(mine) is rms_norm
    msg = out(capsys)
    assert "values differ: max difference" in msg and "eps is missing" in msg
    assert "trial 2 of 3: a tiny h (about 1e-3), where eps matters" in msg


def test_layer_norm_in_place_of_rms_norm_is_named(capsys):
    check_rms_norm(lambda h, eps=1e-5: F.layer_norm(h, h.shape[-1:], eps=eps))
    assert "this is LayerNorm: RMSNorm does not subtract the mean" in out(capsys)


def test_eps_outside_the_square_root_is_named_with_the_trial_that_shows_it(capsys):
    check_rms_norm(lambda h, eps=1e-5: h / (h.square().mean(-1, keepdim=True).sqrt() + eps))
    msg = out(capsys)
    assert "eps belongs inside the square root" in msg and "trial 2 of 3: a tiny h" in msg


def test_a_detached_rms_norm_says_its_output_carries_no_gradient(capsys):
    check_rms_norm(lambda h, eps=1e-5: rms_norm(h, eps).detach())
    assert "your output does not carry gradients" in out(capsys)


def test_an_rms_norm_over_the_wrong_axis_names_the_axis(capsys):
    def mine(h, eps=1e-5):
        return h * torch.rsqrt(h.square().mean(-2, keepdim=True) + eps)

    check_rms_norm(mine)
    assert "the mean runs over the last axis" in out(capsys)


def test_an_rms_norm_computed_in_half_precision_is_caught(capsys):
    def mine(h, eps=1e-5):  # right in float32, but h² overflows in float16
        return h * torch.rsqrt(h.square().mean(-1, keepdim=True) + eps)

    assert check_rms_norm(mine) is rms_norm
    msg = out(capsys)
    assert msg.startswith("✗ rms_norm: float16 output") and "compute in float32" in msg


def test_an_rms_norm_that_returns_float32_for_float16_input_is_caught(capsys):
    def mine(h, eps=1e-5):
        h = h.float()
        return h * torch.rsqrt(h.square().mean(-1, keepdim=True) + eps)

    check_rms_norm(mine)
    assert "gave a torch.float32 output; return h's dtype" in out(capsys)


def test_an_rms_norm_that_raises_gets_one_line(capsys):
    def mine(h, eps=1e-5):
        return h @ torch.ones(3, 3)

    check_rms_norm(mine)
    msg = out(capsys)
    assert msg.startswith("✗ rms_norm raised RuntimeError") and "\n" not in msg and "Traceback" not in msg


# -- SwiGLU -----------------------------------------------------------------------------------

class GoodSwiGLU(nn.Module):
    def __init__(self, width, expansion):
        super().__init__()
        hidden = swiglu_width(width, expansion)
        self.gate_up = Linear(width, 2 * hidden)
        self.down = Linear(hidden, width)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


def test_a_correct_swiglu_passes_values_and_weight_gradients(capsys):
    assert check_swiglu(GoodSwiGLU) is GoodSwiGLU
    assert out(capsys).startswith("✓ SwiGLU matches the reference at 3 sizes (values and gradients")


def test_the_reference_swiglu_passes(capsys):
    assert check_swiglu(layers.SwiGLU) is layers.SwiGLU


def test_a_swiglu_without_the_rounding_names_the_shape_and_the_rule(capsys):
    class Unrounded(GoodSwiGLU):
        def __init__(self, width, expansion):
            nn.Module.__init__(self)
            hidden = round(expansion * width * 2 / 3)
            self.gate_up = Linear(width, 2 * hidden)
            self.down = Linear(hidden, width)

    assert check_swiglu(Unrounded) is layers.SwiGLU
    msg = out(capsys)
    assert "gate_up.weight has shape (342, 64), expected (512, 64)" in msg and "multiple of 256" in msg


def test_a_swiglu_with_gate_and_up_swapped_gets_the_hint(capsys):
    class Swapped(GoodSwiGLU):
        def forward(self, x):
            up, gate = self.gate_up(x).chunk(2, dim=-1)
            return self.down(F.silu(gate) * up)

    check_swiglu(Swapped)
    msg = out(capsys)
    assert "values differ" in msg and "the gate is the FIRST half" in msg


def test_sigmoid_in_place_of_silu_is_named_and_weights_are_not_called_inputs(capsys):
    class Sigmoid(GoodSwiGLU):
        def forward(self, x):
            gate, up = self.gate_up(x).chunk(2, dim=-1)
            return self.down(torch.sigmoid(gate) * up)

    check_swiglu(Sigmoid)
    msg = out(capsys)
    assert "SiLU is not the sigmoid" in msg and "the input (2, 3, 64))" in msg
    assert "(512, 64)" not in msg and "inputs" not in msg


def test_a_swiglu_that_detaches_a_weight_fails_on_that_weights_gradient(capsys):
    class Detached(GoodSwiGLU):
        def forward(self, x):
            gate, up = self.gate_up(x).chunk(2, dim=-1)
            return F.linear(F.silu(gate) * up, self.down.weight.detach())

    check_swiglu(Detached)
    assert "gradient of down.weight values differ" in out(capsys)


def test_a_swiglu_stub_in_init_is_not_attempted_yet(capsys):
    class Stub(nn.Module):
        def __init__(self, width, expansion):
            raise NotImplementedError

    assert check_swiglu(Stub) is layers.SwiGLU
    assert out(capsys) == "SwiGLU: not attempted yet, using the reference"


# -- the mixer block --------------------------------------------------------------------------

class GoodBlock(nn.Module):
    def __init__(self, hidden_size, total_len, expansion=4.0, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.token_mlp = layers.SwiGLU(total_len, expansion)
        self.channel_mlp = layers.SwiGLU(hidden_size, expansion)

    def forward(self, h):
        ht = h.transpose(1, 2)
        h = rms_norm(ht + self.token_mlp(ht), self.eps).transpose(1, 2)
        return rms_norm(h + self.channel_mlp(h), self.eps)


def test_a_correct_mixer_block_passes(capsys):
    assert check_mixer_block(GoodBlock) is GoodBlock
    assert out(capsys).startswith("✓ MixerBlock matches the reference at 2 sizes")


def test_the_fallback_block_has_the_exercise_signature_and_the_reference_weights():
    block = ReferenceMixerBlock(16, 11, 2.0, 1e-5)
    assert isinstance(block, layers.Block) and block(torch.randn(2, 11, 16)).shape == (2, 11, 16)


def test_a_pre_norm_block_is_named(capsys):
    class PreNorm(GoodBlock):
        def forward(self, h):
            ht = h.transpose(1, 2)
            h = (ht + self.token_mlp(rms_norm(ht))).transpose(1, 2)
            return h + self.channel_mlp(rms_norm(h))

    assert check_mixer_block(PreNorm) is ReferenceMixerBlock
    assert "post-norm means h = rms_norm(h + f(h))" in out(capsys)


def test_a_token_norm_over_channels_is_named(capsys):
    class ChannelNorm(GoodBlock):
        def forward(self, h):
            ht = h.transpose(1, 2)
            h = rms_norm((ht + self.token_mlp(ht)).transpose(1, 2))
            return rms_norm(h + self.channel_mlp(h))

    check_mixer_block(ChannelNorm)
    assert "RMSNorm runs over the positions" in out(capsys)


def test_a_block_with_a_learned_gain_is_told_there_is_none(capsys):
    class Gain(GoodBlock):
        def __init__(self, *args):
            super().__init__(*args)
            self.norm_weight = nn.Parameter(torch.ones(args[0]))

    check_mixer_block(Gain)
    assert "extra parameter(s) norm_weight (TRM's RMSNorm has no learned gain)" in out(capsys)


def test_a_block_with_a_shape_bug_gets_one_line(capsys):
    class NoTranspose(GoodBlock):
        def forward(self, h):
            return rms_norm(h + self.token_mlp(h))

    check_mixer_block(NoTranspose)
    msg = out(capsys)
    assert msg.startswith("✗ MixerBlock(16, 11, 2.0, 1e-05): the token MLP mixes the L positions") and "\n" not in msg
    assert "call it on h.transpose(1, 2)" in msg and "trm_lib/" not in msg


def test_a_block_stub_is_not_attempted_yet(capsys):
    class Stub(GoodBlock):
        def forward(self, h):
            raise NotImplementedError

    check_mixer_block(Stub)
    assert out(capsys) == "MixerBlock: not attempted yet, using the reference"
