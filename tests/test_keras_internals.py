"""What pyimagesearch/keras_internals.py relies on, checked on the installed Keras: a failure names the version."""
import keras
import numpy as np
import pytest

from pyimagesearch.keras_internals import (all_layers, ask_xla_for_deterministic_gpu_kernels, call_takes_training,
                                           seed_generators, torch_global_generator_forked)

CHANGED = f"Keras {keras.__version__} changed what pyimagesearch/keras_internals.py relies on"


class Wrapper(keras.Model):
    """A subclassed model around a functional one that holds a Sequential: three levels of nesting."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, images, training=None):
        return self.inner(images, training=training)


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


def test_xla_is_asked_for_deterministic_gpu_kernels_unless_the_user_set_it():
    unset, other, chosen = {}, {"XLA_FLAGS": "--xla_dump_to=/tmp"}, {"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}
    for environment in (unset, other, chosen):
        ask_xla_for_deterministic_gpu_kernels(environment)
    assert unset == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
    assert other == {"XLA_FLAGS": "--xla_dump_to=/tmp --xla_gpu_deterministic_ops=true"}
    assert chosen == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}
