import keras
import numpy as np
import pytest
from keras.optimizers import SGD

from pyimagesearch.schedule import legacy_time_decay
from tests.conftest import needs_tf_keras

INIT_LR, NUM_EPOCHS = 1e-2, 25
DECAY = INIT_LR / NUM_EPOCHS  # the post's decay, 0.0004
# what Keras 2's SGD(lr=0.01, decay=0.0004) used at a batch: lr / (1 + decay * iteration)
KERAS2_RATES = [
    (0, 0.01),                 # first batch: the initial rate
    (1, 0.01 / 1.0004),        # second batch: already decayed (per batch, not per epoch)
    (1875, 0.01 / 1.75),       # first batch of epoch 2 (60,000 / 32 = 1,875 batches an epoch)
    (46875, 0.01 / 19.75),     # one past the last batch of epoch 25
]


@pytest.mark.parametrize("iteration, expected", KERAS2_RATES)
def test_schedule_is_keras2_time_decay_per_batch(iteration, expected):
    assert float(legacy_time_decay(INIT_LR, DECAY)(iteration)) == pytest.approx(expected, rel=1e-6)


@needs_tf_keras
@pytest.mark.filterwarnings("ignore:The `lr` argument is deprecated:UserWarning")  # the post's spelling, kept
@pytest.mark.parametrize("iteration, expected", KERAS2_RATES)
def test_schedule_is_the_rate_keras2s_own_sgd_decays_to(iteration, expected):
    # the optimizer the post ran: TensorFlow 2.0-2.10's SGD, kept in tf_keras as optimizers.legacy.SGD
    import tensorflow as tf
    import tf_keras

    posts = tf_keras.optimizers.legacy.SGD(lr=0.01, momentum=0.9, decay=0.0004)
    posts.iterations.assign(iteration)
    keras2 = float(posts._decayed_lr(tf.float32))
    assert keras2 == pytest.approx(expected, rel=1e-6)  # so the expected rates above are Keras 2's
    assert float(legacy_time_decay(INIT_LR, DECAY)(iteration)) == pytest.approx(keras2, rel=1e-6)


@pytest.mark.parametrize("iteration, expected", KERAS2_RATES)
def test_sgd_applies_the_decayed_rate_at_each_iteration(iteration, expected):
    # one real SGD step (no momentum yet) on loss = w: the weight moves by exactly the current learning rate
    optimizer = SGD(learning_rate=legacy_time_decay(INIT_LR, DECAY), momentum=0.9)
    weight = keras.Variable(np.array([0.0], dtype="float32"))
    optimizer.build([weight])
    optimizer.iterations.assign(iteration)
    optimizer.apply_gradients([(keras.ops.ones((1,)), weight)])
    assert -float(weight.numpy()[0]) == pytest.approx(expected, rel=1e-5)
    assert int(optimizer.iterations.numpy()) == iteration + 1


def sgd_steps(optimizer_class, steps=40, seed=0):
    """Weights after `steps` updates of a small problem with the post's optimizer and schedule, and the momentum."""
    random = np.random.default_rng(seed)
    weights = [keras.Variable(random.normal(size=shape).astype("float32")) for shape in ((3, 4), (4,))]
    optimizer = optimizer_class(learning_rate=legacy_time_decay(INIT_LR, DECAY), momentum=0.9)
    optimizer.build(weights)
    optimizer.iterations.assign(1870)  # decayed: a rate that changes at every step
    gradients = [[random.normal(size=weight.shape).astype("float32") for weight in weights] for _ in range(steps)]
    for step in gradients:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(gradient) for gradient in step], weights))
    return [keras.ops.convert_to_numpy(weight) for weight in weights + optimizer.variables[1:]]


@pytest.mark.backends
def test_the_fused_update_is_keras_own_sgd_to_float32_rounding():
    from pyimagesearch.speed.optimizer import SGD as FusedSGD

    for ours, keras_own in zip(sgd_steps(FusedSGD), sgd_steps(SGD), strict=True):
        np.testing.assert_allclose(ours, keras_own, rtol=1e-6, atol=1e-7)


@needs_tf_keras
@pytest.mark.filterwarnings("ignore:The `lr` argument is deprecated:UserWarning")  # the post's spelling, kept
def test_the_fused_update_is_the_posts_own_sgd_on_keras_2():
    import tensorflow as tf
    import tf_keras

    from pyimagesearch.speed.optimizer import SGD as FusedSGD

    ours = sgd_steps(FusedSGD)
    random = np.random.default_rng(0)
    weights = [tf.Variable(random.normal(size=shape).astype("float32")) for shape in ((3, 4), (4,))]
    posts = tf_keras.optimizers.legacy.SGD(lr=0.01, momentum=0.9, decay=0.0004)
    posts.iterations.assign(1870)
    for _ in range(40):
        step = [random.normal(size=weight.shape).astype("float32") for weight in weights]
        posts.apply_gradients(zip([tf.constant(gradient) for gradient in step], weights))
    for mine, keras2 in zip(ours[:2], weights):
        np.testing.assert_allclose(mine, keras2.numpy(), rtol=1e-6, atol=1e-7)
