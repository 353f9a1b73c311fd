"""The recursion of TRM: who sees what, and where gradients flow."""
import pytest
import torch

from tests.conftest import tiny_config
from trm_lib.layers import Net
from trm_lib.model import TRM
from trm_lib.variants import build_model


class RecordingNet(torch.nn.Module):
    """Wraps the real net and records each call's input and whether grad was on."""

    def __init__(self, net):
        super().__init__()
        self.inner = net
        self.calls = []

    def forward(self, h):
        self.calls.append((h.detach().clone(), torch.is_grad_enabled()))
        return self.inner(h)


@pytest.mark.parametrize("mixer", ["mlp_t", "attention"])
def test_latent_updates_see_x_y_z_and_answer_update_does_not_see_input(mixer):
    cfg = tiny_config(mixer=mixer, n=3)
    model = TRM(cfg)
    model.net = RecordingNet(model.net)
    x = torch.randn(2, cfg.total_len, cfg.hidden_size)
    y = torch.randn_like(x)
    z = torch.randn_like(x)
    y_new, z_new = model.latent_recursion(x, y, z)

    calls = [h for h, _ in model.net.calls]
    assert len(calls) == cfg.n + 1
    z_i = z
    for h in calls[: cfg.n]:
        assert torch.allclose(h, x + y + z_i)  # z = net(x + y + z)
        z_i = model.net.inner(h)
    assert torch.allclose(calls[-1], y + z_new)  # y = net(y + z): no x
    assert not torch.allclose(calls[-1], x + y + z_new)


def test_one_network_serves_both_updates():
    model = TRM(tiny_config())
    assert sum(isinstance(m, Net) for m in model.modules()) == 1
    recorder = RecordingNet(model.net)
    model.net = recorder
    model(torch.randint(1, 5, (2, 9)))
    # every one of the T(n+1) calls went through the same module
    assert len(recorder.calls) == model.cfg.T * (model.cfg.n + 1)


def test_only_the_last_recursion_runs_with_gradients():
    cfg = tiny_config(T=3, n=2)
    model = TRM(cfg)
    model.net = RecordingNet(model.net)
    model(torch.randint(1, 5, (2, 9)))
    grad_flags = [g for _, g in model.net.calls]
    assert grad_flags == [False] * ((cfg.T - 1) * (cfg.n + 1)) + [True] * (cfg.n + 1)


def test_the_one_step_gradient_ablation_keeps_gradients_in_the_last_two_updates_only():
    cfg = tiny_config(T=2, n=3, gradient="one_step")
    model = build_model(cfg)
    model.net = RecordingNet(model.net)
    model(torch.randint(1, 5, (2, 9)))
    assert [g for _, g in model.net.calls] == [False] * (cfg.n + 1) + [False] * (cfg.n - 1) + [True, True]


def _grads(model, loss):
    model.zero_grad()
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_gradients_match_a_hand_written_no_grad_prefix_and_differ_from_full_backprop():
    cfg = tiny_config(T=3, n=2)
    model = TRM(cfg)
    inputs = torch.randint(1, 5, (3, 9))
    x = model.embed_input(inputs)
    y0, z0 = model.initial_state(3)

    ours = _grads(model, model.deep_recursion(x, y0, z0).logits.square().mean())

    # by hand: T-1 recursions under no_grad, then one with gradients
    x = model.embed_input(inputs)
    y, z = y0, z0
    with torch.no_grad():
        for _ in range(cfg.T - 1):
            y, z = model.latent_recursion(x, y, z)
    y, z = model.latent_recursion(x, y, z)
    by_hand = _grads(model, model.readout(y)[0].square().mean())

    # full backpropagation through all T recursions: a different gradient
    x = model.embed_input(inputs)
    y, z = y0, z0
    for _ in range(cfg.T):
        y, z = model.latent_recursion(x, y, z)
    full = _grads(model, model.readout(y)[0].square().mean())

    assert ours.keys() == by_hand.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], by_hand[name])
    differs = [n for n in ours if n.startswith("net.") and not torch.allclose(ours[n], full[n])]
    assert differs, "full backprop should change the network's gradients"


def test_returned_carry_has_no_grad_history():
    model = TRM(tiny_config())
    out = model(torch.randint(1, 5, (2, 9)))
    assert out.logits.requires_grad and out.q_halt.requires_grad
    for t in (out.y, out.z):
        assert not t.requires_grad and t.grad_fn is None


def test_readout_drops_the_prefix_and_reads_halting_from_prefix_position_zero():
    model = TRM(tiny_config(puzzle_emb_len=3))
    with torch.no_grad():
        model.q_head.weight.normal_()
    y = torch.randn(2, model.cfg.total_len, model.cfg.hidden_size)
    logits, q = model.readout(y)
    assert logits.shape == (2, model.cfg.seq_len, model.cfg.vocab_size) and q.shape == (2, 2)
    assert torch.allclose(logits, model.head(y[:, 3:])) and torch.allclose(q, model.q_head(y[:, 0]))
    y[:, 1:] = 0  # the Q logits see prefix position 0 only
    assert torch.allclose(model.readout(y)[1], q)
    out = model(torch.randint(1, 5, (2, 9)))
    logits, q = model.readout(out.y)
    assert torch.allclose(logits, out.logits) and torch.allclose(q[:, 0], out.q_halt)


def test_initial_state_is_a_fixed_buffer_broadcast_over_positions():
    model = TRM(tiny_config())
    y, z = model.initial_state(2)
    assert y.shape == (2, model.cfg.total_len, model.cfg.hidden_size)
    assert torch.equal(y[0, 0], y[1, -1]) and not torch.equal(y, z)
    assert "y_init" in dict(model.named_buffers()) and "y_init" not in dict(model.named_parameters())


def test_halting_head_starts_at_zero_weight_and_bias_minus_five():
    model = TRM(tiny_config())
    assert torch.count_nonzero(model.q_head.weight) == 0
    assert torch.equal(model.q_head.bias, torch.full((2,), -5.0))
    out = model(torch.randint(1, 5, (4, 9)))
    assert torch.allclose(out.q_halt, torch.full((4,), -5.0))


def test_puzzle_embedding_fills_prefix_slot_zero_only():
    model = TRM(tiny_config(puzzle_emb_len=3))
    with torch.no_grad():
        model.puzzle_emb.fill_(1.0)
    x = model.embed_input(torch.randint(1, 5, (2, 9)))
    scale = model.cfg.hidden_size**0.5
    assert torch.allclose(x[:, 0], torch.full_like(x[:, 0], scale))
    assert torch.count_nonzero(x[:, 1:3]) == 0


def test_wrong_input_length_is_a_clear_error():
    model = TRM(tiny_config())
    with pytest.raises(ValueError, match=r"expected \(batch, 9\)"):
        model(torch.randint(1, 5, (2, 10)))
