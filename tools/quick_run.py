"""The README's quick run, timed and kept: what it printed, on which machine, and the same run stopped after its first
epoch (Ctrl-C) and run again, against it.

    python -m tools.quick_run --record docs/records/quick-run.json

Runs `python fashion_mnist.py --history quick.pickle` with QUICK (the README's flags) in a folder of its own, as a
whole process, timed; then again, stopped with SIGINT once its first epoch is backed up and resumed with the same
command. The record keeps both histories, the wall time of the first run and where it ran; the docs generator writes
the README's quick-run paragraph from it.
"""
import argparse
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time

from lossgap.errors import UserError, run
from lossgap.files import write_atomically
from tools import provenance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ("--epochs", "2", "--train-size", "10000", "--test-size", "2000", "--seed", "0")


def command(history):
    return [sys.executable, os.path.join(ROOT, "fashion_mnist.py"), "--history", history, *QUICK]


def finished(history, started, stopped=False):
    process = subprocess.Popen(command(history), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    if stopped:
        state = history + ".backup/state.json"
        while not os.path.isfile(state) or json.load(open(state))["epochs"] < 1:
            if process.poll() is not None:
                raise UserError(f"the quick run ended before it could be stopped: {process.stderr.read()[-300:]}")
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate()
    expected = 128 + signal.SIGINT if stopped else 0
    if process.returncode != expected:
        raise UserError(f"the quick run exited with {process.returncode}: {(stderr.strip().splitlines() or ['?'])[-1]}")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(prog="python -m tools.quick_run", description=__doc__.splitlines()[0])
    parser.add_argument("--record", default=None, metavar="FILE", help="keep the result as JSON (default: print only)")
    args = parser.parse_args()

    def measure():
        with tempfile.TemporaryDirectory() as folder:
            plain, stopped = os.path.join(folder, "quick.pickle"), os.path.join(folder, "stopped.pickle")
            when = provenance.now()
            wall = finished(plain, time.perf_counter())
            finished(stopped, time.perf_counter(), stopped=True)
            finished(stopped, time.perf_counter())
            histories = [pickle.load(open(path, "rb")) for path in (plain, stopped)]
        same = histories[0] == histories[1]
        print(f"the quick run: {wall:.0f} s; loss {histories[0]['loss']}, val_loss {histories[0]['val_loss']}, final "
              f"val_accuracy {histories[0]['val_accuracy'][-1]:.4f}; stopped after epoch 1 and resumed: "
              f"{'the same history, every digit' if same else 'another history'}")
        if args.record:
            record = {"command": "python fashion_mnist.py --history quick.pickle " + " ".join(QUICK),
                      "wall_seconds": round(wall, 1), "history": histories[0], "stopped_and_resumed": histories[1],
                      "runs": {"quick run": [{"started": when, "machine": provenance.machine(),
                                              "versions": provenance.versions(os.environ.get("KERAS_BACKEND",
                                                                                             "tensorflow")),
                                              "commit": provenance.commit(), "wall_seconds": round(wall, 1)}]}}
            payload = (json.dumps(record, indent=1) + "\n").encode()
            write_atomically(args.record, lambda file: file.write(payload))

    run(measure)


if __name__ == "__main__":
    main()
