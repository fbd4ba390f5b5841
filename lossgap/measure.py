"""Measuring the gap's terms on a model frozen as it is: forward passes only, that change nothing of the model's.

Each epoch, a fixed training sample is measured first as training sees it, then with one family of training-only
layers after another switched off (lossgap/families.py), and last in inference mode, exactly as `val_loss` is
measured. The passes run inside `keras.StatelessScope`, so no weight, batch-norm statistic or seed generator is
written, with random draws of the measurement's own: every pass of an epoch starts the seed generators from the same
states, drawn from the seed and the epoch alone, so that a term compares the same dropout masks and augmentations
with and without its family. State a model keeps outside Keras's variables (a plain `tf.Variable`, a torch buffer, a
number attribute of a layer of the user's) is put back after each pass.

The passes in training mode go at the run's batch size, since batch-norm's batch statistics depend on it; the pass
in inference mode goes in chunks of up to 256 examples (its result does not depend on the batch; smaller chunks where
the sample would give fewer than 20), and every standard error is taken over chunks of that size. The batches go
through the compiled step many at a time (a loop inside the step, up to GROUP_BYTES of inputs a call), since one call
a batch costs more than a small model's forward pass.
"""
import contextlib
import functools
from typing import NamedTuple

import keras
import numpy as np

from .families import AS_TRAINING_SEES_IT, FAMILIES
from .gaps import ERROR_KEYS, PENALTY, TERMS
from .keras_internals import all_layers, call_takes_training, seed_generators, torch_global_generator_forked

INFERENCE_CHUNK = 256  # examples at most, in a multiple of the batch size
CHUNKS = 20            # at least, where the sample allows, for the standard errors
GROUP_BYTES = 2**26    # inputs a compiled call takes at most, as many whole batches as fit (at least one)


def training_sample(count, size, seed=None):
    """Indices of `size` training examples drawn once without replacement (0 or more than `count`: all of them)."""
    if size == 0 or size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def size_of(structure):
    return len(keras.tree.flatten(structure)[0])


def epoch_seeds(model, seed, epoch):
    """The random draw every pass of an epoch starts from: a state for each of the model's seed generators and a
    seed for torch's global generator, from `seed` and `epoch` alone (fresh entropy without a seed)."""
    random = np.random.default_rng(None if seed is None else [seed, epoch])
    states = [keras.ops.convert_to_tensor(np.array([random.integers(1, 2**31 - 1), 0]), dtype=generator.state.dtype)
              for generator in seed_generators(model)]
    return states, int(random.integers(1, 2**31 - 1))


@contextlib.contextmanager
def state_kept(model):
    """Put back, after the block, what a model's call() may write outside Keras's variables, which StatelessScope
    does not see: plain tf.Variables held by its layers, torch buffers, and number attributes of the user's layers
    (a call counter, say)."""
    from .families import is_keras_layer

    layers = all_layers(model)
    keras_variables = {id(variable) for variable in model.variables}
    saved_variables, saved_numbers = [], []
    tf_variable = torch_tensor = ()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf_variable = tf.Variable
    elif keras.backend.backend() == "torch":
        import torch

        torch_tensor = torch.Tensor
    for layer in layers:
        for value in _held(vars(layer)):
            if tf_variable and isinstance(value, tf_variable) and id(value) not in keras_variables:
                saved_variables.append((value, value.numpy()))
        if torch_tensor and hasattr(layer, "named_buffers"):
            saved_variables += [(buffer, buffer.detach().clone()) for _, buffer in layer.named_buffers(recurse=False)]
        if not is_keras_layer(layer):
            saved_numbers += [(layer, name, value) for name, value in vars(layer).items()
                              if type(value) in (int, float, bool)]
    try:
        yield
    finally:
        for variable, value in saved_variables:
            if torch_tensor and isinstance(variable, torch_tensor):
                with torch.no_grad():
                    variable.copy_(value)
            else:
                variable.assign(value)
        for layer, name, value in saved_numbers:
            vars(layer)[name] = value


def _held(attributes, depth=0):
    """The values in a layer's attributes, looking into lists, tuples and dicts (not into other objects)."""
    for value in attributes.values() if isinstance(attributes, dict) else attributes:
        yield value
        if isinstance(value, (list, tuple, dict)) and depth < 3:
            yield from _held(value, depth + 1)


class Passes:
    """Forward passes of a compiled model over arrays, as it is now: per chunk of examples, the mean loss (as Keras
    computes it, penalties included) and the mean penalty, with the seed generators mapped onto the epoch's draw.

    The step is compiled (tf.function on TensorFlow, jax.jit on JAX) once per setting of the switches, since a traced
    function keeps the Python attributes (rates, batch-norm flags, calls in inference) it was traced with; Keras's
    own training and test functions are never retraced."""

    def __init__(self, model, batch_size):
        self.model, self.batch_size = model, batch_size
        self.chunk = batch_size * -(-INFERENCE_CHUNK // batch_size)
        self._steps = {}

    def chunk_for(self, count):
        """The chunk for a sample of `count` examples: INFERENCE_CHUNK, or smaller (down to one batch) where that
        would leave fewer than CHUNKS chunks to take a standard error over."""
        batches = max(1, min(self.chunk, count // CHUNKS) // self.batch_size)
        return self.batch_size * batches

    def run(self, images, targets, training, seeds, found=None, settings=((),)):
        """Per setting, (chunk means of the loss, chunk means of the penalty), and the chunk sizes, over the arrays.
        A setting is the families `found` holds that are switched off for its pass; the passes of all the settings
        go in one compiled call per batch (where there are cores to spare, they run side by side), each with the
        seed generators starting from `seeds`."""
        step = self._step(training, found, settings)
        states, torch_seed = seeds
        count = size_of(images)
        chunk = self.chunk_for(count)
        batch = self.batch_size if training else chunk
        example_bytes = sum(np.asarray(array[:1]).nbytes for array in keras.tree.flatten((images, targets)))
        per_call = max(1, GROUP_BYTES // max(1, example_bytes * batch))
        losses, penalties, sizes = [], [], []
        threaded = [states] * len(settings)
        with state_kept(self.model), torch_global_generator_forked(np.random.default_rng(torch_seed)):
            for start, batches, size in batch_groups(count, batch, per_call):
                part = keras.tree.map_structure(
                    lambda array: array[start:start + batches * size].reshape(batches, size, *array.shape[1:]),
                    (images, targets))
                group_losses, group_penalties, threaded = step(*part, threaded)
                losses.append(np.asarray(keras.ops.convert_to_numpy(group_losses), dtype=np.float64))
                penalties.append(np.asarray(keras.ops.convert_to_numpy(group_penalties), dtype=np.float64))
                sizes += [size] * batches
        sizes = np.array(sizes)
        losses, penalties = np.concatenate(losses, axis=1), np.concatenate(penalties, axis=1)
        results = [(chunked(losses[index], sizes, chunk), chunked(penalties[index], sizes, chunk))
                   for index in range(len(settings))]
        return results, chunk_sizes(sizes, chunk)

    def _step(self, training, found, settings):
        key = (training, found.state() if found is not None else (),
               tuple(tuple(family.name for family in setting) for setting in settings))
        if key not in self._steps:
            forward = functools.partial(self._forward_batches, training=training, found=found, settings=settings)
            backend = keras.backend.backend()
            if backend == "tensorflow":
                # a partial, not a lambda: TensorFlow counts the traces of one code object together, and would warn
                # of retracing where each setting of the switches is traced once
                step = _traced_once(forward)
            elif backend == "jax":
                step = self._jax_step(forward)
            else:
                step = forward
            self._steps[key] = step
        return self._steps[key]

    def _jax_step(self, forward):
        """jax.jit would bake the weights in as constants if the step read them: their values go in as arguments
        instead, mapped onto the variables by the StatelessScope (as Keras's own JAX trainer does). Eager, a
        measurement is thousands of small dispatches, which dominate on a GPU."""
        import jax

        compiled = jax.jit(lambda values, images, targets, seeds: forward(images, targets, seeds, values=values))

        def step(images, targets, seeds):
            return compiled([variable.value for variable in self.model.variables], images, targets, seeds)

        return step

    def _forward_batches(self, images, targets, seeds, training, found, settings, values=None):
        """_forward_all over a group of batches (the arrays' first axis), the seed states threaded from one batch to
        the next; (losses, penalties) as float32 arrays of (settings, batches), and the seed states after the last."""
        def body(batch_images, batch_targets, batch_seeds):
            losses, penalties, advanced = self._forward_all(batch_images, batch_targets, batch_seeds, training, found,
                                                            settings, values)
            as_array = lambda tensors: keras.ops.stack([keras.ops.cast(tensor, "float32") for tensor in tensors])
            return as_array(losses), as_array(penalties), advanced

        backend = keras.backend.backend()
        if backend == "tensorflow":
            return _tf_loop(body, images, targets, seeds)
        if backend == "jax":
            import jax

            def scanned(carry, batch):
                losses, penalties, advanced = body(*batch, carry)
                return advanced, (losses, penalties)

            advanced, (losses, penalties) = jax.lax.scan(scanned, seeds, (images, targets))
            return losses.T, penalties.T, advanced
        losses, penalties = [], []
        for index in range(size_of(images)):  # eager (PyTorch): a loop of Python's
            batch = keras.tree.map_structure(lambda array: array[index], (images, targets))
            batch_losses, batch_penalties, seeds = body(*batch, seeds)
            losses.append(batch_losses)
            penalties.append(batch_penalties)
        return keras.ops.stack(losses, axis=1), keras.ops.stack(penalties, axis=1), seeds

    def _forward_all(self, images, targets, seeds, training, found, settings, values=None):
        """Each setting's pass over one batch: its families switched off while it is computed (so that a traced step
        holds every setting), each from its own seed states; (losses, penalties, advanced seed states)."""
        losses, penalties, advanced = [], [], []
        for setting, setting_seeds in zip(settings, seeds):
            back = _as_python(_switch_off)(found, setting)
            try:
                loss, penalty, states = self._forward(images, targets, setting_seeds, training, values)
            finally:
                _as_python(back)()
            losses.append(loss)
            penalties.append(penalty)
            advanced.append(states)
        return losses, penalties, advanced

    def _forward(self, images, targets, seeds, training, values=None):
        model = self.model
        states = [generator.state for generator in seed_generators(model)]
        if values is None:  # every variable mapped, so that weight penalties read their values inside the scope
            values = [variable.value for variable in model.variables]
        # the seeds come last so that they override the seed generators' own values among `values`
        mapping = list(zip(model.variables, values)) + list(zip(states, seeds))
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            # as Keras's own train and test steps call it: a model whose call() takes no `training` runs its
            # layers in inference mode even in fit(), and is measured that way here too
            predictions = model(images, training=training) if call_takes_training(model) else model(images)
            loss = model.compute_loss(x=images, y=targets, y_pred=predictions, **self._training_argument(training))
            penalties = [keras.ops.cast(penalty, loss.dtype) for penalty in model.losses]
            penalty = keras.ops.sum(keras.ops.stack(penalties)) if penalties else keras.ops.zeros((), loss.dtype)
        return loss, penalty, [scope.get_current_value(state) for state in states]

    def _training_argument(self, training):
        """compute_loss's `training`, where it takes one (a compute_loss of the user's may not)."""
        import inspect

        return {"training": training} if "training" in inspect.signature(self.model.compute_loss).parameters else {}


def _switch_off(found, setting):
    """Switch the setting's families off; returns what switches them back on."""
    undo = [found.switch_off(family) for family in setting]

    def back():
        for step in reversed(undo):
            step()

    return back


def _as_python(function):
    """`function`, kept as Python where TensorFlow traces the step: AutoGraph would take contextlib's context managers
    apart; the model's own call is still converted as Keras's own steps convert it."""
    if keras.backend.backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(function)


def _tf_loop(body, images, targets, seeds):
    """body over the batches (the arrays' first axis) as a loop inside TensorFlow's graph; see _forward_batches."""
    import tensorflow as tf

    count = tf.shape(tf.nest.flatten(images)[0])[0]

    def one_batch(index, seeds, losses, penalties):
        batch = tf.nest.map_structure(lambda array: array[index], (images, targets))
        batch_losses, batch_penalties, seeds = body(*batch, seeds)
        return index + 1, seeds, losses.write(index, batch_losses), penalties.write(index, batch_penalties)

    losses, penalties = (tf.TensorArray(tf.float32, size=count) for _ in range(2))
    _, seeds, losses, penalties = tf.while_loop(lambda index, *_: index < count, one_batch,
                                                (tf.constant(0), seeds, losses, penalties))
    return tf.transpose(losses.stack()), tf.transpose(penalties.stack()), seeds


def batch_groups(count, batch, per_call):
    """(start, batches, batch size) of the groups `count` examples go through the step in: whole batches of `batch`,
    `per_call` at most a group, then the remainder as a group of one smaller batch."""
    whole = count // batch
    for first in range(0, whole, per_call):
        yield first * batch, min(per_call, whole - first), batch
    if count % batch:
        yield whole * batch, 1, count % batch


def _traced_once(function):
    """`function` as a tf.function traced once, for any number of batches of any size: its signature, taken from the
    first call, leaves the groups' first two axes open (the last batch, the validation data and the sample differ in
    them)."""
    import tensorflow as tf

    traced = None

    def spec(value, open_batch):
        value = tf.convert_to_tensor(value)
        return tf.TensorSpec([None, None, *value.shape[2:]] if open_batch else value.shape, value.dtype)

    def step(images, targets, seeds):
        nonlocal traced
        if traced is None:
            signature = [tf.nest.map_structure(lambda value: spec(value, True), images),
                         tf.nest.map_structure(lambda value: spec(value, True), targets),
                         tf.nest.map_structure(lambda value: spec(value, False), seeds)]
            traced = tf.function(function, input_signature=signature)
        return traced(images, targets, seeds)

    return step


def chunk_sizes(sizes, chunk):
    starts = np.cumsum(sizes) - sizes
    return np.bincount(starts // chunk, weights=sizes).astype(int)


def chunked(values, sizes, chunk):
    """Means per chunk of `chunk` examples of per-batch means `values` of batches of `sizes`."""
    starts = np.cumsum(sizes) - sizes
    groups = starts // chunk
    return np.bincount(groups, weights=values * sizes) / np.bincount(groups, weights=sizes)


class EpochMeasurement(NamedTuple):
    values: dict     # history key -> the measurement
    errors: dict     # ERROR_KEYS' key -> the term's standard error
    penalty: float   # what penalties add to the loss in inference mode (train_inference_penalty)


def measure_epoch(passes, found, images, targets, seeds):
    """The measurements of one epoch, with each term's standard error: the sample as training sees it, then with
    each family present switched off in turn (these passes in one compiled call per batch), the last in inference
    mode; a family the model lacks costs no pass (its measurement is the one before it again, its term exactly 0)."""
    active = [family for family in FAMILIES if found.active(family)]
    # in training mode: nothing switched off, then the families before the last one present, one more each time
    settings = [tuple(active[:count]) for count in range(len(active))]
    in_training, sizes = passes.run(images, targets, True, seeds, found, settings) if active else ([], None)
    # inference mode, as val_loss is measured: every family off (with nothing present, what training mode gives too)
    [(inference, penalties)], sizes = passes.run(images, targets, False, seeds)
    measured = [means for means, _ in in_training] + [inference]
    chunks, previous = {AS_TRAINING_SEES_IT: measured[0]}, AS_TRAINING_SEES_IT
    for family in FAMILIES:
        chunks[family.key] = measured[active.index(family) + 1] if family in active else chunks[previous]
        previous = family.key
    values = {key: float(np.average(means, weights=sizes)) for key, means in chunks.items()}
    errors = {}
    for term in TERMS:
        if term.earlier == "loss":  # running mean: the logged loss is exact, the sample's mean is not
            difference = chunks[term.later]
        elif term.later == "val_loss":  # generalization: the validation loss is exact
            difference = chunks[term.earlier]
        else:  # a family's: the same chunks with and without it
            difference = chunks[term.later] - chunks[term.earlier]
        errors[ERROR_KEYS[term.id]] = standard_error(difference, sizes)
    return EpochMeasurement(values, errors, float(np.average(penalties, weights=sizes)))


def standard_error(values, sizes):
    """The standard error of the size-weighted mean of per-chunk values (0 for a single chunk or none that vary)."""
    if len(values) < 2:
        return 0.0
    mean = np.average(values, weights=sizes)
    variance = np.average((values - mean) ** 2, weights=sizes) * len(values) / (len(values) - 1)
    return float(np.sqrt(variance / len(values)))


def inference_loss(passes, images, targets, seeds):
    """The model's loss on arrays in inference mode, as measured here, for checking it against Keras's val_loss."""
    [(means, _)], sizes = passes.run(images, targets, False, seeds)
    return float(np.average(means, weights=sizes))

