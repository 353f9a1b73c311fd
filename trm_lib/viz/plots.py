"""Plots of a training run, from its metrics log (`metrics.jsonl` or `TrainResult.history`)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt


def read_history(path: str | Path) -> list[dict]:
    """The records of a run's metrics.jsonl."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_history(history: list[dict] | str | Path, title: str = "training", ax_pair=None):
    """Left: test accuracy (EMA weights) against training minutes. Right: training loss."""
    if not isinstance(history, list):
        history = read_history(history)
    evals = [r for r in history if "eval" in r]
    train = [r for r in history if "loss" in r]
    if ax_pair is None:
        fig, ax_pair = plt.subplots(1, 2, figsize=(11, 3.8))
    else:
        fig = ax_pair[0].figure
    acc, loss = ax_pair
    minutes = [r["time_s"] / 60 for r in evals]
    for key, label, style in (("exact", "exact (whole grid)", "-o"), ("valid", "valid", "--s"),
                              ("cell", "cell", ":^")):
        acc.plot(minutes, [100 * r["eval"][key] for r in evals], style, ms=3, label=label)
    acc.set(xlabel="training time (minutes)", ylabel="test accuracy (%)", ylim=(0, 101),
            title=f"{title}: test accuracy")
    acc.grid(alpha=0.3)
    acc.legend(loc="lower right")
    loss.plot([r["time_s"] / 60 for r in train], [r["loss"] for r in train], lw=1)
    loss.set(xlabel="training time (minutes)", ylabel="loss per step", yscale="log",
             title=f"{title}: training loss")
    loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig
