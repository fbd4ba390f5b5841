"""Reasons 1 and 2 as numbers: the model at the end of each epoch, measured the ways the logged losses are not.

Keras logs `loss` as the running mean over the epoch's batches, with dropout on and batch-norm on batch statistics,
and `val_loss` after the epoch in inference mode. This callback adds, to the same logs (and so to H.history):

- `train_inference_loss`, `train_inference_accuracy`: a fixed training sample in inference mode at the end of the
  epoch, measured exactly as `val_loss` is. The gap `val_loss - train_inference_loss` has neither reason 1 nor 2.
- `val_dropout_loss`: the validation set with dropout on and batch-norm on its moving statistics, the number
  Géron used to show reason 1.
"""
import time

import keras
import numpy as np
from keras.layers import Dropout


def training_sample(count, size, seed=None):
    """Indices of `size` training images drawn once without replacement (0 or more than `count`: all of them)."""
    if size == 0 or size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


class ReasonDiagnostics(keras.callbacks.Callback):
    def __init__(self, train_images, train_labels, validation_images, validation_labels, batch_size=500, seed=None):
        super().__init__()
        self.train = (train_images, train_labels)
        self.validation = (validation_images, validation_labels)
        self.batch_size = batch_size
        # our own generator, so that measuring draws no random numbers from the training's dropout layers
        self.dropout_seed = keras.random.SeedGenerator(0 if seed is None else seed)
        self.seconds = []

    def on_epoch_end(self, epoch, logs=None):
        started = time.perf_counter()
        logs = {} if logs is None else logs
        logs["train_inference_loss"], logs["train_inference_accuracy"] = self.measure(*self.train, dropout=False)
        logs["val_dropout_loss"], _ = self.measure(*self.validation, dropout=True)
        self.seconds.append(time.perf_counter() - started)

    def measure(self, images, labels, dropout):
        """Mean categorical cross-entropy and accuracy with batch-norm in inference mode, dropout as asked.

        Only forward passes: no weight, batch-norm statistic or optimizer variable is written.
        """
        total_loss = total_correct = 0.0
        for start in range(0, len(images), self.batch_size):
            outputs = keras.ops.convert_to_tensor(images[start:start + self.batch_size])
            for layer in self.model.layers:
                if dropout and isinstance(layer, Dropout) and layer.rate > 0:
                    outputs = keras.random.dropout(outputs, layer.rate, seed=self.dropout_seed)
                else:
                    outputs = layer(outputs, training=False)
            outputs = keras.ops.cast(outputs, "float32")  # bfloat16 under --mixed-precision
            targets = labels[start:start + self.batch_size]
            losses = keras.losses.categorical_crossentropy(targets, outputs)
            total_loss += float(keras.ops.sum(losses))
            predictions = keras.ops.convert_to_numpy(keras.ops.argmax(outputs, axis=-1))
            total_correct += float(np.sum(predictions == np.argmax(targets, axis=-1)))
        return total_loss / len(images), total_correct / len(images)
