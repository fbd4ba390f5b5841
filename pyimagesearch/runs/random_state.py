"""The state of every random generator training draws from, as JSON, so that a resumed run draws what the run would
have drawn had it never stopped.

A Keras model keeps its random state in seed generators (a dropout layer's masks, an augmentation layer's flips and
shifts): variables that `model.variables` lists and `model.weights`, and so `save_weights`, leave out. Restored
without them, a resumed run starts them again from the seed and repeats the first epochs' dropout masks and
augmentations. Training also draws from the global generators: the shuffle of the training data comes from numpy's
on JAX and torch's on PyTorch (a dropout layer there draws from torch's too), and Keras seeds its layers from
Python's. TensorFlow draws the shuffle with a seeded operation that starts again at every epoch under a global seed,
so a resumed seeded run takes the same order there without any saved state.
"""
import base64
import random
import sys

import numpy as np


def seed_states(model):
    """The model's seed-generator states: the variables that `model.variables` holds and `model.weights` does not."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def capture(model):
    """Every random state training draws from, as JSON-ready lists, strings and numbers."""
    import keras

    version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "seed_generators": [keras.ops.convert_to_numpy(variable).tolist() for variable in seed_states(model)],
        "python": [version, list(python_state), gauss],
        "numpy": {"key": numpy_state["state"]["key"].tolist(), "pos": numpy_state["state"]["pos"],
                  "has_gauss": numpy_state["has_gauss"], "gauss": numpy_state["gauss"]},
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["torch_cuda"] = [base64.b64encode(generator.numpy().tobytes()).decode()
                                   for generator in torch.cuda.get_rng_state_all()]
    return state


def restore_seed_generators(model, state):
    """Put back the model's seed-generator states from what capture() returned; the model must be built as it was
    (the same layers in the same order)."""
    variables = seed_states(model)
    if len(variables) != len(state["seed_generators"]):
        raise ValueError(f"the model has {len(variables)} seed generators, the saved state "
                         f"{len(state['seed_generators'])}")
    for variable, value in zip(variables, state["seed_generators"]):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def restore_global_generators(state):
    """Put back Python's, numpy's and torch's global generators from what capture() returned. Call it once fit() has
    started (a callback's on_train_begin): fit() reads a batch before that to build what is not yet built, which
    on JAX and PyTorch draws a shuffle from these generators that the training then throws away."""
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    numpy_state = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": np.asarray(numpy_state["key"], dtype=np.uint32), "pos": numpy_state["pos"]},
                         "has_gauss": numpy_state["has_gauss"], "gauss": numpy_state["gauss"]})
    torch = sys.modules.get("torch")
    if torch is not None and "torch" in state:
        torch.set_rng_state(_byte_tensor(torch, state["torch"]))
        if "torch_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([_byte_tensor(torch, text) for text in state["torch_cuda"]])


def _byte_tensor(torch, text):
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)
