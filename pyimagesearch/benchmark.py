"""How fast does the post's training run here? Variants timed side by side, on the real data.

    python -m pyimagesearch.benchmark                       # a few minutes: the post's fit against 32 steps a call
    python -m pyimagesearch.benchmark --variants plain steps8 xla bf16 --steps 300 --repeats 5

Each variant is a compiled MiniVGGNet with the post's optimizer and batch size 32. After one warm-up, the variants
take turns (plain, steps32, ..., plain, steps32, ...) so that a noisy machine slows them alike; each turn trains
`--steps` batches with `model.fit` and evaluates as many validation images. An epoch is extrapolated to the
post's 1,875 training batches and 10,000 validation images. GFLOP/s come from the network's layer shapes.
"""
import argparse
import os
import statistics
import time

import numpy as np

TRAIN_IMAGES, VALIDATION_IMAGES, BATCH_SIZE = 60000, 10000, 32


def forward_flops_per_image(model):
    """Multiply-adds x 2 of the convolutions and dense layers, from their kernels and output shapes (the
    batch-norm, activation and pooling layers add well under 1%)."""
    from keras.layers import Conv2D, Dense

    flops = 0
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            positions = int(np.prod(layer.output.shape[1:])) // layer.filters
            flops += 2 * int(np.prod(layer.kernel.shape)) * positions
        elif isinstance(layer, Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return flops


def epoch_flops(model):
    # a training step costs about three forward passes (forward, and backward through activations and weights)
    return forward_flops_per_image(model) * (3 * TRAIN_IMAGES + VALIDATION_IMAGES)


def describe_machine(backend, keras_version):
    """One line: Keras and its backend, the CPU's count and features, and, under TensorFlow, whether oneDNN is on."""
    import platform

    from pyimagesearch.cpu import FEATURES, accelerators, cpu_features, onednn_default

    features = cpu_features()
    found = " ".join(feature for feature in FEATURES if feature in features) or f"none of {' '.join(FEATURES)}"
    line = f"keras {keras_version}, backend {backend}, {os.cpu_count()} CPUs ({platform.machine()}), CPU features: {found}"
    if backend == "tensorflow":
        line += f"; oneDNN {'on' if onednn_default(features) else 'off'}"
    devices = accelerators()
    return line + (f"; accelerators: {', '.join(devices)}" if devices else "; no accelerator")


def matmul_gflops(size=4096, repeats=5):
    """The machine's practical fp32 ceiling: the best of a few large numpy float32 matrix products."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


class Variant:
    """One way of running the post's training step; `fit_options` are what fashion_mnist.py would pass."""

    def __init__(self, name, images, targets, **options):
        import keras

        from pyimagesearch.minivggnet import MiniVGGNet
        from pyimagesearch.schedule import compile_as_in_the_post

        self.name, self.images, self.targets = name, images, targets
        policy = options.pop("policy", "float32")
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            self.model = MiniVGGNet.build(28, 28, 1, 10)
        finally:
            keras.config.set_dtype_policy(previous)
        compile_as_in_the_post(self.model, **options)

    def run(self, steps):
        """Seconds for `steps` training batches and for as many validation images."""
        count = steps * BATCH_SIZE
        train = _timed(lambda: self.model.fit(self.images[:count], self.targets[:count], batch_size=BATCH_SIZE,
                                              epochs=1, verbose=0, shuffle=True))
        validate = _timed(lambda: self.model.evaluate(self.images[-count:], self.targets[-count:],
                                                      batch_size=BATCH_SIZE, verbose=0))
        return train, validate


VARIANTS = {
    "plain": {},                                   # the post's model.fit, as fashion_mnist.py runs it
    "steps8": {"steps_per_execution": 8},
    "steps32": {"steps_per_execution": 32},
    "xla": {"jit_compile": True},
    "bf16": {"policy": "mixed_bfloat16"},
    "steps32-bf16": {"steps_per_execution": 32, "policy": "mixed_bfloat16"},
}


def main():
    parser = argparse.ArgumentParser(description="Time MiniVGGNet training variants side by side.")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["plain", "steps32"],
                        metavar="NAME", help=f"variants to time, from {', '.join(VARIANTS)} (default: plain steps32)")
    parser.add_argument("--steps", type=int, default=150, metavar="N",
                        help="training batches (and validation images / 32) per timed turn (default: 150)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="timed turns per variant (default: 3)")
    parser.add_argument("--dataset-dir", default=None, metavar="DIR", help="as in fashion_mnist.py")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be positive")
    if "plain" not in args.variants:
        args.variants.insert(0, "plain")

    import keras

    from pyimagesearch.datasets import load_fashion_mnist

    ((images, labels), _) = load_fashion_mnist(args.dataset_dir)
    images = images.reshape((-1, 28, 28, 1)).astype("float32") / 255.0
    targets = keras.utils.to_categorical(labels, 10)
    print(describe_machine(keras.backend.backend(), keras.__version__))
    ceiling = matmul_gflops()
    print(f"numpy float32 matmul (4096^3): {ceiling:.0f} GFLOP/s, the practical ceiling")

    variants = [Variant(name, images, targets, **dict(VARIANTS[name])) for name in args.variants]
    flops = epoch_flops(variants[0].model)
    for variant in variants:  # warm-up: tracing and compilation, not timed
        variant.run(min(args.steps, 20))
    seconds = {variant.name: [] for variant in variants}
    train_seconds = {variant.name: [] for variant in variants}
    for _ in range(args.repeats):
        for variant in variants:
            train, validate = variant.run(args.steps)
            train_seconds[variant.name].append(train / (args.steps * BATCH_SIZE) * TRAIN_IMAGES)
            seconds[variant.name].append(train_seconds[variant.name][-1]
                                         + validate / (args.steps * BATCH_SIZE) * VALIDATION_IMAGES)

    plain = statistics.median(seconds["plain"])
    print(f"{'variant':<13} {'s/epoch':>8} {'spread':>13} {'train img/s':>11} {'GFLOP/s':>8} {'vs plain':>9} "
          f"{'of ceiling':>10}")
    for name, values in seconds.items():
        median = statistics.median(values)
        achieved = flops / median / 1e9
        images_per_second = TRAIN_IMAGES / statistics.median(train_seconds[name])
        print(f"{name:<13} {median:>8.1f} {min(values):>6.1f}-{max(values):<6.1f} {images_per_second:>11.0f} "
              f"{achieved:>8.0f} {plain / median:>8.2f}x {achieved / ceiling:>9.0%}")
    print(f"(epoch = {TRAIN_IMAGES} training + {VALIDATION_IMAGES} validation images, {flops / 1e12:.2f} TFLOP; "
          f"{args.repeats} turns of {args.steps} steps each, median and min-max)")


if __name__ == "__main__":
    main()
