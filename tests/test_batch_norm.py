"""The fused batch-norm computes what keras.layers.BatchNormalization computes, in TensorFlow's fused kernel."""
import keras
import numpy as np
import pytest
from tests.conftest import needs_tf_keras

from lossgap.families import training_only_layers
from pyimagesearch.minivggnet import MiniVGGNet
from pyimagesearch.speed.batch_norm import BatchNormalization as FusedBatchNormalization

on_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                   reason="the fused kernel is TensorFlow's")


def assert_float32_close(got, expected):
    """Equal to float32 rounding: the two compute the same sums in another order, so each value may differ by a few
    units in the last place of the largest value summed (gradients sum hundreds of products)."""
    expected = np.asarray(expected, "float32")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))



def minivggnet_twins(**arguments):
    """MiniVGGNet built with Keras's own batch-norm, and as fashion_mnist.py builds it (the fused layer), with the
    same variables."""
    keras.utils.set_random_seed(0)
    model = MiniVGGNet.build(28, 28, 1, 10, batch_norm=keras.layers.BatchNormalization, **arguments)
    fused = MiniVGGNet.build(28, 28, 1, 10, **arguments)
    for copy, original in zip(fused.variables, model.variables, strict=True):
        copy.assign(original)
    return model, fused


def twin_layers(axis, shape, seed=0, **arguments):
    """Keras's layer and the fused one, built alike, with the same random scale, offset and moving statistics."""
    random = np.random.default_rng(seed)
    layers = (keras.layers.BatchNormalization(axis=axis, **arguments),
              FusedBatchNormalization(axis=axis, **arguments))
    for layer in layers:
        layer.build(shape)
    for values in zip(*(layer.weights for layer in layers)):
        value = random.uniform(0.5, 1.5, values[0].shape).astype("float32")
        for variable in values:
            variable.assign(value)
    return layers


def training_step(layer, inputs, upstream):
    """Training-mode outputs, and the gradients of sum(outputs * upstream) for the inputs and trainable weights."""
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=True)
        loss = tf.reduce_sum(outputs * upstream)
    gradients = tape.gradient(loss, [inputs] + [weight.value for weight in layer.trainable_weights])
    return [outputs] + gradients


def traced_operations(layer, inputs, training):
    import tensorflow as tf

    function = tf.function(lambda images: layer(images, training=training))
    return {operation.type for operation in function.get_concrete_function(inputs).graph.get_operations()}


@on_tensorflow
@pytest.mark.parametrize("axis, shape", [(-1, (8, 6, 5, 4)), (3, (8, 6, 5, 4)), (1, (8, 4, 6, 5))],
                         ids=["channels-last", "axis-3", "channels-first"])
def test_training_steps_give_keras_outputs_gradients_and_moving_statistics(axis, shape):
    ours, theirs = twin_layers(axis, shape)[::-1]
    random = np.random.default_rng(1)
    for _ in range(4):
        inputs = random.normal(3.0, 2.0, shape).astype("float32")
        upstream = random.normal(size=shape).astype("float32")
        for expected, got in zip(training_step(theirs, inputs, upstream), training_step(ours, inputs, upstream)):
            assert_float32_close(got, expected)
    assert_float32_close(ours.moving_mean.numpy(), theirs.moving_mean.numpy())
    assert_float32_close(ours.moving_variance.numpy(), theirs.moving_variance.numpy())
    assert not np.allclose(ours.moving_mean.numpy(), 1.0)  # the steps did move them
    inputs = random.normal(3.0, 2.0, shape).astype("float32")
    assert_float32_close(ours(inputs, training=False), theirs(inputs, training=False))
    assert "FusedBatchNormV3" in traced_operations(ours, inputs, training=True)
    assert "FusedBatchNormV3" in traced_operations(ours, inputs, training=False)


@on_tensorflow
def test_the_moving_variance_averages_the_biased_batch_variance_as_keras_3_does():
    # two values per channel: the biased variance is half the Bessel-corrected one the fused kernel returns
    ours, theirs = twin_layers(-1, (2, 1, 1, 3))[::-1]
    for layer in (ours, theirs):
        layer.moving_variance.assign(np.zeros(3, "float32"))
    inputs = np.array([1.0, 2.0, 4.0, 3.0, 2.0, 0.0], "float32").reshape((2, 1, 1, 3))
    for layer in (ours, theirs):
        layer(inputs, training=True)
    biased = inputs.reshape((2, 3)).var(axis=0)
    np.testing.assert_allclose(theirs.moving_variance.numpy(), (1 - theirs.momentum) * biased, rtol=1e-6)
    np.testing.assert_allclose(ours.moving_variance.numpy(), (1 - ours.momentum) * biased, rtol=1e-6)


@on_tensorflow
def test_a_frozen_layer_uses_its_moving_statistics_even_in_training():
    ours, theirs = twin_layers(-1, (8, 6, 5, 4))[::-1]
    inputs = np.random.default_rng(2).normal(3.0, 2.0, (8, 6, 5, 4)).astype("float32")
    upstream = np.ones((8, 6, 5, 4), "float32")
    before = ours.moving_mean.numpy(), ours.moving_variance.numpy()
    for layer in (ours, theirs):
        layer.trainable = False
    for expected, got in zip(training_step(theirs, inputs, upstream), training_step(ours, inputs, upstream)):
        assert_float32_close(got, expected)
    assert_float32_close(ours(inputs, training=True), ours(inputs, training=False))
    np.testing.assert_array_equal(ours.moving_mean.numpy(), before[0])
    np.testing.assert_array_equal(ours.moving_variance.numpy(), before[1])


@on_tensorflow
@pytest.mark.parametrize("shape, arguments", [((8, 6), {}), ((8, 6, 5, 4), {"renorm": True}),
                                               ((8, 3, 6, 5, 4), {})], ids=["dense", "renorm", "5-d"])
def test_what_the_fused_kernel_does_not_cover_is_keras_own_computation(shape, arguments):
    ours, theirs = twin_layers(-1, shape, **arguments)[::-1]
    inputs = np.random.default_rng(3).normal(3.0, 2.0, shape).astype("float32")
    np.testing.assert_array_equal(ours(inputs, training=True), theirs(inputs, training=True))
    np.testing.assert_array_equal(ours.moving_variance.numpy(), theirs.moving_variance.numpy())
    assert "FusedBatchNormV3" not in traced_operations(ours, inputs, training=True)


@on_tensorflow
def test_mixed_precision_normalizes_in_float32_and_returns_the_policy_dtype():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        ours, theirs = twin_layers(-1, (8, 6, 5, 4))[::-1]
    finally:
        keras.config.set_dtype_policy(previous)
    inputs = keras.ops.cast(np.random.default_rng(4).normal(3.0, 2.0, (8, 6, 5, 4)), "bfloat16")
    expected, got = theirs(inputs, training=True), ours(inputs, training=True)
    assert keras.backend.standardize_dtype(got.dtype) == keras.backend.standardize_dtype(expected.dtype) == "bfloat16"
    np.testing.assert_allclose(keras.ops.cast(got, "float32"), keras.ops.cast(expected, "float32"), rtol=1e-2)
    assert_float32_close(ours.moving_mean.numpy(), theirs.moving_mean.numpy())


@on_tensorflow
def test_minivggnet_with_fused_batch_norm_is_the_same_network_with_the_same_variables():
    model, fused = minivggnet_twins(augment=True)
    assert [type(layer) for layer in fused.layers] == [
        FusedBatchNormalization if type(layer) is keras.layers.BatchNormalization else type(layer)
        for layer in model.layers]
    assert sum(isinstance(layer, FusedBatchNormalization) for layer in fused.layers) == 5
    assert fused.count_params() == model.count_params()
    for copy, original in zip(fused.variables, model.variables, strict=True):
        np.testing.assert_array_equal(copy.numpy(), original.numpy())
    images = np.random.default_rng(5).random((16, 28, 28, 1), dtype="float32")
    assert_float32_close(fused(images, training=False), model(images, training=False))
    # the diagnostics find and switch the fused layers as batch-norm
    assert len(training_only_layers(fused).switches["batch-norm"]) == 5


def minivggnet_gradients(model, images, targets, dtype):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        predictions = model(tf.constant(images, dtype), training=True)
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(tf.constant(targets, dtype), predictions))
    return np.concatenate([np.ravel(gradient) for gradient in tape.gradient(loss, model.trainable_variables)])


@on_tensorflow
def test_minivggnet_gradients_are_as_close_to_float64_with_the_fused_layer_as_with_keras_own():
    """A newly built MiniVGGNet normalizes ReLU outputs of small variance, which magnifies float32 rounding: its
    float32 gradients differ from float64's by about 0.5% with Keras's own layer. The fused layer must stay as close
    (within three times that), not match Keras's float32 digits."""
    model, fused = minivggnet_twins(dropout_scale=0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        reference = MiniVGGNet.build(28, 28, 1, 10, dropout_scale=0)
    finally:
        keras.config.set_dtype_policy(previous)
    for copy, original in zip(reference.weights, model.weights, strict=True):
        copy.assign(keras.ops.cast(original, "float64"))
    random = np.random.default_rng(6)
    images = random.random((32, 28, 28, 1))
    targets = keras.utils.to_categorical(random.integers(0, 10, 32), 10)
    exact = minivggnet_gradients(reference, images, targets, "float64")

    def error(network):
        return np.linalg.norm(minivggnet_gradients(network, images, targets, "float32") - exact) / np.linalg.norm(exact)

    assert error(fused) < 3 * error(model)
    assert error(model) < 0.02


@on_tensorflow
def test_weights_saved_from_either_layer_load_into_the_other(tmp_path):
    model, fused = minivggnet_twins()
    for weight in fused.weights:
        weight.assign(weight + 1.0)
    fused.save_weights(tmp_path / "fused.weights.h5")
    model.load_weights(tmp_path / "fused.weights.h5")
    for copy, original in zip(fused.weights, model.weights, strict=True):
        np.testing.assert_array_equal(copy.numpy(), original.numpy())
    fused.save(tmp_path / "fused.keras")
    loaded = keras.models.load_model(tmp_path / "fused.keras")
    assert sum(isinstance(layer, FusedBatchNormalization) for layer in loaded.layers) == 5


@pytest.mark.backends
def test_minivggnet_as_the_script_builds_it_computes_what_keras_own_layer_computes():
    """On TensorFlow in the fused kernel, on JAX and PyTorch with Keras's own operations: the same outputs in inference
    mode to float32's rounding, and in training mode to a thousandth (a new network's batch statistics divide by
    small variances, which magnify float32's rounding of their sums; the layer-by-layer tests above are exact)."""
    model, fused = minivggnet_twins(dropout_scale=0)
    images = np.random.default_rng(5).random((16, 28, 28, 1), dtype="float32")
    assert_float32_close(keras.ops.convert_to_numpy(fused(images, training=False)),
                         keras.ops.convert_to_numpy(model(images, training=False)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fused(images, training=True)),
                               keras.ops.convert_to_numpy(model(images, training=True)), rtol=1e-3, atol=1e-5)


@needs_tf_keras
def test_keras_2_averaged_the_corrected_variance_in_its_fused_layer_and_the_biased_one_in_2d():
    """What the post's Keras 2 did (docs/changes.md): its fused path, for 4-D inputs, averaged the Bessel-corrected
    batch variance into the moving variance; 2-D inputs (the Dense layer's batch-norm) took the biased one."""
    import tf_keras

    values = np.array([1.0, 2.0, 4.0, 3.0, 2.0, 0.0], "float32").reshape((2, 3))
    biased, corrected = values.var(axis=0), values.var(axis=0, ddof=1)
    for shape, expected in (((2, 1, 1, 3), corrected), ((2, 3), biased)):
        layer = tf_keras.layers.BatchNormalization(moving_variance_initializer="zeros")
        layer(values.reshape(shape), training=True)
        np.testing.assert_allclose(layer.moving_variance.numpy(), (1 - layer.momentum) * expected, rtol=1e-6)
