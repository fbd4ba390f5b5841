"""The post's learning-rate decay, exactly as Keras 2 applied it."""
from keras.optimizers.schedules import InverseTimeDecay


def legacy_time_decay(initial_learning_rate, decay):
    """Keras 2's `SGD(lr=..., decay=...)` as a Keras 3 schedule.

    Keras 2 lowered the rate after every batch: lr = initial / (1 + decay * iteration). Keras 3 dropped the `decay`
    argument (with only a warning); InverseTimeDecay with one step per decay and no staircase is the same formula.
    """
    return InverseTimeDecay(initial_learning_rate, decay_steps=1, decay_rate=decay)
