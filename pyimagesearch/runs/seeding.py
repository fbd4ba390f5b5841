"""`--seed`: Python, numpy and the backend seeded, and deterministic kernels asked for."""
import os


def set_seed(seed):
    """Seed Python, numpy and the backend (Keras's own call), and ask the backend for deterministic kernels.

    Without the last step two seeded runs still differ: on TensorFlow in the last digits, because some CPU kernels sum
    in a thread-dependent order; on JAX with a GPU from the first epoch, because XLA autotunes convolutions and sums
    with atomics there.
    """
    import keras

    if keras.backend.backend() == "jax":
        ask_xla_for_deterministic_gpu_kernels()
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def ask_xla_for_deterministic_gpu_kernels(environment=os.environ):
    """Add XLA's `--xla_gpu_deterministic_ops=true` to XLA_FLAGS unless the user set it: on a GPU, XLA autotunes
    convolutions and sums with atomics, so two seeded JAX runs differ from the first epoch. JAX has no public switch
    for it, and XLA reads its flags only when JAX starts its backend, so this must come before the first array."""
    flags = environment.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        environment["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()
