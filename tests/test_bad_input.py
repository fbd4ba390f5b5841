"""Bad input: one clear line naming the problem, a non-zero exit, no traceback, nothing written or overwritten."""
import gzip
import os
import pickle
import shutil

import pytest

from pyimagesearch import datasets
from pyimagesearch.runs.errors import UserError
from tests.conftest import run_script

PREVIOUS = b"the user's earlier history"


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


# --- fashion_mnist.py flags: argparse's own message and exit 2, before TensorFlow is loaded ---

@pytest.mark.parametrize("flag", ["--epochs", "--batch-size", "--train-size", "--test-size"])
@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_counts_that_are_not_positive_integers_are_refused_by_argparse(flag, value, tmp_path):
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", flag, value)
    assert_refused(result, flag, value, exit_code=2)
    assert not (tmp_path / "h.pickle").exists()


@pytest.mark.parametrize("value", ["-1", "4294967296", "1.5", "seven"])
def test_seeds_outside_0_to_2_to_the_32_minus_1_are_refused_by_argparse(value, tmp_path):
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--seed", value)
    assert_refused(result, "--seed", value, exit_code=2)


def test_the_largest_and_smallest_seeds_are_taken():
    from pyimagesearch.runs.flags import seed

    assert (seed("0"), seed("4294967295")) == (0, 2**32 - 1)


def test_history_is_required():
    assert_refused(run_script("fashion_mnist.py"), "--history", exit_code=2)


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


def test_missing_dataset_dir_is_named(tmp_path):
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--dataset-dir", tmp_path / "nope")
    assert_refused(result, "nope", "does not exist")


def test_incomplete_dataset_dir_names_the_missing_file(synthetic_dataset_dir, tmp_path):
    os.remove(synthetic_dataset_dir / "t10k-labels-idx1-ubyte.gz")
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--dataset-dir", synthetic_dataset_dir)
    assert_refused(result, "t10k-labels-idx1-ubyte.gz")


@pytest.mark.parametrize("damage", ["not gzip", "truncated body", "bad header", "truncated gzip"])
def test_corrupt_dataset_file_is_named_and_the_old_history_kept(damage, synthetic_dataset_dir, tmp_path):
    target = synthetic_dataset_dir / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(target.read_bytes())
    if damage == "not gzip":
        target.write_bytes(b"<html>404</html>")
    elif damage == "truncated body":
        target.write_bytes(gzip.compress(raw[:-100]))
    elif damage == "bad header":
        target.write_bytes(gzip.compress(b"\x00\x00\x09\x99" + raw[4:]))
    else:
        target.write_bytes(target.read_bytes()[:60])
    history = tmp_path / "h.pickle"
    history.write_bytes(PREVIOUS)
    result = run_script("fashion_mnist.py", "--history", history, "--dataset-dir", synthetic_dataset_dir)
    assert_refused(result, "train-images-idx3-ubyte.gz")
    assert history.read_bytes() == PREVIOUS


def test_labels_that_do_not_match_the_images_are_named(synthetic_dataset_dir, tmp_path):
    shutil.copy(synthetic_dataset_dir / "t10k-labels-idx1-ubyte.gz", synthetic_dataset_dir / "train-labels-idx1-ubyte.gz")
    result = run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--dataset-dir", synthetic_dataset_dir)
    assert_refused(result, "train-labels-idx1-ubyte.gz", "10 labels for 30 images")


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
