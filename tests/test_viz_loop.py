"""The drawn TRM loop (`trm_lib.viz.loop`): it names what the paper and the code name, each
part can be emphasised, and bad arguments are refused before anything is drawn."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from trm_lib.viz import HIGHLIGHTS, draw_loop
from trm_lib.viz import loop


def texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_the_figure_names_x_y_z_net_the_counts_q_halt_detach_and_no_grad():
    words = texts(draw_loop())
    for name in ("x = embed(puzzle)", "z ← net(x + y + z)", "y ← net(y + z)", "x left out", "n = 6", "T = 3",
                 "N_sup (= 16)", "q_halt", "q_head(y[:, 0])", "(y, z).detach()", "no_grad", "head(y)",
                 "latent_recursion", "deep_recursion", "loss at every step", "y_init", "z_init"):
        assert name in words, f"{name!r} is not written in the figure"


def test_the_counts_written_are_the_ones_asked_for():
    words = texts(draw_loop(n=4, T=2, n_sup=8))
    for name in ("n = 4", "T = 2", "N_sup (= 8)", "n + 1 = 5 net calls", "recursion 2: with gradients"):
        assert name in words, f"{name!r} is not written in the figure"


def test_one_recursion_has_none_under_no_grad():
    words = texts(draw_loop(T=1))
    assert "T = 1 recursion of" in words and "no recursion\nunder no_grad" in words


# one text that belongs to each part only
MARKS = {"latent": "y ← net(y + z)", "recursion": "no_grad", "supervision": "loss at every step",
         "halting": "q_halt =\nq_head(y[:, 0])"}


def alpha_of(fig, text: str) -> float:
    found = [t for t in fig.findobj(Text) if t.get_text() == text]
    assert found, f"{text!r} is not written in the figure"
    alpha = found[0].get_alpha()
    return 1.0 if alpha is None else alpha


def test_every_part_has_a_highlight_and_a_mark():
    assert set(HIGHLIGHTS) == set(MARKS) == {"latent", "recursion", "supervision", "halting"}


@pytest.mark.parametrize("highlight", list(HIGHLIGHTS))
def test_a_highlight_keeps_its_part_and_dims_the_others_and_titles_the_figure(highlight):
    fig = draw_loop(highlight)
    assert HIGHLIGHTS[highlight] in texts(fig)
    for part, mark in MARKS.items():
        if part == highlight:
            assert alpha_of(fig, mark) == 1.0, f"{part} is dimmed though it is the highlight"
        else:
            assert alpha_of(fig, mark) < 0.5, f"{part} is not dimmed under highlight={highlight!r}"


def test_no_highlight_dims_nothing():
    fig = draw_loop(None)
    assert all(alpha_of(fig, mark) == 1.0 for mark in MARKS.values())
    assert all(a.get_alpha() is None for a in fig.axes[0].get_children() if hasattr(a, "get_alpha"))


def test_an_unknown_highlight_is_refused_with_the_valid_ones_named():
    with pytest.raises(ValueError, match="'latent', 'recursion', 'supervision', 'halting'"):
        draw_loop("gradients")


@pytest.mark.parametrize("name", ["n", "T", "n_sup"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_counts_that_are_not_positive_whole_numbers_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be a positive whole number"):
        draw_loop(**{name: value})


def test_it_draws_into_a_given_axes_and_returns_its_figure():
    fig, ax = plt.subplots(figsize=(10, 5.2))
    assert draw_loop("halting", ax=ax) is fig
    assert "q_halt" in texts(fig)


def test_the_module_writes_the_readme_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "__file__", str(tmp_path / "loop.py"))
    path = loop.main()
    assert path == tmp_path / "loop.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 150_000, "the README's copy should stay small"
