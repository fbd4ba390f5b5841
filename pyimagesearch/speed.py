"""Faster runs that compute what the post computes, opt-in (README, "Speed").

The default runs one training step per call into the backend, exactly as the post's `model.fit` does: running 32
steps per call (`steps_per_execution=32`) gained no more than the noise on a 2-core CPU, made Keras's progress bar
count past its total, checked for NaN only every 32 batches, and is refused by the PyTorch backend. XLA
(`jit_compile=True`) was over three times slower on that CPU, so it stays off, as Keras's "auto" already leaves it
on CPU-only machines.
"""
import keras

from pyimagesearch.cpu import bfloat16_is_fast


def use_mixed_precision(features, devices):
    """bfloat16 arithmetic with float32 weights (Keras's `mixed_bfloat16`) for the models built after this call,
    where it pays off: on an accelerator, or a CPU with bfloat16 instructions (AVX512-BF16, AMX). Elsewhere
    bfloat16 is emulated and many times slower than float32, so the run stays in float32 and says so in one line:
    the flag asks for speed, and float32 is the fast choice there. Returns whether bfloat16 is in use.

    The result is close to float32's but not identical, so it is opt-in. `features` as `cpu.cpu_features()`,
    `devices` as `cpu.accelerators()`.
    """
    if not bfloat16_is_fast(features, devices):
        print("[INFO] --mixed-precision: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX) and there is no "
              "GPU, where bfloat16 is far slower than float32, so training stays in float32")
        return False
    keras.config.set_dtype_policy("mixed_bfloat16")
    return True
