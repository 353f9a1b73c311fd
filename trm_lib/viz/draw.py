"""Pictures of puzzles: a Sudoku grid with givens, changes and mistakes marked; a maze with its path."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap

from trm_lib.data.tasks import BOX_SHAPES, grid_side

MAZE_COLOURS = ListedColormap(["white", "#333333", "white", "#2ca02c", "#d62728", "#1f77b4"])  # PAD # ' ' S G o


def _grid(tokens: torch.Tensor | np.ndarray) -> np.ndarray:
    t = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens).reshape(-1)
    n = grid_side(t.size)
    return t.reshape(n, n)


def draw_sudoku(tokens, ax=None, givens=None, wrong=None, changed=None, title: str = ""):
    """Draw a Sudoku from tokens (blank 1, digit d = d + 1). Givens (tokens of the question) are
    bold, cells in `wrong` (a bool mask) red, cells in `changed` shaded yellow."""
    g = _grid(tokens)
    n = g.shape[0]
    br, bc = BOX_SHAPES[n]
    ax = ax or plt.subplots(figsize=(0.45 * n + 0.4, 0.45 * n + 0.4))[1]
    given = _grid(givens) > 1 if givens is not None else np.zeros_like(g, bool)
    wrong = _grid(wrong).astype(bool) if wrong is not None else np.zeros_like(g, bool)
    changed = _grid(changed).astype(bool) if changed is not None else np.zeros_like(g, bool)
    ax.imshow(np.where(changed, 1.0, 0.0), cmap=ListedColormap(["white", "#fff3b0"]), vmin=0, vmax=1,
              extent=(0, n, n, 0))
    for r in range(n):
        for c in range(n):
            if g[r, c] > 1:
                ax.text(c + 0.5, r + 0.5, str(int(g[r, c]) - 1), ha="center", va="center",
                        fontsize=11, fontweight="bold" if given[r, c] else "normal",
                        color="#d62728" if wrong[r, c] else ("black" if given[r, c] else "#1f4e9c"))
    for k in range(n + 1):
        ax.axhline(k, color="black", lw=2 if k % br == 0 else 0.5)
        ax.axvline(k, color="black", lw=2 if k % bc == 0 else 0.5)
    ax.set(xlim=(0, n), ylim=(n, 0), xticks=[], yticks=[], title=title)
    ax.set_aspect("equal")
    return ax


def draw_maze(tokens, ax=None, title: str = ""):
    """Draw a maze from tokens: walls dark, S green, G red, the path ('o') blue."""
    g = _grid(tokens)
    n = g.shape[0]
    ax = ax or plt.subplots(figsize=(0.18 * n + 1, 0.18 * n + 1))[1]
    ax.imshow(g, cmap=MAZE_COLOURS, vmin=0, vmax=5, interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
    return ax
