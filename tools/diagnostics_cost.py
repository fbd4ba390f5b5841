"""What --diagnostics costs: full default epochs with and without the measurements, side by side.

    python -m tools.diagnostics_cost --pairs 2 --record docs/records/diagnostics-cost.json

Each turn is a process of its own that builds and compiles MiniVGGNet as fashion_mnist.py does, warms up on 100
batches (so that no tracing is timed), then trains `--epochs` epochs on all 60,000 images, validating on all
10,000, timed as a whole (so that work Keras's input pipeline does for the next epoch while the measurements run
counts where it is done), and, in the measured turn, the measurements' own time; the two kinds of turn alternate,
`--pairs` times. Prints each pair's ratio (the epochs with the measurements / without).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from lossgap.arguments import non_negative_int, positive_int
from lossgap.errors import UserError, run
from lossgap.families import SAMPLE_SIZE
from tools import provenance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_turn(measured, sample_size, epochs):
    """Train as fashion_mnist.py does; print a JSON line of the epoch's seconds (and the measurements')."""
    from pyimagesearch.runs import set_up_keras

    set_up_keras()
    import keras

    from lossgap import ReasonDiagnostics, training_sample
    from pyimagesearch.datasets import load_fashion_mnist
    from pyimagesearch.minivggnet import MiniVGGNet
    from pyimagesearch.speed.settings import keep_float32
    from tools.models import compile_as_in_the_post

    ((trainX, trainY), (testX, testY)) = load_fashion_mnist()
    trainX = trainX.reshape((-1, 28, 28, 1)).astype("float32") / 255.0
    testX = testX.reshape((-1, 28, 28, 1)).astype("float32") / 255.0
    trainY, testY = keras.utils.to_categorical(trainY, 10), keras.utils.to_categorical(testY, 10)
    keep_float32(keras.backend.backend())
    model = compile_as_in_the_post(MiniVGGNet.build(28, 28, 1, 10))
    callbacks = []
    if measured:
        sample = training_sample(len(trainX), sample_size, 0)
        callbacks = [ReasonDiagnostics((trainX[sample], trainY[sample]), (testX, testY), batch_size=32, seed=0)]
    # warm-up: every function traced (the measuring passes too), nothing of it timed
    model.fit(trainX[:3200], trainY[:3200], validation_data=(testX[:320], testY[:320]), batch_size=32, epochs=1,
              verbose=0, callbacks=callbacks)
    started = time.perf_counter()
    model.fit(trainX, trainY, validation_data=(testX, testY), batch_size=32, epochs=epochs, verbose=0,
              callbacks=callbacks)
    total = (time.perf_counter() - started) / epochs
    measuring = sum(callbacks[0].seconds[-epochs:]) / epochs if measured else 0.0
    errors = {key: values[-1] for key, values in callbacks[0].history.items() if key.endswith("_error")} \
        if measured else {}
    print(json.dumps({"epoch": total - measuring, "measuring": measuring, "with": total, "errors": errors}))


def main():
    parser = argparse.ArgumentParser(prog="python -m tools.diagnostics_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=positive_int, default=2, metavar="N",
                        help="turns with and without the measurements, alternating (default: 2)")
    parser.add_argument("--diagnostics-size", type=non_negative_int, default=SAMPLE_SIZE, metavar="N",
                        help=f"training images measured, as fashion_mnist.py's flag (default: {SAMPLE_SIZE})")
    parser.add_argument("--epochs", type=positive_int, default=2, metavar="N",
                        help="full epochs each turn times (default: 2)")
    parser.add_argument("--record", default=None, metavar="FILE", help="keep the result as JSON (default: print only)")
    parser.add_argument("--turn", choices=["plain", "measured"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.turn:
        one_turn(args.turn == "measured", args.diagnostics_size, args.epochs)
        return

    turns = {"plain": [], "measured": []}
    for pair in range(args.pairs):
        for kind in turns:
            result = subprocess.run([sys.executable, "-m", "tools.diagnostics_cost", "--turn", kind,
                                     "--diagnostics-size", str(args.diagnostics_size), "--epochs", str(args.epochs)],
                                    cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                raise UserError(f"the {kind} turn failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
            turns[kind].append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"pair {pair + 1}, {kind}: {turns[kind][-1]['with']:.1f} s an epoch, of which measuring "
                  f"{turns[kind][-1]['measuring']:.1f} s", flush=True)
    ratios = [measured["with"] / plain["with"] for plain, measured in zip(turns["plain"], turns["measured"])]
    print(f"an epoch with the measurements / without, pair by pair: {' '.join(f'{ratio:.3f}x' for ratio in ratios)} "
          f"(median {statistics.median(ratios):.3f}x)")
    if args.record:
        provenance.keep(args.record, {"command": " ".join(["python -m tools.diagnostics_cost", *sys.argv[1:]]),
                                      "diagnostics_size": args.diagnostics_size, "epochs": args.epochs,
                                      "turns": turns, "ratios": ratios},
                        os.environ.get("KERAS_BACKEND", "tensorflow"))


if __name__ == "__main__":
    run(main)
