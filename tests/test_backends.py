"""The backend Keras runs on: the user's choice, else one that is installed, as on Python 3.14 without TensorFlow.

The child runs hide packages with tests/hide_modules/sitecustomize.py, so that `import tensorflow` fails and
`importlib.util.find_spec("tensorflow")` returns None, as where it was never installed.
"""
import json
import os
import pickle
import subprocess
import sys

import pytest

from lossgap.backends import choose_backend, configured_backend, keras_config_path
from lossgap.errors import UserError
from tests.conftest import ROOT, installed, run_script

HIDE = os.path.join(ROOT, "tests", "hide_modules")
CHOSE_JAX = "so Keras runs on JAX (choose one with KERAS_BACKEND=tensorflow, jax or torch)"


def without(hidden, keras_home, **variables):
    """The environment of a reader's machine where `hidden` was never installed: no KERAS_BACKEND (unless given),
    Keras's settings in `keras_home`."""
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    return {**environment, "PYTHONPATH": HIDE, "HIDE_MODULES": ",".join(hidden), "KERAS_HOME": str(keras_home),
            **variables}


def short_run(tmp_path, dataset_dir, environment):
    return run_script("fashion_mnist.py", "--history", tmp_path / "h.pickle", "--epochs", 1, "--dataset-dir",
                      dataset_dir, env=environment)


@pytest.mark.slow
@pytest.mark.skipif(not installed("jax"), reason="JAX is not installed")
@pytest.mark.parametrize("written", [False, True], ids=["no keras.json", "keras.json naming tensorflow"])
def test_without_tensorflow_the_script_trains_on_jax_and_says_why(tmp_path, small_dataset_dir, written):
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir()
    if written:  # as Keras writes it the first time it is imported, whatever backend it then runs on
        (keras_home / "keras.json").write_text(json.dumps({"backend": "tensorflow", "floatx": "float32"}))
    result = short_run(tmp_path, small_dataset_dir, without(["tensorflow"], keras_home))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    reason = (f"{keras_home / 'keras.json'} names tensorflow, which is not installed" if written
              else "TensorFlow is not installed")
    assert lines[0] == f"[INFO] {reason}, {CHOSE_JAX}"
    assert lines.index("[INFO] training model...") > 0
    with open(tmp_path / "h.pickle", "rb") as file:
        assert len(pickle.load(file)["val_loss"]) == 1


def test_with_no_backend_installed_the_script_says_what_to_install(tmp_path, small_dataset_dir):
    result = short_run(tmp_path, small_dataset_dir, without(["tensorflow", "jax", "torch"], tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ['error: no backend for Keras is installed: pip install tensorflow (Python '
                                          '3.10-3.13), "jax[cpu]" or torch; in a clone of this project, pip install '
                                          "-r requirements.txt"]


def test_a_chosen_backend_that_is_missing_is_kept_and_named(tmp_path, small_dataset_dir):
    result = short_run(tmp_path, small_dataset_dir,
                       without(["tensorflow"], tmp_path, KERAS_BACKEND="tensorflow"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: KERAS_BACKEND=tensorflow, but TensorFlow is not installed: pip "
                                          "install tensorflow (Python 3.10-3.13), or choose one with "
                                          "KERAS_BACKEND=tensorflow, jax or torch"]
    assert not (tmp_path / "h.pickle").exists()


@pytest.mark.slow
@pytest.mark.skipif(not installed("torch"), reason="PyTorch is not installed")
def test_the_users_choice_is_kept_without_a_word(tmp_path, small_dataset_dir):
    # JAX comes before PyTorch in the fallback order: KERAS_BACKEND=torch must win over it
    code = ("import runpy, sys; sys.argv[0] = 'fashion_mnist.py'; runpy.run_path('fashion_mnist.py', "
            "run_name='__main__'); import keras; print('backend', keras.backend.backend())")
    result = subprocess.run([sys.executable, "-c", code, "--history", str(tmp_path / "h.pickle"), "--epochs", "1",
                             "--dataset-dir", str(small_dataset_dir)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=without(["tensorflow"], tmp_path, KERAS_BACKEND="torch"))
    assert result.returncode == 0, result.stderr
    assert not result.stdout.startswith("[INFO] TensorFlow") and "Keras runs on" not in result.stdout
    assert result.stdout.splitlines()[-1] == "backend torch"


def fake_installed(monkeypatch, *present):
    monkeypatch.setattr("lossgap.backends.installed", lambda backend: backend in present)


def test_keras_json_naming_an_installed_backend_is_the_users_choice(tmp_path, monkeypatch, capsys):
    fake_installed(monkeypatch, "jax", "torch")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    environment = {"KERAS_HOME": str(tmp_path)}
    assert choose_backend(environment) == "torch"
    assert environment == {"KERAS_HOME": str(tmp_path)} and capsys.readouterr().out == ""


def test_tensorflow_installed_and_no_choice_leaves_keras_to_its_default(tmp_path, monkeypatch, capsys):
    fake_installed(monkeypatch, "tensorflow", "jax")
    environment = {"KERAS_HOME": str(tmp_path)}
    assert choose_backend(environment) == "tensorflow"
    assert "KERAS_BACKEND" not in environment and capsys.readouterr().out == ""


def test_keras_json_naming_a_missing_backend_falls_back_in_order(tmp_path, monkeypatch, capsys):
    fake_installed(monkeypatch, "tensorflow", "torch")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    environment = {"KERAS_HOME": str(tmp_path)}
    assert choose_backend(environment) == "tensorflow" and environment["KERAS_BACKEND"] == "tensorflow"
    assert capsys.readouterr().out.startswith(f"[INFO] {tmp_path / 'keras.json'} names jax, which is not installed, "
                                              "so Keras runs on TensorFlow")
    fake_installed(monkeypatch, "torch")
    environment = {"KERAS_HOME": str(tmp_path)}
    assert choose_backend(environment) == "torch" and environment["KERAS_BACKEND"] == "torch"


def test_keras_json_is_looked_for_where_keras_looks(tmp_path, monkeypatch):
    assert keras_config_path({"KERAS_HOME": "/somewhere"}) == "/somewhere/keras.json"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keras_config_path({}) == str(tmp_path / ".keras" / "keras.json")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only home folder
    assert keras_config_path({}) == "/tmp/.keras/keras.json"


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"backend": 3}', '{"floatx": "float32"}'])
def test_a_keras_json_keras_would_ignore_names_no_backend(tmp_path, content):
    (tmp_path / "keras.json").write_text(content)
    assert configured_backend(tmp_path / "keras.json") is None
    assert configured_backend(tmp_path / "missing.json") is None


def test_no_keras_at_all_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "keras" else real(name))
    with pytest.raises(UserError, match=r"^Keras is not installed: pip install -r requirements.txt$"):
        choose_backend({})
