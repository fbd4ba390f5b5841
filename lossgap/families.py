"""The layers that act in training only, by family, each family in one record: its name, its label, the history key of
the measurement taken once it (and every family before it) is switched off, how its layers are found and how they
are switched off.

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
                  their output

GaussianDropout and AlphaDropout multiply by random factors, as dropout does, and count as dropout; GaussianNoise
adds noise and is its own family. Keras is imported by the functions that need it only, so that reading a history
(plot_shift.py, the docs) does not load it.
"""
import contextlib
from typing import Callable, NamedTuple, Optional

# the training sample as training sees it, at the end of the epoch
AS_TRAINING_SEES_IT = "train_end_loss"
# training examples in the sample unless told otherwise: few enough that measuring costs under a tenth of a default
# epoch of fashion_mnist.py, and each term's standard error is kept to say what it can tell (docs/reasons.md, cost)
SAMPLE_SIZE = 5000


class Family(NamedTuple):
    name: str
    label: str          # its term, as tables, figures and the answer in words name it
    key: str            # the measurement once this family and every family before it are switched off
    find: Optional[Callable]        # layer -> the switches it holds (found by trying for `augmentation`, `other`)
    switch_off: Optional[Callable]  # switches -> what switches them back on; None: only inference mode does
    reason: str = "reason 1"        # the post's reason it belongs to, "" for none


def dropout_switches(layer):
    """(layer, attribute) pairs that switch `layer`'s dropout off at 0: `rate` for the dropout layers, `dropout` and
    `recurrent_dropout` where a Keras layer keeps them as numbers of its own (a recurrent layer reads its cell's).
    Each layer skips its random draw when the attribute is 0 (`if training and self.rate > 0`), which makes it the
    identity in training mode while every other layer stays as it is."""
    import keras

    if isinstance(layer, (keras.layers.Dropout, keras.layers.GaussianDropout, keras.layers.AlphaDropout)):
        return [(layer, "rate")]  # SpatialDropout1D/2D/3D subclass Dropout
    if not is_keras_layer(layer):
        return []
    return [(layer, attribute) for attribute in ("dropout", "recurrent_dropout")
            if isinstance(vars(layer).get(attribute), (int, float)) and not isinstance(vars(layer)[attribute], bool)]


def noise_switches(layer):
    import keras

    return [(layer, "stddev")] if isinstance(layer, keras.layers.GaussianNoise) else []


def batch_norm_switches(layer):
    import keras

    return [layer] if isinstance(layer, keras.layers.BatchNormalization) else []


def zero_attributes(switches):
    """Set each (layer, attribute) to 0; returns what sets them back."""
    saved = [(layer, attribute, getattr(layer, attribute)) for layer, attribute in switches]
    for layer, attribute, _ in saved:
        setattr(layer, attribute, 0)

    def back():
        for layer, attribute, value in saved:
            setattr(layer, attribute, value)

    return back


def call_in_inference(layers):
    """Make each layer compute as in inference (training=False), whatever mode the model runs in; returns what
    undoes it."""
    from .keras_internals import replace_calls

    def in_inference(call):
        return lambda *arguments, **keywords: call(*arguments, **{**keywords, "training": False})

    return replace_calls([(layer, in_inference) for layer in layers])


def use_moving_statistics(layers):
    """Batch-norm on its moving statistics even with training=True: Keras documents `trainable = False` on a
    BatchNormalization layer as inference mode. Returns what puts back each layer's and each weight's flag."""
    saved = [(layer, layer.trainable, [(weight, weight.trainable) for weight in layer.weights]) for layer in layers]
    for layer in layers:
        layer.trainable = False

    def back():
        for layer, trainable, weights in saved:
            layer.trainable = trainable
            for weight, weight_trainable in weights:
                weight.trainable = weight_trainable

    return back


@contextlib.contextmanager
def until_exit(back):
    """A block at whose end, also on error, `back()` undoes a switch made before it: `with until_exit(switch(...)):`
    for any of the switches above, or keras_internals.replace_calls."""
    try:
        yield
    finally:
        back()


# switched off one after another in this order; the last present is measured in inference mode itself
FAMILIES = (
    Family("dropout", "dropout (reason 1)", "train_end_nodropout_loss", dropout_switches, zero_attributes),
    Family("noise", "GaussianNoise (reason 1)", "train_end_nonoise_loss", noise_switches, zero_attributes),
    Family("augmentation", "augmentation (reason 1)", "train_end_noaugmentation_loss", None, call_in_inference),
    Family("batch-norm", "batch-norm statistics", "train_end_nobatchnorm_loss", batch_norm_switches,
           use_moving_statistics, reason=""),
    Family("other", "other training-only layers", "train_inference_loss", None, None, reason=""),
)
BY_NAME = {family.name: family for family in FAMILIES}
# the training sample in inference mode, exactly as val_loss is measured
IN_INFERENCE = FAMILIES[-1].key
# what --diagnostics adds to the history, in the order it measures them
DIAGNOSTIC_KEYS = (AS_TRAINING_SEES_IT, *(family.key for family in FAMILIES))


def is_keras_layer(layer):
    """A layer of Keras's own classes, not one of the user's (whose `training` branches are unknown)."""
    return type(layer).__module__.split(".")[0] == "keras"


# Keras layers that run code of the user's, whose training branches are the user's
def wrapper_layers():
    import keras

    return (keras.layers.TFSMLayer, keras.layers.JaxLayer, keras.layers.FlaxLayer, keras.layers.TorchModuleWrapper)


class TrainingOnlyLayers(NamedTuple):
    """The switches of a model's training-only layers, by family name: (layer, attribute) pairs for dropout and
    noise, layers for the others."""
    switches: dict

    def active(self, family):
        """Whether the family acts in this model now: a rate (or stddev) above 0, or any layer of it."""
        found = self.switches[family.name]
        if family.switch_off is zero_attributes:
            return any(getattr(layer, attribute) for layer, attribute in found)
        return bool(found)

    def switch_off(self, family):
        """Switch the family off now; returns what switches it back on."""
        if family.switch_off is None:
            raise ValueError(f"{family.name!r} cannot be switched off layer by layer; inference mode switches it off")
        return family.switch_off(self.switches[family.name])

    def switched_off(self, family):
        """A context manager that switches the family off for the block and back on after it, also on error."""
        return until_exit(self.switch_off(family))

    def layers(self, family):
        return [switch[0] if isinstance(switch, tuple) else switch for switch in self.switches[family.name]]

    def switched(self):
        """The ids of the layers the families switch from outside (all but `other`)."""
        return {id(layer) for family in FAMILIES if family.switch_off is not None for layer in self.layers(family)}

    def state(self):
        """Every switch's current setting: what a traced measuring step depends on beyond its arguments."""
        from .keras_internals import call_replaced

        return tuple((tuple(getattr(layer, attribute) for layer, attribute in self.switches[family.name])
                      if family.switch_off is zero_attributes else
                      tuple(call_replaced(layer) if family.switch_off is call_in_inference else layer.trainable
                            for layer in self.switches[family.name]))
                     for family in FAMILIES if family.switch_off is not None)


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
    from .keras_internals import all_layers, call_takes_training, own_seed_generators

    switches = {family.name: [] for family in FAMILIES}
    if not call_takes_training(model):
        return TrainingOnlyLayers(switches)
    layers = all_layers(model)
    for family in FAMILIES:
        if family.find is not None:
            switches[family.name] = [switch for layer in layers for switch in family.find(layer)]
    found = TrainingOnlyLayers(switches)
    switched = found.switched()
    switches["augmentation"] = [layer for layer in layers if is_keras_layer(layer) and own_seed_generators(layer)
                                and id(layer) not in switched]
    if images is None:
        return found
    branches = find_own_training_branches(model, found, images)
    keras_own = [layer for layer in branches if is_keras_layer(layer) and not isinstance(layer, wrapper_layers())]
    switches["augmentation"] += keras_own
    switches["other"] = [layer for layer in branches if not any(layer is own for own in keras_own)]
    return found


def find_own_training_branches(model, found, images, seed=0):
    """The layers, among those not in `found`, whose output in training mode differs from their output in inference
    mode with every family in `found` switched off: a `training` branch of their own (a container whose only
    training-only behaviour lies in switched layers has none). Each candidate is called both ways on the inputs it
    gets in one training-mode forward pass of `images`, with every other candidate in inference mode, so that a
    container is not blamed for what a layer inside it does; nothing is written (state_kept puts back what Keras's
    scope does not see)."""
    import keras
    import numpy as np

    from .keras_internals import all_layers, call_takes_training, replace_calls, torch_global_generator_forked
    from .measure import state_kept

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
        for family in FAMILIES:
            if family.switch_off is not None:
                stack.enter_context(found.switched_off(family))
        stack.enter_context(until_exit(replace_calls([(layer, probing(layer)) for layer in candidates])))
        stack.enter_context(torch_global_generator_forked(np.random.default_rng(seed)))
        stack.enter_context(state_kept(model))
        stack.enter_context(keras.StatelessScope())
        model(images, training=True)
    return [layer for layer in candidates if differs.get(id(layer))]
