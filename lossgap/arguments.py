"""Argument types for the scripts' argparse blocks: a bad value is refused by argparse itself (exit 2)."""
import argparse
import math


def _whole_number(text, smallest, wanted, largest=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < smallest or largest is not None and value > largest:
        raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
    return value


def positive_int(text):
    return _whole_number(text, 1, "positive")


def non_negative_int(text):
    return _whole_number(text, 0, "zero or more")


def seed(text):
    # numpy's and TensorFlow's generators take seeds of 32 bits, and Keras passes --seed on to both
    return _whole_number(text, 0, "a seed from 0 to 4294967295", largest=2**32 - 1)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number")
    return value
