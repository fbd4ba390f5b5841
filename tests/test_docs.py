"""The docs follow the code: every generated table is what the kept studies give today, and every figure gives each
term of the gap one colour of its own."""
import os

import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer

from pyimagesearch.reasons import docs
from pyimagesearch.reasons.measurements import TERMS
from tests.conftest import ROOT


def test_every_generated_table_is_what_the_kept_studies_give():
    for path, text in docs.pages().items():
        with open(os.path.join(ROOT, path)) as file:
            assert file.read() == text, f"{path} differs from the kept studies: run python -m pyimagesearch.reasons.docs"


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

    from pyimagesearch.reasons.plots import plot_diagnostics

    figures = list(docs.figures().values())
    for history in (docs.study("quick-augment")[0], docs.study("full")[0]):  # plot_shift.py's third plot
        with matplotlib.style.context("ggplot"):
            figure = Figure()
            plot_diagnostics(figure.subplots(), history, range(len(history["loss"])))
        figures.append(figure)
    seen = {}
    for figure in figures:
        for label, colours in bar_colours(figure).items():
            assert len(colours) == 1, f"{label} has several colours in one figure: {colours}"
            seen.setdefault(label, set()).update(colours)
    assert set(seen) <= {name for name, _, _ in TERMS}
    assert {"reason 1 (augmentation)", "reason 1 (dropout)", "batch-norm statistics"} <= set(seen)
    assert all(len(colours) == 1 for colours in seen.values()), seen
    assert len({colour for colours in seen.values() for colour in colours}) == len(seen)  # no two terms alike


def test_the_check_names_a_page_that_differs(tmp_path, monkeypatch):
    page = tmp_path / "README.md"
    page.write_text("no markers here\n")
    with pytest.raises(docs.UserError, match="README.md needs one '<!-- begin: full-run"):
        docs.with_block(page.read_text(), "full-run", "table", "README.md")
