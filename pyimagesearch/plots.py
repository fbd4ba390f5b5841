"""Figure helpers for plot_shift.py: the diagnostics axes, and showing or saving the figure."""
import os

import matplotlib
from matplotlib.backends import BackendFilter, backend_registry

from pyimagesearch.errors import UserError
from pyimagesearch.files import check_writable, write_atomically


def plot_diagnostics(ax, history, epochs):
    """Third axes: the logged losses against the same model measured at the end of each epoch."""
    ax.plot(epochs, history["loss"], label="train_loss")
    ax.plot(epochs, history["val_loss"], label="val_loss")
    ax.plot(epochs, history["train_inference_loss"], linestyle="--", label="train_inference_loss")
    ax.plot(epochs, history["val_dropout_loss"], linestyle=":", label="val_dropout_loss")
    ax.set_title("Losses Measured at Epoch End")
    ax.set_xlabel("Epoch #")
    ax.set_ylabel("Loss")
    ax.legend()


def explain_single_epoch(ax):
    """The shifted panel of a one-epoch history: say why it has nothing to compare."""
    ax.text(0.5, 0.5, "one epoch only: the shifted training loss (at -0.5)\nhas no validation loss at the same "
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
