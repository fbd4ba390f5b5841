"""`python -m lossgap explain SCRIPT ...` (and the `explain.py` shortcut): a reader's own training script, run unchanged,
with every fit() that validates measured; each kind of input, a seeded script with and without the command (its
weights, what it prints, its history and files), failures as Python shows them, models it must not split, and a
reader's own package."""
import csv
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from lossgap.families import DIAGNOSTIC_KEYS
from lossgap.history import load_history
from tests.conftest import ROOT, installed, run_script

EXPLAIN = os.path.join(ROOT, "explain.py")
BACKEND = keras.backend.backend()

# A reader's script: a small seeded model on random data, fed as --feed says, validated as --validate says; it saves
# its final weights' digest to --weights, so that runs with and without the command can be compared bit for bit.
TRAIN = '''
import argparse
import hashlib
import sys

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--feed", default="arrays")
parser.add_argument("--validate", default="data")
parser.add_argument("--weights", default=None)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--csv", default=None)
parser.add_argument("--evaluate", action="store_true")
parser.add_argument("--no-fit", action="store_true")
args = parser.parse_args()
print("argv", sys.argv, "name", __name__)

keras.utils.set_random_seed(0)
random = np.random.default_rng(0)
x = random.normal(size=(96, 6, 6, 1)).astype("float32")
y = keras.utils.to_categorical(random.integers(0, 3, 96), 3)
x_val, y_val = x[:32] + 0.1, y[:32]
model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.BatchNormalization(), keras.layers.Flatten(), keras.layers.Dropout(0.5),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy",
              metrics=["accuracy"])
callbacks = [keras.callbacks.CSVLogger(args.csv)] if args.csv else []
fit = dict(epochs=args.epochs, verbose=0, callbacks=callbacks)
if args.validate == "data":
    fit["validation_data"] = (x_val, y_val)
elif args.validate == "split":
    fit["validation_split"] = 0.25

if args.feed == "arrays":
    model.fit(x, y, batch_size=16, **fit)
elif args.feed == "weighted":
    model.fit(x, y, batch_size=16, sample_weight=np.ones(96), **fit)
elif args.feed == "tf.data":
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96).batch(16)
    fit["validation_data"] = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(16)
    model.fit(data, **fit)
elif args.feed == "PyDataset":
    class Batches(keras.utils.PyDataset):
        def __init__(self, images, targets):
            super().__init__()
            self.images, self.targets = images, targets

        def __len__(self):
            return len(self.images) // 16

        def __getitem__(self, index):
            return self.images[index * 16:(index + 1) * 16], self.targets[index * 16:(index + 1) * 16]

    model.fit(Batches(x, y), **fit)
elif args.feed == "generator":
    def batches():
        for epoch in range(args.epochs):
            order = np.random.permutation(96)
            for start in range(0, 96, 16):
                yield x[order[start:start + 16]], y[order[start:start + 16]]

    model.fit(batches(), steps_per_epoch=6, **fit)
elif args.feed == "DataLoader":
    import torch
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=16, shuffle=True)
    fit["validation_data"] = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x_val), torch.tensor(y_val)), batch_size=16)
    model.fit(loader, **fit)
if not args.no_fit:
    print("history keys", sorted(model.history.history))
if args.evaluate:  # the training part of validation_split=0.25, on the final weights
    print("evaluated", repr(model.evaluate(x[:72], y[:72], batch_size=16, verbose=0)[0]))
if args.weights:
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
    open(args.weights, "w").write(digest)
'''


def write_script(folder, text=TRAIN, name="train.py"):
    path = folder / name
    path.write_text(text)
    return path


def explain(*arguments, cwd=ROOT, timeout=300):
    return subprocess.run([sys.executable, EXPLAIN, *map(str, arguments)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def without_backend_logs(stderr):
    """stderr without the start-up lines TensorFlow's logging writes (their times and process ids differ per run)."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith(("WARNING: All log messages", "I0000 ", "W0000 ", "E0000 "))
                   and not line.startswith("To enable the following instructions"))


def without_the_commands_lines(stdout):
    """What the script itself printed: the command's own lines, and the report block each measured fit() ends
    with (its table and answer in words, from its first line to its "saved" line), taken out."""
    kept, in_report = [], False
    for line in stdout.splitlines(keepends=True):
        if line.startswith("[INFO] explain: fit() ") and "split into its reasons" in line:
            in_report = True
        if not in_report and not line.startswith("[INFO] explain:"):
            kept.append(line)
        if in_report and line.startswith("[INFO] explain: saved "):
            in_report = False
    return "".join(kept)


def run_plainly(script, *arguments, cwd=ROOT):
    return subprocess.run([sys.executable, str(script), *map(str, arguments)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def same_weights_with_and_without(tmp_path, feed):
    """The script run plainly and through the command: the same final weights, bit for bit, and the same output
    apart from the command's own lines (the history's keys among it)."""
    script = write_script(tmp_path)
    plain = run_plainly(script, "--feed", feed, "--weights", tmp_path / "plain.txt")
    assert plain.returncode == 0, plain.stderr
    measured = explain(script, "--feed", feed, "--weights", tmp_path / "measured.txt")
    assert measured.returncode == 0, measured.stderr
    assert (tmp_path / "measured.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert without_the_commands_lines(measured.stdout).replace("measured.txt", "plain.txt") == plain.stdout
    return measured


def measured_history(folder, fit=1):
    return load_history(str(folder / "train-explained" / f"fit-{fit}.pickle"))


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("feed", ["arrays", "generator", "PyDataset"])
def test_a_seeded_script_ends_on_the_same_weights_with_and_without_the_command(tmp_path, feed):
    measured = same_weights_with_and_without(tmp_path, feed)
    history = measured_history(tmp_path)
    assert set(DIAGNOSTIC_KEYS) <= set(history) and len(history["loss"]) == 2
    assert "[INFO] explain: fit() 1, val_loss - loss split into its reasons:" in measured.stdout
    assert "dropout (reason 1)" in measured.stdout and "batch-norm statistics" in measured.stdout
    assert "In epoch" in measured.stdout and "Leak check: " in measured.stdout  # the answer, in words
    assert (tmp_path / "train-explained" / "fit-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pipeline_line = "the training sample is the first batches the " in measured.stdout \
        and "augmentation done in the pipeline" in measured.stdout
    assert pipeline_line == (feed != "arrays")


@pytest.mark.slow
@pytest.mark.skipif(not installed("tensorflow"), reason="tf.data needs TensorFlow")
def test_a_tf_data_pipeline_that_reshuffles_is_measured_without_changing_its_order(tmp_path):
    measured = same_weights_with_and_without(tmp_path, "tf.data")
    assert "the training sample is the first batches the tf.data pipeline yields, up to 5,000 examples" \
        in measured.stdout
    assert set(DIAGNOSTIC_KEYS) <= set(measured_history(tmp_path))


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.skipif(BACKEND != "torch", reason="a DataLoader is the PyTorch backend's input")
def test_a_torch_dataloader_is_measured_without_moving_torchs_random_generator(tmp_path):
    measured = same_weights_with_and_without(tmp_path, "DataLoader")
    assert "the training sample is the first batches the DataLoader pipeline yields" in measured.stdout
    assert set(DIAGNOSTIC_KEYS) <= set(measured_history(tmp_path))


def test_validation_split_is_split_as_fit_splits_it_and_the_script_runs_as_python_would(tmp_path):
    script = write_script(tmp_path)
    result = explain("--sample-size", 0, script, "--validate", "split", "--epochs", "1", "--evaluate")
    assert result.returncode == 0, result.stderr
    assert (f"argv [{str(script)!r}, '--validate', 'split', '--epochs', '1', '--evaluate'] name __main__"
            in result.stdout)
    history = measured_history(tmp_path)
    assert len(history["loss"]) == 1 and set(DIAGNOSTIC_KEYS) <= set(history)
    # what explain's own work cost, beside the time the fit() trained and validated for, in one line
    [(own, share, trained)] = re.findall(r"^\[INFO\] explain: fit\(\) 1: explain's own work \(measuring, the leak "
                                         r"check, the figure\) took ([0-9.]+) s, ([0-9.]+)% of the ([0-9.]+) s the "
                                         r"fit\(\) trained and validated for$", result.stdout, re.MULTILINE)
    assert float(own) > 0 and float(trained) > 0
    assert float(share) == pytest.approx(100 * float(own) / float(trained),
                                          abs=0.06 + float(share) * (0.05 / float(own) + 0.05 / float(trained)))
    # all 72 training images of the split measured in inference mode: the script's own evaluate() of them
    [evaluated] = [float(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("evaluated ")]
    assert history["train_inference_loss"][0] == pytest.approx(evaluated, rel=1e-5)
    plotted = run_script("plot_shift.py", "--input", tmp_path / "train-explained" / "fit-1.pickle", "--output",
                         tmp_path / "plot.png")
    assert plotted.returncode == 0, plotted.stderr


@pytest.mark.slow
@pytest.mark.parametrize("validate, feed, why", [
    ("none", "arrays", "it has no validation data (validation_data or validation_split)"),
    ("data", "weighted", "it weighs its samples (sample_weight or class_weight), which the measurement does not"),
])
def test_a_fit_the_measurement_does_not_support_trains_untouched_and_says_why(tmp_path, validate, feed, why):
    script = write_script(tmp_path)
    plain = run_plainly(script, "--feed", feed, "--validate", validate, "--weights", tmp_path / "plain.txt")
    result = explain(script, "--feed", feed, "--validate", validate, "--weights", tmp_path / "measured.txt")
    assert result.returncode == 0, result.stderr
    assert f"[INFO] explain: fit() 1 is not measured: {why}" in result.stdout
    assert (tmp_path / "measured.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert not (tmp_path / "train-explained" / "fit-1.pickle").exists()


def test_the_scripts_own_log_file_is_as_without_the_command_unless_log_asks_for_the_measurements(tmp_path):
    script = write_script(tmp_path)
    plain = run_plainly(script, "--csv", tmp_path / "plain.csv")
    assert plain.returncode == 0, plain.stderr
    result = explain(script, "--csv", tmp_path / "log.csv")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "log.csv").read_text() == (tmp_path / "plain.csv").read_text()
    assert "history keys ['accuracy', 'loss', 'val_accuracy', 'val_loss']" in result.stdout  # its own H.history
    logged = explain("--log", script, "--csv", tmp_path / "logged.csv")
    assert logged.returncode == 0, logged.stderr
    with open(tmp_path / "logged.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 and {"loss", "val_loss", *DIAGNOSTIC_KEYS} <= set(rows[0])
    history = measured_history(tmp_path)
    assert [float(row["train_end_loss"]) for row in rows] == pytest.approx(history["train_end_loss"])


FAILS_IN_FIT = """
import keras
import numpy as np

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="categorical_crossentropy")
x = np.zeros((8, 4), "float32")
model.fit(x, np.zeros((8, 3), "float32"), validation_split=0.25, epochs=1, verbose=0)  # 3 targets for 2 outputs
"""


@pytest.mark.parametrize("text, status", [
    ("import sys\nprint('started')\nraise ValueError('the reader\\'s own bug')\n", 1),
    ("import sys\nprint('started')\nsys.exit(4)\n", 4),
    (FAILS_IN_FIT, 1),
], ids=["raises", "exits", "fails-inside-fit"])
def test_a_failing_script_fails_as_it_would_alone_with_its_traceback_and_status(tmp_path, text, status):
    script = write_script(tmp_path, text)
    plain, result = run_plainly(script), explain(script)
    assert (result.returncode, result.stdout, without_backend_logs(result.stderr)) == (
        status, plain.stdout, without_backend_logs(plain.stderr))
    assert plain.returncode == status
    assert not (tmp_path / "train-explained").exists()  # nothing saved, no folder made


def test_a_scripts_own_broken_pipe_is_its_own(tmp_path):
    script = write_script(tmp_path, "for line in range(100000):\n    print(line)\n")

    def head_one(command):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read()
        return process.wait(timeout=120), stderr

    plain_status, plain_error = head_one([sys.executable, str(script)])
    status, error = head_one([sys.executable, EXPLAIN, str(script)])
    assert status == plain_status == 1 and "BrokenPipeError" in plain_error
    assert error == plain_error


@pytest.mark.parametrize("arguments, line", [
    (["--no-fit"], "[INFO] explain: the script called no fit(), so there was nothing to measure\n"),
    (["--validate", "none"], "[INFO] explain: the script's one fit() was not measured (why is said above)\n"),
], ids=["no-fit", "no-validation"])
def test_a_script_that_measures_nothing_says_so_once_at_the_end_and_leaves_no_folder(tmp_path, arguments, line):
    script = write_script(tmp_path, TRAIN.replace("if args.feed ==", "if args.no_fit:\n    pass\nelif args.feed =="))
    result = explain(script, *arguments)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(line) and result.stdout.count("[INFO] explain:") == 1 + (arguments[0] != "--no-fit")
    assert not (tmp_path / "train-explained").exists()


def test_an_output_folder_the_command_did_not_make_is_refused_before_the_script_runs(tmp_path):
    script = write_script(tmp_path, "print('ran')\n")
    (tmp_path / "train-explained").mkdir()
    (tmp_path / "train-explained" / "notes.txt").write_text("the reader's")
    result = explain(script)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"error: {tmp_path / 'train-explained'} exists and was not made by this command; give "
                             "another --output\n")
    assert (tmp_path / "train-explained" / "notes.txt").read_text() == "the reader's"
    missing = explain(tmp_path / "missing.py")
    assert (missing.returncode, missing.stderr) == (1, f"error: no script {str(tmp_path / 'missing.py')!r}\n")
    nowhere = explain("--output", tmp_path / "no" / "such" / "folder", script)
    assert (nowhere.returncode, nowhere.stdout) == (1, "")
    assert nowhere.stderr == (f"error: cannot write --output {str(tmp_path / 'no' / 'such' / 'folder')!r}: folder "
                              f"{str(tmp_path / 'no' / 'such')!r} does not exist\n")
    assert not (tmp_path / "no").exists()


# the post's download: its own pyimagesearch package with the post's MiniVGGNet, imported by its training script
POSTS_PACKAGE = {
    "pyimagesearch/__init__.py": "",
    "pyimagesearch/minivggnet.py": """
        import keras
        READERS = True

        class MiniVGGNet:
            @staticmethod
            def build(width, height, depth, classes):
                return keras.Sequential([keras.Input((height, width, depth)), keras.layers.Conv2D(4, 3),
                                         keras.layers.BatchNormalization(), keras.layers.Flatten(),
                                         keras.layers.Dropout(0.5), keras.layers.Dense(classes, activation="softmax")])
        """,
}
BOOKS_PACKAGE = {"pyimagesearch/__init__.py": "", "pyimagesearch/nn/__init__.py": "",
                 "pyimagesearch/nn/conv/__init__.py": "from .minivggnet import MiniVGGNet\n",
                 "pyimagesearch/nn/conv/minivggnet.py": POSTS_PACKAGE["pyimagesearch/minivggnet.py"]}
READERS_SCRIPT = """
import keras
import numpy as np
import pyimagesearch
from {module} import MiniVGGNet

print("package", pyimagesearch.__file__)
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 8, 8, 1)).astype("float32")
y = keras.utils.to_categorical(np.arange(64) % 3, 3)
model = MiniVGGNet.build(8, 8, 1, 3)
model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=2, batch_size=16, verbose=0)
"""


@pytest.mark.parametrize("layout, module", [(POSTS_PACKAGE, "pyimagesearch.minivggnet"),
                                            (BOOKS_PACKAGE, "pyimagesearch.nn.conv")], ids=["post", "books"])
def test_a_readers_folder_with_its_own_pyimagesearch_package_keeps_it(tmp_path, layout, module):
    for path, text in layout.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    write_script(tmp_path, READERS_SCRIPT.format(module=module))
    # the toolkit as a reader installs it: `python -m lossgap` from their own folder (here found on PYTHONPATH)
    result = subprocess.run([sys.executable, "-m", "lossgap", "explain", "train.py"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    assert f"package {tmp_path / 'pyimagesearch' / '__init__.py'}" in result.stdout
    assert set(DIAGNOSTIC_KEYS) <= set(load_history(str(tmp_path / "train-explained" / "fit-1.pickle")))


def test_the_command_flags_come_before_the_script_and_bad_ones_get_argparses_line(tmp_path):
    result = explain("--sample-size", "-1", "train.py")
    assert result.returncode == 2 and result.stderr.splitlines()[-1].startswith(
        "python -m lossgap explain: error: argument --sample-size: ")


# a model the measurement cannot take: a layer of the reader's that refuses to run inside a StatelessScope, which the
# measuring passes use and training does not
REFUSES_TO_BE_MEASURED = """
import keras
import numpy as np


class Picky(keras.layers.Layer):
    def call(self, inputs):
        if keras.src.backend.common.global_state.get_global_attribute("stateless_scope") is not None:
            raise RuntimeError("not inside a StatelessScope")
        return inputs

    def compute_output_shape(self, shape):
        return shape


keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = keras.utils.to_categorical(np.arange(64) % 2, 2)
model = keras.Sequential([keras.Input((4,)), Picky(), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="categorical_crossentropy")
H = model.fit(x, y, validation_split=0.25, epochs=2, batch_size=16, verbose=0)
print("keys", sorted(H.history))
"""


def test_a_model_the_measurement_cannot_take_trains_on_untouched_and_says_so(tmp_path):
    script = write_script(tmp_path, REFUSES_TO_BE_MEASURED)
    result = explain(script)
    assert result.returncode == 0, result.stderr
    # the callback first tries each layer inside a StatelessScope, as training starts
    assert ("[INFO] explain: fit() 1: measuring failed before training (RuntimeError: not inside a StatelessScope), "
            "and training went on untouched\n") in result.stdout
    assert "keys ['loss', 'val_loss']" in result.stdout  # nothing half-measured left in the reader's history
    assert not (tmp_path / "train-explained" / "fit-1.pickle").exists()


TF_KERAS = """
import numpy as np
import tensorflow as tf

x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, activation="relu"),
                             tf.keras.layers.Dropout(0.3), tf.keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="sgd", loss="binary_crossentropy")
model.fit(x, y, validation_split=0.25, epochs=2, batch_size=16, verbose=0)
"""


@pytest.mark.skipif(not installed("tensorflow"), reason="tf.keras is TensorFlow's")
def test_a_script_that_reaches_keras_through_tf_keras_is_measured(tmp_path):
    # TensorFlow looks Keras up before it imports it, as Géron's and TensorFlow's own tutorials reach it
    result = explain(write_script(tmp_path, TF_KERAS))
    assert result.returncode == 0, result.stderr
    assert "[INFO] explain: fit() 1, val_loss - loss split into its reasons:" in result.stdout
    assert set(DIAGNOSTIC_KEYS) <= set(measured_history(tmp_path))


WARNS_TWICE = """
import warnings

import keras
import numpy as np


def build():
    warnings.warn("the reader's own warning, once per place")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.2), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = keras.utils.to_categorical(np.arange(64) % 2, 2)
for _ in range(2):
    build().fit(x, y, validation_split=0.25, epochs=1, batch_size=16, verbose=0)
"""


def test_a_warning_shown_once_per_place_stays_shown_once(tmp_path):
    # drawing and searching for leaks after the first fit() change Python's warning filters, which would forget
    # that the warning was shown
    script = write_script(tmp_path, WARNS_TWICE)
    plain, result = run_plainly(script), explain(script)
    assert result.returncode == plain.returncode == 0, result.stderr
    assert without_backend_logs(plain.stderr).count("UserWarning: the reader's own warning") == 1
    assert without_backend_logs(result.stderr) == without_backend_logs(plain.stderr)


# --- the tool that times the command on scripts others wrote (docs/reasons.md) ---

def explain_cost(*arguments):
    return subprocess.run([sys.executable, "-m", "tools.explain_cost", *map(str, arguments)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_the_cost_tool_times_a_script_plain_and_explained_and_keeps_the_ratios(tmp_path):
    import hashlib
    import json

    script, record = write_script(tmp_path), tmp_path / "cost.json"
    result = explain_cost(script, "--pairs", 1, "--record", record)
    assert result.returncode == 0, result.stderr
    [timed] = json.loads(record.read_text())["scripts"]
    assert timed["title"] == "train.py" and timed["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    [plain], [explained] = timed["plain"], timed["explained"]
    assert timed["ratios"] == {kind: [round(explained[kind] / plain[kind], 3)] for kind in ("wall", "cpu", "trained")}
    assert min(plain["wall"], plain["cpu"], explained["wall"], explained["cpu"]) > 0
    # the plain run's fit(), timed in its own process, within its whole run
    assert 0 < plain["trained"] < plain["wall"]
    # explain's own work and the training beside it, as the explained run said them, within its whole run
    assert 0 < explained["own"] and 0 < explained["trained"] and explained["own"] + explained["trained"] < \
        explained["wall"]
    assert "pair 1, train.py explained" in result.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cost.json", "train.py"]  # ran in scratch folders


def test_the_cost_tool_refuses_a_missing_script_in_one_line(tmp_path):
    result = explain_cost(tmp_path / "none.py")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"error: no such script: {tmp_path / 'none.py'}"]


def test_the_fit_timer_runs_a_script_as_python_would_and_refuses_a_missing_one_in_one_line(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("import sys\nprint(sys.argv, __name__)\nsys.exit(3)\n")
    timer = [sys.executable, os.path.join(ROOT, "tools", "fit_timed.py")]
    result = subprocess.run([*timer, str(script), "--epochs", "2"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (3, f"{[str(script), '--epochs', '2']} __main__\n")
    result = subprocess.run([*timer, str(tmp_path / "none.py")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: no such script: {tmp_path / 'none.py'}"]
