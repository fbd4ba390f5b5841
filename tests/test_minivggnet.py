import keras
import pytest
from keras.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D

from pyimagesearch.minivggnet import MiniVGGNet


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_has_the_books_layers_in_order():
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10)
    block = ["Conv2D", "Activation", "BatchNormalization"] * 2 + ["MaxPooling2D", "Dropout"]
    head = ["Flatten", "Dense", "Activation", "BatchNormalization", "Dropout", "Dense", "Activation"]
    assert layer_kinds(model) == block + block + head
    convolutions = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [layer.filters for layer in convolutions] == [32, 32, 64, 64]
    assert all(layer.kernel_size == (3, 3) and layer.padding == "same" for layer in convolutions)
    assert all(layer.pool_size == (2, 2) for layer in model.layers if isinstance(layer, MaxPooling2D))
    assert [layer.rate for layer in model.layers if isinstance(layer, Dropout)] == [0.25, 0.25, 0.5]
    assert [layer.units for layer in model.layers if isinstance(layer, Dense)] == [512, 10]
    activations = [layer.get_config()["activation"] for layer in model.layers if isinstance(layer, Activation)]
    assert activations == ["relu"] * 5 + ["softmax"]
    assert model.output_shape == (None, 10)


def test_parameter_counts_match_the_book():
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10)
    trainable = sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    assert model.count_params() == 1_679_082
    assert trainable == 1_677_674


def test_channels_first_moves_the_channel_axis():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10)
    finally:
        keras.config.set_image_data_format(previous)
    assert model.input_shape == (None, 1, 28, 28)
    norms = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    assert [layer.axis for layer in norms[:4]] == [1, 1, 1, 1]
    assert model.count_params() == 1_679_082


def test_channels_last_is_the_default():
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10)
    assert model.input_shape == (None, 28, 28, 1)
    assert [layer.axis for layer in model.layers if isinstance(layer, BatchNormalization)] == [-1] * 5


def test_dropout_scale_scales_every_rate_and_keeps_the_parameters():
    model = MiniVGGNet.build(28, 28, 1, 10, dropout_scale=0.5)
    assert [layer.rate for layer in model.layers if isinstance(layer, Dropout)] == [0.125, 0.125, 0.25]
    assert model.count_params() == 1_679_082
    none = MiniVGGNet.build(28, 28, 1, 10, dropout_scale=0)
    assert [layer.rate for layer in none.layers if isinstance(layer, Dropout)] == [0, 0, 0]
    assert layer_kinds(none) == layer_kinds(model)


@pytest.mark.parametrize("scale", [-0.1, 2.0, 5])
def test_dropout_scale_that_would_drop_everything_is_refused(scale):
    with pytest.raises(ValueError, match="dropout_scale"):
        MiniVGGNet.build(28, 28, 1, 10, dropout_scale=scale)
