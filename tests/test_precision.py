"""float32 means float32: the scripts turn TensorFloat-32 off on every backend, read back from a real run."""
import json
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import ROOT

# Prints the backend's TensorFloat-32 settings as the run before it left them (the benchmark's tests run it too).
PRINT_SETTINGS = """
import json
import keras
backend = keras.backend.backend()
if backend == "tensorflow":
    import tensorflow as tf
    settings = {"tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled()}
elif backend == "jax":
    import jax
    settings = {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision}
else:
    import torch
    settings = {name: getattr(setting, "fp32_precision") for name, setting in (
        ("global", torch.backends), ("cuda.matmul", torch.backends.cuda.matmul),
        ("cudnn.conv", torch.backends.cudnn.conv), ("cudnn.rnn", torch.backends.cudnn.rnn))}
print(json.dumps({"backend": backend, "settings": settings}))
"""
# Runs fashion_mnist.py as `python fashion_mnist.py ...` would, then prints the settings that run left.
READ_BACK = """
import runpy, sys
sys.argv = ["fashion_mnist.py"] + sys.argv[1:]
runpy.run_path("fashion_mnist.py", run_name="__main__")
""" + PRINT_SETTINGS
FULL_FLOAT32 = {
    "tensorflow": {"tensor_float_32_execution": False},
    "jax": {"jax_default_matmul_precision": "highest"},
    "torch": {"global": "ieee", "cuda.matmul": "ieee", "cudnn.conv": "ieee", "cudnn.rnn": "ieee"},
}


@pytest.mark.slow
@pytest.mark.backends
def test_the_training_script_turns_tensorfloat32_off_for_its_backend(small_dataset_dir, tmp_path):
    assert settings_after(READ_BACK, "--history", tmp_path / "h.pickle", "--epochs", 1, "--dataset-dir",
                          small_dataset_dir) == FULL_FLOAT32[keras.backend.backend()]


def settings_after(program, *arguments):
    """Run `program` (a script's run, then PRINT_SETTINGS) with `arguments` in a child process; the TensorFloat-32
    settings it printed, after checking that it ran on the backend these tests run on."""
    result = subprocess.run([sys.executable, "-c", program, *map(str, arguments)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    read_back = json.loads(result.stdout.splitlines()[-1])
    assert read_back["backend"] == keras.backend.backend()
    return read_back["settings"]


@pytest.mark.backends
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="reads JAX's lowered program (KERAS_BACKEND=jax)")
def test_the_lowered_jax_train_step_asks_for_the_highest_precision():
    import jax

    from pyimagesearch.minivggnet import MiniVGGNet
    from tools.models import compile_as_in_the_post
    from pyimagesearch.speed.settings import keep_float32

    images, targets = np.zeros((32, 28, 28, 1), "float32"), np.zeros((32, 10), "float32")
    model = MiniVGGNet.build(28, 28, 1, 10)
    compile_as_in_the_post(model)
    model.fit(images, targets, verbose=0)  # builds the optimizer's and the metrics' variables

    def products(program):
        """The precision of every convolution and dot product in Keras's train step, lowered for one batch."""
        def values(variables):
            return [variable.value for variable in variables]

        state = (values(model.trainable_variables), values(model.non_trainable_variables),
                 values(model.optimizer.variables), values(model.metrics_variables))
        text = jax.jit(model.train_step).lower(state, (images, targets)).as_text()
        return re.findall(r"stablehlo\.(?:convolution|dot_general).*precision_config = \[([^]]*)\]", text)

    previous = jax.config.jax_default_matmul_precision
    try:
        default = products(model)
        keep_float32("jax")
        highest = products(model)
    finally:
        jax.config.update("jax_default_matmul_precision", previous)
    # 6 convolutions and 2 dense layers, forward and backward
    assert len(default) == len(highest) >= 8
    assert all("DEFAULT" in precision for precision in default)
    assert all(precision == "#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>" for precision in highest)
