"""plot_shift.py draws what the post draws: line data read back from the figure."""
import os
import pickle

import numpy as np
import pytest

from tests.conftest import draw, run_script

HISTORY = {"loss": [0.9, 0.5, 0.4, 0.35], "val_loss": [0.6, 0.45, 0.41, 0.38],
           "accuracy": [0.7, 0.8, 0.85, 0.87], "val_accuracy": [0.8, 0.84, 0.86, 0.87]}


def lines_of(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


@pytest.fixture
def history_file(tmp_path):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps(HISTORY))
    return path


def test_two_stacked_axes_with_the_posts_titles_and_labels(history_file, tmp_path, monkeypatch):
    figure = draw(history_file, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["Unshifted Loss Plot", "Shifted Loss Plot"]
    assert all(ax.get_xlabel() == "Epoch #" and ax.get_ylabel() == "Loss" for ax in axes)
    assert all([text.get_text() for text in ax.get_legend().get_texts()] == ["train_loss", "val_loss"] for ax in axes)
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_top_axes_draw_both_losses_at_whole_epochs_counted_from_one_as_keras_counts_them(history_file, tmp_path,
                                                                                        monkeypatch):
    top = lines_of(draw(history_file, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()[0])
    assert top["train_loss"] == ([1, 2, 3, 4], HISTORY["loss"])
    assert top["val_loss"] == ([1, 2, 3, 4], HISTORY["val_loss"])


def test_shifted_training_curve_starts_half_an_epoch_early(history_file, tmp_path, monkeypatch):
    bottom = lines_of(draw(history_file, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()[1])
    assert bottom["train_loss"] == ([0.5, 1.5, 2.5, 3.5], HISTORY["loss"])
    assert bottom["val_loss"] == ([1, 2, 3, 4], HISTORY["val_loss"])


def test_a_history_from_a_later_fit_is_numbered_from_where_it_started(tmp_path, monkeypatch):
    path = tmp_path / "fit-2.pickle"
    path.write_bytes(pickle.dumps(dict(HISTORY, epoch=[3, 4, 5, 6])))  # Keras's H.epoch of fit(initial_epoch=3)
    top = lines_of(draw(path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()[0])
    assert top["val_loss"] == ([4, 5, 6, 7], HISTORY["val_loss"])


def test_output_format_follows_the_extension(history_file, tmp_path, monkeypatch):
    draw(history_file, "--output", tmp_path / "plot.svg", monkeypatch=monkeypatch)
    assert b"<svg" in (tmp_path / "plot.svg").read_bytes()[:500]
    draw(history_file, "--output", tmp_path / "plot.pdf", monkeypatch=monkeypatch)
    assert (tmp_path / "plot.pdf").read_bytes().startswith(b"%PDF")


def test_without_display_or_output_it_saves_a_png_beside_the_input(history_file):
    result = run_script("plot_shift.py", "--input", history_file, env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stderr
    saved = history_file.with_suffix(".png")
    assert str(saved) in result.stdout
    import matplotlib.image

    # the post's two plots at matplotlib's default 6.4 x 4.8 inches and 100 dots an inch, with both curves' colours
    pixels = matplotlib.image.imread(saved)
    assert pixels.shape[:2] == (480, 640)
    colours = {tuple(pixel) for pixel in (pixels[..., :3] * 255).round().astype(int).reshape(-1, 3)}
    assert {(226, 74, 51), (52, 138, 189)} <= colours  # ggplot's first two colours: train_loss and val_loss
    assert not [name for name in os.listdir(history_file.parent) if name.startswith(".")]  # no temporary left


@pytest.mark.slow
@pytest.mark.backends
def test_draws_the_history_of_a_real_short_run(tmp_path, monkeypatch, small_dataset_dir):
    history = tmp_path / "training.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir", small_dataset_dir)
    assert result.returncode == 0, result.stderr
    recorded = pickle.loads(history.read_bytes())
    axes = draw(history, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    assert lines_of(axes[0])["train_loss"] == ([1, 2], recorded["loss"])
    assert lines_of(axes[1])["train_loss"] == ([0.5, 1.5], recorded["loss"])
    assert np.allclose(lines_of(axes[1])["val_loss"][1], recorded["val_loss"])


def test_a_single_epoch_is_drawn_as_points_and_the_shifted_panel_says_why_it_compares_nothing(tmp_path,
                                                                                            monkeypatch):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.9], "val_loss": [0.6]}))
    axes = draw(path, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    assert all(line.get_marker() == "o" for ax in axes for line in ax.get_lines())
    assert lines_of(axes[0]) == {"train_loss": ([1], [0.9]), "val_loss": ([1], [0.6])}
    assert lines_of(axes[1]) == {"train_loss": ([0.5], [0.9]), "val_loss": ([1], [0.6])}
    assert [text.get_text().split(":")[0] for text in axes[1].texts] == ["one epoch only"]
    assert not axes[0].texts


def test_several_epochs_are_drawn_as_the_posts_plain_lines(history_file, tmp_path, monkeypatch):
    axes = draw(history_file, "--output", tmp_path / "plot.png", monkeypatch=monkeypatch).get_axes()
    assert all(line.get_marker() == "None" for ax in axes for line in ax.get_lines())
    assert not any(ax.texts for ax in axes)
