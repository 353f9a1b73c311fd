"""Notebook widgets to watch TRM think: a slider over the steps, and a box to type a puzzle.

    StepViewer(trace)          # Play and a slider over the supervision steps of a Trace
    PuzzleSolver(model, cfg)   # type a puzzle, press the button, step through the model's answers;
                               # or ask 8 symmetric copies and let them vote (lesson 08)

Every picture here is `trm_lib.viz.watch.plot_step`, a plain matplotlib figure, so a notebook
can show the same thing without a live kernel. Bad input is a message inside the widget,
never a traceback.
"""
from __future__ import annotations

import base64
import html
import io

import ipywidgets as w
import matplotlib.pyplot as plt

from trm_lib.config import Config
from trm_lib.model import TRM
from trm_lib.viz.watch import Trace, plot_step, solution_of, trace_text

_MONO_CSS = "<style>.trm-mono textarea { font-family: monospace; }</style>"


def _figure_output(fig) -> dict:
    """A matplotlib figure as a display_data output (PNG), the same with or without a kernel."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode()
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": png, "text/plain": "<answer after one supervision step>"}}


class StepViewer:
    """Play and a slider over the steps of a Trace; each step drawn by `plot_step`."""

    def __init__(self, trace: Trace | None = None, interval_ms: int = 900):
        self.trace = trace
        self.step = 0  # the step on show; 0 before any
        self.play = w.Play(min=1, max=1, value=1, interval=interval_ms, description="play")
        self.slider = w.IntSlider(min=1, max=1, value=1, description="step")
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.out = w.Output()
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.play, self.slider]), self.out])
        if trace is not None:
            self.set_trace(trace)

    def set_trace(self, trace: Trace) -> None:
        """Show another puzzle's trace, from its first step."""
        self.trace = None  # quiet while the slider moves back to step 1
        self.slider.value = self.play.value = 1  # before max, which may shrink below the value
        self.slider.max = self.play.max = trace.n_steps
        self.trace = trace
        self.show(1)

    def show(self, step: int) -> None:
        if self.trace is None:
            return
        self.step = step
        self.out.outputs = (_figure_output(plot_step(self.trace, step)),)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class PuzzleSolver:
    """A text box for a puzzle of your own; the model solves it and you step through its answers."""

    def __init__(self, model: TRM, cfg: Config, text: str = "", n_steps: int | None = None):
        self.model, self.cfg, self.n_steps = model, cfg, n_steps
        n = cfg.grid_size
        hint = (f"{n} rows of {n}: digits 1-{n}, '.' for a blank" if cfg.task == "sudoku"
                else f"{n} rows of {n}: '#' wall, space open, one S and one G")
        self.text = w.Textarea(value=text, placeholder=hint, rows=n + 1,
                               layout=w.Layout(width=f"{max(12, n + 6)}em"))
        self.text.add_class("trm-mono")
        self.button = w.Button(description="solve step by step", button_style="primary",
                               layout=w.Layout(width="14em"))
        self.button.on_click(lambda _: self.solve())
        self.wide_button = w.Button(description="ask 8 copies, vote", layout=w.Layout(width="14em"),
                                    tooltip="thinking wider (lesson 08): 8 symmetric copies of the puzzle, answers voted")
        self.wide_button.on_click(lambda _: self.solve_wide())
        self.status = f"Type a {n}x{n} {cfg.task} ({hint}), then press the button."  # the message, plain
        self.message = w.HTML(f"<i>{html.escape(self.status)}</i>")
        self.viewer = StepViewer()
        self.viewer.widget.layout.display = "none"
        self.trace: Trace | None = None
        self.widget = w.VBox([w.HTML(_MONO_CSS), w.HBox([self.text, w.VBox([self.button, self.wide_button, self.message])]), self.viewer.widget])

    def solve(self, text: str | None = None) -> Trace | None:
        """Solve the text in the box (or `text`, which is put in the box). None on bad input."""
        if text is not None:
            self.text.value = text
        try:
            trace = trace_text(self.model, self.cfg, self.text.value, self.n_steps)
        except ValueError as err:
            return self._fail(f"Cannot solve this puzzle: {err}.")
        except Exception as err:  # never a traceback in the widget
            return self._fail(f"Something went wrong ({type(err).__name__}: {err}).")
        self.trace = trace
        done = trace.solved_at()
        what = "a valid shortest path" if self.cfg.task == "maze" else "a valid solution"
        self.status = (f"Solved at step {done} of {trace.n_steps}: {what} from there on." if done
                       else f"Not {what} after {trace.n_steps} steps. Step through to see where it goes wrong.")
        self.status += " " + _halt_note(trace)
        self.message.value = f"<b>{html.escape(self.status)}</b>"
        self.viewer.widget.layout.display = None
        self.viewer.set_trace(trace)
        return trace

    def solve_wide(self, k: int = 8, text: str | None = None) -> str | None:
        """Thinking wider: k symmetric copies of the puzzle in the box, answers voted; the verdict as
        a line (None on bad input)."""
        from trm_lib.data.text import parse_puzzle
        from trm_lib.ensemble import wide_on_one

        if text is not None:
            self.text.value = text
        try:
            tokens = parse_puzzle(self.text.value, self.cfg.task, self.cfg.grid_size)[0]
            solution_of(self.cfg.task, tokens)  # a puzzle without a solution is refused, as by `solve`
            r = wide_on_one(self.model, self.cfg.task, self.cfg.grid_size, tokens, k, n_steps=self.n_steps,
                            copies="augment")
        except ValueError as err:
            return self._fail(f"Cannot solve this puzzle: {err}.")
        except Exception as err:  # never a traceback in the widget
            return self._fail(f"Something went wrong ({type(err).__name__}: {err}).")
        self.status = (f"{k} symmetric copies reached {r.distinct} different answer{'' if r.distinct == 1 else 's'}; "
                       f"the vote picked one that {r.agree} of {k} gave, and it is "
                       f"{'right' if r.picked_valid else 'wrong'} ({r.right_copies} of {k} copies were right).")
        self.message.value = f"<b>{html.escape(self.status)}</b>"
        return self.status

    def _fail(self, text: str) -> None:
        self.trace, self.status = None, text
        self.message.value = f"<span style='color:#b00020'>{html.escape(text)}</span>"
        self.viewer.widget.layout.display = "none"
        return None

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _halt_note(trace: Trace) -> str:
    """Where halting at inference would stop, and whether its answer there is right."""
    h = trace.halted_at()
    if h is None:
        return "The model never halts (halting probability at most 0.5)."
    return (f"The model halts at step {h} (halting probability above 0.5), "
            f"with {'a right' if trace.solved(h) else 'a wrong'} answer there.")
