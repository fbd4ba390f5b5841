"""How long the leak check (lossgap/leaks.py) takes on a large table, with copies planted to be found.

    python -m tools.leak_timing --rows 100000 --features 1000 --record docs/records/leak-timing.json

Random float32 rows split as `fit(validation_split=0.2)` would split them (the last fifth validates), with 50 exact
and 50 near copies (0.001 standard deviations off) of training rows planted among the validation rows; prints the
wall time of `find_duplicates` and what it found, and with --record keeps both, with where they were measured, for
docs/speed.md.
"""
import argparse
import time

import numpy as np

from lossgap.arguments import positive_int
from lossgap.errors import run
from lossgap.leaks import find_duplicates
from tools import provenance

PLANTED = 50


def main():
    parser = argparse.ArgumentParser(prog="python -m tools.leak_timing", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive_int, default=100000, metavar="N", help="rows in all (default: 100000)")
    parser.add_argument("--features", type=positive_int, default=1000, metavar="N",
                        help="values per row (default: 1000)")
    parser.add_argument("--record", default=None, metavar="FILE", help="keep the result as JSON (default: print only)")
    args = parser.parse_args()

    def measure():
        random = np.random.default_rng(0)
        rows = random.normal(size=(args.rows, args.features)).astype(np.float32)
        split = args.rows - args.rows // 5
        training, validation = rows[:split], rows[split:]
        sources = random.choice(split, size=2 * PLANTED, replace=False)
        targets = random.choice(len(validation), size=2 * PLANTED, replace=False)
        validation[targets[:PLANTED]] = training[sources[:PLANTED]]
        validation[targets[PLANTED:]] = training[sources[PLANTED:]] + np.float32(0.001)
        started = time.perf_counter()
        found = find_duplicates(training, validation)
        seconds = time.perf_counter() - started
        result = {"rows": args.rows, "features": args.features, "training": int(split),
                  "validation": int(len(validation)), "planted exact": PLANTED, "planted near": PLANTED,
                  "found exact": found.exact, "found near": found.near, "seconds": round(seconds, 1)}
        print(f"{args.rows:,} rows of {args.features:,} values ({split:,} training, {len(validation):,} validation): "
              f"{seconds:.1f} s; found {found.exact} of {PLANTED} exact and {found.near} of {PLANTED} near copies")
        if args.record:
            provenance.keep(args.record, result, None)

    run(measure)


if __name__ == "__main__":
    main()
