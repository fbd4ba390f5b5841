"""Why is my validation loss lower than my training loss? The gap `val_loss - loss` of a Keras run split exactly
into the reasons of the PyImageSearch post of that name (Adrian Rosebrock, 2019): the running mean (reason 2),
dropout, noise and augmentation (reason 1), batch-norm's batch statistics, layers of one's own that compute
otherwise in training, and generalization (reason 3 when negative), answered in words, with the data checked for
leaks.

    python -m lossgap explain train.py --its --arguments      # a training script of yours, run unchanged

    from lossgap import ReasonDiagnostics                      # the callback, in a script of yours

The callback and the measuring need Keras; reading a history (`gap_terms`, `format_gaps`, `answer`, the plots) does
not load it.
"""
from .answer import answer, in_words
from .gaps import (ERROR_KEYS, LABELS, LOGGED_GAP, PENALTY, TERMS, acting_terms, epoch_numbers, format_gaps, gap_terms,
                   has_diagnostics, mean_gaps)
from .families import DIAGNOSTIC_KEYS, FAMILIES
from .history import load_history, save_history
from .leaks import find_duplicates, format_duplicates

__version__ = "1.0.0"
_WITH_KERAS = {"ReasonDiagnostics": "callback", "training_sample": "measure"}


def __getattr__(name):
    """ReasonDiagnostics and training_sample, imported on first use: they load Keras."""
    if name in _WITH_KERAS:
        import importlib

        return getattr(importlib.import_module(f".{_WITH_KERAS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ReasonDiagnostics", "training_sample", "answer", "in_words", "gap_terms", "format_gaps", "mean_gaps",
           "has_diagnostics", "acting_terms", "epoch_numbers", "TERMS", "LABELS", "LOGGED_GAP", "ERROR_KEYS", "PENALTY",
           "DIAGNOSTIC_KEYS", "FAMILIES", "load_history", "save_history", "find_duplicates", "format_duplicates"]
