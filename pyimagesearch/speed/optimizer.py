"""Keras 3's SGD with momentum, its update computed by TensorFlow's fused kernel under TensorFlow.

Keras 3 updates each weight with separate operations (a multiply, a subtract and an assign for the momentum, an add
for the weight), where Keras 2, which the post ran, called TensorFlow's ResourceApplyKerasMomentum, one kernel that
computes the same update: momentum = momentum * m - learning_rate * gradient, then weight += momentum. On other
backends, or with Nesterov momentum, or none, this is Keras's own SGD.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pyimagesearch")
class SGD(keras.optimizers.SGD):
    """keras.optimizers.SGD, the same arguments, variables and update; its momentum update in one TensorFlow kernel.
    It keeps Keras's class name, by which Keras saves optimizers, so that a backup of either loads into the other."""

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.momentum == 0 or self.nesterov:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(var=variable.handle, accum=momentum.handle, lr=learning_rate,
                                              grad=gradient, momentum=ops.cast(self.momentum, variable.dtype),
                                              use_locking=False, use_nesterov=False)
