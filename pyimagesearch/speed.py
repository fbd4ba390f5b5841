"""How fashion_mnist.py runs the post's computation faster without changing it (README, "Speed").

Measured with `python -m pyimagesearch.benchmark` on a 2-core CPU: Keras's Python loop around each batch of 32
costs a noticeable share of a 20-25 ms step there, and running 32 steps per call into TensorFlow (same batches,
same order, same updates) removes most of it. XLA (`jit_compile=True`) was over three times slower on that CPU,
so it stays off, as Keras's "auto" already leaves it on CPU-only machines.
"""
import keras

STEPS_PER_EXECUTION = 32


def compile_options():
    """Extra `model.compile` arguments of the default run."""
    return {"steps_per_execution": STEPS_PER_EXECUTION}


def use_mixed_precision():
    """bfloat16 arithmetic with float32 weights (Keras's `mixed_bfloat16`), for the models built after this call.

    Faster where the hardware has bfloat16 instructions (recent x86 CPUs with AVX512-BF16 or AMX, most GPUs); the
    result is close to float32's but not identical, so it is opt-in.
    """
    keras.config.set_dtype_policy("mixed_bfloat16")
