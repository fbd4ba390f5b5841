"""What `python -m lossgap explain` costs on training scripts others wrote: each script run as it is and through
explain, whole processes taking turns.

    python -m tools.explain_cost runs/scripts/mnist_convnet.py runs/scripts/antirectifier.py \\
        runs/scripts/hml3_ch10_mlp.py --pairs 3 --record docs/records/explain-cost.json

(docs/reasons.md says where those three scripts come from: they are other projects' code, not kept here.)

Each run is a process of its own, started in a fresh scratch folder that holds a copy of the script (so that what the
script and explain write lands there), and timed as a whole: wall time, and the CPU time of the process and its
children. For each pair, every script runs plain and then explained. An explained run also says how long explain's
own work took beside the time its fit() calls trained and validated, in the same process, which the machine's noise
from one process to the next does not enter; a plain run goes through tools/fit_timed.py, which says how long its
fit() calls took and changes nothing else, so that a pair also compares the time spent training. Prints each pair's
ratios (explained / plain) and that share; with --record keeps them, with each script's title and digest and where
they were measured, for docs/reasons.md.
"""
import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from lossgap.arguments import positive_int
from lossgap.errors import UserError, run
from lossgap.explain import own_work_said
from tools import provenance
from tools.fit_timed import fit_took_said

FIT_TIMED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fit_timed.py")


def title_of(path):
    """The script's `Title:` line (keras-io examples start with one), else its file name."""
    with open(path, encoding="utf-8") as file:
        for line in file.read().splitlines()[:20]:
            if line.startswith("Title:"):
                return line[len("Title:"):].strip()
    return os.path.basename(path)


def one_run(script, explained):
    """{"wall": s, "cpu": s, "trained": s} of one whole process running `script` (explained or not) in a scratch
    folder, "trained" the time its fit() calls trained and validated, summed; explained, also "own", explain's own
    work (which "trained" leaves out)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="explain-cost-") as folder:
        shutil.copy(script, folder)
        name = os.path.basename(script)
        command = [sys.executable, "-m", "lossgap", "explain", name] if explained else [sys.executable, FIT_TIMED, name]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if result.returncode != 0:
        raise UserError(f"{name}{' explained' if explained else ''} failed: "
                        f"{(result.stderr.strip().splitlines() or ['?'])[-1]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    timed = {"wall": round(wall, 2), "cpu": round(cpu, 2)}
    if explained:
        fits = own_work_said(result.stdout)
        if not fits:
            raise UserError(f"{name} explained measured no fit(): {explain_said(result.stdout)}")
        timed.update(own=round(sum(own for own, _ in fits), 2), trained=round(sum(trained for _, trained in fits), 2))
    else:
        fits = fit_took_said(result.stdout)
        if not fits:
            raise UserError(f"{name} called no fit()")
        timed.update(trained=round(sum(fits), 2))
    return timed


def explain_said(output):
    """explain's last line of its own in `output`."""
    said = [line for line in output.splitlines() if line.startswith("[INFO] explain:")]
    return said[-1] if said else "nothing"


def main():
    parser = argparse.ArgumentParser(prog="python -m tools.explain_cost", description=__doc__.splitlines()[0])
    parser.add_argument("scripts", nargs="+", metavar="SCRIPT", help="training scripts, each run as it is")
    parser.add_argument("--pairs", type=positive_int, default=2, metavar="N",
                        help="plain and explained runs of each script, taking turns (default: 2)")
    parser.add_argument("--record", default=None, metavar="FILE", help="keep the result as JSON (default: print only)")
    args = parser.parse_args()
    for script in args.scripts:
        if not os.path.isfile(script):
            raise UserError(f"no such script: {script}")

    runs = {script: {"plain": [], "explained": []} for script in args.scripts}
    for pair in range(args.pairs):
        for script in args.scripts:
            for kind in ("plain", "explained"):
                runs[script][kind].append(one_run(script, kind == "explained"))
                timed = runs[script][kind][-1]
                own = (f", explain's own work {timed['own']:.1f} s, {timed['own'] / timed['trained']:.1%} of "
                       if "own" in timed else ", ") + f"{timed['trained']:.1f} s of training"
                print(f"pair {pair + 1}, {os.path.basename(script)} {kind}: {timed['wall']:.1f} s, "
                      f"CPU {timed['cpu']:.1f} s{own}", flush=True)
    scripts = []
    for script in args.scripts:
        plain, explained = runs[script]["plain"], runs[script]["explained"]
        ratios = {kind: [round(after[kind] / before[kind], 3) for before, after in zip(plain, explained)]
                  for kind in ("wall", "cpu", "trained")}
        print(f"{os.path.basename(script)}, explained / plain, pair by pair: wall "
              f"{' '.join(f'{ratio:.3f}' for ratio in ratios['wall'])}, CPU "
              f"{' '.join(f'{ratio:.3f}' for ratio in ratios['cpu'])}, training "
              f"{' '.join(f'{ratio:.3f}' for ratio in ratios['trained'])} (medians "
              f"{', '.join(f'{statistics.median(ratios[kind]):.3f}' for kind in ratios)})")
        with open(script, "rb") as file:
            digest = hashlib.sha256(file.read()).hexdigest()
        scripts.append({"script": script, "title": title_of(script), "sha256": digest, "plain": plain,
                        "explained": explained, "ratios": ratios})
    if args.record:
        provenance.keep(args.record, {"command": " ".join(["python -m tools.explain_cost", *sys.argv[1:]]),
                                      "pairs": args.pairs, "scripts": scripts},
                        os.environ.get("KERAS_BACKEND", "tensorflow"))


if __name__ == "__main__":
    run(main)
