"""AdamATan2 against a hand computation, the warmup schedule, and EMA."""
import math

import pytest
import torch

from tests.conftest import tiny_config
from trm_lib.config import TrainConfig
from trm_lib.ema import EMA
from trm_lib.model import TRM
from trm_lib.optim import AdamATan2, build_optimizer, lr_factor, set_learning_rate, warmup_factor


def test_adam_atan2_matches_a_hand_computation_over_two_steps():
    lr, b1, b2, wd = 0.1, 0.9, 0.95, 0.5
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = AdamATan2([p], lr=lr, betas=(b1, b2), weight_decay=wd)
    w = [1.0, -2.0]
    m = [0.0, 0.0]
    v = [0.0, 0.0]
    for t, g in enumerate([[0.5, -1.0], [0.2, 3.0]], start=1):
        p.grad = torch.tensor(g)
        opt.step()
        for i in range(2):
            w[i] *= 1 - lr * wd
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            w[i] -= lr / (1 - b1**t) * math.atan2(m[i], math.sqrt(v[i]) / math.sqrt(1 - b2**t))
        torch.testing.assert_close(p.detach(), torch.tensor(w))


def test_adam_atan2_steps_are_bounded_by_lr_times_pi_over_two_even_for_huge_gradients():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = AdamATan2([p], lr=0.01, betas=(0.9, 0.95))
    p.grad = torch.tensor([1e30, -1e-30, 0.0])
    opt.step()
    assert torch.isfinite(p).all() and p.abs().max() <= 0.01 / (1 - 0.9) * math.pi / 2


def test_warmup_is_linear_then_constant():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_lr_min_ratio_one_keeps_the_paper_schedule_warmup_then_constant():
    assert [lr_factor(s, 4, 100) for s in (0, 3, 50, 99, 500)] == [0.25, 1.0, 1.0, 1.0, 1.0]


def test_cosine_decay_runs_from_the_base_lr_after_warmup_to_the_min_ratio_at_max_steps():
    f = [lr_factor(s, 10, 110, min_ratio=0.1) for s in (0, 9, 10, 60, 110, 200)]
    assert f[:2] == [0.1, 1.0]  # the warmup ramp is unchanged
    assert f[2] == pytest.approx(1.0) and f[3] == pytest.approx(0.55) and f[4] == pytest.approx(0.1)
    assert f[5] == pytest.approx(0.1)  # past max_steps (a resumed run with a larger max) it stays at the floor
    decay = [lr_factor(s, 10, 110, min_ratio=0.0) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(decay, decay[1:])) and decay[-1] == pytest.approx(0.0)


def test_lr_min_ratio_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="lr_min_ratio"):
        TrainConfig(lr_min_ratio=1.5).validate()


def test_schedule_scales_each_group_from_its_own_base_lr():
    model = TRM(tiny_config())
    opt = build_optimizer(model, TrainConfig(lr=1e-3, puzzle_emb_lr=1e-2, warmup_steps=10))
    set_learning_rate(opt, 4, 10)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([5e-4, 5e-3])
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


@pytest.mark.parametrize("name", ["adam_atan2", "adamw"])
def test_both_optimizers_apply_decoupled_weight_decay(name):
    model = TRM(tiny_config())
    opt = build_optimizer(model, TrainConfig(optimizer=name, lr=0.1, weight_decay=1.0))
    w = model.head.weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    torch.testing.assert_close(model.head.weight.detach(), w * (1 - 0.1 * 1.0))


def test_ema_update_is_decay_times_old_plus_one_minus_decay_times_new():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)  # 0.9 * 1 + 0.1 * 3
    torch.testing.assert_close(ema.shadow[0], torch.full((1, 2), 1.2))
    ema.update(model)  # 0.9 * 1.2 + 0.1 * 3
    torch.testing.assert_close(ema.shadow[0], torch.full((1, 2), 1.38))


def test_ema_weights_are_applied_only_inside_the_block():
    model = torch.nn.Linear(2, 1, bias=False)
    ema = EMA(model, decay=0.5)
    raw = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(2.0)
    ema.update(model)
    with ema.applied(model):
        torch.testing.assert_close(model.weight.detach(), raw + 1.0)
    torch.testing.assert_close(model.weight.detach(), raw + 2.0)


def test_sign_sgd_updates_and_decays_only_the_puzzle_embedding_rows_in_the_batch():
    model = TRM(tiny_config(num_puzzle_ids=5))
    opt = build_optimizer(model, TrainConfig(puzzle_emb_lr=0.1, puzzle_emb_weight_decay=0.5))
    with torch.no_grad():
        model.puzzle_emb.fill_(1.0)
    ids = torch.tensor([3, 1, 3])
    rows = model.puzzle_rows(ids)  # training mode, grad enabled: the leaf the optimizer reads
    weights = torch.zeros_like(rows)  # the gradient each row gets
    weights[:, :2] = torch.tensor([[0.5, -0.5], [0.0, 2.0], [-1.0, -0.5]])  # id 3: rows 0 and 2, id 1: row 1
    (rows * weights).sum().backward()
    opt.step()
    table = model.puzzle_emb
    assert torch.all(table[[0, 2, 4]] == 1.0)  # no decay, no step: not in the batch
    decayed = 1 * (1 - 0.1 * 0.5)
    torch.testing.assert_close(table[3, :2], torch.tensor([decayed + 0.1, decayed + 0.1]))  # sums -0.5, -1
    torch.testing.assert_close(table[1, :2], torch.tensor([decayed, decayed - 0.1]))  # sign(0) = 0
    assert model.rows_in_use is None  # used once


def test_the_puzzle_embedding_table_gets_no_dense_gradient_and_stays_out_of_the_parameters():
    model = TRM(tiny_config(num_puzzle_ids=1000))
    assert "puzzle_emb" not in dict(model.named_parameters()) and "puzzle_emb" in model.state_dict()
    out = model(torch.ones(2, model.cfg.seq_len, dtype=torch.long), puzzle_ids=torch.tensor([7, 7]))
    out.logits.sum().backward()
    ids, rows = model.rows_in_use
    assert ids.tolist() == [7, 7] and rows.grad.shape == (2, model.cfg.hidden_size)
    assert model.puzzle_emb.grad is None


def test_combined_optimizer_state_round_trips():
    model = TRM(tiny_config())
    opt = build_optimizer(model, TrainConfig())
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt.step()
    fresh = build_optimizer(model, TrainConfig())
    fresh.load_state_dict(opt.state_dict())
    assert fresh.state_dict()["optimizers"][0]["state"][0]["step"] == 1


def test_the_combined_optimizer_refuses_what_it_cannot_do_instead_of_doing_it_quietly():
    model = TRM(tiny_config())
    opt = build_optimizer(model, TrainConfig())
    assert len(opt.param_groups) == 2  # the network's group and the puzzle embedding's
    extra = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(AttributeError):  # a group added here would never be stepped
        opt.add_param_group({"params": [extra]})
    with pytest.raises(AttributeError):
        opt.register_step_post_hook(lambda *args: None)
    assert len(opt.param_groups) == 2


class _OwnTable(torch.nn.Module):
    """A model that holds its puzzle table as a parameter and indexes it itself (lesson 09's TRM)."""

    def __init__(self):
        super().__init__()
        self.puzzle_emb = torch.nn.Parameter(torch.ones(3, 2))
        self.weight = torch.nn.Parameter(torch.ones(2))


def test_a_parameter_table_is_trained_by_sign_sgd_not_by_the_networks_optimizer():
    model = _OwnTable()
    opt = build_optimizer(model, TrainConfig(lr=0.5, weight_decay=0.0, puzzle_emb_lr=0.1, puzzle_emb_weight_decay=0.5))
    assert [p for g in opt.optimizers[0].param_groups for p in g["params"]] == [model.weight]
    opt.zero_grad()
    (model.puzzle_emb[0] * torch.tensor([1e-6, -3.0])).sum().backward()  # row 0 only; rows 1-2 get zero
    opt.step()
    decayed = 1 - 0.1 * 0.5
    torch.testing.assert_close(model.puzzle_emb.detach(), torch.tensor([[decayed - 0.1, decayed + 0.1],
                                                                        [decayed, decayed], [decayed, decayed]]))
