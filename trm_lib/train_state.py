"""What a training run needs besides its weights to go on exactly where it stopped, and a
clean stop on SIGINT or SIGTERM.

Resumed == uninterrupted (bitwise, on one CPU thread) needs, beside the weights, the EMA and
the optimizer: the in-flight carry (each slot's puzzle, labels, y, z, step count, halted
flag), the data generator (which puzzles and augmentations come next), torch's global
random state (the halting exploration draws) and the partial sums of the current log window.

    with StopSignals() as stop:      # Ctrl-C, `kill`, `timeout`, Slurm, `docker stop`
        while ...:
            one step
            if stop.requested: save, then raise TrainingInterrupted
"""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import torch

from trm_lib.act import Carry
from trm_lib.losses import LossOutput

_CARRY_FIELDS = ("y", "z", "steps", "halted", "inputs", "labels", "puzzle_ids")


class MetricsWindow:
    """The sums of one log window, kept on the device (no synchronisation per step): the
    loss, and over the puzzles that halted, how many, how many exact, their cell accuracy
    and their supervision steps. `steps` counts the iterations in the window."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(5, device=device)  # loss, halted, halted exact, halted cells, halted steps
        self.steps = 0

    def add(self, loss: LossOutput, carry: Carry) -> None:
        with torch.no_grad():
            h = carry.halted.float()
            self.sums += torch.stack([loss.total.detach().float(), h.sum(), (loss.exact.float() * h).sum(),
                                      (loss.cell_correct * h).sum(), (carry.steps.float() * h).sum()])
        self.steps += 1

    def loss_sum(self) -> float:
        return self.sums[0].item()

    def record(self, step: int, seconds: float, lr: float) -> dict:
        """The window's record of the metrics log (means per iteration, and over the puzzles
        that halted); the window starts afresh."""
        loss, halted, exact, cell, steps = self.sums.tolist()
        record = {"step": step, "time_s": round(seconds, 2), "lr": lr, "loss": loss / self.steps,
                  "halted_per_step": halted / self.steps}
        if halted > 0:  # accuracy of the puzzles that finished (halted) in this window
            record.update(train_exact=exact / halted, train_cell=cell / halted, train_steps=steps / halted)
        self.sums.zero_()
        self.steps = 0
        return record


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving its checkpoint."""

    def __init__(self, signal_name: str, step: int, checkpoint: Path | None):
        super().__init__(f"{signal_name} at step {step}")
        self.signal_name, self.step, self.checkpoint = signal_name, step, checkpoint

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


class StoppedAtOnce(KeyboardInterrupt):
    """A second SIGINT or SIGTERM: training stopped in the middle of its work, without saving
    (a step cut short may have half-updated the weights). `saved` says what the run folder holds."""

    def __init__(self, signal_name: str):
        super().__init__(f"second {signal_name}")
        self.signal_name, self.saved = signal_name, ""

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


class StopSignals:
    """While active, SIGINT and SIGTERM ask the loop to stop after the current step
    (`requested` holds the signal's name); a second signal stops at once."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            raise StoppedAtOnce(name)
        self.requested = name
        print(f"\n{name}: finishing this step and saving a checkpoint (send it again to stop at once)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def capture(carry: Carry | None, data_gen: torch.Generator, window: MetricsWindow, device: torch.device) -> dict:
    """The run's state beside the weights, as CPU tensors that `weights_only` loading accepts.
    `carry` is None where it is not the whole batch (several processes)."""
    state = {"data_rng": data_gen.get_state(), "torch_rng": torch.get_rng_state(),
             "sums": window.sums.detach().cpu(), "n_since": window.steps}
    if carry is not None:
        state["carry"] = {name: getattr(carry, name).detach().cpu() for name in _CARRY_FIELDS}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def restore(state: dict, data_gen: torch.Generator, carry: Carry, window: MetricsWindow,
            device: torch.device) -> Carry:
    """Put a captured state back (the log window too); returns the carry.

    The carry comes back only where its shape fits this run's slots (a run that now uses
    another number of processes starts its slots afresh). A damaged state is a ValueError
    that says what is wrong."""
    try:
        return _restore(state, data_gen, carry, window, device)
    except KeyError as err:
        raise ValueError(f"its run state (train_state) lacks {err.args[0]!r}") from None
    except (TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise ValueError(f"its run state (train_state) is damaged ({str(err).splitlines()[0]})") from None


def _restore(state: dict, data_gen: torch.Generator, carry: Carry, window: MetricsWindow,
             device: torch.device) -> Carry:
    data_gen.set_state(state["data_rng"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    saved = state.get("carry")
    if saved is not None and saved["inputs"].shape == carry.inputs.shape and saved["y"].shape == carry.y.shape:
        carry = Carry(**{name: saved[name].to(device) for name in _CARRY_FIELDS})
    if state["sums"].shape != window.sums.shape:
        raise ValueError(f"sums is {tuple(state['sums'].shape)}, expected {tuple(window.sums.shape)}")
    window.sums.copy_(state["sums"].to(device))
    window.steps = int(state["n_since"])
    return carry
