"""Ops that move bytes without arithmetic: RESHAPE / SQUEEZE / EXPAND_DIMS (views sharing their input's bytes,
no op emitted), CONCATENATION and PAD."""
import numpy as np

from ..format import MAX_DIMS
from .common import FUSED_ACTIVATIONS
from .elementwise import requantize, requantize_params
from .lut import emit_lut


def lower_view(ctx, op):
    input_t, out = op.inputs[0], op.outputs[0]
    if int(np.prod(input_t.shape)) != int(np.prod(out.shape)):
        ctx.fail(op, "cannot view %s as %s" % (list(input_t.shape), list(out.shape)))
    if input_t.data is not None:
        ctx.constant(input_t.data.reshape(out.shape), out.name, out.scale, out.zero_point, key=out.index)
        return
    if (input_t.scale, input_t.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "a reshape that changes quantization parameters is not supported")
    ctx.alias(out, input_t)


def lower_concatenation(ctx, op):
    out = op.outputs[0]
    rank = len(out.shape)
    axis = op.options.get("Axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        ctx.fail(op, "axis %d is out of range for rank %d" % (op.options.get("Axis", 0), rank))
    if FUSED_ACTIVATIONS.get(op.options.get("FusedActivationFunction", 0)) != "NONE":
        ctx.fail(op, "a fused activation on CONCATENATION is not supported")
    inputs = []
    for t in op.inputs:
        if len(t.shape) != rank or any(t.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            ctx.fail(op, "input %s does not fit output %s on axis %d" % (list(t.shape), list(out.shape), axis))
        index = ctx.activation(t)
        if t.dtype != out.dtype:
            ctx.fail(op, "input %r is %s and the output %s" % (t.name, t.type_name, out.type_name))
        if (t.scale, t.zero_point) != (out.scale, out.zero_point) and out.dtype != np.int8:
            ctx.fail(op, "%s inputs of a quantization other than the output's" % out.type_name)
        if (t.scale, t.zero_point) != (out.scale, out.zero_point):
            # TFLite rescales in float here; TFLite Micro refuses. picoml requantizes in fixed point first.
            requantized = ctx.temporary(t.shape, out.scale, out.zero_point, t.name + "/requantized")
            emit_lut(ctx, op, requantize, requantize_params(t, out), index, requantized)
            index = requantized
        inputs.append(index)
    if sum(op.inputs[i].shape[axis] for i in range(len(op.inputs))) != out.shape[axis]:
        ctx.fail(op, "the inputs' sizes on axis %d do not add up to the output's" % axis)
    ctx.emit("CONCATENATION", inputs, [ctx.activation(out)], {"axis": axis}, op)


def lower_pad(ctx, op):
    input_t, paddings_t, out = op.inputs[0], op.inputs[1], op.outputs[0]
    rank = len(input_t.shape)
    if paddings_t.data is None or paddings_t.data.shape != (rank, 2):
        ctx.fail(op, "paddings must be a constant of shape [%d, 2]" % rank)
    if rank > MAX_DIMS:
        ctx.fail(op, "padding a %d-D tensor is not supported" % rank)
    if (input_t.scale, input_t.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ")
    pad_value = out.zero_point
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] is not None:
        if op.inputs[2].data is None:
            ctx.fail(op, "the pad value must be a constant")
        pad_value = int(op.inputs[2].data.reshape(-1)[0])
    pads = np.zeros((MAX_DIMS, 2), np.int64)
    pads[MAX_DIMS - rank:] = paddings_t.data
    if np.any(pads < 0) or tuple(np.add(input_t.shape, pads[MAX_DIMS - rank:].sum(1))) != out.shape:
        ctx.fail(op, "paddings %s do not turn %s into %s" % (paddings_t.data.tolist(), list(input_t.shape), list(out.shape)))
    params = {"pad_before_%d" % i: pads[i, 0] for i in range(MAX_DIMS)}
    params.update({"pad_after_%d" % i: pads[i, 1] for i in range(MAX_DIMS)})
    params["pad_value"] = pad_value
    ctx.emit("PAD", [ctx.activation(input_t)], [ctx.activation(out)], params, op)


def reference_concatenation(op, inputs, outputs):
    return [np.concatenate(inputs, axis=op.params["axis"])]


def reference_pad(op, inputs, outputs):
    x, = inputs
    p = op.params
    pads = [(p["pad_before_%d" % i], p["pad_after_%d" % i]) for i in range(MAX_DIMS)][MAX_DIMS - x.ndim:]
    return [np.pad(x, pads, constant_values=p["pad_value"])]


LOWER = {"RESHAPE": lower_view, "SQUEEZE": lower_view, "EXPAND_DIMS": lower_view,
         "CONCATENATION": lower_concatenation, "PAD": lower_pad, "PADV2": lower_pad}
REFERENCE = {"CONCATENATION": reference_concatenation, "PAD": reference_pad}
