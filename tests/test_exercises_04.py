"""Lesson 04's checkers: the halting loss and the slot refill, right, wrong and unattempted."""
import torch
import torch.nn.functional as F

from trm_lib.act import Carry, refill
from trm_lib.course.exercises import check_halt_loss, check_refill, reference_halt_loss


def _halt_loss(logits, labels, q_halt):
    exact = (logits.argmax(-1) == labels).all(-1)
    return F.binary_cross_entropy_with_logits(q_halt, exact.float())


def test_the_halting_loss_passes_and_is_used(capsys):
    assert check_halt_loss(_halt_loss) is _halt_loss
    assert "✓ halt_loss matches the reference" in capsys.readouterr().out


def test_a_target_from_cell_accuracy_is_caught_and_the_exact_target_explained(capsys):
    def per_cell(logits, labels, q_halt):
        right = (logits.argmax(-1) == labels).float().mean(-1)
        return F.binary_cross_entropy_with_logits(q_halt, right)

    assert check_halt_loss(per_cell) is reference_halt_loss
    out = capsys.readouterr().out
    assert "values differ: max difference" in out and "EVERY cell" in out


def test_the_halting_loss_stub_is_not_attempted_yet(capsys):
    def stub(logits, labels, q_halt):
        raise NotImplementedError

    check_halt_loss(stub)
    assert "halt_loss: not attempted yet, using the reference" in capsys.readouterr().out


def test_a_halting_loss_without_gradient_is_caught(capsys):
    check_halt_loss(lambda logits, labels, q: _halt_loss(logits, labels, q.detach()))
    assert "does not carry gradients" in capsys.readouterr().out


def _refill(model, carry, inputs, labels, everything=False, keep_steps=False):
    h = torch.ones_like(carry.halted) if everything else carry.halted
    y0, z0 = model.initial_state(h.shape[0])
    h3, h2 = h.view(-1, 1, 1), h.view(-1, 1)
    return Carry(y=torch.where(h3, y0, carry.y), z=torch.where(h3, z0, carry.z),
                 steps=carry.steps if keep_steps else torch.where(h, 0, carry.steps),
                 halted=torch.zeros_like(h), inputs=torch.where(h2, inputs, carry.inputs),
                 labels=torch.where(h2, labels, carry.labels), puzzle_ids=carry.puzzle_ids)


def test_a_correct_refill_passes_and_is_used(capsys):
    assert check_refill(_refill) is _refill
    assert "✓ refill matches trm_lib.act.refill" in capsys.readouterr().out


def test_refilling_every_slot_names_a_running_slot(capsys):
    assert check_refill(lambda *a: _refill(*a, everything=True)) is refill
    out = capsys.readouterr().out
    assert "carry.y values differ" in out and "was still running" in out


def test_a_step_count_not_reset_names_the_field_and_the_halted_slot(capsys):
    check_refill(lambda *a: _refill(*a, keep_steps=True))
    out = capsys.readouterr().out
    assert "carry.steps values differ" in out and "was halted" in out


def test_returning_a_tuple_asks_for_a_carry(capsys):
    check_refill(lambda model, carry, inputs, labels: (carry.y, carry.z))
    assert "return a Carry" in capsys.readouterr().out


def test_the_refill_stub_is_not_attempted_yet_and_an_error_is_one_line(capsys):
    def stub(model, carry, inputs, labels):
        raise NotImplementedError

    assert check_refill(stub) is refill
    check_refill(lambda model, carry, inputs, labels: carry.y[carry.halted.view(2, 3)])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "refill: not attempted yet, using the reference"
    assert len(out) == 2 and out[1].startswith("✗ refill raised RuntimeError")
