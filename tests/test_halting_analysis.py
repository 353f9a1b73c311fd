"""The halting measurements of lesson 07: which steps training runs, and answers lost later."""
import pytest
import torch

from tests.conftest import tiny_config
from trm_lib.experiments.halting import found_then_lost, steps_reached_in_training
from trm_lib.model import TRM, StepOutput


def model_whose_q_halt_is(value: float, **config) -> TRM:
    model = TRM(tiny_config(n_sup=4, halt_exploration_prob=0.0, **config))
    with torch.no_grad():
        model.q_head.weight.zero_()
        model.q_head.bias.fill_(value)
    return model


def test_a_model_that_halts_at_once_trains_only_its_first_step():
    x = torch.randint(1, 5, (32, 9))
    assert steps_reached_in_training(model_whose_q_halt_is(5.0), x) == [1.0, 0.0, 0.0, 0.0]
    assert steps_reached_in_training(model_whose_q_halt_is(-5.0), x) == [1.0, 1.0, 1.0, 1.0]


def test_without_halting_in_training_every_step_is_trained_whatever_q_says():
    x = torch.randint(1, 5, (32, 9))
    assert steps_reached_in_training(model_whose_q_halt_is(5.0, halt_in_training=False), x) == [1.0] * 4


def test_exploration_keeps_about_its_share_of_slots_past_the_first_step():
    x = torch.randint(1, 5, (1000, 9))
    model = model_whose_q_halt_is(5.0)
    model.cfg = tiny_config(n_sup=4, halt_exploration_prob=0.5)
    reach = steps_reached_in_training(model, x)
    assert abs(reach[1] - 0.5) < 0.05  # half explore, and a minimum of 2..4 steps holds them all at step 2


def test_found_then_lost_counts_puzzles_right_earlier_and_wrong_now():
    labels = torch.tensor([[1, 2], [1, 2], [3, 3]])

    def step(answers):
        logits = torch.nn.functional.one_hot(torch.tensor(answers), 5).float()
        return StepOutput(None, None, logits, torch.zeros(3), torch.zeros(3))

    outs = [step([[1, 2], [0, 0], [0, 0]]), step([[0, 2], [1, 2], [0, 0]]), step([[1, 2], [0, 0], [3, 3]])]
    assert found_then_lost(outs, labels) == pytest.approx([0.0, 1 / 3, 1 / 3])
