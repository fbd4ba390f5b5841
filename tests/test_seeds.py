"""The seeds study: runs, Ctrl-C, resume, skip, NaN, flags, and a summary whose numbers are the pickles' own."""
import json
import os
import pickle
import re
import signal
import statistics
import subprocess
import sys
import time

import pytest

from tools.seeds import (
    POST,
    Figure,
    epoch_staying_above,
    figures,
    finished,
    first_epoch_above,
    format_line,
    summary_markdown,
    training_settings,
)
from pyimagesearch.runs.flags import FLAGS, PRINTS, RECORDS, TRAINS, trains_as_the_post
from tests.conftest import ROOT, backed_up_epochs, load_pickle, run_module

EPOCHS = 3
LINE = re.compile(r"^(?P<name>.+): mean (?P<mean>\S+), sd (?P<sd>\S+), min (?P<min>\S+), max (?P<max>\S+) "
                  r"over (?P<runs>\d+) runs?(?: \(post (?P<post>\S+)\))?")


def study_command(folder, dataset_dir, *extra):
    return [sys.executable, "-m", "tools.seeds", "--runs", "2", "--folder", str(folder), "--epochs",
            str(EPOCHS), "--dataset-dir", str(dataset_dir), "--diagnostics-size", "64", *extra]


@pytest.fixture(scope="module")
def study(tmp_path_factory, small_dataset_dir):
    """Seed 0 runs to the end; Ctrl-C (SIGINT to the study's process group, as a terminal sends it) after seed 1's
    first epoch; then the same command twice: the first resumes seed 1, the second finds both finished."""
    folder = tmp_path_factory.mktemp("study")
    seed_0, seed_1 = str(folder / "seed-0.pickle"), str(folder / "seed-1.pickle")
    log = folder / "interrupted.log"
    with open(log, "w") as output:
        process = subprocess.Popen(study_command(folder, small_dataset_dir), cwd=ROOT, stdout=output,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                   # SIGINT's default action, as in a terminal, even when these tests run in a
                                   # background job, which starts with SIGINT ignored
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 300
        while backed_up_epochs(seed_1) < 1:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "seed 1 did not back up its first epoch in time"
            time.sleep(0.05)
        seed_0_written = os.stat(seed_0).st_mtime_ns
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=120)
    interrupted = {"returncode": process.returncode, "output": log.read_text(), "partial": load_pickle(seed_1),
                   "backed_up": backed_up_epochs(seed_1), "backup_kept": os.path.isdir(seed_1 + ".backup")}
    resumed = subprocess.run(study_command(folder, small_dataset_dir), cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    seed_1_written = os.stat(seed_1).st_mtime_ns
    again = subprocess.run(study_command(folder, small_dataset_dir), cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    return {"folder": folder, "interrupted": interrupted, "resumed": resumed, "again": again,
            "histories": [load_pickle(seed_0), load_pickle(seed_1)],
            "written": (seed_0_written, seed_1_written, os.stat(seed_0).st_mtime_ns, os.stat(seed_1).st_mtime_ns)}


@pytest.mark.slow
def test_ctrl_c_stops_the_whole_study_with_exit_130_and_one_line(study):
    interrupted = study["interrupted"]
    assert interrupted["returncode"] == 130
    assert "Traceback" not in interrupted["output"]
    assert interrupted["output"].splitlines()[-1] == ("error: study stopped by Ctrl-C during the run with seed 1; "
                                                      "run the same command again to resume it")
    # seed 1 saved its finished epochs and kept its backup, so it counts as unfinished
    assert 1 <= len(interrupted["partial"]["loss"]) < EPOCHS and interrupted["backup_kept"]


@pytest.mark.slow
def test_a_rerun_resumes_the_unfinished_run_and_skips_the_finished_one(study):
    resumed, folder = study["resumed"], study["folder"]
    assert resumed.returncode == 0, resumed.stderr
    assert f"[INFO] seed 0: {folder / 'seed-0.pickle'} is finished, skipping it" in resumed.stdout
    backed_up = study["interrupted"]["backed_up"]
    assert (f"[INFO] resuming from {folder / 'seed-1.pickle'}.backup: {backed_up} of {EPOCHS} epochs already done"
            in resumed.stdout)
    seed_0_before, _, seed_0_after, _ = study["written"]
    assert seed_0_after == seed_0_before  # not retrained
    resumed_history = study["histories"][1]
    assert all(len(values) == EPOCHS for values in resumed_history.values())
    assert resumed_history["loss"][:backed_up] == study["interrupted"]["partial"]["loss"][:backed_up]
    assert not os.path.exists(folder / "seed-1.pickle.backup")


@pytest.mark.slow
def test_a_resumed_seed_ends_as_the_same_seed_run_without_a_stop(study, tmp_path, small_dataset_dir):
    uninterrupted = subprocess.run(study_command(tmp_path / "uninterrupted", small_dataset_dir), cwd=ROOT,
                                   capture_output=True, text=True, timeout=300)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    for seed in (0, 1):
        assert load_pickle(tmp_path / "uninterrupted" / f"seed-{seed}.pickle") == study["histories"][seed], seed


@pytest.mark.slow
def test_study_json_records_where_and_on_what_each_part_of_each_run_ran(study):
    import platform

    recorded = json.loads((study["folder"] / "study.json").read_text())
    flags = recorded["flags"]  # as fashion_mnist.py reads them, each once, in its order
    assert flags[:3] == ["--epochs", "3", "--dataset-dir"] and flags[4:] == ["--diagnostics-size", "64"]
    seed_0, seed_1 = recorded["runs"]["0"], recorded["runs"]["1"]
    assert len(seed_0) == 1 and len(seed_1) == 2  # seed 1 was stopped and resumed: two parts
    backed_up = study["interrupted"]["backed_up"]
    assert [(part["epochs_before"], part["epochs_after"]) for part in seed_1] == [(0, backed_up), (backed_up, EPOCHS)]
    assert [part["exit_status"] for part in seed_0 + seed_1] == [0, 130, 0]
    for part in seed_0 + seed_1:
        assert part["machine"]["cpus"] >= 1 and part["machine"]["cpu"]
        assert part["versions"]["python"] == platform.python_version()
        assert part["versions"]["keras"] and part["versions"]["numpy"] and part["wall_seconds"] > 0
        assert part["started"] < part["finished"] and len(part["commit"] or "x" * 40) >= 40


@pytest.mark.slow
def test_a_third_invocation_retrains_nothing(study):
    again = study["again"]
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("is finished, skipping it") == 2 and "[INFO] loading Fashion MNIST" not in again.stdout
    _, seed_1_before, _, seed_1_after = study["written"]
    assert seed_1_after == seed_1_before


def expected_figures(histories):
    """Each figure's values, computed here from the pickles without the study's code."""
    def term(history, later, earlier, epochs):
        return statistics.mean(history[later][epoch] - history[earlier][epoch] for epoch in range(epochs))

    expected = {"final val_accuracy": [history["val_accuracy"][-1] for history in histories],
                "epoch 1 loss": [history["loss"][0] for history in histories],
                "epoch 1 val_loss": [history["val_loss"][0] for history in histories]}
    for label, epochs in (("epoch 1", 1), ("epochs 1-3", 3)):
        for name, later, earlier in (("running mean (reason 2)", "train_end_loss", "loss"),
                                     ("dropout (reason 1)", "train_end_nodropout_loss", "train_end_loss"),
                                     ("batch-norm statistics", "train_inference_loss", "train_end_nodropout_loss"),
                                     ("generalization (reason 3 if negative)", "val_loss", "train_inference_loss")):
            expected[f"{label} {name}"] = [term(history, later, earlier, epochs) for history in histories]
    return expected


@pytest.mark.slow
def test_summary_lines_are_the_pickles_numbers(study):
    histories = study["histories"]
    printed = {match["name"]: match for match in map(LINE.match, study["again"].stdout.splitlines()) if match}
    expected = expected_figures(histories)
    assert set(expected) < set(printed)
    for name, values in expected.items():
        line = printed[name]
        assert line["mean"] == f"{statistics.mean(values):.4f}", name
        assert line["sd"] == f"{statistics.stdev(values):.4f}", name
        assert (line["min"], line["max"], line["runs"]) == (f"{min(values):.4f}", f"{max(values):.4f}", "2"), name
    # three epochs are not the post's 25, so its figures would not compare
    assert [printed[name]["post"] for name in ("final val_accuracy", "epoch 1 loss", "epoch 1 val_loss")] == [None] * 3
    first = [next((epoch for epoch in range(1, EPOCHS + 1)
                   if history["val_loss"][epoch - 1] > history["loss"][epoch - 1]), None) for history in histories]
    [line] = [line for line in study["again"].stdout.splitlines()
              if line.startswith("first epoch with val_loss above loss: ")]
    never = first.count(None)
    assert line.endswith(f"({never} of 2 runs never had one)" if never else "(every run had one)")


@pytest.mark.slow
def test_summary_md_holds_the_same_numbers(study):
    summary = (study["folder"] / "summary.md").read_text()
    for name, values in expected_figures(study["histories"]).items():
        row = f"| {name} | {statistics.mean(values):.4f} | {statistics.stdev(values):.4f} | {min(values):.4f} | "
        assert row in summary, name
    assert summary.startswith("# 2 seeded runs (seeds 0-1) of `python fashion_mnist.py --diagnostics --epochs 3 ")
    assert "\n| figure | mean | sd | min | max | runs |\n| --- | ---: | ---: | ---: | ---: | ---: |\n" in summary


@pytest.mark.slow
def test_the_figure_draws_the_posts_plots_over_the_runs_and_the_terms_with_their_range(study):
    import matplotlib.image
    from matplotlib.container import BarContainer

    from lossgap.gaps import LABELS, acting_terms, study_gap_terms
    from lossgap.plots import plot_study

    histories = study["histories"]
    figure = plot_study(histories)
    top, shifted, gap = figure.get_axes()
    assert [top.get_title(), shifted.get_title()] == [f"Unshifted Loss Plot (mean and min-max of 2 runs)",
                                                      f"Shifted Loss Plot (mean and min-max of 2 runs)"]
    mean_loss = [statistics.mean(values) for values in zip(*(history["loss"] for history in histories))]
    [train] = [line for line in shifted.get_lines() if line.get_label() == "train_loss"]
    assert list(train.get_xdata()) == [0.5, 1.5, 2.5] and list(train.get_ydata()) == pytest.approx(mean_loss)
    bars = [container.get_label() for container in gap.containers if isinstance(container, BarContainer)]
    assert bars == [LABELS[name] for name in acting_terms(*study_gap_terms(histories))]
    # the saved PNG is that figure: 6.4 x 9.6 inches at 100 dots an inch, and not blank
    pixels = matplotlib.image.imread(study["folder"] / "seeds.png")
    assert pixels.shape[:2] == (960, 640) and pixels.std() > 0.1


# --- without training ---

def run_study(*arguments):
    return run_module("tools.seeds", *arguments, timeout=60)


@pytest.mark.parametrize("tokens, flag", [(["--seed", "1"], "--seed"), (["--seed=3"], "--seed"),
                                          (["--hist", "h"], "--history"), (["-i", "h"], "--history"),
                                          (["--diagnostics"], "--diagnostics")])
def test_the_flags_the_study_sets_are_refused_in_one_line(tmp_path, tokens, flag):
    result = run_study("--folder", tmp_path / "study", *tokens)
    assert result.returncode == 2 and not (tmp_path / "study").exists()
    assert result.stderr == f"error: {flag} is not allowed: the study sets it itself for each run\n"


def test_bad_study_flags_get_argparses_message(tmp_path):
    result = run_study("--folder", tmp_path, "--runs", "0")
    assert result.returncode == 2 and "argument --runs: '0' is not positive" in result.stderr
    result = run_study("--runs", "2")
    assert result.returncode == 2 and "the following arguments are required: --folder" in result.stderr


def test_a_folder_refuses_a_study_of_other_flags(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps({"flags": ["--epochs", "3"]}))
    (tmp_path / "seed-0.pickle.backup").mkdir()  # a run has started
    result = run_study("--folder", tmp_path, "--epochs", "4")
    assert result.returncode == 1
    assert result.stderr == (f"error: {tmp_path} holds a study with fashion_mnist.py flags --epochs 3 (epochs 3 -> 4); "
                             "rerun with those flags or use another --folder\n")


def test_a_mistyped_flag_gets_the_training_scripts_own_message_before_anything_is_written(tmp_path):
    folder = tmp_path / "study"
    for flags, message in ((["--epocs", "1"], "unrecognized arguments: --epocs 1"),
                           (["--lr", "-1"], "argument --lr: '-1' is not a positive finite number")):
        result = run_study("--folder", folder, *flags)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.splitlines()[-1] == f"fashion_mnist.py: error: {message}"
        assert not folder.exists()


def test_a_studys_identity_is_its_parsed_settings_not_their_spelling(tmp_path):
    # a finished study of one three-epoch run, started as `--epochs 3`
    (tmp_path / "study.json").write_text(json.dumps({"flags": ["--epochs", "3"]}))
    with open(tmp_path / "seed-0.pickle", "wb") as file:
        pickle.dump(THREE_EPOCHS, file)
    for spelling in (["--epochs=3"], ["--ep", "3", "--restart"], ["--epochs", "3", "--check-split"]):
        result = run_study("--runs", 1, "--folder", tmp_path, *spelling)
        assert result.returncode == 0, result.stderr
        assert f"[INFO] seed 0: {tmp_path / 'seed-0.pickle'} is finished, skipping it" in result.stdout
    assert training_settings(["--epochs", "3"]) == training_settings(["--epochs=3", "--rest"])
    assert training_settings(["--epochs", "3"]) != training_settings(["--epochs", "3", "--lr", "0.001"])


# a run of three epochs whose val_loss is first above its loss at epoch 3
THREE_EPOCHS = {"loss": [0.5, 0.4, 0.3], "val_loss": [0.3, 0.35, 0.32], "val_accuracy": [0.8, 0.85, 0.9],
                "train_end_loss": [0.4, 0.35, 0.28], "train_end_nodropout_loss": [0.35, 0.3, 0.25],
                "train_end_nonoise_loss": [0.35, 0.3, 0.25], "train_end_noaugmentation_loss": [0.35, 0.3, 0.25],
                "train_end_nobatchnorm_loss": [0.3, 0.28, 0.24], "train_inference_loss": [0.3, 0.28, 0.24]}


def test_one_run_has_no_sd_and_runs_that_never_cross_are_counted():
    history = THREE_EPOCHS
    lines = [format_line(figure) for figure in figures([history], POST)]
    assert lines[0] == "final val_accuracy: mean 0.9000, sd n/a, min 0.9000, max 0.9000 over 1 run (post 0.9312)"
    assert "epochs 1-3 running mean (reason 2): mean -0.0567, sd n/a, min -0.0567, max -0.0567 over 1 run" in lines
    assert lines[-2] == ("first epoch with val_loss above loss: mean 3.0000, sd n/a, min 3.0000, max 3.0000 over "
                         "1 run (every run had one)")
    never = dict(history, val_loss=[0.2, 0.2, 0.2])
    assert format_line(figures([history, never, never], POST)[-2]) == (
        "first epoch with val_loss above loss: mean 3.0000, sd n/a, min 3.0000, max 3.0000 over 1 run "
        "(2 of 3 runs never had one)")
    assert format_line(Figure("first epoch with val_loss above loss", [], runs=2)) == (
        "first epoch with val_loss above loss: none in 2 runs")


def test_an_early_epoch_above_does_not_count_as_the_curves_crossing_for_good():
    blip = {"loss": [0.5, 0.4, 0.3, 0.2, 0.15], "val_loss": [0.6, 0.35, 0.32, 0.25, 0.2]}  # above at 1, 3, 4, 5
    assert (first_epoch_above(blip), epoch_staying_above(blip)) == (1, 3)
    assert epoch_staying_above({"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}) == 1
    assert epoch_staying_above({"loss": [0.5, 0.4], "val_loss": [0.6, 0.3]}) is None  # ends below
    history = THREE_EPOCHS
    ends_below = dict(history, val_loss=[0.3, 0.35, 0.2])
    assert format_line(figures([history, ends_below], POST)[-1]) == (
        "epoch from which val_loss stays above loss: mean 3.0000, sd n/a, min 3.0000, max 3.0000 over 1 run "
        "(1 of 2 runs never had one)")


def test_the_posts_figures_stand_only_beside_a_study_that_trains_as_the_post(tmp_path):
    trains_as_before = ["--dataset-dir", tmp_path, "--diagnostics-size", "0", "--check-split", "--restart",
                        "--near-duplicate-threshold", "0.1"]
    assert trains_as_the_post(training_settings([]))
    assert trains_as_the_post(training_settings(list(map(str, trains_as_before))))
    for flags in (["--epochs", "2"], ["--train-size", "10000"], ["--test-size", "2000"], ["--batch-size", "64"],
                  ["--lr", "0.001"], ["--mixed-precision"], ["--dropout-scale", "0"], ["--augment"]):
        assert not trains_as_the_post(training_settings(flags)), flags
    # every flag says whether it changes the training, what is recorded, or neither, where it is written
    assert {flag.kind for flag in FLAGS} == {TRAINS, RECORDS, PRINTS}

    header = "| figure | mean | sd | min | max | runs |"
    with_post = summary_markdown(figures([THREE_EPOCHS], POST), 1, []).splitlines()
    assert with_post[2:5] == [header + " post |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
                              "| final val_accuracy | 0.9000 | n/a | 0.9000 | 0.9000 | 1 | 0.9312 |"]
    without = summary_markdown(figures([THREE_EPOCHS], {}), 1, ["--epochs", "3"]).splitlines()
    assert without[2:5] == [header, "| --- | ---: | ---: | ---: | ---: | ---: |",
                            "| final val_accuracy | 0.9000 | n/a | 0.9000 | 0.9000 | 1 |"]
    assert not any("post" in format_line(figure) for figure in figures([THREE_EPOCHS], {}))
    # the quick study in the docs trains for 2 epochs on 10,000 images, so its table has no post column either
    with open(os.path.join(ROOT, "docs", "studies", "quick", "summary.md")) as file:
        rows = [line for line in file.read().splitlines() if line.startswith("|")]
    assert rows[:2] == without[2:4] and all(row.count("|") == header.count("|") for row in rows)


# --- the study around a stand-in for fashion_mnist.py, which acts out what a test needs of a run ---

# the study, its runs' command made to start the stand-in given as the first argument instead of fashion_mnist.py
STUDY_OF_A_STAND_IN = """
import sys

import tools.seeds as seeds
from lossgap.errors import run

stand_in = sys.argv.pop(1)
start_run = seeds.start_run
seeds.start_run = lambda command, *arguments: start_run([command[0], stand_in, *command[2:]], *arguments)
run(seeds.main)
"""

# seed 0 finishes its THREE_EPOCHS; seed 1 stops on a NaN loss in epoch 2, which leaves the first epoch's history in
# the pickle and no backup, as pyimagesearch/runs/backup.py does; each start is noted in starts.log
DIVERGES_IN_EPOCH_2 = """
import os
import pickle
import sys

history = {history}
path, seed = sys.argv[sys.argv.index("--history") + 1], sys.argv[sys.argv.index("--seed") + 1]
with open(os.path.join(os.path.dirname(path), "starts.log"), "a") as log:
    log.write(seed + "\\n")
epochs = 3 if seed == "0" else 1
with open(path, "wb") as file:
    pickle.dump({{key: values[:epochs] for key, values in history.items()}}, file)
sys.exit(0 if seed == "0" else 3)
"""


def start_study_of_a_stand_in(stand_in, tmp_path, *arguments, **popen):
    script = tmp_path / "stand_in.py"
    script.write_text(stand_in)
    return subprocess.Popen([sys.executable, "-c", STUDY_OF_A_STAND_IN, script, *map(str, arguments)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def diverged(folder, seed, epoch, rate):
    """The study's last line for the run with `seed` that a NaN loss stopped in `epoch`."""
    return (f"error: seed {seed} stopped on a NaN or infinite loss in epoch {epoch} (recorded in "
            f"{folder / f'seed-{seed}.failed'}); a seeded run repeats it, so rerunning will not help: the likely "
            f"cause is a learning rate too high, so start the study with a lower --lr than {rate} in another --folder")


@pytest.mark.slow
def test_a_run_stopped_by_a_nan_loss_fails_the_study_now_and_on_every_rerun(tmp_path, small_dataset_dir):
    folder = tmp_path / "study"
    command = ["--runs", 2, "--folder", folder, "--epochs", 2, "--dataset-dir", small_dataset_dir,
               "--diagnostics-size", 64, "--lr", "1e30"]  # diverges in the first batches, seeded or not
    message = diverged(folder, 0, 1, "1e+30")
    failed = run_study(*command)
    assert failed.returncode == 3 and "Traceback" not in failed.stderr
    assert "the training loss became nan in epoch 1" in failed.stderr  # the run's own line, above the study's
    assert failed.stderr.splitlines()[-1] == message
    assert "[INFO] seed 1 of 0-1" not in failed.stdout and not (folder / "summary.md").exists()

    command[command.index("--lr"):] = ["--lr=1e30"]
    again = run_study(*command)
    assert (again.returncode, again.stderr, again.stdout) == (3, message + "\n", "")  # nothing trained again


def test_a_nan_loss_after_the_first_epoch_is_a_failure_too_not_a_finished_run(tmp_path):
    folder = tmp_path / "study"
    history = repr(THREE_EPOCHS)
    results = []
    for _ in range(2):
        process = start_study_of_a_stand_in(DIVERGES_IN_EPOCH_2.format(history=history), tmp_path, "--runs", 2,
                                            "--folder", folder, "--epochs", 3)
        stdout, stderr = process.communicate(timeout=60)
        results.append((process.returncode, stderr.splitlines()[-1]))
    assert results == [(3, diverged(folder, 1, 2, "0.01"))] * 2
    assert (folder / "starts.log").read_text() == "0\n1\n"  # the rerun trained neither
    # without the record, the pickle of one epoch still does not pass for a finished run of three
    assert finished(str(folder / "seed-0.pickle"), 3) and not finished(str(folder / "seed-1.pickle"), 3)


# stops as a run does whose Ctrl-C came during diagnostics longer than the study ever waited: notes each signal in
# signals.log beside its history, then exits 130 some seconds after the first
SLOW_TO_STOP = """
import os
import signal
import sys
import time

path = sys.argv[sys.argv.index("--history") + 1]
log = open(os.path.join(os.path.dirname(path), "signals.log"), "a", buffering=1)
received = []


def note(number, frame):
    received.append(number)
    log.write(signal.Signals(number).name + "\\n")


signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
log.write("ready\\n")
while not received:
    time.sleep(0.01)
time.sleep({seconds})
sys.exit(130)
"""


@pytest.mark.parametrize("reaches_the_run, seconds, signals", [
    # two Ctrl-C in a terminal, to the study's process group
    pytest.param(True, 11, ["SIGINT", "SIGTERM", "SIGINT"], marks=pytest.mark.slow),
    (False, 2, ["SIGTERM"]),  # `kill -INT` of the study alone
])
def test_ctrl_c_makes_the_study_wait_for_the_run_however_long_and_pass_the_stop_on_once(tmp_path, reaches_the_run,
                                                                                        seconds, signals):
    folder = tmp_path / "study"
    process = start_study_of_a_stand_in(SLOW_TO_STOP.format(seconds=seconds), tmp_path, "--runs", 2, "--folder",
                                        folder, start_new_session=True,
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    log = folder / "signals.log"
    deadline = time.monotonic() + 60
    while not log.exists() or "ready" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    stopped = time.monotonic()
    if reaches_the_run:
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(1)
        os.killpg(process.pid, signal.SIGINT)  # the second Ctrl-C: the study ignores it, the run gets it
    else:
        os.kill(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - stopped >= seconds  # no time limit cut the run short
    assert log.read_text().splitlines() == ["ready", *signals]  # not one signal more from the study
    assert process.returncode == 130 and stderr == ("error: study stopped by Ctrl-C during the run with seed 0; run "
                                                    "the same command again to resume it\n")


# writes its history after noting, beside it, when it ran and on which CPUs; waits long enough for runs to overlap
NOTES_ITS_TURN = """
import json
import os
import pickle
import sys
import time

path, seed = sys.argv[sys.argv.index("--history") + 1], sys.argv[sys.argv.index("--seed") + 1]
started = time.time()
print(f"training seed {{seed}}")
time.sleep(1.5)
with open(os.path.join(os.path.dirname(path), f"turn-{{seed}}.json"), "w") as file:
    json.dump({{"started": started, "ended": time.time(), "cpus": sorted(os.sched_getaffinity(0)),
               "allocate": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE")}}, file)
with open(path, "wb") as file:
    pickle.dump({history}, file)
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two CPUs to share out")
def test_jobs_run_seeds_at_the_same_time_each_on_its_share_of_the_cpus_with_its_output_in_a_log(tmp_path):
    folder = tmp_path / "study"
    process = start_study_of_a_stand_in(NOTES_ITS_TURN.format(history=repr(THREE_EPOCHS)), tmp_path, "--runs", 3,
                                        "--jobs", 2, "--folder", folder, "--epochs", 3)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    turns = [json.loads((folder / f"turn-{seed}.json").read_text()) for seed in range(3)]
    assert turns[0]["started"] < turns[1]["ended"] and turns[1]["started"] < turns[0]["ended"]  # together
    assert turns[2]["started"] >= min(turns[0]["ended"], turns[1]["ended"])  # never three at once
    cpus = sorted(os.sched_getaffinity(0))
    assert turns[0]["cpus"] == cpus[0::2] and turns[1]["cpus"] == cpus[1::2]
    assert turns[2]["cpus"] in (cpus[0::2], cpus[1::2]) and {turn["allocate"] for turn in turns} == {"false"}
    for seed in range(3):
        assert (folder / f"seed-{seed}.log").read_text() == f"training seed {seed}\n"
        assert f"[INFO] seed {seed} of 0-2: " in stdout and f"(its output in {folder / f'seed-{seed}.log'})" in stdout
    assert (folder / "summary.md").is_file() and "over 3 runs" in stdout
