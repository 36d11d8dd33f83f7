"""Float islands: the TFLite converter sometimes leaves ops in float between a DEQUANTIZE of an int8 activation and
a QUANTIZE back to int8 (ops it cannot quantize, such as ELU; a GRU's SPLIT of its gates, to give the pieces
quantizations of their own). tflite_import._float_island takes the float tensors as the int8 ones they were
dequantized from, runs the ops that move values on those, and defers the element-wise functions of one value
(FUNCTIONS) to the QUANTIZE: one LUT doing TFLite Micro's float arithmetic on each of the 256 int8 values
(dequantize, the functions in order, quantize)."""
import numpy as np

from ..fixedpoint import INT32_MIN, wrap_int32
from .common import clamp_int8
from .lut import emit_lut

_F = np.float32


def _libm(fn):
    """A float32 libm function (expf, logf, ...), correctly rounded: computed in double, rounded to float32."""
    return lambda x: fn(x.astype(np.float64)).astype(np.float32)


_exp, _expm1, _log, _tanh, _sqrt = (_libm(f) for f in (np.exp, np.expm1, np.log, np.tanh, np.sqrt))


def _logistic(x):
    # TFLite's float reference: 1 beyond 16.619047, exp(x) below -9, else 1 / (1 + exp(-x)), all in float32
    middle = _F(1) / (_F(1) + _exp(-x))
    return np.where(x > _F(16.619047164916992188), _F(1), np.where(x < _F(-9), _exp(x), middle))


def _hard_swish(x):
    return x * np.minimum(_F(6), np.maximum(_F(0), x + _F(3))) / _F(6)


# TFLite Micro's float kernels of one value: name -> fn(x, options as (name, value) pairs) on float32 arrays, in
# float32 arithmetic
FUNCTIONS = {
    "ELU": lambda x, o: np.where(x < 0, _expm1(x), x),
    "LOGISTIC": lambda x, o: _logistic(x),
    "TANH": lambda x, o: _tanh(x),
    "RELU": lambda x, o: np.maximum(x, _F(0)),
    "RELU6": lambda x, o: np.minimum(np.maximum(x, _F(0)), _F(6)),
    "LEAKY_RELU": lambda x, o: np.where(x > 0, x, x * _F(dict(o).get("Alpha", 0.2))),
    "HARD_SWISH": lambda x, o: _hard_swish(x),
    "ABS": lambda x, o: np.abs(x),
    "NEG": lambda x, o: -x,
    "SQUARE": lambda x, o: x * x,
    "SQRT": lambda x, o: _sqrt(x),
    "RSQRT": lambda x, o: _F(1) / _sqrt(x),
    "EXP": lambda x, o: _exp(x),
    "LOG": lambda x, o: _log(x),
}


def float_to_int32(v):
    """C's cast of float values to int32 as x86 does it (where TFLite Micro, the oracle, runs): a value outside
    int32 or not a number (undefined behaviour in C) gives INT32_MIN."""
    v = np.asarray(v, np.float64)
    inside = np.abs(v) < 2.0 ** 31      # False for NaN
    return np.where(inside, np.trunc(np.where(inside, v, 0)), INT32_MIN).astype(np.int64)


def round_half_away(v):
    v = np.asarray(v, np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def requantize_through_float(p, x):
    """TFLite Micro's DEQUANTIZE, then the float functions p["functions"] ((name, options) pairs, in order), then
    QUANTIZE of int8 x: float(scale_in * (x - zp_in)) (the product in double), the functions in float32, divided
    by scale_out in float, rounded half away from zero, cast to int32, plus zp_out, clamped to int8
    (test_lowered_ops.py has scales where a division in double or rounding half to even would differ)."""
    f = (np.float64(p["input_scale"]) * (x.astype(np.int64) - p["input_zero_point"])).astype(np.float32)
    with np.errstate(all="ignore"):     # infinities and NaNs are values here (EXP, LOG, RSQRT)
        for name, options in p["functions"]:
            f = np.asarray(FUNCTIONS[name](f, options), np.float32)
        y = f / _F(p["output_scale"])
    return quantize_rounded(y, p["output_zero_point"])


def quantize_rounded(y, zero_point):
    """TFLite's int8 quantization of float values y already divided by the scale: rounded half away from zero,
    cast to int32 as x86 does (float_to_int32), plus the zero point, clamped."""
    return clamp_int8(wrap_int32(float_to_int32(round_half_away(y)) + zero_point))


def emit_float_requantize(ctx, op, x, out):
    """A QUANTIZE of float values that are int8 x's dequantized, then x.float_functions: a LUT."""
    params = {"input_scale": x.scale, "input_zero_point": x.zero_point, "output_scale": out.scale,
              "output_zero_point": out.zero_point, "functions": x.float_functions}
    emit_lut(ctx, op, requantize_through_float, params, ctx.activation(x), ctx.activation(out))
