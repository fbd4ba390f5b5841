"""Bad input: one clear line naming the problem, a non-zero exit, no traceback, nothing written or overwritten.

The checks themselves (flag types, the data reader) run in this process; a few runs of each script show that
their refusals reach the user as one line, before anything slow."""
import argparse
import gzip
import os
import pickle
import shutil

import numpy as np
import pytest

from pyimagesearch import datasets
from pyimagesearch.datasets import read_idx_folder, write_idx_folder
from lossgap.errors import UserError
from lossgap.arguments import non_negative_int, positive_float, positive_int, seed
from pyimagesearch.runs.flags import dropout_scale
from tests.conftest import run_script

PREVIOUS = pickle.dumps({"loss": [0.5, 0.4], "val_loss": [0.45, 0.42]})  # an earlier run's history


def assert_refused(result, *words, exit_code=1):
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if exit_code == 2:
        assert "usage:" in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")
                   or "error:" in line and exit_code == 2]
    assert len(error_lines) == 1, result.stderr
    for word in words:
        assert word in error_lines[0], error_lines[0]


# --- the flag types: each bad value refused with its reason, each good one read ---

@pytest.mark.parametrize("kind, text, message", [
    (positive_int, "0", "'0' is not positive"),
    (positive_int, "-3", "'-3' is not positive"),
    (positive_int, "2.5", "'2.5' is not a whole number"),
    (positive_int, "many", "'many' is not a whole number"),
    (non_negative_int, "-1", "'-1' is not zero or more"),
    (seed, "-1", "'-1' is not a seed from 0 to 4294967295"),
    (seed, "4294967296", "'4294967296' is not a seed from 0 to 4294967295"),
    (seed, "1.5", "'1.5' is not a whole number"),
    (seed, "seven", "'seven' is not a whole number"),
    (positive_float, "0", "'0' is not a positive finite number"),
    (positive_float, "-1e-3", "'-1e-3' is not a positive finite number"),
    (positive_float, "inf", "'inf' is not a positive finite number"),
    (positive_float, "nan", "'nan' is not a positive finite number"),
    (positive_float, "fast", "'fast' is not a number"),
    (dropout_scale, "2", "'2' is outside [0, 2): the largest rate, 0.5 x scale, must stay below 1"),
    (dropout_scale, "-0.1", "'-0.1' is outside [0, 2)"),
    (dropout_scale, "half", "'half' is not a number"),
], ids=lambda value: getattr(value, "__name__", value))
def test_a_bad_value_is_refused_with_its_reason(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        kind(text)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("kind, text, value", [
    (positive_int, "1", 1), (positive_int, "60000", 60000), (non_negative_int, "0", 0), (seed, "0", 0),
    (seed, "4294967295", 2**32 - 1), (positive_float, "1e-3", 1e-3), (positive_float, "1e30", 1e30),
    (dropout_scale, "0", 0.0), (dropout_scale, "1.99", 1.99),
], ids=lambda value: getattr(value, "__name__", value))
def test_the_values_at_each_edge_are_taken(kind, text, value):
    assert kind(text) == value


# --- fashion_mnist.py's parser: each flag has its type, and argparse names flag and value (exit 2) ---

def parse_training_flags(*flags):
    """fashion_mnist.py's flags, parsed as it parses them: the post's --history and every other setting."""
    import argparse

    from pyimagesearch.runs.flags import add_run_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("-i", "--history", required=True)
    return add_run_flags(parser).parse_args(list(flags))


@pytest.mark.parametrize("flag, value, message", [
    (flag, value, f"'{value}' is not positive")
    for flag in ("--epochs", "--batch-size", "--train-size", "--test-size") for value in ("0", "-3")
] + [
    ("--epochs", "2.5", "'2.5' is not a whole number"),
    ("--seed", "4294967296", "'4294967296' is not a seed from 0 to 4294967295"),
    ("--lr", "-1", "'-1' is not a positive finite number"),
    ("--dropout-scale", "2", "'2' is outside [0, 2): the largest rate, 0.5 x scale, must stay below 1"),
    ("--diagnostics-size", "-1", "'-1' is not zero or more"),
    ("--near-duplicate-threshold", "0", "'0' is not a positive finite number"),
])
def test_each_training_flag_refuses_a_bad_value_naming_flag_and_value(flag, value, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_training_flags("--history", "h.pickle", flag, value)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: argument {flag}: {message}")


def test_the_training_flags_default_to_the_posts_settings():
    args = parse_training_flags("--history", "h.pickle")
    assert (args.epochs, args.batch_size, args.lr, args.seed, args.dropout_scale) == (25, 32, 0.01, None, 1.0)
    assert (args.train_size, args.test_size, args.diagnostics_size) == (None, None, 5000)


def test_history_is_required(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_training_flags("--epochs", "1")
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "error: the following arguments are required: -i/--history")


@pytest.mark.parametrize("flags, words", [(["--epochs", "0"], ["--epochs", "'0' is not positive"]),
                                          (["--seed", "-1"], ["--seed", "'-1'"]),
                                          ([], ["required", "--history"])], ids=["epochs", "seed", "no history"])
def test_a_bad_flag_stops_the_script_with_argparses_one_line_before_anything_is_written(flags, words, tmp_path):
    history = ["--history", tmp_path / "h.pickle"] if flags else []
    result = run_script("fashion_mnist.py", *history, *flags)
    assert_refused(result, *words, exit_code=2)
    assert result.stdout == "" and os.listdir(tmp_path) == []


# --- fashion_mnist.py paths: one line of ours, refused before data is loaded ---

def test_history_in_a_missing_folder_is_refused_before_loading(tmp_path):
    result = run_script("fashion_mnist.py", "--history", tmp_path / "absent" / "h.pickle")
    assert_refused(result, "absent", "does not exist")
    assert "[INFO] loading" not in result.stdout


def test_history_in_an_unwritable_folder_is_refused_before_loading():
    # /proc takes no new file, not even from root (which a chmod'ed folder would not stop)
    result = run_script("fashion_mnist.py", "--history", "/proc/h.pickle")
    assert_refused(result, "/proc/h.pickle", "cannot write")
    assert "[INFO] loading" not in result.stdout


def test_history_that_is_a_folder_is_refused(tmp_path):
    assert_refused(run_script("fashion_mnist.py", "--history", tmp_path), "is a folder")


# --- the data reader: every problem with a --dataset-dir folder is one UserError naming the folder or file ---

def refusal(folder):
    """The message of the UserError that reading the dataset folder `folder` raises."""
    with pytest.raises(UserError) as refused:
        read_idx_folder(str(folder))
    return str(refused.value)


def test_a_missing_dataset_folder_is_named(tmp_path):
    assert refusal(tmp_path / "nope") == f"dataset folder {str(tmp_path / 'nope')!r} does not exist"


def test_an_incomplete_dataset_folder_names_each_missing_file(synthetic_dataset_dir):
    os.remove(synthetic_dataset_dir / "t10k-labels-idx1-ubyte.gz")
    os.remove(synthetic_dataset_dir / "train-images-idx3-ubyte.gz")
    assert refusal(synthetic_dataset_dir) == (f"dataset folder {str(synthetic_dataset_dir)!r} lacks "
                                              "train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz")


def damage(path, how):
    """Spoil the gzipped IDX file at `path` as a failed download or a bad disk would."""
    raw = gzip.decompress(path.read_bytes())
    if how == "not gzip":
        path.write_bytes(b"<html>404</html>")
    elif how == "truncated gzip":
        path.write_bytes(path.read_bytes()[:60])
    elif how == "bad magic":
        path.write_bytes(gzip.compress(b"\x00\x00\x09\x99" + raw[4:]))
    elif how == "short header":
        path.write_bytes(gzip.compress(raw[:6]))
    elif how == "truncated body":
        path.write_bytes(gzip.compress(raw[:-100]))
    elif how == "body too long":
        path.write_bytes(gzip.compress(raw + b"\x00"))


@pytest.mark.parametrize("how, message", [
    ("not gzip", "is not a readable gzip file (Not a gzipped file"),
    ("truncated gzip", "is not a readable gzip file (Compressed file ended before the end-of-stream marker"),
    ("bad magic", "is not an IDX file of unsigned bytes (bad header)"),
    ("short header", "is not an IDX file of unsigned bytes (bad header)"),
    ("truncated body", "is truncated or corrupt: its header promises (30, 28, 28), its body does not match"),
    ("body too long", "is truncated or corrupt: its header promises (30, 28, 28), its body does not match"),
])
def test_a_corrupt_dataset_file_is_named_with_what_is_wrong(how, message, synthetic_dataset_dir):
    path = synthetic_dataset_dir / "train-images-idx3-ubyte.gz"
    damage(path, how)
    assert refusal(synthetic_dataset_dir).startswith(f"{path} {message}")


@pytest.mark.parametrize("replaced, message", [
    ("train-labels-idx1-ubyte.gz", "holds 10 labels for 30 images"),
    ("t10k-images-idx3-ubyte.gz", "or its labels file has the wrong shape"),
], ids=["10 labels for 30 images", "labels for images"])
def test_the_test_labels_copied_over_another_file_are_named_with_what_does_not_fit(replaced, message,
                                                                                    synthetic_dataset_dir):
    shutil.copy(synthetic_dataset_dir / "t10k-labels-idx1-ubyte.gz", synthetic_dataset_dir / replaced)
    assert refusal(synthetic_dataset_dir) == f"{synthetic_dataset_dir / replaced} {message}"


def test_a_label_outside_the_ten_classes_is_named(tmp_path):
    images, labels = np.zeros((3, 28, 28), dtype=np.uint8), np.array([0, 1, 10], dtype=np.uint8)
    write_idx_folder(tmp_path / "data", (images, labels), (images, np.zeros(3, dtype=np.uint8)))
    assert refusal(tmp_path / "data") == f"{tmp_path / 'data' / 'train-labels-idx1-ubyte.gz'} has a label outside 0-9"


def test_a_corrupt_dataset_file_stops_the_script_in_one_line_and_keeps_the_old_history(synthetic_dataset_dir,
                                                                                      tmp_path):
    damage(synthetic_dataset_dir / "train-images-idx3-ubyte.gz", "truncated body")
    history = tmp_path / "h.pickle"
    history.write_bytes(PREVIOUS)
    result = run_script("fashion_mnist.py", "--history", history, "--dataset-dir", synthetic_dataset_dir)
    assert_refused(result, "train-images-idx3-ubyte.gz", "truncated or corrupt")
    assert history.read_bytes() == PREVIOUS


def test_no_data_and_no_network_says_how_to_get_it(tmp_path, monkeypatch):
    from keras.datasets import fashion_mnist

    def offline():
        raise Exception("URL fetch failure on https://example.invalid: None -- [Errno -3] Temporary failure")

    monkeypatch.setattr(fashion_mnist, "load_data", offline)
    with pytest.raises(UserError) as caught:
        datasets.load_fashion_mnist(debian_dir=str(tmp_path / "no-package"))
    message = str(caught.value)
    assert "download failed" in message and "URL fetch failure" in message
    assert "apt-get install dataset-fashion-mnist" in message and "--dataset-dir" in message
    assert "\n" not in message


# --- plot_shift.py: every broken history is one line naming the file ---

def write(path, data):
    path.write_bytes(data)
    return path


GOOD = {"loss": [0.5, 0.4], "val_loss": [0.3, 0.3]}


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


BROKEN = {
    "empty": (b"", "is empty"),
    "not a pickle": (b"epoch,loss\n1,0.5\n", "not a complete pickle"),
    "truncated": (pickle.dumps(GOOD)[:-7], "not a complete pickle"),
    "not a dict": (pickle.dumps([0.5, 0.4]), "holds a list"),
    "no loss": (pickle.dumps({"val_loss": [0.3]}), "no 'loss'"),
    "no val_loss": (pickle.dumps({"loss": [0.3]}), "no 'val_loss'"),
    "different lengths": (pickle.dumps({"loss": [0.5, 0.4, 0.3], "val_loss": [0.3, 0.3]}), "different lengths"),
    "zero epochs": (pickle.dumps({"loss": [], "val_loss": []}), "zero epochs"),
    "not numbers": (pickle.dumps({"loss": [0.5, "0.4"], "val_loss": [0.3, 0.3]}), "epoch 2 is '0.4'"),
    "not a list": (pickle.dumps({"loss": 0.5, "val_loss": [0.3]}), "not a list of numbers"),
    "code": (pickle.dumps({"loss": [0.5], "val_loss": [Exploit()]}), "refused: it names posix.system"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_history_is_refused_in_one_line(case, tmp_path):
    data, words = BROKEN[case]
    history = write(tmp_path / "training.pickle", data)
    result = run_script("plot_shift.py", "--input", history, "--output", tmp_path / "plot.png", cwd=tmp_path)
    assert_refused(result, str(history), words)
    assert not (tmp_path / "plot.png").exists()
    assert not (tmp_path / "pwned").exists()  # the crafted pickle ran nothing
    assert os.listdir(tmp_path) == ["training.pickle"]


def test_missing_history_is_named(tmp_path):
    assert_refused(run_script("plot_shift.py", "--input", tmp_path / "absent.pickle"), "absent.pickle", "No such file")


def test_unknown_output_format_is_refused_before_drawing(tmp_path):
    history = write(tmp_path / "training.pickle", pickle.dumps(GOOD))
    result = run_script("plot_shift.py", "--input", history, "--output", tmp_path / "plot.xyz")
    assert_refused(result, "plot.xyz", ".png")
    assert not (tmp_path / "plot.xyz").exists()


def test_output_in_a_missing_folder_is_refused(tmp_path):
    history = write(tmp_path / "training.pickle", pickle.dumps(GOOD))
    result = run_script("plot_shift.py", "--input", history, "--output", tmp_path / "absent" / "plot.png")
    assert_refused(result, "absent", "does not exist")


def test_input_is_required():
    assert_refused(run_script("plot_shift.py"), "--input", exit_code=2)
