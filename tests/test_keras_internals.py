"""What pyimagesearch/keras_internals.py relies on, checked on the installed Keras: a failure names the version."""
import keras
import numpy as np
import pytest

from lossgap.families import until_exit
from lossgap.keras_internals import (all_layers, call_replaced, call_takes_training, own_seed_generators, replace_calls,
                                     seed_generators, torch_global_generator_forked)
from tests.conftest import Wrapper

CHANGED = f"Keras {keras.__version__} changed what pyimagesearch/keras_internals.py relies on"


class NoTrainingArgument(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, images):
        return self.dense(images)


def nested_model():
    block = keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5, seed=1),
                              keras.layers.BatchNormalization()])
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(block(inputs)))
    return Wrapper(functional), block


@pytest.mark.backends
def test_layers_nested_three_deep_are_all_found():
    model, block = nested_model()
    model(np.zeros((2, 4), "float32"))
    found = all_layers(model)
    for layer in block.layers:
        assert any(candidate is layer for candidate in found), f"{CHANGED}: {layer.name} not found in nested models"


@pytest.mark.backends
def test_dropout_seeded_through_a_stateless_scope_leaves_trainings_generators_unchanged():
    model, _ = nested_model()
    images = np.ones((64, 4), "float32")
    model(images)
    generators = seed_generators(model)
    assert generators, f"{CHANGED}: no seed generator found for the Dropout layer"
    before = [keras.ops.convert_to_numpy(generator.state.value) for generator in generators]

    def masked(seed):
        seeds = [keras.ops.convert_to_tensor(np.array([seed, 0]), dtype=generator.state.dtype)
                 for generator in generators]
        with torch_global_generator_forked(np.random.default_rng(seed)):
            with keras.StatelessScope(state_mapping=list(zip([g.state for g in generators], seeds))):
                return keras.ops.convert_to_numpy(model(images, training=True))

    first, again, other = masked(11), masked(11), masked(12)
    after = [keras.ops.convert_to_numpy(generator.state.value) for generator in generators]
    assert all(np.array_equal(b, a) for b, a in zip(before, after)), f"{CHANGED}: measuring advanced a seed generator"
    assert np.array_equal(first, again), f"{CHANGED}: the mapped seed does not decide the dropout mask"
    assert not np.array_equal(first, other), f"{CHANGED}: the mapped seed is ignored by the dropout layer"


@pytest.mark.backends
def test_a_frozen_batch_norm_uses_its_moving_statistics_even_in_training_mode():
    layer = keras.layers.BatchNormalization()
    images = np.full((8, 3), 5.0, "float32") + np.arange(8, dtype="float32")[:, None]
    layer.build(images.shape)
    layer.trainable = False
    # moving mean 0 and variance 1 at the start: frozen, the layer leaves the inputs as they are (up to epsilon)
    moving_statistics = keras.ops.convert_to_numpy(layer(images, training=True))
    layer.trainable = True
    batch_statistics = keras.ops.convert_to_numpy(layer(images, training=True))
    assert abs(batch_statistics.mean()) < 1e-5, f"{CHANGED}: batch-norm in training mode is not on batch statistics"
    np.testing.assert_allclose(moving_statistics, images / np.sqrt(1 + layer.epsilon), rtol=1e-5,
                               err_msg=f"{CHANGED}: trainable=False batch-norm is not on its moving statistics")


@pytest.mark.backends
def test_whether_a_models_call_takes_training_is_known():
    model, _ = nested_model()
    assert call_takes_training(model) is True, f"{CHANGED}: a call(images, training) model reads as without"
    assert call_takes_training(NoTrainingArgument()) is False, f"{CHANGED}: a call(images) model reads as with"


@pytest.mark.backends
def test_a_layers_own_seed_generator_is_its_own_not_its_sublayers():
    model, block = nested_model()
    model(np.zeros((2, 4), "float32"))
    dropout = block.layers[1]
    assert len(own_seed_generators(dropout)) == 1, f"{CHANGED}: a seeded Dropout holds no seed generator of its own"
    assert own_seed_generators(block) == own_seed_generators(model) == [], (
        f"{CHANGED}: a container lists its sublayers' seed generators as its own")
    assert call_takes_training(dropout) and not call_takes_training(keras.layers.Flatten()), (
        f"{CHANGED}: whether a layer's call takes training is not known")


@pytest.mark.backends
def test_a_call_replaced_on_the_instance_takes_over_a_nested_layer_eager_and_traced_and_blocks_nest():
    images = np.ones((8, 4), "float32")

    def zeros(call):
        return lambda inputs, **keywords: keras.ops.zeros_like(call(inputs, **keywords))

    def doubled(call):
        return lambda inputs, **keywords: 2 * call(inputs, **keywords)

    def eager(model):
        return keras.ops.convert_to_numpy(model(images, training=False))

    model, block = nested_model()
    before = eager(model)
    dense = block.layers[0]
    with until_exit(replace_calls([(dense, zeros)])):
        assert call_replaced(dense)
        with until_exit(replace_calls([(dense, doubled)])):  # doubles the outer block's zeros
            nested = eager(model)
        replaced = eager(model)  # the outer block's replacement, back after the inner block
        traced = model.predict(images, verbose=0)  # Keras traces its predict function here, the first time
    assert not call_replaced(dense)
    bias_only = keras.ops.convert_to_numpy(model.inner.layers[-1](
        block.layers[2](np.zeros((8, 8), "float32"), training=False)))
    np.testing.assert_allclose(replaced, bias_only,
                               err_msg=f"{CHANGED}: an instance's call does not replace the class's")
    np.testing.assert_allclose(traced, bias_only, err_msg=f"{CHANGED}: a traced call ignores the instance's call")
    np.testing.assert_allclose(nested, bias_only, err_msg=f"{CHANGED}: nested replacements do not compose")
    np.testing.assert_array_equal(eager(model), before,
                                  err_msg=f"{CHANGED}: the class's call is not back after the block")
    with pytest.raises(RuntimeError), until_exit(replace_calls([(dense, zeros)])):
        raise RuntimeError("a measurement failed")
    assert not call_replaced(dense)


@pytest.mark.backends
@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch's global generator (KERAS_BACKEND=torch)")
def test_an_unseeded_dropout_on_torch_draws_from_the_forked_generator_only():
    import torch

    layer = keras.layers.Dropout(0.5)  # no seed of its own: Keras's fast path draws from torch's global generator
    images = np.ones((64, 16), "float32")
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    with torch_global_generator_forked(np.random.default_rng(0)):
        layer(images, training=True)
    assert torch.equal(torch.rand(4), expected), f"{CHANGED}: dropout advanced torch's generator inside the fork"
    torch.manual_seed(3)
    layer(images, training=True)
    assert not torch.equal(torch.rand(4), expected), (f"{CHANGED}: unseeded dropout no longer draws from torch's "
                                                     "global generator, so the fork is not needed: revisit it")
