"""Reasons 1-3 and the bonus, measured: the diagnostics callback, the gap's four terms, the third axes, the split
check."""
import pickle
import re

import keras
import numpy as np
import pytest

from pyimagesearch.minivggnet import MiniVGGNet
from pyimagesearch.reasons.diagnostics import (
    ReasonDiagnostics,
    attributes_zero,
    moving_statistics,
    training_only_layers,
    training_sample,
)
from pyimagesearch.reasons.gaps import format_gaps, gap_terms, mean_gaps, spans
from pyimagesearch.reasons.measurements import DIAGNOSTIC_KEYS, FOUR_TERM_KEYS, FOUR_TERMS, LOGGED_GAP, TERMS
from pyimagesearch.reasons.split_check import check_split, format_split_report
from pyimagesearch.runs.backends import set_seed
from pyimagesearch.schedule import legacy_time_decay
from tests.conftest import draw, run_module, run_script, train

TERM_NAMES = [name for name, _, _ in TERMS]
FOUR_TERM_NAMES = [name for name, _, _ in FOUR_TERMS]


# --- the diagnostics callback, on models of every kind ---

def random_images(seed, count):
    rng = np.random.default_rng(seed)
    images = rng.random((count, 28, 28, 1), dtype=np.float32)
    return images, keras.utils.to_categorical(rng.integers(0, 10, count), 10)


def minivggnet(dropout_scale=1.0):
    model = MiniVGGNet.build(28, 28, 1, 10, dropout_scale=dropout_scale)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(learning_rate=legacy_time_decay(0.01, 0.0004), momentum=0.9))
    return model


def two_branch_model(dropout_rate=0.3, noise=0.2):
    """Functional, two branches: convolutions with SpatialDropout2D, and noisy pixels into a dense layer."""
    inputs = keras.Input((28, 28, 1))
    convolved = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    convolved = keras.layers.SpatialDropout2D(dropout_rate)(convolved)
    convolved = keras.layers.GlobalAveragePooling2D()(convolved)
    pixels = keras.layers.GaussianNoise(noise)(keras.layers.Flatten()(inputs))
    pixels = keras.layers.Dense(16, activation="relu")(pixels)
    merged = keras.layers.BatchNormalization()(keras.layers.Concatenate()([convolved, pixels]))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(merged))
    model.compile(loss=keras.losses.CategoricalFocalCrossentropy(), optimizer=keras.optimizers.SGD(0.05),
                  metrics=["accuracy"])
    return model


class NestedClassifier(keras.Model):
    """Subclassed, with its dropout and batch-norm inside a nested Sequential; its call() does not hand `training`
    on, so the inner layers get it from Keras's call context."""

    def __init__(self, rate=0.4):
        super().__init__()
        self.features = keras.Sequential([keras.layers.Conv2D(8, 3, activation="relu"),
                                          keras.layers.BatchNormalization(), keras.layers.Dropout(rate),
                                          keras.layers.Flatten()])
        self.head = keras.layers.Dense(10, activation="softmax")

    def call(self, images, training=None):
        return self.head(self.features(images))


def nested_classifier(rate=0.4):
    model = NestedClassifier(rate)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05), metrics=["accuracy"])
    return model


def plain_model():
    """No layer that behaves differently in training."""
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss=keras.losses.Huber(), optimizer=keras.optimizers.SGD(0.05), metrics=["accuracy"])
    return model


def fit_with_diagnostics(build, seed=0, epochs=1, batch_size=16):
    """The model `build()` makes, seeded and fitted on random images with the callback measuring a sample of 48
    and a validation set of 40: (model, history, sample, validation set)."""
    set_seed(seed)
    model = build()
    images, targets = random_images(seed, 128)
    training, validation = (images[:88], targets[:88]), (images[88:], targets[88:])
    diagnostics = ReasonDiagnostics(training, validation, batch_size=batch_size, seed=3)
    history = model.fit(*training, validation_data=validation, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[diagnostics])
    return model, history.history, training, validation


def twin_without_dropout(model, twin):
    """`twin`, the same network built with every dropout rate and noise at 0, given `model`'s weights."""
    twin(np.zeros((1, 28, 28, 1), dtype=np.float32))
    twin.set_weights(model.get_weights())
    return twin


def measured(model, training, validation, batch_size=16, seed=3):
    diagnostics = ReasonDiagnostics(training, validation, batch_size=batch_size, seed=seed)
    diagnostics.set_model(model)
    logs = {"val_loss": 0.0}
    diagnostics.on_epoch_end(0, logs)
    return logs


@pytest.mark.parametrize("build, build_without_dropout", [
    (minivggnet, lambda: minivggnet(dropout_scale=0)),
    (two_branch_model, lambda: two_branch_model(dropout_rate=0, noise=0)),
    (nested_classifier, lambda: nested_classifier(rate=0)),
], ids=["sequential-minivggnet", "functional-two-branches-focal-loss", "subclassed-nested"])
def test_each_measurement_switches_exactly_what_it_names(build, build_without_dropout):
    model, history, training, validation = fit_with_diagnostics(build)
    assert sorted(history) == sorted(["loss", "accuracy", "val_loss", "val_accuracy", *DIAGNOSTIC_KEYS])
    logs = measured(model, training, validation)
    # dropout and noise off: the same as the twin network that has none, measured in training mode
    twin = measured(twin_without_dropout(model, build_without_dropout()), training, validation)
    assert logs["train_end_nonoise_loss"] == pytest.approx(twin["train_end_loss"], rel=1e-6)
    assert logs["train_end_nonoise_loss"] == pytest.approx(twin["train_end_nonoise_loss"], rel=1e-6)
    assert abs(logs["train_end_loss"] - logs["train_end_nodropout_loss"]) > 1e-4  # this model drops something
    # inference mode: the compiled loss, as model.evaluate measures it
    evaluated = model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)
    assert logs["train_inference_loss"] == pytest.approx(evaluated["loss"], rel=1e-6)
    assert logs["train_inference_accuracy"] == pytest.approx(evaluated["accuracy"], abs=1e-6)
    assert abs(logs["train_inference_loss"] - logs["train_end_noaugmentation_loss"]) > 1e-4  # batch-norm's statistics
    # validation under dropout, batch-norm on moving statistics: without dropout it is the validation loss itself
    assert twin["val_dropout_loss"] == pytest.approx(
        model.evaluate(*validation, batch_size=16, verbose=0, return_dict=True)["loss"], rel=1e-6)
    assert abs(logs["val_dropout_loss"] - twin["val_dropout_loss"]) > 1e-4


def test_the_compiled_loss_is_used_not_cross_entropy():
    model, _, training, validation = fit_with_diagnostics(two_branch_model)
    logs = measured(model, training, validation)
    predictions = model.predict(training[0], batch_size=16, verbose=0)
    focal = float(keras.ops.mean(keras.losses.CategoricalFocalCrossentropy()(training[1], predictions)))
    cross_entropy = float(keras.ops.mean(keras.losses.categorical_crossentropy(training[1], predictions)))
    assert logs["train_inference_loss"] == pytest.approx(focal, rel=1e-5)
    assert abs(focal - cross_entropy) > 0.1


def test_a_model_without_training_only_layers_gets_equal_training_measurements():
    model, history, training, _ = fit_with_diagnostics(plain_model, epochs=2)
    measurements = [history[key] for key in DIAGNOSTIC_KEYS if key.startswith("train_") and key.endswith("_loss")]
    assert len(measurements) == 6 and all(values == measurements[0] for values in measurements)
    assert history["train_inference_loss"][-1] == pytest.approx(
        model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)["loss"], rel=1e-6)


def test_dropout_layers_and_batch_norm_are_found_in_nested_models():
    model = nested_classifier()
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    found = training_only_layers(model)
    assert [(type(layer).__name__, attribute) for layer, attribute in found.dropout] == [("Dropout", "rate")]
    assert [type(layer).__name__ for layer in found.batch_normalization] == ["BatchNormalization"]
    assert found.noise == found.augmentation == found.other == []
    functional = training_only_layers(two_branch_model())
    assert [(type(layer).__name__, attribute) for layer, attribute in functional.dropout] == [
        ("SpatialDropout2D", "rate")]
    assert [(type(layer).__name__, attribute) for layer, attribute in functional.noise] == [("GaussianNoise", "stddev")]


def test_gaussian_and_alpha_dropout_are_switched_off_like_dropout():
    def build():
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"), keras.layers.GaussianDropout(0.3),
                                  keras.layers.AlphaDropout(0.2), keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
        return model

    _, history, _, _ = fit_with_diagnostics(build, epochs=2)
    # no batch-norm: with both layers off, training mode computes what inference mode does
    assert history["train_end_nodropout_loss"] == history["train_inference_loss"]
    assert all(abs(noisy - quiet) > 1e-4 for noisy, quiet in zip(history["train_end_loss"],
                                                                 history["train_end_nodropout_loss"]))


def keras_random_regularizers():
    """Every layer class keras.layers exports that drops or perturbs in training only, found by inspection, by
    family: the subclasses of Keras's dropout layers and any class named like one, and likewise for noise."""
    def named(ending, bases):
        return sorted((kind for name, kind in vars(keras.layers).items()
                       if isinstance(kind, type) and issubclass(kind, keras.layers.Layer)
                       and (issubclass(kind, bases) or name.endswith(ending))), key=lambda kind: kind.__name__)

    return {"dropout": named("Dropout", (keras.layers.Dropout, keras.layers.GaussianDropout,
                                         keras.layers.AlphaDropout)),
            "noise": named("Noise", keras.layers.GaussianNoise)}


def test_every_keras_dropout_and_noise_layer_is_found_in_its_family_and_switched_off():
    families = keras_random_regularizers()
    assert {keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianDropout,
            keras.layers.AlphaDropout} <= set(families["dropout"])
    assert families["noise"] == [keras.layers.GaussianNoise]
    kinds = families["dropout"] + families["noise"]
    layers = [kind(0.1 * (index + 1)) for index, kind in enumerate(kinds)]  # its rate (or stddev): 0.1, 0.2, ...
    others = [keras.layers.Dense(3), keras.layers.LayerNormalization(), keras.layers.BatchNormalization()]
    half = len(layers) // 2
    model = keras.Sequential([keras.Sequential(layers[:half] + others[:1]), *layers[half:], *others[1:]])
    found = training_only_layers(model)
    # each layer once, in its own family, and nothing else
    for family in ("dropout", "noise"):
        assert sorted(type(layer).__name__ for layer, _ in getattr(found, family)) == [
            kind.__name__ for kind in families[family]]
    switches = found.dropout + found.noise
    assert {id(layer) for layer, _ in switches} == set(map(id, layers)) and found.augmentation == []
    given = {id(layer): 0.1 * (index + 1) for index, layer in enumerate(layers)}
    assert all(getattr(layer, attribute) == pytest.approx(given[id(layer)]) for layer, attribute in switches)

    def in_training(layer):
        # a batch of ones with the layer's spatial axes (two for SpatialDropout2D) and channels
        spatial = re.search(r"(\d)D$", type(layer).__name__)
        dimensions = int(spatial.group(1)) if spatial else 1
        ones = np.ones((4,) + (8,) * dimensions + (16,), dtype="float32")
        return keras.ops.convert_to_numpy(layer(ones, training=True)), ones

    assert all(not np.array_equal(*in_training(layer)) for layer in layers)  # each one does something in training
    with attributes_zero(switches):
        assert [getattr(layer, attribute) for layer, attribute in switches] == [0] * len(layers)
        unchanged = [type(layer) for layer in layers if np.array_equal(*in_training(layer))]
    assert unchanged == kinds  # off, each passes its input through untouched
    assert all(getattr(layer, attribute) == pytest.approx(given[id(layer)]) for layer, attribute in switches)


def snapshot(model):
    """Weights, batch-norm statistics, seed generators, metric and optimizer variables, as numpy copies."""
    return [keras.ops.convert_to_numpy(variable).copy()
            for variable in model.variables + model.metrics_variables + model.optimizer.variables]


@pytest.mark.backends
def test_measuring_writes_no_weight_statistic_seed_metric_or_optimizer_variable():
    model, _, training, validation = fit_with_diagnostics(minivggnet)
    flags = [(layer.trainable, [weight.trainable for weight in layer.weights]) for layer in model.layers]
    rates = [getattr(layer, attribute) for layer, attribute in training_only_layers(model).dropout]
    before = snapshot(model)
    measured(model, training, validation)
    after = snapshot(model)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert [(layer.trainable, [weight.trainable for weight in layer.weights]) for layer in model.layers] == flags
    assert [getattr(layer, attribute) for layer, attribute in training_only_layers(model).dropout] == rates == [
        0.25, 0.25, 0.5]


def counting_traces(model):
    """Count how often Keras traces the model's train and test steps (Python runs them only while tracing)."""
    traces = {"train_step": 0, "test_step": 0}
    for name in traces:
        step = getattr(model, name)

        def counted(*arguments, step=step, name=name):  # (data) on TensorFlow and torch, (state, data) on JAX
            traces[name] += 1
            return step(*arguments)

        setattr(model, name, counted)
    return traces


@pytest.mark.backends
def test_a_seeded_fit_with_the_callback_trains_bit_for_bit_as_without_it_and_retraces_nothing():
    def build_counted():
        nonlocal traces_with
        model = minivggnet()
        traces_with = counting_traces(model)
        return model

    traces_with = None
    _, with_callback, _, _ = fit_with_diagnostics(build_counted, epochs=2)
    set_seed(0)
    images, targets = random_images(0, 128)
    model = minivggnet()
    traces_without = counting_traces(model)
    without = model.fit(images[:88], targets[:88], validation_data=(images[88:], targets[88:]), batch_size=16,
                        epochs=2, verbose=0).history
    assert with_callback["loss"] == without["loss"] and with_callback["val_loss"] == without["val_loss"]
    assert with_callback["accuracy"] == without["accuracy"]
    assert traces_with == traces_without and traces_with["train_step"] >= 1


@pytest.mark.backends
def test_the_dropout_draw_comes_from_the_callbacks_own_seed():
    model, _, training, validation = fit_with_diagnostics(minivggnet)
    first, again = measured(model, training, validation, seed=5), measured(model, training, validation, seed=5)
    other = measured(model, training, validation, seed=6)
    assert first == again
    assert first["train_end_loss"] != other["train_end_loss"] and first["val_dropout_loss"] != other["val_dropout_loss"]
    assert first["train_end_nodropout_loss"] == other["train_end_nodropout_loss"]  # nothing random left


def test_rates_and_batch_norm_flags_come_back_even_when_a_measurement_fails():
    model = two_branch_model()
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    found = training_only_layers(model)
    switches, batch_normalization = found.dropout + found.noise, found.batch_normalization
    with pytest.raises(RuntimeError), attributes_zero(switches), moving_statistics(batch_normalization):
        assert [getattr(layer, attribute) for layer, attribute in switches] == [0, 0]
        assert not batch_normalization[0].trainable and not any(weight.trainable
                                                                for weight in batch_normalization[0].weights)
        raise RuntimeError("a measurement failed")
    assert sorted(getattr(layer, attribute) for layer, attribute in switches) == [0.2, 0.3]
    assert batch_normalization[0].trainable
    assert [weight.trainable for weight in batch_normalization[0].weights] == [True, True, False, False]


def test_a_fit_without_validation_data_is_refused_in_one_sentence():
    images, targets = random_images(0, 32)
    diagnostics = ReasonDiagnostics((images, targets), (images, targets), batch_size=16, seed=0)
    with pytest.raises(ValueError, match=r"^ReasonDiagnostics needs the epoch's val_loss in the logs: pass "
                                         r"validation_data to model.fit"):
        plain_model().fit(images, targets, batch_size=16, epochs=1, verbose=0, callbacks=[diagnostics])


def test_training_sample_is_fixed_by_the_seed_and_zero_means_all():
    first, second = training_sample(60000, 10000, seed=5), training_sample(60000, 10000, seed=5)
    assert np.array_equal(first, second) and len(np.unique(first)) == 10000
    assert not np.array_equal(first, training_sample(60000, 10000, seed=6))
    assert np.array_equal(training_sample(300, 0), np.arange(300))
    assert np.array_equal(training_sample(300, 1000), np.arange(300))


# --- fashion_mnist.py --diagnostics, on real images ---

@pytest.fixture(scope="module")
def diagnostics_run(tmp_path_factory, small_dataset_dir):
    return train(tmp_path_factory.mktemp("diagnostics"), small_dataset_dir)


@pytest.mark.slow
@pytest.mark.backends
def test_a_real_run_records_every_measurement_and_its_terms_add_up_to_the_logged_gap(diagnostics_run):
    _, _, history = diagnostics_run
    assert sorted(history) == sorted(["loss", "accuracy", "val_loss", "val_accuracy", *DIAGNOSTIC_KEYS])
    assert all(len(values) == 3 and all(type(value) is float for value in values) for values in history.values())
    terms = gap_terms(history)
    for epoch in range(3):
        assert sum(terms[name][epoch] for name in TERM_NAMES) == pytest.approx(
            history["val_loss"][epoch] - history["loss"][epoch], abs=1e-12)
        # MiniVGGNet has dropout and batch-norm, and no noise, augmentation or layer of its own
        assert all(terms[name][epoch] != 0 for name in MINIVGGNET_TERMS)
        assert all(terms[name][epoch] == 0 for name in TERM_NAMES if name not in MINIVGGNET_TERMS)
    assert re.search(r"\[INFO\] diagnostics took \d+\.\ds per epoch; training and validation took \d+\.\ds",
                     diagnostics_run[0].stdout)
    assert "training branch of their own" not in diagnostics_run[0].stdout


MINIVGGNET_TERMS = ["reason 2 (running mean)", "reason 1 (dropout)", "batch-norm statistics",
                    "generalization (reason 3 if < 0)"]

# chosen so that no two pairs of keys differ by the same amounts over the two epochs (nor by their negatives): a
# term taken from a wrong key, or with its sign turned, gives numbers other than those asked for below
SEVEN_TERMS = {"loss": [1.00, 0.60], "train_end_loss": [0.93, 0.58], "train_end_nodropout_loss": [0.74, 0.51],
               "train_end_nonoise_loss": [0.71, 0.47], "train_end_noaugmentation_loss": [0.60, 0.44],
               "train_end_nobatchnorm_loss": [0.47, 0.39], "train_inference_loss": [0.43, 0.35],
               "val_loss": [0.88, 0.66], "accuracy": [0.61, 0.72], "val_accuracy": [0.57, 0.79],
               "train_inference_accuracy": [0.52, 0.83], "val_dropout_loss": [1.37, 0.97]}


def test_each_term_is_one_measurement_minus_the_one_before_it():
    terms = gap_terms(SEVEN_TERMS)
    assert list(terms) == TERM_NAMES + [LOGGED_GAP]
    assert list(terms["reason 2 (running mean)"]) == pytest.approx([-0.07, -0.02])  # train_end_loss - loss
    assert list(terms["reason 1 (dropout)"]) == pytest.approx([-0.19, -0.07])  # train_end_nodropout_loss - train_end
    assert list(terms["reason 1 (noise)"]) == pytest.approx([-0.03, -0.04])  # nonoise - nodropout
    assert list(terms["reason 1 (augmentation)"]) == pytest.approx([-0.11, -0.03])  # noaugmentation - nonoise
    assert list(terms["batch-norm statistics"]) == pytest.approx([-0.13, -0.05])  # nobatchnorm - noaugmentation
    assert list(terms["other training-only layers"]) == pytest.approx([-0.04, -0.04])  # inference - nobatchnorm
    assert list(terms["generalization (reason 3 if < 0)"]) == pytest.approx([0.45, 0.31])  # val_loss - inference
    assert list(terms[LOGGED_GAP]) == pytest.approx([-0.12, 0.06])  # val_loss - loss
    assert sum(terms[name] for name in TERM_NAMES) == pytest.approx(terms[LOGGED_GAP])


TWO_EPOCHS = {"loss": [1.00, 0.60], "train_end_loss": [0.93, 0.58], "train_end_nodropout_loss": [0.74, 0.51],
              "train_inference_loss": [0.43, 0.35], "val_loss": [0.88, 0.66], "accuracy": [0.61, 0.72],
              "val_accuracy": [0.57, 0.79], "train_inference_accuracy": [0.52, 0.83], "val_dropout_loss": [1.37, 0.97]}


def test_the_table_names_the_absent_families_on_one_line_instead_of_rows_of_zeros():
    history = dict(SEVEN_TERMS, train_end_nonoise_loss=SEVEN_TERMS["train_end_nodropout_loss"],
                   train_inference_loss=SEVEN_TERMS["train_end_nobatchnorm_loss"],
                   val_loss=[value - 0.04 for value in SEVEN_TERMS["val_loss"]])
    lines = format_gaps(mean_gaps(history))
    names = [line.split("  ")[0] for line in lines[1:-1]]
    assert names == ["reason 2 (running mean)", "reason 1 (dropout)", "reason 1 (augmentation)",
                     "batch-norm statistics", "generalization (reason 3 if < 0)", LOGGED_GAP]
    assert lines[-1] == ("exactly 0, as none of these act in the model: reason 1 (noise), "
                         "other training-only layers")


def test_a_history_recorded_with_four_terms_is_split_as_it_was_recorded():
    terms = gap_terms(TWO_EPOCHS)
    assert list(terms) == ["reason 2 (running mean)", "reason 1 (dropout)", "batch-norm statistics",
                           "generalization (reason 3 if < 0)", LOGGED_GAP]
    assert list(terms["reason 2 (running mean)"]) == pytest.approx([-0.07, -0.02])  # train_end_loss - loss
    assert list(terms["reason 1 (dropout)"]) == pytest.approx([-0.19, -0.07])  # train_end_nodropout_loss - train_end
    assert list(terms["batch-norm statistics"]) == pytest.approx([-0.31, -0.16])  # inference - nodropout
    assert list(terms["generalization (reason 3 if < 0)"]) == pytest.approx([0.45, 0.31])  # val_loss - inference
    assert list(terms[LOGGED_GAP]) == pytest.approx([-0.12, 0.06])  # val_loss - loss


@pytest.mark.slow
def test_without_dropout_the_dropout_term_is_exactly_zero(tmp_path, small_dataset_dir):
    _, _, history = train(tmp_path, small_dataset_dir, "--dropout-scale", 0)
    assert list(gap_terms(history)["reason 1 (dropout)"]) == [0.0, 0.0, 0.0]
    assert history["train_end_loss"] == history["train_end_nodropout_loss"]


# --- the gap table and the third axes ---

def test_spans_are_epoch_one_the_first_three_and_all_without_repeats():
    assert spans(1) == [("epoch 1", 1)]
    assert spans(2) == [("epoch 1", 1), ("epochs 1-2", 2)]
    assert spans(3) == [("epoch 1", 1), ("epochs 1-3", 3)]
    assert spans(25) == [("epoch 1", 1), ("epochs 1-3", 3), ("epochs 1-25", 25)]


FOUR_EPOCHS = {"loss": [1.0, 0.6, 0.5, 0.4], "val_loss": [0.7, 0.5, 0.45, 0.42],
               "train_end_loss": [0.8, 0.55, 0.45, 0.38], "train_end_nodropout_loss": [0.6, 0.45, 0.4, 0.34],
               "train_inference_loss": [0.5, 0.4, 0.36, 0.3], "train_inference_accuracy": [0.7, 0.8, 0.85, 0.9],
               "val_dropout_loss": [1.1, 0.7, 0.6, 0.55]}


def test_mean_gaps_averages_each_term_over_each_span():
    table = mean_gaps(FOUR_EPOCHS)
    assert table.spans == ["epoch 1", "epochs 1-3", "epochs 1-4"]
    rows = dict(table.rows)
    assert list(rows) == FOUR_TERM_NAMES + [LOGGED_GAP]
    assert rows["reason 2 (running mean)"] == pytest.approx([-0.2, np.mean([-0.2, -0.05, -0.05]),
                                                             np.mean([-0.2, -0.05, -0.05, -0.02])])
    assert rows["reason 1 (dropout)"] == pytest.approx([-0.2, np.mean([-0.2, -0.1, -0.05]), np.mean([-0.2, -0.1,
                                                                                                    -0.05, -0.04])])
    assert rows["batch-norm statistics"] == pytest.approx([-0.1, np.mean([-0.1, -0.05, -0.04]),
                                                           np.mean([-0.1, -0.05, -0.04, -0.04])])
    assert rows["generalization (reason 3 if < 0)"] == pytest.approx([0.2, np.mean([0.2, 0.1, 0.09]),
                                                                      np.mean([0.2, 0.1, 0.09, 0.12])])
    assert rows[LOGGED_GAP] == pytest.approx([-0.3, np.mean([-0.3, -0.1, -0.05]), np.mean([-0.3, -0.1, -0.05, 0.02])])


def test_format_gaps_prints_an_aligned_table_with_signs():
    lines = format_gaps(mean_gaps(FOUR_EPOCHS))
    assert lines[0].split("  ")[-3:] == ["epoch 1", "epochs 1-3", "epochs 1-4"]
    assert lines[1].startswith("reason 2 (running mean)") and lines[1].split()[-3:] == ["-0.2000", "-0.1000",
                                                                                        "-0.0800"]
    assert lines[-1].startswith(LOGGED_GAP) and lines[-1].split()[-3] == "-0.3000"
    assert len({len(line) for line in lines}) == 1  # every column lines up


@pytest.mark.slow
def test_third_axes_stacks_the_terms_under_the_logged_gap_and_leaves_absent_families_out(diagnostics_run, tmp_path, monkeypatch, capsys):
    _, history_path, history = diagnostics_run
    axes = draw(history_path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    printed = capsys.readouterr().out
    assert [ax.get_title() for ax in axes] == ["Unshifted Loss Plot", "Shifted Loss Plot",
                                               "Gap val_loss - loss by Reason"]
    assert [list(line.get_xdata()) for line in axes[1].get_lines()] == [[-0.5, 0.5, 1.5], [0, 1, 2]]  # the post's
    terms = gap_terms(history)
    bars = {container.get_label(): [patch.get_height() for patch in container.patches]
            for container in axes[2].containers}
    assert list(bars) == MINIVGGNET_TERMS
    assert all(bars[name] == pytest.approx(list(terms[name])) for name in MINIVGGNET_TERMS)
    # positive parts stacked up from 0, negative parts down from 0: the top of each epoch's pile is the sum of its
    # positive terms
    for epoch in range(3):
        tops = [patch.get_y() + patch.get_height() for container in axes[2].containers
                for patch in [container.patches[epoch]] if patch.get_height() > 0]
        assert max(tops, default=0.0) == pytest.approx(sum(max(terms[name][epoch], 0.0) for name in TERM_NAMES))
    [logged] = [line for line in axes[2].get_lines() if line.get_label() == LOGGED_GAP]
    assert list(logged.get_ydata()) == pytest.approx([val_loss - loss for val_loss, loss in zip(history["val_loss"],
                                                                                                 history["loss"])])
    assert printed.splitlines()[0].endswith("epoch 1  epochs 1-3")
    reason_2 = next(line for line in printed.splitlines() if line.startswith("reason 2 (running mean)"))
    assert reason_2.split()[-2] == f"{terms['reason 2 (running mean)'][0]:+.4f}"


def test_a_history_recorded_with_four_terms_still_plots_them(tmp_path, monkeypatch, capsys):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps(TWO_EPOCHS))
    assert set(FOUR_TERM_KEYS) <= set(TWO_EPOCHS) and not set(DIAGNOSTIC_KEYS) <= set(TWO_EPOCHS)
    axes = draw(path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    printed = capsys.readouterr().out.splitlines()
    bars = {container.get_label(): [patch.get_height() for patch in container.patches]
            for container in axes[2].containers}
    assert list(bars) == FOUR_TERM_NAMES
    assert bars["batch-norm statistics"] == pytest.approx([-0.31, -0.16])  # inference - nodropout, as recorded
    assert [line.split("  ")[0] for line in printed[1:]] == FOUR_TERM_NAMES + [LOGGED_GAP]


def test_a_history_of_the_old_diagnostics_plots_as_the_posts_two_panels(tmp_path, monkeypatch, capsys):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5, 0.4], "val_loss": [0.3, 0.3], "train_inference_loss": [0.2, 0.1],
                                   "train_inference_accuracy": [0.9, 0.95], "val_dropout_loss": [0.4, 0.35]}))
    figure = draw(path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch)
    printed = capsys.readouterr().out
    assert [ax.get_title() for ax in figure.get_axes()] == ["Unshifted Loss Plot", "Shifted Loss Plot"]
    assert "mean over" not in printed and (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- reason 3: the split check ---

def planted_splits():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    validation = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    train_labels, validation_labels = np.arange(200) % 10, np.arange(50) % 10
    validation[3] = train[17]                      # exact duplicate, labels 3 and 7 differ
    validation[8] = train[42]                      # exact duplicate
    near = train[100].astype(int)
    near[0, :5] += np.where(near[0, :5] < 250, 5, -5)   # a few pixels off: RMS well under 0.02
    validation[20] = near.astype(np.uint8)
    validation_labels[20] = train_labels[100]
    train[150] = train[151]                        # a duplicate inside the training split
    return train, train_labels, validation, validation_labels


def test_split_check_finds_planted_exact_and_near_duplicates():
    report = check_split(*planted_splits(), threshold=0.02)
    assert report.exact_count == 2 and sorted(report.exact_pairs) == [(17, 3), (42, 8)]
    assert report.near_count == 1
    (train_index, validation_index, distance, agree), = report.near_pairs
    assert (train_index, validation_index, agree) == (100, 20, True) and 0 < distance < 0.02
    assert report.train_internal_duplicates == 1 and report.validation_internal_duplicates == 0
    assert report.train_class_counts == [20] * 10 and report.validation_class_counts == [5] * 10
    assert report.largest_class_share_difference == pytest.approx(0.0)


def test_split_check_reports_class_share_and_intensity():
    train, train_labels, validation, validation_labels = planted_splits()
    report = check_split(train, train_labels, validation // 2, np.zeros(50, dtype=int))
    assert report.largest_class_share_difference == pytest.approx(0.9)
    assert report.validation_intensity[0] == pytest.approx((validation // 2).mean() / 255)
    assert report.train_intensity[1] == pytest.approx((train / 255).std())


@pytest.fixture
def planted_split_dir(tmp_path):
    """planted_splits() as a --dataset-dir folder."""
    from pyimagesearch.datasets import write_idx_folder

    train, train_labels, validation, validation_labels = planted_splits()
    write_idx_folder(tmp_path / "data", (train, train_labels.astype(np.uint8)),
                     (validation, validation_labels.astype(np.uint8)))
    return tmp_path / "data"


@pytest.mark.slow
def test_check_split_flag_prints_the_report_lines(tmp_path, planted_split_dir):
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--epochs", 1, "--dataset-dir",
                        planted_split_dir, "--check-split")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    exact = next(line for line in lines if line.startswith("[INFO] exact duplicates across splits:"))
    near = next(line for line in lines if line.startswith("[INFO] near duplicates across splits:"))
    assert exact.startswith("[INFO] exact duplicates across splits: 2 ") and "train 17 = validation 3" in exact
    assert near.startswith("[INFO] near duplicates across splits: 1 ") and "labels agree" in near
    assert lines.index(near) < lines.index("[INFO] training model...")


def test_split_check_runs_alone_without_training(planted_split_dir):
    result = run_module("pyimagesearch.reasons.split_check", "--dataset-dir", planted_split_dir,
                        "--near-duplicate-threshold", "0.001")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("exact duplicates across splits: 2")
    assert "near duplicates across splits: 0 below RMS 0.001" in result.stdout
    assert "[INFO] training" not in result.stdout


def test_format_split_report_lines_start_with_the_documented_words():
    lines = format_split_report(check_split(*planted_splits()))
    assert [line.split(":")[0] for line in lines] == [
        "exact duplicates across splits", "near duplicates across splits", "duplicates within splits",
        "class counts", "pixel intensity (mean, std)"]
