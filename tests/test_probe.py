"""Reading the carried state: collected shapes, a 2-D view, and linear probes that find what is there."""
import torch

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.model import TRM
from trm_lib.experiments.probe import (answer_digits, collect_states, fit_probe, head_per_step, pca_2d, probe_per_step,
                           probe_predict)


def test_collect_states_keeps_y_and_z_of_every_step_without_the_prefix():
    cfg = tiny_cfg().model
    data = tiny_sudoku_set(5)
    states = collect_states(TRM(cfg), data.inputs, n_steps=3)
    assert states.y.shape == states.z.shape == (3, 5, cfg.seq_len, cfg.hidden_size)
    assert states.logits.shape == (3, 5, cfg.seq_len, cfg.vocab_size)


def test_pca_finds_the_plane_the_points_lie_in():
    g = torch.Generator().manual_seed(0)
    plane = torch.randn(200, 2, generator=g) @ torch.randn(2, 10, generator=g)
    coords, explained = pca_2d(plane + 3.0)
    assert coords.shape == (200, 2) and explained.sum() > 0.999
    assert torch.allclose(coords.mean(0), torch.zeros(2), atol=1e-4)


def test_a_probe_reads_digits_that_are_linearly_encoded_and_not_random_ones():
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 6, (300,), generator=g)
    encoded = torch.randn(6, 12, generator=g)[digits] + 0.1 * torch.randn(300, 12, generator=g)
    W = fit_probe(encoded, digits, 6)
    assert W.shape == (13, 6)
    assert (probe_predict(W, encoded) == digits).float().mean() == 1.0
    noise = torch.randn(300, 12, generator=g)
    W = fit_probe(noise[:150], digits[:150], 6)
    assert (probe_predict(W, noise[150:]) == digits[150:]).float().mean() < 0.4


def test_probing_an_answer_that_is_in_the_state_gives_full_accuracy_at_every_step():
    data = tiny_sudoku_set(40)
    one_hot = torch.nn.functional.one_hot(answer_digits(data), 4).float()  # (P, S, 4): the answer itself
    states = torch.stack([one_hot, one_hot])  # two "steps"
    assert probe_per_step(states, data) == [1.0, 1.0]


def test_the_models_own_head_on_y_agrees_with_its_decoded_answer():
    cfg = tiny_cfg().model
    data = tiny_sudoku_set(6)
    model = TRM(cfg)
    states = collect_states(model, data.inputs, n_steps=2)
    blanks = data.inputs == 1
    expected = [((s.argmax(-1) - 2)[blanks] == answer_digits(data)[blanks]).float().mean().item()
                for s in states.logits]
    assert head_per_step(model, states.y, data) == expected
