"""The post's learning-rate decay, exactly as Keras 2 applied it."""
from keras.optimizers.schedules import InverseTimeDecay


def legacy_time_decay(initial_learning_rate, decay):
    """Keras 2's `SGD(lr=..., decay=...)` as a Keras 3 schedule.

    Keras 2 lowered the rate after every batch: lr = initial / (1 + decay * iteration). Keras 3 dropped the `decay`
    argument (with only a warning); InverseTimeDecay with one step per decay and no staircase is the same formula.
    """
    return InverseTimeDecay(initial_learning_rate, decay_steps=1, decay_rate=decay)


def compile_as_in_the_post(model, init_lr=1e-2, epochs=25, **compile_arguments):
    """`model.compile` with the post's loss, metric and optimizer (SGD, momentum 0.9, decay init_lr / epochs).

    fashion_mnist.py spells these lines out, as the post does, so that a reader can follow them there; the benchmark
    and the tests call this instead. `compile_arguments` go to `model.compile` (e.g. `steps_per_execution`).
    """
    from keras.optimizers import SGD

    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=SGD(learning_rate=legacy_time_decay(init_lr, init_lr / epochs), momentum=0.9),
                  **compile_arguments)
    return model


def compile_on_keras2(model, tf_keras, init_lr=1e-2, epochs=25):
    """The post's own compile lines, run on `tf_keras` (Keras 2) for the benchmark's `keras2` configuration.

    The post's `SGD` is TensorFlow 2.0-2.10's, which tf_keras keeps as `optimizers.legacy.SGD`: it still takes
    `lr=` (with a deprecation warning) and applies `decay=` itself, while tf_keras's new SGD refuses `decay=`.
    """
    opt = tf_keras.optimizers.legacy.SGD(lr=init_lr, momentum=0.9, decay=init_lr / epochs)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model
