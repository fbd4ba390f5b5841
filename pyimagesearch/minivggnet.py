"""MiniVGGNet, the small VGG-style network of "Deep Learning for Computer Vision with Python", on Keras 3."""
from keras import backend as K
from keras.layers import (Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input,
                          MaxPooling2D)
from keras.models import Sequential


class MiniVGGNet:
    @staticmethod
    def build(width, height, depth, classes, dropout_scale=1.0):
        """(CONV => RELU => BN) * 2 => POOL => DROPOUT, twice (32 then 64 filters), then FC => RELU => BN =>
        DROPOUT => FC => SOFTMAX.

        `dropout_scale` multiplies the three dropout rates (0.25, 0.25, 0.5) for the over-regularization
        experiment; 0 keeps the layers but drops nothing, and the default 1.0 is the book's network.
        """
        if not 0 <= dropout_scale < 2:
            raise ValueError(f"dropout_scale must be in [0, 2) so that every rate stays below 1, got {dropout_scale}")

        # initialize the model along with the input shape to be "channels last" and the channels dimension itself
        inputShape = (height, width, depth)
        chanDim = -1

        # if we are using "channels first", update the input shape and channels dimension
        if K.image_data_format() == "channels_first":
            inputShape = (depth, height, width)
            chanDim = 1

        model = Sequential(name="minivggnet")
        model.add(Input(shape=inputShape))
        for filters in (32, 64):
            # (CONV => RELU => BN) * 2 => POOL => DROPOUT
            for _ in range(2):
                model.add(Conv2D(filters, (3, 3), padding="same"))
                model.add(Activation("relu"))
                model.add(BatchNormalization(axis=chanDim))
            model.add(MaxPooling2D(pool_size=(2, 2)))
            model.add(Dropout(0.25 * dropout_scale))

        # first (and only) set of FC => RELU layers
        model.add(Flatten())
        model.add(Dense(512))
        model.add(Activation("relu"))
        model.add(BatchNormalization())
        model.add(Dropout(0.5 * dropout_scale))

        # softmax classifier
        model.add(Dense(classes))
        model.add(Activation("softmax"))
        return model
