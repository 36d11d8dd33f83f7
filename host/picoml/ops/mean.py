"""Int8 MEAN (and SUM) over a constant set of axes: lowering (TFLite Micro's PrepareMeanOrSum) and a numpy reference
bit-exact with TFLite Micro's EvalMeanHelper for int8.

TFLite Micro's int8 path (EvalIntegerMean -> reference_ops::QuantizedMeanOrSum) sums the int8 values into an
int32, subtracts input_zero_point * n (n = number of reduced elements), rescales with the Prepare multiplier of
input_scale / output_scale into which it folds 1/n at run time (see `fold_count`), adds the output zero point and
clamps. It takes that path even when input and output quantization are equal (older TFLite Micro versions then
divided the raw sum with truncation, and earlier still had a 4-D "axes 1 and 2, keep_dims" special kernel).

The .pml params `multiplier` and `shift` are the Prepare values with 1/n already folded in, so the device does
no 64-bit division.

More than two reduced axes: TFLite Micro resolves the axes into a two-entry stack array (kMaxNumberOfReducedAxis),
so it writes past it; the PyPI build still computes what this reference does, and picoml's kernel has no such
limit, so any set of axes is accepted.
"""
import numpy as np

from ..fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32
from ..format import MAX_DIMS
from .common import INT8_MAX, INT8_MIN


def resolve_axes(axes, rank):
    """TFLite's ResolveAxis: negative axes counted from the end, duplicates dropped; None if one is out of range."""
    resolved = []
    for a in np.asarray(axes, dtype=np.int64).reshape(-1):
        a = int(a) + rank if a < 0 else int(a)
        if not 0 <= a < rank:
            return None
        if a not in resolved:
            resolved.append(a)
    return resolved


def reduction_axes(ctx, op):
    """(axes, keep_dims) of a TFLite reduction (MEAN, REDUCE_MAX): the constant axes resolved as TFLite does, after
    checking that the output shape follows from them and that no reduced axis is empty."""
    input_t, out = op.inputs[0], op.outputs[0]
    rank = len(input_t.shape)
    if rank > MAX_DIMS:
        ctx.fail(op, "input has %d dimensions, at most %d are supported" % (rank, MAX_DIMS))
    if len(op.inputs) < 2 or op.inputs[1] is None or op.inputs[1].data is None:
        ctx.fail(op, "the reduction axes must be a constant tensor")
    if op.inputs[1].data.dtype != np.int32:     # as TFLite Micro's Prepare requires
        ctx.fail(op, "the reduction axes are %s, not int32" % op.inputs[1].data.dtype)
    axes = resolve_axes(op.inputs[1].data, rank)
    if axes is None:
        ctx.fail(op, "reduction axes %s out of range for a %d-D input" % (list(op.inputs[1].data.reshape(-1)), rank))
    keep_dims = bool(op.options.get("KeepDims", False))
    expected = tuple(1 if i in axes else d for i, d in enumerate(input_t.shape) if keep_dims or i not in axes)
    if int(np.prod(expected, dtype=np.int64)) != int(np.prod(out.shape, dtype=np.int64)) or \
            (keep_dims and tuple(out.shape) != expected):
        ctx.fail(op, "output shape %s does not follow from input %s reduced over axes %s"
                 % (list(out.shape), list(input_t.shape), axes))
    if any(input_t.shape[a] == 0 for a in axes):
        ctx.fail(op, "the reduced axes are empty")
    return axes, keep_dims


def lower_mean(ctx, op):
    """MEAN, and SUM: the same arithmetic without the division by the count (compute_sum)."""
    input_t, out = op.inputs[0], op.outputs[0]
    if np.dtype(input_t.dtype) != np.int8 or np.dtype(out.dtype) != np.int8:
        ctx.fail(op, "only int8 %s is supported" % op.name)
    if not (input_t.scale > 0 and out.scale > 0):
        ctx.fail(op, "input and output must be quantized with positive scales")
    axes, _ = reduction_axes(ctx, op)
    count = int(np.prod([input_t.shape[a] for a in axes], dtype=np.int64)) if op.name == "MEAN" else 1
    multiplier, shift = fold_count(*quantize_multiplier(input_t.scale / out.scale), count)
    params = {"axis_mask": sum(1 << a for a in axes), "input_zero_point": int(input_t.zero_point),
              "output_zero_point": int(out.zero_point), "multiplier": multiplier, "shift": shift}
    ctx.emit("MEAN", [ctx.activation(input_t)], [ctx.activation(out)], params, op)


def fold_count(multiplier, shift, count):
    """QuantizedMeanOrSum's run-time folding of 1/count into (multiplier, shift), done here on the host:
    with k = floor(log2(count)) capped at 32 and at 31 + shift,
    multiplier' = (multiplier << k) // count (64-bit, truncating) and shift' = shift - k."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return ((multiplier << k) // count), shift - k


def reference_mean(op, inputs, outputs):
    p = op.params
    x = inputs[0].astype(np.int64)
    axes = tuple(i for i in range(x.ndim) if p["axis_mask"] >> i & 1)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    sums = wrap_int32(x.sum(axis=axes))                     # int32 accumulator
    shape = outputs[0].shape
    shifted = wrap_int32(sums - p["input_zero_point"] * count)
    out = multiply_by_quantized_multiplier(shifted, p["multiplier"], p["shift"]) + p["output_zero_point"]
    return [np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8).reshape(shape)]


LOWER = {"MEAN": lower_mean, "SUM": lower_mean}
REFERENCE = {"MEAN": reference_mean}
