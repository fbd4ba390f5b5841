"""Reasons 1-3 and the bonus, measured: the diagnostics callback, the gap table, the third axes, the split check."""
import os
import pickle
import runpy
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from pyimagesearch.diagnostics import ReasonDiagnostics, training_sample
from pyimagesearch.gaps import mean_gaps, shifted_training_at_validation_points
from pyimagesearch.history import DIAGNOSTIC_KEYS
from pyimagesearch.minivggnet import MiniVGGNet
from pyimagesearch.schedule import legacy_time_decay
from pyimagesearch.split_check import check_split, format_split_report
from tests.conftest import ROOT, run_script


# --- reasons 1 and 2: the diagnostics callback ---

def small_model_and_data(seed=0, count=64):
    rng = np.random.default_rng(seed)
    images = rng.random((count, 28, 28, 1), dtype=np.float32)
    targets = keras.utils.to_categorical(rng.integers(0, 10, count), 10)
    model = MiniVGGNet.build(28, 28, 1, 10)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(learning_rate=legacy_time_decay(0.01, 0.0004), momentum=0.9))
    model.fit(images, targets, batch_size=16, epochs=1, verbose=0)
    return model, images, targets


def snapshot(model):
    return [keras.ops.convert_to_numpy(variable).copy() for variable in model.variables + model.optimizer.variables]


def test_measuring_changes_no_weight_statistic_or_optimizer_state():
    model, images, targets = small_model_and_data()
    diagnostics = ReasonDiagnostics(images, targets, images, targets, batch_size=20, seed=3)
    diagnostics.set_model(model)
    before = snapshot(model)
    logs = {}
    diagnostics.on_epoch_end(0, logs)
    after = snapshot(model)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert sorted(logs) == sorted(DIAGNOSTIC_KEYS)


def test_inference_measurement_equals_keras_evaluate():
    model, images, targets = small_model_and_data()
    diagnostics = ReasonDiagnostics(images, targets, images, targets, batch_size=20)
    diagnostics.set_model(model)
    loss, accuracy = diagnostics.measure(images, targets, dropout=False)
    evaluated = model.evaluate(images, targets, batch_size=20, verbose=0, return_dict=True)
    assert loss == pytest.approx(evaluated["loss"], rel=1e-4)
    assert accuracy == pytest.approx(evaluated["accuracy"], abs=1e-6)


def test_dropout_measurement_drops_and_differs_from_inference():
    model, images, targets = small_model_and_data()
    diagnostics = ReasonDiagnostics(images, targets, images, targets, batch_size=20, seed=1)
    diagnostics.set_model(model)
    with_dropout = diagnostics.measure(images, targets, dropout=True)[0]
    assert with_dropout != pytest.approx(diagnostics.measure(images, targets, dropout=False)[0], rel=1e-3)
    # with every dropout rate at zero the two measurements agree
    none = MiniVGGNet.build(28, 28, 1, 10, dropout_scale=0)
    none.set_weights(model.get_weights())
    diagnostics.set_model(none)
    assert diagnostics.measure(images, targets, dropout=True)[0] == pytest.approx(
        diagnostics.measure(images, targets, dropout=False)[0], rel=1e-5)


def test_training_sample_is_fixed_by_the_seed_and_zero_means_all():
    first, second = training_sample(60000, 10000, seed=5), training_sample(60000, 10000, seed=5)
    assert np.array_equal(first, second) and len(np.unique(first)) == 10000
    assert not np.array_equal(first, training_sample(60000, 10000, seed=6))
    assert np.array_equal(training_sample(300, 0), np.arange(300))
    assert np.array_equal(training_sample(300, 1000), np.arange(300))


@pytest.fixture(scope="module")
def diagnostics_run(tmp_path_factory, small_dataset_dir):
    history = tmp_path_factory.mktemp("diagnostics") / "training.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir", small_dataset_dir,
                        "--diagnostics", "--diagnostics-size", 200, "--seed", 1)
    assert result.returncode == 0, result.stderr
    with open(history, "rb") as file:
        return result, history, pickle.load(file)


def test_diagnostics_run_records_the_extra_keys_per_epoch(diagnostics_run):
    _, _, history = diagnostics_run
    assert sorted(history) == sorted(["loss", "accuracy", "val_loss", "val_accuracy", *DIAGNOSTIC_KEYS])
    assert all(len(values) == 2 and all(type(value) is float for value in values) for values in history.values())
    # measured at epoch end in inference mode, the training loss is not the running mean Keras logs
    assert all(abs(a - b) > 1e-4 for a, b in zip(history["train_inference_loss"], history["loss"]))
    assert all(abs(a - b) > 1e-4 for a, b in zip(history["val_dropout_loss"], history["val_loss"]))
    assert "[INFO] diagnostics took" in diagnostics_run[0].stdout


# --- the gap table and the third axes ---

def test_shifted_training_is_interpolated_at_the_validation_points():
    # training drawn at -0.5, 0.5, 1.5: at validation points 0 and 1 it is halfway between neighbours
    assert np.allclose(shifted_training_at_validation_points([1.0, 0.6, 0.4]), [0.8, 0.5])


def test_mean_gaps_for_each_view():
    history = {"loss": [1.0, 0.6, 0.4], "val_loss": [0.7, 0.5, 0.45], "train_inference_loss": [0.8, 0.5, 0.4],
               "train_inference_accuracy": [0.7, 0.8, 0.9], "val_dropout_loss": [1.1, 0.7, 0.5]}
    gaps = dict(mean_gaps(history))
    assert gaps["as logged"] == pytest.approx(np.mean([-0.3, -0.1, 0.05]))
    assert gaps["training shifted half an epoch (reason 2)"] == pytest.approx(np.mean([0.7 - 0.8, 0.5 - 0.5]))
    assert gaps["training in inference mode (reasons 1 and 2)"] == pytest.approx(np.mean([-0.1, 0.0, 0.05]))
    assert gaps["validation with dropout (reason 1)"] == pytest.approx(np.mean([0.1, 0.1, 0.1]))
    assert len(mean_gaps({"loss": [1.0], "val_loss": [0.5]})) == 2  # no diagnostics: two views only


def draw(history_path, output, monkeypatch, capsys):
    plt.close("all")
    monkeypatch.setattr(sys, "argv", ["plot_shift.py", "--input", str(history_path), "--output", str(output)])
    runpy.run_path(os.path.join(ROOT, "plot_shift.py"), run_name="__main__")
    return plt.gcf(), capsys.readouterr().out


def test_third_axes_draws_the_diagnostics_against_the_logged_losses(diagnostics_run, tmp_path, monkeypatch,
                                                                    capsys):
    _, history_path, history = diagnostics_run
    figure, printed = draw(history_path, tmp_path / "plot.png", monkeypatch, capsys)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["Unshifted Loss Plot", "Shifted Loss Plot", "Losses Measured at Epoch End"]
    lines = {line.get_label(): list(line.get_ydata()) for line in axes[2].get_lines()}
    assert lines == {"train_loss": history["loss"], "val_loss": history["val_loss"],
                     "train_inference_loss": history["train_inference_loss"],
                     "val_dropout_loss": history["val_dropout_loss"]}
    assert [list(line.get_xdata()) for line in axes[1].get_lines()] == [[-0.5, 0.5], [0, 1]]  # the post's axes stay
    assert "as logged" in printed and "validation with dropout (reason 1)" in printed


def test_without_diagnostics_the_figure_is_the_posts(tmp_path, monkeypatch, capsys):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5, 0.4], "val_loss": [0.3, 0.3]}))
    figure, printed = draw(path, tmp_path / "plot.png", monkeypatch, capsys)
    assert [ax.get_title() for ax in figure.get_axes()] == ["Unshifted Loss Plot", "Shifted Loss Plot"]
    assert "mean gap" not in printed


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


def test_check_split_flag_prints_the_report_lines(tmp_path):
    from pyimagesearch.datasets import write_idx_folder

    train, train_labels, validation, validation_labels = planted_splits()
    write_idx_folder(tmp_path / "data", (train, train_labels.astype(np.uint8)),
                     (validation, validation_labels.astype(np.uint8)))
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--epochs", 1, "--dataset-dir",
                        tmp_path / "data", "--check-split")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    exact = next(line for line in lines if line.startswith("[INFO] exact duplicates across splits:"))
    near = next(line for line in lines if line.startswith("[INFO] near duplicates across splits:"))
    assert exact.startswith("[INFO] exact duplicates across splits: 2 ") and "train 17 = validation 3" in exact
    assert near.startswith("[INFO] near duplicates across splits: 1 ") and "labels agree" in near
    assert lines.index(near) < lines.index("[INFO] training model...")


def test_split_check_runs_alone_without_training(tmp_path):
    import subprocess

    from pyimagesearch.datasets import write_idx_folder

    train, train_labels, validation, validation_labels = planted_splits()
    write_idx_folder(tmp_path / "data", (train, train_labels.astype(np.uint8)),
                     (validation, validation_labels.astype(np.uint8)))
    result = subprocess.run([sys.executable, "-m", "pyimagesearch.split_check", "--dataset-dir", str(tmp_path / "data"),
                             "--near-duplicate-threshold", "0.001"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("exact duplicates across splits: 2")
    assert "near duplicates across splits: 0 below RMS 0.001" in result.stdout
    assert "[INFO] training" not in result.stdout


def test_format_split_report_lines_start_with_the_documented_words():
    lines = format_split_report(check_split(*planted_splits()))
    assert [line.split(":")[0] for line in lines] == [
        "exact duplicates across splits", "near duplicates across splits", "duplicates within splits",
        "class counts", "pixel intensity (mean, std)"]
