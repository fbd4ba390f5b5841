"""The docs follow the code: every generated table is what the kept studies give today, every figure gives each term
of the gap one colour of its own, never the loss curves' colours, and a legend legible at the saved size."""
import os

import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer

from lossgap.gaps import LABELS, TERMS
from lossgap.plots import LOSS_COLOURS
from tests.conftest import ROOT
from tools import docs


def test_every_generated_table_is_what_the_kept_studies_give():
    for path, text in docs.pages().items():
        with open(os.path.join(ROOT, path)) as file:
            assert file.read() == text, f"{path} differs from the kept studies: run python -m tools.docs"


def bar_colours(figure):
    """{legend label: the face colours of its bars}, read from the figure's drawing."""
    colours = {}
    for ax in figure.axes:
        for container in ax.containers:
            if isinstance(container, BarContainer):
                colours.setdefault(container.get_label(), set()).update(
                    to_hex(patch.get_facecolor()) for patch in container.patches)
    return colours


def test_each_term_has_one_colour_of_its_own_in_every_figure():
    import matplotlib.style
    from matplotlib.figure import Figure

    from lossgap.plots import plot_diagnostics

    figures = list(docs.figures().values())
    for history in (docs.study("quick-augment")[0], docs.study("full")[0]):  # plot_shift.py's third plot
        with matplotlib.style.context("ggplot"):
            figure = Figure()
            plot_diagnostics(figure.subplots(), history)
        figures.append(figure)
    seen = {}
    for figure in figures:
        for label, colours in bar_colours(figure).items():
            assert len(colours) == 1, f"{label} has several colours in one figure: {colours}"
            seen.setdefault(label, set()).update(colours)
    assert set(seen) <= {LABELS[term.id] for term in TERMS}
    assert {LABELS["augmentation"], LABELS["dropout"], LABELS["batch_norm"]} <= set(seen)
    assert all(len(colours) == 1 for colours in seen.values()), seen
    used = {colour for colours in seen.values() for colour in colours}
    assert len(used) == len(seen)  # no two terms alike
    assert not used & {colour.lower() for colour in LOSS_COLOURS.values()}  # nor like a loss curve


def test_the_legend_keeps_its_size_whatever_the_readers_matplotlib_settings():
    import matplotlib

    from lossgap.plots import LEGEND_POINTS, plot_study

    with matplotlib.rc_context({"legend.fontsize": 3, "font.size": 4, "axes.prop_cycle": matplotlib.cycler(
            color=["#000000"])}):
        figure = plot_study(docs.study("quick"))
    for ax in figure.axes:
        assert {text.get_fontsize() for text in ax.get_legend().get_texts()} == {LEGEND_POINTS}
    colours = {to_hex(line.get_color()) for line in figure.axes[0].get_lines()}
    assert colours == {colour.lower() for colour in LOSS_COLOURS.values()}


def test_the_check_names_a_page_that_differs(tmp_path, monkeypatch):
    page = tmp_path / "README.md"
    page.write_text("no markers here\n")
    with pytest.raises(docs.UserError, match="README.md needs one '<!-- begin: full-run"):
        docs.with_block(page.read_text(), "full-run", "table", "README.md")
