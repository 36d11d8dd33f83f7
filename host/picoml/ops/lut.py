"""LUT: the one op for every int8 -> int8 element-wise function of a single value (the RELU family, LEAKY_RELU,
int8 QUANTIZE, LOGISTIC, TANH, HARD_SWISH, ABS, RSQRT, ELU, ~x for REDUCE_MIN, a float island's QUANTIZE). Their
lowerings compute the function's 256 outputs on the host with its numpy reference (so a LUT gives exactly that
function's bytes) and store them as a 256-byte constant; every backend then only looks values up."""
import numpy as np

BYTE_VALUES = np.arange(256, dtype=np.uint8).view(np.int8)     # BYTE_VALUES[u]: the int8 whose byte is u


def table(fn, params):
    """fn(params, x) on every int8 value, in byte order: table[u] = fn(params, the int8 whose byte is u)."""
    values = np.asarray(fn(params, BYTE_VALUES))
    assert values.dtype == np.int8 and values.shape == (256,), (values.dtype, values.shape)
    return values


def emit_lut(ctx, op, fn, params, x, out):
    """Emit the LUT op applying fn (with params) to activation x, writing activation out."""
    lut = ctx.constant(table(fn, params), "%s/%s" % (op.label, fn.__name__))
    ctx.emit("LUT", [x, lut], [out], {}, op)


def reference_lut(op, inputs, outputs):
    x, lut = inputs
    # the table is 256 values of any rank (the format checks its count), read flat
    return [np.ravel(lut)[np.ascontiguousarray(x).view(np.uint8)].reshape(outputs[0].shape)]


LOWER = {}
REFERENCE = {"LUT": reference_lut}
