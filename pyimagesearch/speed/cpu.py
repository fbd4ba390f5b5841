"""What this machine's processor can do, for the choices that depend on it (bfloat16, the benchmark's report)."""
import os

# the instruction-set extensions that decide how fast MiniVGGNet trains on a CPU, as Linux names them
FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
BFLOAT16_FEATURES = ("avx512_bf16", "amx_bf16")


def cpu_features(cpuinfo="/proc/cpuinfo"):
    """The FEATURES this CPU has: from the kernel's flags on Linux, else from numpy's own CPU detection."""
    try:
        with open(cpuinfo) as file:
            flags = next((line.split(":", 1)[1].split() for line in file if line.startswith("flags")), [])
        return {feature for feature in FEATURES if feature in flags}
    except OSError:
        pass
    try:  # numpy detects features on every system, under private names that differ between numpy 1 and 2
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__
    numpy_names = {"avx2": "AVX2", "fma": "FMA3", "avx512f": "AVX512F", "avx512_vnni": "AVX512VNNI",
                   "avx512_bf16": "AVX512BF16"}
    return {feature for feature, name in numpy_names.items() if __cpu_features__.get(name)}


def accelerators():
    """The devices Keras's backend trains on other than the CPU (GPUs, TPUs), as Keras names them."""
    import keras

    if keras.backend.backend() == "torch":  # Keras's device list (keras.distribution) serves JAX and TensorFlow only
        import torch

        devices = [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    else:
        devices = keras.distribution.list_devices()
    return [device for device in devices if not device.lower().startswith("cpu")]


def bfloat16_is_fast(features, devices):
    """bfloat16 pays off on accelerators and on CPUs with bfloat16 instructions; elsewhere each operation is
    emulated in float32 and converted back, many times slower than float32 itself."""
    return bool(devices) or any(feature in features for feature in BFLOAT16_FEATURES)


def onednn_default(features):
    """Whether TensorFlow turns its oneDNN kernels on by itself: on x86 CPUs with AVX-512 VNNI, bfloat16
    instructions or AMX, unless TF_ENABLE_ONEDNN_OPTS says otherwise."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting is not None:
        return setting.strip().lower() in ("1", "true")
    return any(feature in features for feature in ("avx512_vnni",) + BFLOAT16_FEATURES)
