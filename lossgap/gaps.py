"""The logged gap `val_loss - loss` of each epoch as the sum of its terms, one per reason, from one history.

Each term is the step from one measurement to the next (lossgap/measure.py), so the terms add up to the logged gap
exactly, whatever the sample or the random draw:

    val_loss - loss = (train_end_loss - loss)                                    running mean (reason 2)
                    + (train_end_nodropout_loss - train_end_loss)                dropout (reason 1)
                    + (train_end_nonoise_loss - train_end_nodropout_loss)        noise layers (reason 1)
                    + (train_end_noaugmentation_loss - train_end_nonoise_loss)   augmentation (reason 1)
                    + (train_end_nobatchnorm_loss - train_end_noaugmentation_loss)  batch-norm statistics
                    + (train_inference_loss - train_end_nobatchnorm_loss)        other training-only layers
                    + (val_loss - train_inference_loss)                          generalization (reason 3 if negative)

The training sample stands in for the whole training set, so its sampling error moves mostly the first term and the
last, in opposite directions (the others are differences on the same images); the random draw moves the first terms
by amounts that cancel in the sum. A negative term is a reason the validation loss lies below the training loss.
Each term's standard error, from the spread of its batches, is kept beside it (`<term>_error`) where it was measured.
"""
from typing import NamedTuple

import numpy as np

from .families import AS_TRAINING_SEES_IT, DIAGNOSTIC_KEYS, FAMILIES, IN_INFERENCE


class Term(NamedTuple):
    id: str
    label: str
    later: str    # the term is later - earlier
    earlier: str
    reason: str   # the post's reason it stands for, "" for none


RUNNING_MEAN = Term("running_mean", "running mean (reason 2)", AS_TRAINING_SEES_IT, "loss", "reason 2")
GENERALIZATION = Term("generalization", "generalization (reason 3 if negative)", "val_loss", IN_INFERENCE, "reason 3")
TERMS = (RUNNING_MEAN,
         *(Term(family.name.replace("-", "_"), family.label, family.key, earlier, family.reason)
           for family, earlier in zip(FAMILIES, (AS_TRAINING_SEES_IT, *(f.key for f in FAMILIES)))),
         GENERALIZATION)
BY_ID = {term.id: term for term in TERMS}
LOGGED_GAP = "gap"
LABELS = {**{term.id: term.label for term in TERMS}, LOGGED_GAP: "logged gap (val_loss - loss)"}
# a term's standard error from the spread of its batches, in the history beside the measurements
ERROR_KEYS = {term.id: f"{term.id}_error" for term in TERMS}
# what weight and activity penalties add to the loss measured in inference mode at the epoch's end (and so to
# val_loss), where the model has any
PENALTY = "train_inference_penalty"
# Keras's 0-based numbers of the epochs a history holds, where a fit() did not start at 0 (initial_epoch)
EPOCH = "epoch"


def has_diagnostics(history):
    """True for a history recorded with the measurements: it holds every one of them."""
    return all(key in history for key in DIAGNOSTIC_KEYS)


def first_epoch(history):
    """The number, counted from 1 as Keras's log counts them, of the history's first epoch."""
    return int(history[EPOCH][0]) + 1 if EPOCH in history else 1


def epoch_numbers(history):
    """The history's epochs, counted from 1 as Keras's log counts them."""
    return np.arange(first_epoch(history), first_epoch(history) + len(history["loss"]))


def gap_terms(history):
    """{term id: array over epochs} for every term and, last, the logged gap they add up to."""
    terms = {term.id: np.asarray(history[term.later]) - np.asarray(history[term.earlier]) for term in TERMS}
    terms[LOGGED_GAP] = np.asarray(history["val_loss"]) - np.asarray(history["loss"])
    return terms


def term_errors(history):
    """{term id: array of standard errors over epochs}, or None for a history recorded without them."""
    if not all(key in history for key in ERROR_KEYS.values()):
        return None
    return {term_id: np.asarray(history[key]) for term_id, key in ERROR_KEYS.items()}


def study_gap_terms(histories):
    """gap_terms() of each history."""
    return [gap_terms(history) for history in histories]


def acting_terms(*term_tables):
    """The ids of the terms, among gap_terms() tables, that are not exactly 0 in every epoch of every table: a
    family that acts in none of the models is left out of figures and study tables (not of the logged gap)."""
    return [name for name in term_tables[0] if name != LOGGED_GAP
            and any(np.any(np.asarray(table[name]) != 0) for table in term_tables)]


def late_start(logged_gap):
    """Where the last epochs the answer in words describes apart begin (an index), or None for a run of three epochs
    or fewer: from where the gap last took the sign it ends with, or the last third of the run where it kept that
    sign from epoch 3 on; never within the first three."""
    count = len(logged_gap)
    if count <= 3:
        return None
    sign = np.sign(logged_gap)
    start = count - 1
    while start > 0 and sign[start - 1] == sign[-1]:
        start -= 1
    return start if start >= 3 else max(3, count - max(1, count // 3))


def spans(epoch_count, first=1, late=None):
    """[(label, slice of epochs)] to average over: the first epoch, the first three, the last ones from index `late`
    (as late_start gives it) and all of them, without repeats; labels count from `first`."""
    def label(start, stop):
        return f"epoch {first + start}" if stop - start == 1 else f"epochs {first + start}-{first + stop - 1}"

    result = [(label(0, 1), slice(0, 1))]
    for start, stop in ((0, min(3, epoch_count)), (late, epoch_count), (0, epoch_count)):
        if start is not None and (start, stop) not in [(part.start, part.stop) for _, part in result] \
                and stop - start >= 1:
            result.append((label(start, stop), slice(start, stop)))
    return result


class GapTable(NamedTuple):
    spans: list  # column labels
    rows: list   # [(term id, [mean over each span])]


def mean_gaps(history):
    """The terms and the logged gap, each averaged over the epochs of each span."""
    terms = gap_terms(history)
    columns = spans(len(history["loss"]), first_epoch(history), late_start(terms[LOGGED_GAP]))
    rows = [(name, [float(np.mean(values[part])) for _, part in columns]) for name, values in terms.items()]
    return GapTable([label for label, _ in columns], rows)


def signed(value, digits=4):
    """`+0.0123`, `-0.0123`, and `0.0000` (not `-0.0000`) for what rounds to zero."""
    text = f"{value:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text


def format_gaps(table):
    """Aligned lines: one row per term, one column per span, four decimals with their sign, the logged gap last;
    the terms of families the model lacks (exactly 0 throughout) named on one line instead."""
    rows = [(name, means) for name, means in table.rows if name != LOGGED_GAP and any(means)]
    gap = [(name, means) for name, means in table.rows if name == LOGGED_GAP]
    absent = [LABELS[name] for name, means in table.rows if name != LOGGED_GAP and not any(means)]
    width = max(len(LABELS[name]) for name, _ in rows + gap)
    columns = [max(len(label), 7) for label in table.spans]
    lines = [f"{'val_loss - loss, mean over':<{width}}" + "".join(f"  {label:>{column}}"
                                                                  for label, column in zip(table.spans, columns))]
    for name, means in rows + gap:
        lines.append(f"{LABELS[name]:<{width}}" + "".join(f"  {signed(mean):>{column}}"
                                                          for mean, column in zip(means, columns)))
    if absent:
        lines.append(f"not in this model, so 0: {', '.join(absent)}")
    return lines
