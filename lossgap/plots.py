"""Figures: the gap split into its reasons as stacked bars (plot_shift.py's third panel), a study's or one run's
figure (the post's two plots and the bars), and showing or saving a figure."""
import os

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends import BackendFilter, backend_registry
from matplotlib.ticker import MaxNLocator

from .errors import UserError
from .files import check_writable, write_atomically
from .gaps import LABELS, LOGGED_GAP, acting_terms, epoch_numbers, gap_terms, study_gap_terms

# one colour per term in every figure, none of them the red and blue of the loss curves (ggplot's first two)
TERM_COLOURS = {"running_mean": "#FF7F0E", "dropout": "#2CA02C", "noise": "#9467BD", "augmentation": "#E377C2",
                "batch_norm": "#8C564B", "other": "#BCBD22", "generalization": "#17BECF"}
LOSS_COLOURS = {"train_loss": "#E24A33", "val_loss": "#348ABD"}  # ggplot's, as in the post's figure
LEGEND_POINTS = 8  # legible at the saved size, whatever the reader's font settings


def plot_diagnostics(ax, history):
    """Third axes: each epoch's logged gap val_loss - loss as the stacked bars of its terms."""
    terms = gap_terms(history)
    plot_gap_bars(ax, epoch_numbers(history), {name: terms[name] for name in acting_terms(terms)},
                  terms[LOGGED_GAP])


def plot_gap_bars(ax, epochs, terms, logged_gap, errors=None):
    """Per epoch, the terms' positive parts stacked up from 0 and their negative parts stacked down from 0 (so the
    bar spans what pushes validation above and below training), with the logged gap, their sum, as a line.
    `errors`, if given, is {term id: error bar lengths as matplotlib's `yerr` takes them}."""
    above, below = np.zeros(len(epochs)), np.zeros(len(epochs))
    for name, values in terms.items():
        values = np.asarray(values, dtype=float)
        ax.bar(epochs, values, bottom=np.where(values >= 0, above, below), width=0.8, label=LABELS[name],
               color=TERM_COLOURS[name],
               yerr=None if errors is None else errors[name], capsize=2, error_kw={"elinewidth": 0.8})
        above += np.clip(values, 0, None)
        below += np.clip(values, None, 0)
    ax.plot(epochs, logged_gap, color="black", marker="o", markersize=3, label=LABELS[LOGGED_GAP])
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_title("Gap val_loss - loss by Reason")
    ax.set_xlabel("Epoch #")
    ax.set_ylabel("Loss difference")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # below the axes: inside, it would hide the bars of the first epochs, where the gap is largest
    ax.legend(fontsize=LEGEND_POINTS, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)


def plot_losses(ax, epochs, loss, val_loss, shift=0.0, **style):
    """The post's curves: the training loss (shifted left by `shift` epochs) and the validation loss."""
    ax.plot(epochs - shift, loss, label="train_loss", color=LOSS_COLOURS["train_loss"], **style)
    ax.plot(epochs, val_loss, label="val_loss", color=LOSS_COLOURS["val_loss"], **style)


def plot_band(ax, epochs, runs, label):
    """The mean over runs as a line, and the band from their minimum to their maximum at each epoch."""
    runs = np.asarray(runs)
    ax.plot(epochs, runs.mean(axis=0), label=label, color=LOSS_COLOURS[label])
    ax.fill_between(epochs, runs.min(axis=0), runs.max(axis=0), color=LOSS_COLOURS[label], alpha=0.25, linewidth=0)


def plot_study(histories):
    """The post's two plots over all runs, and the mean gap split into its terms with min-max error bars (for one
    history, the post's plots and its gap as they are). Returns a matplotlib Figure (no pyplot, so no display is
    needed), drawn with matplotlib's defaults and the post's ggplot style, whatever the reader's own settings."""
    from matplotlib.figure import Figure

    epochs = epoch_numbers(histories[0])
    terms = study_gap_terms(histories)
    with matplotlib.rc_context(), matplotlib.style.context(["default", "ggplot"]):
        figure = Figure(figsize=(6.4, 9.6))
        axs = figure.subplots(3, 1)
        for ax, shift, title in ((axs[0], 0.0, "Unshifted Loss Plot"), (axs[1], 0.5, "Shifted Loss Plot")):
            if len(histories) > 1:
                plot_band(ax, epochs - shift, [history["loss"] for history in histories], "train_loss")
                plot_band(ax, epochs, [history["val_loss"] for history in histories], "val_loss")
                title += f" (mean and min-max of {len(histories)} runs)"
            else:
                plot_losses(ax, epochs, histories[0]["loss"], histories[0]["val_loss"], shift,
                            **({"marker": "o"} if len(epochs) == 1 else {}))
            ax.set_title(title)
            ax.set_xlabel("Epoch #")
            ax.set_ylabel("Loss")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=LEGEND_POINTS)
        runs = {name: np.array([run[name] for run in terms]) for name in acting_terms(*terms) + [LOGGED_GAP]}
        means = {name: values.mean(axis=0) for name, values in runs.items()}
        errors = {name: [means[name] - values.min(axis=0), values.max(axis=0) - means[name]]
                  for name, values in runs.items()}
        logged_gap = means.pop(LOGGED_GAP)
        plot_gap_bars(axs[2], epochs, means, logged_gap, errors=errors if len(histories) > 1 else None)
        if len(histories) > 1:
            axs[2].set_title(f"{axs[2].get_title()} (mean, min-max)")
        figure.tight_layout()
    return figure


def explain_single_epoch(ax):
    """The shifted panel of a one-epoch history: say why it has nothing to compare."""
    ax.text(0.5, 0.5, "one epoch only: the shifted training loss (at 0.5)\nhas no validation loss at the same "
            "moment to compare with;\nthe shift needs two epochs or more", transform=ax.transAxes,
            ha="center", va="center", fontsize="small")


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
    """Save to `output` if given (already passed through check_output); else show a window as the post does, or, with
    no display to show it on, save a PNG beside the input. A saved figure's path is printed in one line."""
    backend = matplotlib.get_backend().lower()
    if output is None and backend not in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        import matplotlib.pyplot as plt

        plt.show()
        return None
    why = ""
    if output is None:
        output = os.path.splitext(input_path)[0] + ".png"
        why = " (no display to show it on)"
        check_output(output, figure)
    # a given --output was checked by the caller before drawing
    extension = _extension(output)
    write_atomically(output, lambda file: figure.savefig(file, format=extension), suffix=f".{extension}")
    print(f"[INFO] saved the figure to {output}{why}")
    return output
