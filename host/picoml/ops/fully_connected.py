"""FULLY_CONNECTED and BATCH_MATMUL: lowering and numpy reference."""
import numpy as np

from ..fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32
from ..format import MAX_DIMS
from .common import activation_range, clamp_int8
from .conv import constant_operands, requantize_channels


def lower_fully_connected(ctx, op):
    input_t, weights_t, output_t = op.inputs[0], op.inputs[1], op.outputs[0]
    bias_t = op.inputs[2] if len(op.inputs) > 2 else None
    if op.options.get("WeightsFormat", 0) != 0:
        ctx.fail(op, "shuffled weights format is not supported")
    if len(weights_t.shape) != 2:
        ctx.fail(op, "weights %r must be 2-D, got %s" % (weights_t.name, list(weights_t.shape)))
    units, depth = weights_t.shape
    size = int(np.prod(input_t.shape))
    if size % depth or int(np.prod(output_t.shape)) != size // depth * units:
        ctx.fail(op, "input %s does not fit weights %s / output %s"
                 % (list(input_t.shape), list(weights_t.shape), list(output_t.shape)))
    inputs = constant_operands(ctx, op, weights_t, bias_t, output_t, channel_axis=0)
    act_min, act_max = activation_range(ctx, op, output_t)
    params = {"output_offset": output_t.zero_point, "act_min": act_min, "act_max": act_max}
    ctx.emit("FULLY_CONNECTED", inputs, [ctx.activation(output_t)], params, op)


def reference_fully_connected(op, inputs, outputs):
    x, weights, bias, multipliers, shifts = inputs
    p = op.params
    units, depth = weights.shape
    acc = x.reshape(-1, depth).astype(np.int64) @ weights.astype(np.int64).T
    return [requantize_channels(acc, bias, multipliers, shifts, p).reshape(outputs[0].shape)]


def lower_batch_matmul(ctx, op):
    """BATCH_MATMUL (Keras Attention, MultiHeadAttention, Dot): lhs [..., M, K] (adj_x: [..., K, M]) times rhs
    [..., K, N] (adj_y: [..., N, K]) into [..., M, N], the batch axes broadcast, TFLite Micro's int8 arithmetic: the
    sum of (lhs - its zero point) (rhs - its zero point), requantized by lhs scale x rhs scale / output scale."""
    lhs, rhs, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if len(op.inputs) != 2:
        ctx.fail(op, "BATCH_MATMUL takes two inputs")
    if max(len(lhs.shape), len(rhs.shape), len(out.shape)) > MAX_DIMS or min(len(lhs.shape), len(rhs.shape)) < 2:
        ctx.fail(op, "shapes %s x %s: picoml multiplies matrices of 2 to %d dimensions"
                 % (list(lhs.shape), list(rhs.shape), MAX_DIMS))
    for t in (lhs, rhs):
        if len(t.scales) != 1:
            ctx.fail(op, "tensor %r is quantized per channel; BATCH_MATMUL takes one scale per tensor" % t.name)
    adj_x, adj_y = int(bool(op.options.get("AdjX", False))), int(bool(op.options.get("AdjY", False)))
    m, k = lhs.shape[-1:-3:-1] if adj_x else lhs.shape[-2:]
    k2, n = rhs.shape[-1:-3:-1] if adj_y else rhs.shape[-2:]
    try:
        batches = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2]) if k == k2 else None
    except ValueError:      # batch axes that do not broadcast
        batches = None
    if batches is None or tuple(out.shape) != tuple(batches) + (m, n):
        ctx.fail(op, "%s x %s (adj_x %d, adj_y %d) does not give %s"
                 % (list(lhs.shape), list(rhs.shape), adj_x, adj_y, list(out.shape)))
    try:
        multiplier, shift = quantize_multiplier(
            float(np.float32(lhs.scale) * np.float32(rhs.scale)) / float(np.float32(out.scale)))
    except ValueError as e:
        ctx.fail(op, str(e))
    act_min, act_max = activation_range(ctx, op, out)
    params = {"lhs_offset": -lhs.zero_point, "rhs_offset": -rhs.zero_point, "output_offset": out.zero_point,
              "output_multiplier": multiplier, "output_shift": shift, "act_min": act_min, "act_max": act_max,
              "adj_x": adj_x, "adj_y": adj_y}
    ctx.emit("BATCH_MATMUL", [ctx.activation(lhs), ctx.activation(rhs)], [ctx.activation(out)], params, op)


def reference_batch_matmul(op, inputs, outputs):
    lhs, rhs = inputs
    p = op.params
    a = lhs.astype(np.int64) + p["lhs_offset"]
    b = rhs.astype(np.int64) + p["rhs_offset"]
    if p["adj_x"]:
        a = np.swapaxes(a, -1, -2)
    if p["adj_y"]:
        b = np.swapaxes(b, -1, -2)
    acc = wrap_int32(np.matmul(a, b))
    out = multiply_by_quantized_multiplier(acc, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return [clamp_int8(out, p["act_min"], p["act_max"]).reshape(outputs[0].shape)]


LOWER = {"FULLY_CONNECTED": lower_fully_connected, "BATCH_MATMUL": lower_batch_matmul}
REFERENCE = {"FULLY_CONNECTED": reference_fully_connected, "BATCH_MATMUL": reference_batch_matmul}
