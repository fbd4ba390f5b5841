"""One seed, set once: what `--seed` does."""
import os

import keras


def set_seed(seed):
    """Seed Python, numpy and the backend (Keras's own call), and ask the backend for deterministic kernels.

    Without the last step two seeded runs still differ: on TensorFlow in the last digits, because some CPU kernels sum
    in a thread-dependent order; on JAX with a GPU from the first epoch, because XLA autotunes convolutions and sums
    with atomics there. XLA reads its flag when JAX starts its backend, so it is set before Keras's call makes the
    first array (on a backend started earlier it has no effect).
    """
    if keras.backend.backend() == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
