"""Which supervision steps training runs, and what the later steps do to an answer once found.

    reach = steps_reached_in_training(model, train_set.inputs)   # share of slots that run step k
    lost = found_then_lost(evaluate_steps(model, x, 16), labels)  # right before, wrong at step k

In training a slot halts as soon as q_halt > 0 (unless exploration holds it back), so a model
that is confident early trains its later steps on few puzzles: those steps then meet states
they were rarely trained on, and an answer found at step 2 can drift away by step 16.
"""
from __future__ import annotations

import torch

from trm_lib.act import halting_decision, iter_steps
from trm_lib.losses import exact_match
from trm_lib.model import StepOutput, TRM


@torch.no_grad()
def steps_reached_in_training(model: TRM, inputs: torch.Tensor, seed: int = 0) -> list[float]:
    """Index k: the share of training slots that run supervision step k + 1.

    Each puzzle runs through the training rule (`halting_decision` with the model's own
    q_halt, n_sup, exploration and `halt_in_training`), with these weights: what training
    with this model would give the steps now.
    """
    cfg = model.cfg
    g = torch.Generator(device=inputs.device).manual_seed(seed)
    running = torch.ones(inputs.shape[0], dtype=torch.bool, device=inputs.device)
    steps = torch.zeros(inputs.shape[0], dtype=torch.int32, device=inputs.device)
    reached = []
    was_training = model.training
    model.eval()
    for out in iter_steps(model, inputs, cfg.n_sup):
        reached.append(running.float().mean().item())
        steps += 1
        halted = halting_decision(out.q_halt, steps, cfg.n_sup, cfg.halt_exploration_prob, g,
                                  use_q=cfg.halt_in_training)
        running &= ~halted
    model.train(was_training)
    return reached


def found_then_lost(outs: list[StepOutput], labels: torch.Tensor) -> list[float]:
    """Index k: the share of puzzles that were exact at some step before k + 1 but not at k + 1."""
    found = torch.zeros(labels.shape[0], dtype=torch.bool, device=labels.device)
    lost = []
    for out in outs:
        right = exact_match(out.logits, labels)
        lost.append((found & ~right).float().mean().item())
        found |= right
    return lost
