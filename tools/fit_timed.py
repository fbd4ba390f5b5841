"""Run a training script as `python SCRIPT` would, saying after each keras.Model.fit() how long it took: the plain side
of tools/explain_cost.py's pairs, so that the time fit() trained and validated for is compared with the same time in
the explained run, not only whole processes.

    python tools/fit_timed.py SCRIPT [ARGUMENTS ...]

Nothing else is changed: fit() gets its arguments as they are, and the line goes to standard output after it returns.
"""
import functools
import os
import runpy
import sys
import time

from lossgap.errors import UserError, run
from lossgap.explain import when_imported

# read back by tools/explain_cost.py
FIT_TOOK = "[INFO] fit_timed: fit() took {seconds} s"


def fit_took_said(output):
    """The seconds of each fit(), from the lines this wrote into `output`."""
    prefix, suffix = FIT_TOOK.split("{seconds}")
    return [float(line[len(prefix):-len(suffix)]) for line in output.splitlines()
            if line.startswith(prefix) and line.endswith(suffix)]


def timed(keras):
    original = keras.Model.fit

    @functools.wraps(original)
    def fit(*arguments, **keywords):
        started = time.perf_counter()
        history = original(*arguments, **keywords)
        print(FIT_TOOK.format(seconds=f"{time.perf_counter() - started:.2f}"), flush=True)
        return history

    keras.Model.fit = fit


def main():
    if len(sys.argv) < 2:
        raise UserError("usage: python tools/fit_timed.py SCRIPT [ARGUMENTS ...]")
    script = os.path.abspath(sys.argv[1])
    if not os.path.isfile(script):
        raise UserError(f"no such script: {sys.argv[1]}")
    when_imported("keras", timed)
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(script)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    run(main)
