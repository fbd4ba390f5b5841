"""Several seeded runs of `fashion_mnist.py --diagnostics`, and how much their numbers move from seed to seed.

One run's epoch-1 gap or final accuracy carries its seed's luck (initial weights, batch order, dropout masks). This
runs fashion_mnist.py with seeds 0 to N-1, one after the other, each to DIR/seed-K.pickle, then prints for each
figure its mean, sample standard deviation, min and max over the runs (and the post's value where it gives one, if
every flag that changes training is at its default, the post's), writes that table to DIR/summary.md and draws
DIR/seeds.png: the post's two plots as mean curves with min-max bands, and the gap val_loss - loss split into its
terms (mean per epoch, min-max error bars).

    python -m tools.seeds --runs 5 --folder seeds

Flags it does not know go to every run of fashion_mnist.py (e.g. `--epochs 3 --train-size 6000`); fashion_mnist.py's
own parser checks them first, so a mistyped one fails at once (exit 2) and writes nothing. The study sets `--seed`,
`--history` and `--diagnostics` itself. A folder holds one study: once a run has started there, other settings are
refused. Settings are compared as fashion_mnist.py reads them (`--epochs 3` and `--epochs=3` are one study), and
`--restart` does not count.

Stopped (Ctrl-C, a crash, a closed lid), the same command carries on: a run whose pickle holds every epoch and has
no backup folder beside it is finished and skipped, any other resumes from its backup or starts afresh. On Ctrl-C
the study waits, however long it takes, for the run in progress to back up an epoch whose training has ended, then
to save its finished epochs and exit; a SIGINT sent to the study alone (`kill -INT`) is passed on to the run as
SIGTERM, which it treats the same way. A second Ctrl-C stops the run at once, as it does fashion_mnist.py alone:
the epoch in progress is lost, the finished ones are kept; the study only waits for it.

A run stopped by a NaN or infinite loss stops the study (exit status 3) and is recorded in DIR/seed-K.failed: with
its seed it would diverge again, so every rerun of the study reports it instead of training it. A lower --lr is
another study, in another folder.
"""
import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import NamedTuple

from lossgap.arguments import positive_int
from lossgap.errors import UserError, run
from lossgap.families import DIAGNOSTIC_KEYS
from lossgap.files import write_atomically
from lossgap.history import load_history
from pyimagesearch.runs import NON_FINITE_LOSS
from pyimagesearch.runs.flags import add_run_flags, flags_of, run_settings, trains_as_the_post

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "fashion_mnist.py")
STUDY_FLAGS = {"--seed": "seed", "--history": "history", "--diagnostics": "diagnostics"}  # set by the study
FLAGS_FILE = "study.json"
# the epochs the post's printed log shows (1-5 and 21-25 of its 25)
POST_LOG = {epoch: dict(zip(("loss", "accuracy", "val_loss", "val_accuracy"), values)) for epoch, values in (
    (1, (0.5433, 0.8181, 0.3281, 0.8815)), (2, (0.3396, 0.8780, 0.2726, 0.9006)), (3, (0.2941, 0.8943, 0.2722, 0.8970)),
    (4, (0.2717, 0.9017, 0.2334, 0.9144)), (5, (0.2534, 0.9086, 0.2245, 0.9194)),
    (21, (0.1797, 0.9340, 0.1879, 0.9324)), (22, (0.1814, 0.9342, 0.1901, 0.9313)),
    (23, (0.1766, 0.9351, 0.1866, 0.9320)), (24, (0.1770, 0.9347, 0.1845, 0.9337)),
    (25, (0.1734, 0.9372, 0.1871, 0.9312)))}
POST = {"final val_accuracy": POST_LOG[25]["val_accuracy"], "epoch 1 loss": POST_LOG[1]["loss"],
        "epoch 1 val_loss": POST_LOG[1]["val_loss"]}


def parse_arguments(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m tools.seeds",
        description="Run fashion_mnist.py --diagnostics with seeds 0..N-1 and summarize the spread.",
        epilog="Any other flag is passed on to every run of fashion_mnist.py, except --seed, --history and "
               "--diagnostics, which the study sets.", allow_abbrev=False)
    ap.add_argument("--runs", type=positive_int, default=5, metavar="N",
                    help="seeded runs, seeds 0 to N-1 (default: 5)")
    ap.add_argument("--folder", required=True, metavar="DIR",
                    help="folder for seed-K.pickle, summary.md and seeds.png, created if missing")
    ap.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                    help="runs at a time, each on its share of the CPUs (or sharing one GPU), its output in "
                         "DIR/seed-K.log (default: 1, its output to the terminal)")
    args, passed_on = ap.parse_known_args(argv)
    args.settings = training_settings(passed_on, refuse_study_flags=True)
    return args, passed_on


def training_settings(flags, refuse_study_flags=False):
    """The settings `flags` give every run, read as fashion_mnist.py reads them (pyimagesearch/runs/flags.py; a bad
    flag exits 2 with argparse's message): those a backup must match to resume, less the seed and --diagnostics,
    which the study sets. With `refuse_study_flags`, a flag the study sets is refused."""
    parser = argparse.ArgumentParser(prog="fashion_mnist.py")
    parser.add_argument("-i", "--history", default=None)
    args = add_run_flags(parser).parse_args(flags)
    given = [flag for flag, dest in STUDY_FLAGS.items() if getattr(args, dest) not in (None, False)]
    if refuse_study_flags and given:
        raise UserError(f"{given[0]} is not allowed: the study sets it itself for each run", exit_code=2)
    settings = run_settings(args)
    del settings["seed"], settings["diagnostics"]
    return settings


def history_path(folder, seed):
    return os.path.join(folder, f"seed-{seed}.pickle")


def failure_path(folder, seed):
    return os.path.join(folder, f"seed-{seed}.failed")


def finished(path, epochs):
    """A run is finished once its pickle holds all its epochs and its backup is gone. A run stopped by Ctrl-C leaves
    both; one stopped by a NaN loss leaves a pickle of the epochs before it and no backup."""
    if not os.path.isfile(path) or os.path.exists(path + ".backup"):
        return False
    return len(load_history(path)["loss"]) == epochs


def record_divergence(folder, seed):
    """Note in DIR/seed-K.failed that the run stopped on a NaN or infinite loss, and in which epoch."""
    path = history_path(folder, seed)
    finished_epochs = len(load_history(path)["loss"]) if os.path.isfile(path) else 0
    payload = json.dumps({"stopped by": "a NaN or infinite loss", "epoch": finished_epochs + 1}).encode()
    write_atomically(failure_path(folder, seed), lambda file: file.write(payload))


def recorded_failure(folder, seed, settings):
    """What DIR/seed-K.failed says, as a line that also says what to do; None if there is no such file."""
    path = failure_path(folder, seed)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as file:
            epoch = json.load(file)["epoch"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"cannot read {path} ({error}); remove it to train seed {seed} again") from None
    return (f"seed {seed} stopped on a NaN or infinite loss in epoch {epoch} (recorded in {path}); a seeded run "
            "repeats it, so rerunning will not help: the likely cause is a learning rate too high, so start the "
            f"study with a lower --lr than {settings['lr']:g} in another --folder")


def read_study_file(folder):
    """study.json of `folder`: {"flags": [...], "runs": {seed: [part, ...]}}, "runs" empty where none is recorded."""
    path = os.path.join(folder, FLAGS_FILE)
    with open(path) as file:
        recorded = json.load(file)
    recorded.setdefault("runs", {})
    return recorded


def write_study_file(folder, recorded):
    payload = (json.dumps(recorded, indent=1) + "\n").encode()
    write_atomically(os.path.join(folder, FLAGS_FILE), lambda file: file.write(payload))


def epochs_done(path):
    """How many epochs of the run writing `path` are done: its backup's count, else its history's, else 0."""
    try:
        with open(path + ".backup/state.json") as file:
            return json.load(file)["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return len(load_history(path)["loss"]) if os.path.isfile(path) else 0


class Stamps:
    """Writes into study.json, for every part of a run (from each start to its exit: a run stopped and resumed has
    several), where and on what it ran: the date, the machine, the versions, the commit, the wall time and the
    epochs it took the run from and to. The docs generator writes each table's provenance from these."""

    def __init__(self, folder, backend):
        self.folder, self.backend, self.started = folder, backend, {}

    def start(self, seed, cpus):
        from tools import provenance

        part = {"started": provenance.now(), "epochs_before": epochs_done(history_path(self.folder, seed)),
                "commit": provenance.commit(), "machine": provenance.machine(cpus),
                "versions": provenance.versions(self.backend)}
        self.started[seed] = (part, time.monotonic())
        self._update(seed, part)

    def end(self, seed, status):
        from tools import provenance

        part, started = self.started.pop(seed)
        part.update(finished=provenance.now(), wall_seconds=round(time.monotonic() - started, 1),
                    epochs_after=epochs_done(history_path(self.folder, seed)), exit_status=status)
        self._update(seed, part)

    def _update(self, seed, part):
        recorded = read_study_file(self.folder)
        parts = recorded["runs"].setdefault(str(seed), [])
        if parts and parts[-1]["started"] == part["started"]:
            parts[-1] = part
        else:
            parts.append(part)
        write_study_file(self.folder, recorded)


def check_same_study(folder, flags, settings):
    """Refuse to mix runs of other settings into the folder's study; remember its flags on its first start, or
    while no run has started there (a study stopped before its first run leaves nothing to mix with)."""
    path = os.path.join(folder, FLAGS_FILE)
    if os.path.isfile(path) and glob.glob(os.path.join(glob.escape(folder), "seed-*")):
        try:
            recorded = read_study_file(folder)["flags"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"cannot read {path} ({error}); remove it if the folder holds no other study") from None
        try:
            recorded_settings = training_settings(recorded)
        except SystemExit:  # argparse has printed what it refused
            raise UserError(f"{path} holds flags that fashion_mnist.py refuses; remove it if the folder holds no "
                            "other study") from None
        if recorded_settings != settings:
            changed = ", ".join(f"{key} {recorded_settings.get(key)!r} -> {value!r}"
                                for key, value in settings.items() if recorded_settings.get(key) != value)
            raise UserError(f"{folder} holds a study with fashion_mnist.py flags {' '.join(recorded) or '(none)'} "
                            f"({changed}); rerun with those flags or use another --folder")
        return
    write_study_file(folder, {"flags": flags, "runs": {}})


def cpu_shares(jobs):
    """The CPUs this process may use, dealt out into `jobs` shares (one CPU for several jobs when there are more jobs
    than CPUs); None where the system does not say (no sched_getaffinity)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return [cpus[index::jobs] or [cpus[index % len(cpus)]] for index in range(jobs)]


def start_run(command, share=None, log_path=None):
    """One training process: its output to the terminal, or to `log_path` when runs share the machine; on the CPUs
    of `share` where given, with GPU memory taken as needed rather than all at once, so that runs fit on one GPU."""
    if log_path is None:
        return subprocess.Popen(command)
    environment = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true", **os.environ}
    with open(log_path, "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                preexec_fn=None if share is None else lambda: os.sched_setaffinity(0, share))


def train_runs(runs, jobs, stamps=None):
    """Run `runs`, [(seed, command, log path or None, line to print as it starts)], at most `jobs` at a time; return
    [(seed, exit status)] of those that ran. Once one fails, no other starts (nor is announced); those running
    finish. A Ctrl-C stops every run in progress, and each counts as stopped by it (exit status 130).

    A terminal's Ctrl-C reaches the trainings too; a `kill -INT` of this process alone does not, and nothing here
    tells the two apart. So the stop is passed on as SIGTERM, which a training treats as it treats Ctrl-C, and which
    does not count as a second Ctrl-C where the first reached it. Then we wait without a time limit: a training stops
    at a batch's end, after backing up an epoch whose training has ended (its diagnostics can take minutes), and any
    further signal from us could cost that epoch. A second Ctrl-C reaches the trainings from the terminal and stops
    them at once; here it is ignored.
    """
    shares = cpu_shares(jobs) if jobs > 1 else None
    waiting, running, statuses = list(runs), {}, []

    def ended(seed, status):
        statuses.append((seed, status))
        if stamps is not None:
            stamps.end(seed, status)

    try:
        while waiting or running:
            failed = any(status != 0 for _, status in statuses)
            while waiting and len(running) < jobs and not failed:
                seed, command, log_path, announcement = waiting.pop(0)
                print(announcement, flush=True)
                free = next(index for index in range(jobs) if index not in {slot for slot, _ in running.values()})
                share = shares and shares[free]
                if stamps is not None:
                    stamps.start(seed, len(share) if share else None)  # None: the CPUs this process may use
                running[seed] = (free, start_run(command, share, log_path))
            for seed, (_, process) in list(running.items()):
                if process.poll() is not None:
                    del running[seed]
                    ended(seed, process.returncode)
            if running:
                time.sleep(0.2 if jobs > 1 else 0.02)
            elif failed:
                break
    except KeyboardInterrupt:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _, process in running.values():
                process.send_signal(signal.SIGTERM)
            for _, process in running.values():
                process.wait()
            for seed in running:
                ended(seed, 128 + signal.SIGINT)
        finally:
            signal.signal(signal.SIGINT, previous)
    return sorted(statuses)


class Figure(NamedTuple):
    name: str
    values: list  # one per run that has it
    post: float = None
    runs: int = 0  # runs in the study, when some have no value


def first_epoch_above(history):
    """The first epoch (from 1) whose val_loss is above its loss, or None."""
    return next((epoch for epoch, (loss, val_loss) in enumerate(zip(history["loss"], history["val_loss"]), start=1)
                 if val_loss > loss), None)


def epoch_staying_above(history):
    """The epoch (from 1) from which val_loss stays above loss to the last epoch, or None if it ends below. An early
    epoch above, followed by epochs below again, is noise; this is where the curves cross for good."""
    above = [val_loss > loss for loss, val_loss in zip(history["loss"], history["val_loss"])]
    if not above or not above[-1]:
        return None
    epoch = len(above)
    while epoch > 1 and above[epoch - 2]:
        epoch -= 1
    return epoch


def figures(histories, post):
    """The study's figures, each with its value in every run; `post` holds the post's values, or nothing where the
    study's settings differ from the post's."""
    from lossgap.gaps import LABELS, acting_terms, spans, study_gap_terms

    result = [Figure(name, [history[key][epoch] for history in histories], post.get(name))
              for name, key, epoch in (("final val_accuracy", "val_accuracy", -1), ("epoch 1 loss", "loss", 0),
                                       ("epoch 1 val_loss", "val_loss", 0))]
    terms = study_gap_terms(histories)
    for label, epochs in spans(len(histories[0]["loss"])):
        if epochs.start == 0 and epochs.stop <= 3:  # epoch 1 and epochs 1-3, where the post's question lives; a
            # family no run has is left out
            result += [Figure(f"{label} {LABELS[name]}", [float(run[name][epochs].mean()) for run in terms])
                       for name in acting_terms(*terms)]
    for name, epoch_of in (("first epoch with val_loss above loss", first_epoch_above),
                           ("epoch from which val_loss stays above loss", epoch_staying_above)):
        found = [epoch_of(history) for history in histories]
        result.append(Figure(name, [epoch for epoch in found if epoch is not None], runs=len(histories)))
    return result


def described(figure):
    """(mean, sd, min, max) with four decimals; sd is the sample standard deviation, "n/a" for a single run."""
    values = figure.values
    sd = f"{statistics.stdev(values):.4f}" if len(values) > 1 else "n/a"
    return f"{statistics.mean(values):.4f}", sd, f"{min(values):.4f}", f"{max(values):.4f}"


def never_had_one(figure):
    missing = figure.runs - len(figure.values)
    return f"{missing} of {figure.runs} runs never had one" if missing else "every run had one"


def format_line(figure):
    """`NAME: mean M, sd S, min A, max B over N runs`, `(post P)` where the post gives one."""
    if not figure.values:
        return f"{figure.name}: none in {figure.runs} runs"
    mean, sd, smallest, largest = described(figure)
    count = len(figure.values)
    line = f"{figure.name}: mean {mean}, sd {sd}, min {smallest}, max {largest} over {count} run{'s' * (count > 1)}"
    if figure.post is not None:
        line += f" (post {figure.post:.4f})"
    if figure.runs:
        line += f" ({never_had_one(figure)})"
    return line


def summary_markdown(figures_, runs, flags):
    """The same figures as a Markdown table under the command that produced them; a post column where the post's
    values apply."""
    command = " ".join(["python fashion_mnist.py --diagnostics", *flags])
    with_post = any(figure.post is not None for figure in figures_)
    columns = ["figure", "mean", "sd", "min", "max", "runs", *["post"] * with_post]
    lines = [f"# {runs} seeded runs (seeds 0-{runs - 1}) of `{command}`", "", table_row(columns),
             table_row(["---", *["---:"] * (len(columns) - 1)])]
    for figure in figures_:
        cells = described(figure) if figure.values else ("-",) * 4
        count = f"{len(figure.values)}" + (f" ({never_had_one(figure)})" if figure.runs else "")
        post = ["" if figure.post is None else f"{figure.post:.4f}"] * with_post
        lines.append(table_row([figure.name, *cells, count, *post]))
    return "\n".join(lines) + "\n"


def table_row(cells):
    return f"| {' | '.join(cells)} |"


def load_study(folder, runs):
    histories = [load_history(history_path(folder, seed), ("loss", "val_loss", "val_accuracy", *DIAGNOSTIC_KEYS))
                 for seed in range(runs)]
    lengths = [len(history["loss"]) for history in histories]
    if len(set(lengths)) > 1:
        raise UserError(f"the runs in {folder} have different numbers of epochs ({lengths}); a study compares runs "
                        "of the same settings")
    return histories


def study_summary(folder, runs):
    """(summary.md's text, the figures) of the finished study in `folder`, under the flags its study.json holds, with
    where and on what its runs were measured."""
    from tools.provenance import describe

    recorded = read_study_file(folder)
    flags = recorded["flags"]
    figures_ = figures(load_study(folder, runs), POST if trains_as_the_post(training_settings(flags)) else {})
    where = {seed: parts for seed, parts in recorded["runs"].items() if int(seed) < runs}
    text = summary_markdown(figures_, runs, flags)
    if where:
        text += f"\n{describe(where)}\n"
    return text, figures_


def main():
    args, passed_on = parse_arguments()
    try:
        run_study(args.folder, args.runs, passed_on, args.settings, args.jobs)
    except KeyboardInterrupt:
        raise UserError("study stopped by Ctrl-C; run the same command again to resume it", exit_code=130) from None


def run_study(folder, runs, passed_on, settings, jobs=1):
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create --folder {folder!r}: {error.strerror}") from None
    check_same_study(folder, flags_of(settings), settings)  # the flags as recorded: --restart is no setting
    to_train = []
    for seed in range(runs):
        path = history_path(folder, seed)
        failure = recorded_failure(folder, seed, settings)
        if failure is not None:
            raise UserError(failure, exit_code=NON_FINITE_LOSS)
        if finished(path, settings["epochs"]):
            print(f"[INFO] seed {seed}: {path} is finished, skipping it")
            continue
        command = [sys.executable, SCRIPT, "--history", path, "--seed", str(seed), "--diagnostics", *passed_on]
        log_path = os.path.join(folder, f"seed-{seed}.log") if jobs > 1 else None
        where = f" (its output in {log_path})" if log_path else ""
        announcement = f"[INFO] seed {seed} of 0-{runs - 1}: {' '.join(command[1:])}{where}"
        to_train.append((seed, command, log_path, announcement))
    from lossgap.backends import resolve_backend

    statuses = train_runs(to_train, jobs, Stamps(folder, resolve_backend()[0]))
    stopped = [seed for seed, status in statuses if status == 128 + signal.SIGINT]
    if stopped:  # Ctrl-C, to the study or to the runs alone
        raise UserError(f"study stopped by Ctrl-C during the run{'s' * (len(stopped) > 1)} with seed"
                        f"{'s' * (len(stopped) > 1)} {', '.join(map(str, stopped))}; run the same command again to "
                        "resume it", exit_code=130)
    for seed, status in statuses:
        if status == NON_FINITE_LOSS:
            record_divergence(folder, seed)
            raise UserError(recorded_failure(folder, seed, settings), exit_code=NON_FINITE_LOSS)
        if status != 0:
            log = f"{os.path.join(folder, f'seed-{seed}.log')}" if jobs > 1 else "above"
            raise UserError(f"the run with seed {seed} failed (fashion_mnist.py exit status {status}, its message "
                            f"is {'in ' * (jobs > 1)}{log}); run the same command again to retry it",
                            exit_code=status if status > 0 else 1)

    summary, figures_ = study_summary(folder, runs)
    print("\n".join(format_line(figure) for figure in figures_))
    from lossgap.plots import plot_study

    summary_path, figure_path = os.path.join(folder, "summary.md"), os.path.join(folder, "seeds.png")
    payload = summary.encode()
    write_atomically(summary_path, lambda file: file.write(payload))
    figure = plot_study(load_study(folder, runs))
    write_atomically(figure_path, lambda file: figure.savefig(file, format="png"), suffix=".png")
    print(f"[INFO] wrote {summary_path} and {figure_path}")


if __name__ == "__main__":
    run(main)
