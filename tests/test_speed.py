"""The speed work changes how the computation runs, never what it computes."""
import pickle
import subprocess
import sys

import keras

from pyimagesearch.benchmark import epoch_flops, forward_flops_per_image
from pyimagesearch.minivggnet import MiniVGGNet
from pyimagesearch.speed import compile_options
from tests.conftest import ROOT, run_script


def test_flop_count_comes_from_the_layer_shapes():
    model = MiniVGGNet.build(28, 28, 1, 10)
    # convolutions 0.45 + 14.45 + 7.23 + 14.45 MFLOP, dense 3.21 + 0.01 MFLOP per image
    assert forward_flops_per_image(model) == 39_799_808
    assert epoch_flops(model) == 39_799_808 * (3 * 60000 + 10000)
    wider = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same")])
    assert forward_flops_per_image(wider) == 2 * 3 * 3 * 3 * 4 * 8 * 8


def test_default_only_batches_calls_into_the_backend():
    assert compile_options() == {"steps_per_execution": 32}


def test_seeded_runs_are_identical_with_and_without_the_speed_options(small_dataset_dir, tmp_path):
    # fashion_mnist.py as a naive port (compile_options() returning nothing) against the default, same seed
    naive = tmp_path / "naive.pickle"
    patched = ("import runpy, sys; import pyimagesearch.speed as speed; speed.compile_options = lambda: {}; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    arguments = ["--epochs", "2", "--dataset-dir", str(small_dataset_dir), "--seed", "4"]
    result = subprocess.run([sys.executable, "-c", patched, f"{ROOT}/fashion_mnist.py", "--history", str(naive),
                             *arguments], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    default = tmp_path / "default.pickle"
    assert run_script("fashion_mnist.py", "--history", default, *arguments).returncode == 0
    assert pickle.loads(naive.read_bytes()) == pickle.loads(default.read_bytes())


def test_mixed_precision_trains_in_bfloat16_and_saves_floats(small_dataset_dir, tmp_path):
    history = tmp_path / "bf16.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir", small_dataset_dir,
                        "--mixed-precision", "--diagnostics", "--diagnostics-size", 100)
    assert result.returncode == 0, result.stderr
    recorded = pickle.loads(history.read_bytes())
    assert all(len(values) == 2 and all(type(value) is float for value in values) for values in recorded.values())
    assert recorded["loss"][1] < recorded["loss"][0]


def test_benchmark_prints_a_row_per_variant(small_dataset_dir):
    result = subprocess.run([sys.executable, "-m", "pyimagesearch.benchmark", "--variants", "default", "bf16",
                             "--steps", "2", "--repeats", "1", "--dataset-dir", str(small_dataset_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("plain", "default", "bf16")}
    assert list(rows) == ["plain", "default", "bf16"]  # plain is always timed, first, as the reference
    assert rows["plain"][5] == "1.00x"
    assert "GFLOP/s, the practical ceiling" in result.stdout and "7.56 TFLOP" in result.stdout
