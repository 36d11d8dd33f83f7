"""The CLI's numeric option types: a bad value is argparse's one-line error naming the option (exit status 2),
never a traceback or a value taken silently (a count of 0 read as "the default", a rate of NaN)."""
import argparse
import math
import re


def _number(kind, text):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not %s" % (text, "an integer" if kind is int else "a number"))


def positive_int(text):
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more (got %s)" % text)
    return value


def non_negative_int(text):
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more (got %s)" % text)
    return value


def random_seed(text):
    """A random seed: numpy's and Keras' take 0 .. 2**32 - 1 (another value was their traceback, after the data was
    read)."""
    value = _number(int, text)
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError("must be 0 to 4294967295 (got %s)" % text)
    return value


def positive_float(text):
    value = _number(float, text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number (got %s)" % text)
    return value


def finite_float(text):
    value = _number(float, text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be a finite number (got %s)" % text)
    return value


def heap_size(text):
    """A MicroPython heap size: bytes, or with k or m (200000, 200k, 4m)."""
    value = text.strip().lower()
    if not re.fullmatch(r"\d+[km]?", value) or not int(value.rstrip("km")):
        raise argparse.ArgumentTypeError("%r is not a heap size: give bytes, e.g. 200000, 200k or 4m" % text)
    return value
