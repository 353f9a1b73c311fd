"""Lesson 05's checkers: stablemax cross-entropy and the EMA update, right, wrong and unattempted."""
import torch
import torch.nn.functional as F

from trm_lib.course.exercises import check_ema_update, check_stablemax_cross_entropy, reference_ema_update


def _stablemax_ce(logits, labels):
    x = logits.double()
    s = torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))
    logp = torch.log(s / s.sum(-1, keepdim=True))
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).float()


def test_stablemax_cross_entropy_passes_and_is_used(capsys):
    assert check_stablemax_cross_entropy(_stablemax_ce) is _stablemax_ce
    assert "✓ stablemax_cross_entropy matches the reference" in capsys.readouterr().out


def test_softmax_in_place_of_stablemax_is_named(capsys):
    def softmax_ce(logits, labels):
        return F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")

    check_stablemax_cross_entropy(softmax_ce)
    out = capsys.readouterr().out
    assert "values differ" in out and "softmax's values" in out


def test_a_mean_over_cells_is_a_shape_mistake(capsys):
    check_stablemax_cross_entropy(lambda logits, labels: _stablemax_ce(logits, labels).mean(-1))
    assert "shape: yours (3,), expected (3, 7)" in capsys.readouterr().out


def test_one_branch_only_is_caught(capsys):
    def no_negative_branch(logits, labels):
        s = logits.double().clamp(min=0) + 1
        return -torch.log(s / s.sum(-1, keepdim=True)).gather(-1, labels.unsqueeze(-1)).squeeze(-1)

    check_stablemax_cross_entropy(no_negative_branch)
    out = capsys.readouterr().out
    assert "✗" in out and "softmax's values" not in out


def test_the_stablemax_stub_is_not_attempted_yet(capsys):
    def stub(logits, labels):
        raise NotImplementedError

    check_stablemax_cross_entropy(stub)
    assert "not attempted yet, using the reference" in capsys.readouterr().out


def test_the_ema_update_passes_in_place_or_not(capsys):
    def fresh(shadow, weight, decay):
        return decay * shadow + (1 - decay) * weight

    def in_place(shadow, weight, decay):
        return shadow.mul_(decay).add_(weight, alpha=1 - decay)

    assert check_ema_update(fresh) is fresh and check_ema_update(in_place) is in_place
    assert capsys.readouterr().out.count("✓ ema_update matches") == 2


def test_swapped_decay_is_named(capsys):
    assert check_ema_update(lambda s, w, d: (1 - d) * s + d * w) is reference_ema_update
    assert "decay and 1 - decay are swapped" in capsys.readouterr().out


def test_forgetting_to_return_the_shadow_is_caught(capsys):
    def no_return(shadow, weight, decay):
        shadow.mul_(decay).add_(weight, alpha=1 - decay)

    check_ema_update(no_return)
    assert "you returned a NoneType, expected a tensor" in capsys.readouterr().out


def test_the_ema_stub_is_not_attempted_yet(capsys):
    def stub(shadow, weight, decay):
        raise NotImplementedError

    check_ema_update(stub)
    assert "ema_update: not attempted yet, using the reference" in capsys.readouterr().out


def test_the_reference_is_trm_libs_ema():
    s, w = torch.zeros(3), torch.ones(3)
    assert torch.allclose(reference_ema_update(s, w, 0.9), torch.full((3,), 0.1))
