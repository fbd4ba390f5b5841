"""The answer to "why is my validation loss lower than my training loss?" in words, from a history with the terms:
which of the post's reasons pull the validation loss below the training loss and which push it above, in order of
size, with each one's share of its side, for the first epochs and, where they differ, for the last ones (the same
spans the table shows); a term within twice its standard error cannot be told from the sample's own error, and is
named as such.
"""
import numpy as np

from .gaps import (GENERALIZATION, LOGGED_GAP, PENALTY, RUNNING_MEAN, acting_terms, epoch_numbers, gap_terms,
                   late_start, term_errors)

# the terms as a sentence names them
PROSE = {"running_mean": "the running mean (reason 2)", "dropout": "dropout (reason 1)",
         "noise": "GaussianNoise (reason 1)", "augmentation": "augmentation (reason 1)",
         "batch_norm": "batch-norm's batch statistics", "other": "the model's own training-only layers",
         "generalization": "generalization"}
REGULARIZERS = ("dropout", "noise", "augmentation")
UNCLEAR = 2.0  # standard errors: a term smaller than this many of them cannot be told from the sample's error
EVEN = 5e-4    # a gap smaller than this is no gap


class Span:
    """The means over some epochs of the gap and of each term, with the terms' standard errors (None where the
    history has none)."""

    def __init__(self, history, terms, errors, start, stop):
        numbers = epoch_numbers(history)
        self.first, self.last = int(numbers[start]), int(numbers[stop - 1])
        self.gap = float(np.mean(terms[LOGGED_GAP][start:stop]))
        self.terms = {name: float(np.mean(terms[name][start:stop])) for name in acting_terms(terms)}
        # the same training sample every epoch: its error does not average out over epochs
        self.errors = None if errors is None else {name: float(np.mean(errors[name][start:stop]))
                                                   for name in self.terms}

    def unclear(self, name):
        return self.errors is not None and abs(self.terms[name]) < UNCLEAR * self.errors[name]

    def epochs(self):
        return f"epoch {self.first}" if self.first == self.last else f"epochs {self.first} to {self.last}"

    def side(self, sign):
        """The terms that are clear of their error, pulling the validation loss down (sign -1) or pushing it up
        (+1), largest first."""
        side = [name for name, value in self.terms.items() if not self.unclear(name) and value * sign > 0]
        return sorted(side, key=lambda name: -abs(self.terms[name]))

    def within(self, name):
        """`value ± twice its error`, for a term that cannot be told from the sample's error."""
        return f"{signed(self.terms[name])} ± {UNCLEAR * self.errors[name]:.3f}"


def spans_of(history, terms, errors):
    """The first epochs (up to 3) and, in a longer run, the last ones (gaps.late_start), as the table shows them."""
    count = len(terms[LOGGED_GAP])
    early = Span(history, terms, errors, 0, min(3, count))
    start = late_start(terms[LOGGED_GAP])
    return [early] if start is None else [early, Span(history, terms, errors, start, count)]


def signed(value):
    return f"{value:+.3f}"


def _listed(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _side(span, names):
    """`A -0.117 (54%), B -0.100 (46%)`: each with its share of the side's total, where there are several."""
    total = sum(abs(span.terms[name]) for name in names)
    return _listed([f"{PROSE[name]} {signed(span.terms[name])}"
                    + (f" ({abs(span.terms[name]) / total:.0%})" if len(names) > 1 else "") for name in names])


def describe(span, count):
    """A few sentences on one span: the gap, what pulls the validation loss down and what pushes it up, generalization's
    verdict on reason 3, and what the sample cannot tell."""
    where = "In " + span.epochs() if count > 1 else "In its one epoch"
    if abs(span.gap) < EVEN:
        sentences = [f"{where} the validation loss equals the training loss to three decimals."]
    else:
        sentences = [f"{where} the validation loss is {abs(span.gap):.3f} {'below' if span.gap < 0 else 'above'} "
                     "the training loss."]
    down, up = span.side(-1), span.side(+1)
    if down:
        sentences.append(f"Pulling it down: {_side(span, down)}.")
    if up:
        sentences.append(f"Pushing it up: {_side(span, up)}.")
    sentences.append(_generalization(span))
    unclear = [name for name in span.terms if span.unclear(name) and name != GENERALIZATION.id]
    if unclear:
        sentences.append("Too small to tell from the sample's own error (within twice its standard error): "
                         + _listed([f"{PROSE[name]}, {span.within(name)}" for name in unclear]) + ".")
    return " ".join(sentences)


def _generalization(span):
    value = span.terms.get(GENERALIZATION.id, 0.0)
    if span.unclear(GENERALIZATION.id):
        return (f"Generalization, {span.within(GENERALIZATION.id)}, is within twice its standard error: the sample "
                "cannot tell whether the validation set is easier.")
    if value < 0:
        return (f"The model does better on the validation set than on its training data in inference mode "
                f"(generalization {signed(value)}): reason 3, a validation set that is easier, or leaks into the "
                "training data.")
    return f"The validation set is not easier (generalization {signed(value)}): reason 3 plays no part."


def answer(history, duplicates=None):
    """Paragraphs (strings) answering the post's question for this history; `duplicates`, a leaks.Duplicates of the
    run's training and validation data, adds what the leak check found."""
    terms, errors = gap_terms(history), term_errors(history)
    spans = spans_of(history, terms, errors)
    count = len(terms[LOGGED_GAP])
    paragraphs = [describe(spans[0], count)]
    if len(spans) > 1:
        late, early = spans[1], spans[0]
        same = (np.sign(late.gap) == np.sign(early.gap) and late.side(np.sign(late.gap))[:1] ==
                early.side(np.sign(early.gap))[:1]
                and (late.terms.get(GENERALIZATION.id, 0) < 0) == (early.terms.get(GENERALIZATION.id, 0) < 0))
        if same:
            paragraphs.append(f"The same holds in {late.epochs()} (gap {signed(late.gap)}): "
                              + ", ".join(f"{PROSE[name]} {signed(late.terms[name])}" for name in late.terms) + ".")
        else:
            paragraphs.append(describe(late, count))
    last = spans[-1]
    regularization = sum(last.terms.get(name, 0.0) for name in REGULARIZERS)
    if len(spans) > 1 and last.gap < -EVEN and regularization < 0 and abs(regularization) >= 0.5 * abs(last.gap):
        val_loss = [float(value) for value in history["val_loss"]]
        if val_loss[-1] < min(val_loss[:-1]) - EVEN:  # a new low in the last epoch: the run has not levelled off
            verdict = ("the validation loss is still falling, so more epochs come first; if the gap stays once it "
                       "levels off, the model may be over-regularized, and less of it may lower both losses.")
        else:
            verdict = "the model may be over-regularized, and less of it may lower both losses."
        paragraphs.append(f"Bonus: to the last epoch the validation loss stays below the training loss "
                          f"({signed(last.gap)}), and regularization alone pulls it down by {signed(regularization)}; "
                          + verdict)
    if PENALTY in history:
        paragraphs.append("Losses the model adds to the compiled one (weight and activity penalties, add_loss) came to "
                          f"{history[PENALTY][-1]:.4f} on the training sample in inference mode at the last epoch's "
                          "end; they are in loss, val_loss and every measurement alike, and how they changed during "
                          f"an epoch is part of {PROSE[RUNNING_MEAN.id]}.")
    if duplicates is not None:
        paragraphs.append(_leak(duplicates, last))
    return paragraphs


# the width answers are printed at, as the tables beside them
WIDTH = 118


def in_words(history, duplicates=None):
    """answer(), its paragraphs wrapped for a terminal (never inside a word such as "batch-norm")."""
    import textwrap

    return "\n".join(textwrap.fill(paragraph, WIDTH, break_on_hyphens=False, break_long_words=False)
                     for paragraph in answer(history, duplicates))


def _leak(found, span):
    from .leaks import format_duplicates

    copies = found.exact + found.near
    share = copies / max(found.validation, 1)
    generalization = span.terms.get(GENERALIZATION.id, 0.0)
    if share < 0.01:
        verdict = "too few for a leak to move the losses"
        if generalization < 0 and not span.unclear(GENERALIZATION.id):
            verdict += ", so the negative generalization term comes from an easier validation set, not a leak"
    else:
        verdict = (f"{share:.1%} of the validation set has a copy in the training data: a leak, which lowers "
                   "val_loss")
        if generalization < 0:
            verdict += " and may explain the negative generalization term"
    return f"Leak check: {format_duplicates(found)}; {verdict}."
