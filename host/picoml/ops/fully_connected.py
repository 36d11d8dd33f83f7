"""FULLY_CONNECTED: lowering and numpy reference."""
import numpy as np

from .common import activation_range
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


LOWER = {"FULLY_CONNECTED": lower_fully_connected}
REFERENCE = {"FULLY_CONNECTED": reference_fully_connected}
