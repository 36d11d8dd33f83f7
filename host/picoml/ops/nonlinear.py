"""Int8 SOFTMAX, LOG_SOFTMAX, L2_NORMALIZATION, LOGISTIC, TANH, HARD_SWISH, ABS, RSQRT and ELU: lowering (the constants TFLite Micro's Prepare computes)
and numpy code bit-exact with TFLite Micro's int8 reference kernels: SOFTMAX's reference kernel, and the functions
the LUT tables of the others are computed with.

TFLite Micro computes all four without lookup tables for int8: SOFTMAX, LOGISTIC and TANH evaluate gemmlowp's
fixed-point exp / reciprocal / tanh / logistic approximations (section "gemmlowp fixed point" below), HARD_SWISH
works in 16-bit fixed point. The results differ from TensorFlow Lite's own interpreter, which uses tables computed
in float. picoml's LUT tables for LOGISTIC, TANH and HARD_SWISH are computed with the fixed-point code below, so
they hold TensorFlow Lite Micro's bytes.
"""
import math

import numpy as np

from ..fixedpoint import (INT32_MAX, multiply_by_quantized_multiplier, quantize_multiplier,
                          rounding_divide_by_pot, saturating_left_shift, saturating_rounding_doubling_high_mul,
                          wrap_int16, wrap_int32)
from .common import INT8_MAX, INT8_MIN, clamp_int8
from .float_island import quantize_rounded
from .lut import emit_lut

# ---------------------------------------------------------------------------------------------------------------
# gemmlowp fixed point (fixedpoint/fixedpoint.h), vectorised over int64 arrays holding int32 raw values.
# A FixedPoint<int32, m> value is its raw int32 with 31 - m fractional bits; products add integer bits.
# ---------------------------------------------------------------------------------------------------------------

_srdhm = saturating_rounding_doubling_high_mul
_ONE_Q0 = INT32_MAX                     # FixedPoint<int32, 0>::One() saturates to the largest raw value


def _i64(x):
    return np.asarray(x, dtype=np.int64)


def _add(a, b):
    """gemmlowp Add/Sub on int32 (plain two's complement arithmetic)."""
    return wrap_int32(_i64(a) + _i64(b))


def _rescale(x, src_integer_bits, dst_integer_bits):
    """gemmlowp::Rescale: SaturatingRoundingMultiplyByPOT<src - dst> of the raw value."""
    exponent = src_integer_bits - dst_integer_bits
    if exponent > 0:
        return saturating_left_shift(x, exponent)
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    return _i64(x)


def _rounding_half_sum(a, b):
    s = _i64(a) + _i64(b)
    s = s + np.where(s >= 0, 1, -1)
    return np.where(s >= 0, s >> 1, -((-s) >> 1))      # C division by 2, truncating toward zero


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), a and the result in Q0.31: Taylor expansion around -1/8."""
    constant_term = 1895147668                  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)                        # a + 1/8
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(_add(_srdhm(_add(x4_over_4, x3), constant_1_over_3), x2), 1)
    return _add(constant_term, _srdhm(constant_term, _add(x, poly)))


# (exponent, multiplier) of exp_on_negative_values' barrel shifter: multiplier = exp(-2**exponent) in Q0.31.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a, integer_bits):
    """gemmlowp::exp_on_negative_values: exp(a) in Q0.31 for a <= 0 given with `integer_bits` integer bits."""
    a = _i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = _add(a & (one_quarter - 1), -one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = _add(a_mod_quarter_minus_one_quarter, -a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, _srdhm(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)   # below -32
    return np.where(a == 0, _ONE_Q0, result)


def _newton_reciprocal_of_half_denominator(a):
    """The shared core of one_over_one_plus_x / one_minus_x_over_one_plus_x: for a in Q0.31, returns
    approximately 1 / ((1 + a) / 2) in Q2.29 by three Newton-Raphson steps."""
    half_denominator = _rounding_half_sum(a, _ONE_Q0)
    constant_48_over_17 = 1515870810                      # Q2.29
    constant_neg_32_over_17 = -1010580540                 # Q2.29
    x = _add(constant_48_over_17, _srdhm(half_denominator, constant_neg_32_over_17))
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = _srdhm(half_denominator, x)                      # Q2.29
        one_minus_half_denominator_times_x = _add(one_q2, -half_denominator_times_x)
        x = _add(x, _rescale(_srdhm(x, one_minus_half_denominator_times_x), 4, 2))  # Q4 product back to Q2
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: 1 / (1 + a) for a in [0, 1), Q0.31 in and out."""
    x = _newton_reciprocal_of_half_denominator(a)
    return _rescale(x, 1, 0)                              # ExactMulByPot<-1> then Rescale<0>


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: (1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out."""
    x = _newton_reciprocal_of_half_denominator(a)
    return _rescale(_add(x, -(1 << 29)), 2, 0)


def fixedpoint_logistic(a, integer_bits):
    """gemmlowp::logistic of a Q(integer_bits) value, result in Q0.31."""
    a = _i64(a)
    positive = a > 0
    abs_input = np.where(positive, a, wrap_int32(-a))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap_int32(-abs_input),
                                                                                integer_bits))
    result_if_negative = _add(_ONE_Q0, -result_if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, result_if_positive, result_if_negative))


def fixedpoint_tanh(a, integer_bits):
    """gemmlowp::tanh of a Q(integer_bits) value, result in Q0.31."""
    a = _i64(a)
    negative = a < 0
    n = np.where(negative, a, wrap_int32(-a))            # -|a|
    # -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)); 2n is the same raw value with one more integer bit.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, wrap_int32(-t), t))


def _count_leading_zeros_u32(x):
    u = _i64(x) & 0xFFFFFFFF
    bit_length = np.zeros(u.shape, dtype=np.int64)
    for k in range(32):
        bit_length += (u >> k) > 0
    return 32 - bit_length


def get_reciprocal(x, x_integer_digits):
    """TFLite's GetReciprocal: (1/x in Q0.31 scaled into [0.5, 1), num_bits_over_unit)."""
    x = _i64(x)
    headroom_plus_one = _count_leading_zeros_u32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


# ---------------------------------------------------------------------------------------------------------------
# SOFTMAX (tensorflow/lite/micro/kernels/softmax_common.cc, reference_ops::Softmax<int8_t, int8_t>)
# ---------------------------------------------------------------------------------------------------------------

SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12
SOFTMAX_MAX_DEPTH = (1 << (31 - 19)) - 1   # each exp adds up to 2**19 to the int32 sum: more could wrap it


def _check_int8(ctx, op):
    for t in list(op.inputs[:1]) + list(op.outputs):
        if np.dtype(t.dtype) != np.int8:
            ctx.fail(op, "only int8 tensors are supported (got %s)" % np.dtype(t.dtype).name)
        if not t.scale > 0:
            ctx.fail(op, "int8 tensors must be quantized with a positive scale")
    if tuple(op.inputs[0].shape) != tuple(op.outputs[0].shape):
        ctx.fail(op, "input shape %s differs from output shape %s"
                 % (list(op.inputs[0].shape), list(op.outputs[0].shape)))


def _check_output_quantization(ctx, op, scale, zero_point):
    out = op.outputs[0]
    if out.zero_point != zero_point or np.float32(out.scale) != np.float32(scale):
        ctx.fail(op, "int8 output must have scale %g and zero point %d (got scale %g, zero point %d)"
                 % (scale, zero_point, out.scale, out.zero_point))


def softmax_params(beta, input_scale):
    """(input_multiplier, input_left_shift, diff_min) of TFLite's PreprocessSoftmaxScaling and
    CalculateInputRadius, or None when the scaled multiplier is not above one (TFLite aborts then)."""
    real_multiplier = float(np.float32(beta)) * float(np.float32(input_scale)) * \
        (1 << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS))
    real_multiplier = min(real_multiplier, (1 << 31) - 1.0)
    if not real_multiplier > 1.0:
        return None
    multiplier, left_shift = quantize_multiplier(real_multiplier)
    radius = (((1 << SOFTMAX_SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS)) >> left_shift
    return multiplier, left_shift, -radius


def lower_softmax(ctx, op):
    _check_int8(ctx, op)
    input_t = op.inputs[0]
    if len(input_t.shape) < 1:
        ctx.fail(op, "input must have at least one dimension")
    if input_t.shape[-1] > SOFTMAX_MAX_DEPTH:
        ctx.fail(op, "softmax over %d values: TFLite Micro's int8 sum of exponentials can overflow above %d"
                 % (input_t.shape[-1], SOFTMAX_MAX_DEPTH))
    _check_output_quantization(ctx, op, 1.0 / 256, INT8_MIN)
    beta = op.options.get("Beta", 1.0)
    params = softmax_params(beta, input_t.scale)
    if params is None:
        ctx.fail(op, "beta %g times input scale %g is too small for TFLite's int8 softmax" % (beta, input_t.scale))
    multiplier, left_shift, diff_min = params
    ctx.emit("SOFTMAX", [ctx.activation(input_t)], [ctx.activation(op.outputs[0])],
             {"input_multiplier": multiplier, "input_left_shift": left_shift, "diff_min": diff_min}, op)


def reference_softmax(op, inputs, outputs):
    p = op.params
    x = _i64(inputs[0])
    shape = x.shape
    depth = shape[-1] if x.ndim else 1
    x = x.reshape(-1, depth)
    diff = x - x.max(axis=1, keepdims=True)
    valid = diff >= p["diff_min"]
    # MultiplyByQuantizedMultiplierGreaterThanOne: x * 2**left_shift wraps in int32, then the high multiply.
    rescaled = _srdhm(wrap_int32(diff << p["input_left_shift"]), p["input_multiplier"])
    exps = exp_on_negative_values(rescaled, SOFTMAX_SCALED_DIFF_INTEGER_BITS)           # Q0.31
    accumulated = _rescale(exps, 0, SOFTMAX_ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(valid, accumulated, 0).sum(axis=1, keepdims=True))
    shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, SOFTMAX_ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - 8
    # TFLite Micro aborts (TFLITE_CHECK) when the exponent leaves [0, 31]: above 31 the sum of exponentials is at
    # least 512 (e.g. 512 or more inputs equal to the row maximum), every output is below half a step and
    # rounds to 0.0; picoml outputs that (-128) instead of aborting. Below 0 cannot happen (the sum is >= 1).
    saturated = exponent > 31
    unsat = rounding_divide_by_pot(_srdhm(shifted_scale, exps), np.minimum(exponent, 31))
    out = np.where(valid & ~saturated, np.clip(unsat + INT8_MIN, INT8_MIN, INT8_MAX), INT8_MIN)
    return [out.astype(np.int8).reshape(shape)]


# ---------------------------------------------------------------------------------------------------------------
# LOG_SOFTMAX (log_softmax.cc; reference_ops::LogSoftmaxQuantized<int8_t>): output scale 16/256, zero point 127
# ---------------------------------------------------------------------------------------------------------------

_LOG_OUTPUT_INTEGER_BITS = 4


def _saturate_int32(x):
    return np.clip(_i64(x), -(1 << 31), INT32_MAX)


def log_x_for_x_greater_than_or_equal_to_1(x, input_integer_bits, output_integer_bits):
    """TFLite's log_x_for_x_greater_than_or_equal_to_1_impl: log(x) for x >= 1 (raw int32 of Q(input bits)), in
    Q(output bits): x's power of two from its leading zeros (from two candidates, x and x sqrt(1/2), the one
    nearer), and the log of the remaining mantissa r in [sqrt(1/2), sqrt(2)) by a rational approximation around
    sqrt(sqrt(1/2))."""
    log_2, sqrt_sqrt_half, sqrt_half, one_quarter = 1488522236, 1805811301, 1518500250, 536870912
    alpha_n, alpha_d, alpha_i, alpha_f = 117049297, 127690142, 1057819769, 638450708
    accum_bits = output_integer_bits + 1
    shifted_quarter = _rescale(one_quarter, 0, accum_bits)
    z_a = _i64(x)
    z_a_headroom_plus_1 = _count_leading_zeros_u32(z_a)
    r_a_tmp = saturating_left_shift(z_a, z_a_headroom_plus_1 - 1)
    r_a = saturating_left_shift(_srdhm(r_a_tmp, sqrt_half), 1)
    z_a_pow_2_adj = _saturate_int32(saturating_left_shift(input_integer_bits - z_a_headroom_plus_1, 31 - accum_bits)
                                    + shifted_quarter)
    z_b = _srdhm(z_a, sqrt_half)
    z_b_headroom = _count_leading_zeros_u32(z_b) - 1
    r_b = saturating_left_shift(z_a, z_b_headroom)
    z_b_pow_2_adj = _saturate_int32(saturating_left_shift(input_integer_bits - z_b_headroom, 31 - accum_bits)
                                    - shifted_quarter)
    r = np.minimum(r_a, r_b)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)
    p = _rounding_half_sum(r, sqrt_sqrt_half)
    q = _add(r, -sqrt_sqrt_half)
    q = _add(q, q)
    common_sq = _srdhm(q, q)
    num = _add(_srdhm(q, r), _srdhm(_srdhm(q, common_sq), alpha_n))
    denom_minus_one = _add(_srdhm(p, _add(_add(alpha_i, q), _srdhm(alpha_d, common_sq))), _srdhm(alpha_f, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = _rescale(num, 0, accum_bits)
    return _rescale(_add(_srdhm(z_pow_2_adj, log_2), _srdhm(num_scaled, recip_denom)), accum_bits,
                    output_integer_bits)


def log_softmax_params(input_scale):
    """TFLite Micro's PreprocessLogSoftmaxScalingExp (beta 1) and CalculateInputRadius: (input_multiplier,
    input_left_shift, reverse_scaling_divisor, reverse_scaling_right_shift, diff_min), or None when the scaled
    multiplier is not above one."""
    params = softmax_params(1.0, input_scale)
    if params is None:
        return None
    multiplier, left_shift, diff_min = params
    divisor, divisor_shift = quantize_multiplier((1 << (31 - left_shift)) / multiplier)
    if divisor_shift > 0:       # QuantizeMultiplierSmallerThanOneExp: the divisor is below one
        return None
    return multiplier, left_shift, divisor, -divisor_shift, diff_min


def lower_log_softmax(ctx, op):
    """LOG_SOFTMAX over the last axis: one op over the tensors viewed as [outer, depth]."""
    from .shape import new_view
    _check_int8(ctx, op)
    x, out = op.inputs[0], op.outputs[0]
    depth = x.shape[-1] if len(x.shape) else 1
    if depth > SOFTMAX_MAX_DEPTH:
        ctx.fail(op, "log softmax over %d values: TFLite Micro's int8 sum of exponentials can overflow above %d"
                 % (depth, SOFTMAX_MAX_DEPTH))
    _check_output_quantization(ctx, op, 16.0 / 256, 127)
    params = log_softmax_params(x.scale)
    if params is None:
        ctx.fail(op, "input scale %g is too small for TFLite's int8 log softmax" % x.scale)
    names = ("input_multiplier", "input_left_shift", "reverse_scaling_divisor", "reverse_scaling_right_shift",
             "diff_min")
    shape = (int(np.prod(x.shape, dtype=np.int64)) // depth, depth)
    ctx.emit("LOG_SOFTMAX", [new_view(ctx, ctx.activation(x), shape, x.name + "/rows")],
             [new_view(ctx, ctx.activation(out), shape, out.name + "/rows")], dict(zip(names, params)), op)


def reference_log_softmax(op, inputs, outputs):
    p = op.params
    x = _i64(inputs[0])
    diff = x - x.max(axis=1, keepdims=True)
    in_q5 = multiply_by_quantized_multiplier(diff, p["input_multiplier"], p["input_left_shift"])
    exps = _rescale(exp_on_negative_values(in_q5, SOFTMAX_SCALED_DIFF_INTEGER_BITS), 0,
                    SOFTMAX_ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(diff >= p["diff_min"], exps, 0).sum(axis=1, keepdims=True))
    log_sum = log_x_for_x_greater_than_or_equal_to_1(sum_of_exps, SOFTMAX_ACCUMULATION_INTEGER_BITS,
                                                     SOFTMAX_SCALED_DIFF_INTEGER_BITS)
    floor = multiply_by_quantized_multiplier(_add(log_sum, -(1 << 31)), p["reverse_scaling_divisor"],
                                             -p["reverse_scaling_right_shift"])
    adjusted_diff_min = np.maximum(p["diff_min"] - 1, floor)
    out = rounding_divide_by_pot(_add(in_q5, -log_sum),
                                 31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS - _LOG_OUTPUT_INTEGER_BITS) + 127
    out = np.where(diff > adjusted_diff_min, np.clip(out, INT8_MIN, INT8_MAX), INT8_MIN).astype(np.int8)
    return [out.reshape(outputs[0].shape)]      # the output: any shape of that size


# ---------------------------------------------------------------------------------------------------------------
# L2_NORMALIZATION (l2norm.cc; reference_integer_ops::L2Normalization)
# ---------------------------------------------------------------------------------------------------------------

L2_MAX_DEPTH = 33025        # 33025 * 255^2 < 2^31: the row's int32 sum of squares


def lower_l2_normalization(ctx, op):
    """L2_NORMALIZATION over the last axis: one op over the tensors viewed as [outer, depth]; TFLite Micro's int8
    output is in scale 1/128, zero point 0."""
    from .shape import new_view
    _check_int8(ctx, op)
    x, out = op.inputs[0], op.outputs[0]
    if op.options.get("FusedActivationFunction", 0):
        ctx.fail(op, "a fused activation on L2_NORMALIZATION is not supported (TFLite Micro refuses it)")
    _check_output_quantization(ctx, op, 1.0 / 128, 0)
    depth = x.shape[-1] if len(x.shape) else 1
    if depth > L2_MAX_DEPTH:
        ctx.fail(op, "a depth of %d: at most %d keep the sum of squares an int32" % (depth, L2_MAX_DEPTH))
    shape = (int(np.prod(x.shape, dtype=np.int64)) // depth, depth)
    ctx.emit("L2_NORMALIZATION", [new_view(ctx, ctx.activation(x), shape, x.name + "/rows")],
             [new_view(ctx, ctx.activation(out), shape, out.name + "/rows")],
             {"input_zero_point": x.zero_point}, op)


def reference_l2_normalization(op, inputs, outputs):
    x = _i64(inputs[0]) - op.params["input_zero_point"]
    out = np.empty_like(x)
    for row, y in zip(x, out):
        multiplier, shift = inv_sqrt_multiplier(int((row * row).sum()))
        y[:] = multiply_by_quantized_multiplier(row, multiplier, shift + 7)
    return [clamp_int8(out, INT8_MIN, INT8_MAX).reshape(outputs[0].shape)]    # the output: any shape of that size


# ---------------------------------------------------------------------------------------------------------------
# LOGISTIC and TANH (logistic_common.cc, tanh.cc; reference_integer_ops::Logistic / Tanh for int8)
# ---------------------------------------------------------------------------------------------------------------

SIGMOID_INPUT_INTEGER_BITS = 4


def sigmoid_like_params(input_scale, input_zero_point):
    """The int8 Prepare of LOGISTIC and TANH: input rescaled to Q4.27 by frexp(scale * 2**27) (no renormalising
    when the mantissa rounds up to 1: it cannot for a float32 scale), and the radius outside which the output
    saturates. None when the scale is so small that TFLite's radius computation shifts by a negative amount."""
    real_multiplier = float(np.float32(input_scale)) * (1 << (31 - SIGMOID_INPUT_INTEGER_BITS))
    if real_multiplier <= 0.0:
        return None
    fraction, left_shift = math.frexp(real_multiplier)
    multiplier = int(math.floor(fraction * (1 << 31) + 0.5))
    if left_shift < 0 or multiplier >= (1 << 31):
        return None
    radius = (((1 << SIGMOID_INPUT_INTEGER_BITS) - 1) << (31 - SIGMOID_INPUT_INTEGER_BITS)) >> left_shift
    return {"input_zero_point": int(input_zero_point), "input_range_radius": int(radius),
            "input_multiplier": multiplier, "input_left_shift": int(left_shift)}


def _lower_sigmoid_like(ctx, op, fn, output_scale, output_zero_point):
    _check_int8(ctx, op)
    _check_output_quantization(ctx, op, output_scale, output_zero_point)
    input_t = op.inputs[0]
    params = sigmoid_like_params(input_t.scale, input_t.zero_point)
    if params is None:
        ctx.fail(op, "input scale %g is too small for TFLite's int8 %s" % (input_t.scale, fn.__name__))
    emit_lut(ctx, op, fn, params, ctx.activation(input_t), ctx.activation(op.outputs[0]))


def lower_logistic(ctx, op):
    _lower_sigmoid_like(ctx, op, logistic, 1.0 / 256, -128)


def lower_tanh(ctx, op):
    _lower_sigmoid_like(ctx, op, tanh, 1.0 / 128, 0)


def _sigmoid_like_input(p, x):
    """(input minus zero point, mask of the saturated-low inputs, of the saturated-high ones, input in Q4.27)."""
    x = _i64(x) - p["input_zero_point"]
    radius = p["input_range_radius"]
    low, high = x <= -radius, x >= radius
    inside = np.where(low | high, 0, x)          # the kernel never rescales a saturated input
    q4 = multiply_by_quantized_multiplier(inside, p["input_multiplier"], min(p["input_left_shift"], 31))
    return low, high, q4


def logistic(p, x):
    low, high, q4 = _sigmoid_like_input(p, x)
    q0 = fixedpoint_logistic(q4, SIGMOID_INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(q0, 31 - 8) + INT8_MIN, INT8_MIN, INT8_MAX)
    return np.where(low, INT8_MIN, np.where(high, INT8_MAX, out)).astype(np.int8)


def tanh(p, x):
    low, high, q4 = _sigmoid_like_input(p, x)
    q0 = fixedpoint_tanh(q4, SIGMOID_INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(q0, 31 - 7), INT8_MIN, INT8_MAX)
    return np.where(low, INT8_MIN, np.where(high, INT8_MAX, out)).astype(np.int8)


# ---------------------------------------------------------------------------------------------------------------
# HARD_SWISH (hard_swish_common.cc, reference_ops::HardSwish<int8_t>): 16-bit fixed point.
# ---------------------------------------------------------------------------------------------------------------

def _srdhm16(a, b):
    """gemmlowp::SaturatingRoundingDoublingHighMul<int16_t>."""
    a, b = _i64(a), _i64(b)
    ab = a * b
    ab = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    result = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap_int16(result))


def _sdhm16(a, b):
    """TFLite's SaturatingDoublingHighMul: as above but the product is truncated toward zero."""
    a, b = _i64(a), _i64(b)
    ab = a * b
    result = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap_int16(result))


def _rounding_divide_by_pot16(x, exponent):
    """gemmlowp::RoundingDivideByPOT<int16_t>, including its int16 mask arithmetic for exponents above 15."""
    x = _i64(x)
    mask = wrap_int16((1 << exponent) - 1)
    remainder = wrap_int16(x & mask)
    threshold = wrap_int16((mask >> 1) + np.where(x < 0, 1, 0))
    return wrap_int16((x >> exponent) + np.where(remainder > threshold, 1, 0))


def _saturating_left_shift16(x, amount):
    return np.clip(_i64(x) << amount, -(1 << 15), (1 << 15) - 1)


def _downscale_int32_to_int16_multiplier(multiplier):
    if multiplier >= INT32_MAX - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(input_scale, input_zero_point, output_scale, output_zero_point):
    """TFLite Micro's HardSwishPrepare. The scale ratios are computed in float32, then widened to double."""
    f32 = np.float32
    hires_input_scale = f32(1.0 / 128.0) * f32(input_scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    output_multiplier, output_exponent = quantize_multiplier(float(hires_input_scale / f32(output_scale)))
    reluish_multiplier, reluish_exponent = quantize_multiplier(float(hires_input_scale / reluish_scale))
    return {"input_zero_point": int(input_zero_point), "output_zero_point": int(output_zero_point),
            "reluish_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(reluish_multiplier),
            "reluish_multiplier_exponent": reluish_exponent,
            "output_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(output_multiplier),
            "output_multiplier_exponent": output_exponent}


def lower_hard_swish(ctx, op):
    _check_int8(ctx, op)
    input_t, out = op.inputs[0], op.outputs[0]
    params = hard_swish_params(input_t.scale, input_t.zero_point, out.scale, out.zero_point)
    if params["output_multiplier_exponent"] > 0:
        ctx.fail(op, "input scale %g is too large relative to output scale %g for TFLite's int8 hard swish"
                 % (input_t.scale, out.scale))
    emit_lut(ctx, op, hard_swish, params, ctx.activation(input_t), ctx.activation(out))


def hard_swish(p, x):
    input_value = wrap_int16(_i64(x) - p["input_zero_point"])
    hires = wrap_int16(input_value * 128)
    preshift_output_scale_value = _srdhm16(hires, p["output_multiplier_fixedpoint_int16"])
    reluish = hires
    exponent = p["reluish_multiplier_exponent"]
    if exponent > 0:
        reluish = _saturating_left_shift16(reluish, exponent - 1)
    reluish = _srdhm16(reluish, p["reluish_multiplier_fixedpoint_int16"])
    if exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if exponent < 0:
        reluish = _rounding_divide_by_pot16(reluish, -exponent)
    reluish = (reluish + (1 << 15)) >> 1                     # [-1, 1] onto [0, 1]
    preshift_output = _sdhm16(reluish, preshift_output_scale_value)
    out = _rounding_divide_by_pot16(preshift_output, -p["output_multiplier_exponent"])
    return clamp_int8(wrap_int16(out + p["output_zero_point"]))


def _abs_rsqrt_lut(ctx, op, fn, real_multiplier):
    _check_int8(ctx, op)
    input_t, out = op.inputs[0], op.outputs[0]
    multiplier, shift = quantize_multiplier(real_multiplier)
    params = {"input_zero_point": input_t.zero_point, "output_zero_point": out.zero_point,
              "multiplier": multiplier, "shift": shift}
    emit_lut(ctx, op, fn, params, ctx.activation(input_t), ctx.activation(out))


def lower_abs(ctx, op):
    _abs_rsqrt_lut(ctx, op, abs_int8, op.inputs[0].scale / op.outputs[0].scale)


def abs_int8(p, x):
    """TFLite Micro's int8 ABS: |x - zero point| requantized to the output's quantization."""
    value = np.abs(_i64(x) - p["input_zero_point"])
    return clamp_int8(multiply_by_quantized_multiplier(value, p["multiplier"], p["shift"]) + p["output_zero_point"])


def lower_rsqrt(ctx, op):
    """RSQRT: its multiplier 1 / (sqrt(input scale) * output scale), the square root and the product in float."""
    f32 = np.float32
    scale = f32(np.sqrt(f32(op.inputs[0].scale))) * f32(op.outputs[0].scale)
    _abs_rsqrt_lut(ctx, op, rsqrt_int8, 1.0 / float(scale))


def rsqrt_int8(p, x):
    """TFLite Micro's int8 RSQRT: 1 / sqrt(x - zero point) as GetInvSqrtQuantizedMultiplierExp's fixed point, then
    rescaled (kShift 20) to the output; 127 at the zero point. TFLite Micro refuses to run on an input below the
    zero point ("Rsqrt is only defined for positive values"); the table gives 127 there too."""
    out = []
    for v in (_i64(x) - p["input_zero_point"]).tolist():
        if v <= 0:
            out.append(INT8_MAX)
            continue
        inv_sqrt, inv_shift = inv_sqrt_multiplier(v)
        data = multiply_by_quantized_multiplier(1, inv_sqrt, inv_shift + 20)
        out.append(int(multiply_by_quantized_multiplier(data, p["multiplier"], p["shift"] - 20))
                   + p["output_zero_point"])
    return clamp_int8(np.asarray(out, dtype=np.int64))


def inv_sqrt_multiplier(value):
    """TFLite's GetInvSqrtQuantizedMultiplierExp(value, kReverseShift) for an int32 value >= 0: (multiplier, left
    shift <= 0), 1 / sqrt(value) ~ multiplier 2^(shift - 31): value scaled by powers of 4 into [2^27, 2^29), then
    five Newton-Raphson steps in gemmlowp fixed point with 3 integer bits from 1 (0 and 1: INT32_MAX, no
    shift). RSQRT's table and L2_NORMALIZATION's rows."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (32 - value.bit_length() - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    srdhm = saturating_rounding_doubling_high_mul
    half_input = rounding_divide_by_pot(value >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28                                                         # 1.0 with 3 integer bits
    for _ in range(5):
        x3 = _rescale(srdhm(srdhm(x, x), x), 9, 3)
        x = _rescale(_add(srdhm(half_three, x), -srdhm(half_input, x3)), 6, 3)
    x = int(srdhm(x, 1518500250))                                       # times sqrt(2) / 2
    if shift < 0:
        x, shift = int(wrap_int32(x << -shift)), 0
    return x, -shift


def lower_elu(ctx, op):
    _check_int8(ctx, op)
    input_t, out = op.inputs[0], op.outputs[0]
    params = {"input_scale": input_t.scale, "input_zero_point": input_t.zero_point, "output_scale": out.scale,
              "output_zero_point": out.zero_point}
    emit_lut(ctx, op, elu, params, ctx.activation(input_t), ctx.activation(out))


def elu(p, x):
    """TFLite Micro's int8 ELU table, computed in float32: x dequantized, exp(x) - 1 below 0, times 1 / the output
    scale, then quantized as a float island's QUANTIZE (exp in double, rounded to float32: the correctly rounded
    expf)."""
    f = np.float32(p["input_scale"]) * (_i64(x) - p["input_zero_point"]).astype(np.float32)
    below = (np.exp(np.minimum(f, 0).astype(np.float64)).astype(np.float32) - np.float32(1)).astype(np.float32)
    y = np.where(f < 0, below, f) * (np.float32(1) / np.float32(p["output_scale"]))
    return quantize_rounded(y, p["output_zero_point"])


LOWER = {"SOFTMAX": lower_softmax, "LOGISTIC": lower_logistic, "TANH": lower_tanh, "HARD_SWISH": lower_hard_swish,
         "ABS": lower_abs, "RSQRT": lower_rsqrt, "ELU": lower_elu, "L2_NORMALIZATION": lower_l2_normalization,
         "LOG_SOFTMAX": lower_log_softmax}
REFERENCE = {"SOFTMAX": reference_softmax, "L2_NORMALIZATION": reference_l2_normalization,
             "LOG_SOFTMAX": reference_log_softmax}
