"""Plots of training runs, from their metrics logs (`metrics.jsonl`, `TrainResult.history`,
or `FitResult.history`): test accuracy on the left, training loss on the right.

    plot_runs({"one pass": one_pass.history, "TRM": trm.history}, title="same parameters")
    plot_runs("runs/sudoku6-cpu/metrics.jsonl", "sudoku6-cpu", x="minutes", metrics=METRICS)
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from trm_lib.run_folder import read_records

History = list[dict] | str | Path
METRICS = ("exact", "valid", "cell")  # every test metric a run logs
_STYLE = {"exact": ("-o", "exact (whole grid)"), "valid": ("--s", "valid"), "cell": (":^", "cell")}
_X = {"step": ("step", 1, "training step"), "minutes": ("time_s", 60, "training time (minutes)")}


def plot_runs(runs: dict[str, History] | History, title: str = "", axes=None, x: str = "step",
              metrics: tuple[str, ...] = ("cell", "exact"), loss_label: str = "cross-entropy per cell"):
    """Each run in its own colour, each test metric in its own line style; `x` is "step" or
    "minutes". A single history (or a path to a metrics log) is one run without a label."""
    if not isinstance(runs, dict):
        runs = {"": runs}
    key, per, x_label = _X[x]
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    acc, loss = axes
    for k, (label, history) in enumerate(runs.items()):
        history = history if isinstance(history, list) else read_records(Path(history))
        colour, named = f"C{k}", (lambda what: f"{label}: {what}" if label else what)
        evals = [r for r in history if "eval" in r]
        for metric in metrics:
            style, what = _STYLE[metric]
            acc.plot([r[key] / per for r in evals], [100 * r["eval"][metric] for r in evals], style,
                     color=colour, ms=3, label=named(what))
        logged = [r for r in history if "loss" in r]
        loss.plot([r[key] / per for r in logged], [r["loss"] for r in logged], color=colour, lw=1,
                  label=label or None)
    prefix = f"{title}: " if title else ""
    acc.set(xlabel=x_label, ylabel="test accuracy (%)", ylim=(0, 101), title=f"{prefix}test accuracy")
    acc.grid(alpha=0.3)
    acc.legend(fontsize=8)
    loss.set(xlabel=x_label, ylabel=loss_label, yscale="log", title=f"{prefix}training loss")
    loss.grid(alpha=0.3)
    if any(runs):
        loss.legend(fontsize=8)
    axes[0].figure.tight_layout()
    return axes[0].figure
