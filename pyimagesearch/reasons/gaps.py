"""The logged gap `val_loss - loss` of each epoch as the sum of its terms, one per reason, from one history.

Each term is the step from one measurement to the next (see pyimagesearch/reasons/diagnostics.py), so the terms add
up to the logged gap exactly, whatever the sample or the random draw:

    val_loss - loss = (train_end_loss - loss)                                    reason 2: running mean
                    + (train_end_nodropout_loss - train_end_loss)                reason 1: dropout
                    + (train_end_nonoise_loss - train_end_nodropout_loss)        reason 1: noise
                    + (train_end_noaugmentation_loss - train_end_nonoise_loss)   reason 1: augmentation
                    + (train_end_nobatchnorm_loss - train_end_noaugmentation_loss)  batch-norm: batch statistics
                    + (train_inference_loss - train_end_nobatchnorm_loss)        other training-only layers
                    + (val_loss - train_inference_loss)                          generalization; reason 3 if < 0

The measurements and terms are named in pyimagesearch/reasons/measurements.py. The training sample stands in for the whole training set, so its sampling error moves mostly the first term and
the last, in opposite directions (the others are differences on the same images); the random draw moves the first
terms by amounts that cancel in the sum. A negative term is a reason the validation loss lies below the training
loss.
"""
from typing import NamedTuple

import numpy as np

from .measurements import DIAGNOSTIC_KEYS, LOGGED_GAP, TERMS


def has_diagnostics(history):
    """True for a history recorded with `--diagnostics`: it holds every measurement."""
    return all(key in history for key in DIAGNOSTIC_KEYS)


def gap_terms(history):
    """{term name: array over epochs} for every term and, last, the logged gap they add up to."""
    terms = {name: np.asarray(history[later]) - np.asarray(history[earlier]) for name, later, earlier in TERMS}
    terms[LOGGED_GAP] = np.asarray(history["val_loss"]) - np.asarray(history["loss"])
    return terms


def study_gap_terms(histories):
    """gap_terms() of each history."""
    return [gap_terms(history) for history in histories]


def acting_terms(*term_tables):
    """The names of the terms, among gap_terms() tables, that are not exactly 0 in every epoch of every table: a
    family that acts in none of the models is left out of figures and study tables (not of the logged gap)."""
    return [name for name in term_tables[0] if name != LOGGED_GAP
            and any(np.any(np.asarray(table[name]) != 0) for table in term_tables)]


def spans(epoch_count):
    """[(label, epochs)] to average over: epoch 1, the first three epochs and all of them, without repeats."""
    result = [("epoch 1", 1)]
    for label, epochs in ((f"epochs 1-{min(3, epoch_count)}", min(3, epoch_count)),
                          (f"epochs 1-{epoch_count}", epoch_count)):
        if epochs > result[-1][1]:
            result.append((label, epochs))
    return result


class GapTable(NamedTuple):
    spans: list  # column labels
    rows: list   # [(term name, [mean over each span])]


def mean_gaps(history):
    """The terms and the logged gap, each averaged over the epochs of each span."""
    terms = gap_terms(history)
    columns = spans(len(history["loss"]))
    rows = [(name, [float(np.mean(values[:epochs])) for _, epochs in columns]) for name, values in terms.items()]
    return GapTable([label for label, _ in columns], rows)


def format_gaps(table):
    """Aligned lines: one row per term, one column per span, four decimals with their sign; the terms of families
    the model lacks (exactly 0 throughout) named on one last line instead."""
    rows = [(name, means) for name, means in table.rows if name == LOGGED_GAP or any(means)]
    absent = [name for name, means in table.rows if (name, means) not in rows]
    width = max(len(name) for name, _ in rows)
    columns = [max(len(label), 7) for label in table.spans]
    lines = [f"{'val_loss - loss, mean over':<{width}}" + "".join(f"  {label:>{column}}"
                                                                  for label, column in zip(table.spans, columns))]
    for name, means in rows:
        lines.append(f"{name:<{width}}" + "".join(f"  {mean:>+{column}.4f}" for mean, column in zip(means, columns)))
    if absent:
        lines.append(f"exactly 0, as none of these act in the model: {', '.join(absent)}")
    return lines
