"""Reason 3, checked: are the two splits alike, and does the validation set leak into the training set?

Run it alone, without training:

    python -m pyimagesearch.reasons.split_check [--dataset-dir DIR] [--near-duplicate-threshold 0.02]
"""
import argparse
import hashlib
from dataclasses import dataclass, field

import numpy as np
from sklearn.neighbors import NearestNeighbors


@dataclass
class SplitReport:
    exact_pairs: list            # (train index, validation index) of byte-identical images
    exact_count: int             # validation images that have a byte-identical training image
    near_pairs: list             # (train index, validation index, RMS distance, labels agree)
    near_count: int              # other validation images whose nearest training image is under the threshold
    threshold: float
    train_internal_duplicates: int
    validation_internal_duplicates: int
    train_class_counts: list
    validation_class_counts: list
    largest_class_share_difference: float
    train_intensity: tuple       # (mean, standard deviation) on the [0, 1] scale
    validation_intensity: tuple
    examples: int = field(default=5)


def _digests(images):
    return [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in images]


def _internal_duplicates(digests):
    return len(digests) - len(set(digests))


def check_split(train_images, train_labels, validation_images, validation_labels, threshold=0.02, examples=5,
                classes=10):
    """Compare two splits of uint8 images (any shape per image) and integer labels; see SplitReport."""
    train_digests, validation_digests = _digests(train_images), _digests(validation_images)
    first_train_index = {}
    for index, digest in enumerate(train_digests):
        first_train_index.setdefault(digest, index)
    exact = [(first_train_index[digest], index) for index, digest in enumerate(validation_digests)
             if digest in first_train_index]
    exact_validation = {index for _, index in exact}

    # nearest training image of every other validation image, as RMS pixel difference on the [0, 1] scale
    pixels = int(np.prod(train_images.shape[1:]))
    others = np.array([index for index in range(len(validation_images)) if index not in exact_validation], dtype=int)
    near = []
    if len(others) and len(train_images):
        neighbours = NearestNeighbors(n_neighbors=1, algorithm="brute")
        neighbours.fit(train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0)
        distances, nearest = neighbours.kneighbors(
            validation_images[others].reshape(len(others), -1).astype(np.float32) / 255.0)
        rms = distances[:, 0] / np.sqrt(pixels)
        for position in np.flatnonzero(rms < threshold):
            train_index, validation_index = int(nearest[position, 0]), int(others[position])
            near.append((train_index, validation_index, float(rms[position]),
                         bool(train_labels[train_index] == validation_labels[validation_index])))
        near.sort(key=lambda pair: pair[2])

    train_counts = np.bincount(np.asarray(train_labels, dtype=int), minlength=classes)
    validation_counts = np.bincount(np.asarray(validation_labels, dtype=int), minlength=classes)
    share_difference = np.abs(train_counts / max(train_counts.sum(), 1)
                              - validation_counts / max(validation_counts.sum(), 1)).max()
    return SplitReport(
        exact_pairs=exact[:examples], exact_count=len(exact), near_pairs=near[:examples], near_count=len(near),
        threshold=threshold,
        train_internal_duplicates=_internal_duplicates(train_digests),
        validation_internal_duplicates=_internal_duplicates(validation_digests),
        train_class_counts=train_counts.tolist(), validation_class_counts=validation_counts.tolist(),
        largest_class_share_difference=float(share_difference),
        train_intensity=_intensity(train_images), validation_intensity=_intensity(validation_images),
        examples=examples)


def _intensity(images):
    scaled = np.asarray(images, dtype=np.float64) / 255.0
    return (float(scaled.mean()), float(scaled.std())) if scaled.size else (float("nan"), float("nan"))


def format_split_report(report):
    """The report as the lines `--check-split` prints."""
    exact = ", ".join(f"train {train} = validation {validation}" for train, validation in report.exact_pairs)
    near = ", ".join(f"train {train} ~ validation {validation} (RMS {distance:.4f}, labels "
                     f"{'agree' if agree else 'differ'})" for train, validation, distance, agree in report.near_pairs)
    return [
        f"exact duplicates across splits: {report.exact_count}" + (f" (e.g. {exact})" if exact else ""),
        f"near duplicates across splits: {report.near_count} below RMS {report.threshold:g}"
        + (f" (e.g. {near})" if near else ""),
        f"duplicates within splits: train {report.train_internal_duplicates}, "
        f"validation {report.validation_internal_duplicates}",
        f"class counts: train {report.train_class_counts}, validation {report.validation_class_counts}; "
        f"largest difference in class share {report.largest_class_share_difference:.2%}",
        f"pixel intensity (mean, std): train {report.train_intensity[0]:.4f}, {report.train_intensity[1]:.4f}; "
        f"validation {report.validation_intensity[0]:.4f}, {report.validation_intensity[1]:.4f}",
    ]


def main():
    from ..datasets import load_fashion_mnist
    from ..runs.errors import run
    from ..runs.flags import positive_float

    parser = argparse.ArgumentParser(prog="python -m pyimagesearch.reasons.split_check",
                                     description="Check Fashion-MNIST's two splits for leaks and differences.")
    parser.add_argument("--dataset-dir", metavar="DIR", default=None,
                        help="folder with the four *-ubyte.gz files (default: Debian's package, else Keras's loader)")
    parser.add_argument("--near-duplicate-threshold", type=positive_float, default=0.02, metavar="RMS",
                        help="RMS pixel difference on the [0, 1] scale below which two images are near "
                             "duplicates (default: 0.02)")
    args = parser.parse_args()

    def check():
        ((trainX, trainY), (testX, testY)) = load_fashion_mnist(args.dataset_dir)
        report = check_split(trainX, trainY, testX, testY, threshold=args.near_duplicate_threshold)
        print("\n".join(format_split_report(report)))

    run(check)


if __name__ == "__main__":
    main()
