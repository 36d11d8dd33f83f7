# picoml.kernels_viper_pool: AVERAGE_POOL_2D, MAX_POOL_2D and MEAN in viper code, imported by
# picoml.kernels_viper.kernel() for a model with one of them (the word-size rules, the kernel interface and the lines
# written once for every kernel: device/templates/kernels_viper.py).
import micropython

from .kernels_viper import (_EXT, _fallback, _in_int32, _kp, _out_range, _pair, _records, _run, _runs,
                            _scratch_bytes, _wrap32)


# ---------------------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D and MAX_POOL_2D. g = (x_off, N, H, W, C, out_off, OH, OW, stride_h, stride_w, filter_h,
# filter_w, pad_top, pad_left, act_min, act_max, kind) with kind 0 average, 1 max.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _pool_core(S):
    i = 0
    total = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    g = S[2]
    xo = int(g[0])
    N = int(g[1])
    H = int(g[2])
    W = int(g[3])
    C = int(g[4])
    out = int(g[5])
    OH = int(g[6])
    OW = int(g[7])
    sh = int(g[8])
    sw = int(g[9])
    fh = int(g[10])
    fw = int(g[11])
    pt = int(g[12])
    pl = int(g[13])
    amin = int(g[14])
    amax = int(g[15])
    kind = int(g[16])
    row = W * C
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            y0 = oy * sh - pt
            y1 = y0 + fh
            if y0 < 0:
                y0 = 0
            if y1 > H:
                y1 = H
            for ox in range(OW):
                x0 = ox * sw - pl
                x1 = x0 + fw
                if x0 < 0:
                    x0 = 0
                if x1 > W:
                    x1 = W
                count = 0
                if y1 > y0 and x1 > x0:
                    count = (y1 - y0) * (x1 - x0)
                if count < 1:
                    count = 1
                half = count >> 1
                base = xn + y0 * row + x0 * C
                for c in range(C):
                    if kind:
                        a = -1048576
                        for y in range(y0, y1):
                            i = base + (y - y0) * row + c
                            for xx in range(x0, x1):
                                v = (x[i] ^ 0x80) - 0x80
                                if v > a:
                                    a = v
                                i += C
                    else:
                        total = 0
                        for y in range(y0, y1):
                            i = base + (y - y0) * row + c
                            for xx in range(x0, x1):
                                total += (x[i] ^ 0x80) - 0x80
                                i += C
                        if total > 0:
                            a = (total + half) // count
                        else:
                            a = 0 - (half - total) // count
                    if a < amin:
                        a = amin
                    elif a > amax:
                        a = amax
                    o[out] = a
                    out += 1


def _prepare_pool(is_max, p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    N, H, W, C = x.shape
    return (_pool_core, (x.buf, out.buf, (x.off, N, H, W, C, out.off, out.shape[1], out.shape[2]) + tuple(p) +
                         (is_max,)))


def prepare_average_pool_2d(p, inputs, outputs, ctx):
    return _prepare_pool(0, p, inputs, outputs, ctx)


def prepare_max_pool_2d(p, inputs, outputs, ctx):
    return _prepare_pool(1, p, inputs, outputs, ctx)


# ---------------------------------------------------------------------------------------------------------
# MEAN: sums per output element in an int32 array, less zp * count, then _requant_array.
# g = (x_off, D0, D1, D2, D3, s0, s1, s2, s3, n_out, sub); R = _requant_array's S.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _requant_array(abuf, obuf, S, n: int):
    """Requantize the n int32 values of abuf with the records q (step q_step bytes) of S = (g, q), g = (out_off,
    output_offset, lo, hi, act_min, act_max, q_step, raw): to clamped int8 at obuf[out_off + k], or with raw
    set to int32 obuf[k] without offset or clamp (for the tests)."""
    a = ptr32(abuf)
    o = ptr8(obuf)
    o32 = ptr32(obuf)
    g = S[0]
    q = ptr16(S[1])
    out = int(g[0])
    ooff = int(g[1])
    lo = int(g[2])
    hi = int(g[3])
    amin = int(g[4])
    amax = int(g[5])
    qstep = int(g[6])
    raw = int(g[7])
    ext = int(_EXT)
    r = int(q)
    for k in range(n):
        acc = a[k]
        #: requantize
        r += qstep
        if raw:
            o32[k] = v
            continue
        #: clamp
        out += 1


@micropython.viper
def _mean_core(S):
    k = 0
    i = 0
    x = ptr8(S[0])
    accbuf = S[1]
    a = ptr32(accbuf)
    g = S[2]
    R = S[3]
    i = int(g[0])
    D0 = int(g[1])
    D1 = int(g[2])
    D2 = int(g[3])
    D3 = int(g[4])
    s0 = int(g[5])
    s1 = int(g[6])
    s2 = int(g[7])
    s3 = int(g[8])
    n = int(g[9])
    sub = int(g[10])
    for k in range(n):
        a[k] = 0 - sub
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                k = i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(D3):
                    a[k] = a[k] + ((x[i] ^ 0x80) - 0x80)
                    i += 1
                    k += s3
    _requant_array(accbuf, R[0], R[1], n)


def prepare_mean(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    axis_mask, in_zp, out_zp, multiplier, shift = p
    shape4 = x.shape4()
    lead = 4 - len(x.shape)
    count = 1
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if i >= lead and axis_mask >> (i - lead) & 1:
            count *= shape4[i]
        else:
            strides[i] = s
            s *= shape4[i]
    lo, hi = _out_range(out_zp, -128, 127)
    q = _pair(multiplier, shift)
    if q is None or not _in_int32(lo, hi):
        return _fallback(_runs().run_mean, _kp("pool").prepare_mean(p, inputs, outputs, ctx))
    g = (x.off,) + tuple(shape4) + tuple(strides) + (out.size, _wrap32(in_zp * count))
    R = (out.buf, ((out.off, out_zp, lo, hi, -128, 127, 0, 0), _records(q)))
    return (_mean_core, (x.buf, _scratch_bytes(ctx, 4 * out.size), g, R))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_AVERAGE_POOL_2D: (prepare_average_pool_2d, _run),
    _ops.OP_MAX_POOL_2D: (prepare_max_pool_2d, _run),
    _ops.OP_MEAN: (prepare_mean, _run),
}
del _ops
