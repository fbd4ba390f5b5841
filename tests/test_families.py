"""Each family of training-only layers its own term: dropout, noise, augmentation, batch-norm and layers of your own,
on models of every kind, and the detection of Keras's random layers."""
import inspect

import keras
import numpy as np
import pytest

from lossgap.callback import ReasonDiagnostics
from lossgap.families import (BY_NAME, FAMILIES, call_in_inference, training_only_layers, until_exit,
                              use_moving_statistics, zero_attributes)
from lossgap.gaps import LABELS, gap_terms
from lossgap.keras_internals import call_takes_training, seed_generators
from lossgap import measure
from lossgap.measure import Passes, batch_groups, epoch_seeds, measure_epoch
from pyimagesearch.minivggnet import MiniVGGNet, augmentation_layers
from pyimagesearch.runs.seeding import set_seed
from tests.conftest import Wrapper, draw, train

TERM_OF = {family.name: family.name.replace("-", "_") for family in FAMILIES}
KEY_OF = {family.name: family.key for family in FAMILIES}
SHAPE = (16, 16, 1)


class Shift(keras.layers.Layer):
    """A layer of the user's own with a training branch: it adds `amount` in training only."""

    def __init__(self, amount=0.3, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def call(self, inputs, training=None):
        return inputs + self.amount if training else inputs


class Block(keras.layers.Layer):
    """A user's container: its only training-only behaviour lies in the layers inside it, handed `training`."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.dense = keras.layers.Dense(8)

    def call(self, inputs, training=None):
        return self.inner(self.dense(inputs), training=training)


def augmentation():
    return [keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.2, 0.2)]


def head(features, batch_norm):
    """Convolution, optional batch-norm, dropout and a softmax on top of `features`."""
    features = keras.layers.Conv2D(4, 3, activation="relu")(features)
    if batch_norm:
        features = keras.layers.BatchNormalization()(features)
    features = keras.layers.Dropout(0.3)(keras.layers.Flatten()(features))
    return keras.layers.Dense(10, activation="softmax")(features)


def functional(batch_norm):
    inputs = keras.Input(SHAPE)
    features = inputs
    for layer in augmentation() + [keras.layers.GaussianNoise(0.2)]:
        features = layer(features)
    return keras.Model(inputs, head(features, batch_norm))


def sequential(batch_norm):
    layers = [keras.Input(SHAPE), *augmentation(), keras.layers.GaussianNoise(0.2),
              keras.layers.Conv2D(4, 3, activation="relu")]
    layers += [keras.layers.BatchNormalization()] * batch_norm
    layers += [keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")]
    return keras.Sequential(layers)


class Subclassed(keras.Model):
    def __init__(self, batch_norm, **kwargs):
        super().__init__(**kwargs)
        self.augment = keras.Sequential(augmentation())
        self.noise = keras.layers.GaussianNoise(0.2)
        self.convolution = keras.layers.Conv2D(4, 3, activation="relu")
        self.normalize = keras.layers.BatchNormalization() if batch_norm else keras.layers.Identity()
        self.dropout = keras.layers.Dropout(0.3)
        self.classify = keras.layers.Dense(10, activation="softmax")

    def call(self, images, training=None):
        features = self.noise(self.augment(images, training=training), training=training)
        features = self.normalize(self.convolution(features), training=training)
        return self.classify(self.dropout(keras.ops.reshape(features, (keras.ops.shape(features)[0], -1)),
                                          training=training))


def subclassed(batch_norm):
    return Subclassed(batch_norm)


def nested(batch_norm):
    """Augmentation in a Sequential inside a functional model inside a Sequential."""
    inputs = keras.Input(SHAPE)
    augmented = keras.Sequential(augmentation(), name="augment")(inputs)
    inner = keras.Model(inputs, head(keras.layers.GaussianNoise(0.2)(augmented), batch_norm), name="inner")
    return keras.Sequential([keras.Input(SHAPE), inner])


BUILDERS = {"functional": functional, "sequential": sequential, "subclassed": subclassed, "nested": nested}


def compiled(model):
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05), metrics=["accuracy"])
    return model


def data(seed=0, count=96):
    rng = np.random.default_rng(seed)
    images = rng.random((count,) + SHAPE, dtype=np.float32)
    return images, keras.utils.to_categorical(rng.integers(0, 10, count), 10)


def fit(build, callback=True, epochs=2, seed=0):
    """Seeded fit on random images, 64 to train on and 32 to validate: (model, history, diagnostics)."""
    set_seed(seed)
    model = compiled(build())
    images, targets = data(seed)
    training, validation = (images[:64], targets[:64]), (images[64:], targets[64:])
    diagnostics = ReasonDiagnostics(training, validation, batch_size=16, seed=3) if callback else None
    history = model.fit(*training, validation_data=validation, batch_size=16, epochs=epochs, verbose=0,
                        callbacks=[diagnostics] if callback else [])
    return model, history.history, diagnostics


def counting_passes(diagnostics):
    """Count the callback's passes (training mode or not) over the training sample and the validation set."""
    passes = []

    class Counted(Passes):
        def run(self, images, targets, training, *arguments):
            passes.append(training)
            return super().run(images, targets, training, *arguments)

    diagnostics.set_model = lambda model: (keras.callbacks.Callback.set_model(diagnostics, model),
                                           setattr(diagnostics, "_passes", Counted(model, 16)))
    return passes


# --- the terms, on functional, Sequential, subclassed and nested models, with and without batch-norm ---

@pytest.mark.backends
@pytest.mark.parametrize("batch_norm", [True, False], ids=["batch-norm", "no-batch-norm"])
@pytest.mark.parametrize("kind", BUILDERS)
def test_augmentation_and_noise_get_terms_of_their_own_that_add_up_and_measuring_changes_nothing(kind, batch_norm):
    model, history, diagnostics = fit(lambda: BUILDERS[kind](batch_norm))
    found = training_only_layers(model)
    assert sorted(type(layer).__name__ for layer in found.switches["augmentation"]) == ["RandomFlip",
                                                                                      "RandomTranslation"]
    assert [type(layer).__name__ for layer, _ in found.switches["noise"]] == ["GaussianNoise"]
    assert len(found.switches["batch-norm"]) == batch_norm and found.switches["other"] == []
    terms = gap_terms(history)
    for epoch in range(2):
        for family in ("dropout", "noise", "augmentation"):
            assert terms[TERM_OF[family]][epoch] != 0, family
        assert (terms["batch_norm"][epoch] != 0) == batch_norm
    assert list(terms["other"]) == [0.0, 0.0]  # exactly: no pass was made for it
    if not batch_norm:
        assert list(terms["batch_norm"]) == [0.0, 0.0]
    # measuring changes nothing: the seeded fit is the same, bit for bit, without the callback
    _, without, _ = fit(lambda: BUILDERS[kind](batch_norm), callback=False)
    assert all(history[key] == without[key] for key in without)


@pytest.mark.backends
@pytest.mark.parametrize("family", ["augmentation", "noise", "batch-norm", "other"])
def test_a_family_alone_is_its_only_term_and_each_absent_one_costs_no_pass(family):
    """Only one family in the model: its term is not 0, every other term of a family is exactly 0, and the epoch
    takes two passes over the sample (training as is, then inference); the first epoch one more, in inference mode
    over the validation set, to check that it gives Keras's val_loss."""
    layer = {"augmentation": lambda: keras.layers.RandomTranslation(0.2, 0.2),
             "noise": lambda: keras.layers.GaussianNoise(0.3), "batch-norm": keras.layers.BatchNormalization,
             "other": Shift}[family]

    def build():
        return keras.Sequential([keras.Input(SHAPE), layer(), keras.layers.Conv2D(4, 3, activation="relu"),
                                 keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])

    set_seed(0)
    model = compiled(build())
    images, targets = data()
    diagnostics = ReasonDiagnostics((images[:64], targets[:64]), (images[64:], targets[64:]), batch_size=16, seed=3)
    passes = counting_passes(diagnostics)
    history = model.fit(images[:64], targets[:64], validation_data=(images[64:], targets[64:]), batch_size=16,
                        epochs=2, verbose=0, callbacks=[diagnostics]).history
    assert passes == [False, True, False, True, False]
    terms = gap_terms(history)
    for other_family in (family.name for family in FAMILIES):
        values = list(terms[TERM_OF[other_family]])
        assert all(value != 0 for value in values) if other_family == family else values == [0.0, 0.0]


def by_hand(model, images, targets, training, batch_size=16, seeds=()):
    """The sample-weighted mean of the compiled loss, batch by batch, as model(images, training) computes it, the
    seed generators starting from `seeds` if given."""
    total = 0.0
    mapping = list(zip([generator.state for generator in seed_generators(model)], seeds))
    with keras.StatelessScope(state_mapping=mapping):
        for start in range(0, len(images), batch_size):
            batch, batch_targets = images[start:start + batch_size], targets[start:start + batch_size]
            predictions = model(batch, training=training)
            loss = model.compute_loss(x=batch, y=batch_targets, y_pred=predictions)
            total += float(keras.ops.convert_to_numpy(keras.ops.stop_gradient(loss))) * len(batch)
    return total / len(images)


def measured_once(model, images, targets):
    """(the measurements of one epoch's end, the seeds they were drawn with), as the callback takes them."""
    seeds = epoch_seeds(model, 3, 0)
    found = training_only_layers(model, images[:16])
    return measure_epoch(Passes(model, 16), found, images, targets, seeds).values, seeds


@pytest.mark.backends
@pytest.mark.parametrize("family", ["augmentation", "other"])
def test_a_deterministic_family_term_equals_the_two_losses_measured_by_hand(family):
    """A shift by exactly 10% (a RandomTranslation whose range is one value), or a layer of one's own adding 0.3 in
    training: training mode is deterministic, so the term is the loss in inference mode minus the loss in training
    mode, each computed here with the model's own call (to float32's precision on losses near 2.3)."""
    layer = keras.layers.RandomTranslation((0.1, 0.1), (0.1, 0.1)) if family == "augmentation" else Shift()
    model = compiled(keras.Sequential([keras.Input(SHAPE), layer, keras.layers.Flatten(),
                                       keras.layers.Dense(10, activation="softmax")]))
    images, targets = data(count=48)
    logs, _ = measured_once(model, images, targets)
    in_training, in_inference = by_hand(model, images, targets, True), by_hand(model, images, targets, False)
    assert abs(in_inference - in_training) > 1e-3
    assert logs["train_end_loss"] == pytest.approx(in_training, rel=1e-6)
    assert logs[KEY_OF[family]] - logs["train_end_loss"] == pytest.approx(in_inference - in_training, abs=1e-6)


@pytest.mark.parametrize("family", [
    pytest.param("dropout", marks=pytest.mark.skipif(keras.backend.backend() == "torch", reason=(
        "on PyTorch an unseeded Dropout draws from torch's global generator, not from the mapped seeds"))),
    "noise"])
def test_a_random_family_term_equals_the_two_losses_measured_by_hand_with_the_epochs_draw(family):
    """Dropout or noise alone: the term is the inference loss minus the training-mode loss drawn from the seeds the
    measurement drew for the epoch, both computed here with the model's own call."""
    layer = keras.layers.Dropout(0.4) if family == "dropout" else keras.layers.GaussianNoise(0.4)
    model = compiled(keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(), layer,
                                       keras.layers.Dense(10, activation="softmax")]))
    images, targets = data(count=48)
    logs, (seeds, _) = measured_once(model, images, targets)
    in_training = by_hand(model, images, targets, True, seeds=seeds)
    in_inference = by_hand(model, images, targets, False)
    assert abs(in_inference - in_training) > 1e-3
    assert logs[KEY_OF[family]] - logs["train_end_loss"] == pytest.approx(in_inference - in_training, abs=1e-6)


def test_random_crop_is_switched_to_what_keras_computes_for_it_in_inference():
    """RandomCrop then batch-norm: with augmentation off and batch-norm still on batch statistics, the loss is that of
    the rest of the model, in training mode, on what RandomCrop gives with training=False (its documentation says
    a centre crop; Keras 3.15 returns the images uncropped), as val_loss sees them."""
    crop = keras.layers.RandomCrop(10, 10)
    model = compiled(keras.Sequential([keras.Input(SHAPE), crop, keras.layers.Conv2D(4, 3),
                                       keras.layers.BatchNormalization(), keras.layers.GlobalAveragePooling2D(),
                                       keras.layers.Dense(10, activation="softmax")]))
    rest = compiled(keras.Sequential(model.layers[1:]))
    images, targets = data(count=48)
    logs, _ = measured_once(model, images, targets)
    in_inference = keras.ops.convert_to_numpy(crop(images, training=False))
    assert logs["train_end_noaugmentation_loss"] == pytest.approx(by_hand(rest, in_inference, targets, True), rel=1e-6)
    assert abs(logs["train_end_noaugmentation_loss"] - logs["train_end_loss"]) > 1e-4


def test_recurrent_dropout_is_dropout():
    model = compiled(keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(8, dropout=0.4, recurrent_dropout=0.3),
                                       keras.layers.Dense(10, activation="softmax")]))
    found = training_only_layers(model)
    assert [(type(layer).__name__, attribute) for layer, attribute in found.switches["dropout"]] == [
        ("LSTMCell", "dropout"), ("LSTMCell", "recurrent_dropout")]
    assert found.switches["augmentation"] == found.switches["noise"] == []
    rng = np.random.default_rng(0)
    sequences = rng.random((48, 6, 3), dtype=np.float32)
    targets = keras.utils.to_categorical(rng.integers(0, 10, 48), 10)
    logs, _ = measured_once(model, sequences, targets)
    # no other training-only layer: switched off, the dropout pass is the inference pass
    assert logs["train_end_nodropout_loss"] == logs["train_inference_loss"] == pytest.approx(
        by_hand(model, sequences, targets, False), rel=1e-6)
    assert abs(logs["train_end_loss"] - logs["train_end_nodropout_loss"]) > 1e-4


def test_a_switched_family_never_reuses_a_step_compiled_with_it_on():
    model = compiled(keras.Sequential([keras.Input(SHAPE), keras.layers.RandomTranslation((0.1, 0.1), (0.1, 0.1)),
                                       keras.layers.BatchNormalization(), keras.layers.Flatten(),
                                       keras.layers.Dense(10, activation="softmax")]))
    images, targets = data(count=32)
    found = training_only_layers(model, images[:16])
    passes, seeds = Passes(model, 16), epoch_seeds(model, 3, 0)

    def measure(with_passes=passes):
        [(means, _)], _ = with_passes.run(images, targets, True, seeds, found)
        return float(means.mean())

    on = measure()
    with until_exit(call_in_inference(found.switches["augmentation"])):
        off = measure()
        assert off == measure(Passes(model, 16))  # as a step compiled afresh with augmentation off gives
    with until_exit(use_moving_statistics(found.switches["batch-norm"])):
        frozen = measure()
    assert len({on, off, frozen}) == 3 and measure() == on
    assert len({key[1] for key in passes._steps}) == 3  # one step per setting of the switches



def test_batches_go_through_the_step_in_groups_that_cover_every_example_once():
    assert list(batch_groups(100, 32, 2)) == [(0, 2, 32), (64, 1, 32), (96, 1, 4)]
    assert list(batch_groups(64, 32, 5)) == [(0, 2, 32)]
    assert list(batch_groups(5, 32, 5)) == [(0, 1, 5)]


def test_batches_in_groups_measure_what_one_call_a_batch_measures(monkeypatch):
    model = compiled(keras.Sequential([keras.Input(SHAPE), keras.layers.RandomTranslation((0.1, 0.1), (0.1, 0.1)),
                                       keras.layers.BatchNormalization(), keras.layers.Flatten(),
                                       keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")]))
    images, targets = data(count=90)  # 5 batches of 16 and one of 10
    found = training_only_layers(model, images[:16])
    seeds = epoch_seeds(model, 3, 0)

    def measured():
        passes = Passes(model, 16)
        return [measure_epoch(passes, found, images, targets, seeds).values for _ in range(2)]

    grouped = measured()
    monkeypatch.setattr(measure, "GROUP_BYTES", 1)  # one batch a call
    one_by_one = measured()
    assert grouped[0] == grouped[1]  # the same draw each time
    for key, value in grouped[0].items():
        assert value == pytest.approx(one_by_one[0][key], rel=1e-6), key


# --- layers with a training branch of their own ---

def test_own_training_branches_are_named_once_at_the_start_and_counted_as_other(capsys):
    """Shift is named; Block, a container whose training behaviour is its Dropout's, is not, nor is the Block that
    holds a Shift (the Shift inside it is named instead)."""
    def build():
        inputs = keras.Input(SHAPE)
        features = keras.layers.Flatten()(inputs)
        features = Block(keras.layers.Dropout(0.3), name="block_with_dropout")(features)
        features = Block(Shift(name="inner_shift"), name="block_with_shift")(features)
        features = keras.layers.BatchNormalization()(Shift(name="shift")(features))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))

    model, history, diagnostics = fit(build)
    printed = capsys.readouterr().out
    names = [layer.name for layer in diagnostics.training_only_layers().switches["other"]]
    assert sorted(names) == ["inner_shift", "shift"]
    assert printed.count("training branch of their own") == 1
    assert printed.strip() == ('[INFO] ReasonDiagnostics: layers with a training branch of their own, measured '
                               'together as "other training-only layers": '
                               + ", ".join(f"{name} (Shift)" for name in names))
    terms = gap_terms(history)
    assert all(value != 0 for value in terms["other"])
    assert all(value != 0 for value in terms["batch_norm"])
    # batch-norm's term holds batch-norm only: the shifts are still on in the measurement it ends at (dropout off,
    # batch-norm on its moving statistics, training mode), and inference mode turns them off
    images, targets = data()
    found = training_only_layers(model)
    with until_exit(zero_attributes(found.switches["dropout"])), \
            until_exit(use_moving_statistics(found.switches["batch-norm"])):
        assert history["train_end_nobatchnorm_loss"][-1] == pytest.approx(
            by_hand(model, images[:64], targets[:64], True), rel=1e-5)
    assert history["train_inference_loss"][-1] == pytest.approx(by_hand(model, images[:64], targets[:64], False),
                                                                rel=1e-5)


def test_a_model_whose_call_takes_no_training_has_no_training_only_layers():
    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.dropout, self.dense = keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")

        def call(self, images):
            return self.dense(self.dropout(keras.ops.reshape(images, (keras.ops.shape(images)[0], -1))))

    model, history, _ = fit(Plain, epochs=1)
    images, targets = data()
    # its Dropout never drops, even in fit(): every measurement is the loss model.evaluate computes
    evaluated = model.evaluate(images[:64], targets[:64], batch_size=16, verbose=0, return_dict=True)["loss"]
    assert history["train_end_loss"][0] == pytest.approx(evaluated, rel=1e-6)
    assert training_only_layers(model).switches == {family.name: [] for family in FAMILIES}


# --- which of Keras's layers draw at random, found by what they do ---

# how to build the public layers whose constructors need arguments, and the input each one takes; a layer class not
# built here or listed in NOT_BUILT fails the test below, so that a Keras release's new layer is looked at
IMAGES = (4, 16, 16, 3)
BUILD = {
    "Activation": lambda: keras.layers.Activation("relu"),
    "AdaptiveAveragePooling2D": lambda: keras.layers.AdaptiveAveragePooling2D(4),
    "AdaptiveMaxPooling2D": lambda: keras.layers.AdaptiveMaxPooling2D(4),
    "AveragePooling2D": lambda: keras.layers.AveragePooling2D(2), "AvgPool2D": lambda: keras.layers.AvgPool2D(2),
    "CenterCrop": lambda: keras.layers.CenterCrop(8, 8), "Conv2D": lambda: keras.layers.Conv2D(2, 3),
    "Conv2DTranspose": lambda: keras.layers.Conv2DTranspose(2, 3),
    "Convolution2D": lambda: keras.layers.Convolution2D(2, 3),
    "Convolution2DTranspose": lambda: keras.layers.Convolution2DTranspose(2, 3),
    "Dense": lambda: keras.layers.Dense(2), "DepthwiseConv2D": lambda: keras.layers.DepthwiseConv2D(3),
    "EinsumDense": lambda: keras.layers.EinsumDense("abcd,de->abce", output_shape=(16, 16, 2)),
    "RandomCrop": lambda: keras.layers.RandomCrop(8, 8),
    "RandomBrightness": lambda: keras.layers.RandomBrightness(0.3),
    "RandomColorDegeneration": lambda: keras.layers.RandomColorDegeneration(0.5),
    "RandomContrast": lambda: keras.layers.RandomContrast(0.5), "RandomHue": lambda: keras.layers.RandomHue(0.5),
    "RandomRotation": lambda: keras.layers.RandomRotation(0.2),
    "RandomSaturation": lambda: keras.layers.RandomSaturation(0.5),
    "RandomSharpness": lambda: keras.layers.RandomSharpness(0.5), "RandomZoom": lambda: keras.layers.RandomZoom(0.3),
    "Rescaling": lambda: keras.layers.Rescaling(1 / 255),
    "RandomPosterization": lambda: keras.layers.RandomPosterization(4),
    "RandomTranslation": lambda: keras.layers.RandomTranslation(0.2, 0.2),
    "Reshape": lambda: keras.layers.Reshape((16, 48)), "Resizing": lambda: keras.layers.Resizing(8, 8),
    "SeparableConv2D": lambda: keras.layers.SeparableConv2D(2, 3),
    "SeparableConvolution2D": lambda: keras.layers.SeparableConvolution2D(2, 3),
    "Permute": lambda: keras.layers.Permute((2, 1, 3)),
    "Dropout": lambda: keras.layers.Dropout(0.5), "SpatialDropout2D": lambda: keras.layers.SpatialDropout2D(0.5),
    "GaussianDropout": lambda: keras.layers.GaussianDropout(0.5),
    "AlphaDropout": lambda: keras.layers.AlphaDropout(0.5), "GaussianNoise": lambda: keras.layers.GaussianNoise(0.5),
}
# classes that take other inputs than a batch of images, wrap other layers or code, or need more than arguments:
# each with why, and how its training-only behaviour is found
NOT_BUILT = {
    "AdaptiveAveragePooling1D": "1D", "AdaptiveAveragePooling3D": "3D", "AdaptiveMaxPooling1D": "1D",
    "AdaptiveMaxPooling3D": "3D", "AveragePooling1D": "1D", "AveragePooling3D": "3D", "AvgPool1D": "1D",
    "AvgPool3D": "3D", "Conv1D": "1D", "Conv1DTranspose": "1D", "Conv3D": "3D", "Conv3DTranspose": "3D",
    "Convolution1D": "1D", "Convolution1DTranspose": "1D", "Convolution3D": "3D", "Convolution3DTranspose": "3D",
    "DepthwiseConv1D": "1D", "SeparableConv1D": "1D", "SeparableConvolution1D": "1D",
    "SpatialDropout1D": "1D; a Dropout subclass", "SpatialDropout3D": "3D; a Dropout subclass",
    "Add": "merges several inputs", "Average": "merges", "Concatenate": "merges", "Dot": "merges",
    "Maximum": "merges", "Minimum": "merges", "Multiply": "merges", "Subtract": "merges",
    "Attention": "queries and values; its dropout= is a dropout attribute",
    "AdditiveAttention": "queries and values; its dropout= is a dropout attribute",
    "MultiHeadAttention": "queries and values; its dropout is a Dropout layer inside it",
    "GroupQueryAttention": "queries and values; its dropout is a Dropout layer inside it",
    "Bidirectional": "wraps a recurrent layer", "TimeDistributed": "wraps a layer", "Wrapper": "wraps a layer",
    "SpectralNormalization": "wraps a layer", "RNN": "wraps a cell", "StackedRNNCells": "wraps cells",
    "GRU": "sequences; its cell's dropout attributes", "LSTM": "sequences; its cell's dropout attributes",
    "SimpleRNN": "sequences; its cell's dropout attributes", "GRUCell": "sequences and states",
    "LSTMCell": "sequences and states", "SimpleRNNCell": "sequences and states",
    "ConvLSTM1D": "sequences", "ConvLSTM2D": "sequences", "ConvLSTM3D": "sequences",
    "Embedding": "integer inputs", "ReversibleEmbedding": "integer inputs", "CategoryEncoding": "integer inputs",
    "Hashing": "categorical inputs", "HashedCrossing": "categorical inputs", "IntegerLookup": "integer inputs",
    "StringLookup": "strings", "TextVectorization": "strings", "Discretization": "needs adapt()",
    "Normalization": "needs adapt() or statistics", "InputLayer": "not called on data",
    "Lambda": "wraps a function", "JaxLayer": "wraps JAX code", "FlaxLayer": "wraps a Flax module",
    "TorchModuleWrapper": "wraps a torch module", "TFSMLayer": "wraps a saved model",
    "Cropping1D": "1D", "Cropping3D": "3D", "UpSampling1D": "1D", "UpSampling3D": "3D", "ZeroPadding1D": "1D",
    "ZeroPadding3D": "3D", "GlobalAveragePooling1D": "1D", "GlobalAveragePooling3D": "3D", "GlobalAvgPool1D": "1D",
    "GlobalAvgPool3D": "3D", "GlobalMaxPool1D": "1D", "GlobalMaxPool3D": "3D", "GlobalMaxPooling1D": "1D",
    "GlobalMaxPooling3D": "3D", "MaxPool1D": "1D", "MaxPool3D": "3D", "MaxPooling1D": "1D", "MaxPooling3D": "3D",
    "RepeatVector": "2D inputs", "MelSpectrogram": "audio", "STFTSpectrogram": "audio",
    "MaxNumBoundingBoxes": "bounding boxes", "Layer": "the base class",
    "Pipeline": "runs the layers it is given, each found by itself",
}


def public_layer_classes():
    return {name: kind for name, kind in vars(keras.layers).items()
            if inspect.isclass(kind) and issubclass(kind, keras.layers.Layer)}


def acts_in_training(layer):
    """Whether `layer`'s output on random images in training mode differs from its output in inference mode."""
    images = np.random.default_rng(0).random(IMAGES, dtype=np.float32) * 255
    in_training = keras.tree.flatten(layer(images, training=True))
    in_inference = keras.tree.flatten(layer(images, training=False))
    return any(not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
               for a, b in zip(in_training, in_inference))


def test_every_keras_layer_that_acts_in_training_only_is_found_in_a_family():
    classes = public_layer_classes()
    unknown = sorted(name for name, kind in classes.items() if name not in BUILD and name not in NOT_BUILT
                     and not _builds_without_arguments(kind))
    assert not unknown, (f"Keras {keras.__version__} has layer classes this test cannot build: {unknown}; add how "
                         "to build them to BUILD, or why not to NOT_BUILT")
    acting, families = [], {}
    for name, kind in sorted(classes.items()):
        if name in NOT_BUILT:
            continue
        build = BUILD.get(name, kind)
        layer = build()
        if not call_takes_training(layer):
            continue
        if acts_in_training(build()):
            acting.append(name)
        model = Wrapper(layer)  # a Sequential cannot hold a layer that returns its input as it is
        images = np.random.default_rng(1).random(IMAGES, dtype=np.float32) * 255
        model(images)  # built outside the measuring scope, as fit() builds a model before the diagnostics look
        found = training_only_layers(model, images)
        families[name] = [family.name for family in FAMILIES
                          if any(member is layer for member in found.layers(family))]
    missed = [name for name in acting if len(families[name]) != 1]
    assert not missed, (f"Keras {keras.__version__}: these layers act in training only and no family holds them: "
                        f"{missed}")
    augmentation = sorted(name for name, found in families.items() if found == ["augmentation"])
    assert {"RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast",
            "RandomCrop"} <= set(augmentation)
    # deterministic preprocessing is not augmentation, even where it takes `training`; Equalization, which Keras
    # applies in training only, is
    assert not {"Rescaling", "Resizing", "CenterCrop", "AutoContrast"} & set(augmentation)
    assert "Equalization" in augmentation


def _builds_without_arguments(kind):
    try:
        kind()
    except Exception:
        return False
    return True


# --- the demonstration: fashion_mnist.py --augment ---

def test_minivggnet_gets_augmentation_layers_only_when_asked():
    plain = MiniVGGNet.build(28, 28, 1, 10)
    augmented = MiniVGGNet.build(28, 28, 1, 10, augment=True)
    assert plain.count_params() == augmented.count_params() == 1_679_082
    assert [type(layer).__name__ for layer in augmented.layers[:2]] == ["RandomFlip", "RandomTranslation"]
    assert training_only_layers(plain).switches["augmentation"] == []
    assert [type(layer).__name__ for layer in training_only_layers(augmented).switches["augmentation"]] == [
        "RandomFlip", "RandomTranslation"]
    assert [type(layer).__name__ for layer in augmentation_layers()] == ["RandomFlip", "RandomTranslation"]


@pytest.mark.slow
def test_a_seeded_augment_run_records_augmentations_term_and_plots_it(tmp_path, small_dataset_dir, monkeypatch,
                                                                      capsys):
    result, history_path, history = train(tmp_path, small_dataset_dir, "--augment")
    assert "training branch of their own" not in result.stdout
    terms = gap_terms(history)
    for name in ("augmentation", "dropout", "batch_norm"):
        assert all(value != 0 for value in terms[name]), name
    assert list(terms["noise"]) == list(terms["other"]) == [0.0] * 3
    axes = draw(history_path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    labels = [container.get_label() for container in axes[2].containers]
    assert labels == [LABELS[name] for name in ("running_mean", "dropout", "augmentation", "batch_norm",
                                                "generalization")]
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("augmentation (reason 1)") for line in printed)
    assert "not in this model, so 0: GaussianNoise (reason 1), other training-only layers" in printed
    # the same seed without --augment trains another model: the flag is part of the run's settings
    (tmp_path / "plain").mkdir()
    _, _, plain = train(tmp_path / "plain", small_dataset_dir)
    assert plain["loss"] != history["loss"]
