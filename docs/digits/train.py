"""A training script of a reader's own, for `python explain.py docs/digits/train.py`: a small convolutional network on
scikit-learn's handwritten digits (8x8 images, bundled with scikit-learn, so nothing is downloaded), with dropout
and batch-norm, validated on the last fifth of the training data.

    python docs/digits/train.py --epochs 30
"""
import argparse

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser(description="Train a small CNN on scikit-learn's digits.")
parser.add_argument("--epochs", type=int, default=30, help="epochs (default: 30)")
args = parser.parse_args()

keras.utils.set_random_seed(0)
digits = load_digits()
images = digits.images.reshape((-1, 8, 8, 1)).astype("float32") / 16.0
x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.25, random_state=0)

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
    keras.layers.BatchNormalization(),
    keras.layers.MaxPooling2D(),
    keras.layers.Dropout(0.25),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, validation_split=0.2, batch_size=32, epochs=args.epochs, verbose=2)
print(f"test accuracy: {model.evaluate(x_test, y_test, verbose=0)[1]:.4f}")
