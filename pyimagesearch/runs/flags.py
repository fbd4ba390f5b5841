"""Every setting of fashion_mnist.py beyond the post's --history, as a flag whose default is the post's, written once:
how it becomes a flag, and whether it changes the training, what a run records, or neither. The script, its backup
(which a rerun must match to resume) and the seeds study read them from here.
"""
import argparse
from typing import NamedTuple

from lossgap.arguments import non_negative_int, positive_float, positive_int, seed
from lossgap.families import SAMPLE_SIZE

TRAINS = "trains"     # changes how the model trains: the post's figures stand beside a run only if all are its
RECORDS = "records"   # changes what a run records, or where its images come from, but not how it trains
PRINTS = "prints"     # changes neither: what is printed, or what to do with a backup


def dropout_scale(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is outside [0, 2): the largest rate, 0.5 x scale, must stay below 1")
    return value


class Flag(NamedTuple):
    name: str
    kind: str
    options: dict


FLAGS = (
    Flag("--epochs", TRAINS, dict(type=positive_int, default=25, metavar="N", help="epochs to train for (default: 25)")),
    Flag("--batch-size", TRAINS, dict(type=positive_int, default=32, metavar="N", help="batch size (default: 32)")),
    Flag("--lr", TRAINS, dict(type=positive_float, default=1e-2, metavar="RATE",
                              help="initial learning rate, decayed by RATE / epochs per batch (default: 0.01)")),
    Flag("--train-size", TRAINS, dict(type=positive_int, default=None, metavar="N",
                                      help="use only the first N training images (default: all 60,000)")),
    Flag("--test-size", TRAINS, dict(type=positive_int, default=None, metavar="N",
                                     help="use only the first N test images (default: all 10,000)")),
    Flag("--seed", TRAINS, dict(type=seed, default=None, metavar="S",
                                help="seed from 0 to 2**32 - 1 for identical reruns on one machine, also after a stop "
                                     "and resume (default: none, as in the post)")),
    Flag("--dropout-scale", TRAINS, dict(type=dropout_scale, default=1.0, metavar="F",
                                         help="multiply MiniVGGNet's dropout rates by F, 0 removes dropout "
                                              "(default: 1.0)")),
    Flag("--augment", TRAINS, dict(action="store_true",
                                   help="flip images horizontally and shift them by up to 10%% at random in training, "
                                        "as layers at the start of the model (default: off, as in the post)")),
    Flag("--mixed-precision", TRAINS, dict(action="store_true",
                                           help="compute in bfloat16 with float32 weights where that is faster: on a "
                                                "GPU or a CPU with AVX512-BF16 or AMX; elsewhere it stays float32 and "
                                                "says so (default: off)")),
    Flag("--dataset-dir", RECORDS, dict(default=None, metavar="DIR",
                                        help="folder with the four *-ubyte.gz files (default: Debian's package, else "
                                             "Keras's download)")),
    Flag("--diagnostics", RECORDS, dict(action="store_true",
                                        help="also record, each epoch, the losses that split val_loss - loss into "
                                             "its reasons, and say what they add up to (default: off)")),
    Flag("--diagnostics-size", RECORDS, dict(type=non_negative_int, default=SAMPLE_SIZE, metavar="N",
                                             help="training images measured by --diagnostics, 0 for all (default: "
                                                  f"{SAMPLE_SIZE})")),
    Flag("--diagnostics-seed", RECORDS, dict(type=seed, default=None, metavar="S",
                                             help="seed of --diagnostics' sample and random draws, apart from "
                                                  "training's (default: --seed)")),
    Flag("--restart", PRINTS, dict(action="store_true",
                                   help="discard the backup of an unfinished run instead of resuming it (default: "
                                        "resume)")),
    Flag("--check-split", PRINTS, dict(action="store_true",
                                       help="print a report on duplicates and differences between the splits first "
                                            "(default: off)")),
    Flag("--near-duplicate-threshold", PRINTS, dict(type=positive_float, default=0.02, metavar="RMS",
                                                    help="RMS pixel difference on [0, 1] under which --check-split "
                                                         "calls images near duplicates (default: 0.02)")),
)
BY_DEST = {flag.name[2:].replace("-", "_"): flag for flag in FLAGS}


def add_run_flags(parser):
    """Add every flag to an argparse parser (fashion_mnist.py's, after the post's --history)."""
    for flag in FLAGS:
        parser.add_argument(flag.name, **flag.options)
    return parser


def defaults():
    return {dest: flag.options.get("default", False) for dest, flag in BY_DEST.items()}


def run_settings(args):
    """The settings that make a run what it is, which a backup must match to resume: those that change the training
    or what it records."""
    return {dest: value for dest, value in vars(args).items() if dest in BY_DEST and BY_DEST[dest].kind != PRINTS}


def trains_as_the_post(settings):
    """Whether every setting that changes training is the post's (the default)."""
    return all(settings[dest] == default for dest, default in defaults().items() if BY_DEST[dest].kind == TRAINS
               and dest in settings)


def flags_of(settings):
    """The flags that give these settings, each at most once, in FLAGS' order: none for a default."""
    tokens = []
    for dest, value in settings.items():
        flag = BY_DEST[dest]
        if value == flag.options.get("default", False):
            continue
        tokens += [flag.name] if flag.options.get("action") == "store_true" else [flag.name, str(value)]
    return tokens
