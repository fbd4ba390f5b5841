"""A long run survives its interruption: faults done for real on a few hundred images."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, backed_up_epochs, load_pickle, run_script

EPOCHS = 4


def start(history, dataset_dir, *extra, epochs=EPOCHS):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "fashion_mnist.py"), "--history", str(history),
                             "--epochs", str(epochs), "--dataset-dir", str(dataset_dir), *map(str, extra)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # nothing lost in a buffer at a kill


def wait_for_epochs(process, history, epochs, timeout=180):
    deadline = time.monotonic() + timeout
    while backed_up_epochs(history) < epochs:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run did not back up its epochs in time"
        time.sleep(0.05)


def kill_after_epochs(history, dataset_dir, epochs):
    """Start a run and SIGKILL it once `epochs` epochs are backed up."""
    process = start(history, dataset_dir)
    wait_for_epochs(process, history, epochs)
    process.kill()
    process.wait()


@pytest.mark.slow
@pytest.mark.backends
def test_sigkill_after_the_second_epoch_then_rerun_ends_with_every_epoch(small_dataset_dir, tmp_path):
    history = tmp_path / "training.pickle"
    kill_after_epochs(history, small_dataset_dir, 2)
    with open(str(history) + ".backup/state.json") as file:
        backed_up = json.load(file)
    assert backed_up["epochs"] >= 2 and not history.exists()

    result = run_script("fashion_mnist.py", "--history", history, "--epochs", EPOCHS, "--dataset-dir",
                        small_dataset_dir)
    assert result.returncode == 0, result.stderr
    assert f"[INFO] resuming from {history}.backup: {backed_up['epochs']} of {EPOCHS} epochs already done" \
        in result.stdout
    final = load_pickle(history)
    assert sorted(final) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == EPOCHS for values in final.values())
    # the epochs from before the kill are kept as they were measured
    assert final["loss"][:backed_up["epochs"]] == backed_up["history"]["loss"]
    assert not os.path.exists(str(history) + ".backup")  # removed once the run completed


@pytest.mark.backends
def test_resume_restores_weights_seed_generators_and_optimizer_state(small_dataset_dir, tmp_path):
    import keras

    from pyimagesearch.datasets import read_idx_folder
    from pyimagesearch.minivggnet import MiniVGGNet
    from pyimagesearch.runs.backup import TrainingBackup
    from tools.models import compile_as_in_the_post

    ((images, labels), _) = read_idx_folder(small_dataset_dir)
    images = images[:64, :, :, None].astype("float32") / 255.0
    targets = keras.utils.to_categorical(labels[:64], 10)

    def compiled():
        return compile_as_in_the_post(MiniVGGNet.build(28, 28, 1, 10))

    settings = {"epochs": 2}
    trained = compiled()
    backup = TrainingBackup(str(tmp_path / "h.pickle"), settings)
    trained.fit(images, targets, batch_size=32, epochs=2, verbose=0, callbacks=[backup])
    restored = compiled()
    again = TrainingBackup(str(tmp_path / "h.pickle"), settings)
    again.restore(restored)
    assert again.finished_epochs == 2 and again.history == backup.history
    assert int(restored.optimizer.iterations.numpy()) == 4  # so the decayed learning rate goes on where it was
    # weights, batch-norm statistics, the dropout layers' seed generators (not among the weights) and the optimizer
    assert len(trained.variables) > len(trained.weights)
    for before, after in zip(trained.variables + trained.optimizer.variables,
                             restored.variables + restored.optimizer.variables, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after))


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_save_the_finished_epochs_and_say_how_to_resume(signal_number, exit_code,
                                                                             small_dataset_dir, tmp_path):
    history = tmp_path / "training.pickle"
    process = start(history, small_dataset_dir)
    wait_for_epochs(process, history, 1)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    [message] = [line for line in stderr.splitlines() if line.startswith("error:")]
    saved = load_pickle(history)
    epochs = len(saved["loss"])
    assert 1 <= epochs < EPOCHS and all(len(values) == epochs for values in saved.values())
    assert f"the history of {epochs} finished epoch{'s' * (epochs != 1)} is in {history}" in message
    assert signal.Signals(signal_number).name in message and "run the same command again to resume" in message
    assert os.path.isfile(str(history) + ".backup/state.json")  # kept for the resume


@pytest.mark.slow
@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (None, 141)],
                         ids=["SIGINT", "SIGTERM", "pipe closed alone"])
def test_a_stop_while_stdout_goes_to_a_closed_pipe_still_saves_in_one_line(signal_number, exit_code,
                                                                          small_dataset_dir, tmp_path):
    # `python fashion_mnist.py ... | tee log` and Ctrl-C: tee dies with us, so the next print meets a closed pipe;
    # with no signal at all (`| head` done), the next progress line does
    history = tmp_path / "training.pickle"
    process = start(history, small_dataset_dir)
    wait_for_epochs(process, history, 1)
    # the signal first, as a terminal delivers Ctrl-C to the run and to its tee alike; the pipe closes right after
    if signal_number is not None:
        process.send_signal(signal_number)
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    [message] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert signal.Signals(exit_code - 128).name in message and "run the same command again to resume" in message
    epochs = len(load_pickle(history)["loss"])
    assert 1 <= epochs < EPOCHS and f"the history of {epochs} finished epoch{'s' * (epochs != 1)} is in {history}" \
        in message
    assert os.path.isfile(str(history) + ".backup/state.json")


@pytest.mark.slow
def test_random_sigkills_during_a_run_still_end_with_every_epoch(small_dataset_dir, tmp_path):
    # three SIGKILLs, each at a random moment (seeded, so a failure can be replayed) of the epoch after one more
    # has been backed up: every rerun must resume where the last backup stood, and the last one must finish (six
    # epochs, so that the third kill still lands well before the end)
    epochs = 6
    history = tmp_path / "training.pickle"
    generator = random.Random(1)
    resumed = []
    for _ in range(3):
        before = backed_up_epochs(history)
        process = start(history, small_dataset_dir, epochs=epochs)
        wait_for_epochs(process, history, before + 1)
        time.sleep(generator.uniform(0.0, 0.5))  # an epoch of 10 batches takes well under a second here
        process.kill()
        stdout, _ = process.communicate()
        if before:
            resumed.append((before, stdout))
        assert backed_up_epochs(history) > before
    before = backed_up_epochs(history)
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", epochs, "--dataset-dir",
                        small_dataset_dir)
    assert result.returncode == 0, result.stderr
    resumed.append((before, result.stdout))
    assert len(resumed) == 3
    for finished, stdout in resumed:
        assert f"[INFO] resuming from {history}.backup: {finished} of {epochs} epochs already done" in stdout
    final = load_pickle(history)
    assert sorted(final) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == epochs for values in final.values())


# rewrites a 200 kB history in a loop, alternating two, as save_history writes it (pickled, then through
# write_atomically) but in small pieces with pauses, so that a kill at a random moment almost always lands in the
# middle of a write, whatever the speed of the machine and its disk; prints "written" once the first is in place
WRITER = """
import pickle
import sys
import time
from lossgap.files import write_atomically
from lossgap.history import save_history

histories = [{"loss": [float(i)] * 20000, "val_loss": [float(i)] * 20000} for i in (1, 2)]
save_history(histories[0], sys.argv[1])
print("written", flush=True)
payloads = [pickle.dumps(history) for history in histories]


def in_pieces(payload):
    def write(file):
        for start in range(0, len(payload), 8192):
            file.write(payload[start:start + 8192])
            time.sleep(0.001)
    return write


i = 1
while True:
    write_atomically(sys.argv[1], in_pieces(payloads[i % 2]))
    i += 1
"""


def test_kills_while_the_history_is_written_never_leave_a_broken_pickle(tmp_path):
    # SIGKILLs at random moments (seeded) of a loop that rewrites the history, until three of them have landed in
    # the middle of a write, which leaves its temporary file behind: every time, the history is one of the two
    # complete ones
    path = tmp_path / "training.pickle"
    generator = random.Random(2)
    kills = 0
    while len([name for name in os.listdir(tmp_path) if name.endswith(".tmp")]) < 3:
        assert kills < 20, "fewer than three of 20 kills landed in the middle of a write"
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                                   text=True)
        assert process.stdout.readline() == "written\n"
        time.sleep(generator.uniform(0.0, 0.05))
        process.kill()
        process.wait()
        process.stdout.close()
        kills += 1
        history = load_pickle(path)
        assert history["loss"][0] in (1.0, 2.0) and len(history["loss"]) == 20000 == len(history["val_loss"])
        assert history["val_loss"] == history["loss"]


@pytest.mark.slow
def test_a_rerun_with_other_settings_is_refused_with_how_to_restart(small_dataset_dir, tmp_path):
    history = tmp_path / "training.pickle"
    kill_after_epochs(history, small_dataset_dir, 1)
    refused = run_script("fashion_mnist.py", "--history", history, "--epochs", EPOCHS, "--dataset-dir",
                         small_dataset_dir, "--batch-size", 64)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [message] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert "batch_size 32 -> 64" in message and "--restart" in message
    assert "[INFO] training model..." not in refused.stdout

    restarted = run_script("fashion_mnist.py", "--history", history, "--epochs", 1, "--dataset-dir",
                           small_dataset_dir, "--restart")
    assert restarted.returncode == 0, restarted.stderr
    assert "resuming" not in restarted.stdout and len(load_pickle(history)["loss"]) == 1


@pytest.mark.slow
def test_a_diverging_learning_rate_stops_on_nan_with_its_message(small_dataset_dir, tmp_path):
    history = tmp_path / "training.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir",
                        small_dataset_dir, "--lr", "1e30")
    assert result.returncode == 3 and "Traceback" not in result.stderr  # not 1, so a caller can tell it from others
    [message] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "the training loss became nan in epoch 1" in message and "--lr 1e+30" in message
    assert not history.exists() and not os.path.exists(str(history) + ".backup")


def test_only_the_same_signal_twice_stops_at_once(tmp_path):
    # the seeds study passes a Ctrl-C on as SIGTERM, not knowing whether the terminal's SIGINT reached the run too;
    # stopping at once would lose an epoch whose diagnostics were running
    from pyimagesearch.runs.backup import TrainingBackup, _Stopped

    backup = TrainingBackup(str(tmp_path / "training.pickle"), {})
    backup.request_stop(signal.SIGINT, None)
    backup.request_stop(signal.SIGTERM, None)
    assert backup.stop_signal == signal.SIGINT  # noted, for the next batch's end
    with pytest.raises(_Stopped) as stopped:
        backup.request_stop(signal.SIGINT, None)  # a second Ctrl-C
    assert stopped.value.signal_number == signal.SIGINT


@pytest.mark.slow
def test_a_large_rate_decays_before_it_diverges(small_dataset_dir, tmp_path):
    # --lr 1 is a hundred times the post's rate; the decay (1 / 25 per batch) tames it and no NaN stops the run
    history = tmp_path / "training.pickle"
    result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir",
                        small_dataset_dir, "--lr", "1", "--seed", 0)
    assert result.returncode == 0, result.stderr
    assert all(np.isfinite(load_pickle(history)["loss"]))


@pytest.mark.slow
@pytest.mark.backends
def test_two_seeded_runs_give_identical_histories(small_dataset_dir, tmp_path):
    histories = []
    for name in ("first", "second"):
        history = tmp_path / f"{name}.pickle"
        result = run_script("fashion_mnist.py", "--history", history, "--epochs", 2, "--dataset-dir",
                            small_dataset_dir, "--seed", 7)
        assert result.returncode == 0, result.stderr
        histories.append(load_pickle(history))
    assert histories[0] == histories[1]


@pytest.mark.parametrize("flags, expected", [
    ("", "--xla_gpu_deterministic_ops=true"),
    ("--xla_dump_to=/tmp/dump", "--xla_dump_to=/tmp/dump --xla_gpu_deterministic_ops=true"),
    ("--xla_gpu_deterministic_ops=false", "--xla_gpu_deterministic_ops=false"),  # the user's choice stays
])
def test_a_seed_on_jax_asks_xla_for_deterministic_gpu_kernels_before_the_first_array(monkeypatch, flags, expected):
    import keras

    from pyimagesearch.runs.seeding import set_seed

    seen = []
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(keras.utils, "set_random_seed", lambda seed: seen.append((seed, os.environ["XLA_FLAGS"])))
    monkeypatch.setenv("XLA_FLAGS", flags)  # restored after the test, also when set_seed changed it
    set_seed(5)
    assert seen == [(5, expected)]


def test_an_unreadable_backup_is_refused_with_how_to_restart(tmp_path):
    from pyimagesearch.runs.backup import TrainingBackup
    from lossgap.errors import UserError

    history = tmp_path / "training.pickle"
    os.makedirs(str(history) + ".backup")
    with open(str(history) + ".backup/state.json", "w") as file:
        file.write('{"epochs": 3, "weig')
    with pytest.raises(UserError, match="cannot read the backup .*--restart"):
        TrainingBackup(str(history), {"epochs": 4}).restore(model=None)
    TrainingBackup(str(history), {"epochs": 4}).restore(model=None, restart=True)
    assert not os.path.exists(str(history) + ".backup")


def test_a_closed_pipe_met_after_ctrl_c_is_reported_as_the_ctrl_c(tmp_path):
    # Ctrl-C stops the `tee` we write to as well; the progress bar may meet the closed pipe before the next batch's
    # end sees the stop, and the user still pressed Ctrl-C
    from pyimagesearch.runs.backup import TrainingBackup
    from lossgap.errors import UserError

    backup = TrainingBackup(str(tmp_path / "h.pickle"), {"epochs": 4})
    with pytest.raises(UserError) as raised:
        with backup.saving_on_stop(0.01):
            backup.request_stop(signal.SIGINT, None)
            raise BrokenPipeError
    assert raised.value.exit_code == 130 and "stopped by SIGINT" in str(raised.value)
    with pytest.raises(UserError) as raised:
        with TrainingBackup(str(tmp_path / "h.pickle"), {"epochs": 4}).saving_on_stop(0.01):
            raise BrokenPipeError
    assert raised.value.exit_code == 141 and "stopped by SIGPIPE" in str(raised.value)


def test_xla_is_asked_for_deterministic_gpu_kernels_unless_the_user_set_it():
    from pyimagesearch.runs.seeding import ask_xla_for_deterministic_gpu_kernels

    unset, other, chosen = {}, {"XLA_FLAGS": "--xla_dump_to=/tmp"}, {"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}
    for environment in (unset, other, chosen):
        ask_xla_for_deterministic_gpu_kernels(environment)
    assert unset == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
    assert other == {"XLA_FLAGS": "--xla_dump_to=/tmp --xla_gpu_deterministic_ops=true"}
    assert chosen == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}

