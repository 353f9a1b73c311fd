"""The mistakes a learner is likely to make in the exercises the lessons warn about, and the
message each gets: every row is a wrong answer that its checker must refuse, naming the fix.

A row is (lesson, mistake, checker, the wrong answer, words the message must hold)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.test_exercises_01 import GoodBlock
from trm_lib.course.exercises import (check_halt_loss, check_is_shortest_path, check_mixer_block,
                                      check_rms_norm, check_stablemax_cross_entropy)
from trm_lib.course.exercises.lesson09 import check_my_trm
from trm_lib.data import maze as mz
from trm_lib.layers import rms_norm
from trm_lib.model import TRM


def halt_most_cells_right(logits, labels, q_halt):
    target = ((logits.argmax(-1) == labels).float().mean(-1) > 0.9).float()  # lesson 04's Try-this #2
    return F.binary_cross_entropy_with_logits(q_halt, target)


def halt_summed(logits, labels, q_halt):
    exact = (logits.argmax(-1) == labels).all(-1).float()
    return F.binary_cross_entropy_with_logits(q_halt, exact, reduction="sum")


def stablemax_unclamped(logits, labels):
    x = logits.double()
    s = torch.where(x >= 0, x + 1, 1 / (1 - x))  # infinite at x = 1 in the branch not taken
    return -torch.log(s / s.sum(-1, keepdim=True)).gather(-1, labels.unsqueeze(-1)).squeeze(-1).float()


def path_only(maze, answer):
    """Judges the path cells alone: an erased wall or an overwritten S goes unseen (rule 1 skipped)."""
    kept = np.where(np.asarray(maze) == mz.PATH, mz.OPEN, np.asarray(maze))
    kept[np.asarray(answer) == mz.PATH] = mz.PATH
    kept[np.asarray(maze) == mz.START], kept[np.asarray(maze) == mz.GOAL] = mz.START, mz.GOAL
    return mz.is_valid_shortest_path(maze, kept)


class BlockWithoutTranspose(GoodBlock):
    def forward(self, h):
        h = rms_norm(h + self.token_mlp(h), self.eps)  # the positions are not last
        return rms_norm(h + self.channel_mlp(h), self.eps)


class HaltFromDetachedY(TRM):
    """Lesson 09's "one catch": the halting head reads a detached y; the same values, no gradient."""

    def __init__(self, cfg):
        super().__init__(cfg)
        linear = self.q_head.forward
        self.q_head.forward = lambda h: linear(h.detach())  # weights and their names stay TRM's


def rms_over_everything(h, eps=1e-5):
    h32 = h.float()
    return (h32 * torch.rsqrt(h32.square().mean() + eps)).to(h.dtype)  # one mean for the whole tensor


MISTAKES = [
    ("01", "RMSNorm with one mean over the whole tensor", check_rms_norm, rms_over_everything,
     "one mean per vector: h.square().mean(-1, keepdim=True)"),
    ("04", "a 'most cells right' halting target", check_halt_loss, halt_most_cells_right,
     "The target is 1 only where EVERY cell of the grid is right"),
    ("04", "the halting loss summed over the batch", check_halt_loss, halt_summed,
     "6 times the reference, once per grid of the batch: average over the batch"),
    ("05", "stablemax without the clamp in 1 / (1 - x)", check_stablemax_cross_entropy, stablemax_unclamped,
     "Clamp x to at most 0 inside that branch"),
    ("07", "a shortest-path check that skips rule 1", check_is_shortest_path, path_only,
     "a wall erased (rule 1: walls, S and G stay as they are), yours says True, expected False"),
    ("01", "the token MLP on h, not h.transpose(1, 2)", check_mixer_block, BlockWithoutTranspose,
     "call it on h.transpose(1, 2)"),
    ("09", "q_halt read from the detached y", check_my_trm, HaltFromDetachedY,
     "read q_halt from the y that carries gradients"),
]


@pytest.mark.parametrize("lesson, mistake, checker, wrong, message", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_each_mistake_is_refused_with_a_message_that_names_the_fix(capsys, lesson, mistake, checker, wrong, message):
    handed_back = checker(wrong)
    said = capsys.readouterr().out
    assert handed_back is not wrong, f"lesson {lesson}: {mistake} passed its checker"
    assert said.startswith("✗"), said
    assert message in said, said
    assert "trm_lib/" not in said  # never a pointer into the library's files
