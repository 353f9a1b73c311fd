"""The TRM loop as one drawn figure: the inner loop, the T recursions, the N_sup supervision
steps and the halting head, named as in the paper and in `trm_lib.model`.

    draw_loop()                        # everything, evenly
    draw_loop("latent")                # emphasise one part, dim the rest (see HIGHLIGHTS)
    draw_loop(n=4, T=3, n_sup=16)      # the counts written in the figure (here: Maze-Hard)

`python -m trm_lib.viz.loop` redraws `trm_lib/viz/loop.png`, the copy the README shows.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# each part of the figure, and the line written above it when it is emphasised
HIGHLIGHTS = {
    "latent": "the inner loop: n latent updates of z, then one answer update of y (x left out)",
    "recursion": "T recursions per step: the first T-1 under no_grad, gradients through the last",
    "supervision": "deep supervision: a loss after every step, the carry (y, z) detached between steps",
    "halting": "halting (ACT): q_halt, read from y's first position, decides when to stop",
}
X_C, Y_C, Z_C = "#3b6fb6", "#dd7a2c", "#3a9a5b"  # x, y and z keep their colours everywhere
GRAD_C, NOGRAD_C, SUP_C, HALT_C = "#c0392b", "#8c8c8c", "#5b4a8b", "#a3367a"
MONO = "DejaVu Sans Mono"
INPUT_PARTS = ("latent", "recursion", "supervision")  # x, y, z matter to every part but the halting head
FIGSIZE = (10, 5.2)  # inches; the layout below is drawn in these units


class _Canvas:
    """Boxes, arrows and text in inch coordinates, each tagged with the part it belongs to, so
    that everything outside the emphasised part can be dimmed once the drawing is done."""

    def __init__(self, ax):
        self.ax, self.drawn = ax, []
        # fonts and lines shrink with an axes smaller than FIGSIZE, so the layout still holds
        width, height = ax.get_position().size * ax.figure.get_size_inches()
        self.scale = min(1.0, width / FIGSIZE[0], height / FIGSIZE[1])

    def _keep(self, artist, part: str | tuple[str, ...] | None):
        self.drawn.append((artist, (part,) if isinstance(part, str) else part))
        return artist

    def text(self, x, y, s, part=None, size=10, colour="#222222", mono=False, **kw):
        kw.setdefault("ha", "center")
        kw.setdefault("va", "center")
        family = MONO if mono else None
        return self._keep(self.ax.text(x, y, s, fontsize=size * self.scale, color=colour, family=family, **kw), part)

    def box(self, x0, y0, w, h, part=None, edge="#444444", face="white", dashed=False, lw=1.4, pad=0.06):
        patch = FancyBboxPatch((x0, y0), w, h, boxstyle=f"round,pad=0,rounding_size={pad}",
                               lw=lw * self.scale, edgecolor=edge, facecolor=face, linestyle="--" if dashed else "-")
        return self._keep(self.ax.add_patch(patch), part)

    def arrow(self, points, part=None, colour="#444444", lw=1.6, rad=0.0, style="-|>"):
        """An arrow through `points`: straight segments, the head on the last one."""
        for k, (a, b) in enumerate(zip(points, points[1:])):
            head = style if k == len(points) - 2 else "-"
            patch = FancyArrowPatch(a, b, arrowstyle=head, mutation_scale=14 * self.scale, color=colour,
                                    lw=lw * self.scale, connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0,
                                    capstyle="round", joinstyle="round")
            self._keep(self.ax.add_patch(patch), part)

    def dot(self, x, y, part=None, colour="#444444"):
        return self._keep(self.ax.plot([x], [y], "o", ms=5 * self.scale, color=colour)[0], part)

    def dim_all_but(self, part: str | None):
        if part is None:
            return
        for artist, tag in self.drawn:
            if tag is not None and part not in tag:
                artist.set_alpha(0.22)


def _check(highlight, n, T, n_sup):
    if highlight is not None and highlight not in HIGHLIGHTS:
        raise ValueError(f"highlight {highlight!r} is not a part of the figure; use None or one of "
                         f"{', '.join(map(repr, HIGHLIGHTS))}")
    for name, value in (("n", n), ("T", T), ("n_sup", n_sup)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number (the paper: n=6, T=3, n_sup=16), "
                             f"got {value!r}")


def _inputs(c: _Canvas):
    """The left column: x, y and z as they enter the first supervision step; the carry joins
    y and z from the second step on."""
    rows = ((3.45, X_C, "x = embed(puzzle)", "the question, fixed"),
            (2.5, Y_C, "y", "the answer, from y_init"),
            (1.55, Z_C, "z", "the latent, from z_init"))
    for mid, colour, name, what in rows:
        c.box(0.1, mid - 0.3, 1.55, 0.6, part=INPUT_PARTS, edge=colour, face=colour + "1a")
        c.text(0.875, mid + 0.11, name, part=INPUT_PARTS, colour=colour, size=9.5, mono=True, weight="bold")
        c.text(0.875, mid - 0.14, what, part=INPUT_PARTS, size=8.5)
        c.arrow([(1.65, mid), (2.25, mid)], part=INPUT_PARTS, colour=colour)


def _recursions(c: _Canvas, n: int, T: int):
    """The T recursions: the first T-1 as a stack of cards under no_grad, the last opened up."""
    c.box(2.05, 1.0, 5.35, 3.15, part="recursion", edge=NOGRAD_C, face="none", lw=1.2)
    c.text(2.2, 3.95, f"T = {T} recursion{'s' if T > 1 else ''} of latent_recursion", part="recursion",
           size=9.5, ha="left", colour="#444444")
    if T > 1:
        for k in (2, 1, 0):  # the cards behind stand for the other no_grad recursions
            c.box(2.25 + 0.07 * k, 1.3 + 0.07 * k, 1.2, 2.2, part="recursion", edge=NOGRAD_C,
                  face="#f0f0f0", dashed=True)
        first = "1" if T == 2 else f"1 … {T - 1}"
        c.text(2.85, 2.55, f"recursion{'s' if T > 2 else ''}\n{first}:\nthe same loop,\nno gradient",
               part="recursion", size=8.5, colour="#555555", linespacing=1.3)
        c.text(2.85, 1.85, "no_grad", part="recursion", size=10, colour=NOGRAD_C, mono=True, weight="bold")
        c.arrow([(3.62, 2.5), (4.05, 2.5)], part="recursion", colour=NOGRAD_C)
        c.text(3.83, 2.68, "y, z", part="recursion", size=8.5, colour="#555555")
    else:
        c.text(2.85, 2.5, "T = 1:\nno recursion\nunder no_grad", part="recursion", size=8.5,
               colour="#555555")
    c.box(4.05, 1.15, 3.2, 2.6, part="recursion", edge=GRAD_C, face="#fdf3f2", lw=1.8)
    c.text(5.65, 3.55, f"recursion {T}: with gradients", part="recursion", size=9.5, colour=GRAD_C,
           weight="bold")
    c.text(5.65, 1.33, f"backprop through all n + 1 = {n + 1} net calls", part="recursion", size=8.5,
           colour=GRAD_C)
    _inner_loop(c, n)


def _inner_loop(c: _Canvas, n: int):
    """latent_recursion: z <- net(x + y + z) n times, then y <- net(y + z)."""
    left, w, zy, yy = 4.7, 1.75, 2.9, 2.05
    for mid, text in ((zy, "z ← net(x + y + z)"), (yy, "y ← net(y + z)")):
        c.box(left, mid - 0.22, w, 0.44, part="latent", edge="#333333", face="white", lw=1.5)
        c.text(left + w / 2, mid, text, part="latent", size=10, mono=True)
    for dy, name, colour in ((0.14, "x", X_C), (0.0, "y", Y_C), (-0.14, "z", Z_C)):
        c.text(4.27, zy + dy, name, part="latent", size=8.5, colour=colour, mono=True, weight="bold")
        c.arrow([(4.36, zy + dy), (left, zy + dy)], part="latent", colour=colour, lw=1.2)
    c.text(4.27, yy, "y", part="latent", size=8.5, colour=Y_C, mono=True, weight="bold")
    c.arrow([(4.36, yy), (left, yy)], part="latent", colour=Y_C, lw=1.2)
    c.arrow([(left + w - 0.2, zy + 0.22), (left + w, zy - 0.12)], part="latent", colour=Z_C, lw=1.5,
            rad=-1.4)
    c.text(left + w + 0.3, zy + 0.42, f"× n = {n}", part="latent", size=9.5, colour=Z_C, weight="bold")
    c.arrow([(left + w / 2, zy - 0.22), (left + w / 2, yy + 0.22)], part="latent", colour=Z_C)
    c.text(left + w / 2 + 0.1, (zy + yy) / 2, "then, once", part="latent", size=8.5, ha="left",
           colour="#555555")
    c.text(left + w / 2, yy - 0.36, "x left out", part="latent", size=8.5, colour=X_C, style="italic")


def _supervision(c: _Canvas, n_sup: int):
    """The frame of one supervision step, the loss on the answer, and the detached carry."""
    c.box(1.9, 0.65, 5.65, 3.95, part="supervision", edge=SUP_C, face="none", lw=1.8)
    c.text(2.05, 4.38, f"supervision step s = 1 … N_sup (= {n_sup}): deep_recursion", part="supervision",
           size=10, colour=SUP_C, ha="left", weight="bold")
    c.arrow([(6.45, 2.05), (7.9, 2.05)], part=("supervision", "halting"), colour=Y_C, style="-")
    c.arrow([(7.9, 2.05), (7.9, 3.25), (8.1, 3.25)], part="supervision", colour=Y_C)
    c.box(8.1, 2.95, 1.8, 0.6, part="supervision", edge=SUP_C, face="#f3f0f8")
    c.text(9.0, 3.36, "head(y) → answer", part="supervision", size=9, mono=True)
    c.text(9.0, 3.1, "loss at every step", part="supervision", size=8.5, colour=SUP_C)
    c.arrow([(9.0, 0.88), (9.0, 0.3), (1.78, 0.3), (1.78, 2.5)], part="supervision", colour=SUP_C,
            style="-")
    for y in (1.55, 2.5):
        c.dot(1.78, y, part="supervision", colour=SUP_C)
    c.text(5.0, 0.3, "carry (y, z).detach() into the next step", part="supervision", size=9.5,
           colour=SUP_C, mono=True, backgroundcolor="white")


def _halting(c: _Canvas, n_sup: int):
    """The Q head on y's first position, and the decision it feeds."""
    c.arrow([(7.9, 2.05), (8.1, 2.05)], part="halting", colour=Y_C)
    c.box(8.1, 1.75, 1.8, 0.6, part="halting", edge=HALT_C, face="#fbeff6")
    c.text(9.0, 2.05, "q_halt =\nq_head(y[:, 0])", part="halting", size=9, mono=True, linespacing=1.25)
    c.arrow([(9.0, 1.75), (9.0, 1.5)], part="halting", colour=HALT_C)
    c.text(9.0, 1.2, f"stop if q_halt > 0\nor s = N_sup (= {n_sup})\n(evaluation runs all)", part="halting",
           size=8.5, colour=HALT_C, linespacing=1.2)
    c.text(9.1, 0.6, "else", part="halting", size=8.5, colour=HALT_C, ha="left")


def draw_loop(highlight: str | None = None, n: int = 6, T: int = 3, n_sup: int = 16,
              ax: Axes | None = None) -> Figure:
    """Draw TRM's loop: x, y and z; n latent updates and one answer update (`latent`); T
    recursions, T-1 under no_grad (`recursion`); N_sup supervision steps with a loss each and the
    carry detached (`supervision`); the halting head (`halting`). `highlight` names one part to
    emphasise (the others are dimmed). In a given `ax` smaller than 10 x 5.2 inches, fonts and
    lines shrink with it. Returns the figure."""
    _check(highlight, n, T, n_sup)
    if ax is None:
        ax = plt.figure(figsize=FIGSIZE).add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, FIGSIZE[0]), ylim=(0, FIGSIZE[1]))
    ax.set_aspect("equal")
    ax.axis("off")
    c = _Canvas(ax)
    title = HIGHLIGHTS.get(highlight, "TRM: one tiny network (net), applied recursively")
    c.text(FIGSIZE[0] / 2, 5.0, title, size=11.5, weight="bold")
    _inputs(c)
    _supervision(c, n_sup)
    _recursions(c, n, T)
    _halting(c, n_sup)
    c.dim_all_but(highlight)
    return ax.figure


def main() -> Path:
    """Redraw the README's copy, `trm_lib/viz/loop.png`."""
    path = Path(__file__).with_suffix(".png")
    fig = draw_loop()
    fig.savefig(path, dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
