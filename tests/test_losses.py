"""Stablemax cross-entropy and the halting target."""
import torch

from trm_lib.losses import IGNORE_INDEX, exact_match, log_stablemax, stablemax_s, trm_loss


def test_stablemax_matches_its_definition():
    x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 2.0])
    expected_s = torch.tensor([1 / 4, 1 / 1.5, 1.0, 1.5, 3.0])
    torch.testing.assert_close(stablemax_s(x), expected_s)
    p = expected_s / expected_s.sum()
    torch.testing.assert_close(log_stablemax(x).float(), p.log())


def test_stablemax_runs_in_float64_on_cpu():
    assert log_stablemax(torch.randn(2, 3)).dtype == torch.float64


def test_stablemax_loss_and_gradient_stay_finite_for_huge_logits():
    logits = torch.tensor([[[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]], requires_grad=True)
    labels = torch.tensor([[1, 0]])
    out = trm_loss(logits, labels, torch.zeros(1))
    out.total.backward()
    assert torch.isfinite(out.total) and torch.isfinite(logits.grad).all()
    assert out.cell_loss > 5  # confidently wrong costs a lot, but finitely


def test_cell_loss_is_a_per_sample_mean_then_a_batch_mean():
    logits = torch.zeros(2, 4, 3)
    labels = torch.tensor([[0, 1, 2, 0], [0, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]])
    out = trm_loss(logits, labels, torch.zeros(2), kind="softmax")
    # uniform predictions cost log 3 per counted cell, whatever the number of cells
    torch.testing.assert_close(out.cell_loss, torch.log(torch.tensor(3.0)))


def test_halt_target_is_whole_grid_exact_match_not_cell_accuracy():
    labels = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    logits = torch.nn.functional.one_hot(labels, 5).float() * 10
    logits[1, 2] = torch.nn.functional.one_hot(torch.tensor(4), 5).float() * 10  # one wrong cell
    assert exact_match(logits, labels).tolist() == [True, False]
    q = torch.tensor([0.3, -0.7])
    out = trm_loss(logits, labels, q, halt_weight=0.5)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(q, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(out.halt, expected)
    torch.testing.assert_close(out.total, out.cell_loss + 0.5 * expected)
    torch.testing.assert_close(out.cell_correct, torch.tensor([1.0, 0.75]))


def test_ignored_cells_do_not_count_against_exact_match():
    labels = torch.tensor([[1, IGNORE_INDEX]])
    logits = torch.nn.functional.one_hot(torch.tensor([[1, 3]]), 5).float()
    assert exact_match(logits, labels).item()


def test_stablemax_falls_back_to_float32_on_mps_which_has_no_float64():
    from trm_lib.losses import _wide_float

    assert _wide_float(torch.device("mps")) == torch.float32
    assert _wide_float(torch.device("cuda")) == torch.float64
