"""Element-wise int8 ops: ADD, SUB, MUL (with broadcasting): lowering and numpy reference; the RELU family,
LEAKY_RELU and int8->int8 QUANTIZE (requantize): lowering to a LUT op and the numpy functions its table is computed
with."""
import numpy as np

from ..fixedpoint import (multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
                          saturating_rounding_doubling_high_mul, wrap_int32)
from .common import INT8_MAX, INT8_MIN, activation_range, broadcast, clamp_int8, quantize_float32
from .lut import emit_lut

ADD_LEFT_SHIFT = 20     # TFLite's headroom shift for int8 ADD
SQUARED_DIFFERENCE_LEFT_SHIFT = 7       # TFLite Micro's for int8 SQUARED_DIFFERENCE


def _check_broadcast(ctx, op):
    a, b, out = op.inputs[0].shape, op.inputs[1].shape, op.outputs[0].shape
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        shape = None
    if shape != tuple(out):
        ctx.fail(op, "shapes %s and %s do not broadcast to %s" % (list(a), list(b), list(out)))


def lower_add(ctx, op):
    """ADD and SUB: the same params, computed as TFLite Micro's CalculateOpDataAdd does (in double; the tflite-micro
    build picoml is held to computes SUB's the same way, where older TFLite Micro sources computed them in float32:
    tests/test_nonlinear_ops.py tells the two apart)."""
    _check_broadcast(ctx, op)
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    ctx.emit(op.name, [ctx.activation(a), ctx.activation(b)], [ctx.activation(out)],
             add_params(a, b, out, *activation_range(ctx, op, out)), op)


def add_params(a, b, out, act_min, act_max, left_shift=ADD_LEFT_SHIFT):
    """ADD's and SUB's params for inputs a, b and output out (anything with scale and zero_point)."""
    twice_max_input_scale = 2.0 * max(a.scale, b.scale)
    real1, real2 = a.scale / twice_max_input_scale, b.scale / twice_max_input_scale
    real_out = twice_max_input_scale / ((1 << left_shift) * out.scale)
    m1, s1 = quantize_multiplier(real1)
    m2, s2 = quantize_multiplier(real2)
    mo, so = quantize_multiplier(real_out)
    return {"input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": out.zero_point,
            "left_shift": left_shift, "input1_multiplier": m1, "input1_shift": s1,
            "input2_multiplier": m2, "input2_shift": s2, "output_multiplier": mo, "output_shift": so,
            "act_min": act_min, "act_max": act_max}


def lower_squared_difference(ctx, op):
    """SQUARED_DIFFERENCE (Keras's LayerNormalization): ADD's params with TFLite Micro's own for it: a left shift
    of 7, the output multiplier (2 max scale)^2 / (2^14 output scale), no fused activation."""
    _check_broadcast(ctx, op)
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    params = add_params(a, b, out, INT8_MIN, INT8_MAX, SQUARED_DIFFERENCE_LEFT_SHIFT)
    twice_max_input_scale = 2.0 * max(a.scale, b.scale)
    params["output_multiplier"], params["output_shift"] = quantize_multiplier(
        twice_max_input_scale * twice_max_input_scale /
        float(np.float32(1 << 2 * SQUARED_DIFFERENCE_LEFT_SHIFT) * np.float32(out.scale)))
    ctx.emit(op.name, [ctx.activation(a), ctx.activation(b)], [ctx.activation(out)], params, op)


def lower_mul(ctx, op):
    _check_broadcast(ctx, op)
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    ctx.emit("MUL", [ctx.activation(a), ctx.activation(b)], [ctx.activation(out)],
             mul_params(a, b, out, *activation_range(ctx, op, out)), op)


def mul_params(a, b, out, act_min, act_max):
    multiplier, shift = quantize_multiplier(a.scale * b.scale / out.scale)
    return {"input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": out.zero_point,
            "output_multiplier": multiplier, "output_shift": shift, "act_min": act_min, "act_max": act_max}


def lower_div(ctx, op):
    """int8 DIV (Keras's softsign, a division of two activations): TFLite Micro's multiplier from the scales'
    float32 quotient. Its arithmetic shifts by 32 or more for some inputs when the multiplier's shift is below 7 or
    above 22, where C leaves the result undefined: such models are refused."""
    _check_broadcast(ctx, op)
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    f32 = np.float32
    multiplier, shift = quantize_multiplier(float(f32(a.scale) / (f32(b.scale) * f32(out.scale))))
    if not 7 <= shift <= 22:
        ctx.fail(op, "its scales (%g / (%g x %g)) give a multiplier whose shift, %d, is outside 7..22: TFLite Micro's "
                     "int8 division shifts by 32 or more for some values then, which C leaves undefined"
                 % (a.scale, b.scale, out.scale, shift))
    act_min, act_max = activation_range(ctx, op, out)
    ctx.emit("DIV", [ctx.activation(a), ctx.activation(b)], [ctx.activation(out)],
             {"input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": out.zero_point,
              "output_multiplier": multiplier, "output_shift": shift, "act_min": act_min, "act_max": act_max}, op)


def _leading_sign_bits(x):
    """TFLite's CountLeadingSignBits of int32 values (31 for 0)."""
    from .nonlinear import _count_leading_zeros_u32
    x = np.asarray(x, np.int64)
    return np.where(x >= 0, _count_leading_zeros_u32(x) - 1, _count_leading_zeros_u32(2 * (-x) - 1))


def reference_div(op, inputs, outputs):
    """TFLite Micro's DivElementwise: the divisor made positive, its reciprocal from GetReciprocal (1 / x in
    [0.5, 1) and a power of two), the dividend shifted to its headroom, the two multiplied and rescaled; a
    divisor of 0 goes through GetReciprocal's arithmetic as TFLite Micro's does (its reciprocal of 1 / (1 - 1),
    wrapped)."""
    from .nonlinear import get_reciprocal
    p = op.params
    a, b = _to_output(inputs, outputs)
    x, y = _offset(a, p["input1_offset"]), _offset(b, p["input2_offset"])
    x, y = np.where(y < 0, -x, x), np.abs(y)
    inverse, recip_shift = get_reciprocal(y, 31)
    headroom = _leading_sign_bits(x)
    unscaled = saturating_rounding_doubling_high_mul(wrap_int32(x << headroom), inverse)
    shift = p["output_shift"] - recip_shift - headroom
    out = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(unscaled, p["output_multiplier"]), -shift)
    return [clamp_int8(out + p["output_offset"], p["act_min"], p["act_max"]).reshape(outputs[0].shape)]


def lower_prelu(ctx, op):
    """PRELU with a constant alpha (quantized per tensor, broadcast): TFLite Micro's two branches, x at or above its
    zero point requantized and x below it times alpha rescaled, as a LUT (x requantized, the output's zero point
    below x's), a LUT (min(x, its zero point)) then MUL by alpha, and the exact ADD of both (one of them always
    gives the output's zero point)."""
    _check_broadcast(ctx, op)
    x, alpha, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if alpha is None or alpha.data is None or alpha.dtype != np.int8 or len(alpha.scales) != 1:
        ctx.fail(op, "alpha must be an int8 constant quantized per tensor")
    source = ctx.activation(x)
    below, positive, negative = [ctx.temporary(t.shape, t.scale, t.zero_point, "%s/%s" % (op.label, what))
                                 for t, what in ((x, "below"), (out, "positive"), (out, "negative"))]
    emit_lut(ctx, op, requantize_non_negative, requantize_params(x, out), source, positive)
    emit_lut(ctx, op, at_most, {"limit": x.zero_point}, source, below)
    ctx.emit("MUL", [below, ctx.activation(alpha)], [negative], mul_params(x, alpha, out, INT8_MIN, INT8_MAX), op)
    ctx.emit("ADD", [positive, negative], [ctx.activation(out)], add_params(out, out, out, INT8_MIN, INT8_MAX), op)


def requantize_non_negative(p, x):
    """requantize() of x at or above its zero point, the output's zero point below it."""
    return requantize(p, np.maximum(x, -p["input_offset"]))


def at_most(p, x):
    return np.minimum(x, p["limit"]).astype(np.int8)


# (lowest, highest) float output of each member of the RELU family; None is unbounded.
RELU_RANGES = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def lower_relu(ctx, op):
    """TFLite's QuantizedReluX semantics: requantize from input to output scale, then clamp. (TFLite Micro's
    own int8 RELU6 clamps without requantizing; picoml follows TFLite, see docs/format.md.)"""
    input_t, out = op.inputs[0], op.outputs[0]
    low, high = RELU_RANGES[op.name]
    multiplier, shift = quantize_multiplier(input_t.scale / out.scale)
    act_min = max(INT8_MIN, quantize_float32(low, out.scale, out.zero_point))
    act_max = INT8_MAX if high is None else min(INT8_MAX, quantize_float32(high, out.scale, out.zero_point))
    params = {"input_offset": -input_t.zero_point, "output_offset": out.zero_point,
              "output_multiplier": multiplier, "output_shift": shift, "act_min": act_min, "act_max": act_max}
    emit_lut(ctx, op, relu, params, ctx.activation(input_t), ctx.activation(out))


def lower_leaky_relu(ctx, op):
    input_t, out = op.inputs[0], op.outputs[0]
    alpha = np.float32(op.options.get("Alpha", 0.2))
    # TFLite computes these products in float32 before widening to double.
    alpha_multiplier, alpha_shift = quantize_multiplier(
        float(np.float32(np.float32(input_t.scale) * alpha) / np.float32(out.scale)), signed=True)
    identity_multiplier, identity_shift = quantize_multiplier(float(np.float32(input_t.scale) / np.float32(out.scale)))
    params = {"input_offset": -input_t.zero_point, "output_offset": out.zero_point,
              "alpha_multiplier": alpha_multiplier, "alpha_shift": alpha_shift,
              "identity_multiplier": identity_multiplier, "identity_shift": identity_shift}
    emit_lut(ctx, op, leaky_relu, params, ctx.activation(input_t), ctx.activation(out))


def requantize_params(input_t, out):
    multiplier, shift = quantize_multiplier(input_t.scale / out.scale)
    return {"input_offset": -input_t.zero_point, "output_offset": out.zero_point,
            "multiplier": multiplier, "shift": shift}


def lower_quantize(ctx, op):
    input_t, out = op.inputs[0], op.outputs[0]
    if input_t.dtype != np.int8:
        ctx.fail(op, "QUANTIZE from %s is only supported at the model input" % input_t.type_name)
    emit_lut(ctx, op, requantize, requantize_params(input_t, out), ctx.activation(input_t), ctx.activation(out))


def _offset(x, offset):
    return x.astype(np.int64) + offset


def _to_output(inputs, outputs):
    """Both inputs broadcast to the output's shape, as the format says (an output dimension that both inputs
    give as 1 repeats them: the device does that, so the reference does too)."""
    return [broadcast(x, outputs[0].shape) for x in inputs]


def reference_add(op, inputs, outputs):
    """ADD, and SUB: the second input's rescaled value subtracted (TFLite's raw_sub = scaled1 - scaled2), after
    its rounding; SQUARED_DIFFERENCE: that difference squared (wrapping as C's int32)."""
    p = op.params
    inputs = _to_output(inputs, outputs)
    a = _offset(inputs[0], p["input1_offset"]) << p["left_shift"]
    b = _offset(inputs[1], p["input2_offset"]) << p["left_shift"]
    a = multiply_by_quantized_multiplier(a, p["input1_multiplier"], p["input1_shift"])
    b = multiply_by_quantized_multiplier(b, p["input2_multiplier"], p["input2_shift"])
    raw = a + b if op.name == "ADD" else a - b
    if op.name == "SQUARED_DIFFERENCE":
        raw = wrap_int32(raw * raw)
    out = multiply_by_quantized_multiplier(raw, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return [clamp_int8(out, p["act_min"], p["act_max"]).reshape(outputs[0].shape)]


def reference_mul(op, inputs, outputs):
    p = op.params
    inputs = _to_output(inputs, outputs)
    product = _offset(inputs[0], p["input1_offset"]) * _offset(inputs[1], p["input2_offset"])
    out = multiply_by_quantized_multiplier(product, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return [clamp_int8(out, p["act_min"], p["act_max"]).reshape(outputs[0].shape)]


# The functions LUT tables are computed with: f(params, int8 array) -> int8 array, element by element.

def relu(p, x):
    out = multiply_by_quantized_multiplier(_offset(x, p["input_offset"]), p["output_multiplier"],
                                           p["output_shift"]) + p["output_offset"]
    return clamp_int8(out, p["act_min"], p["act_max"])


def leaky_relu(p, x):
    x = _offset(x, p["input_offset"])
    positive = multiply_by_quantized_multiplier(x, p["identity_multiplier"], p["identity_shift"])
    negative = multiply_by_quantized_multiplier(x, p["alpha_multiplier"], p["alpha_shift"])
    return clamp_int8(np.where(x >= 0, positive, negative) + p["output_offset"])


def requantize(p, x):
    out = multiply_by_quantized_multiplier(_offset(x, p["input_offset"]), p["multiplier"], p["shift"])
    return clamp_int8(out + p["output_offset"])


LOWER = {"ADD": lower_add, "SUB": lower_add, "MUL": lower_mul, "LEAKY_RELU": lower_leaky_relu,
         "QUANTIZE": lower_quantize, "PRELU": lower_prelu, "SQUARED_DIFFERENCE": lower_squared_difference}
LOWER.update({name: lower_relu for name in RELU_RANGES})
REFERENCE = {"ADD": reference_add, "SUB": reference_add, "MUL": reference_mul, "SQUARED_DIFFERENCE": reference_add,
             "DIV": reference_div}
