"""The training loop never reads a tensor's value back to Python between log records.

On a GPU every such read (`.item()`, `.tolist()`, `if tensor:`, `.cpu()`) makes the host wait
until the GPU has run all queued work, so the next step cannot be queued behind the current
one. Here we count those reads on the CPU: training 6 steps must make exactly as many as
training 3 (the ones at the start and at the single log record at the end), so a step makes
none. tests/test_cuda.py checks the same on a GPU with CUDA's own synchronisation detector.
"""
import pytest
import torch
from torch.overrides import TorchFunctionMode

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.data.puzzles import load_puzzles
from trm_lib.data.paths import dataset_files
from trm_lib.train import train

READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__"}


class HostReads(TorchFunctionMode):
    """Counts the tensor methods that bring a value from the device to the host."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def host_reads_while_training(cfg, data, steps: int) -> int:
    cfg = cfg.with_overrides({"train.max_steps": steps, "train.eval_every": 10**6})
    with HostReads() as reads:
        train(cfg, data, progress=False, device="cpu", log_every=10**6)
    return reads.count


def maze_data():
    return load_puzzles(dataset_files("maze-9x9")[0]).subset(slice(0, 32))


@pytest.mark.parametrize("task", ["sudoku", "maze"])
def test_a_training_step_reads_nothing_back_from_the_device(task):
    if task == "sudoku":
        cfg, data = tiny_cfg(), tiny_sudoku_set()
    else:  # the maze path augments by a different gather
        from trm_lib.presets import get_preset

        cfg = get_preset("maze-small-cpu").with_overrides(
            {"model.hidden_size": 16, "model.expansion": 1.0, "train.batch_size": 8, "model.n_sup": 2})
        data = maze_data()
    assert host_reads_while_training(cfg, data, 3) == host_reads_while_training(cfg, data, 6)


def test_the_counter_sees_one_read_per_step(monkeypatch):
    """The check above can fail: a loss that is read back every step shows up."""
    import trm_lib.train as train_module

    real_loss = train_module.trm_loss

    def loss_read_back(*args, **kwargs):
        out = real_loss(*args, **kwargs)
        out.total.item()
        return out

    monkeypatch.setattr(train_module, "trm_loss", loss_read_back)
    cfg, data = tiny_cfg(), tiny_sudoku_set()
    assert host_reads_while_training(cfg, data, 6) - host_reads_while_training(cfg, data, 3) == 3
