"""One seed, set once: what `--seed` does."""
import keras


def set_seed(seed):
    """Seed Python, numpy and the backend (Keras's own call), and make TensorFlow's kernels deterministic.

    Without the second step two seeded runs on TensorFlow still differ in the last digits, because some CPU
    kernels sum in a thread-dependent order.
    """
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
