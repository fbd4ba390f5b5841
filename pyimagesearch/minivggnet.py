"""MiniVGGNet, the small VGG-style network of "Deep Learning for Computer Vision with Python", on Keras 3."""
import keras

from .speed.batch_norm import BatchNormalization as FusedBatchNormalization


class MiniVGGNet:
    @staticmethod
    def build(width, height, depth, classes, dropout_scale=1.0, augment=False, keras=keras, batch_norm=None):
        """(CONV => RELU => BN) * 2 => POOL => DROPOUT, twice (32 then 64 filters), then FC => RELU => BN =>
        DROPOUT => FC => SOFTMAX.

        `dropout_scale` multiplies the three dropout rates (0.25, 0.25, 0.5) for the over-regularization
        experiment; 0 keeps the layers but drops nothing, and the default 1.0 is the book's network. `augment` puts
        augmentation_layers() first, so that training sees shifted and flipped images and inference the images as
        they are (the default, False, is the book's network). `keras` is the Keras to build with: Keras 3, or
        tf_keras (Keras 2, the post's) for the benchmark's `keras2` configuration; both name their layers alike.
        `batch_norm` is the batch-norm layer class: by default Keras's own layer computed, under TensorFlow, by
        TensorFlow's fused kernel as Keras 2 did (speed/batch_norm.py), and tf_keras's own layer on tf_keras.
        """
        if not 0 <= dropout_scale < 2:
            raise ValueError(f"dropout_scale must be in [0, 2) so that every rate stays below 1, got {dropout_scale}")
        K, layers = keras.backend, keras.layers
        BatchNormalization = batch_norm or (FusedBatchNormalization if keras.__name__ == "keras"
                                            else layers.BatchNormalization)

        # initialize the model along with the input shape to be "channels last" and the channels dimension itself
        inputShape = (height, width, depth)
        chanDim = -1

        # if we are using "channels first", update the input shape and channels dimension
        if K.image_data_format() == "channels_first":
            inputShape = (depth, height, width)
            chanDim = 1

        model = keras.models.Sequential(name="minivggnet")
        model.add(layers.Input(shape=inputShape))
        if augment:
            for layer in augmentation_layers(keras):
                model.add(layer)
        for filters in (32, 64):
            # (CONV => RELU => BN) * 2 => POOL => DROPOUT
            for _ in range(2):
                model.add(layers.Conv2D(filters, (3, 3), padding="same"))
                model.add(layers.Activation("relu"))
                model.add(BatchNormalization(axis=chanDim))
            model.add(layers.MaxPooling2D(pool_size=(2, 2)))
            model.add(layers.Dropout(0.25 * dropout_scale))

        # first (and only) set of FC => RELU layers
        model.add(layers.Flatten())
        model.add(layers.Dense(512))
        model.add(layers.Activation("relu"))
        model.add(BatchNormalization())
        model.add(layers.Dropout(0.5 * dropout_scale))

        # softmax classifier
        model.add(layers.Dense(classes))
        model.add(layers.Activation("softmax"))
        return model


def augmentation_layers(keras=keras):
    """Random horizontal flips (a garment mirrored is the same garment) and shifts of up to 10% of the height and
    width (about 3 pixels), filling with black as the images' background is: layers that act in training only."""
    return [keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=0.0)]
