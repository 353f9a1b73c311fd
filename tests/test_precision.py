"""The precision training runs in, chosen from the GPU: bf16 where it has it, float16 with a
gradient scaler where it does not (T4, V100), float32 elsewhere; simulated on the CPU."""
import types

import pytest
import torch

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib import device as device_module
from trm_lib.checkpoint import read_checkpoint
from trm_lib.device import autocast, describe, grad_scaler, precision
from trm_lib.train import train

CUDA = torch.device("cuda")


def _pretend_gpu(monkeypatch, capability, name):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: types.SimpleNamespace(total_memory=16 * 2**30))


@pytest.mark.parametrize("capability,name,dtype", [((7, 0), "Tesla V100", torch.float16),
                                                   ((7, 5), "Tesla T4", torch.float16),
                                                   ((8, 0), "A100", torch.bfloat16),
                                                   ((9, 0), "H200", torch.bfloat16)])
def test_a_gpu_without_bf16_trains_in_float16_and_the_banner_says_so(monkeypatch, capability, name, dtype):
    _pretend_gpu(monkeypatch, capability, name)
    assert precision(CUDA) == dtype
    banner = describe(CUDA)
    assert name in banner
    assert ("float16 autocast with a gradient scaler" in banner) == (dtype == torch.float16)
    assert ("bf16 autocast" in banner) == (dtype == torch.bfloat16)


def test_cpu_and_mps_train_in_float32_without_a_scaler():
    for kind in ("cpu", "mps"):
        assert precision(torch.device(kind)) == torch.float32
    assert grad_scaler(torch.device("cpu")) is None
    assert isinstance(autocast(torch.device("cpu")), type(autocast(torch.device("cpu"), enabled=False)))


def test_float16_training_scales_the_loss_and_resumes_with_the_scale(tmp_path, monkeypatch):
    # the CPU plays a GPU without bf16: float16 autocast and a gradient scaler
    monkeypatch.setattr(device_module, "precision", lambda device: torch.float16)
    with autocast(torch.device("cpu")):
        assert torch.nn.Linear(4, 4)(torch.randn(2, 4)).dtype == torch.float16
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=3), data, out_dir=tmp_path, progress=False, device="cpu")
    first = read_checkpoint(tmp_path / "last.pt")["train_state"]["scaler"]
    result = train(tiny_cfg(max_steps=6), data, out_dir=tmp_path, progress=False, device="cpu")
    second = read_checkpoint(tmp_path / "last.pt")["train_state"]["scaler"]
    assert first["scale"] > 0 and second["scale"] > 0
    assert result.step == 6 and all(torch.isfinite(p).all() for p in result.model.parameters())
