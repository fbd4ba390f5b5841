"""Surviving a 40-minute run's interruption: resume after any stop, save what finished, stop on NaN.

Keras's own BackupAndRestore writes its weights and its epoch counter in place, one after the other: a kill in the
middle of either leaves a broken file, or weights and counter that disagree; and it keeps no random state, so a
resumed run repeats the first epochs' dropout masks. So this callback writes each epoch's weights (model and optimizer, through Keras's `save_weights`) to
a new file, then replaces one small state file atomically that names those weights and holds the settings, the
finished epochs' history and the state of every random generator training draws from (runs/random_state.py).
Whatever moment a run dies at, the state file names a complete set of weights and the epochs that produced them,
and a resumed seeded run goes on as the run would have without the stop.
"""
import contextlib
import glob
import json
import math
import os
import shutil
import signal

import keras
from lossgap.errors import UserError, silence_closed_stdout
from lossgap.files import write_atomically
from lossgap.history import as_python_floats, save_history

from . import NON_FINITE_LOSS, random_state

STATE = "state.json"


class NonFiniteLoss(RuntimeError):
    pass


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first batch whose loss is NaN or infinite, with an error we can tell from others (and no epoch-end
    logs). Keras's TerminateOnNaN only asks fit() to stop after the batch, which still ends the epoch normally, and its
    `raise_error=True` needs Keras 3.13, which Python 3.10 cannot install."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(float(loss))


class _Stopped(BaseException):
    def __init__(self, signal_number):
        super().__init__(signal_number)
        self.signal_number = signal_number


class TrainingBackup(keras.callbacks.Callback):
    """Keeps `<history>.backup/` up to date after every epoch and restores from it."""

    def __init__(self, history_path, settings):
        super().__init__()
        self.history_path = history_path
        self.directory = history_path + ".backup"
        self.settings = settings
        self.history = {}
        self.finished_epochs = 0
        self.stop_signal = None
        self.signals_received = set()
        self._global_generators = None

    def check(self, restart=False):
        """Before any slow work: refuse a backup that cannot be read or holds a run of other settings; with
        `restart`, discard it. Returns whether there is a run to resume."""
        state_path = os.path.join(self.directory, STATE)
        if restart or not os.path.isfile(state_path):
            self.remove()
            self._state = None
            return False
        try:
            with open(state_path) as file:
                state = json.load(file)
            settings = state["settings"]
            missing = [key for key in ("weights", "history", "epochs") if key not in state]
            if missing:
                raise KeyError(", ".join(missing))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"cannot read the backup {state_path} ({error}); add --restart to discard it and start "
                            "afresh") from None
        if "random" not in state:
            raise UserError(f"the backup {state_path} keeps no random-generator state (an earlier version wrote it), "
                            "so a resumed run would repeat its first epochs' dropout masks; add --restart to discard "
                            "it and start afresh")
        if settings != self.settings:
            changed = ", ".join(f"{key} {settings.get(key)!r} -> {value!r}"
                                for key, value in self.settings.items() if settings.get(key) != value)
            raise UserError(f"{self.directory} holds an unfinished run with other settings ({changed}); rerun with "
                            "its settings to resume it, or add --restart to discard it and start afresh")
        self._state = state
        return True

    def restore(self, model, restart=False):
        """Load the last finished epoch into `model` (weights, optimizer and seed generators), or start afresh with
        `restart`; Python's, numpy's and torch's generators follow once fit() starts (on_train_begin)."""
        if not hasattr(self, "_state"):
            self.check(restart)
        state = self._state
        if state is None:
            return
        model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(self.directory, state["weights"]))
        random_state.restore_seed_generators(model, state["random"])
        self._global_generators = state["random"]  # put back once fit() has started: on_train_begin
        self.history, self.finished_epochs = state["history"], state["epochs"]
        print(f"[INFO] resuming from {self.directory}: {self.finished_epochs} of {self.settings['epochs']} "
              "epochs already done")

    def on_train_begin(self, logs=None):
        if self._global_generators is not None:
            random_state.restore_global_generators(self._global_generators)
            self._global_generators = None

    def request_stop(self, signal_number, frame):
        """The signal handler inside fit(): note the stop for the next batch's end. An exception raised from a
        handler lands in whatever code runs at that moment, and some swallow it (numpy's conversion of a JAX array
        does), so it is raised from our own callback instead. The same signal again (a second Ctrl-C) stops at
        once; another signal after the first does not, because the seeds study passes a Ctrl-C on as SIGTERM and
        cannot know whether the terminal's SIGINT reached this run too."""
        if signal_number in self.signals_received:
            raise _Stopped(signal_number)
        self.signals_received.add(signal_number)
        if self.stop_signal is None:
            self.stop_signal = signal_number

    def _stop_if_asked(self):
        if self.stop_signal is not None:
            raise _Stopped(self.stop_signal)

    def on_train_batch_end(self, batch, logs=None):
        self._stop_if_asked()

    on_test_batch_end = on_train_batch_end

    def on_epoch_end(self, epoch, logs=None):
        history = as_python_floats(self.history)
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        os.makedirs(self.directory, exist_ok=True)
        weights = f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(os.path.join(self.directory, weights))
        state = {"epochs": epoch + 1, "weights": weights, "settings": self.settings, "history": history,
                 "random": random_state.capture(self.model)}
        payload = json.dumps(state).encode()
        write_atomically(os.path.join(self.directory, STATE), lambda file: file.write(payload))
        # only now does the new epoch count: a stop before this line resumes from the one before
        self.history, self.finished_epochs = history, epoch + 1
        for stale in glob.glob(os.path.join(self.directory, "epoch-*.weights.h5")):
            if os.path.basename(stale) != weights:
                os.remove(stale)

    def remove(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    @contextlib.contextmanager
    def saving_on_stop(self, learning_rate):
        """Ctrl-C or SIGTERM: save the finished epochs' history, keep the backup, exit 130 or 143.
        A NaN or infinite loss: save the finished epochs' history, drop the backup (resuming would diverge again),
        exit 3."""
        previous = {number: signal.signal(number, self.request_stop) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
            self._stop_if_asked()  # a signal after the last batch
        except (_Stopped, BrokenPipeError) as stop:
            _restore_handlers(previous)
            _end_progress_line()
            saved = self._save_finished()
            # a pipe closed under us counts as SIGPIPE (`| head`), unless a signal came first: Ctrl-C also stops the
            # `tee` we write to, and the progress bar can meet the closed pipe before the next batch's end
            number = stop.signal_number if isinstance(stop, _Stopped) else self.stop_signal or signal.SIGPIPE
            raise UserError(f"training stopped by {signal.Signals(number).name} during epoch "
                            f"{self.finished_epochs + 1} of {self.settings['epochs']}; {saved}; run the same command "
                            "again to resume", exit_code=128 + number) from None
        except NonFiniteLoss as error:
            _restore_handlers(previous)
            _end_progress_line()
            saved = self._save_finished()
            self.remove()
            raise UserError(f"the training loss became {error.args[0]} in epoch {self.finished_epochs + 1}, so "
                            f"training stopped; {saved}; the likely cause is a learning rate too high for this "
                            f"model (--lr {learning_rate:g})", exit_code=NON_FINITE_LOSS) from None
        finally:
            _restore_handlers(previous)

    def _save_finished(self):
        if not self.finished_epochs:
            return f"no epoch had finished, so {self.history_path} was not written"
        save_history(self.history, self.history_path)
        return (f"the history of {self.finished_epochs} finished epoch{'s' * (self.finished_epochs != 1)} is in "
                f"{self.history_path}")


def _end_progress_line():
    """End the progress bar's line before the message, even when stdout is a pipe whose reader is gone."""
    try:
        print(flush=True)
    except BrokenPipeError:
        silence_closed_stdout()


def _restore_handlers(previous):
    for number, handler in previous.items():
        signal.signal(number, handler)
