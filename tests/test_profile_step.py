"""The profile of a training step files each traced operation under its layer kind, on Keras 3 and on Keras 2."""
import importlib.util

import pytest

from tools.profile_step import KINDS, by_kind, layer_kind
from tests.conftest import run_module

# operations as TensorFlow 2.21's profiler names them in MiniVGGNet's training step, on Keras 3.15 and on tf_keras
TRACED = [
    ("_MklNativeFusedConv2D", "StatefulPartitionedCall/minivggnet_1/activation_1_2/Relu", "convolution", "forward"),
    ("_MklNativeConv2DBackpropFilterWithBias",
     "StatefulPartitionedCall/gradient_tape/minivggnet_1/conv2d_1_2/convolution/Conv2DBackpropFilter",
     "convolution", "backward"),
    ("_MklNativeConv2DBackpropInput", "gradient_tape/minivggnet/conv2d_3/Conv2D/Conv2DBackpropInput",
     "convolution", "backward"),
    ("_MklNativeFusedMatMul", "minivggnet/activation_4/Relu", "dense", "forward"),
    ("_MklMatMul", "StatefulPartitionedCall/gradient_tape/minivggnet_1/dense_1/MatMul/MatMul", "dense", "backward"),
    ("_MklNativeFusedBatchNormGradV3",
     "StatefulPartitionedCall/gradient_tape/minivggnet_1/batch_normalization_1/FusedBatchNormGradV3",
     "batch-norm", "backward"),
    ("Mul", "StatefulPartitionedCall/minivggnet_1/batch_normalization_4_1/batchnorm/mul", "batch-norm", "forward"),
    ("StatelessRandomUniformV2", "StatefulPartitionedCall/minivggnet_1/dropout_1/stateless_dropout/"
     "stateless_random_uniform/StatelessRandomUniformV2", "dropout", "forward"),
    ("RandomUniform", "minivggnet/dropout/dropout/random_uniform/RandomUniform", "dropout", "forward"),
    ("_MklNativeMaxPoolGrad", "StatefulPartitionedCall/gradient_tape/minivggnet_1/max_pooling2d_1_2/MaxPool2d/"
     "MaxPoolGrad", "pooling", "backward"),
    ("AssignAddVariableOp", "StatefulPartitionedCall/sgd/AssignAddVariableOp_16", "optimizer", "forward"),
    ("ResourceApplyKerasMomentum", "SGD/SGD/update_16/ResourceApplyKerasMomentum", "optimizer", "forward"),
    ("_MklSoftmax", "StatefulPartitionedCall/minivggnet_1/activation_5_1/Softmax", "activation and loss",
     "forward"),
    ("ReluGrad", "gradient_tape/minivggnet/activation_2/ReluGrad", "activation and loss", "backward"),
    ("Dataset", "Iterator::Root::Prefetch", "other (metrics, input pipeline)", "forward"),
]


@pytest.mark.parametrize("operation_type, name, kind, direction", TRACED, ids=[row[0] for row in TRACED])
def test_each_traced_operation_is_filed_under_its_layer_kind(operation_type, name, kind, direction):
    assert layer_kind(operation_type, name) == (kind, direction)


def test_the_table_sums_each_kinds_time_per_step_forward_and_backward_apart():
    operations = [("_MklNativeFusedConv2D", "m/activation/Relu", 0.3, 200),
                  ("_MklNativeConv2DBackpropInput", "gradient_tape/m/conv2d_1/Conv2DBackpropInput", 0.5, 200),
                  ("_MklNativeConv2DBackpropFilterWithBias", "gradient_tape/m/conv2d/Conv2DBackpropFilter", 0.2, 100),
                  ("Mul", "sgd/Mul_3", 0.1, 100)]
    table = by_kind(operations, steps=100)
    assert list(table) == list(KINDS)
    assert table["convolution"] == {"forward": pytest.approx(3.0), "backward": pytest.approx(7.0)}
    assert table["optimizer"] == {"forward": pytest.approx(1.0), "backward": 0.0}
    assert sum(sum(directions.values()) for kind, directions in table.items()) == pytest.approx(11.0)


@pytest.mark.skipif(importlib.util.find_spec("xprof") is not None, reason="xprof is installed")
def test_without_xprof_the_profile_says_what_to_install(small_dataset_dir):
    result = run_module("tools.profile_step", "--steps", 2, "--dataset-dir", small_dataset_dir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: reading the profiler's trace needs xprof: pip install xprof"
