"""How much of the validation-minus-training gap each of the post's reasons explains, from one history."""
import numpy as np

from pyimagesearch.history import DIAGNOSTIC_KEYS


def has_diagnostics(history):
    return all(key in history for key in DIAGNOSTIC_KEYS)


def shifted_training_at_validation_points(loss):
    """Training loss drawn half an epoch early (its average moment), linearly interpolated at the validation
    points it spans: epochs 0 .. n-2, since the last validation point lies past the last shifted training one."""
    epochs = np.arange(len(loss))
    return np.interp(epochs[:-1], epochs - 0.5, loss)


def mean_gaps(history):
    """[(view, mean of validation minus training over the epochs)]: the logged numbers, then one reason removed
    at a time (NaN where a view has no epochs to compare, as the shift has with a single epoch)."""
    loss, val_loss = np.asarray(history["loss"]), np.asarray(history["val_loss"])
    shifted = shifted_training_at_validation_points(loss)
    rows = [
        ("as logged", float(np.mean(val_loss - loss))),
        ("training shifted half an epoch (reason 2)",
         float(np.mean(val_loss[:-1] - shifted)) if len(shifted) else float("nan")),
    ]
    if has_diagnostics(history):
        rows += [
            ("training in inference mode (reasons 1 and 2)",
             float(np.mean(val_loss - np.asarray(history["train_inference_loss"])))),
            ("validation with dropout (reason 1)", float(np.mean(np.asarray(history["val_dropout_loss"]) - loss))),
        ]
    return rows


def format_gaps(rows):
    width = max(len(view) for view, _ in rows)
    lines = [f"{'view':<{width}}  mean gap (val - train)"]
    lines += [f"{view:<{width}}  {gap:+.4f}" for view, gap in rows]
    return lines
