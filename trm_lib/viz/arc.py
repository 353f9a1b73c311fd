"""ARC grids in the ARC colours: a task's pairs, a model's answers beside the truth."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

# the ARC-AGI site's palette: 0 black, 1 blue, 2 red, 3 green, 4 yellow, 5 grey, 6 magenta,
# 7 orange, 8 light blue, 9 maroon
ARC_COLOURS = ListedColormap(["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE",
                              "#FF851B", "#7FDBFF", "#870C25"])


def show_grid(ax: plt.Axes, grid: np.ndarray | None, title: str = "") -> None:
    """One grid of colours 0-9, with thin cell borders; None draws an empty panel."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    if grid is None:
        ax.axis("off")
        return
    grid = np.asarray(grid)
    ax.imshow(grid, cmap=ARC_COLOURS, vmin=0, vmax=9, interpolation="nearest")
    h, w = grid.shape
    ax.set_xticks(np.arange(-0.5, w), minor=True)
    ax.set_yticks(np.arange(-0.5, h), minor=True)
    ax.grid(which="minor", color="#555555", linewidth=0.5)
    ax.tick_params(which="minor", length=0)


def show_rows(rows: list[list[tuple[np.ndarray | None, str]]], title: str = "", size: float = 1.8) -> plt.Figure:
    """Rows of (grid, title) panels, e.g. one row per pair of a task."""
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(size * cols, size * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(cols):
            grid, name = row[c] if c < len(row) else (None, "")
            show_grid(axes[r][c], grid, name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_task(task, answers: list[np.ndarray] | None = None, size: float = 1.8) -> plt.Figure:
    """A task's demonstrations, then each test input with its true output and, when given, the
    model's answer to it (in `answers`, one per test input)."""
    rows = [[(i, f"demo {k + 1}: input"), (o, "output")] for k, (i, o) in enumerate(task.train)]
    for k, (i, o) in enumerate(task.test):
        row = [(i, f"test {k + 1}: input"), (o, "true output")]
        if answers is not None:
            right = np.array_equal(answers[k], o)
            row.append((answers[k], "model: right" if right else "model: wrong"))
        rows.append(row)
    return show_rows(rows, f"task {task.id}", size)
