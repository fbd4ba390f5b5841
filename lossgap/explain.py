"""Why is *my* validation loss lower? Your own training script, run unchanged, with its gap split into the reasons.

    python -m lossgap explain train.py --your --arguments

The script runs as `python train.py --your --arguments` would: as `__main__`, with its arguments in `sys.argv`, its
folder first on the import path, its output, its history, its exit status and its traceback. Every `fit()` it makes
that validates gets the diagnostics callback (lossgap/callback.py); afterwards the terms are printed as a table and
as an answer in words, the training and validation data are checked for copies of one another (lossgap/leaks.py),
and the history with the measurements and its figure are saved as fit-K.pickle and fit-K.png in a folder of their
own. Training is not changed: the measurements run forward passes only, with random numbers of their own, and the
training sample is read without drawing from any random generator that training uses. The measurements stay out of
the script's own logs and history unless `--log` asks for them there (for a CSVLogger or TensorBoard of yours).

The training sample: from arrays (and `validation_split`), examples drawn once by index; from an input pipeline
(tf.data, keras.utils.PyDataset, a Python generator, a PyTorch DataLoader), the first batches as the pipeline yields
them, so augmentation done in the pipeline stays in it. A `fit()` without validation, with sample or class weights,
validating less often than every epoch, or on inputs it cannot read without changing training, trains untouched and
says why it is not measured, in one line.
"""
import argparse
import contextlib
import functools
import importlib.abc
import importlib.util
import inspect
import os
import random
import re
import runpy
import sys
import time
import types
import warnings

import numpy as np

from .arguments import non_negative_int, seed
from .errors import UserError
from .families import SAMPLE_SIZE
from .gaps import EPOCH

MARKER = ".explain"  # in an output folder of ours, so that we never write into a folder of the reader's
PREFIX = "[INFO] explain:"
PROG = "python -m lossgap explain"


def argument_parser(prog=PROG):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a training script unchanged and split the gap val_loss - loss of each fit() into its "
                    "reasons.",
        epilog="Everything after SCRIPT goes to the script, as with python -m cProfile.")
    parser.add_argument("--output", default=None, metavar="DIR",
                        help="folder for fit-K.pickle and fit-K.png, made when the first is saved (default: "
                             "SCRIPT's name + '-explained', beside it); an existing folder must be one this command "
                             "made")
    parser.add_argument("--sample-size", type=non_negative_int, default=SAMPLE_SIZE, metavar="N",
                        help=f"training examples measured, 0 for all (default: {SAMPLE_SIZE})")
    parser.add_argument("--seed", type=seed, default=None, metavar="S",
                        help="seed of the measurements' own random draws and of the sample; without it the terms move "
                             "a little from run to run (default: none)")
    parser.add_argument("--log", action="store_true",
                        help="also put the measurements into each epoch's logs, for the script's own callbacks "
                             "(CSVLogger, TensorBoard) and its history (default: off, the script's run as it is)")
    parser.add_argument("script", metavar="SCRIPT", help="the training script, run as python SCRIPT would")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help="the script's arguments")
    return parser


class OutputFolder:
    """Where fit-K.pickle and fit-K.png go: checked before the script runs (its parent must exist, and an existing
    folder must be one this command made), made only when the first file is saved."""

    def __init__(self, path):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserError(f"--output {path!r} is a file, not a folder")
        if not os.path.isdir(parent):
            raise UserError(f"cannot write --output {path!r}: folder {parent!r} does not exist")
        if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, MARKER)):
            raise UserError(f"{path} exists and was not made by this command; give another --output")
        if not os.access(parent if not os.path.isdir(path) else path, os.W_OK):
            raise UserError(f"cannot write --output {path!r}: permission denied")

    def file(self, name):
        """The path of `name` in the folder, made (with its marker) if missing."""
        os.makedirs(self.path, exist_ok=True)
        marker = os.path.join(self.path, MARKER)
        if not os.path.isfile(marker):
            with open(marker, "w") as file:
                file.write("made by python -m lossgap explain, which writes fit-K.pickle and fit-K.png here\n")
        return os.path.join(self.path, name)


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


def as_numpy(structure, copy=False):
    """Each array of `structure` as a numpy array: a numpy array as it is (a copy only with `copy`, for batches a
    pipeline may write over), a tensor converted."""
    import keras

    def converted(value):
        if isinstance(value, np.ndarray):
            return value.copy() if copy else value
        return np.asarray(keras.ops.convert_to_numpy(value))

    return keras.tree.map_structure(converted, structure)


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
            batch = as_numpy(tuple(batch)[:2], copy=True)
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
            batch = as_numpy(tuple(batch), copy=True)
            if len(batch) > 2:
                return None, None, "its batches carry sample weights, which the measurement does not apply"
            batches.append(batch)
            seen += size_of(batch[0])
            if count is not None and seen >= count:
                break
    return concatenated(batches, count), size_of(batches[0][0]), None


def guarded(diagnostics_class, fit_number):
    """The diagnostics callback made harmless to training: if measuring fails (a model it cannot measure), it stops
    measuring, takes back what it had added to that epoch's logs, and says so after fit() in one line."""
    class Guarded(diagnostics_class):
        failure = None

        def say(self, line):
            print(f"{PREFIX} fit() {fit_number}: {line}", flush=True)

        def on_train_begin(self, logs=None):
            self._guard(super().on_train_begin, None, logs)

        def on_epoch_end(self, epoch, logs=None):
            if self.failure is None:
                self._guard(super().on_epoch_end, epoch, epoch, logs)

        def _guard(self, method, epoch, *arguments):
            logs = arguments[-1] if arguments else None
            before = set(logs or {})
            started = time.perf_counter()
            try:
                method(*arguments)
            except Exception as error:  # anything: the reader's training goes on untouched
                while error.__cause__ or error.__context__:  # the first error, not Keras's rewording of it
                    error = error.__cause__ or error.__context__
                self.failure = (epoch, f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}")
                for key in set(logs or {}) - before:
                    del logs[key]
            finally:
                self.own_seconds += time.perf_counter() - started

    Guarded.own_seconds = 0.0  # the callback's own time, measuring included, within fit()
    return Guarded


# the line explain prints after each measured fit(), which tools/explain_cost.py reads back
OWN_WORK = ("explain's own work (measuring, the leak check, the figure) took {own} s, {share} of the {trained} s the "
            "fit() trained and validated for")


def own_work_line(own, trained):
    """What explain's own work cost beside the time the fit() trained and validated for, in words."""
    return OWN_WORK.format(own=f"{own:.1f}", share=f"{own / trained:.1%}", trained=f"{trained:.1f}")


def own_work_said(output):
    """[(own, trained), ...] in seconds, from the lines own_work_line wrote into `output`."""
    pattern = re.escape(OWN_WORK)
    for name in ("own", "share", "trained"):
        pattern = pattern.replace(re.escape("{" + name + "}"), "([0-9.]+%?)")
    return [(float(own), float(trained)) for own, _, trained in re.findall(pattern, output)]


class Explainer:
    """Wraps keras.Model.fit: each fit() that validates, measured; the others, trained untouched with one line."""

    def __init__(self, folder, sample_size, seed, log=False):
        self.folder, self.sample_size, self.seed, self.log = folder, sample_size, seed, log
        self.fits = self.measured = 0

    def install(self):
        """Wrap keras.Model.fit once the script imports Keras (not before: a script that never does runs as it would,
        without the seconds and start-up lines of loading a backend)."""
        when_imported("keras", self._wrap_fit)

    def _wrap_fit(self, keras):
        original = keras.Model.fit
        signature = inspect.signature(original)

        @functools.wraps(original)
        def fit(model, *arguments, **keywords):
            bound = signature.bind(model, *arguments, **keywords)
            bound.apply_defaults()
            return self.fit(original, bound)

        keras.Model.fit = fit
        fit.__lossgap__ = True  # its frames are left out of the script's tracebacks

    def fit(self, original, bound):
        from .callback import ReasonDiagnostics

        self.fits += 1
        settings = bound.arguments
        started = time.perf_counter()
        reason, data = self.measurable(settings)
        own_seconds = time.perf_counter() - started
        if reason is not None:
            print(f"{PREFIX} fit() {self.fits} is not measured: {reason}", flush=True)
            return original(*bound.args, **bound.kwargs)
        sample, validation, batch_size, training_data = data
        if isinstance(sample, Recorder):  # read from training's own batches, at their size, once it has taken them
            recorder = sample

            def sample():
                diagnostics.batch_size = recorder.batch_size
                return recorder.arrays()
        diagnostics = guarded(ReasonDiagnostics, self.fits)(sample, validation, batch_size=batch_size, seed=self.seed,
                                                            log=self.log)
        callbacks = settings["callbacks"]
        settings["callbacks"] = [diagnostics] + list(callbacks or [])
        started = time.perf_counter()
        history = original(*bound.args, **bound.kwargs)
        fit_seconds = time.perf_counter() - started
        settings["callbacks"] = callbacks
        if diagnostics.failure is not None:
            epoch, error = diagnostics.failure
            when = "before training" if epoch is None else f"in epoch {epoch + 1}"
            print(f"{PREFIX} fit() {self.fits}: measuring failed {when} ({error}), and training went on untouched",
                  flush=True)
        elif diagnostics.refusal is None and diagnostics.history:
            self.measured += 1
            started = time.perf_counter()
            self.report({**history.history, **diagnostics.history, EPOCH: list(history.epoch)},
                        training_data or diagnostics.sample, diagnostics.validation, training_data is None)
            own_seconds += diagnostics.own_seconds + time.perf_counter() - started
            training_seconds = fit_seconds - diagnostics.own_seconds
            print(f"{PREFIX} fit() {self.fits}: {own_work_line(own_seconds, training_seconds)}", flush=True)
        return history

    def measurable(self, settings):
        """(None, (sample, validation, batch size, training data or None)) if this fit() can be measured, else (why
        not, None). Pipelines that only training may read are passed through a recorder, in `settings`; the training
        data is the arrays fit() trains on, None for a pipeline (whose sample stands in for it)."""
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
        training_data = None
        if kind == "arrays":
            from .keras_internals import validation_split_of
            from .measure import training_sample

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
            training_data = (x, y)
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
            print(f"{PREFIX} fit() {self.fits}: the training sample is the first batches the {kind} pipeline "
                  f"yields, {'all of them' if count is None else f'up to {count:,} examples'}, so augmentation done "
                  "in the pipeline stays in it (augmentation layers in the model are measured on their own)",
                  flush=True)
            validation, reason = self.validation_of(settings)
            if reason is not None:
                return reason, None
        return None, (sample, validation, batch_size, training_data)

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

    def report(self, history, training, validation, from_pipeline):
        """The table, the answer in words with the leak check, and the history and figure saved, leaving Python's
        record of the warnings the script has seen as it was."""
        with warnings_seen_kept():
            self._report(history, training, validation, from_pipeline)

    def _report(self, history, training, validation, from_pipeline):
        from .answer import in_words
        from .files import write_atomically
        from .gaps import format_gaps, mean_gaps
        from .history import save_history
        from .leaks import find_duplicates
        from .plots import plot_study

        print(f"{PREFIX} fit() {self.fits}, val_loss - loss split into its reasons:")
        print("\n".join(format_gaps(mean_gaps(history))), flush=True)
        duplicates = find_duplicates(training[0], validation[0])
        if from_pipeline:
            duplicates = duplicates._replace(unit=f"{duplicates.unit}; among the {duplicates.training:,} training "
                                                  "examples read")
        print(in_words(history, duplicates), flush=True)
        stem = self.folder.file(f"fit-{self.fits}")
        save_history(history, stem + ".pickle")
        figure = plot_study([history])
        write_atomically(stem + ".png", lambda file: figure.savefig(file, format="png"),
                         suffix=".png")
        print(f"{PREFIX} saved {stem}.pickle, the history with the measurements, and {stem}.png, its figure",
              flush=True)

    def say_what_was_measured(self):
        """One line at the end where no fit() was measured."""
        if not self.fits:
            print(f"{PREFIX} the script called no fit(), so there was nothing to measure", flush=True)
        elif not self.measured:
            if self.fits == 1:
                print(f"{PREFIX} the script's one fit() was not measured (why is said above)", flush=True)
            else:
                print(f"{PREFIX} none of the script's {self.fits} fit() calls was measured (each said why above)",
                      flush=True)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` right after the module `name` has been imported for the first time: its own loader runs
    it, and `then` follows. A mere lookup of its spec (TensorFlow looks Keras up so before importing it) runs
    nothing; the finder stays until the module is loaded."""

    def __init__(self, name, then):
        self.name, self.then, self.looking = name, then, False

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name or self.looking:
            return None
        self.looking = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.looking = False
        if spec is not None and spec.loader is not None:
            load, finder = spec.loader.exec_module, self

            def exec_module(module):
                if finder in sys.meta_path:
                    sys.meta_path.remove(finder)
                load(module)
                finder.then(module)

            spec.loader.exec_module = exec_module
        return spec


def when_imported(name, then):
    """`then(module)` once `name` is imported: now if it already is, else right after the script imports it."""
    if name in sys.modules:
        then(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))


@contextlib.contextmanager
def warnings_seen_kept():
    """Python shows a warning once per place, and forgets which it has shown whenever its filters change. matplotlib
    and scikit-learn change them, and put them back, as they draw and search; so that the script's own warnings are
    not shown again after a measured fit(), the forgetting (warnings' private `_filters_mutated`, which
    `catch_warnings` and `filterwarnings` call) is held off for the block."""
    forget = warnings._filters_mutated
    warnings._filters_mutated = lambda: None
    try:
        yield
    finally:
        warnings._filters_mutated = forget


def script_traceback(error, script):
    """`error`'s traceback as the script alone would show it: from the script's own first frame on, without the
    frames of this package (the fit() wrapper) between the script's call and Keras's."""
    here = os.path.dirname(os.path.abspath(__file__))

    def trimmed(traceback):
        frames = []
        while traceback is not None:
            frames.append(traceback)
            traceback = traceback.tb_next
        starts = [index for index, frame in enumerate(frames) if frame.tb_frame.f_code.co_filename == script]
        kept = [frame for frame in frames[starts[0] if starts else 0:]
                if not os.path.abspath(frame.tb_frame.f_code.co_filename).startswith(here + os.sep)]
        result = None
        for frame in reversed(kept):
            result = types.TracebackType(result, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
        return result

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = trimmed(error.__traceback__)
        error = error.__cause__ or error.__context__
    return error


def main(argv=None, prog=PROG):
    """Run the script with every fit() measured; the script's own exit status, and its traceback as Python would
    print it, pass through."""
    args = argument_parser(prog).parse_args(argv)
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        raise UserError(f"no script {args.script!r}")
    folder = OutputFolder(args.output or os.path.splitext(args.script)[0] + "-explained")
    from .backends import choose_backend

    choose_backend()  # an installed backend, before the reader's script loads Keras
    explainer = Explainer(folder, args.sample_size, args.seed, args.log)
    explainer.install()
    sys.argv = [args.script, *args.arguments]
    sys.path[0] = os.path.dirname(script)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit:
        if exit.code in (None, 0):
            explainer.say_what_was_measured()
        raise
    except BaseException as error:  # the script's own: shown as it would show alone, and exit 1 as Python does
        script_traceback(error, script)
        sys.excepthook(type(error), error, error.__traceback__)
        sys.exit(1)
    explainer.say_what_was_measured()
