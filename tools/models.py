"""MiniVGGNet compiled as the post compiles it: on Keras 3 (the benchmark, the profile and the tests; fashion_mnist.py
spells these lines out, as the post does) and on Keras 2, tf_keras (the benchmark's `keras2`)."""
from pyimagesearch.schedule import legacy_time_decay


def compile_as_in_the_post(model, init_lr=1e-2, epochs=25, optimizer=None, **compile_arguments):
    """`model.compile` with the post's loss, metric and optimizer (SGD, momentum 0.9, decay init_lr / epochs).

    fashion_mnist.py spells these lines out, as the post does, so that a reader can follow them there; the benchmark
    and the tests call this instead. `optimizer` is the SGD class (by default fashion_mnist.py's:
    pyimagesearch/speed/optimizer.py); `compile_arguments` go to `model.compile` (e.g. `steps_per_execution`).
    """
    from pyimagesearch.speed.optimizer import SGD

    SGD = optimizer or SGD
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
