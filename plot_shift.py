"""Plot the training history unshifted and with training loss shifted half an epoch.

Reproduces the plotting script of "Why is my validation loss lower than my training loss?" (Adrian Rosebrock,
PyImageSearch, 2019). Run it on the history that fashion_mnist.py saved:

    python plot_shift.py --input training.pickle

With a display it opens the figure, as the post does; `--output FILE` saves it instead, and on a machine without a
display it is saved beside the input. A history recorded with `fashion_mnist.py --diagnostics` adds a third plot,
each epoch's gap val_loss - loss as stacked bars of the terms it splits into (see pyimagesearch/reasons/gaps.py), and
prints those terms averaged over epoch 1, epochs 1-3 and all epochs.
"""
# import the necessary packages (matplotlib is imported once the arguments are known to be good)
import argparse

from pyimagesearch.runs.errors import run


def argument_parser():
    # construct the argument parser (the notebook's test checks its commands' flags with it)
    ap = argparse.ArgumentParser(description="Plot unshifted and half-epoch-shifted loss curves.")
    ap.add_argument("-i", "--input", required=True, metavar="FILE", help="path to input training history file")
    ap.add_argument("-o", "--output", default=None, metavar="FILE",
                    help="save the figure here, format from the extension (default: show it; without a display, "
                         "save it beside the input as .png)")
    return ap


def parse_arguments():
    # parse the arguments
    return argument_parser().parse_args()


def main():
    args = parse_arguments()
    from pyimagesearch.reasons.gaps import format_gaps, has_diagnostics, mean_gaps
    from pyimagesearch.runs.history import check_same_length, load_history

    # load the training history (refusing any pickle that names code), with one loss per epoch in each list
    H = load_history(args.input)
    diagnostics = has_diagnostics(H)
    check_same_length(args.input, H, [key for key in H if key.endswith("loss") or key.endswith("accuracy")])

    import matplotlib.pyplot as plt
    import numpy as np

    from pyimagesearch.reasons.plots import check_output, explain_single_epoch, plot_diagnostics, show_or_save

    # determine the total number of epochs used for training, then initialize the figure
    epochs = np.arange(0, len(H["loss"]))
    plt.style.use("ggplot")
    (fig, axs) = plt.subplots(3 if diagnostics else 2, 1, figsize=(6.4, 9.6) if diagnostics else None)
    if args.output is not None:
        check_output(args.output, fig)

    # a history of one epoch (a run stopped early) is one point per curve: draw points, or nothing would show
    style = {"marker": "o"} if len(epochs) == 1 else {}

    # plot the *unshifted* training and validation loss
    axs[0].plot(epochs, H["loss"], label="train_loss", **style)
    axs[0].plot(epochs, H["val_loss"], label="val_loss", **style)
    axs[0].set_title("Unshifted Loss Plot")
    axs[0].set_xlabel("Epoch #")
    axs[0].set_ylabel("Loss")
    axs[0].legend()

    # plot the *shifted* training and validation loss
    axs[1].plot(epochs - 0.5, H["loss"], label="train_loss", **style)
    axs[1].plot(epochs, H["val_loss"], label="val_loss", **style)
    axs[1].set_title("Shifted Loss Plot")
    axs[1].set_xlabel("Epoch #")
    axs[1].set_ylabel("Loss")
    axs[1].legend()
    if len(epochs) == 1:
        explain_single_epoch(axs[1])

    # beyond the post: each epoch's gap split into what each reason contributes, drawn and averaged
    if diagnostics:
        plot_diagnostics(axs[2], H, epochs)
        print("\n".join(format_gaps(mean_gaps(H))))

    # show the plots (or save them where there is no display)
    plt.tight_layout()
    show_or_save(fig, args.output, args.input)


if __name__ == "__main__":
    run(main)
