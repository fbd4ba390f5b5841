"""Train MiniVGGNet on Fashion-MNIST and save the training history.

Reproduces the training script of "Why is my validation loss lower than my training loss?" (Adrian Rosebrock,
PyImageSearch, 2019) on Keras 3. The defaults are the post's; run it as the post does:

    python fashion_mnist.py --history training.pickle

then draw the curves with `python plot_shift.py --input training.pickle`.
"""
# import the necessary packages (Keras is imported in main(), once the arguments are known to be good, because
# loading TensorFlow takes seconds that a mistyped flag should not cost)
import argparse

from pyimagesearch.runs.errors import run
from pyimagesearch.runs.flags import dropout_scale, non_negative_int, positive_float, positive_int, seed


def argument_parser():
    # construct the argument parser (the seeds study checks the flags it passes on with it, before it starts)
    ap = argparse.ArgumentParser(description="Train MiniVGGNet on Fashion-MNIST and pickle H.history.")
    ap.add_argument("-i", "--history", required=True, metavar="FILE", help="path to output training history file")
    ap.add_argument("--epochs", type=positive_int, default=25, metavar="N", help="epochs to train for (default: 25)")
    ap.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="batch size (default: 32)")
    ap.add_argument("--lr", type=positive_float, default=1e-2, metavar="RATE",
                    help="initial learning rate, decayed by RATE / epochs per batch (default: 0.01)")
    ap.add_argument("--train-size", type=positive_int, default=None, metavar="N",
                    help="use only the first N training images (default: all 60,000)")
    ap.add_argument("--test-size", type=positive_int, default=None, metavar="N",
                    help="use only the first N test images (default: all 10,000)")
    ap.add_argument("--seed", type=seed, default=None, metavar="S",
                    help="seed from 0 to 2**32 - 1 for identical reruns on one machine (default: none, as in "
                         "the post)")
    ap.add_argument("--restart", action="store_true",
                    help="discard the backup of an unfinished run instead of resuming it (default: resume)")
    ap.add_argument("--dataset-dir", default=None, metavar="DIR",
                    help="folder with the four *-ubyte.gz files (default: Debian's package, else Keras's download)")
    ap.add_argument("--dropout-scale", type=dropout_scale, default=1.0, metavar="F",
                    help="multiply MiniVGGNet's dropout rates by F, 0 removes dropout (default: 1.0)")
    ap.add_argument("--augment", action="store_true",
                    help="flip images horizontally and shift them by up to 10%% at random in training, as layers "
                         "at the start of the model (default: off, as in the post)")
    ap.add_argument("--mixed-precision", action="store_true",
                    help="compute in bfloat16 with float32 weights where that is faster: on a GPU or a CPU with "
                         "AVX512-BF16 or AMX; elsewhere it stays float32 and says so (default: off)")
    ap.add_argument("--diagnostics", action="store_true",
                    help="also record, each epoch, the losses that split val_loss - loss into its reasons "
                         "(default: off)")
    ap.add_argument("--diagnostics-size", type=non_negative_int, default=10000, metavar="N",
                    help="training images measured by --diagnostics, 0 for all (default: 10000)")
    ap.add_argument("--diagnostics-seed", type=seed, default=None, metavar="S",
                    help="seed of --diagnostics' sample and random draws, apart from training's (default: --seed)")
    ap.add_argument("--check-split", action="store_true",
                    help="print a report on duplicates and differences between the splits first (default: off)")
    ap.add_argument("--near-duplicate-threshold", type=positive_float, default=0.02, metavar="RMS",
                    help="RMS pixel difference on [0, 1] under which --check-split calls images near "
                         "duplicates (default: 0.02)")
    return ap


def parse_arguments():
    # parse the arguments
    return argument_parser().parse_args()


def run_settings(args):
    """The settings that make a run what it is, which a backup must match to resume: every flag except those that
    change neither the training nor what it records."""
    return {key: value for key, value in vars(args).items()
            if key not in ("history", "restart", "check_split", "near_duplicate_threshold")}


def main():
    args = parse_arguments()
    from pyimagesearch.runs.backends import choose_backend, set_seed
    from pyimagesearch.runs.history import check_history_output
    from pyimagesearch.speed.settings import fast_batch_norm, keep_float32, prefer_onednn, use_mixed_precision

    check_history_output(args.history)
    choose_backend()  # before Keras loads: one that is installed (TensorFlow has no wheels for Python 3.14+)
    prefer_onednn()  # before TensorFlow loads: its faster CPU kernels also on AVX2-only CPUs (docs/speed.md)
    import keras
    from keras.optimizers import SGD
    from keras.utils import to_categorical
    from sklearn.metrics import classification_report

    from pyimagesearch.datasets import load_fashion_mnist
    from pyimagesearch.minivggnet import MiniVGGNet
    from pyimagesearch.runs.backup import StopOnNonFinite, TrainingBackup
    from pyimagesearch.runs.history import save_history
    from pyimagesearch.schedule import legacy_time_decay
    from pyimagesearch.speed.cpu import accelerators, cpu_features

    if args.seed is not None:
        set_seed(args.seed)

    # initialize the number of epochs to train for, base learning rate, and batch size
    NUM_EPOCHS = args.epochs
    INIT_LR = args.lr
    BS = args.batch_size

    # grab the Fashion MNIST dataset (from --dataset-dir, Debian's package, or Keras's download)
    print("[INFO] loading Fashion MNIST...")
    ((trainX, trainY), (testX, testY)) = load_fashion_mnist(args.dataset_dir)
    (trainX, trainY) = (trainX[:args.train_size], trainY[:args.train_size])
    (testX, testY) = (testX[:args.test_size], testY[:args.test_size])
    if args.check_split:
        from pyimagesearch.reasons.split_check import check_split, format_split_report

        report = check_split(trainX, trainY, testX, testY, threshold=args.near_duplicate_threshold)
        print("\n".join(f"[INFO] {line}" for line in format_split_report(report)))

    # the design matrix is num_samples x rows x columns x depth, or depth first when Keras is set to channels first
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

    # initialize the optimizer and model; Keras 3 has no `decay=`, so the schedule applies Keras 2's per batch
    print("[INFO] compiling model...")
    keep_float32(keras.backend.backend())  # no TensorFloat-32 on recent GPUs: float32 means float32
    if args.mixed_precision:
        use_mixed_precision(cpu_features(), accelerators())
    opt = SGD(learning_rate=legacy_time_decay(INIT_LR, INIT_LR / NUM_EPOCHS), momentum=0.9)
    model = MiniVGGNet.build(width=28, height=28, depth=1, classes=10, dropout_scale=args.dropout_scale,
                              augment=args.augment)
    model = fast_batch_norm(model, keras.backend.backend())  # the same batch-norm in TensorFlow's fused kernel
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    # resume an unfinished run of the same settings from the backup beside the history file
    backup = TrainingBackup(args.history, run_settings(args))
    backup.restore(model, restart=args.restart)

    callbacks = []
    if args.diagnostics:
        from statistics import mean

        from pyimagesearch.reasons.diagnostics import ReasonDiagnostics, training_sample

        diagnostics_seed = args.seed if args.diagnostics_seed is None else args.diagnostics_seed
        sample = training_sample(len(trainX), args.diagnostics_size, diagnostics_seed)
        diagnostics = ReasonDiagnostics((trainX[sample], trainY[sample]), (testX, testY), batch_size=BS,
                                        seed=diagnostics_seed)
        callbacks.append(diagnostics)

    # train the network
    print("[INFO] training model...")
    with backup.saving_on_stop(INIT_LR):
        H = model.fit(trainX, trainY, validation_data=(testX, testY), batch_size=BS, epochs=NUM_EPOCHS,
                      initial_epoch=backup.finished_epochs, callbacks=callbacks + [StopOnNonFinite(), backup])
    if args.diagnostics and diagnostics.seconds:
        print(f"[INFO] diagnostics took {mean(diagnostics.seconds):.1f}s per epoch; training and validation took "
              f"{mean(diagnostics.training_seconds):.1f}s")

    # make predictions on the test set (silently, as Keras 2 did) and show a nicely formatted classification
    # report (naming all ten classes, even those a small --test-size leaves out)
    preds = model.predict(testX, verbose=0)
    print("[INFO] evaluating network...")
    print(classification_report(testY.argmax(axis=1), preds.argmax(axis=1), labels=list(range(10)),
                                target_names=labelNames, zero_division=0))

    # serialize the training history to disk: every epoch, including those before a resume (H.history holds only
    # the epochs of this fit() call), then drop the backup
    print("[INFO] serializing training history...")
    save_history(backup.history, args.history)
    backup.remove()


if __name__ == "__main__":
    run(main)
