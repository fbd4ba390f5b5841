"""Why is *my* validation loss lower? Your own training script, run unchanged, with its gap split into the reasons.

Run through explain.py at this repository's root (see its docstring), which loads this package under a name of its
own so that your script's imports, your own `pyimagesearch` package among them, resolve as they always do:

    python path/to/this/repository/explain.py train.py --your --arguments

The script runs as `python train.py --your --arguments` would: as `__main__`, with its arguments in `sys.argv`, its
folder first on the import path, its output, exit status and traceback. Every `fit()` it makes that validates gets
the diagnostics callback (reasons/diagnostics.py) first among its callbacks, so that Keras's own callbacks (CSVLogger,
TensorBoard) record the measurements beside `loss` and `val_loss`; afterwards the terms are printed as plot_shift.py
prints them, and the history with the measurements and its figure are saved as fit-K.pickle and fit-K.png in a folder
of their own. Training is not changed: the measurements run forward passes only, with random numbers of their own,
and the training sample is read without drawing from any random generator that training uses.

The training sample: from arrays (and `validation_split`), images drawn once by index; from an input pipeline
(tf.data, keras.utils.PyDataset, a Python generator, a PyTorch DataLoader), the first batches as the pipeline yields
them, so augmentation done in the pipeline stays in it. A `fit()` without validation, with sample or class weights,
validating less often than every epoch, or on inputs it cannot read without changing training, trains untouched and
says why it is not measured, in one line.
"""
import argparse
import contextlib
import functools
import inspect
import os
import random
import runpy
import sys

import numpy as np

from ..runs.errors import UserError
from ..runs.flags import non_negative_int, seed

MARKER = ".explain"  # in an output folder of ours, so that we never write into a folder of the reader's
PREFIX = "[INFO] explain:"


def argument_parser():
    parser = argparse.ArgumentParser(
        prog="python explain.py",
        description="Run a training script unchanged and split the gap val_loss - loss of each fit() into its "
                    "reasons.",
        epilog="Everything after SCRIPT goes to the script, as with python -m cProfile.")
    parser.add_argument("--output", default=None, metavar="DIR",
                        help="folder for fit-K.pickle and fit-K.png (default: SCRIPT's name + '-explained', beside "
                             "it); an existing folder must be one this command made")
    parser.add_argument("--sample-size", type=non_negative_int, default=10000, metavar="N",
                        help="training images measured, 0 for all (default: 10000)")
    parser.add_argument("--seed", type=seed, default=None, metavar="S",
                        help="seed of the measurements' own random draws and of the sample (default: none)")
    parser.add_argument("script", metavar="SCRIPT", help="the training script, run as python SCRIPT would")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help="the script's arguments")
    return parser


def output_folder(args):
    """The output folder, created if missing; refused if it exists and this command did not make it."""
    folder = args.output or os.path.splitext(args.script)[0] + "-explained"
    if os.path.isdir(folder) and os.listdir(folder) and not os.path.isfile(os.path.join(folder, MARKER)):
        raise UserError(f"{folder} exists and was not made by this command; give another --output")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, MARKER), "w") as file:
            file.write("made by explain.py, which writes fit-K.pickle and fit-K.png here\n")
    except OSError as error:
        raise UserError(f"cannot write to --output {folder!r}: {error.strerror}") from None
    return folder


@contextlib.contextmanager
def random_state_kept():
    """Python's, numpy's and (on PyTorch) torch's global random generators as they were, after the block: reading a
    pipeline ahead of training must not move them (a DataLoader draws its shuffle from torch's)."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    with torch.random.fork_rng() if torch is not None else contextlib.nullcontext():
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def as_numpy(structure):
    import keras

    return keras.tree.map_structure(lambda value: np.asarray(keras.ops.convert_to_numpy(value)), structure)


def concatenated(batches, count=None):
    """The (inputs, targets) of `batches`, joined along the first axis, the first `count` of them if given."""
    import keras

    joined = keras.tree.map_structure(lambda *parts: np.concatenate(parts), *batches)
    if count is not None:
        joined = keras.tree.map_structure(lambda array: array[:count], joined)
    return joined


def size_of(structure):
    import keras

    return len(keras.tree.flatten(structure)[0])


class Recorder:
    """The first batches a pipeline yields to training, kept (as numpy copies) until they hold `count` examples
    (None: all of them, for a validation set)."""

    def __init__(self, count, what):
        self.count, self.what, self.batches, self.seen = count, what, [], 0
        self.batch_size = None  # of the first batch

    def full(self):
        return self.count is not None and self.seen >= self.count

    def add(self, batch):
        if not self.full():
            batch = as_numpy(tuple(batch)[:2])
            self.batches.append(batch)
            self.seen += size_of(batch[0])
            self.batch_size = self.batch_size or size_of(batch[0])

    def arrays(self):
        if not self.batches:
            raise RuntimeError(f"no batch of the {self.what} was seen by the end of the first epoch")
        return concatenated(self.batches, self.count)

    def generator(self, batches):
        """`batches` (a generator) passed through, each batch kept as it goes by."""
        for batch in batches:
            self.add(batch)
            yield batch

    def dataset(self, dataset):
        """A tf.data pipeline passed through, each batch kept as training takes it: the same batches in the same order
        (a second reading of a pipeline that reshuffles would shift training's own order)."""
        import tensorflow as tf

        specs = tf.nest.flatten(dataset.element_spec)

        def keep(*flat):
            if not self.full():
                self.add(tf.nest.pack_sequence_as(dataset.element_spec, [tensor.numpy() for tensor in flat]))
            return flat

        def through(*element):
            flat = tf.py_function(keep, tf.nest.flatten(element), [spec.dtype for spec in specs])
            for tensor, spec in zip(flat, specs):
                tensor.set_shape(spec.shape)
            return tf.nest.pack_sequence_as(element if len(element) > 1 else element[0], flat)

        return dataset.map(through)


def kind_of(data):
    """"arrays", "tf.data", "PyDataset", "generator", "DataLoader", or None for what Keras itself would refuse."""
    import keras

    if isinstance(data, keras.utils.PyDataset):
        return "PyDataset"
    if inspect.isgenerator(data):
        return "generator"
    if "tensorflow" in sys.modules and isinstance(data, sys.modules["tensorflow"].data.Dataset):
        return "tf.data"
    if "torch" in sys.modules and isinstance(data, sys.modules["torch"].utils.data.DataLoader):
        return "DataLoader"
    return "arrays"


def read_pipeline(data, kind, count):
    """Up to `count` examples (None: all) of a pipeline, read ahead of training without moving its random state:
    ((inputs, targets), the first batch's size, None), or (None, None, the reason it cannot be read so)."""
    batches, seen = [], 0
    with random_state_kept():
        if kind == "tf.data":
            import tensorflow as tf

            if count is None and data.cardinality() == tf.data.INFINITE_CARDINALITY:
                return None, None, "its validation pipeline repeats without end"
        source = (data[index] for index in range(len(data))) if kind == "PyDataset" else iter(data)
        for batch in source:
            batch = as_numpy(tuple(batch))
            if len(batch) > 2:
                return None, None, "its batches carry sample weights, which the measurement does not apply"
            batches.append(batch)
            seen += size_of(batch[0])
            if count is not None and seen >= count:
                break
    return concatenated(batches, count), size_of(batches[0][0]), None


def guarded(diagnostics_class):
    """The diagnostics callback made harmless to training: if measuring fails (a model it cannot measure), it stops
    measuring, takes back what it had added to that epoch's logs, and says so after fit() in one line."""
    class Guarded(diagnostics_class):
        failure = None

        def on_train_begin(self, logs=None):
            self._guard(super().on_train_begin, None, logs)

        def on_epoch_end(self, epoch, logs=None):
            if self.failure is None:
                self._guard(super().on_epoch_end, epoch, epoch, logs)

        def _guard(self, method, epoch, *arguments):
            logs = arguments[-1] if arguments else None
            before = set(logs or {})
            try:
                method(*arguments)
            except Exception as error:  # anything: the reader's training goes on untouched
                while error.__cause__ or error.__context__:  # the first error, not Keras's rewording of it
                    error = error.__cause__ or error.__context__
                self.failure = (epoch, f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}")
                for key in set(logs or {}) - before:
                    del logs[key]

    return Guarded


class Explainer:
    """Wraps keras.Model.fit: each fit() that validates, measured; the others, trained untouched with one line."""

    def __init__(self, folder, sample_size, seed):
        self.folder, self.sample_size, self.seed, self.fits = folder, sample_size, seed, 0

    def install(self):
        import keras

        original = keras.Model.fit
        signature = inspect.signature(original)

        @functools.wraps(original)
        def fit(model, *arguments, **keywords):
            bound = signature.bind(model, *arguments, **keywords)
            bound.apply_defaults()
            return self.fit(original, bound)

        keras.Model.fit = fit

    def fit(self, original, bound):
        from .diagnostics import ReasonDiagnostics

        self.fits += 1
        settings = bound.arguments
        reason, data = self.measurable(settings)
        if reason is not None:
            print(f"{PREFIX} fit() {self.fits} is not measured: {reason}", flush=True)
            return original(*bound.args, **bound.kwargs)
        sample, validation, batch_size = data
        if isinstance(sample, Recorder):  # read from training's own batches, at their size, once it has taken them
            recorder = sample

            def sample():
                diagnostics.batch_size = recorder.batch_size
                return recorder.arrays()
        diagnostics = guarded(ReasonDiagnostics)(sample, validation, batch_size=batch_size, seed=self.seed)
        callbacks = settings["callbacks"]
        settings["callbacks"] = [diagnostics] + list(callbacks or [])
        history = original(*bound.args, **bound.kwargs)
        settings["callbacks"] = callbacks
        if diagnostics.failure is not None:
            epoch, error = diagnostics.failure
            when = "before training" if epoch is None else f"in epoch {epoch + 1}"
            print(f"{PREFIX} fit() {self.fits}: measuring failed {when} ({error}), and training went on untouched",
                  flush=True)
        else:
            self.report(history.history)
        return history

    def measurable(self, settings):
        """(None, (sample, validation, batch size)) if this fit() can be measured, else (why not, None). Pipelines
        that only training may read are passed through a recorder, in `settings`."""
        if settings["validation_data"] is None and not settings["validation_split"]:
            return "it has no validation data (validation_data or validation_split)", None
        if settings["sample_weight"] is not None or settings["class_weight"] is not None:
            return "it weighs its samples (sample_weight or class_weight), which the measurement does not", None
        if settings["validation_freq"] != 1:
            return f"it validates only every {settings['validation_freq']} epochs, and the terms need every one", None
        x, y = settings["x"], settings["y"]
        kind = kind_of(x)
        count = self.sample_size or None
        batch_size = settings["batch_size"] or 32
        if kind == "arrays":
            from ..keras_internals import validation_split_of
            from .diagnostics import training_sample

            if settings["validation_split"]:
                (x, y), validation = validation_split_of((x, y), settings["validation_split"])
            else:
                validation = settings["validation_data"]
                if len(validation) > 2:
                    return "its validation data carry sample weights, which the measurement does not apply", None
            x, y = as_numpy((x, y))
            indices = training_sample(size_of(x), self.sample_size, self.seed)
            import keras

            sample = keras.tree.map_structure(lambda array: array[indices], (x, y))
            validation = as_numpy(tuple(validation))
        else:
            if settings["validation_split"]:
                return f"validation_split needs arrays, and its training data is a {kind}", None
            if kind in ("tf.data", "generator"):
                sample = Recorder(count, "training data")
                settings["x"] = sample.dataset(x) if kind == "tf.data" else sample.generator(x)
            else:
                sample, batch_size, reason = read_pipeline(x, kind, count)
                if reason is not None:
                    return reason, None
            print(f"{PREFIX} fit() {self.fits}: the training sample is the first "
                  f"{'' if count is None else f'{count:,} '}examples as the {kind} pipeline yields them, so "
                  "augmentation done in the pipeline stays in it (augmentation layers in the model are measured on "
                  "their own)", flush=True)
            validation, reason = self.validation_of(settings)
            if reason is not None:
                return reason, None
        return None, (sample, validation, batch_size)

    def validation_of(self, settings):
        validation = settings["validation_data"]
        kind = kind_of(validation)
        if kind == "arrays":
            if len(validation) > 2:
                return None, "its validation data carry sample weights, which the measurement does not apply"
            return as_numpy(tuple(validation)), None
        if kind == "generator":
            recorder = Recorder(None, "validation data")
            settings["validation_data"] = recorder.generator(validation)
            return recorder.arrays, None
        validation, _, reason = read_pipeline(validation, kind, None)
        return validation, reason

    def report(self, history):
        from ..runs.history import save_history
        from .gaps import format_gaps, mean_gaps
        from .plots import plot_study

        print(f"{PREFIX} fit() {self.fits}, val_loss - loss split into its reasons:")
        print("\n".join(format_gaps(mean_gaps(history))), flush=True)
        stem = os.path.join(self.folder, f"fit-{self.fits}")
        save_history(history, stem + ".pickle")
        figure = plot_study([history])
        from ..runs.files import write_atomically

        write_atomically(stem + ".png", lambda file: figure.savefig(file, format="png"), suffix=".png")
        print(f"{PREFIX} saved {stem}.pickle (python plot_shift.py --input {stem}.pickle draws it) and {stem}.png",
              flush=True)


def main(argv=None):
    """Run the script with every fit() measured; returns only if the script does (its SystemExit passes through)."""
    args = argument_parser().parse_args(argv)
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        raise UserError(f"no script {args.script!r}")
    folder = output_folder(args)
    from ..runs.backends import choose_backend

    choose_backend()  # as the scripts do: an installed backend, before the reader's script loads Keras
    Explainer(folder, args.sample_size, args.seed).install()
    sys.argv = [args.script, *args.arguments]
    sys.path[0] = os.path.dirname(script)
    runpy.run_path(script, run_name="__main__")
