"""Deep supervision with ACT: halting, exploration, slot refill, full-length evaluation."""
import torch

from tests.conftest import tiny_config
from trm_lib.act import evaluate_steps, halting_decision, initial_carry, refill, train_step_forward
from trm_lib.model import TRM


def test_training_halts_when_q_halt_is_positive():
    halted = halting_decision(torch.tensor([0.5, -0.5, 0.0]), torch.tensor([1, 1, 1]), n_sup=16,
                              exploration_prob=0.0)
    assert halted.tolist() == [True, False, False]


def test_training_halts_at_the_step_limit_whatever_q_says():
    halted = halting_decision(torch.tensor([-9.0, -9.0]), torch.tensor([15, 16]), n_sup=16,
                              exploration_prob=0.0)
    assert halted.tolist() == [False, True]


def test_exploration_sets_a_minimum_step_count_between_2_and_n_sup():
    g = torch.Generator().manual_seed(0)
    q = torch.full((10_000,), 5.0)  # everyone wants to halt
    after_one = halting_decision(q, torch.ones(10_000, dtype=torch.long), 16, 1.0, g)
    assert not after_one.any()  # a minimum of at least 2 steps holds every slot back
    at_limit = halting_decision(q, torch.full((10_000,), 16), 16, 1.0, g)
    assert at_limit.all()  # ... and never past n_sup
    some = halting_decision(q, torch.ones(10_000, dtype=torch.long), 16, 0.1, g)
    assert 0.85 < some.float().mean().item() < 0.95  # only about 10% explore


def test_without_halting_in_training_a_slot_runs_all_n_sup_steps_whatever_q_says():
    q = torch.full((4,), 5.0)  # everyone wants to halt
    halted = halting_decision(q, torch.tensor([1, 7, 8, 9]), 8, 0.1, use_q=False)
    assert halted.tolist() == [False, False, True, True]


def test_the_halt_in_training_switch_reaches_the_training_step():
    model = TRM(tiny_config(n_sup=3, halt_exploration_prob=0.0, halt_in_training=False))
    with torch.no_grad():
        model.q_head.bias.fill_(5.0)  # q_halt > 0 everywhere: with ACT every slot would halt now
    inputs = torch.randint(1, 5, (2, 9))
    carry = initial_carry(model, inputs, inputs)
    carry, _ = train_step_forward(model, carry, inputs, inputs)
    assert not carry.halted.any()
    for _ in range(2):
        carry, _ = train_step_forward(model, carry, inputs, inputs)
    assert carry.halted.all() and carry.steps.tolist() == [3, 3]


def test_a_halted_slot_is_reset_and_refilled_while_the_others_keep_their_state():
    model = TRM(tiny_config())
    old_inputs = torch.randint(1, 5, (3, 9))
    carry = initial_carry(model, old_inputs, old_inputs)
    carry = refill(model, carry, old_inputs, old_inputs)
    carry.y = torch.randn_like(carry.y)
    carry.z = torch.randn_like(carry.z)
    carry.steps = torch.tensor([3, 5, 2], dtype=torch.int32)
    carry.halted = torch.tensor([False, True, False])

    new_inputs = torch.randint(1, 5, (3, 9))
    new = refill(model, carry, new_inputs, new_inputs)
    y0, z0 = model.initial_state(1)
    assert torch.equal(new.y[1], y0[0]) and torch.equal(new.z[1], z0[0])  # fresh start
    assert torch.equal(new.inputs[1], new_inputs[1]) and new.steps[1] == 0
    for i in (0, 2):  # untouched
        assert torch.equal(new.y[i], carry.y[i]) and torch.equal(new.z[i], carry.z[i])
        assert torch.equal(new.inputs[i], old_inputs[i]) and new.steps[i] == carry.steps[i]
    assert not new.halted.any()


def test_first_training_step_fills_every_slot_and_counts_one_step():
    model = TRM(tiny_config(halt_exploration_prob=0.0))
    inputs = torch.randint(1, 5, (4, 9))
    carry = initial_carry(model, inputs, inputs)
    carry, out = train_step_forward(model, carry, inputs, inputs)
    assert torch.equal(carry.inputs, inputs)
    assert carry.steps.tolist() == [1, 1, 1, 1]
    assert not carry.halted.any()  # q_halt starts at -5: nobody halts yet
    assert out.logits.shape == (4, 9, 5) and out.logits.requires_grad


def test_slots_halt_after_n_sup_steps_and_are_refilled_next_iteration():
    model = TRM(tiny_config(n_sup=3, halt_exploration_prob=0.0))
    batches = [torch.randint(1, 5, (2, 9)) for _ in range(5)]
    carry = initial_carry(model, batches[0], batches[0])
    for b in batches[:3]:
        carry, _ = train_step_forward(model, carry, b, b)
    assert carry.halted.all() and carry.steps.tolist() == [3, 3]
    assert torch.equal(carry.inputs, batches[0])  # still the first puzzles
    carry, _ = train_step_forward(model, carry, batches[3], batches[3])
    assert torch.equal(carry.inputs, batches[3]) and carry.steps.tolist() == [1, 1]


def test_evaluation_runs_every_step_even_when_the_model_wants_to_halt():
    model = TRM(tiny_config(n_sup=5))
    with torch.no_grad():
        model.q_head.bias.fill_(5.0)  # q_halt > 0 everywhere
    outs = evaluate_steps(model, torch.randint(1, 5, (2, 9)))
    assert len(outs) == 5
    assert all((o.q_halt > 0).all() for o in outs)
    assert len(evaluate_steps(model, torch.randint(1, 5, (2, 9)), n_steps=8)) == 8  # test-time scaling


def test_evaluation_carries_state_from_step_to_step():
    model = TRM(tiny_config(n_sup=3))
    inputs = torch.randint(1, 5, (2, 9))
    outs = evaluate_steps(model, inputs)
    again = model(inputs, outs[0].y, outs[0].z)
    torch.testing.assert_close(again.logits, outs[1].logits)
