"""Presets: the paper's parameter counts, every preset runs, configs override cleanly."""
import pytest
import torch

from trm_lib.cli import main
from trm_lib.config import Config
from trm_lib.presets import PRESETS, get_preset
from trm_lib.device import autocast, pick_device
from trm_lib.losses import trm_loss
from trm_lib.model import TRM, count_parameters

PAPER_COUNTS = {"sudoku-extreme-mlp": 5_028_866, "maze-hard-att": 6_822_914, "sudoku-extreme-att": 6_828_034}


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_paper_presets_have_the_papers_parameter_count(name):
    model = TRM(get_preset(name).model)
    assert count_parameters(model) == PAPER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_forward_and_backward_on_cpu_in_float32(name):
    cfg = get_preset(name)
    # keep the test quick: one recursion, two latent updates; shapes are what matter here
    cfg = cfg.with_overrides({"model.T": 1, "model.n": 1})
    model = TRM(cfg.model)
    inputs = torch.randint(1, cfg.model.vocab_size, (1, cfg.model.seq_len))
    out = model(inputs)
    assert out.logits.shape == (1, cfg.model.seq_len, cfg.model.vocab_size)
    assert out.logits.dtype == torch.float32
    trm_loss(out.logits, inputs, out.q_halt).total.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bf16_autocast_forward_runs_on_cpu():
    cfg = get_preset("sudoku6-cpu")
    model = TRM(cfg.model)
    inputs = torch.randint(1, cfg.model.vocab_size, (2, cfg.model.seq_len))
    with autocast(torch.device("cpu"), enabled=True):
        out = model(inputs)
    assert out.logits.dtype == torch.bfloat16
    assert torch.isfinite(trm_loss(out.logits, inputs, out.q_halt).total)


def test_device_defaults_to_cpu_without_a_gpu_and_rejects_a_missing_one():
    if not torch.cuda.is_available():
        assert pick_device().type in ("cpu", "mps")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_config_round_trips_through_a_dict_and_overrides_by_name():
    cfg = get_preset("sudoku-extreme-mlp").with_overrides(["model.n=4", "train.lr=3e-4", "train.betas=0.9,0.99"])
    assert (cfg.model.n, cfg.train.lr, cfg.train.betas) == (4, 3e-4, (0.9, 0.99))
    assert Config.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad, message", [
    (["model.nn=4"], "model has no field 'nn'"),
    (["n=4"], "expected model.FIELD or train.FIELD"),
    (["model.n=four"], "expected an integer"),
    (["model.mixer=conv"], "mixer is 'conv'"),
    (["train.lr=-1"], "lr must be > 0"),
    (["train.betas=0.5"], "betas must be two numbers"),
    (["model.seq_len=81"], "needs model.seq_len=36"),
])
def test_bad_overrides_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message):
        get_preset("sudoku6-cpu").with_overrides(bad)


def test_info_command_prints_the_parameter_count(capsys):
    assert main(["info", "--preset", "sudoku-extreme-mlp"]) == 0
    assert "trainable parameters: 5,028,866" in capsys.readouterr().out
    assert main(["info", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
