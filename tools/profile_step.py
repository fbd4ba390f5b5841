"""Where a training step's time goes, by layer kind: TensorFlow's profiler over MiniVGGNet's training batches.

    pip install xprof                                      # reads the profiler's trace
    python -m tools.profile_step             # as fashion_mnist.py trains
    python -m tools.profile_step --keras-batch-norm
    python -m tools.profile_step --keras-sgd     # Keras's own SGD instead of the fused update
    python -m tools.profile_step --keras2    # the post's own code on Keras 2 (tf_keras)

It warms the model up, traces `--steps` training batches with `tf.profiler.experimental`, and sums each operation's
own time per batch by the layer it belongs to (from its name and kind), forward and backward apart. Operations run
concurrently on a multi-core CPU, so the sum exceeds the batch's wall time, printed on the last line. `--record FILE`
keeps the table, the command and where it ran, as JSON, for docs/speed.md.
"""
import argparse
import glob
import importlib.util
import json
import os
import re
import tempfile
import time

from lossgap.errors import UserError, run
from lossgap.arguments import positive_int

KINDS = ("convolution", "dense", "batch-norm", "dropout", "pooling", "activation and loss", "optimizer",
         "other (metrics, input pipeline)")
# an operation's own kind first (a convolution fused with its bias and ReLU is named after the ReLU), then the layer
# or step its name lies under: Keras 3 names them minivggnet/batch_normalization_1/..., sgd/...; tf_keras alike
BY_OPERATION = ((re.compile(r"Conv2D"), "convolution"), (re.compile(r"MatMul"), "dense"),
                (re.compile(r"FusedBatchNorm"), "batch-norm"), (re.compile(r"ApplyKerasMomentum"), "optimizer"))
BY_NAME = ((re.compile(r"(^|/)(sgd|SGD)/"), "optimizer"), (re.compile(r"/batch_normalization"), "batch-norm"),
           (re.compile(r"/dropout"), "dropout"), (re.compile(r"/max_pooling"), "pooling"),
           (re.compile(r"/(conv2d|dense)"), None),
           (re.compile(r"/activation|crossentropy|compile_loss|/loss/|Softmax"), "activation and loss"))


def layer_kind(operation_type, name):
    """(kind, "forward" or "backward") of one traced operation, from its type and its name."""
    direction = "backward" if "gradient_tape/" in name else "forward"
    for pattern, kind in BY_OPERATION:
        if pattern.search(operation_type):
            return kind, direction
    for pattern, kind in BY_NAME:
        if pattern.search(name):
            # a bias added, or a gradient summed, outside the fused convolution or product
            return kind or ("convolution" if "conv2d" in name else "dense"), direction
    return KINDS[-1], direction


def operation_times(trace_folder):
    """[(type, name, seconds of own time, count)] of every traced operation, read with xprof."""
    from xprof.convert import raw_to_tool_data

    [path] = glob.glob(os.path.join(trace_folder, "plugins", "profile", "*", "*.xplane.pb"))
    data, _ = raw_to_tool_data.xspace_to_tool_data([path], "framework_op_stats", {})
    table = json.loads(data)
    table = table[0] if isinstance(table, list) else table
    column = {entry["id"]: index for index, entry in enumerate(table["cols"])}
    rows = [[cell.get("v") for cell in row["c"]] for row in table["rows"]]
    return [(row[column["type"]], row[column["operation"]], row[column["total_self_time"]] / 1e6,
             row[column["occurrences"]]) for row in rows if row[column["type"]] != "IDLE"]


def by_kind(operations, steps):
    """{kind: {"forward": ms, "backward": ms}} per training step."""
    table = {kind: {"forward": 0.0, "backward": 0.0} for kind in KINDS}
    for operation_type, name, seconds, _ in operations:
        kind, direction = layer_kind(operation_type, name)
        table[kind][direction] += seconds * 1000 / steps
    return table


def print_table(table, step_ms, title):
    total = sum(sum(directions.values()) for directions in table.values())
    print(title)
    print(f"{'layer kind':<32} {'forward':>8} {'backward':>9} {'ms/step':>8} {'share':>6}")
    for kind, directions in table.items():
        both = directions["forward"] + directions["backward"]
        print(f"{kind:<32} {directions['forward']:>8.2f} {directions['backward']:>9.2f} {both:>8.2f} "
              f"{both / total:>6.0%}")
    print(f"{'all operations':<32} {'':>8} {'':>9} {total:>8.2f} {1:>6.0%}")
    print(f"(a profiled batch took {step_ms:.1f} ms of wall time; operations run concurrently on the CPU's cores)")


def parse_arguments():
    parser = argparse.ArgumentParser(prog="python -m tools.profile_step",
                                     description="Where MiniVGGNet's training step spends its time, by layer kind.")
    parser.add_argument("--steps", type=positive_int, default=100, metavar="N",
                        help="training batches traced (default: 100)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--keras-batch-norm", action="store_true",
                       help="Keras's own batch-norm layer instead of the fused one fashion_mnist.py uses "
                            "(default: off)")
    which.add_argument("--keras-sgd", action="store_true",
                       help="Keras's own SGD instead of the fused update fashion_mnist.py uses (default: off)")
    which.add_argument("--keras2", action="store_true",
                       help="the post's own code on tf_keras (Keras 2), as the benchmark's keras2 (default: off)")
    parser.add_argument("--dataset-dir", default=None, metavar="DIR", help="as in fashion_mnist.py")
    parser.add_argument("--record", default=None, metavar="FILE",
                        help="keep the table and where it was measured as JSON (default: print only)")
    return parser.parse_args()


def main():
    args = parse_arguments()
    if importlib.util.find_spec("xprof") is None:  # before the seconds TensorFlow and the warm-up take
        raise UserError("reading the profiler's trace needs xprof: pip install xprof")
    from tools.benchmark import BATCH_SIZE, STEPS_PER_EPOCH, Variant, record, require_tf_keras
    from pyimagesearch.speed.settings import keep_float32, prefer_onednn

    if args.steps + 20 > STEPS_PER_EPOCH:
        raise UserError(f"--steps {args.steps} and 20 warm-up batches are more than an epoch's {STEPS_PER_EPOCH}")
    if args.keras2:
        require_tf_keras()
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    prefer_onednn()
    from pyimagesearch.datasets import load_fashion_mnist

    ((images, labels), _) = load_fashion_mnist(args.dataset_dir)
    import tensorflow as tf

    if args.keras2:
        import tf_keras as keras
    else:
        import keras
    images = images.reshape((-1, 28, 28, 1)).astype("float32") / 255.0
    targets = keras.utils.to_categorical(labels, 10)
    keep_float32("tensorflow")
    if args.keras2:
        variant = Variant.on_keras2(images, targets)
        title = f"the post's code on tf_keras {keras.__version__}"
    else:
        variant = Variant.on_keras3("plain", images, targets, keras_batch_norm=args.keras_batch_norm,
                                    fused_sgd=False if args.keras_sgd else None)
        title = (f"Keras {keras.__version__}, {'Keras' if args.keras_batch_norm else 'fused'} batch-norm, "
                 f"{'Keras' if args.keras_sgd else 'fused'} SGD update")
    variant.run(20)  # tracing and oneDNN's first calls, not profiled
    count = args.steps * BATCH_SIZE
    clock = {}
    # from the first batch's start to the last one's end, as the benchmark times (docs/speed.md)
    timer = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: clock.setdefault("started", time.perf_counter()),
        on_train_batch_end=lambda batch, logs: clock.update(ended=time.perf_counter()))
    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        variant.model.fit(images[-count:], targets[-count:], batch_size=BATCH_SIZE, epochs=1, verbose=0,
                          callbacks=[timer])
        tf.profiler.experimental.stop()
        operations = operation_times(folder)
    step_ms = (clock["ended"] - clock["started"]) * 1000 / args.steps
    table = by_kind(operations, args.steps)
    print_table(table, step_ms, f"{title} on TensorFlow {tf.__version__}: operations' own time per training batch, "
                                f"by layer kind, over {args.steps} batches")
    record(args, "profile", {"title": title, "steps": args.steps, "step_ms": step_ms, "ms": table},
           program="python -m tools.profile_step")


if __name__ == "__main__":
    run(main)
