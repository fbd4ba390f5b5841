"""Train MiniVGGNet on Fashion-MNIST and save the training history.

Reproduces the training script of "Why is my validation loss lower than my training loss?" (Adrian Rosebrock,
PyImageSearch, 2019) on Keras 3, block for block. The defaults are the post's; run it as the post does:

    python fashion_mnist.py --history training.pickle

then draw the curves with `python plot_shift.py --input training.pickle`. The lines marked `# ours:` are not the
post's: each attaches, in one call, something this project adds (every setting a flag, resuming after a stop, the
reasons measured with --diagnostics, the split check).
"""
# import the necessary packages
from pyimagesearch.runs import set_up_keras
set_up_keras()  # ours: an installed backend and TensorFlow's faster CPU kernels, chosen before Keras loads
from pyimagesearch.minivggnet import MiniVGGNet
from sklearn.metrics import classification_report
from pyimagesearch.speed.optimizer import SGD  # ours: Keras's SGD, its update in TensorFlow's fused kernel
from keras.utils import to_categorical
import keras
import argparse
# ours: Keras 2's decay on Keras 3, the data offline, the flags, the run around fit(), history files written whole
from pyimagesearch.schedule import legacy_time_decay
from pyimagesearch.datasets import load_fashion_mnist
from pyimagesearch.runs.flags import add_run_flags
from pyimagesearch.runs.training import TrainingRun
from lossgap.errors import run
from lossgap.history import save_history


def main():
    # construct the argument parser and parse the arguments
    ap = argparse.ArgumentParser(description="Train MiniVGGNet on Fashion-MNIST and pickle H.history.")
    ap.add_argument("-i", "--history", required=True, metavar="FILE", help="path to output training history file")
    add_run_flags(ap)  # ours: every setting a flag with the post's default (pyimagesearch/runs/flags.py)
    args = ap.parse_args()
    training_run = TrainingRun(args)  # ours: --history checked, --seed, float32 (pyimagesearch/runs/training.py)

    # initialize the number of epochs to train for, base learning rate, and batch size
    NUM_EPOCHS = args.epochs
    INIT_LR = args.lr
    BS = args.batch_size

    # grab the Fashion MNIST dataset (Debian's package or --dataset-dir first, so that it works offline)
    print("[INFO] loading Fashion MNIST...")
    ((trainX, trainY), (testX, testY)) = load_fashion_mnist(args.dataset_dir, args.train_size, args.test_size)
    training_run.check_split(trainX, trainY, testX, testY)  # ours: --check-split's report

    # we are using "channels last" ordering, so the design matrix shape should be: num_samples x rows x columns x
    # depth (ours: depth first where Keras is set to "channels first")
    shape = (1, 28, 28) if keras.backend.image_data_format() == "channels_first" else (28, 28, 1)
    trainX = trainX.reshape((trainX.shape[0],) + shape)
    testX = testX.reshape((testX.shape[0],) + shape)

    # scale data to the range of [0, 1]
    trainX = trainX.astype("float32") / 255.0
    testX = testX.astype("float32") / 255.0

    # one-hot encode the training and testing labels
    trainY = to_categorical(trainY, 10)
    testY = to_categorical(testY, 10)

    # initialize the label names
    labelNames = ["top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]

    # initialize the optimizer and model (Keras 3 has no `decay=`: the schedule applies Keras 2's decay per batch)
    print("[INFO] compiling model...")
    opt = SGD(learning_rate=legacy_time_decay(INIT_LR, INIT_LR / NUM_EPOCHS), momentum=0.9)
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10, dropout_scale=args.dropout_scale,
                             augment=args.augment)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    # train the network
    print("[INFO] training model...")
    with training_run.fitting(model, (trainX, trainY), (testX, testY)) as callbacks:  # ours: resume, --diagnostics
        H = model.fit(trainX, trainY, validation_data=(testX, testY), batch_size=BS, epochs=NUM_EPOCHS,
                      initial_epoch=training_run.finished_epochs, callbacks=callbacks)

    # make predictions on the test set and show a nicely formatted classification report (ours: silently, as Keras 2
    # predicted, and naming all ten classes even where a small --test-size leaves some out)
    preds = model.predict(testX, verbose=0)
    print("[INFO] evaluating network...")
    print(classification_report(testY.argmax(axis=1), preds.argmax(axis=1), labels=list(range(10)),
                                target_names=labelNames, zero_division=0))

    # serialize the training history to disk (ours: with the epochs before a resume, written atomically)
    print("[INFO] serializing training history...")
    save_history(training_run.whole_history(H.history), args.history)
    training_run.remove_backup()  # ours: the run is complete


if __name__ == "__main__":
    run(main)  # ours: a problem the user can fix is one line on stderr, not a traceback
