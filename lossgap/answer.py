"""The answer to "why is my validation loss lower than my training loss?" in words, from a history with the terms:
which of the post's reasons make the gap, in order, with their shares, for the first epochs and, where they differ,
for the last ones; a term within twice its standard error counts as noise, and is named as such.
"""
import numpy as np

from .gaps import (GENERALIZATION, LOGGED_GAP, PENALTY, RUNNING_MEAN, acting_terms, epoch_numbers, gap_terms,
                   term_errors)

# the terms as a sentence names them
PROSE = {"running_mean": "the running mean (reason 2)", "dropout": "dropout (reason 1)",
         "noise": "noise layers (reason 1)", "augmentation": "augmentation (reason 1)",
         "batch_norm": "batch-norm's batch statistics", "other": "the model's own training-only layers",
         "generalization": "generalization"}
REGULARIZERS = ("dropout", "noise", "augmentation")
NOISE = 2.0   # standard errors: a term smaller than this many of them is read as noise
EVEN = 5e-4   # a gap smaller than this is no gap
BALANCE = 3.0  # the terms' sizes add up to more than this many gaps: shares would read as hundreds of percent


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

    def noise(self, name):
        return self.errors is not None and abs(self.terms[name]) < NOISE * self.errors[name]

    def epochs(self):
        return f"epoch {self.first}" if self.first == self.last else f"epochs {self.first} to {self.last}"

    def leading(self):
        """The terms that are not noise, largest first, on the gap's side."""
        side = [name for name, value in self.terms.items() if not self.noise(name) and value * self.gap > 0]
        return sorted(side, key=lambda name: -abs(self.terms[name]))


def spans_of(history, terms, errors):
    """The first epochs (up to 3) and, in a longer run, the last ones: from where the gap last took the sign it
    ends with, or the last third of the run where it kept its sign throughout."""
    count = len(terms[LOGGED_GAP])
    early = Span(history, terms, errors, 0, min(3, count))
    if count <= 3:
        return [early]
    sign = np.sign(terms[LOGGED_GAP])
    start = count - 1
    while start > 0 and sign[start - 1] == sign[-1]:
        start -= 1
    if start < 3:
        start = max(3, count - max(1, count // 3))
    return [early, Span(history, terms, errors, start, count)]


def signed(value):
    return f"{value:+.3f}" if round(value, 3) else f"{value:+.4f}"


def describe(span, count):
    """A few sentences on one span: the gap, what makes it, what pushes the other way, generalization's verdict."""
    where = "In " + span.epochs() if count > 1 else "In its one epoch"
    if abs(span.gap) < EVEN:
        sentences = [f"{where} the validation loss equals the training loss to three decimals ({signed(span.gap)})."]
    else:
        side = "below" if span.gap < 0 else "above"
        sentences = [f"{where} the validation loss is {abs(span.gap):.3f} {side} the training loss"]
        leading = span.leading()
        # shares of the gap say something only where the terms do not mostly cancel each other
        balance = sum(abs(value) for value in span.terms.values()) > BALANCE * abs(span.gap)
        shares = [f"{PROSE[name]} {signed(span.terms[name])}"
                  + ("" if balance else f" ({abs(span.terms[name] / span.gap):.0%})") for name in leading]
        if shares:
            sentences[0] += (", what is left of larger terms that pull both ways: " if balance else ": ") + \
                _listed(shares)
        against = [name for name, value in span.terms.items()
                   if not span.noise(name) and value * span.gap < 0 and name != GENERALIZATION.id]
        if against:
            sentences[0] += "; the other way: " + _listed([f"{PROSE[name]} {signed(span.terms[name])}"
                                                           for name in against])
        sentences[0] += "."
    sentences.append(_generalization(span))
    noise = [name for name in span.terms if span.noise(name) and name != GENERALIZATION.id]
    if noise:
        sentences.append("Within twice their standard error, so noise: " + _listed(
            [f"{PROSE[name]} ({signed(span.terms[name])} ± {span.errors[name]:.3f})" for name in noise]) + ".")
    return " ".join(sentences)


def _generalization(span):
    value = span.terms.get(GENERALIZATION.id, 0.0)
    if span.noise(GENERALIZATION.id):
        return (f"Generalization ({signed(value)} ± {span.errors[GENERALIZATION.id]:.3f}) is within its sampling "
                "error: the sample cannot tell whether the validation set is easier.")
    if value < 0:
        return (f"The model does better on the validation set than on its training data in inference mode "
                f"(generalization {signed(value)}): reason 3, a validation set that is easier, or leaks into the "
                "training data.")
    return f"The validation set is not easier (generalization {signed(value)}): reason 3 plays no part."


def _listed(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def answer(history, duplicates=None):
    """Paragraphs (strings) answering the post's question for this history; `duplicates`, a leaks.Duplicates of the
    run's training and validation data, adds what the leak check found."""
    terms, errors = gap_terms(history), term_errors(history)
    spans = spans_of(history, terms, errors)
    count = len(terms[LOGGED_GAP])
    paragraphs = [describe(spans[0], count)]
    if len(spans) > 1:
        late = spans[1]
        same = (np.sign(late.gap) == np.sign(spans[0].gap) and late.leading()[:1] == spans[0].leading()[:1]
                and (late.terms.get(GENERALIZATION.id, 0) < 0) == (spans[0].terms.get(GENERALIZATION.id, 0) < 0))
        if same:
            paragraphs.append(f"The same holds in {late.epochs()} (gap {signed(late.gap)}): "
                              + ", ".join(f"{PROSE[name]} {signed(late.terms[name])}" for name in late.terms) + ".")
        else:
            paragraphs.append(describe(late, count))
    last = spans[-1]
    regularization = sum(last.terms.get(name, 0.0) for name in REGULARIZERS)
    if len(spans) > 1 and last.gap < -EVEN and regularization < 0 and abs(regularization) >= 0.5 * abs(last.gap):
        paragraphs.append(f"Bonus: to the last epoch the validation loss stays below the training loss, mostly by "
                          f"regularization ({signed(regularization)} of {signed(last.gap)}); the model may be "
                          "over-regularized, and less of it may lower both losses.")
    if PENALTY in history:
        paragraphs.append(f"Weight and activity penalties add {history[PENALTY][-1]:.4f} to val_loss and to the "
                          "training losses measured at the last epoch's end; how they changed during an epoch is in "
                          f"{PROSE[RUNNING_MEAN.id]}.")
    if duplicates is not None:
        paragraphs.append(_leak(duplicates, last))
    return paragraphs


def _leak(found, span):
    from .leaks import format_duplicates

    copies = found.exact + found.near
    share = copies / max(found.validation, 1)
    generalization = span.terms.get(GENERALIZATION.id, 0.0)
    if share < 0.01:
        verdict = "too few for a leak to move the losses"
        if generalization < 0 and not span.noise(GENERALIZATION.id):
            verdict += ", so the negative generalization term comes from an easier validation set, not a leak"
    else:
        verdict = (f"{share:.1%} of the validation set has a copy in the training data: a leak, which lowers "
                   "val_loss")
        if generalization < 0:
            verdict += " and may explain the negative generalization term"
    return f"Leak check: {format_duplicates(found)}; {verdict}."
