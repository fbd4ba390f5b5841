"""How fast does the post's training run here? Variants timed side by side, on the real data.

    python -m tools.benchmark         # a few minutes: the post's fit against 32 steps a call
    python -m tools.benchmark --variants plain steps8 xla bf16 --steps 300 --repeats 5
    python -m tools.benchmark --configurations tensorflow keras2 --steps 300 --repeats 3

Each variant is a compiled MiniVGGNet with the post's optimizer and batch size 32. After one warm-up, the variants
take turns (plain, steps32, ..., plain, steps32, ...) so that a noisy machine slows them alike; each turn trains
`--steps` batches (at most an epoch's 1,875) with `model.fit` and evaluates as many validation images, each timed
from its first batch to its last; a batch ends once its loss is a Python number, so work a backend has only queued
is counted. An epoch is extrapolated to the post's 1,875 training batches and 10,000 validation images. GFLOP/s
come from the network's layer shapes.

Every run starts as fashion_mnist.py does: TensorFlow's oneDNN kernels on unless TF_ENABLE_ONEDNN_OPTS says
otherwise (`speed.settings.prefer_onednn`), and float32 without TensorFloat-32 (`speed.settings.keep_float32`).

`--configurations` times the post's fit (the `plain` variant) in a process of its own per configuration, for the
settings that only take effect when a process starts:

    tensorflow        what fashion_mnist.py runs: Keras 3 on TensorFlow, oneDNN on unless your environment has
                      TF_ENABLE_ONEDNN_OPTS=0
    tensorflow-eigen  TensorFlow's own kernels (TF_ENABLE_ONEDNN_OPTS=0): what TensorFlow picks by itself on a CPU
                      without AVX-512 VNNI or bfloat16, the plain port there
    jax, torch        Keras 3 on JAX, on PyTorch
    keras2            the post's own code on tf_keras (Keras 2), TF_USE_LEGACY_KERAS=1: MiniVGGNet built with
                      tf_keras's layers, the post's `SGD(lr=0.01, momentum=0.9, decay=0.01 / 25)`; oneDNN as for
                      tensorflow. tf_keras is not one of the project's requirements: pip install
                      tf_keras==<TensorFlow's version>

With `--emulate-avx2` every process is capped at AVX2, as on a laptop CPU (with --variants too): tensorflow-eigen is then the plain port
(oneDNN off, as TensorFlow leaves it there by itself) and tensorflow the default (oneDNN on).
"""
import argparse
import os
import statistics
import time

import numpy as np

from lossgap.backends import choose_backend
from lossgap.errors import UserError, run
from lossgap.arguments import positive_int
from pyimagesearch.speed.settings import keep_float32, prefer_onednn

TRAIN_IMAGES, VALIDATION_IMAGES, BATCH_SIZE = 60000, 10000, 32
STEPS_PER_EPOCH = TRAIN_IMAGES // BATCH_SIZE


def forward_flops_per_image(model, keras=None):
    """Multiply-adds x 2 of the convolutions and dense layers, from their kernels and output shapes (the
    batch-norm, activation and pooling layers add well under 1%). `keras` is the Keras the model was built with,
    Keras 3 unless given."""
    if keras is None:
        import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            positions = int(np.prod(layer.output.shape[1:])) // layer.filters
            flops += 2 * int(np.prod(layer.kernel.shape)) * positions
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return flops


def epoch_flops(model, keras=None):
    # a training step costs about three forward passes (forward, and backward through activations and weights)
    return forward_flops_per_image(model, keras) * (3 * TRAIN_IMAGES + VALIDATION_IMAGES)


def describe_machine(keras):
    """One line: Keras and its backend, the CPU's count and features, and, under TensorFlow, whether oneDNN is on."""
    import platform

    from pyimagesearch.speed.cpu import FEATURES, accelerators, cpu_features, onednn_default

    features = cpu_features()
    found = " ".join(feature for feature in FEATURES if feature in features) or f"none of {' '.join(FEATURES)}"
    backend = keras.backend.backend()
    line = (f"{keras.__name__} {keras.__version__}, backend {backend}, {os.cpu_count()} CPUs ({platform.machine()}), "
            f"CPU features: {found}")
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
    """One way of running the post's training step: a compiled MiniVGGNet and the Keras it was built with (Keras 3,
    or tf_keras), whose callbacks time it."""

    def __init__(self, name, model, keras, images, targets):
        self.name, self.model, self.keras, self.images, self.targets = name, model, keras, images, targets

    @classmethod
    def on_keras3(cls, name, images, targets, policy="float32", keras_batch_norm=False, fused_sgd=None,
                  **compile_arguments):
        """MiniVGGNet built under the dtype `policy`, with fashion_mnist.py's fused batch-norm unless
        `keras_batch_norm`, and compiled as in the post with `compile_arguments`, what fashion_mnist.py would pass;
        with `fused_sgd`, SGD's update in TensorFlow's fused kernel (pyimagesearch/speed/optimizer.py), and with
        `fused_sgd=False` Keras's own SGD, whatever fashion_mnist.py uses."""
        import keras

        from pyimagesearch.minivggnet import MiniVGGNet
        from tools.models import compile_as_in_the_post

        if fused_sgd is not None:
            from pyimagesearch.speed.optimizer import SGD as FusedSGD

            compile_arguments["optimizer"] = FusedSGD if fused_sgd else keras.optimizers.SGD

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            model = MiniVGGNet.build(28, 28, 1, 10,
                                     batch_norm=keras.layers.BatchNormalization if keras_batch_norm else None)
        finally:
            keras.config.set_dtype_policy(previous)
        return cls(name, compile_as_in_the_post(model, **compile_arguments), keras, images, targets)

    @classmethod
    def on_keras2(cls, images, targets):
        """The post's own code on tf_keras, as the `plain` variant: MiniVGGNet built with tf_keras's layers,
        compiled with the post's lines."""
        import tf_keras

        from pyimagesearch.minivggnet import MiniVGGNet
        from tools.models import compile_on_keras2

        model = compile_on_keras2(MiniVGGNet.build(28, 28, 1, 10, keras=tf_keras), tf_keras)
        return cls("plain", model, tf_keras, images, targets)

    def run(self, steps):
        """Seconds for `steps` training batches and for as many validation images, each from the first batch's start
        to the last one's end. The set-up and tear-down of each `fit` and `evaluate` call are left out: a run pays
        them once an epoch, but a short turn would count them over and over (under TensorFlow, dropping a `tf.data`
        iterator waits for its autotuning thread, which sleeps for up to seconds; docs/speed.md)."""
        count = steps * BATCH_SIZE
        started, seconds = {}, {}

        def begin(mode):
            return lambda batch, logs: started.setdefault(mode, time.perf_counter())

        def end(mode):
            def stop(batch, logs):
                # A backend may hand back a batch before computing it (JAX and PyTorch queue work on a GPU); its loss
                # as a Python number exists only once it has run. Keras 3.15 and tf_keras convert the logs before
                # calling this callback; converting here keeps that wait on the clock whatever Keras does.
                float(logs["loss"])
                seconds[mode] = time.perf_counter() - started[mode]
            return stop

        clock = self.keras.callbacks.LambdaCallback(on_train_batch_begin=begin("train"),
                                                    on_train_batch_end=end("train"),
                                                    on_test_batch_begin=begin("test"), on_test_batch_end=end("test"))
        self.model.fit(self.images[:count], self.targets[:count], batch_size=BATCH_SIZE, epochs=1, verbose=0,
                       shuffle=True, callbacks=[clock])
        self.model.evaluate(self.images[-count:], self.targets[-count:], batch_size=BATCH_SIZE, verbose=0,
                            callbacks=[clock])
        return seconds["train"], seconds["test"]


VARIANTS = {
    "plain": {},                                   # the post's model.fit, as fashion_mnist.py runs it
    "keras-bn": {"keras_batch_norm": True},        # with Keras's own batch-norm layer instead of the fused one
    "keras-sgd": {"fused_sgd": False},             # Keras's own SGD instead of the fused update
    "steps8": {"steps_per_execution": 8},
    "steps32": {"steps_per_execution": 32},
    "xla": {"jit_compile": True},
    "bf16": {"policy": "mixed_bfloat16"},
    "steps32-bf16": {"steps_per_execution": 32, "policy": "mixed_bfloat16"},
}

# Settings that only take effect when a process starts (the module's docstring says what each means), each timed in
# a process of its own running the `plain` variant; the processes take turns like the variants do. A setting here
# wins over the environment's and over prefer_onednn's default.
CONFIGURATIONS = {
    "tensorflow": {"KERAS_BACKEND": "tensorflow"},
    "tensorflow-eigen": {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "0"},
    "jax": {"KERAS_BACKEND": "jax"},
    "torch": {"KERAS_BACKEND": "torch"},
    # Keras 3 is loaded too, for the accelerator check; KERAS_BACKEND keeps it on the TensorFlow already loaded
    "keras2": {"KERAS_BACKEND": "tensorflow", "TF_USE_LEGACY_KERAS": "1"},
    # the same network and optimizer in PyTorch eager, without Keras (tools/torch_minivggnet.py)
    "pytorch": {"KERAS_BACKEND": "torch"},
}
# An AVX2-only CPU, emulated on a newer one by capping what each library may use: oneDNN (TensorFlow's and
# PyTorch's), PyTorch's own kernels, XLA (JAX) and OpenBLAS (numpy's ceiling). TensorFlow's own kernels need no cap:
# its binary is built for AVX. On such a CPU TensorFlow leaves oneDNN off by itself: tensorflow-eigen.
AVX2_EMULATION = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
                  "OPENBLAS_CORETYPE": "Haswell"}


def require_tf_keras():
    """The keras2 configuration needs tf_keras, which the project does not require; say how to install it."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec("tf_keras") is None:
        try:
            version = importlib.metadata.version("tensorflow")
        except importlib.metadata.PackageNotFoundError:
            version = "<TensorFlow's version>"
        raise UserError(f"the keras2 configuration runs the post's code on tf_keras (Keras 2), which is not "
                        f"installed: pip install tf_keras=={version}")


def configuration_environment(name, emulate_avx2, environment=os.environ):
    """The environment of configuration `name`'s process: this one's, capped at AVX2 if asked, then the
    configuration's own settings, which win."""
    return {**environment, **(AVX2_EMULATION if emulate_avx2 else {}), **CONFIGURATIONS[name]}


def print_table(seconds, train_seconds, flops, ceiling, label, turns):
    names = list(seconds)
    reference = statistics.median(seconds[names[0]])
    print(f"{label:<18} {'s/epoch':>8} {'spread':>13} {'train img/s':>11} {'GFLOP/s':>8} {'vs ' + names[0]:>12} "
          f"{'of ceiling':>10}")
    for name in names:
        median = statistics.median(seconds[name])
        achieved = flops / median / 1e9
        images_per_second = TRAIN_IMAGES / statistics.median(train_seconds[name])
        print(f"{name:<18} {median:>8.1f} {min(seconds[name]):>6.1f}-{max(seconds[name]):<6.1f} "
              f"{images_per_second:>11.0f} {achieved:>8.0f} {reference / median:>11.2f}x {achieved / ceiling:>9.0%}")
    print(f"(epoch = {TRAIN_IMAGES} training + {VALIDATION_IMAGES} validation images, {flops / 1e12:.2f} TFLOP; "
          f"{turns}, median and min-max)")


def turns(args):
    return f"{args.repeats} turn{'s' if args.repeats > 1 else ''} of {args.steps} steps each"


def time_variants(args):
    from pyimagesearch.datasets import load_fashion_mnist

    # the data first: a missing folder is reported before the seconds TensorFlow takes to load
    ((images, labels), _) = load_fashion_mnist(args.dataset_dir)
    if len(images) < args.steps * BATCH_SIZE:
        raise UserError(f"--steps {args.steps} trains on {args.steps * BATCH_SIZE} images, but the training set "
                        f"holds {len(images)}")
    if args.keras2:
        import tf_keras as keras
    else:
        import keras
    images = images.reshape((-1, 28, 28, 1)).astype("float32") / 255.0
    targets = keras.utils.to_categorical(labels, 10)
    if args.pytorch:
        return time_pytorch_eager(args, images, labels)
    print(describe_machine(keras) + ("; AVX2-only CPU emulated" if args.emulate_avx2 else ""))
    ceiling = matmul_gflops()
    print(f"numpy float32 matmul (4096^3): {ceiling:.0f} GFLOP/s, the practical ceiling")

    keep_float32(keras.backend.backend())  # before the models are built, as fashion_mnist.py does
    if args.keras2:
        variants = [Variant.on_keras2(images, targets)]
    else:
        variants = [Variant.on_keras3(name, images, targets, **VARIANTS[name]) for name in args.variants]
    flops = epoch_flops(variants[0].model, keras)
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
    print_table(seconds, train_seconds, flops, ceiling, "variant", turns(args))
    return seconds, train_seconds, flops, ceiling


def time_pytorch_eager(args, images, labels):
    """The `plain` variant's turns for MiniVGGNet in PyTorch eager (tools/torch_minivggnet.py)."""
    import keras
    import torch

    from pyimagesearch.minivggnet import MiniVGGNet
    from tools.torch_minivggnet import time_pytorch

    print(f"torch {torch.__version__} eager, without Keras, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs" + ("; AVX2-only CPU emulated" if args.emulate_avx2 else ""))
    ceiling = matmul_gflops()
    flops = epoch_flops(MiniVGGNet.build(28, 28, 1, 10), keras)
    seconds, train_seconds = {"plain": []}, {"plain": []}
    for _ in range(args.repeats):
        train, validate = time_pytorch(images, labels, args.steps)
        train_seconds["plain"].append(train / (args.steps * BATCH_SIZE) * TRAIN_IMAGES)
        seconds["plain"].append(train_seconds["plain"][-1] + validate / (args.steps * BATCH_SIZE) * VALIDATION_IMAGES)
    print_table(seconds, train_seconds, flops, ceiling, "variant", turns(args))
    return seconds, train_seconds, flops, ceiling


def record(args, kind, measured, program="python -m tools.benchmark"):
    """--record: what was measured, the command and where it ran, as JSON, for the docs' speed tables."""
    import json
    import sys

    from lossgap.files import write_atomically
    from tools import provenance

    if not args.record:
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    versions = provenance.versions(backend)
    for package in ("tensorflow", "tf_keras", "torch", "jax"):
        versions.setdefault(package, provenance.installed_version(package))
    payload = {"command": " ".join([program, *sys.argv[1:]]), "kind": kind,
               "measured": {"date": provenance.now(), "machine": provenance.machine(), "versions": versions,
                            "commit": provenance.commit()}, **measured}
    text = (json.dumps(payload, indent=1) + "\n").encode()
    write_atomically(args.record, lambda file: file.write(text))
    print(f"[INFO] recorded in {args.record}")


def time_configurations(args):
    """Each configuration in a process of its own (one turn each), the processes taking turns `--repeats` times."""
    import json
    import subprocess
    import sys

    if "keras2" in args.configurations:
        require_tf_keras()
    seconds = {name: [] for name in args.configurations}
    train_seconds = {name: [] for name in args.configurations}
    ceilings, flops = [], None
    for turn in range(args.repeats):
        for name in args.configurations:
            environment = configuration_environment(name, args.emulate_avx2)
            command = [sys.executable, "-m", "tools.benchmark", "--variants", "plain", "--steps",
                       str(args.steps), "--repeats", "1", "--json"]
            if name in ("keras2", "pytorch"):
                command.append(f"--{name}")
            if args.dataset_dir:
                command += ["--dataset-dir", args.dataset_dir]
            result = subprocess.run(command, env=environment, capture_output=True, text=True)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
                raise UserError(f"configuration {name} failed: {last.removeprefix('error: ')}")
            if turn == 0:
                print(f"{name}: {result.stdout.splitlines()[0]}")
            measured = json.loads(result.stdout.splitlines()[-1])
            seconds[name] += measured["seconds"]["plain"]
            train_seconds[name] += measured["train_seconds"]["plain"]
            ceilings.append(measured["ceiling"])
            flops = measured["flops"]
    emulated = " (AVX2-only CPU emulated: " + " ".join(f"{key}={value}" for key, value in AVX2_EMULATION.items()) \
        + "; TensorFlow's own choice there is tensorflow-eigen)" if args.emulate_avx2 else ""
    print(f"numpy float32 matmul (4096^3): median {statistics.median(ceilings):.0f} GFLOP/s over the processes, the "
          f"practical ceiling{emulated}")
    print_table(seconds, train_seconds, flops, statistics.median(ceilings), "configuration",
                f"{turns(args)}, one process a turn")
    record(args, "configurations", {"seconds": seconds, "train_seconds": train_seconds, "flops": flops,
                                    "ceiling": statistics.median(ceilings), "steps": args.steps,
                                    "emulate_avx2": args.emulate_avx2})


# the workload of the README's whole-run speed rows: two epochs on a third of the training set
WHOLE_RUN = ("--epochs", "2", "--train-size", "20000", "--test-size", "10000")


def time_whole_runs(args):
    """fashion_mnist.py and the post's own script on Keras 2 (speed/post_keras2.py), each run `--whole-runs` times as
    a whole process, in turns, with the same flags: wall and CPU seconds (user and system, all threads) of each."""
    import resource
    import subprocess
    import sys
    import tempfile

    require_tf_keras()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commands = {"fashion_mnist.py": [sys.executable, os.path.join(root, "fashion_mnist.py")],
                "the post's code on Keras 2": [sys.executable, "-m", "tools.post_keras2"]}
    environment = {**os.environ, **(AVX2_EMULATION if args.emulate_avx2 else {})}
    flags = list(WHOLE_RUN) + (["--dataset-dir", args.dataset_dir] if args.dataset_dir else [])
    print(f"whole runs of: {' '.join(WHOLE_RUN)}, in turns{' (AVX2-only CPU emulated)' if args.emulate_avx2 else ''}")
    wall, cpu = {name: [] for name in commands}, {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as folder:
        for turn in range(args.whole_runs):
            for name, command in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                result = subprocess.run(command + ["--history", os.path.join(folder, f"{turn}.pickle")] + flags,
                                        cwd=root, env=environment, capture_output=True, text=True)
                wall[name].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if result.returncode != 0:
                    last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
                    raise UserError(f"{name} failed: {last.removeprefix('error: ')}")
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                print(f"  turn {turn + 1}, {name}: {wall[name][-1]:.1f} s wall, {cpu[name][-1]:.1f} s CPU", flush=True)
    names = list(commands)
    print(f"{'':28} {'wall s':>8} {'range':>13} {'CPU s':>8} {'range':>13}")
    for name in names:
        print(f"{name:28} {statistics.median(wall[name]):>8.1f} {min(wall[name]):>6.1f}-{max(wall[name]):<6.1f} "
              f"{statistics.median(cpu[name]):>8.1f} {min(cpu[name]):>6.1f}-{max(cpu[name]):<6.1f}")
    for label, seconds in (("wall", wall), ("CPU", cpu)):
        ratios = [post / ours for post, ours in zip(seconds[names[1]], seconds[names[0]])]
        print(f"{label} time, the post's code / fashion_mnist.py, pair by pair: "
              f"{' '.join(f'{ratio:.2f}x' for ratio in ratios)} (median {statistics.median(ratios):.2f}x)")
    record(args, "whole runs", {"flags": list(WHOLE_RUN), "wall": wall, "cpu": cpu,
                                "emulate_avx2": args.emulate_avx2})


def steps_in_an_epoch(text):
    """--steps: a turn takes its batches from the 60,000 training images without repeating any, so at most an
    epoch's worth; more would time fewer batches than the extrapolation divides by."""
    steps = positive_int(text)
    if steps > STEPS_PER_EPOCH:
        raise argparse.ArgumentTypeError(f"{text!r} is more than an epoch's {STEPS_PER_EPOCH} batches "
                                         f"({TRAIN_IMAGES} images / {BATCH_SIZE})")
    return steps


def parse_arguments():
    parser = argparse.ArgumentParser(prog="python -m tools.benchmark",
                                     description="Time MiniVGGNet training variants side by side.")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["plain", "steps32"],
                        metavar="NAME", help=f"variants to time, from {', '.join(VARIANTS)} (default: plain steps32)")
    parser.add_argument("--configurations", nargs="+", choices=list(CONFIGURATIONS), default=None, metavar="NAME",
                        help="instead of --variants, time the post's fit under each of these settings, one process "
                             f"each: {', '.join(CONFIGURATIONS)} (default: none)")
    parser.add_argument("--whole-runs", type=positive_int, default=None, metavar="N",
                        help="instead, run fashion_mnist.py and the post's own code on Keras 2 N times each as "
                             f"whole processes, in turns, with {' '.join(WHOLE_RUN)} (default: none)")
    parser.add_argument("--emulate-avx2", action="store_true",
                        help="cap every library at AVX2 as on a CPU without AVX-512 (default: off)")
    parser.add_argument("--steps", type=steps_in_an_epoch, default=150, metavar="N",
                        help=f"training batches (and validation images / 32) per timed turn, at most "
                             f"{STEPS_PER_EPOCH} (default: 150)")
    parser.add_argument("--repeats", type=positive_int, default=3, metavar="N",
                        help="timed turns per variant (default: 3)")
    parser.add_argument("--dataset-dir", default=None, metavar="DIR", help="as in fashion_mnist.py")
    # for --configurations' processes: print the measurements as JSON; time the post's code on tf_keras
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keras2", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pytorch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--record", default=None, metavar="FILE",
                        help="also keep what was measured, with where and on what, as JSON (default: print only)")
    args = parser.parse_args()
    if args.configurations and args.whole_runs:
        parser.error("--configurations and --whole-runs time different things: give one")
    return args


def main():
    args = parse_arguments()
    # before anything loads TensorFlow, as in fashion_mnist.py; --configurations' processes inherit it unless their
    # configuration sets TF_ENABLE_ONEDNN_OPTS itself
    prefer_onednn()
    if args.configurations:
        time_configurations(args)
        return
    if args.whole_runs:
        time_whole_runs(args)
        return
    if args.emulate_avx2 and any(os.environ.get(key) != value for key, value in AVX2_EMULATION.items()):
        # the caps are read when each library loads, numpy's among them: start again with them set
        import sys

        os.execve(sys.executable, [sys.executable, "-m", "tools.benchmark", *sys.argv[1:]],
                  {**os.environ, **AVX2_EMULATION})
    if "plain" not in args.variants:
        args.variants.insert(0, "plain")
    choose_backend()  # as fashion_mnist.py does, before Keras loads (each configuration's process names its own)
    seconds, train_seconds, flops, ceiling = time_variants(args)
    record(args, "variants", {"seconds": seconds, "train_seconds": train_seconds, "flops": flops, "ceiling": ceiling,
                              "steps": args.steps, "emulate_avx2": args.emulate_avx2})
    if args.json:
        import json

        print(json.dumps({"seconds": seconds, "train_seconds": train_seconds, "flops": flops, "ceiling": ceiling}))


if __name__ == "__main__":
    run(main)
