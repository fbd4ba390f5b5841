"""The Keras callback that splits each epoch's gap `val_loss - loss` into its reasons (lossgap/gaps.py), by measuring
a training sample at the epoch's end (lossgap/measure.py).

Use it on your own compiled model (Sequential, functional or subclassed, nested, any compiled loss):

    from lossgap import ReasonDiagnostics, format_gaps, mean_gaps, training_sample

    sample = training_sample(len(x), 5000, seed=0)
    H = model.fit(x, y, validation_data=(x_val, y_val), batch_size=32, epochs=10,
                  callbacks=[ReasonDiagnostics((x[sample], y[sample]), (x_val, y_val), batch_size=32, seed=0)])
    print("\\n".join(format_gaps(mean_gaps(H.history))))

It adds to each epoch's logs, and so to H.history (or, with `log=False`, to its own `history` only):

- `train_end_loss`: the sample as training sees it, at the run's batch size;
- `train_end_nodropout_loss`, `train_end_nonoise_loss`, `train_end_noaugmentation_loss`,
  `train_end_nobatchnorm_loss`: the same batches with that family and every family before it switched off;
- `train_inference_loss`: in inference mode, exactly as `val_loss` is measured;
- `<term>_error`, one per term: its standard error, from the spread of the sample's chunks;
- `train_inference_penalty`, where the model has weight or activity penalties: what they add to that loss.

A model that trains with a `train_step` of its own, or whose `val_loss` the measurement's own inference pass over the
validation data does not reproduce (checked in the first epoch: a `test_step` or `compute_loss` of one's own that
computes otherwise), is not measured: the callback says why in one line, and `refusal` holds it.
"""
import time

import keras

from .families import training_only_layers
from .gaps import PENALTY
from .keras_internals import all_layers
from .measure import Passes, epoch_seeds, inference_loss, measure_epoch, size_of

# the relative difference between Keras's val_loss and the measurement's own pass beyond which the two do not
# compute the same loss (float32 sums over thousands of examples differ by about 1e-6)
VAL_LOSS_TOLERANCE = 1e-3


class ReasonDiagnostics(keras.callbacks.Callback):
    """Measures the training sample at each epoch's end; see the module's docstring for what it records. `seconds`
    holds the time each epoch's measurements took and `training_seconds` the time its training and validation took
    before them."""

    def __init__(self, training_data, validation_data, batch_size=32, seed=None, log=True):
        """`training_data` and `validation_data` are (inputs, targets), or functions that return them when first
        needed, at the end of the first epoch (for data read from the batches training takes)."""
        super().__init__()
        self._sample, self._validation = training_data, validation_data
        self.batch_size, self.seed, self.log = batch_size, seed, log
        self.history, self.seconds, self.training_seconds = {}, [], []
        self.refusal = None
        self._passes = self._found = self._epoch_started = None
        self._with_penalty = None
        self._after_fit = []

    @property
    def sample(self):
        if callable(self._sample):
            self._sample = self._sample()
        return tuple(self._sample)

    @property
    def validation(self):
        if callable(self._validation):
            self._validation = self._validation()
        return tuple(self._validation)

    def say(self, line):
        print(f"[INFO] ReasonDiagnostics: {line}", flush=True)

    def say_after_fit(self, line):
        """Said once fit() ends: within an epoch the line would land inside Keras's progress bar."""
        self._after_fit.append(line)

    def on_train_end(self, logs=None):
        for line in self._after_fit:
            self.say(line)
        self._after_fit = []

    def set_model(self, model):
        super().set_model(model)
        if self._passes is None or self._passes.model is not model:  # another fit() of the same model keeps its steps
            self._passes, self._found = Passes(model, self.batch_size), None

    def on_train_begin(self, logs=None):
        self.refusal = own_loss_computation(self.model)
        if self.refusal is not None:
            self.say(f"not measured: {self.refusal}")
            return
        # a subclassed model that has never been called is built by its first training step (on TensorFlow), and a
        # sample read from training's batches exists once they are taken: the layers are then found at the end of
        # the first epoch
        if not callable(self._sample) and all(layer.built for layer in all_layers(self.model)):
            self.training_only_layers()

    def training_only_layers(self):
        """The model's TrainingOnlyLayers, found once (the first time, with one forward pass of a sample batch), and
        the layers with a training branch of their own named in one line."""
        if self._found is None:
            images = keras.tree.map_structure(lambda array: array[:self.batch_size], self.sample[0])
            found = training_only_layers(self.model, images)
            if found.switches["other"]:
                named = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in found.switches["other"])
                self.say(f'layers with a training branch of their own, measured together as "other training-only '
                         f'layers": {named}')
            self._found = found
        return self._found

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.refusal is not None:
            return
        if logs is None or "val_loss" not in logs:
            raise ValueError("ReasonDiagnostics needs the epoch's val_loss in the logs: pass validation_data to "
                             "model.fit (and no validation_freq above 1).")
        started = time.perf_counter()
        if self._epoch_started is not None:
            self.training_seconds.append(started - self._epoch_started)
        found = self.training_only_layers()
        seeds = epoch_seeds(self.model, self.seed, epoch)
        if not self.history:
            self.refusal = self._val_loss_differs(logs["val_loss"], seeds)
            if self.refusal is not None:
                self.say_after_fit(f"not measured: {self.refusal}")
                return
        measured = measure_epoch(self._passes, found, *self.sample, seeds)
        if self._with_penalty is None:
            self._with_penalty = measured.penalty != 0
        record = {**measured.values, **measured.errors}
        if self._with_penalty:
            record[PENALTY] = measured.penalty
        for key, value in record.items():
            self.history.setdefault(key, []).append(value)
        if self.log:
            logs.update(record)
        self.seconds.append(time.perf_counter() - started)

    def _val_loss_differs(self, val_loss, seeds):
        """Why the measurement cannot be trusted, if its own inference pass over the validation data does not give
        Keras's val_loss; else None."""
        images, targets = self.validation
        measured = inference_loss(self._passes, images, targets, seeds)
        if abs(measured - val_loss) <= VAL_LOSS_TOLERANCE * max(abs(val_loss), 1e-3):
            return None
        return (f"its own inference pass over the {size_of(images):,} validation examples gives a loss of "
                f"{measured:.4f} where Keras logged val_loss {val_loss:.4f}, so the model's losses are computed in a "
                "way the measurement does not repeat")


def own_loss_computation(model):
    """Why the logged training loss may come from another computation than the measurement repeats, or None: a
    `train_step` of the user's own (adding noise to the inputs, say). A `test_step` or `compute_loss` of one's own
    is checked against val_loss instead."""
    defined = next(klass for klass in type(model).__mro__ if "train_step" in vars(klass))
    if defined.__module__.split(".")[0] == "keras":
        return None
    return (f"the model trains with a train_step of its own ({defined.__name__}.train_step), whose training loss the "
            "measurement cannot repeat")

