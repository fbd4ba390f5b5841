"""Saving and safely loading the training history, the dict that `model.fit()` returns as `H.history`."""
import io
import os
import pickle

from .errors import UserError
from .files import check_writable, write_atomically


def as_python_floats(history):
    """Keras logs hold numpy scalars; a pickle of plain floats opens anywhere, numpy or not."""
    return {key: [float(value) for value in values] for key, values in history.items()}


def check_replaceable(path, flag):
    """Refuse, before any slow work, a history path (given as `flag`) that cannot be written, or that names an
    existing file that is not a training history this package can read (a script, say): only an earlier history
    is replaced."""
    check_writable(path, flag)
    if os.path.isfile(path):
        try:
            load_history(path)
        except UserError as error:
            detail = str(error).replace(f"history {path!r}", "it").replace("it: ", "")
            raise UserError(f"{flag} {path!r} is an existing file and not a training history ({detail}), so it is "
                            "left as it is; give a new path, or an earlier run's history to replace") from None


def save_history(history, path):
    payload = pickle.dumps(as_python_floats(history))
    write_atomically(path, lambda file: file.write(payload))


class _NamesCode(pickle.UnpicklingError):
    pass


# Keras 2 histories often held numpy floats rather than Python floats. Pickled, such a float names three
# callables: numpy's scalar constructor (numpy.core.multiarray under numpy 1.x, numpy._core.multiarray under
# numpy 2), numpy.dtype, and, in protocols 0-2, _codecs.encode for its bytes. Those, checked as below, are the
# only globals a history may name.
_NUMERIC_KINDS = "fiu"


def _numpy_dtype(spec, align=False, copy=True):
    import numpy

    dtype = numpy.dtype(spec, align, copy) if isinstance(spec, str) else None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS:
        raise _NamesCode(f"it asks numpy.dtype for {spec!r}, and a training history holds only numbers")
    return dtype


def _numpy_scalar(dtype, data):
    import numpy

    if not (isinstance(dtype, numpy.dtype) and dtype.kind in _NUMERIC_KINDS and dtype.fields is None
            and isinstance(data, bytes) and len(data) == dtype.itemsize):
        raise _NamesCode("it holds a numpy scalar that is not a plain number")
    return numpy.frombuffer(data, dtype=dtype)[0].item()


def _latin1_bytes(text, encoding):
    if not isinstance(text, str) or encoding != "latin1":
        raise _NamesCode(f"it calls _codecs.encode with {encoding!r}, not as pickle writes bytes")
    return text.encode("latin1")


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class _HistoryUnpickler(pickle.Unpickler):
    # Python's "Restricting Globals" recipe, taken to its end: a history is dicts, lists, strings and numbers, so
    # no class or function may be named beyond what a numpy float needs, and those are our own checked stand-ins:
    # a crafted pickle cannot make the loader run code.
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _NamesCode(f"it names {module}.{name}, and a training history names no code") from None


def load_history(path, required_keys=("loss", "val_loss")):
    """Read and check a history pickle; every problem becomes one UserError naming the file."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise UserError(f"cannot read history {path!r}: {error.strerror}") from None
    if not data:
        raise UserError(f"history {path!r} is empty")
    try:
        history = _HistoryUnpickler(io.BytesIO(data)).load()
    except _NamesCode as error:
        raise UserError(f"history {path!r} is refused: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError, OverflowError):
        raise UserError(f"history {path!r} is not a complete pickle (truncated or another kind of file)") from None
    if not isinstance(history, dict):
        raise UserError(f"history {path!r} holds a {type(history).__name__}, not the dict that H.history is")
    missing = [key for key in required_keys if key not in history]
    if missing:
        raise UserError(f"history {path!r} has no {' or '.join(map(repr, missing))} (keys: {sorted(map(str, history))})")
    return {key: _check_series(path, key, values) for key, values in history.items()}


def _check_series(path, key, values):
    if not isinstance(values, (list, tuple)):
        raise UserError(f"history {path!r}: {key!r} is a {type(values).__name__}, not a list of numbers")
    if not values:
        raise UserError(f"history {path!r}: {key!r} has zero epochs")
    for epoch, value in enumerate(values, start=1):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"history {path!r}: {key!r} epoch {epoch} is {value!r}, not a number")
    return [float(value) for value in values]


def check_same_length(path, history, keys):
    lengths = {key: len(history[key]) for key in keys}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{key} has {length}" for key, length in lengths.items())
        raise UserError(f"history {path!r}: lists of different lengths ({described} epochs)")
    return next(iter(lengths.values()))

