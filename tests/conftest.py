"""Shared fixtures and helpers: the scripts run as a reader runs them, on real Fashion-MNIST where it is installed."""
import importlib.util
import json
import os
import pickle
import runpy
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # tests have no display; plot_shift.py then saves instead of showing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyimagesearch.datasets import DEBIAN_DIR, FILES, read_idx_folder, write_idx_folder  # noqa: E402
from lossgap.backends import choose_backend, installed  # noqa: E402

# as the scripts do before Keras loads, since the test modules import it: without TensorFlow, JAX or PyTorch
choose_backend()
import keras  # noqa: E402  (after choosing the backend)
requires_tensorflow = pytest.mark.skipif(not installed("tensorflow"),
                                         reason="TensorFlow is not installed (it has no wheels for Python 3.14+)")
# Keras 2 is not one of the project's requirements; the benchmark's keras2 configuration and the check of the post's
# own optimizer use it
needs_tf_keras = pytest.mark.skipif(not installed("tensorflow") or importlib.util.find_spec("tf_keras") is None,
                                    reason="tf_keras (Keras 2) is not installed: pip install tf_keras==<TensorFlow's "
                                           "version>")


class Wrapper(keras.Model):
    """A subclassed model around another model or layer, handing `training` on."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)


def run_script(script, *arguments, timeout=300, **popen):
    """Run one of the two scripts in a subprocess from the repository root; returns CompletedProcess."""
    popen.setdefault("cwd", ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout, **popen)


def run_module(module, *arguments, timeout=300, **popen):
    """`python -m module ...` in a subprocess from the repository root; returns CompletedProcess."""
    popen.setdefault("cwd", ROOT)
    return subprocess.run([sys.executable, "-m", module, *map(str, arguments)], capture_output=True, text=True,
                          timeout=timeout, **popen)


def train(folder, dataset_dir, *extra):
    """A seeded 3-epoch `fashion_mnist.py --diagnostics` run on `dataset_dir` into FOLDER/training.pickle:
    (completed process, history path, history)."""
    history = folder / "training.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 3, "--dataset-dir", dataset_dir,
                        "--diagnostics", "--diagnostics-size", 200, "--seed", 1, *extra)
    assert result.returncode == 0, result.stderr
    with open(history, "rb") as file:
        return result, history, pickle.load(file)


def load_pickle(path):
    with open(path, "rb") as file:
        return pickle.load(file)


def backed_up_epochs(history):
    """How many epochs the backup beside `history` holds: 0 before the first is saved (or while it is replaced)."""
    try:
        with open(os.fspath(history) + ".backup/state.json") as file:
            return json.load(file)["epochs"]
    except (OSError, ValueError):
        return 0


def draw(history_path, *arguments, monkeypatch):
    """Run plot_shift.py on `history_path` in this process (as __main__) and return its figure."""
    import matplotlib.pyplot as plt

    plt.close("all")
    monkeypatch.setattr(sys, "argv", ["plot_shift.py", "--input", str(history_path), *map(str, arguments)])
    runpy.run_path(os.path.join(ROOT, "plot_shift.py"), run_name="__main__")
    return plt.gcf()


def debian_data_installed():
    return all(os.path.isfile(os.path.join(DEBIAN_DIR, name)) for name in FILES.values())


@pytest.fixture(scope="session")
def real_data():
    """Fashion-MNIST from Debian's package; CI installs it, so there a missing package fails instead of skipping."""
    if not debian_data_installed():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have Debian's dataset-fashion-mnist in {DEBIAN_DIR}")
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return read_idx_folder(DEBIAN_DIR)


@pytest.fixture(scope="session")
def small_dataset_dir(tmp_path_factory, real_data):
    """The first 320 training and 100 test images of the real data, as a --dataset-dir folder."""
    ((trainX, trainY), (testX, testY)) = real_data
    folder = tmp_path_factory.mktemp("fashion-small")
    write_idx_folder(folder, (trainX[:320], trainY[:320]), (testX[:100], testY[:100]))
    return folder


@pytest.fixture
def synthetic_dataset_dir(tmp_path):
    """A tiny made-up dataset (no package needed), for the error paths of the loader."""
    rng = np.random.default_rng(0)
    train = (rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30, dtype=np.uint8))
    test = (rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10, dtype=np.uint8))
    write_idx_folder(tmp_path / "data", train, test)
    return tmp_path / "data"
