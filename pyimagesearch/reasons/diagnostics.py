"""The gap between `loss` and `val_loss`, split at each epoch's end into four parts that add up exactly.

Keras logs `loss` as the running mean over the epoch's batches, measured while the weights change, with dropout on
and batch-norm on each batch's statistics; it measures `val_loss` after the epoch in inference mode. This callback
measures a fixed training sample, with the model frozen as it is at the end of the epoch, three ways, each one step
closer to how `val_loss` is measured, and adds to the epoch's logs (so to H.history):

- `train_end_loss`: as training sees it: dropout on, batch-norm on each batch's statistics, the run's batch size;
- `train_end_nodropout_loss`: the same batches in the same order with the dropout family switched off;
- `train_inference_loss`, `train_inference_accuracy`: in inference mode, exactly as `val_loss` is measured;
- `val_dropout_loss`: the validation set with dropout on and batch-norm on its moving statistics (Géron's number).

so that, every epoch, `val_loss - loss` is the sum of (train_end_loss - loss), the running mean (reason 2);
(train_end_nodropout_loss - train_end_loss), dropout (reason 1); (train_inference_loss - train_end_nodropout_loss),
batch-norm's batch against moving statistics; and (val_loss - train_inference_loss), what is left when both sets
are measured alike. pyimagesearch/reasons/gaps.py does that arithmetic.

Use it on your own compiled model (Sequential, functional or subclassed, any compiled loss):

    model.fit(x, y, validation_data=(x_val, y_val), batch_size=32,
              callbacks=[ReasonDiagnostics((x_sample, y_sample), (x_val, y_val), batch_size=32, seed=0)])

The layers that compute differently in training and that this callback switches are Keras's dropout family
(Dropout, SpatialDropout1D/2D/3D, GaussianDropout, GaussianNoise, AlphaDropout) and BatchNormalization, found
wherever they sit in the model. Other training-only behaviour (a recurrent layer's `dropout=`, augmentation layers,
your own layers' `training` branches) stays on in both `train_end_*` passes and so lands in the batch-norm term.
"""
import contextlib
import time

import keras
import numpy as np

from pyimagesearch.keras_internals import (
    all_layers,
    call_takes_training,
    seed_generators,
    torch_global_generator_forked,
)

# Each of these layers skips its random draw when this attribute is 0 (`if training and self.rate > 0`), which turns
# the layer into the identity in training mode while batch-norm stays on batch statistics. SpatialDropout1D/2D/3D
# subclass Dropout.
DROPOUT_FAMILY = ((keras.layers.Dropout, "rate"), (keras.layers.GaussianDropout, "rate"),
                  (keras.layers.AlphaDropout, "rate"), (keras.layers.GaussianNoise, "stddev"))


def training_sample(count, size, seed=None):
    """Indices of `size` training images drawn once without replacement (0 or more than `count`: all of them)."""
    if size == 0 or size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def dropout_switches(model):
    """[(layer, attribute)] for every dropout-family layer in `model`, nested models included."""
    return [(layer, attribute) for layer in all_layers(model)
            for kind, attribute in DROPOUT_FAMILY if isinstance(layer, kind)]


def batch_normalization_layers(model):
    return [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


@contextlib.contextmanager
def dropout_off(switches):
    """Set every dropout-family layer's rate (or stddev) to 0 for the block, and back afterwards, also on error."""
    saved = [(layer, attribute, getattr(layer, attribute)) for layer, attribute in switches]
    try:
        for layer, attribute, _ in saved:
            setattr(layer, attribute, 0)
        yield
    finally:
        for layer, attribute, value in saved:
            setattr(layer, attribute, value)


@contextlib.contextmanager
def moving_statistics(layers):
    """Batch-norm on its moving statistics even with training=True: Keras documents `trainable = False` on a
    BatchNormalization layer as inference mode. Restores each layer's and each weight's flag afterwards."""
    saved = [(layer, layer.trainable, [(weight, weight.trainable) for weight in layer.weights]) for layer in layers]
    try:
        for layer in layers:
            layer.trainable = False
        yield
    finally:
        for layer, trainable, weights in saved:
            layer.trainable = trainable
            for weight, weight_trainable in weights:
                weight.trainable = weight_trainable


def accuracy_function(targets, predictions):
    """The accuracy Keras picks for `metrics=["accuracy"]` from the shapes (binary, sparse or categorical)."""
    if predictions.shape[-1] == 1:
        return keras.metrics.binary_accuracy
    if len(targets.shape) < len(predictions.shape) or targets.shape[-1] == 1:
        return keras.metrics.sparse_categorical_accuracy
    return keras.metrics.categorical_accuracy


class ReasonDiagnostics(keras.callbacks.Callback):
    """Adds train_end_loss, train_end_nodropout_loss, train_inference_loss, train_inference_accuracy and
    val_dropout_loss to each epoch's logs; `seconds` holds the time each epoch's measurements took."""

    def __init__(self, training_data, validation_data, batch_size=32, seed=None):
        super().__init__()
        self.sample = tuple(training_data)
        self.validation = tuple(validation_data)
        self.batch_size = batch_size
        # our own random numbers for the dropout layers, so that measuring neither draws from nor advances the seed
        # generators that training uses
        self.random = np.random.default_rng(seed)
        self.seconds = []
        self._steps = {}

    def set_model(self, model):
        super().set_model(model)
        self._steps = {}

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "val_loss" not in logs:
            raise ValueError("ReasonDiagnostics needs the epoch's val_loss in the logs: pass validation_data to "
                             "model.fit (and no validation_freq above 1).")
        started = time.perf_counter()
        switches, batch_normalization = dropout_switches(self.model), batch_normalization_layers(self.model)
        logs["train_end_loss"], _ = self.measure(*self.sample, training=True)
        with dropout_off(switches):
            logs["train_end_nodropout_loss"], _ = self.measure(*self.sample, training=True)
        logs["train_inference_loss"], logs["train_inference_accuracy"] = self.measure(*self.sample, training=False)
        with moving_statistics(batch_normalization):
            logs["val_dropout_loss"], _ = self.measure(*self.validation, training=True)
        self.seconds.append(time.perf_counter() - started)

    def measure(self, images, targets, training):
        """(loss, accuracy) of the model as it is now, batch by batch at `batch_size`, averaged over samples the
        way Keras averages its logged loss (each batch weighted by its size); accuracy is NaN for several outputs.

        Each forward pass runs inside keras.StatelessScope, so no weight, batch-norm statistic or seed generator is
        written; the seed generators read our own values, handed to them through the scope's state mapping.
        """
        step = self._step(training)
        seeds = self._fresh_seeds()
        count = len(keras.tree.flatten(images)[0])
        total_loss = total_correct = 0.0
        with torch_global_generator_forked(self.random):
            for start in range(0, count, self.batch_size):
                batch = keras.tree.map_structure(lambda array: array[start:start + self.batch_size], (images, targets))
                loss, correct, seeds = step(*batch, seeds)
                size = len(keras.tree.flatten(batch[0])[0])
                total_loss += float(loss) * size
                total_correct += float(correct)
        return total_loss / count, total_correct / count

    def _seed_states(self):
        return [generator.state for generator in seed_generators(self.model)]

    def _fresh_seeds(self):
        return [keras.ops.convert_to_tensor(np.array([self.random.integers(1, 2**31 - 1), 0]), dtype=state.dtype)
                for state in self._seed_states()]

    def _step(self, training):
        """One batch's loss, correct count and advanced seeds; compiled (tf.function on TensorFlow, jax.jit on JAX).

        A traced function keeps the Python attributes (dropout rates, batch-norm flags) it was traced with, so each
        combination of them gets its own function; Keras's own training and test functions are never retraced.
        """
        key = (training, tuple(getattr(layer, attribute) for layer, attribute in dropout_switches(self.model)),
               tuple(layer.trainable for layer in batch_normalization_layers(self.model)))
        if key not in self._steps:
            def step(images, targets, seeds):
                return self._forward(images, targets, seeds, training)

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                step = tf.function(step, reduce_retracing=True)
            elif keras.backend.backend() == "jax":
                step = self._jax_step(training)
            self._steps[key] = step
        return self._steps[key]

    def _jax_step(self, training):
        """The step compiled with jax.jit, which would bake the weights in as constants if it read them: their
        values go in as arguments instead, mapped onto the variables by the StatelessScope (as Keras's own JAX
        trainer does). Eager, a measurement is thousands of small dispatches, which dominate on a GPU."""
        import jax

        compiled = jax.jit(lambda values, images, targets, seeds:
                           self._forward(images, targets, seeds, training, values))

        def step(images, targets, seeds):
            return compiled([variable.value for variable in self.model.variables], images, targets, seeds)

        return step

    def _forward(self, images, targets, seeds, training, values=()):
        states = self._seed_states()
        # the seeds come last so that they override the seed generators' own values among `values`
        mapping = list(zip(self.model.variables, values)) + list(zip(states, seeds))
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            # as Keras's own train and test steps call it: a model whose call() takes no `training` runs its
            # layers in inference mode even in fit(), and is measured that way here too
            if call_takes_training(self.model):
                predictions = self.model(images, training=training)
            else:
                predictions = self.model(images)
            loss = self.model.compute_loss(x=images, y=targets, y_pred=predictions, training=training)
        if isinstance(predictions, (list, tuple, dict)):
            correct = keras.ops.convert_to_tensor(float("nan"))
        else:
            correct = keras.ops.sum(accuracy_function(targets, predictions)(targets, predictions))
        return loss, correct, [scope.get_current_value(state) for state in states]
