"""Keras's BatchNormalization computed by TensorFlow's fused kernel: the same batch-norm, in one operation.

Keras 3's layer computes batch-norm from separate operations (the batch's mean and variance, then a subtraction, a
product and a sum over the whole tensor, and as many again for the gradient); on a CPU these cost MiniVGGNet about a
fifth of its training step. TensorFlow's FusedBatchNormV3, which Keras 2 called and oneDNN runs as one pass forward
and one backward, computes the same thing (docs/speed.md has the profile). `BatchNormalization` here is Keras's layer
with that kernel under TensorFlow, for 4-D inputs normalized over their channels; everything else (another backend,
a mask, 2-D inputs, float64, batch renormalization, synchronized statistics) goes to Keras's own computation. MiniVGGNet
builds with it (minivggnet.py).

The moving statistics follow Keras 3: the moving variance averages the batch's biased variance (divided by the
count), while the fused kernel hands back the Bessel-corrected one (divided by the count less one), so it is scaled
back. Keras 2's fused layer averaged the corrected variance (docs/changes.md).
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pyimagesearch")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization, computed by TensorFlow's fused kernel where it applies; same arguments,
    weights and moving-average rule. As with Keras's layer, `trainable = False` (how --diagnostics switches
    batch-norm off) makes it use its moving statistics even in training. It keeps Keras's class name, by which Keras
    files each layer's weights, so that weights saved with either layer load into the other."""

    def call(self, inputs, training=None, mask=None):
        data_format = self._fused_data_format(inputs, mask)
        if data_format is None:
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # as Keras's layer does: statistics in float32 at least, also under mixed precision
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        inputs = ops.cast(inputs, compute_dtype)
        channels = self.moving_mean.shape
        gamma = ops.cast(self.gamma, compute_dtype) if self.scale else ops.ones(channels, compute_dtype)
        beta = ops.cast(self.beta, compute_dtype) if self.center else ops.zeros(channels, compute_dtype)
        moving_mean = ops.cast(self.moving_mean, compute_dtype)
        moving_variance = ops.cast(self.moving_variance, compute_dtype)
        if training and self.trainable:
            outputs, mean, corrected_variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, data_format=data_format, is_training=True)
            count = ops.cast(ops.size(inputs) // ops.size(mean), compute_dtype)
            variance = corrected_variance * (count - 1) / count
            self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, mean=moving_mean, variance=moving_variance, epsilon=self.epsilon,
                data_format=data_format, is_training=False)
        return ops.cast(outputs, self.compute_dtype)

    def _fused_data_format(self, inputs, mask):
        """"NHWC" or "NCHW" where the fused kernel computes what Keras's layer does; None elsewhere."""
        if (keras.backend.backend() != "tensorflow" or mask is not None or self.renorm or self.synchronized
                or len(inputs.shape) != 4
                or keras.backend.standardize_dtype(inputs.dtype) not in ("float16", "bfloat16", "float32")):
            return None  # the kernel takes no float64
        return {3: "NHWC", 1: "NCHW"}.get(self.axis % 4)
