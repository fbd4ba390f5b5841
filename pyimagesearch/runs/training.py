"""Everything fashion_mnist.py adds around the post's training, as one object the script calls at a few marked lines:
`--history` checked, `--seed`, float32 or `--mixed-precision`, `--check-split`, the backup a stopped run resumes from
(backup.py), the stop on NaN, `--diagnostics` (the lossgap callback) and, after training, what it measured."""
import contextlib
from statistics import mean

from lossgap.history import check_replaceable

from .flags import run_settings


class TrainingRun:
    def __init__(self, args):
        """Before the data loads and the model is built: refuse a --history that would destroy a file of another
        kind, or a backup of other settings; seed; choose the precision the model is built in."""
        import keras

        from ..speed.cpu import accelerators, cpu_features
        from ..speed.settings import keep_float32, use_mixed_precision
        from .seeding import set_seed

        from .backup import TrainingBackup

        self.args = args
        check_replaceable(args.history, "--history")
        self.backup = TrainingBackup(args.history, run_settings(args))
        self.backup.check(restart=args.restart)  # a backup of other settings refused before the data loads
        if args.seed is not None:
            set_seed(args.seed)
        keep_float32(keras.backend.backend())  # no TensorFloat-32 on recent GPUs: float32 means float32
        if args.mixed_precision:
            use_mixed_precision(cpu_features(), accelerators())
        self.diagnostics = self.duplicates = None
        self.earlier = {}

    def check_split(self, trainX, trainY, testX, testY):
        """--check-split: print the report on the two splits (pyimagesearch/split_check.py)."""
        if self.args.check_split:
            from ..split_check import split_report

            lines, self.duplicates = split_report(trainX, trainY, testX, testY, self.args.near_duplicate_threshold)
            print("\n".join(f"[INFO] {line}" for line in lines))

    @property
    def finished_epochs(self):
        """The epochs a resumed run has already done: fit()'s initial_epoch."""
        return self.backup.finished_epochs

    @contextlib.contextmanager
    def fitting(self, model, training, validation):
        """Around model.fit: the backup restored (or discarded with --restart) and kept after every epoch, a stop
        on NaN, the --diagnostics callback; yields fit()'s callbacks. Ctrl-C or SIGTERM saves the finished epochs
        and exits (backup.py). Afterwards, with --diagnostics, what it measured is printed."""
        from .backup import StopOnNonFinite

        args = self.args
        self.backup.restore(model)
        self.earlier = dict(self.backup.history)
        callbacks = [StopOnNonFinite(), self.backup]
        if args.diagnostics:
            from lossgap import ReasonDiagnostics, training_sample

            seed = args.seed if args.diagnostics_seed is None else args.diagnostics_seed
            sample = training_sample(len(training[0]), args.diagnostics_size, seed)
            self.diagnostics = ReasonDiagnostics((training[0][sample], training[1][sample]), validation,
                                                 batch_size=args.batch_size, seed=seed)
            callbacks.insert(0, self.diagnostics)  # first, so that the others see its measurements in the logs
        with self.backup.saving_on_stop(args.lr):
            yield callbacks
        if self.diagnostics is not None:
            self.report()

    def report(self):
        """The measuring time, the table of terms and the answer in words, over every epoch (a resumed run's too)."""
        from lossgap import format_gaps, has_diagnostics, in_words, mean_gaps

        if self.diagnostics.seconds:
            print(f"[INFO] diagnostics took {mean(self.diagnostics.seconds):.1f}s per epoch; training and validation "
                  f"took {mean(self.diagnostics.training_seconds):.1f}s")
        history = self.backup.history
        if has_diagnostics(history):
            print("[INFO] val_loss - loss split into its reasons:")
            print("\n".join(format_gaps(mean_gaps(history))))
            print(in_words(history, self.duplicates))

    def whole_history(self, history):
        """H.history of this fit() with the epochs of the run's earlier part, before a resume, in front."""
        return {key: list(self.earlier.get(key, [])) + list(history.get(key, []))
                for key in {**self.earlier, **history}}

    def remove_backup(self):
        """The run is complete and saved: its backup goes."""
        self.backup.remove()
