"""Plot the training history unshifted and with training loss shifted half an epoch.

Reproduces the plotting script of "Why is my validation loss lower than my training loss?" (Adrian Rosebrock,
PyImageSearch, 2019). Run it on the history that fashion_mnist.py saved:

    python plot_shift.py --input training.pickle

With a display it opens the figure, as the post does; `--output FILE` saves it instead, and on a machine without a
display it is saved beside the input. The lines marked `# ours:` are not the post's. A history recorded with
`fashion_mnist.py --diagnostics` (or by `python -m lossgap explain`) adds a third plot, each epoch's gap
val_loss - loss as stacked bars of the terms it splits into, and prints those terms and what they say, in words.
"""
# import the necessary packages
import matplotlib.pyplot as plt
import argparse
# ours: safe history files, epochs counted from 1, the terms of the gap drawn and put into words, saved figures
from lossgap import format_gaps, has_diagnostics, in_words, mean_gaps
from lossgap.errors import run
from lossgap.gaps import epoch_numbers
from lossgap.history import check_same_length, load_history
from lossgap.plots import LEGEND_POINTS, check_output, explain_single_epoch, plot_diagnostics, show_or_save


def main():
    # construct the argument parser and parse the arguments
    ap = argparse.ArgumentParser(description="Plot unshifted and half-epoch-shifted loss curves.")
    ap.add_argument("-i", "--input", required=True, metavar="FILE", help="path to input training history file")
    ap.add_argument("-o", "--output", default=None, metavar="FILE",  # ours
                    help="save the figure here, format from the extension (default: show it; without a display, "
                         "save it beside the input as .png)")
    args = ap.parse_args()

    # load the training history (ours: refusing any pickle that names code, with one loss per epoch in each list)
    H = load_history(args.input)
    check_same_length(args.input, H, [key for key in H if key.endswith("loss") or key.endswith("accuracy")])
    diagnostics = has_diagnostics(H)

    # determine the total number of epochs used for training, then initialize the figure (ours: epochs counted from
    # 1, as Keras's log and the table count them, and a third plot for the terms)
    epochs = epoch_numbers(H)
    plt.style.use("ggplot")
    (fig, axs) = plt.subplots(3 if diagnostics else 2, 1, figsize=(6.4, 9.6) if diagnostics else None)
    if args.output is not None:
        check_output(args.output, fig)  # ours: a bad --output refused before drawing

    # a history of one epoch (a run stopped early) is one point per curve: draw points, or nothing would show
    style = {"marker": "o"} if len(epochs) == 1 else {}

    # plot the *unshifted* training and validation loss
    axs[0].plot(epochs, H["loss"], label="train_loss", **style)
    axs[0].plot(epochs, H["val_loss"], label="val_loss", **style)
    axs[0].set_title("Unshifted Loss Plot")
    axs[0].set_xlabel("Epoch #")
    axs[0].set_ylabel("Loss")
    axs[0].legend(fontsize=LEGEND_POINTS)

    # plot the *shifted* training and validation loss
    axs[1].plot(epochs - 0.5, H["loss"], label="train_loss", **style)
    axs[1].plot(epochs, H["val_loss"], label="val_loss", **style)
    axs[1].set_title("Shifted Loss Plot")
    axs[1].set_xlabel("Epoch #")
    axs[1].set_ylabel("Loss")
    axs[1].legend(fontsize=LEGEND_POINTS)
    if len(epochs) == 1:
        explain_single_epoch(axs[1])

    # ours: each epoch's gap split into what each reason contributes, drawn, averaged and put into words
    if diagnostics:
        plot_diagnostics(axs[2], H)
        print("\n".join(format_gaps(mean_gaps(H))))
        print(in_words(H))

    # show the plots (ours: or save them, and say where)
    plt.tight_layout()
    show_or_save(fig, args.output, args.input)


if __name__ == "__main__":
    run(main)  # ours: a problem the user can fix is one line on stderr, not a traceback
