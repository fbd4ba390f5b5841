"""Reason 3, checked on Fashion-MNIST: are the two splits alike, and does the test set leak into the training set?

    python -m pyimagesearch.split_check [--dataset-dir DIR] [--near-duplicate-threshold 0.02]

prints, without training, the report `fashion_mnist.py --check-split` prints before it: exact and near copies across
the splits (lossgap/leaks.py, on pixels scaled to [0, 1]), copies within each split, the class counts and the pixel
intensities.
"""
import argparse

import numpy as np

from lossgap.leaks import distinct_rows, examples_as_rows, find_duplicates, format_duplicates

CLASSES = 10


def split_report(trainX, trainY, testX, testY, threshold=0.02):
    """(the report's lines, the duplicates found across the splits) for uint8 images and integer labels."""
    duplicates = find_duplicates(trainX, testX, threshold=threshold, scale=255.0, unit="RMS pixel difference on [0, 1]")
    within = [len(rows) - distinct_rows(rows) for rows in (examples_as_rows(trainX), examples_as_rows(testX))]
    counts = [np.bincount(np.asarray(labels, dtype=int), minlength=CLASSES) for labels in (trainY, testY)]
    shares = [count / max(count.sum(), 1) for count in counts]
    intensity = [(float(images.mean()) / 255.0, float(images.std()) / 255.0) for images in (trainX, testX)]
    lines = [
        "across the splits: " + format_duplicates(duplicates, "training", "test"),
        f"duplicates within splits: train {within[0]}, test {within[1]}",
        f"class counts: train {counts[0].tolist()}, test {counts[1].tolist()}; largest difference in class share "
        f"{np.abs(shares[0] - shares[1]).max():.2%}",
        f"pixel intensity on [0, 1] (mean, std): train {intensity[0][0]:.4f}, {intensity[0][1]:.4f}; test "
        f"{intensity[1][0]:.4f}, {intensity[1][1]:.4f}",
    ]
    return lines, duplicates


def main():
    from lossgap.arguments import positive_float
    from lossgap.errors import run

    from .datasets import load_fashion_mnist

    parser = argparse.ArgumentParser(prog="python -m pyimagesearch.split_check",
                                     description="Check Fashion-MNIST's two splits for leaks and differences.")
    parser.add_argument("--dataset-dir", metavar="DIR", default=None,
                        help="folder with the four *-ubyte.gz files (default: Debian's package, else Keras's loader)")
    parser.add_argument("--near-duplicate-threshold", type=positive_float, default=0.02, metavar="RMS",
                        help="RMS pixel difference on the [0, 1] scale below which two images are near "
                             "duplicates (default: 0.02)")
    args = parser.parse_args()

    def check():
        ((trainX, trainY), (testX, testY)) = load_fashion_mnist(args.dataset_dir)
        print("\n".join(split_report(trainX, trainY, testX, testY, args.near_duplicate_threshold)[0]))

    run(check)


if __name__ == "__main__":
    main()
