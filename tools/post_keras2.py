"""The post's own fashion_mnist.py, as it ran in 2019 on Keras 2, for timing against this project's.

    pip install tf_keras==<TensorFlow's version>
    python -m tools.post_keras2 --history keras2.pickle --epochs 2 --train-size 20000 --test-size 10000

The post's lines on tf_keras, the Keras 2 that TensorFlow still publishes (TF_USE_LEGACY_KERAS=1 makes
`tensorflow.keras` that Keras), with the fewest changes that let it run today and compare like with like: the
optimizer is `tensorflow.keras.optimizers.legacy.SGD`, the post's SGD (tf_keras's new one refuses `decay=`); the data
come from the same place as fashion_mnist.py's; the sizes are flags, as there; oneDNN is chosen as fashion_mnist.py
chooses it. `python -m tools.benchmark --whole-runs N` runs it in turns with fashion_mnist.py.
"""
import argparse
import os
import pickle

from lossgap.errors import run
from lossgap.arguments import positive_int


def parse_arguments():
    ap = argparse.ArgumentParser(prog="python -m tools.post_keras2",
                                 description="The post's training script on Keras 2 (tf_keras).")
    ap.add_argument("-i", "--history", required=True, metavar="FILE", help="path to output training history file")
    ap.add_argument("--epochs", type=positive_int, default=25, metavar="N", help="epochs (default: 25, the post's)")
    ap.add_argument("--train-size", type=positive_int, default=None, metavar="N",
                    help="use only the first N training images (default: all 60,000)")
    ap.add_argument("--test-size", type=positive_int, default=None, metavar="N",
                    help="use only the first N test images (default: all 10,000)")
    ap.add_argument("--dataset-dir", default=None, metavar="DIR", help="as in fashion_mnist.py")
    return ap.parse_args()


def main():
    args = parse_arguments()
    from tools.benchmark import require_tf_keras
    from pyimagesearch.speed.settings import prefer_onednn

    require_tf_keras()
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow loads: tensorflow.keras is then tf_keras
    prefer_onednn()
    # import the necessary packages
    import tf_keras
    from sklearn.metrics import classification_report
    from tensorflow.keras.optimizers.legacy import SGD
    from tensorflow.keras.utils import to_categorical

    from pyimagesearch.datasets import load_fashion_mnist
    from pyimagesearch.minivggnet import MiniVGGNet

    # initialize the number of epochs to train for, base learning rate, and batch size
    NUM_EPOCHS = args.epochs
    INIT_LR = 1e-2
    BS = 32

    # grab the Fashion MNIST dataset
    print("[INFO] loading Fashion MNIST...")
    ((trainX, trainY), (testX, testY)) = load_fashion_mnist(args.dataset_dir)
    (trainX, trainY) = (trainX[:args.train_size], trainY[:args.train_size])
    (testX, testY) = (testX[:args.test_size], testY[:args.test_size])

    # we are using "channels last" ordering, so the design matrix shape should be: num_samples x rows x columns x depth
    trainX = trainX.reshape((trainX.shape[0], 28, 28, 1))
    testX = testX.reshape((testX.shape[0], 28, 28, 1))

    # scale data to the range of [0, 1]
    trainX = trainX.astype("float32") / 255.0
    testX = testX.astype("float32") / 255.0

    # one-hot encode the training and testing labels
    trainY = to_categorical(trainY, 10)
    testY = to_categorical(testY, 10)

    # initialize the label names
    labelNames = ["top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]

    # initialize the optimizer and model
    print("[INFO] compiling model...")
    opt = SGD(lr=INIT_LR, momentum=0.9, decay=INIT_LR / NUM_EPOCHS)
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10, keras=tf_keras)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    # train the network
    print("[INFO] training model...")
    H = model.fit(trainX, trainY, validation_data=(testX, testY), batch_size=BS, epochs=NUM_EPOCHS)

    # make predictions on the test set and show a nicely formatted classification report
    preds = model.predict(testX)
    print("[INFO] evaluating network...")
    print(classification_report(testY.argmax(axis=1), preds.argmax(axis=1), labels=list(range(10)),
                                target_names=labelNames, zero_division=0))

    # serialize the training history to disk
    print("[INFO] serializing training history...")
    f = open(args.history, "wb")
    f.write(pickle.dumps(H.history))
    f.close()


if __name__ == "__main__":
    run(main)
