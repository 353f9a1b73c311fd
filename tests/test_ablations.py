"""The paper's ablations as named variants of TRM: what each one changes, that the default is
TRM, and that a config names one at a time."""
import pytest
import torch

from tests.conftest import tiny_config
from tests.test_recursion import RecordingNet
from trm_lib.layers import Net
from trm_lib.model import TRM, count_parameters
from trm_lib.variants import OneStepGradientTRM, SingleLatentTRM, TwoNetworkTRM, build_model


def _run(cfg):
    model = build_model(cfg)
    model.net = RecordingNet(model.net)
    model(torch.randint(1, 5, (2, 9)))
    return model


def test_one_step_gradient_keeps_the_call_count_and_grads_only_the_last_two_updates():
    cfg = tiny_config(T=3, n=3, gradient="one_step")
    flags = [g for _, g in _run(cfg).net.calls]
    assert len(flags) == cfg.T * (cfg.n + 1)
    assert flags == [False] * (len(flags) - 2) + [True, True]


def test_one_step_gradient_gives_the_same_forward_values_but_different_gradients():
    inputs = torch.randint(1, 5, (3, 9))
    outs, grads = [], []
    for gradient in ("last_recursion", "one_step"):
        torch.manual_seed(0)
        model = build_model(tiny_config(T=2, n=3, gradient=gradient))
        out = model(inputs)
        out.logits.square().mean().backward()
        outs.append(out.logits.detach())
        grads.append(model.embed_tokens.grad.clone())
    assert torch.allclose(outs[0], outs[1], atol=1e-6)
    assert not torch.allclose(grads[0], grads[1])


def test_single_z_feeds_x_to_every_update_and_decodes_the_answer_from_z():
    cfg = tiny_config(T=1, n=2, latents="z_only")
    model = build_model(cfg)
    model.net = RecordingNet(model.net)
    x = torch.randn(2, cfg.total_len, cfg.hidden_size)
    y, z = torch.randn_like(x), torch.randn_like(x)
    y_new, z_new = model.latent_recursion(x, y, z)
    calls = [h for h, _ in model.net.calls]
    assert len(calls) == cfg.n + 1
    z_i = z
    for h in calls:
        assert torch.allclose(h, x + z_i)  # y never enters
        z_i = model.net.inner(h)
    assert y_new is z_new


def test_separate_networks_add_one_net_used_only_for_the_answer_update():
    cfg = tiny_config(T=1, n=2)
    one, two = TRM(cfg), build_model(tiny_config(T=1, n=2, separate_nets=True))
    assert sum(isinstance(m, Net) for m in two.modules()) == 2
    assert count_parameters(two) == count_parameters(one) + count_parameters(one.net)
    two.net, two.net_y = RecordingNet(two.net), RecordingNet(two.net_y)
    two(torch.randint(1, 5, (2, 9)))
    assert len(two.net.calls) == cfg.n and len(two.net_y.calls) == 1


def test_the_defaults_are_trm_itself():
    cfg = tiny_config()
    assert (cfg.gradient, cfg.latents, cfg.separate_nets) == ("last_recursion", "y_and_z", False)
    assert not hasattr(TRM(cfg), "net_y")


@pytest.mark.parametrize("field,value", [("gradient", "two_step"), ("latents", "y_only")])
def test_an_unknown_ablation_value_is_a_clear_error(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value}).validate()


def test_compiling_for_training_or_the_bench_compiles_both_networks_of_the_two_network_ablation(monkeypatch):
    from trm_lib.presets import get_preset
    from trm_lib.experiments.bench import TrainingIteration

    compiled = []
    monkeypatch.setattr(Net, "compile", lambda self, *args, **kwargs: compiled.append(self))
    model = build_model(tiny_config(separate_nets=True))
    model.compile()
    assert compiled == [model.net, model.net_y]
    compiled.clear()
    cfg = get_preset("sudoku4-cpu").with_overrides(["model.separate_nets=true", "train.compile=true"])
    step = TrainingIteration(cfg, torch.device("cpu"), batch_size=2)
    assert compiled == [step.model.net, step.model.net_y]


@pytest.mark.parametrize("change,variant", [({"gradient": "one_step"}, OneStepGradientTRM),
                                            ({"latents": "z_only"}, SingleLatentTRM),
                                            ({"separate_nets": True}, TwoNetworkTRM), ({}, TRM)])
def test_build_model_builds_the_variant_the_config_names(change, variant):
    assert type(build_model(tiny_config(**change))) is variant


def test_two_ablations_in_one_config_are_refused():
    with pytest.raises(ValueError, match="one thing at a time"):
        tiny_config(gradient="one_step", separate_nets=True)


def test_plain_trm_refuses_an_ablation_config_instead_of_ignoring_it():
    with pytest.raises(ValueError, match="build_model"):
        TRM(tiny_config(latents="z_only"))


def test_an_ablation_trains_and_its_checkpoint_loads_as_the_same_variant(tmp_path):
    from tests.test_training import tiny_cfg, tiny_sudoku_set
    from trm_lib.checkpoint import load_model
    from trm_lib.train import train

    cfg = tiny_cfg(max_steps=2).with_overrides(["model.separate_nets=true"])
    result = train(cfg, tiny_sudoku_set(), out_dir=tmp_path, progress=False, device="cpu")
    assert type(result.model) is TwoNetworkTRM
    model, _, _ = load_model(tmp_path / "last.pt")
    assert type(model) is TwoNetworkTRM
    assert torch.equal(model.net_y.blocks[0].channel_mlp.down.weight, result.model.net_y.blocks[0].channel_mlp.down.weight)
