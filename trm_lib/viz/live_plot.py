"""A training plot that redraws itself while `train` runs in a notebook.

    live = LivePlot("sudoku6-cpu")
    result = train(cfg, train_set, test_set, on_record=live)
    live.finish()

`train` hands every record of its metrics log to `live`; the plot (`plots.plot_runs`: test
accuracy and training loss against minutes) is redrawn after each evaluation and at most
every `every_s` seconds in between, in place, so the notebook keeps one figure: the last one.
Outside a notebook it only collects the records.
"""
from __future__ import annotations

import time

import matplotlib.pyplot as plt

from trm_lib.viz.plots import METRICS, plot_runs


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LivePlot:
    """Collects training records and redraws their plot in place (pass it as `on_record`)."""

    def __init__(self, title: str = "training", every_s: float = 5.0):
        self.title, self.every_s = title, every_s
        self.history: list[dict] = []
        self.draws = 0
        self._handle = None
        self._last = float("-inf")

    def __call__(self, record: dict) -> None:
        self.history.append(record)
        if "eval" in record or time.monotonic() - self._last >= self.every_s:
            self.draw()

    def draw(self) -> None:
        self._last = time.monotonic()
        self.draws += 1
        if not _in_notebook():
            return
        from IPython.display import display

        fig = plot_runs(self.history, self.title, x="minutes", metrics=METRICS, loss_label="loss per step")
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def finish(self) -> None:
        """Draw the final state (the figure the saved notebook keeps)."""
        self.draw()
