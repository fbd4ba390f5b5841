"""The one place that relies on Keras, or a backend under it, beyond their public API.

Each function says what it relies on and why no public API serves; tests/test_keras_internals.py checks each
behaviour on the installed Keras and names the Keras version when one changes. Everything else in the package uses
public API only.
"""
import contextlib

import keras


def all_layers(model):
    """Every layer of `model`, nested models' layers included, and the model itself. `model.layers` lists only the
    top level, and Keras has no public recursive walk: this is the private one Keras uses for its own bookkeeping."""
    return list(model._flatten_layers())


def seed_generators(model):
    """The seed generators of every layer (a dropout layer's random state), in a fixed order. Keras keeps them in
    each layer's private `_seed_generators` list; their states are variables that `StatelessScope` can map, which is
    how the diagnostics draw dropout masks of their own without advancing training's."""
    return [generator for layer in all_layers(model) for generator in layer._seed_generators]


def own_seed_generators(layer):
    """The seed generators `layer` itself holds, not its sublayers': a layer that draws at random keeps one."""
    return list(layer._seed_generators)


def call_takes_training(layer):
    """Whether `layer.call` (a model's or any layer's) takes a `training` argument, as Keras checks before passing
    it (a model whose call() takes none runs its layers in inference mode even in fit())."""
    return layer._call_has_training_arg


def replace_calls(replacements):
    """`layer.call` becomes `make(layer.call)` for each (layer, make) in `replacements`; returns what puts back the
    calls each layer had. Keras's `Layer.__call__` looks `self.call` up at every call and hands it `training` as a
    keyword, so an instance attribute takes over a layer nested anywhere, traced or eager; it is set in the
    instance's __dict__ directly so that no Keras or torch attribute tracking sees it. Replacements nest: each undo
    restores what it found."""
    replaced = []  # (layer, the replacement it had before, if any)
    for layer, make in replacements:
        replaced.append((layer, vars(layer).get("call")))
        vars(layer)["call"] = make(layer.call)

    def back():
        for layer, before in reversed(replaced):
            if before is None:
                del vars(layer)["call"]
            else:
                vars(layer)["call"] = before

    return back


def call_replaced(layer):
    """Whether replace_calls() has taken over `layer.call` now."""
    return "call" in vars(layer)


@contextlib.contextmanager
def torch_global_generator_forked(random):
    """On the PyTorch backend a dropout layer without a seed of its own draws from torch's global generator (Keras's
    fast path there), which no StatelessScope maps: fork that generator, seeded from the numpy generator `random`, so
    that the block neither reads nor advances training's, and build no autograd graph. On other backends a no-op that
    draws nothing from `random`."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(int(random.integers(1, 2**31 - 1)))
        yield


def validation_split_of(arrays, validation_split):
    """(training arrays, validation arrays) exactly as `fit(validation_split=...)` splits them: the last part is the
    validation set. Keras's own function is private (keras.src); using it keeps the measurement's split identical to
    fit's, whatever rounding Keras applies."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    return train_validation_split(arrays, validation_split)
