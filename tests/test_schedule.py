import keras
import numpy as np
import pytest
from keras.optimizers import SGD

from pyimagesearch.schedule import legacy_time_decay

INIT_LR, NUM_EPOCHS = 1e-2, 25
DECAY = INIT_LR / NUM_EPOCHS  # the post's decay, 0.0004


def keras2_learning_rate(iteration):
    # what Keras 2's SGD(lr=0.01, decay=0.0004) used at a given batch
    return INIT_LR / (1 + DECAY * iteration)


@pytest.mark.parametrize("iteration, expected", [
    (0, 0.01),                 # first batch: the initial rate
    (1, 0.01 / 1.0004),        # second batch: already decayed (per batch, not per epoch)
    (1875, 0.01 / 1.75),       # first batch of epoch 2 (60,000 / 32 = 1,875 batches an epoch)
    (46875, 0.01 / 19.75),     # one past the last batch of epoch 25
])
def test_schedule_is_keras2_time_decay_per_batch(iteration, expected):
    schedule = legacy_time_decay(INIT_LR, DECAY)
    assert float(schedule(iteration)) == pytest.approx(expected, rel=1e-6)
    assert float(schedule(iteration)) == pytest.approx(keras2_learning_rate(iteration), rel=1e-6)


@pytest.mark.parametrize("iteration", [0, 1, 1875, 46875])
def test_sgd_applies_the_decayed_rate_at_each_iteration(iteration):
    # one real SGD step (no momentum yet) on loss = w: the weight moves by exactly the current learning rate
    optimizer = SGD(learning_rate=legacy_time_decay(INIT_LR, DECAY), momentum=0.9)
    weight = keras.Variable(np.array([0.0], dtype="float32"))
    optimizer.build([weight])
    optimizer.iterations.assign(iteration)
    optimizer.apply_gradients([(keras.ops.ones((1,)), weight)])
    assert -float(weight.numpy()[0]) == pytest.approx(keras2_learning_rate(iteration), rel=1e-5)
    assert int(optimizer.iterations.numpy()) == iteration + 1
