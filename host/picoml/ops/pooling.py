"""AVERAGE_POOL_2D and MAX_POOL_2D: lowering and numpy reference (no requantization: int8 pooling keeps the
input's scale and zero point, as TFLite requires); REDUCE_MAX lowered onto MAX_POOL_2D, REDUCE_MIN onto it between
LUTs; ARG_MAX and ARG_MIN (one op, ARG_MAX, with a flag)."""
import numpy as np

from .common import INT8_MAX, INT8_MIN, activation_range, clamp_int8, window_padding, windows
from .lut import emit_lut
from .mean import reduction_axes


def _lower_pool(ctx, op, name):
    input_t, output_t = op.inputs[0], op.outputs[0]
    if len(input_t.shape) != 4 or len(output_t.shape) != 4:
        ctx.fail(op, "pooling needs 4-D NHWC tensors, got %s" % list(input_t.shape))
    if input_t.scale != output_t.scale or input_t.zero_point != output_t.zero_point:
        ctx.fail(op, "input and output quantization differ (TFLite int8 pooling requires them equal)")
    stride = (op.options.get("StrideH", 1), op.options.get("StrideW", 1))
    filter_hw = (op.options.get("FilterHeight", 1), op.options.get("FilterWidth", 1))
    pad_top, pad_left = window_padding(ctx, op, input_t.shape[1:3], filter_hw, stride, (1, 1), output_t.shape[1:3])
    act_min, act_max = activation_range(ctx, op, output_t)
    params = {"stride_h": stride[0], "stride_w": stride[1], "filter_h": filter_hw[0], "filter_w": filter_hw[1],
              "pad_top": pad_top, "pad_left": pad_left, "act_min": act_min, "act_max": act_max}
    ctx.emit(name, [ctx.activation(input_t)], [ctx.activation(output_t)], params, op)


def lower_average_pool_2d(ctx, op):
    _lower_pool(ctx, op, "AVERAGE_POOL_2D")


def lower_max_pool_2d(ctx, op):
    _lower_pool(ctx, op, "MAX_POOL_2D")


def lower_reduce_max(ctx, op, reduce_min=False):
    """REDUCE_MAX (Keras GlobalMaxPooling1D/2D, ops.max) as MAX_POOL_2D over views of the input: TFLite Micro's
    int8 REDUCE_MAX keeps the input's scale and zero point and takes the plain maximum of the raw values, so a
    window of the whole reduced extent gives its bytes. Leaving out the axes of size 1, the reduced axes form runs
    of neighbouring axes; each run is one MAX_POOL_2D over the input viewed as [before, run, 1, after] (before and
    after the products of the axes on either side; after is 1 for a run ending at the last axis), with a window of
    [run, 1]: two runs (e.g. axes 1 and 3 of a 4-D tensor) are two pools, one after the other."""
    input_t, out = op.inputs[0], op.outputs[0]
    if (input_t.scale, input_t.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ (TFLite Micro's int8 %s requires them equal)" % op.name)
    axes, keep_dims = reduction_axes(ctx, op)
    if input_t.data is not None:
        reduce = input_t.data.min if reduce_min else input_t.data.max
        ctx.constant(reduce(axis=tuple(axes), keepdims=keep_dims).reshape(out.shape), out.name, out.scale,
                     out.zero_point, key=out.index)
        return
    # the axes of more than one element, each with whether it is reduced; a reduced run collapses to one position
    dims = [(d, i in axes) for i, d in enumerate(input_t.shape) if d > 1]
    current = ctx.activation(input_t)
    if reduce_min:      # min(x) = ~max(~x): ~ (-1 - x) reverses the order of the int8 values
        inverted = ctx.temporary(input_t.shape, out.scale, out.zero_point, "%s/not" % out.name)
        emit_lut(ctx, op, bitwise_not, {}, current, inverted)
        current = inverted
    while any(reduced for _, reduced in dims):
        start = [reduced for _, reduced in dims].index(True)
        end = start
        while end < len(dims) and dims[end][1]:
            end += 1
        before, run, after = (int(np.prod([d for d, _ in part], dtype=np.int64))
                              for part in (dims[:start], dims[start:end], dims[end:]))
        view = ctx.temporary((before, run, 1, after), out.scale, out.zero_point, "%s/max_input" % out.name)
        ctx.model.views[view] = current
        current = ctx.temporary((before, 1, 1, after), out.scale, out.zero_point, "%s/max" % out.name)
        params = {"stride_h": 1, "stride_w": 1, "filter_h": run, "filter_w": 1, "pad_top": 0, "pad_left": 0,
                  "act_min": INT8_MIN, "act_max": INT8_MAX}
        ctx.emit("MAX_POOL_2D", [view], [current], params, op)
        dims = dims[:start] + dims[end:]
    if reduce_min:
        emit_lut(ctx, op, bitwise_not, {}, current, ctx.activation(out))
        return
    ctx.model.views[ctx.activation(out)] = current


def lower_reduce_min(ctx, op):
    """REDUCE_MIN: REDUCE_MAX's pools between two LUTs of ~x."""
    lower_reduce_max(ctx, op, reduce_min=True)


# what to do about an arg max whose indices are not int32 (tf.argmax's default is int64)
INT32_INDICES = "use tf.argmax(..., output_type=tf.int32): TFLite Micro (and picoml) write int32 indices only"


def lower_arg_max(ctx, op):
    """ARG_MAX and ARG_MIN of an int8 activation along a constant axis into int32 indices (TFLite Micro's kernel
    writes int32 only): one ARG_MAX op over the input viewed as [outer, axis, inner] and the output as [outer,
    inner]. The raw int8 values order as the real ones (a positive scale), and ties give the first index, as
    TFLite Micro's strict comparison does."""
    from .shape import _axis, _constant_values, new_view
    x, out = op.inputs[0], op.outputs[0]
    if x.data is not None or x.dtype != np.int8 or not x.is_quantized:
        ctx.fail(op, "its input must be an int8 activation")
    if out.dtype != np.int32:
        ctx.fail(op, "an output of %s; %s" % (out.type_name, INT32_INDICES))
    axes = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "axis")
    if len(axes) != 1:
        ctx.fail(op, "axis %s: one axis" % axes)
    shape = list(x.shape)
    axis = _axis(ctx, op, axes[0], len(shape))
    if list(out.shape) != shape[:axis] + shape[axis + 1:] or shape[axis] < 1:
        ctx.fail(op, "output %s is not input %s without axis %d" % (list(out.shape), shape, axis))
    outer, inner = int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))
    source = new_view(ctx, ctx.activation(x), (outer, shape[axis], inner), x.name + "/arg")
    target = new_view(ctx, ctx.activation(out), (outer, inner), out.name + "/arg")
    ctx.emit("ARG_MAX", [source], [target], {"min": int(op.name == "ARG_MIN")}, op)


def reference_arg_max(op, inputs, outputs):
    x, = inputs
    return [(np.argmin if op.params["min"] else np.argmax)(x, axis=1).astype(np.int32)]


def bitwise_not(p, x):
    return np.invert(np.asarray(x, np.int8))


def _taps(p, x, out_shape, fill):
    return windows(x, (p["filter_h"], p["filter_w"]), (p["stride_h"], p["stride_w"]), (1, 1),
                   (p["pad_top"], p["pad_left"]), out_shape[1:3], fill)


def reference_average_pool_2d(op, inputs, outputs):
    x, = inputs
    out_shape = outputs[0].shape
    total = np.zeros(out_shape, np.int64)
    count = np.zeros(out_shape, np.int64)
    for (_, _, tap), (_, _, inside) in zip(_taps(op.params, x.astype(np.int64), out_shape, 0),
                                           _taps(op.params, np.ones(x.shape, np.int64), out_shape, 0)):
        total += tap
        count += inside
    count = np.maximum(count, 1)
    # C integer division truncates; TFLite adds half the count away from zero first.
    half = count // 2
    numerator = np.where(total > 0, total + half, total - half)
    average = np.sign(numerator) * (np.abs(numerator) // count)
    return [clamp_int8(average, op.params["act_min"], op.params["act_max"])]


def reference_max_pool_2d(op, inputs, outputs):
    x, = inputs
    out_shape = outputs[0].shape
    best = np.full(out_shape, -(1 << 20), np.int64)
    for _, _, tap in _taps(op.params, x.astype(np.int64), out_shape, -(1 << 20)):
        best = np.maximum(best, tap)
    return [clamp_int8(best, op.params["act_min"], op.params["act_max"])]


LOWER = {"AVERAGE_POOL_2D": lower_average_pool_2d, "MAX_POOL_2D": lower_max_pool_2d, "REDUCE_MAX": lower_reduce_max,
         "REDUCE_MIN": lower_reduce_min, "ARG_MAX": lower_arg_max, "ARG_MIN": lower_arg_max}
REFERENCE = {"AVERAGE_POOL_2D": reference_average_pool_2d, "MAX_POOL_2D": reference_max_pool_2d,
             "ARG_MAX": reference_arg_max}
INTEGER_OPS = frozenset(("ARG_MAX", "ARG_MIN"))     # int32 outputs (their lowering checks the dtypes)
