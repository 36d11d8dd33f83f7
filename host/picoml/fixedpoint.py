"""Integer arithmetic exactly as TFLite Micro's reference kernels do it (gemmlowp rounding), vectorised.

All functions take and return int64 numpy arrays holding int32 values, so the intermediate 64-bit products of the
C code are represented without overflow.
"""
import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real_multiplier, signed=False):
    """A positive real number as (int32 multiplier in Q31, power-of-two shift), TFLite's QuantizeMultiplier;
    a ValueError for NaN, infinity or a negative number (scales a damaged model can lead to). signed: a negative
    number is taken too, as TFLite does for LEAKY_RELU's alpha."""
    if not (math.isfinite(real_multiplier) and (signed or real_multiplier >= 0)):
        raise ValueError("a requantization multiplier of %r: the scales it comes from are not usable "
                         "(non-finite, negative, or too far apart)" % real_multiplier)
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q = round_half_away(fraction * (1 << 31))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def round_half_away(x):
    """C's round() of a float or an array of them: halves go away from zero (numpy's round goes to even)."""
    if np.ndim(x):
        x = np.asarray(x, np.float64)
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def wrap_int32(x):
    """Two's complement wrap of int64 values into the int32 range, as a C int32 overflow does on every target."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def wrap_int16(x):
    """Two's complement wrap into the int16 range, as C's conversion of a wider integer to int16_t."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _truncating_shift_right(x, n):
    """Division by 2**n rounding toward zero (C integer division)."""
    return np.where(x >= 0, x >> n, -((-x) >> n))


def saturating_rounding_doubling_high_mul(a, b):
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    result = _truncating_shift_right(ab + nudge, 31)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, result)


def rounding_divide_by_pot(x, exponent):
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + np.where(x < 0, 1, 0)
    return (x >> exponent) + np.where(remainder > threshold, 1, 0)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's MultiplyByQuantizedMultiplier (double rounding), element-wise; shift > 0 shifts left first."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier), right)


def saturating_left_shift(x, n):
    """gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent on int32 values."""
    x = np.asarray(x, dtype=np.int64) << n
    return np.clip(x, INT32_MIN, INT32_MAX)
