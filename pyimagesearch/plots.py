"""Figure helpers for plot_shift.py: the gap split into its reasons, and showing or saving the figure."""
import os

import matplotlib
import numpy as np
from matplotlib.backends import BackendFilter, backend_registry

from pyimagesearch.errors import UserError
from pyimagesearch.files import check_writable, write_atomically
from pyimagesearch.gaps import LOGGED_GAP, gap_terms


def plot_diagnostics(ax, history, epochs):
    """Third axes: each epoch's logged gap val_loss - loss as the stacked bars of its four terms."""
    terms = gap_terms(history)
    logged_gap = terms.pop(LOGGED_GAP)
    plot_gap_bars(ax, epochs, terms, logged_gap)


def plot_gap_bars(ax, epochs, terms, logged_gap, errors=None):
    """Per epoch, the terms' positive parts stacked up from 0 and their negative parts stacked down from 0 (so the
    bar spans what pushes validation above and below training), with the logged gap, their sum, as a line.
    `errors`, if given, is {term name: error bar lengths as matplotlib's `yerr` takes them}."""
    above, below = np.zeros(len(epochs)), np.zeros(len(epochs))
    for name, values in terms.items():
        values = np.asarray(values, dtype=float)
        ax.bar(epochs, values, bottom=np.where(values >= 0, above, below), width=0.8, label=name,
               yerr=None if errors is None else errors[name], capsize=2, error_kw={"elinewidth": 0.8})
        above += np.clip(values, 0, None)
        below += np.clip(values, None, 0)
    ax.plot(epochs, logged_gap, color="black", marker="o", markersize=3, label=LOGGED_GAP)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_title("Gap val_loss - loss by Reason")
    ax.set_xlabel("Epoch #")
    ax.set_ylabel("Loss difference")
    ax.legend(fontsize="x-small", ncol=2)


def _extension(path):
    return os.path.splitext(path)[1].lstrip(".").lower()


def check_output(path, figure):
    """Refuse an output whose folder is unusable or whose extension matplotlib cannot write, before drawing."""
    extension = _extension(path)
    supported = figure.canvas.get_supported_filetypes()
    if extension not in supported:
        raise UserError(f"cannot save figure as {path!r}: use one of the extensions .{', .'.join(sorted(supported))}")
    check_writable(path, "figure")
    return extension


def show_or_save(figure, output, input_path):
    """Save to `output` if given (already passed through check_output); else show a window as the post does, or, with no display to show it on, save a
    PNG beside the input and say where."""
    backend = matplotlib.get_backend().lower()
    if output is None and backend not in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        import matplotlib.pyplot as plt

        plt.show()
        return None
    if output is None:
        output = os.path.splitext(input_path)[0] + ".png"
        print(f"[INFO] no display to show the figure on; saving it to {output}")
        check_output(output, figure)
    # a given --output was checked by the caller before drawing
    extension = _extension(output)
    write_atomically(output, lambda file: figure.savefig(file, format=extension), suffix=f".{extension}")
    return output
