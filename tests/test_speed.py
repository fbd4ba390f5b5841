"""The speed work changes how the computation runs, never what it computes."""
import json
import os
import pickle
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from pyimagesearch.minivggnet import MiniVGGNet
from tools.benchmark import (TRAIN_IMAGES, Variant, configuration_environment, epoch_flops,
                                           forward_flops_per_image, print_table)
from pyimagesearch.speed.cpu import FEATURES, bfloat16_is_fast, cpu_features
from pyimagesearch.speed.settings import use_mixed_precision
from tests.conftest import ROOT, installed, needs_tf_keras, requires_tensorflow, run_module, run_script
from tests.test_precision import FULL_FLOAT32, PRINT_SETTINGS, settings_after


def run_benchmark(*arguments, **popen):
    """`python -m tools.benchmark ...` from the repository root; returns CompletedProcess."""
    return run_module("tools.benchmark", *arguments, **popen)


def graph_flops(function, *specs):
    """Floating-point operations of a traced function as TensorFlow's own profiler counts them from its graph, an
    account independent of the benchmark's."""
    import tensorflow as tf
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    graph = tf.function(function, autograph=False).get_concrete_function(*specs).graph
    options = ProfileOptionBuilder(ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return profile(graph, options=options).total_float_ops


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counted by TensorFlow's profiler")
def test_flop_count_agrees_with_tensorflows_own_count_of_the_graph():
    import tensorflow as tf

    model = MiniVGGNet.build(28, 28, 1, 10)
    image, target = tf.TensorSpec([1, 28, 28, 1]), tf.TensorSpec([1, 10])
    forward = graph_flops(lambda x: model(x, training=False), image)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = keras.losses.categorical_crossentropy(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)

    training = graph_flops(train_step, image, target)
    # the convolutions and dense layers, which the benchmark counts, are all but the last 1% (batch-norm, ReLU, biases)
    assert 0.99 * forward <= forward_flops_per_image(model) <= forward
    assert 2.9 <= training / forward <= 3.1  # a training step costs about three forward passes
    assert epoch_flops(model) == pytest.approx(training * 60000 + forward * 10000, rel=0.02)


def without_onednn_setting():
    """This environment without a oneDNN choice or TensorFlow's log filter, so that a run's own default shows."""
    return {key: value for key, value in os.environ.items()
            if key not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}


class StandInModel:
    """A stand-in for a compiled model whose `fit` and `evaluate` run two batches of `batch` seconds, with `around`
    seconds before the first and after the last (as TensorFlow's input pipeline can take). Each batch's loss costs
    `queued` seconds more when read as a number: a backend that queues its work (JAX, PyTorch on a GPU) returns
    from a batch before computing it."""

    def __init__(self, around=0.0, batch=0.0, queued=0.0):
        self.around, self.batch, self.queued = around, batch, queued

    def _batches(self, mode, callbacks):
        time.sleep(self.around)
        for batch in range(2):
            for callback in callbacks:
                getattr(callback, f"on_{mode}_batch_begin")(batch, {})
            time.sleep(self.batch)
            for callback in callbacks:
                getattr(callback, f"on_{mode}_batch_end")(batch, {"loss": QueuedLoss(self.queued)})
        time.sleep(self.around)

    def fit(self, *arguments, callbacks, **options):
        self._batches("train", callbacks)

    def evaluate(self, *arguments, callbacks, **options):
        self._batches("test", callbacks)


class QueuedLoss:
    """A loss whose computation is still queued: turning it into a float waits `seconds` for it."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __float__(self):
        time.sleep(self.seconds)
        return 0.5


def time_stand_in(model):
    return Variant("plain", model, keras, np.zeros((64, 28, 28, 1)), np.zeros(64)).run(2)


def test_the_benchmark_times_the_batches_not_the_set_up_and_tear_down_around_them():
    train, validate = time_stand_in(StandInModel(around=0.3, batch=0.05))
    # the batches take 0.1 s; with the 0.6 s around them, each call would take 0.7 s or more
    assert 0.1 <= train < 0.6 and 0.1 <= validate < 0.6


def test_the_benchmark_clock_waits_for_the_work_a_backend_has_queued():
    train, validate = time_stand_in(StandInModel(queued=0.2))
    # the batches return at once; their work, 0.2 s each, is done when their losses are read
    assert 0.4 <= train < 2 and 0.4 <= validate < 2


@pytest.mark.slow
def test_a_mixed_precision_run_learns_and_saves_floats(small_dataset_dir, tmp_path):
    history = tmp_path / "bf16.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir", small_dataset_dir,
                        "--mixed-precision", "--diagnostics", "--diagnostics-size", 100, "--seed", 0)
    assert result.returncode == 0, result.stderr
    recorded = pickle.loads(history.read_bytes())
    assert all(len(values) == 2 and all(type(value) is float for value in values) for values in recorded.values())
    assert recorded["loss"][1] < recorded["loss"][0]


@pytest.mark.slow
def test_benchmark_prints_a_row_per_variant(small_dataset_dir):
    result = run_benchmark("--variants", "steps32", "bf16", "--steps", 2, "--repeats", 1, "--dataset-dir",
                           small_dataset_dir)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("plain", "steps32", "bf16")}
    assert list(rows) == ["plain", "steps32", "bf16"]  # plain is always timed, first, as the reference
    for name in ("steps32", "bf16"):  # each row's speed against plain's, from the printed seconds an epoch
        assert float(rows[name][5].rstrip("x")) == pytest.approx(float(rows["plain"][1]) / float(rows[name][1]),
                                                                 abs=0.01 + 0.01 * float(rows[name][5].rstrip("x")))
    assert "GFLOP/s, the practical ceiling" in result.stdout and "7.56 TFLOP" in result.stdout


CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni {extra}\nbogomips\t: 4200\n"


@pytest.mark.parametrize("extra, expected", [("", {"avx2", "fma", "avx512f", "avx512_vnni"}),
                                             ("avx512_bf16 amx_bf16", set(FEATURES))])
def test_cpu_features_come_from_the_kernels_flags(extra, expected, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert cpu_features(str(cpuinfo)) == expected


def test_cpu_features_without_proc_fall_back_to_numpys_detection(tmp_path, monkeypatch):
    try:  # where cpu_features reads numpy's detection: numpy 2's private module, else numpy 1's
        from numpy._core import _multiarray_umath
    except ImportError:
        from numpy.core import _multiarray_umath
    # numpy's names; AVX512F off and AVX512BF16 absent, so neither may be reported, nor SSE2 (not one of FEATURES)
    detected = {"SSE2": True, "AVX2": True, "FMA3": True, "AVX512F": False, "AVX512VNNI": True}
    monkeypatch.setattr(_multiarray_umath, "__cpu_features__", detected)
    assert cpu_features(str(tmp_path / "absent")) == {"avx2", "fma", "avx512_vnni"}
    monkeypatch.setattr(_multiarray_umath, "__cpu_features__", {**detected, "AVX512F": True, "AVX512BF16": True})
    assert cpu_features(str(tmp_path / "absent")) == {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"}


@pytest.mark.parametrize("features, devices, fast", [
    (set(), [], False), ({"avx2", "fma"}, [], False), ({"avx2", "avx512f", "avx512_vnni"}, [], False),
    ({"avx512_bf16"}, [], True), ({"amx_bf16"}, [], True), ({"avx2"}, ["gpu:0"], True)])
def test_bfloat16_counts_as_fast_only_with_its_instructions_or_an_accelerator(features, devices, fast):
    assert bfloat16_is_fast(features, devices) is fast


def test_mixed_precision_without_bfloat16_instructions_stays_float32_and_says_so(capsys):
    previous = keras.config.dtype_policy()
    try:
        assert use_mixed_precision({"avx2", "fma"}, []) is False
        assert keras.config.dtype_policy().name == previous.name
        [line] = capsys.readouterr().out.splitlines()
        assert line.startswith("[INFO] --mixed-precision:") and "stays in float32" in line
        assert use_mixed_precision({"avx2", "avx512_bf16"}, []) is True
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert MiniVGGNet.build(28, 28, 1, 10).layers[0].compute_dtype == "bfloat16"
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.slow
def test_benchmark_times_each_configuration_in_a_process_of_its_own(small_dataset_dir):
    result = run_benchmark("--configurations", "tensorflow", "tensorflow-eigen", "--steps", 2, "--repeats", 1,
                           "--dataset-dir", small_dataset_dir, env=without_onednn_setting())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # tensorflow is what fashion_mnist.py runs, oneDNN on even where TensorFlow would leave it off
    assert lines[0].startswith("tensorflow: keras ") and "; oneDNN on;" in lines[0] and "CPU features:" in lines[0]
    assert lines[1].startswith("tensorflow-eigen: ") and lines[1].endswith("; oneDNN off; no accelerator")
    rows = [line.split() for line in lines if line.split()[0] in ("tensorflow", "tensorflow-eigen")]
    assert [row[0] for row in rows] == ["tensorflow", "tensorflow-eigen"] and rows[0][5] == "1.00x"
    # the second row's ratio is the first row's time over its own
    assert float(rows[1][5].removesuffix("x")) == pytest.approx(float(rows[0][1]) / float(rows[1][1]), abs=0.02)


def test_the_table_gives_each_row_its_median_its_range_and_the_first_rows_median_over_its_own(capsys):
    seconds = {"first": [12.0, 10.0, 30.0], "second": [20.0, 28.0, 24.0]}
    train_seconds = {"first": [6.0, 5.0, 7.0], "second": [9.0, 12.0, 15.0]}
    print_table(seconds, train_seconds, flops=2.4e12, ceiling=400.0, label="variant", turns="3 turns")
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:3]}
    # s/epoch, spread, training images/s, GFLOP/s, ratio to the first row, share of the ceiling
    assert rows["first"][1:] == ["12.0", "10.0-30.0", f"{TRAIN_IMAGES / 6.0:.0f}", "200", "1.00x", "50%"]
    assert rows["second"][1:] == ["24.0", "20.0-28.0", f"{TRAIN_IMAGES / 12.0:.0f}", "100", "0.50x", "25%"]


BENCHMARK = "python -m tools.benchmark"  # as its usage and error lines name it


def parse_benchmark_arguments(monkeypatch, *arguments):
    from tools.benchmark import parse_arguments

    monkeypatch.setattr(sys, "argv", ["benchmark", *arguments])
    return parse_arguments()


@pytest.mark.slow
def test_variants_run_on_an_emulated_avx2_cpu_with_every_cap_set(small_dataset_dir):
    result = run_benchmark("--variants", "plain", "keras-bn", "--emulate-avx2", "--steps", 2, "--repeats", 1,
                           "--dataset-dir", small_dataset_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("; AVX2-only CPU emulated")
    assert [line.split()[0] for line in result.stdout.splitlines() if line.startswith(("plain ", "keras-bn "))] == [
        "plain", "keras-bn"]


def test_configurations_and_whole_runs_are_refused_together(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_benchmark_arguments(monkeypatch, "--whole-runs", "2", "--configurations", "tensorflow")
    assert exited.value.code == 2
    assert "--configurations and --whole-runs" in capsys.readouterr().err.splitlines()[-1]


def test_each_configuration_sets_only_its_own_settings_over_the_environment():
    chosen = {"TF_ENABLE_ONEDNN_OPTS": "1", "PATH": "/bin"}
    emulated = configuration_environment("tensorflow", True, chosen)
    # the script's default, capped at AVX2: oneDNN left as the environment (or prefer_onednn) sets it
    assert emulated["TF_ENABLE_ONEDNN_OPTS"] == "1" and emulated["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    # the plain port on an AVX2-only CPU: TensorFlow's own kernels, whatever the environment says
    assert configuration_environment("tensorflow-eigen", True, chosen)["TF_ENABLE_ONEDNN_OPTS"] == "0"
    keras2 = configuration_environment("keras2", False, chosen)
    assert keras2["TF_USE_LEGACY_KERAS"] == "1" and keras2["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert "ONEDNN_MAX_CPU_ISA" not in keras2 and keras2["PATH"] == "/bin"


def test_importing_the_benchmark_loads_no_keras_so_its_onednn_setting_comes_first():
    loaded = subprocess.run([sys.executable, "-c", "import sys, tools.benchmark; print(sorted({'keras', "
                             "'tf_keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


# Runs the benchmark as `python -m tools.benchmark ...` would, then prints the settings that run left.
READ_BACK = """
import runpy, sys
sys.argv = ["benchmark"] + sys.argv[1:]
runpy.run_module("tools.benchmark", run_name="__main__", alter_sys=True)
""" + PRINT_SETTINGS


@pytest.mark.slow
@pytest.mark.backends
def test_the_benchmark_trains_in_full_float32_as_the_script_does(small_dataset_dir):
    assert settings_after(READ_BACK, "--variants", "plain", "--steps", 2, "--repeats", 1, "--dataset-dir",
                          small_dataset_dir) == FULL_FLOAT32[keras.backend.backend()]


@pytest.mark.parametrize("arguments, message", [
    (["--steps", "1876"], "argument --steps: '1876' is more than an epoch's 1875 batches (60000 images / 32)"),
    (["--steps", "0"], "argument --steps: '0' is not positive"),
    (["--repeats", "0"], "argument --repeats: '0' is not positive")])
def test_the_benchmark_refuses_turns_it_cannot_time(arguments, message, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_benchmark_arguments(monkeypatch, *arguments)
    assert exited.value.code == 2 and capsys.readouterr().err.splitlines()[-1] == f"{BENCHMARK}: error: {message}"
    assert parse_benchmark_arguments(monkeypatch, "--steps", "1875", "--repeats", "1").steps == 1875


def test_a_bad_benchmark_flag_exits_2_with_argparses_one_line_before_loading_keras():
    result = run_benchmark("--steps", "0")
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"usage: {BENCHMARK}")
    assert result.stderr.splitlines()[-1] == f"{BENCHMARK}: error: argument --steps: '0' is not positive"


@pytest.mark.parametrize("arguments, message", [
    (["--dataset-dir", "/nonexistent"], "error: dataset folder '/nonexistent' does not exist"),
    # the configuration of the backend these tests run on, which is installed
    (["--configurations", keras.backend.backend(), "--dataset-dir", "/nonexistent"],
     f"error: configuration {keras.backend.backend()} failed: dataset folder '/nonexistent' does not exist")])
def test_benchmark_without_its_data_says_so_in_one_line(arguments, message):
    result = run_benchmark(*arguments)
    assert result.returncode == 1 and result.stderr.splitlines() == [message]


def test_benchmark_with_fewer_images_than_a_turn_says_so_in_one_line(small_dataset_dir):
    result = run_benchmark("--steps", 11, "--dataset-dir", small_dataset_dir)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: --steps 11 trains on 352 images, but the training set holds 320"]


@needs_tf_keras
@pytest.mark.filterwarnings("ignore:The `lr` argument is deprecated:UserWarning")  # the post's spelling, kept
def test_keras2_builds_the_same_network_and_compiles_it_as_the_post_did():
    import tf_keras

    from tools.models import compile_on_keras2

    ours, posts = MiniVGGNet.build(28, 28, 1, 10), MiniVGGNet.build(28, 28, 1, 10, keras=tf_keras)
    assert isinstance(posts, tf_keras.Sequential)
    assert [type(layer).__name__ for layer in posts.layers] == [type(layer).__name__ for layer in ours.layers]
    assert posts.count_params() == ours.count_params() == 1_679_082
    assert forward_flops_per_image(posts, tf_keras) == forward_flops_per_image(ours) == 39_799_808
    compile_on_keras2(posts, tf_keras)
    assert isinstance(posts.optimizer, tf_keras.optimizers.legacy.SGD)
    configuration = posts.optimizer.get_config()
    assert (configuration["learning_rate"], configuration["momentum"]) == (0.01, 0.9)
    assert configuration["decay"] == pytest.approx(0.01 / 25)


@pytest.mark.slow
@needs_tf_keras
def test_benchmark_times_the_posts_own_code_on_keras2(small_dataset_dir):
    from importlib.metadata import version

    result = run_benchmark("--configurations", "keras2", "--steps", 2, "--repeats", 1, "--dataset-dir",
                           small_dataset_dir, env=without_onednn_setting())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"keras2: tf_keras {version('tf_keras')}, backend tensorflow")
    assert "; oneDNN on;" in lines[0]  # as the script's default
    [row] = [line.split() for line in lines if line.startswith("keras2 ")]
    assert row[5] == "1.00x" and float(row[1]) > 0
    assert "7.56 TFLOP" in result.stdout  # the same network's FLOPs, counted on tf_keras's layers


@pytest.mark.slow
@needs_tf_keras
def test_whole_runs_time_the_script_and_the_posts_code_in_turns(small_dataset_dir):
    result = run_benchmark("--whole-runs", 1, "--dataset-dir", small_dataset_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "whole runs of: --epochs 2 --train-size 20000 --test-size 10000, in turns"
    assert lines[1].startswith("  turn 1, fashion_mnist.py: ") and lines[2].startswith("  turn 1, the post's code")
    rows = {line[:28].strip(): line[28:].split() for line in lines if line.startswith(("fashion_mnist.py ", "the post"))}
    assert list(rows) == ["fashion_mnist.py", "the post's code on Keras 2"]
    for wall, _, cpu, _ in rows.values():
        # both trained, on both CPUs at times: the CPU seconds are the children's, not this process's
        assert float(wall) > 1 and float(cpu) > 1
    assert lines[-2].startswith("wall time, the post's code / fashion_mnist.py, pair by pair: ")
    assert lines[-1].startswith("CPU time, the post's code / fashion_mnist.py, pair by pair: ")


@pytest.mark.slow
@needs_tf_keras
@pytest.mark.filterwarnings("ignore:The `lr` argument is deprecated:UserWarning")
def test_the_posts_own_script_on_keras2_trains_and_pickles_its_history(small_dataset_dir, tmp_path):
    result = run_module("tools.post_keras2", "--history", tmp_path / "h.pickle", "--epochs", 1,
                        "--dataset-dir", small_dataset_dir)
    assert result.returncode == 0, result.stderr
    assert "[INFO] training model..." in result.stdout and "[INFO] serializing training history..." in result.stdout
    with open(tmp_path / "h.pickle", "rb") as file:
        history = pickle.load(file)
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"] and len(history["loss"]) == 1


def test_keras2_without_tf_keras_says_how_to_install_it(monkeypatch, capsys):
    from importlib.metadata import version

    from tools import benchmark

    monkeypatch.setitem(sys.modules, "tf_keras", None)  # what find_spec and import see of a missing module
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # main() sets it; this puts it back afterwards
    monkeypatch.setattr(sys, "argv", ["benchmark", "--configurations", "tensorflow", "keras2"])
    with pytest.raises(SystemExit) as exited:
        benchmark.run(benchmark.main)
    assert exited.value.code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: the keras2 configuration ")
    assert line.endswith(f"pip install tf_keras=={version('tensorflow')}")


# Runs a script (`script PATH ...`) or a module (`module NAME ...`) as `python` would, up to the moment TensorFlow
# starts to load, which is when TensorFlow reads TF_ENABLE_ONEDNN_OPTS; prints the variable as it is then and stops
# there, so no TensorFlow is loaded. Prints "never" if TensorFlow was not imported.
AT_TENSORFLOW_IMPORT = """
import importlib.machinery, json, os, runpy, sys


class StopWhereTensorFlowLoads:
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)

        def exec_module(module):  # only an import runs this; importlib.util.find_spec("tensorflow") does not
            print(json.dumps(os.environ.get("TF_ENABLE_ONEDNN_OPTS")), flush=True)
            os._exit(0)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, StopWhereTensorFlowLoads())
kind, name = sys.argv[1:3]
sys.argv = [name] + sys.argv[3:]
if kind == "script":
    runpy.run_path(name, run_name="__main__")
else:
    runpy.run_module(name, run_name="__main__", alter_sys=True)
print(json.dumps("never"))
"""


@requires_tensorflow
@pytest.mark.parametrize("chosen, seen", [(None, "1"), ("0", "0")], ids=["no choice: on", "the user's 0 kept"])
@pytest.mark.parametrize("program", ["fashion_mnist.py", "benchmark"])
def test_tensorflow_loads_with_onednn_on_unless_the_user_chose(program, chosen, seen, small_dataset_dir, tmp_path):
    # TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 VNNI, bfloat16 or AMX; the scripts ask for it
    # everywhere, so on such a CPU only the variable itself, as TensorFlow reads it, tells whether they did
    if program == "fashion_mnist.py":
        arguments = ["script", "fashion_mnist.py", "--history", str(tmp_path / "h.pickle"), "--epochs", "1",
                     "--dataset-dir", str(small_dataset_dir)]
    else:
        arguments = ["module", "tools.benchmark", "--variants", "plain", "--steps", "2", "--repeats",
                     "1", "--dataset-dir", str(small_dataset_dir)]
    environment = {**without_onednn_setting(), "KERAS_BACKEND": "tensorflow"}
    if chosen is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = chosen
    result = subprocess.run([sys.executable, "-c", AT_TENSORFLOW_IMPORT, *arguments], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == seen
