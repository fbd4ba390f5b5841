"""Reasons 1-3 and the bonus, measured: the diagnostics callback and its measurements on models of every kind,
fashion_mnist.py --diagnostics, the third axes, the split check."""
import pickle
import re

import keras
import numpy as np
import pytest

from lossgap.callback import ReasonDiagnostics
from lossgap.families import (BY_NAME, DIAGNOSTIC_KEYS, training_only_layers, until_exit, use_moving_statistics,
                              zero_attributes)
from lossgap.gaps import ERROR_KEYS, LABELS, LOGGED_GAP, TERMS, gap_terms
from lossgap.measure import Passes, epoch_seeds, measure_epoch, training_sample
from pyimagesearch.minivggnet import MiniVGGNet
from pyimagesearch.runs.seeding import set_seed
from pyimagesearch.schedule import legacy_time_decay
from pyimagesearch.split_check import split_report
from tests.conftest import draw, run_module, run_script, train

TERM_IDS = [term.id for term in TERMS]
RECORDED = [*DIAGNOSTIC_KEYS, *ERROR_KEYS.values()]


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


def measured(model, training, batch_size=16, seed=3):
    """The measurements of `training` on `model` as it is, as the callback takes them at an epoch's end."""
    found = training_only_layers(model, training[0][:batch_size])
    return measure_epoch(Passes(model, batch_size), found, *training, epoch_seeds(model, seed, 0)).values


def switches(found, *families):
    return [switch for family in families for switch in found.switches[family]]


@pytest.mark.parametrize("build, build_without_dropout", [
    (minivggnet, lambda: minivggnet(dropout_scale=0)),
    (two_branch_model, lambda: two_branch_model(dropout_rate=0, noise=0)),
    (nested_classifier, lambda: nested_classifier(rate=0)),
], ids=["sequential-minivggnet", "functional-two-branches-focal-loss", "subclassed-nested"])
def test_each_measurement_switches_exactly_what_it_names(build, build_without_dropout):
    model, history, training, validation = fit_with_diagnostics(build)
    assert sorted(history) == sorted(["loss", "accuracy", "val_loss", "val_accuracy", *RECORDED])
    logs = measured(model, training)
    # dropout and noise off: the same as the twin network that has none, measured in training mode
    twin = measured(twin_without_dropout(model, build_without_dropout()), training)
    assert logs["train_end_nonoise_loss"] == pytest.approx(twin["train_end_loss"], rel=1e-6)
    assert logs["train_end_nonoise_loss"] == pytest.approx(twin["train_end_nonoise_loss"], rel=1e-6)
    assert abs(logs["train_end_loss"] - logs["train_end_nodropout_loss"]) > 1e-4  # this model drops something
    # inference mode: the compiled loss, as model.evaluate measures it
    evaluated = model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)
    assert logs["train_inference_loss"] == pytest.approx(evaluated["loss"], rel=1e-6)
    assert abs(logs["train_inference_loss"] - logs["train_end_noaugmentation_loss"]) > 1e-4  # batch-norm's statistics


def test_the_compiled_loss_is_used_not_cross_entropy():
    model, _, training, validation = fit_with_diagnostics(two_branch_model)
    logs = measured(model, training)
    predictions = model.predict(training[0], batch_size=16, verbose=0)
    focal = float(keras.ops.mean(keras.losses.CategoricalFocalCrossentropy()(training[1], predictions)))
    cross_entropy = float(keras.ops.mean(keras.losses.categorical_crossentropy(training[1], predictions)))
    assert logs["train_inference_loss"] == pytest.approx(focal, rel=1e-5)
    assert abs(focal - cross_entropy) > 0.1


def test_a_model_without_training_only_layers_is_measured_as_it_evaluates():
    model, history, training, _ = fit_with_diagnostics(plain_model, epochs=2)
    evaluated = model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert history["train_end_loss"][-1] == pytest.approx(evaluated, rel=1e-6)  # as training sees it: the same


def test_dropout_layers_and_batch_norm_are_found_in_nested_models():
    model = nested_classifier()
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    found = training_only_layers(model)
    assert [(type(layer).__name__, attribute) for layer, attribute in found.switches["dropout"]] == [
        ("Dropout", "rate")]
    assert [type(layer).__name__ for layer in found.switches["batch-norm"]] == ["BatchNormalization"]
    assert found.switches["noise"] == found.switches["augmentation"] == found.switches["other"] == []
    functional = training_only_layers(two_branch_model())
    assert [(type(layer).__name__, attribute) for layer, attribute in functional.switches["dropout"]] == [
        ("SpatialDropout2D", "rate")]
    assert [(type(layer).__name__, attribute) for layer, attribute in functional.switches["noise"]] == [
        ("GaussianNoise", "stddev")]


def test_gaussian_and_alpha_dropout_are_switched_off_like_dropout():
    def build():
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"), keras.layers.GaussianDropout(0.3),
                                  keras.layers.AlphaDropout(0.2), keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
        return model

    model, history, training, _ = fit_with_diagnostics(build, epochs=2)
    # no batch-norm: with both layers off, the model computes what model.evaluate computes
    evaluated = model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert history["train_end_nodropout_loss"][-1] == pytest.approx(evaluated, rel=1e-6)
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
        assert sorted(type(layer).__name__ for layer, _ in found.switches[family]) == [
            kind.__name__ for kind in families[family]]
    found_switches = switches(found, "dropout", "noise")
    assert {id(layer) for layer, _ in found_switches} == set(map(id, layers)) and found.switches["augmentation"] == []
    given = {id(layer): 0.1 * (index + 1) for index, layer in enumerate(layers)}
    assert all(getattr(layer, attribute) == pytest.approx(given[id(layer)]) for layer, attribute in found_switches)

    def in_training(layer):
        # a batch of ones with the layer's spatial axes (two for SpatialDropout2D) and channels
        spatial = re.search(r"(\d)D$", type(layer).__name__)
        dimensions = int(spatial.group(1)) if spatial else 1
        ones = np.ones((4,) + (8,) * dimensions + (16,), dtype="float32")
        return keras.ops.convert_to_numpy(layer(ones, training=True)), ones

    assert all(not np.array_equal(*in_training(layer)) for layer in layers)  # each one does something in training
    with until_exit(zero_attributes(found_switches)):
        assert [getattr(layer, attribute) for layer, attribute in found_switches] == [0] * len(layers)
        unchanged = [type(layer) for layer in layers if np.array_equal(*in_training(layer))]
    assert unchanged == kinds  # off, each passes its input through untouched
    assert all(getattr(layer, attribute) == pytest.approx(given[id(layer)]) for layer, attribute in found_switches)


def snapshot(model):
    """Weights, batch-norm statistics, seed generators, metric and optimizer variables, as numpy copies."""
    return [keras.ops.convert_to_numpy(variable).copy()
            for variable in model.variables + model.metrics_variables + model.optimizer.variables]


@pytest.mark.backends
def test_measuring_writes_no_weight_statistic_seed_metric_or_optimizer_variable():
    model, _, training, validation = fit_with_diagnostics(minivggnet)
    flags = [(layer.trainable, [weight.trainable for weight in layer.weights]) for layer in model.layers]
    rates = [getattr(layer, attribute) for layer, attribute in training_only_layers(model).switches["dropout"]]
    before = snapshot(model)
    measured(model, training)
    after = snapshot(model)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert [(layer.trainable, [weight.trainable for weight in layer.weights]) for layer in model.layers] == flags
    assert [getattr(layer, attribute) for layer, attribute in training_only_layers(model).switches["dropout"]] == \
        rates == [0.25, 0.25, 0.5]


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
    first, again = measured(model, training, seed=5), measured(model, training, seed=5)
    other = measured(model, training, seed=6)
    assert first == again
    assert first["train_end_loss"] != other["train_end_loss"]
    assert first["train_end_nodropout_loss"] == other["train_end_nodropout_loss"]  # nothing random left


def test_rates_and_batch_norm_flags_come_back_even_when_a_measurement_fails():
    model = two_branch_model()
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    found = training_only_layers(model)
    rates, batch_normalization = switches(found, "dropout", "noise"), found.switches["batch-norm"]
    with pytest.raises(RuntimeError), until_exit(zero_attributes(rates)), \
            until_exit(use_moving_statistics(batch_normalization)):
        assert [getattr(layer, attribute) for layer, attribute in rates] == [0, 0]
        assert not batch_normalization[0].trainable and not any(weight.trainable
                                                                for weight in batch_normalization[0].weights)
        raise RuntimeError("a measurement failed")
    assert sorted(getattr(layer, attribute) for layer, attribute in rates) == [0.2, 0.3]
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


# MiniVGGNet has dropout and batch-norm, and no noise, augmentation or layer of its own
MINIVGGNET_TERMS = ["running_mean", "dropout", "batch_norm", "generalization"]


@pytest.mark.slow
@pytest.mark.backends
def test_a_real_run_records_every_measurement_and_says_what_they_add_up_to(diagnostics_run):
    result, _, history = diagnostics_run
    assert sorted(history) == sorted(["loss", "accuracy", "val_loss", "val_accuracy", *RECORDED])
    assert all(len(values) == 3 and all(type(value) is float for value in values) for values in history.values())
    terms = gap_terms(history)
    for epoch in range(3):
        assert all(terms[name][epoch] != 0 for name in MINIVGGNET_TERMS)
        assert all(terms[name][epoch] == 0 for name in TERM_IDS if name not in MINIVGGNET_TERMS)
        assert all(history[ERROR_KEYS[name]][epoch] > 0 for name in MINIVGGNET_TERMS)
    assert re.search(r"\[INFO\] diagnostics took \d+\.\ds per epoch; training and validation took \d+\.\ds",
                     result.stdout)
    assert "[INFO] val_loss - loss split into its reasons:" in result.stdout
    assert "In epochs 1 to 3 the validation loss is " in result.stdout
    assert "training branch of their own" not in result.stdout


@pytest.mark.slow
def test_without_dropout_the_dropout_term_is_exactly_zero(tmp_path, small_dataset_dir):
    _, _, history = train(tmp_path, small_dataset_dir, "--dropout-scale", 0)
    assert list(gap_terms(history)["dropout"]) == [0.0, 0.0, 0.0]
    assert history["train_end_loss"] == history["train_end_nodropout_loss"]


@pytest.mark.slow
def test_third_axes_stacks_the_terms_under_the_logged_gap_and_leaves_absent_families_out(diagnostics_run, tmp_path,
                                                                                         monkeypatch, capsys):
    _, history_path, history = diagnostics_run
    axes = draw(history_path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    printed = capsys.readouterr().out
    assert [ax.get_title() for ax in axes] == ["Unshifted Loss Plot", "Shifted Loss Plot",
                                               "Gap val_loss - loss by Reason"]
    # the post's shift, with epochs counted from 1 as the table counts them
    assert [list(line.get_xdata()) for line in axes[1].get_lines()] == [[0.5, 1.5, 2.5], [1, 2, 3]]
    terms = gap_terms(history)
    bars = {container.get_label(): [patch.get_height() for patch in container.patches]
            for container in axes[2].containers}
    assert list(bars) == [LABELS[name] for name in MINIVGGNET_TERMS]
    assert all(bars[LABELS[name]] == pytest.approx(list(terms[name])) for name in MINIVGGNET_TERMS)
    assert [patch.get_x() + patch.get_width() / 2 for patch in axes[2].containers[0].patches] == [1, 2, 3]
    # positive parts stacked up from 0, negative parts down from 0: the top of each epoch's pile is the sum of its
    # positive terms
    for epoch in range(3):
        tops = [patch.get_y() + patch.get_height() for container in axes[2].containers
                for patch in [container.patches[epoch]] if patch.get_height() > 0]
        assert max(tops, default=0.0) == pytest.approx(sum(max(terms[name][epoch], 0.0) for name in TERM_IDS))
    [logged] = [line for line in axes[2].get_lines() if line.get_label() == LABELS[LOGGED_GAP]]
    assert list(logged.get_ydata()) == pytest.approx([val_loss - loss for val_loss, loss in zip(history["val_loss"],
                                                                                                 history["loss"])])
    assert printed.splitlines()[0].endswith("epoch 1  epochs 1-3")
    running_mean = next(line for line in printed.splitlines() if line.startswith(LABELS["running_mean"]))
    assert running_mean.split()[-2] == f"{terms['running_mean'][0]:+.4f}"
    assert f"[INFO] saved the figure to {tmp_path / 'plot.png'}" in printed


def test_a_history_of_the_old_diagnostics_plots_as_the_posts_two_panels(tmp_path, monkeypatch, capsys):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5, 0.4], "val_loss": [0.3, 0.3], "train_inference_loss": [0.2, 0.1],
                                   "train_inference_accuracy": [0.9, 0.95], "val_dropout_loss": [0.4, 0.35]}))
    figure = draw(path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch)
    printed = capsys.readouterr().out
    assert [ax.get_title() for ax in figure.get_axes()] == ["Unshifted Loss Plot", "Shifted Loss Plot"]
    assert "mean over" not in printed and (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- reason 3: the split check of Fashion-MNIST ---

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


def test_the_split_report_finds_planted_copies_and_compares_classes_and_pixels():
    lines, found = split_report(*planted_splits(), threshold=0.02)
    assert (found.exact, sorted(found.exact_pairs), found.near) == (2, [(17, 3), (42, 8)], 1)
    [(train_index, validation_index, distance)] = found.near_pairs
    # five pixels off by 5 of 255: RMS sqrt(5 * (5/255)**2 / 784)
    assert (train_index, validation_index) == (100, 20) and distance == pytest.approx(np.sqrt(5 / 784) * 5 / 255,
                                                                                      rel=1e-4)
    assert lines[1] == "duplicates within splits: train 1, test 0"
    assert lines[2].endswith("largest difference in class share 0.00%")
    train, train_labels, validation, _ = planted_splits()
    halved, _ = split_report(train, train_labels, validation // 2, np.zeros(50, dtype=int))
    assert halved[2].endswith("largest difference in class share 90.00%")
    assert f"test {(validation // 2).mean() / 255:.4f}" in halved[3]


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
    across = next(line for line in lines if line.startswith("[INFO] across the splits:"))
    assert across.startswith("[INFO] across the splits: 2 of 50 test examples are exact copies of training examples "
                             "and 1 more are near copies") and "test 3 = training 17" in across
    assert lines.index(across) < lines.index("[INFO] training model...")


def test_split_check_runs_alone_without_training(planted_split_dir):
    result = run_module("pyimagesearch.split_check", "--dataset-dir", planted_split_dir,
                        "--near-duplicate-threshold", "0.001")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("across the splits: 2 of 50 test examples are exact copies of training examples "
                                    "and 0 more are near copies (within 0.001 RMS pixel difference on [0, 1])")
    assert "[INFO] training" not in result.stdout


# --- what the measurement promises on models that leave the ordinary ---

def dense_model(layers, compile_loss="categorical_crossentropy"):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), *layers,
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss=compile_loss, optimizer=keras.optimizers.SGD(0.05), metrics=["accuracy"])
    return model


@pytest.mark.backends
def test_weight_penalties_are_in_every_measurement_and_named_with_what_they_add():
    def build():
        return dense_model([keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(0.01)),
                            keras.layers.Dropout(0.3)])

    model, history, training, _ = fit_with_diagnostics(build, epochs=2)
    kernel = keras.ops.convert_to_numpy(model.layers[1].kernel)
    penalty = 0.01 * float(np.sum(kernel.astype(np.float64) ** 2))  # l2(0.01), worked out from the final weights
    assert history["train_inference_penalty"][-1] == pytest.approx(penalty, rel=1e-5)
    # the inference measurement holds it, as model.evaluate's loss does
    evaluated = model.evaluate(*training, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert history["train_inference_loss"][-1] == pytest.approx(evaluated, rel=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a plain tf.Variable is TensorFlow's")
def test_a_layers_own_tf_variable_is_left_as_training_left_it():
    import tensorflow as tf

    class Counting(keras.layers.Layer):
        """Counts the examples it has seen in a plain tf.Variable, and adds a running mean of its inputs."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = tf.Variable(0.0, trainable=False)
            self.total = tf.Variable(0.0, trainable=False)

        def call(self, inputs, training=None):
            if training:
                self.seen.assign_add(tf.cast(tf.shape(inputs)[0], tf.float32))
                self.total.assign_add(tf.reduce_sum(inputs))
            return inputs + self.total / tf.maximum(self.seen, 1.0) / 1000.0

    def run(callback):
        set_seed(0)
        layer = Counting()
        model = dense_model([layer, keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.3)])
        images, targets = random_images(0, 128)
        callbacks = [ReasonDiagnostics((images[:88], targets[:88]), (images[88:], targets[88:]), batch_size=16,
                                       seed=3)] if callback else []
        history = model.fit(images[:88], targets[:88], validation_data=(images[88:], targets[88:]), batch_size=16,
                            epochs=2, verbose=0, callbacks=callbacks).history
        return history, float(layer.seen.numpy()), float(layer.total.numpy())

    with_callback, seen, total = run(True)
    without, seen_alone, total_alone = run(False)
    assert (seen, total) == (seen_alone, total_alone) and seen == 2 * 88  # training's own counts only
    assert with_callback["loss"] == without["loss"] and with_callback["val_loss"] == without["val_loss"]


class NoisyTrainStep(keras.Sequential):
    """Adds noise to the inputs in a train_step of its own, as Keras's guide to customizing fit() shows."""

    def train_step(self, data):
        images, targets = data
        return super().train_step((images + keras.random.normal(keras.ops.shape(images), stddev=0.3, seed=1), targets))


def softmax_on_pixels(kind):
    """A builder of the smallest classifier as a Sequential subclass `kind`, compiled."""
    def build():
        model = kind([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
        return model
    return build


def test_a_model_with_its_own_train_step_is_not_split_and_says_why(capsys):
    _, history, _, _ = fit_with_diagnostics(softmax_on_pixels(NoisyTrainStep), epochs=2)
    assert sorted(history) == ["loss", "val_loss"]
    assert capsys.readouterr().out == (
        "[INFO] ReasonDiagnostics: not measured: the model trains with a train_step of its own "
        "(NoisyTrainStep.train_step), whose training loss the measurement cannot repeat\n")


class ShiftedValidation(keras.Sequential):
    """Validates on its inputs shifted by 1 in a test_step of its own (the pattern of Keras's guide to customizing
    evaluate()): its val_loss is not the loss of the model on the validation data."""

    def test_step(self, data):
        images, targets = data
        predictions = self(images + 1.0, training=False)
        loss = self.compute_loss(x=images, y=targets, y_pred=predictions, training=False)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(targets, predictions)
        return {metric.name: metric.result() for metric in self.metrics}


def test_a_val_loss_the_measurement_does_not_reproduce_is_not_split_and_says_by_how_much(capsys):
    _, history, _, _ = fit_with_diagnostics(softmax_on_pixels(ShiftedValidation), epochs=2)
    assert sorted(history) == ["loss", "val_loss"]
    printed = capsys.readouterr().out
    measured, logged = (float(number) for number in re.findall(r"loss of (\S+) where Keras logged val_loss (\S+),",
                                                               printed)[0])
    assert logged == pytest.approx(history["val_loss"][0], abs=1e-4)
    assert abs(measured - logged) > 0.01
    assert printed.startswith("[INFO] ReasonDiagnostics: not measured: its own inference pass over the 40 validation "
                              "examples gives a loss of ")
