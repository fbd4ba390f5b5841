"""The gap between `loss` and `val_loss`, split at each epoch's end into parts, one per reason, that add up exactly.

Keras logs `loss` as the running mean over the epoch's batches, measured while the weights change, with every
training-only layer acting; it measures `val_loss` after the epoch in inference mode. This callback measures a
fixed training sample with the model frozen as it is at the end of the epoch, first as training sees it, then with
one family of training-only layers after another switched off, in this order, and finally in inference mode:

    family        its layers                                             switched off by
    dropout       Dropout, SpatialDropout1D/2D/3D, GaussianDropout,       setting the rate to 0
                  AlphaDropout; `dropout=` and `recurrent_dropout=` of
                  recurrent cells and attention layers
    noise         GaussianNoise                                          setting stddev to 0
    augmentation  every other Keras layer that draws at random in         calling it as in inference
                  training (RandomFlip, RandomTranslation, RandomCrop     (training=False), as val_loss sees it
                  and the rest of the random preprocessing layers), and
                  any Keras layer that computes otherwise in training
                  (Equalization)
    batch-norm    BatchNormalization                                     its moving statistics, not the batch's
    other         layers of your own whose `training` branch changes     inference mode for the whole model
                  their output (named when training starts)

GaussianDropout and AlphaDropout multiply by random factors, as dropout does, and count as dropout; GaussianNoise
adds noise and is its own family. To each epoch's logs (so to H.history) it adds:

- `train_end_loss`: as training sees it, at the run's batch size;
- `train_end_nodropout_loss`, `train_end_nonoise_loss`, `train_end_noaugmentation_loss`,
  `train_end_nobatchnorm_loss`: the same batches with that family and every family before it switched off;
- `train_inference_loss`: in inference mode, exactly as `val_loss` is measured.

Each term of pyimagesearch/reasons/gaps.py is one measurement minus the one before it, so the terms add up to
`val_loss - loss` exactly, every epoch. A family the model lacks (or whose rates are all 0) costs no pass: its
measurement is the previous one again, and its term exactly 0. Every pass of an epoch starts from the same random
draw (one per epoch, from the callback's own seed), so a term compares like with like.

Use it on your own compiled model (Sequential, functional or subclassed, nested, any compiled loss):

    model.fit(x, y, validation_data=(x_val, y_val), batch_size=32,
              callbacks=[ReasonDiagnostics((x_sample, y_sample), (x_val, y_val), batch_size=32, seed=0)])
"""
import contextlib
import time
from typing import NamedTuple

import keras
import numpy as np

from .measurements import (
    AS_TRAINING_SEES_IT,
    FAMILIES,
    MEASUREMENT_WITHOUT,
)
from ..keras_internals import (
    all_layers,
    call_replaced,
    call_takes_training,
    calls_replaced,
    own_seed_generators,
    seed_generators,
    torch_global_generator_forked,
)

# Each of these skips its random draw when the attribute is 0 (`if training and self.rate > 0`), which makes the
# layer the identity in training mode while every other layer stays as it is. SpatialDropout1D/2D/3D subclass
# Dropout.
DROPOUT_LAYERS = ((keras.layers.Dropout, "rate"), (keras.layers.GaussianDropout, "rate"),
                  (keras.layers.AlphaDropout, "rate"))
NOISE_LAYERS = ((keras.layers.GaussianNoise, "stddev"),)
# Keras's recurrent cells (SimpleRNNCell, LSTMCell, GRUCell, ConvLSTM's) and Attention/AdditiveAttention read these
# at each call, and drop nothing when they are 0
DROPOUT_ATTRIBUTES = ("dropout", "recurrent_dropout")



def training_sample(count, size, seed=None):
    """Indices of `size` training images drawn once without replacement (0 or more than `count`: all of them)."""
    if size == 0 or size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def is_keras_layer(layer):
    """A layer of Keras's own classes, not one of the user's (whose `training` branches are unknown)."""
    return type(layer).__module__.split(".")[0] == "keras"


class TrainingOnlyLayers(NamedTuple):
    """The layers of a model that act in training only, by family. `dropout` and `noise` hold (layer, attribute)
    pairs."""
    dropout: list
    noise: list
    augmentation: list
    batch_normalization: list
    other: list

    def active(self, family):
        """Whether the family acts in this model now: a rate (or stddev) above 0, or any layer of it."""
        if family in ("dropout", "noise"):
            return any(getattr(layer, attribute) for layer, attribute in getattr(self, family))
        return bool(getattr(self, "batch_normalization" if family == "batch-norm" else family))

    def switched_off(self, family):
        """A context manager that switches the family off for the block and back on after it, also on error."""
        if family in ("dropout", "noise"):
            return attributes_zero(getattr(self, family))
        if family == "augmentation":
            return called_in_inference(self.augmentation)
        if family == "batch-norm":
            return moving_statistics(self.batch_normalization)
        raise ValueError(f"{family!r} cannot be switched off layer by layer; inference mode switches it off")

    def switched(self):
        """The ids of the layers the families switch from outside (all but `other`)."""
        return {id(layer) for layer, _ in self.dropout + self.noise} | {
            id(layer) for layer in self.augmentation + self.batch_normalization}

    def state(self):
        """Every switch's current setting: what a traced measuring step depends on beyond its arguments."""
        return (tuple(getattr(layer, attribute) for layer, attribute in self.dropout + self.noise),
                tuple(call_replaced(layer) for layer in self.augmentation),
                tuple(layer.trainable for layer in self.batch_normalization))


def dropout_attributes(layer):
    """The attributes that switch `layer`'s dropout off at 0: `rate` for the dropout layers, `dropout` and
    `recurrent_dropout` where a Keras layer keeps them as numbers of its own (a recurrent layer reads its cell's)."""
    kinds = [attribute for kind, attribute in DROPOUT_LAYERS if isinstance(layer, kind)]
    if kinds or not is_keras_layer(layer):
        return kinds[:1]
    return [attribute for attribute in DROPOUT_ATTRIBUTES
            if isinstance(vars(layer).get(attribute), (int, float)) and not isinstance(vars(layer)[attribute], bool)]


# Keras layers that run code of the user's, whose training branches are the user's
WRAPPERS = (keras.layers.TFSMLayer, keras.layers.JaxLayer, keras.layers.FlaxLayer, keras.layers.TorchModuleWrapper)


def training_only_layers(model, images=None):
    """The model's layers that act in training only, found wherever they sit, by family.

    Augmentation is every Keras layer outside the dropout and noise families that holds a seed generator of its
    own (a layer that draws at random), and, given `images` to call the model on, every other Keras layer whose
    output changes in training mode (Equalization, which Keras applies in training only); deterministic
    preprocessing such as Rescaling, Resizing, CenterCrop or AutoContrast computes alike in both modes and is none.
    Given `images`, `other` holds the user's layers whose output changes in training mode by a branch of their own
    (see find_own_training_branches). A model whose call() takes no `training` runs every layer in inference mode
    even in fit(), so nothing in it acts in training only.
    """
    if not call_takes_training(model):
        return TrainingOnlyLayers([], [], [], [], [])
    layers = all_layers(model)
    dropout = [(layer, attribute) for layer in layers for attribute in dropout_attributes(layer)]
    noise = [(layer, attribute) for layer in layers for kind, attribute in NOISE_LAYERS if isinstance(layer, kind)]
    batch_normalization = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    found = TrainingOnlyLayers(dropout, noise, [], batch_normalization, [])
    switched = found.switched()
    found = found._replace(augmentation=[layer for layer in layers if is_keras_layer(layer)
                                         and own_seed_generators(layer) and id(layer) not in switched])
    if images is None:
        return found
    branches = find_own_training_branches(model, found, images)
    keras_own = [layer for layer in branches if is_keras_layer(layer) and not isinstance(layer, WRAPPERS)]
    return found._replace(augmentation=found.augmentation + keras_own,
                          other=[layer for layer in branches if not any(layer is own for own in keras_own)])


@contextlib.contextmanager
def attributes_zero(switches):
    """Set each (layer, attribute) to 0 for the block, and back afterwards, also on error."""
    saved = [(layer, attribute, getattr(layer, attribute)) for layer, attribute in switches]
    try:
        for layer, attribute, _ in saved:
            setattr(layer, attribute, 0)
        yield
    finally:
        for layer, attribute, value in saved:
            setattr(layer, attribute, value)


def called_in_inference(layers):
    """Each layer computes as in inference (training=False) for the block, whatever mode the model runs in."""
    def in_inference(call):
        return lambda *arguments, **keywords: call(*arguments, **{**keywords, "training": False})

    return calls_replaced([(layer, in_inference) for layer in layers])


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


def find_own_training_branches(model, found, images, seed=0):
    """The layers, among those not in `found`, whose output in training mode differs from their output in inference
    mode with every family in `found` switched off: a `training` branch of their own (a container whose only
    training-only behaviour lies in switched layers has none). Each candidate is called both ways on the inputs it
    gets in one training-mode forward pass of `images`, with every other candidate in inference mode, so that a
    container is not blamed for what a layer inside it does; nothing is written."""
    switched = found.switched()
    candidates = [layer for layer in all_layers(model) if call_takes_training(layer) and id(layer) not in switched]
    differs = {}

    def probing(layer):
        def probe(call):
            def both_ways(*arguments, **keywords):
                inference = call(*arguments, **{**keywords, "training": False})
                if id(layer) not in differs:
                    training = call(*arguments, **{**keywords, "training": True})
                    differs[id(layer)] = any(
                        not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                        for a, b in zip(keras.tree.flatten(training), keras.tree.flatten(inference)))
                return inference
            return both_ways
        return probe

    with contextlib.ExitStack() as stack:
        for family in FAMILIES[:-1]:
            stack.enter_context(found.switched_off(family))
        stack.enter_context(calls_replaced([(layer, probing(layer)) for layer in candidates]))
        stack.enter_context(torch_global_generator_forked(np.random.default_rng(seed)))
        stack.enter_context(keras.StatelessScope())
        model(images, training=True)
    return [layer for layer in candidates if differs.get(id(layer))]


def accuracy_function(targets, predictions):
    """The accuracy Keras picks for `metrics=["accuracy"]` from the shapes (binary, sparse or categorical)."""
    if predictions.shape[-1] == 1:
        return keras.metrics.binary_accuracy
    if len(targets.shape) < len(predictions.shape) or targets.shape[-1] == 1:
        return keras.metrics.sparse_categorical_accuracy
    return keras.metrics.categorical_accuracy


class ReasonDiagnostics(keras.callbacks.Callback):
    """Adds train_end_loss, one train_end_no<family>_loss per family and train_inference_loss to each epoch's logs. `seconds` holds the time each epoch's
    measurements took and `training_seconds` the time its training and validation took before them; `seeds`, the
    seed-generator states every pass of the last epoch started from."""

    def __init__(self, training_data, validation_data, batch_size=32, seed=None):
        """`training_data` and `validation_data` are (inputs, targets), or functions that return them when first needed,
        at the end of the first epoch (for data read from the batches training takes)."""
        super().__init__()
        self._sample, self._validation = training_data, validation_data
        self.batch_size = batch_size
        # our own random numbers for the random layers, so that measuring neither draws from nor advances the seed
        # generators that training uses; each epoch's drawn from the seed and the epoch alone, so that a resumed run
        # measures as the run would have without a stop
        self.seed = seed
        self.seconds, self.training_seconds = [], []
        self.seeds = None
        self._steps, self._found, self._epoch_started = {}, None, None

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

    def set_model(self, model):
        super().set_model(model)
        self._steps, self._found = {}, None

    def on_train_begin(self, logs=None):
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
            if found.other:
                named = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in found.other)
                print(f'[INFO] diagnostics: layers with a training branch of their own, measured together as "other '
                      f'training-only layers": {named}')
            self._found = found
        return self._found

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "val_loss" not in logs:
            raise ValueError("ReasonDiagnostics needs the epoch's val_loss in the logs: pass validation_data to "
                             "model.fit (and no validation_freq above 1).")
        started = time.perf_counter()
        if self._epoch_started is not None:
            self.training_seconds.append(started - self._epoch_started)
        found = self.training_only_layers()
        self.seeds = self._fresh_seeds(epoch)
        active = [family for family in FAMILIES if found.active(family)]
        with contextlib.ExitStack() as switched:
            # with nothing active, training mode computes what inference mode does: one pass serves for all
            loss, accuracy = self.measure(*self.sample, training=bool(active))
            logs[AS_TRAINING_SEES_IT] = loss
            for family in FAMILIES:
                if family in active:
                    # the last active family's pass is inference mode itself, as val_loss is measured
                    last = family == active[-1]
                    if not last:
                        switched.enter_context(found.switched_off(family))
                    loss, accuracy = self.measure(*self.sample, training=not last)
                logs[MEASUREMENT_WITHOUT[family]] = loss
        self.seconds.append(time.perf_counter() - started)

    def measure(self, images, targets, training):
        """(loss, accuracy) of the model as it is now, batch by batch at `batch_size`, averaged over samples the
        way Keras averages its logged loss (each batch weighted by its size); accuracy is NaN for several outputs.

        Each forward pass runs inside keras.StatelessScope, so no weight, batch-norm statistic or seed generator is
        written; the seed generators start from this epoch's `seeds`, handed to them through the scope's state
        mapping.
        """
        if self.seeds is None:
            self.seeds = self._fresh_seeds(0)
        step = self._step(training)
        seeds, torch_seed = self.seeds
        count = len(keras.tree.flatten(images)[0])
        total_loss = total_correct = 0.0
        with torch_global_generator_forked(np.random.default_rng(torch_seed)):
            for start in range(0, count, self.batch_size):
                batch = keras.tree.map_structure(lambda array: array[start:start + self.batch_size], (images, targets))
                loss, correct, seeds = step(*batch, seeds)
                size = len(keras.tree.flatten(batch[0])[0])
                total_loss += float(loss) * size
                total_correct += float(correct)
        return total_loss / count, total_correct / count

    def _seed_states(self):
        return [generator.state for generator in seed_generators(self.model)]

    def _fresh_seeds(self, epoch):
        """One draw for an epoch's passes: a state for each seed generator, and a seed for torch's generator; from
        the seed and the epoch (fresh entropy without a seed)."""
        random = np.random.default_rng(None if self.seed is None else [self.seed, epoch])
        states = [keras.ops.convert_to_tensor(np.array([random.integers(1, 2**31 - 1), 0]), dtype=state.dtype)
                  for state in self._seed_states()]
        return states, int(random.integers(1, 2**31 - 1))

    def _step(self, training):
        """One batch's loss, correct count and advanced seeds; compiled (tf.function on TensorFlow, jax.jit on JAX).

        A traced function keeps the Python attributes (rates, batch-norm flags, calls in inference) it was traced
        with, so each setting of the switches gets its own function; Keras's own training and test functions are
        never retraced.
        """
        key = (training, self.training_only_layers().state())
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
