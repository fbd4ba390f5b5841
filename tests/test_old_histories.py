"""Histories as older Keras wrote them: numpy scalars (numpy 1.x and 2 names, protocols 2 to 5), `acc` keys.

numpy 1.x is not installed next to numpy 2, so its pickles are made the way it wrote them: numpy 2's pickle of the
same scalar, protocol 2 or 3 (text GLOBAL opcodes), with its module renamed from numpy._core to numpy.core.
"""
import os
import pickle
import pickletools

import numpy as np
import pytest

from lossgap.errors import UserError
from lossgap.history import load_history
from tests.conftest import run_script

LOSS, VAL_LOSS, ACC, VAL_ACC = [0.91, 0.52, 0.43], [0.61, 0.47, 0.44], [0.70, 0.81, 0.85], [0.79, 0.83, 0.86]


def keras2_history(dtype):
    """A Keras 2 history: `acc` keys and numpy scalars, as `H.history` held them."""
    return {"loss": [dtype(value) for value in LOSS], "val_loss": [dtype(value) for value in VAL_LOSS],
            "acc": [dtype(value) for value in ACC], "val_acc": [dtype(value) for value in VAL_ACC]}


def numpy1_pickle(history, protocol):
    data = pickle.dumps(history, protocol=protocol)
    assert b"cnumpy._core.multiarray\nscalar\n" in data  # a text GLOBAL, which numpy 1.x wrote with its own name
    return data.replace(b"cnumpy._core.multiarray\nscalar\n", b"cnumpy.core.multiarray\nscalar\n")


def globals_named(data):
    return {argument for opcode, argument, _ in pickletools.genops(data) if opcode.name == "GLOBAL"}


CASES = [(f"numpy 1.x, protocol {protocol}, {dtype.__name__}", protocol, dtype, True)
         for protocol in (2, 3) for dtype in (np.float32, np.float64)]
CASES += [(f"numpy 2, protocol {protocol}, {dtype.__name__}", protocol, dtype, False)
          for protocol in (4, 5) for dtype in (np.float32, np.float64)]


@pytest.mark.parametrize("name, protocol, dtype, numpy1", CASES, ids=[case[0] for case in CASES])
def test_histories_of_numpy_scalars_load_as_the_same_numbers(name, protocol, dtype, numpy1, tmp_path):
    history = keras2_history(dtype)
    data = numpy1_pickle(history, protocol) if numpy1 else pickle.dumps(history, protocol=protocol)
    if numpy1:
        assert "numpy.core.multiarray scalar" in globals_named(data)
    path = tmp_path / "training.pickle"
    path.write_bytes(data)
    loaded = load_history(str(path))
    assert loaded == {key: [float(value) for value in values] for key, values in history.items()}
    assert all(type(value) is float for values in loaded.values() for value in values)


@pytest.mark.parametrize("protocol", [2, 5])
def test_plot_shift_draws_a_keras2_history_of_numpy_floats(protocol, tmp_path):
    history = tmp_path / "training.pickle"
    history.write_bytes(numpy1_pickle(keras2_history(np.float32), 2) if protocol == 2
                        else pickle.dumps(keras2_history(np.float64), protocol=protocol))
    result = run_script("plot_shift.py", "--input", history, "--output", tmp_path / "plot.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class Runs:
    """Pickles to `(callable, arguments)`: what a crafted file does to make a loader call a function."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def crafted(tmp_path):
    marker = str(tmp_path / "pwned")
    return {
        "os.system": Runs(os.system, f"touch {marker}"),
        "numpy's own loader": Runs(np.load, marker),
        "numpy.frombuffer": Runs(np.frombuffer, b"\x00" * 8),
        "numpy.array": Runs(np.array, [1.0]),
        "eval": Runs(eval, f"open({marker!r}, 'w')"),
        "an object dtype": Runs(np.dtype, "O"),
        "a structured dtype": Runs(np.dtype, [("a", "f4")]),
        "codecs other than latin1": Runs(__import__("_codecs").encode, "x", "rot13"),
    }


@pytest.mark.parametrize("case", ["os.system", "numpy's own loader", "numpy.frombuffer", "numpy.array", "eval",
                                  "an object dtype", "a structured dtype", "codecs other than latin1"])
def test_any_other_global_is_refused_and_nothing_runs(case, tmp_path):
    payload = crafted(tmp_path)[case]
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5], "val_loss": [payload]}, protocol=2))
    with pytest.raises(UserError, match="refused"):
        load_history(str(path))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("dtype, data", [("f8", b"\x00" * 4), ("f4", "text")], ids=["short bytes", "not bytes"])
def test_a_numpy_scalar_that_is_not_a_plain_number_is_refused(dtype, data, tmp_path):
    from numpy._core.multiarray import scalar

    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5], "val_loss": [Runs(scalar, np.dtype(dtype), data)]}, protocol=4))
    with pytest.raises(UserError, match="not a plain number"):
        load_history(str(path))


def test_the_refusal_is_one_line_from_plot_shift(tmp_path):
    path = tmp_path / "training.pickle"
    path.write_bytes(pickle.dumps({"loss": [0.5], "val_loss": [Runs(np.load, "x")]}, protocol=2))
    result = run_script("plot_shift.py", "--input", path, "--output", tmp_path / "plot.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: history {str(path)!r} is refused: it names numpy.load, and a training history names no code"]
    assert not (tmp_path / "plot.png").exists()
