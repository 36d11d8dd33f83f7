# picoml on the device: Model.predict's conversions of real values (floats in, floats out) and of wide-integer
# inputs given as values, and predict for several inputs or outputs. Not needed by a model of one int8 input and
# output fed int8 bytes, so picoml.model imports this module on the first call that needs it (and keeps it): its
# code is in RAM only for the applications that use it.
from array import array

from .model import _ALL, _SEQUENCES, _WIDTH, _error

_F32 = array("f", [0.0])    # float32 rounding: a value stored here and read back is rounded to float32


def quantize(model, i, values):
    """The real values into input i: round half away from zero of value / scale in float32, plus the zero point,
    clamped to int8."""
    io = model.inputs[i]
    shape, scale, zp, mv = io.shape, io.scale, io.zero_point, io.data
    n = len(mv)
    if io.dtype != 1:       # an int16/int32 input (an audio front-end's samples): its values, as they are
        width = _WIDTH[io.dtype]
        if len(values) * width != n:
            raise _error(3, i, shape, len(values))  # INPUT_SIZE
        for k in range(len(values)):
            if not isinstance(values[k], int):
                raise _error(13, i, io.dtype, k, values[k])  # INPUT_INTEGER
        put_wide(model, i, values)
        return
    if len(values) != n:
        raise _error(3, i, shape, len(values))  # INPUT_SIZE
    if not scale > 0:
        raise _error(5, i)  # INPUT_SCALE
    f = _F32
    f[0] = scale
    scale = f[0]
    for k in range(n):
        try:
            f[0] = values[k]            # as float32
        except TypeError:
            raise _error(6, i, k, values[k])  # INPUT_NUMBER
        f[0] = f[0] / scale             # the division in float32
        q = f[0]
        if q != q:
            raise _error(7, i, k)  # INPUT_NAN
        a = -q if q < 0 else q
        if a > 1000.0:
            r = 1000
        else:
            r = int(a)
            if a - r >= 0.5:            # round half away from zero
                r += 1
        if q < 0:
            r = -r
        r += zp
        if r < -128:
            r = -128
        elif r > 127:
            r = 127
        mv[k] = r & 0xFF


def dequantize(model, j, out):
    """Output j into `out` (a list or array('f') of its length) as (q - zero_point) * scale in float32; an output of
    a wider integer dtype as its values (a list or array of its length)."""
    io = model.outputs[j]
    src = io.data
    n = len(src)
    if io.dtype != 1:
        _integers(src, io.dtype, io.shape, j, out)
        return
    if len(out) != n:
        raise _error(8, j, io.shape, len(out))  # OUTPUT_SIZE
    scale, zp = io.scale, io.zero_point
    if not scale > 0:       # (a front-end's features: int8 values without a scale) no floats to give
        raise _error(15, j)  # OUTPUT_SCALE
    f = _F32
    for k in range(n):
        q = src[k]
        if q > 127:
            q -= 256
        f[0] = (q - zp) * scale     # exact in double, rounded once to float32
        out[k] = f[0]


def _integers(src, dtype, shape, j, out):
    """The little-endian values of dtype (2 int16, 3 int32, 4 uint32, 5 uint64) in src, into out."""
    width = (0, 1, 2, 4, 4, 8)[dtype]
    n = len(src) // width
    if len(out) != n:
        raise _error(8, j, shape, len(out))  # OUTPUT_SIZE
    top = 1 << (8 * width - 1) if dtype <= 3 else 0      # int16 and int32 are signed
    o = 0
    for k in range(n):
        v = 0
        for b in range(width):
            v |= src[o + b] << (8 * b)
        o += width
        if top and v >= top:
            v -= top << 1
        out[k] = v


def put_wide(model, i, x):
    """The integer values x into input i (int16, int32, ...) as little-endian values (C's conversion: the low bytes).
    Not bytes or a bytearray (raw bytes, not values: half an int16 input's bytes, say, would be taken as as many
    samples of 0..255)."""
    io = model.inputs[i]
    mv = io.data
    width = _WIDTH[io.dtype]
    if isinstance(x, (bytes, bytearray)):
        raise _error(14, i, io.dtype, len(mv), len(x))  # INPUT_BYTES
    o = 0
    for k in range(len(x)):
        v = x[k]
        for b in range(width):
            mv[o] = v & 0xFF
            v >>= 8
            o += 1


def predict_many(model, x, out):
    """Model.predict for a model of several inputs or outputs (x, out: as predict takes them)."""
    if model._n_in == 1:
        model._put(0, x)
    else:
        if not isinstance(x, _SEQUENCES) or len(x) != model._n_in:
            raise _error(0, model._n_in)  # INPUT_LIST
        for i in range(model._n_in):
            model._put(i, x[i])
    model._run()
    model._ran = True
    if model._n_out == 1:
        if out is None:
            model._out_view[0][_ALL] = model.outputs[0].data
            return model._out[0]
        model._fill(0, out)
        return out
    if out is None:
        for j in range(model._n_out):
            view = model._out_view[j]
            view[_ALL] = model.outputs[j].data
        return model._out
    if not isinstance(out, _SEQUENCES) or len(out) != model._n_out:
        raise _error(1, model._n_out)  # OUTPUT_LIST
    for j in range(model._n_out):
        model._fill(j, out[j])
    return out
