"""A stopped run goes on as if it had never stopped: a seeded fashion_mnist.py run stopped after an epoch (Ctrl-C,
SIGTERM or SIGKILL) and run again holds, epoch by epoch, the history and the weights of the same run without the
stop, with and without --augment and --diagnostics; and a file that is not a history is never replaced by one."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, load_pickle, run_script
from tests.test_interruptions import start, wait_for_epochs

EPOCHS = 3


def stop(history, dataset_dir, flags, after, how=signal.SIGTERM):
    """Run (or resume) the seeded run writing `history` and stop it with `how` once `after` epochs are backed up."""
    process = start(history, dataset_dir, "--seed", 5, *flags, epochs=EPOCHS)
    wait_for_epochs(process, history, after)
    process.send_signal(how)
    process.communicate(timeout=120)
    assert process.returncode in (-signal.SIGKILL, 128 + how), process.returncode


def finish(history, dataset_dir, flags):
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", EPOCHS, "--dataset-dir", dataset_dir,
                        "--seed", 5, *flags)
    assert result.returncode == 0, result.stderr
    assert "[INFO] resuming from" in result.stdout
    return load_pickle(history)


def kept_backup(history, folder):
    """A copy of the backup beside `history` as it stands: its state and its one weights file."""
    shutil.copytree(str(history) + ".backup", folder)
    with open(folder / "state.json") as file:
        return json.load(file)


def weights(path):
    """Every array of a Keras weights file (model and optimizer), by its path in the file."""
    import h5py

    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
                        else None)
    return arrays


@pytest.mark.slow
@pytest.mark.parametrize("flags, how", [
    pytest.param([], signal.SIGKILL, marks=pytest.mark.backends, id="plain-SIGKILL"),
    pytest.param(["--augment"], signal.SIGINT, id="augment-SIGINT"),
    pytest.param(["--diagnostics", "--diagnostics-size", "64"], signal.SIGTERM, id="diagnostics-SIGTERM"),
    pytest.param(["--augment", "--diagnostics", "--diagnostics-size", "64"], signal.SIGTERM,
                 marks=pytest.mark.backends, id="augment-diagnostics-SIGTERM"),
])
def test_a_seeded_run_stopped_after_an_epoch_and_resumed_is_the_run_without_the_stop(small_dataset_dir, tmp_path,
                                                                                       flags, how):
    # without a stop to epoch 2 (then stopped there, to read its backup, and finished)
    uninterrupted = tmp_path / "uninterrupted.pickle"
    stop(uninterrupted, small_dataset_dir, flags, after=2)
    at_two = kept_backup(uninterrupted, tmp_path / "uninterrupted-at-2")
    # stopped after epoch 1 and resumed, then likewise
    resumed = tmp_path / "resumed.pickle"
    stop(resumed, small_dataset_dir, flags, after=1, how=how)
    stop(resumed, small_dataset_dir, flags, after=2)
    resumed_at_two = kept_backup(resumed, tmp_path / "resumed-at-2")

    assert resumed_at_two["epochs"] == at_two["epochs"] == 2
    assert resumed_at_two["history"] == at_two["history"]  # every loss and measurement of epochs 1 and 2, exactly
    assert resumed_at_two["random"] == at_two["random"]  # the seed generators and the shuffles' generators
    expected = weights(tmp_path / "uninterrupted-at-2" / at_two["weights"])
    got = weights(tmp_path / "resumed-at-2" / resumed_at_two["weights"])
    assert sorted(got) == sorted(expected) and len(expected) > 20
    assert all(np.array_equal(got[name], expected[name]) for name in expected)
    assert finish(resumed, small_dataset_dir, flags) == finish(uninterrupted, small_dataset_dir, flags)


@pytest.mark.parametrize("content", [b"print('a script of the reader')\n", b"", b"\x89PNG\r\n\x1a\n"],
                         ids=["python-file", "empty-file", "image"])
def test_a_history_path_naming_a_file_that_is_no_history_is_refused_and_left_as_it_was(tmp_path, content):
    target = tmp_path / "train.py"
    target.write_bytes(content)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "fashion_mnist.py"), "--history", str(target),
                             "--epochs", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: --history {str(target)!r} is an existing file and not a training history")
    assert "[INFO] loading Fashion MNIST..." not in result.stdout
    assert target.read_bytes() == content


@pytest.mark.slow
def test_an_earlier_runs_history_is_replaced_as_the_post_replaces_it(tmp_path, small_dataset_dir):
    history = tmp_path / "training.pickle"
    history.write_bytes(pickle.dumps({"loss": [9.0], "val_loss": [9.0]}))
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 1, "--dataset-dir", small_dataset_dir)
    assert result.returncode == 0, result.stderr
    assert load_pickle(history)["loss"] != [9.0]
