"""Integer (not quantized) element-wise and shape ops, as TensorFlow Lite Micro runs them on int16/int32 tensors
(the arithmetic around an audio front-end): CAST, STRIDED_SLICE, MINIMUM, MAXIMUM (any integer dtype), and ADD,
MUL, DIV on int32 (ADD_INT32, MUL_INT32, DIV_INT32): lowering and numpy reference. int32 arithmetic wraps as C's
does on every target; DIV truncates toward zero (C's /), a division by zero gives 0 and -2^31 / -1 gives -2^31."""
import numpy as np

from ..fixedpoint import INT32_MAX, INT32_MIN
from ..format import MAX_DIMS
from . import elementwise
from .shape import emit_slice, new_tensor
from .common import FUSED_ACTIVATIONS, broadcast

SUPPORTED = (np.int8, np.int16, np.int32, np.uint32, np.uint64)


def _size(t):
    return int(np.prod(t.shape, dtype=np.int64))


def _broadcast(ctx, op):
    a, b, out = op.inputs[0].shape, op.inputs[1].shape, op.outputs[0].shape
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        shape = None
    if shape != tuple(out) or len(out) > MAX_DIMS:
        ctx.fail(op, "shapes %s and %s do not broadcast to %s" % (list(a), list(b), list(out)))


def _same_dtype(ctx, op):
    dtypes = {t.dtype for t in op.inputs + op.outputs}
    if len(dtypes) != 1:
        ctx.fail(op, "its operands are %s; %s needs one dtype for all" % (
            ", ".join(t.type_name for t in op.inputs + op.outputs), op.name))
    if op.outputs[0].dtype == np.int8:
        quantizations = {(t.scale, t.zero_point) for t in op.inputs + op.outputs}
        if len(quantizations) != 1:
            ctx.fail(op, "int8 operands of different quantization: picoml compares raw values here")


def int32_activation_range(ctx, op):
    kind = FUSED_ACTIVATIONS.get(op.options.get("FusedActivationFunction", 0), "?")
    ranges = {"NONE": (INT32_MIN, INT32_MAX), "RELU": (0, INT32_MAX), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}
    if kind not in ranges:
        ctx.fail(op, "fused activation %s is not supported on int32" % kind)
    return ranges[kind]


def lower_cast(ctx, op):
    x, out = op.inputs[0], op.outputs[0]
    if _size(x) != _size(out):
        ctx.fail(op, "input %s and output %s differ in size" % (list(x.shape), list(out.shape)))
    if x.data is None and {x.dtype, out.dtype} <= _SAME_BITS:
        # between int32 and uint32 every value keeps its 32 bits (C's conversion modulo 2^32, TFLite Micro's
        # static_cast): the output is a view of the input's bytes, as a reshape's, and no op runs
        ctx.alias(out, x)
        return
    ctx.emit("CAST", [ctx.activation(x)], [ctx.activation(out)], {}, op)


_SAME_BITS = frozenset((np.dtype(np.int32), np.dtype(np.uint32)))


def _slice_axis(dim, begin, end, stride, begin_masked, end_masked, shrink, offset):
    """(start, count) of one axis, as TFLite's strided_slice_logic (StartForAxis, StopForAxis)."""
    if begin_masked:
        start = 0 if stride > 0 else dim - 1
    else:
        start = begin + dim if begin < 0 else begin
        start = min(max(start, 0), dim) if stride > 0 else min(max(start, -1), dim - 1)
    if shrink:
        return start, 1
    if end_masked:
        stop = dim if stride > 0 else -1
    else:
        stop = begin + end if offset else end
        stop = stop + dim if stop < 0 else stop
        stop = min(max(stop, 0), dim) if stride > 0 else min(max(stop, -1), dim - 1)
    count = -(-(stop - start) // stride) if stride > 0 else -(-(start - stop) // -stride)
    return start, max(count, 0)


def lower_strided_slice(ctx, op):
    x, out = op.inputs[0], op.outputs[0]
    if x.dtype != out.dtype:
        ctx.fail(op, "input %s and output %s differ in dtype" % (x.type_name, out.type_name))
    rank = len(x.shape)
    if rank > MAX_DIMS:
        ctx.fail(op, "a %d-D input: the format holds at most %d dimensions" % (rank, MAX_DIMS))
    o = op.options
    if o.get("EllipsisMask", 0) or o.get("NewAxisMask", 0):
        ctx.fail(op, "ellipsis_mask and new_axis_mask are not supported")
    vectors = []
    for t, what in zip(op.inputs[1:4], ("begin", "end", "strides")):
        if t is None or t.data is None or t.data.size != rank:
            ctx.fail(op, "%s must be a constant of %d values" % (what, rank))
        vectors.append([int(v) for v in t.data.reshape(-1)])
    begin, end, strides = vectors
    starts, counts = [], []
    for i in range(rank):
        if strides[i] == 0:
            ctx.fail(op, "stride %d of axis %d: strides must not be 0" % (strides[i], i))
        start, count = _slice_axis(x.shape[i], begin[i], end[i], strides[i], o.get("BeginMask", 0) >> i & 1,
                                   o.get("EndMask", 0) >> i & 1, o.get("ShrinkAxisMask", 0) >> i & 1,
                                   o.get("Offset", False))
        starts.append(start)
        counts.append(count)
    kept = tuple(c for i, c in enumerate(counts) if not o.get("ShrinkAxisMask", 0) >> i & 1)
    if min(counts, default=1) < 1 or kept != tuple(out.shape):
        ctx.fail(op, "the slice of %s is %s, the output %s" % (list(x.shape), counts, list(out.shape)))
    target = ctx.activation(out)
    if tuple(counts) != tuple(out.shape):   # shrunk axes: the op writes the slice with them, the output is a view
        target = new_tensor(ctx, target, counts, out.name + "/slice")
        ctx.model.views[ctx.activation(out)] = target
    emit_slice(ctx, op, ctx.activation(x), starts, strides, target)


def lower_slice(ctx, op):
    """SLICE (tf.slice): a STRIDED_SLICE of `size` elements from `begin` on each axis (size -1: to the end)."""
    x, out = op.inputs[0], op.outputs[0]
    rank = len(x.shape)
    if x.dtype != out.dtype or rank > MAX_DIMS:
        ctx.fail(op, "a %d-D %s input and a %s output: SLICE keeps the dtype, in at most %d dimensions"
                 % (rank, x.type_name, out.type_name, MAX_DIMS))
    vectors = []
    for t, what in zip(op.inputs[1:3], ("begin", "size")):
        if t is None or t.data is None or t.data.size != rank:
            ctx.fail(op, "%s must be a constant of %d values" % (what, rank))
        vectors.append([int(v) for v in t.data.reshape(-1)])
    begin, size = vectors
    counts = [d - b if n == -1 else n for d, b, n in zip(x.shape, begin, size)]
    if any(b < 0 or n < 1 or b + n > d for d, b, n in zip(x.shape, begin, counts)) or tuple(counts) != tuple(out.shape):
        ctx.fail(op, "a slice of %s from %s of sizes %s is not inside the input or is not the output %s"
                 % (list(x.shape), begin, size, list(out.shape)))
    emit_slice(ctx, op, ctx.activation(x), begin, [1] * rank, ctx.activation(out))


def lower_min_max(ctx, op):
    _broadcast(ctx, op)
    _same_dtype(ctx, op)
    ctx.emit(op.name, [ctx.activation(t) for t in op.inputs], [ctx.activation(op.outputs[0])], {}, op)


def _lower_int32(ctx, op, name):
    _broadcast(ctx, op)
    if any(t.dtype != np.int32 for t in op.inputs + op.outputs):
        ctx.fail(op, "%s on %s: picoml runs it on int8 (quantized) and int32" % (
            op.name, ", ".join(t.type_name for t in op.inputs + op.outputs)))
    act_min, act_max = int32_activation_range(ctx, op)
    ctx.emit(name, [ctx.activation(t) for t in op.inputs], [ctx.activation(op.outputs[0])],
             {"act_min": act_min, "act_max": act_max}, op)


def _quantized_or_int32(lower_int8, name):
    """ADD, MUL, DIV: the int8 (quantized) lowering for an int8 output, the int32 one otherwise (the importer
    checks an int8 op's tensors as for any int8 op, see INT32_OPS)."""
    def lower(ctx, op):
        if op.outputs[0].dtype == np.int8 and lower_int8 is not None:
            return lower_int8(ctx, op)
        return _lower_int32(ctx, op, name)
    return lower


# ---------------------------------------------------------------------------------------------------------------
# numpy reference
# ---------------------------------------------------------------------------------------------------------------

def _wrap32(x):
    return np.asarray(x, np.int64).astype(np.int32)


def _operands(inputs, outputs):
    return [broadcast(x, outputs[0].shape).astype(np.int64) for x in inputs]


def cast(x, dtype):
    """C's conversion of each integer to `dtype` (the low bits, two's complement)."""
    return np.asarray(x).astype(np.int64 if np.asarray(x).dtype != np.uint64 else np.uint64).astype(dtype)


def strided_slice(x, begins, strides, out_shape):
    """x (right-aligned to 4-D) at begin + i * stride on each axis, for the output's (4-D) indices."""
    x4 = np.asarray(x).reshape((1,) * (MAX_DIMS - np.ndim(x)) + tuple(np.shape(x)))
    o4 = (1,) * (MAX_DIMS - len(out_shape)) + tuple(out_shape)
    index = tuple(np.asarray(begins[d]) + np.arange(o4[d]) * strides[d] for d in range(MAX_DIMS))
    return x4[np.ix_(*index)].reshape(out_shape)


def add_int32(a, b, act_min, act_max):
    return np.clip(_wrap32(np.asarray(a, np.int64) + np.asarray(b, np.int64)), act_min, act_max).astype(np.int32)


def mul_int32(a, b, act_min, act_max):
    return np.clip(_wrap32(np.asarray(a, np.int64) * np.asarray(b, np.int64)), act_min, act_max).astype(np.int32)


def div_int32(a, b, act_min, act_max):
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    safe = np.where(b == 0, 1, b)
    q = np.abs(a) // np.abs(safe) * np.sign(a) * np.sign(safe)       # truncation toward zero
    return np.clip(_wrap32(np.where(b == 0, 0, q)), act_min, act_max).astype(np.int32)


def reference_cast(op, inputs, outputs):
    return [cast(inputs[0], outputs[0].dtype).reshape(outputs[0].shape)]


def reference_strided_slice(op, inputs, outputs):
    p = op.params
    return [strided_slice(inputs[0], [p["begin_%d" % d] for d in range(MAX_DIMS)],
                          [p["stride_%d" % d] for d in range(MAX_DIMS)], outputs[0].shape)]


def reference_minimum(op, inputs, outputs):
    a, b = [broadcast(x, outputs[0].shape) for x in inputs]
    return [np.minimum(a, b).astype(outputs[0].dtype)]


def reference_maximum(op, inputs, outputs):
    a, b = [broadcast(x, outputs[0].shape) for x in inputs]
    return [np.maximum(a, b).astype(outputs[0].dtype)]


def _reference_int32(fn):
    def reference(op, inputs, outputs):
        a, b = _operands(inputs, outputs)
        return [fn(a, b, op.params["act_min"], op.params["act_max"]).reshape(outputs[0].shape)]
    return reference


LOWER = {"CAST": lower_cast, "STRIDED_SLICE": lower_strided_slice, "SLICE": lower_slice, "MINIMUM": lower_min_max,
         "MAXIMUM": lower_min_max, "ADD": _quantized_or_int32(elementwise.lower_add, "ADD_INT32"),
         "MUL": _quantized_or_int32(elementwise.lower_mul, "MUL_INT32"),
         "DIV": _quantized_or_int32(elementwise.lower_div, "DIV_INT32")}
REFERENCE = {"CAST": reference_cast, "STRIDED_SLICE": reference_strided_slice, "MINIMUM": reference_minimum,
             "MAXIMUM": reference_maximum, "ADD_INT32": _reference_int32(add_int32),
             "MUL_INT32": _reference_int32(mul_int32), "DIV_INT32": _reference_int32(div_int32)}
# TFLite ops these lowerings take whatever their dtypes (they check them); RESHAPE and the other views too
INTEGER_OPS = frozenset(("CAST", "STRIDED_SLICE", "SLICE", "MINIMUM", "MAXIMUM", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
                         "CONCATENATION"))
# TFLite ops that are int8 (quantized) ops with an int8 output and integer ones otherwise
INT32_OPS = frozenset(("ADD", "MUL", "DIV"))


# Frame-batched kernels (reference.run_frames): activations with a leading frames axis, constants without, which
# NumPy broadcasting right-aligns as the format does
def _batched_binary(fn):
    def batched(op, inputs, outputs, n):
        a, b = [np.asarray(x) for x in inputs]
        return [np.broadcast_to(fn(op, a, b, outputs[0]), (n,) + tuple(outputs[0].shape)).copy()]
    return batched


def _batched_concatenation(op, inputs, outputs, n):
    rank = len(outputs[0].shape)
    parts = [x if np.ndim(x) == rank + 1 else np.broadcast_to(x, (n,) + np.shape(x)) for x in inputs]
    return [np.concatenate(parts, axis=op.params["axis"] + 1)]


BATCHED = {"CAST": lambda op, inputs, outputs, n: [cast(inputs[0], outputs[0].dtype)],
           "MINIMUM": _batched_binary(lambda op, a, b, t: np.minimum(a, b).astype(t.dtype)),
           "MAXIMUM": _batched_binary(lambda op, a, b, t: np.maximum(a, b).astype(t.dtype)),
           "ADD_INT32": _batched_binary(lambda op, a, b, t: add_int32(a, b, op.params["act_min"], op.params["act_max"])),
           "MUL_INT32": _batched_binary(lambda op, a, b, t: mul_int32(a, b, op.params["act_min"], op.params["act_max"])),
           "DIV_INT32": _batched_binary(lambda op, a, b, t: div_int32(a, b, op.params["act_min"], op.params["act_max"])),
           "CONCATENATION": _batched_concatenation}
