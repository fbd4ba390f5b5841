"""How fashion_mnist.py runs the post's computation fast on the CPUs readers have (docs/speed.md).

The default runs one training step per call into the backend, exactly as the post's `model.fit` does: running 32
steps per call (`steps_per_execution=32`) made Keras's progress bar count past its total, checked for NaN only every
32 batches, is refused by the PyTorch backend, and gained little on a 2-core CPU (docs/speed.md). XLA
(`jit_compile=True`) was several times slower on such a CPU, so it stays off, as Keras's "auto" already leaves it
on CPU-only machines.
"""
import os

from .cpu import bfloat16_is_fast


def prefer_onednn(environment=os.environ):
    """Turn TensorFlow's oneDNN kernels on unless the user chose otherwise; call it before TensorFlow is imported.

    TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI, bfloat16 instructions or AMX; elsewhere (AVX2
    laptops and desktops) it runs its own kernels, built for plain AVX, and trains MiniVGGNet markedly slower
    (docs/speed.md). The setting changes kernels, not the computation: oneDNN's sums round differently in the last
    digits, as on every CPU where TensorFlow picks it itself. Other backends ignore it.
    """
    environment.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def keep_float32(backend):
    """Compute float32 convolutions and matrix products in float32 on every device, for the models built after this
    call; `backend` as `keras.backend.backend()`.

    On GPUs from Ampere on, TensorFlow, JAX and PyTorch round them by default to TensorFloat-32 (a 10-bit mantissa
    instead of 23) for speed. The project reports float32 numbers, so it asks each backend for full precision; on a
    CPU nothing changes, since CPUs have no TensorFloat-32. `--mixed-precision` is the fast opt-in.
    """
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend == "torch":
        import torch

        if not hasattr(torch.backends.cudnn, "conv"):  # before PyTorch 2.9: its legacy flags
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
            return
        # one setting for matrix products and one for each cuDNN kind (convolutions and recurrent layers default to
        # TensorFloat-32); PyTorch refuses a mix of these and the legacy flags, so only these are set
        for setting in (torch.backends, torch.backends.cuda.matmul, torch.backends.cudnn.conv,
                        torch.backends.cudnn.rnn):
            setting.fp32_precision = "ieee"


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
    import keras

    keras.config.set_dtype_policy("mixed_bfloat16")
    return True
