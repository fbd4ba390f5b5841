"""Which backend Keras runs on: the user's choice, else one that is installed.

Keras 3 runs on TensorFlow unless `KERAS_BACKEND` or its configuration file (`keras.json`) names another, and it
stops with a traceback when that backend is not installed. TensorFlow publishes no wheels for Python 3.14 and later,
where requirements.txt installs JAX instead, and Keras writes a `keras.json` naming TensorFlow the first time it is
imported. So where the user made no choice that can work, this picks TensorFlow, else JAX, else PyTorch, and says so.
"""
import importlib.util
import json
import os

from .errors import UserError

# the order of preference, Keras's own default first; each with the packages it needs and how to install them
BACKENDS = {
    "tensorflow": (("tensorflow",), "pip install tensorflow (Python 3.10-3.13)"),
    "jax": (("jax", "jaxlib"), 'pip install "jax[cpu]"'),
    "torch": (("torch",), "pip install torch"),
}
NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
CHOOSE = "choose one with KERAS_BACKEND=tensorflow, jax or torch"


def installed(backend):
    return all(importlib.util.find_spec(package) is not None for package in BACKENDS[backend][0])


def keras_config_path(environment=os.environ):
    """Where Keras reads keras.json: $KERAS_HOME, else ~/.keras, or /tmp/.keras when the home folder is read-only."""
    if "KERAS_HOME" in environment:
        return os.path.join(environment["KERAS_HOME"], "keras.json")
    home = os.path.expanduser("~")
    return os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras", "keras.json")


def configured_backend(path):
    """The backend that keras.json at `path` names, or None (no file, or one Keras itself would ignore)."""
    try:
        with open(path) as file:
            backend = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return backend if isinstance(backend, str) else None


def choose_backend(environment=os.environ):
    """Set `KERAS_BACKEND` in `environment` to an installed backend where the user chose none that is installed, and
    print one [INFO] line saying which and why. Returns the backend Keras will run on.

    An explicit `KERAS_BACKEND` is always kept: if its backend is missing, the error says what to install. A
    keras.json naming a backend that is not installed counts as no choice. Backends other than these three
    (numpy, openvino) are Keras's business and are left to it.
    """
    backend, reason = resolve_backend(environment)
    if reason is not None:
        environment["KERAS_BACKEND"] = backend
        print(f"[INFO] {reason}, so Keras runs on {NAMES[backend]} ({CHOOSE})", flush=True)
    return backend


def resolve_backend(environment=os.environ):
    """(the backend Keras will run on, why it is not the user's choice or Keras's default, or None), changing
    nothing; see choose_backend."""
    if importlib.util.find_spec("keras") is None:
        raise UserError("Keras is not installed: pip install -r requirements.txt")
    chosen = environment.get("KERAS_BACKEND")
    if chosen:
        if chosen in BACKENDS and not installed(chosen):
            raise UserError(f"KERAS_BACKEND={chosen}, but {NAMES[chosen]} is not installed: "
                            f"{BACKENDS[chosen][1]}, or {CHOOSE}")
        return chosen, None
    path = keras_config_path(environment)
    configured = configured_backend(path)
    if configured is not None and (configured not in BACKENDS or installed(configured)):
        return configured, None
    available = [backend for backend in BACKENDS if installed(backend)]
    if not available:
        raise UserError('no backend for Keras is installed: pip install tensorflow (Python 3.10-3.13), "jax[cpu]" or '
                        "torch; in a clone of this project, pip install -r requirements.txt")
    backend = available[0]
    if configured is None and backend == "tensorflow":
        return backend, None  # Keras's own default, and it is there: nothing to say
    return backend, (f"{path} names {configured}, which is not installed" if configured is not None
                     else "TensorFlow is not installed")
