# picoml.kernels_viper_layout: RESIZE_BILINEAR, ARG_MAX, PAD, CONCATENATION and STRIDED_SLICE in viper code, imported
# by picoml.kernels_viper.kernel() for a model with one of them (the word-size rules, the kernel interface and the
# lines written once for every kernel: device/templates/kernels_viper.py).
import micropython
from array import array

from .kernels_viper import _kp, _run


# ---------------------------------------------------------------------------------------------------------
# RESIZE_BILINEAR: rows and cols hold kernels_python.resize_axis's triples, flat. g = (x_off, N, H, W, C, out_off,
# OH, OW)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _resize_core(S):
    t = 0
    k = 0
    xb = ptr8(S[0])
    ob = ptr8(S[1])
    g = S[2]
    rows = ptr32(S[3])
    cols = ptr32(S[4])
    xo = int(g[0])
    N = int(g[1])
    H = int(g[2])
    W = int(g[3])
    C = int(g[4])
    o = int(g[5])
    OH = int(g[6])
    OW = int(g[7])
    row = W * C
    for b in range(N):
        base = xo + b * H * row
        for y in range(OH):
            r0 = base + rows[3 * y] * row
            r1 = base + rows[3 * y + 1] * row
            fy = rows[3 * y + 2]
            for x in range(OW):
                fx = cols[3 * x + 2]
                w00 = (1024 - fy) * (1024 - fx)
                w10 = fy * (1024 - fx)
                w01 = (1024 - fy) * fx
                w11 = fy * fx
                p00 = r0 + cols[3 * x] * C
                p10 = r1 + cols[3 * x] * C
                p01 = r0 + cols[3 * x + 1] * C
                p11 = r1 + cols[3 * x + 1] * C
                for k in range(C):
                    t = (((xb[p00 + k] ^ 0x80) - 0x80) * w00 + ((xb[p10 + k] ^ 0x80) - 0x80) * w10
                         + ((xb[p01 + k] ^ 0x80) - 0x80) * w01 + ((xb[p11 + k] ^ 0x80) - 0x80) * w11)
                    if t > 0:
                        t = (t + 524288) >> 20
                    else:
                        t = 0 - ((524288 - t) >> 20)
                    ob[o] = t
                    o += 1


def prepare_resize_bilinear(p, inputs, outputs, ctx):
    xb, xo, n, h, w, c, ob, oo, rows, cols = _kp("layout").prepare_resize_bilinear(p, inputs, outputs, ctx)
    flat = []
    for axis in (rows, cols):
        a = array("i", range(3 * len(axis)))
        for i in range(len(axis)):
            a[3 * i], a[3 * i + 1], a[3 * i + 2] = axis[i]
        flat.append(a)
    return (_resize_core, (xb, ob, (xo, n, h, w, c, oo, len(rows), len(cols)), flat[0], flat[1]))


# ---------------------------------------------------------------------------------------------------------
# ARG_MAX: g = (x_off, outer, n, inner, out_off, flip), as kernels_python's state; the int32 indices written a byte
# at a time (little-endian)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _arg_max_core(S):
    k = 0
    v = 0
    xb = ptr8(S[0])
    ob = ptr8(S[1])
    g = S[2]
    xo = int(g[0])
    outer = int(g[1])
    n = int(g[2])
    inner = int(g[3])
    o = int(g[4])
    flip = int(g[5])
    for a in range(outer):
        base = xo + a * n * inner
        for i in range(inner):
            q = base + i
            best = xb[q] ^ flip
            at = 0
            for k in range(1, n):
                q += inner
                v = xb[q] ^ flip
                if v > best:
                    best = v
                    at = k
            ob[o] = at & 0xFF
            ob[o + 1] = (at >> 8) & 0xFF
            ob[o + 2] = (at >> 16) & 0xFF
            ob[o + 3] = (at >> 24) & 0xFF
            o += 4


def prepare_arg_max(p, inputs, outputs, ctx):
    xb, xo, outer, n, inner, ob, oo, flip = _kp("layout").prepare_arg_max(p, inputs, outputs, ctx)
    return (_arg_max_core, (xb, ob, (xo, outer, n, inner, oo, flip)))


# ---------------------------------------------------------------------------------------------------------
# PAD and CONCATENATION: byte copies.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _pad_core(S):
    i = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    g = S[2]
    q = int(g[0])
    oo = int(g[1])
    I0 = int(g[2])
    I1 = int(g[3])
    I2 = int(g[4])
    I3 = int(g[5])
    O1 = int(g[6])
    O2 = int(g[7])
    O3 = int(g[8])
    b0 = int(g[9])
    b1 = int(g[10])
    b2 = int(g[11])
    b3 = int(g[12])
    pad = int(g[13])
    n = int(g[14])
    for i in range(oo, oo + n):
        o[i] = pad
    for i0 in range(I0):
        for i1 in range(I1):
            for i2 in range(I2):
                d = oo + (((i0 + b0) * O1 + i1 + b1) * O2 + i2 + b2) * O3 + b3 - q
                for i in range(q, q + I3):
                    o[i + d] = x[i]
                q += I3


def prepare_pad(p, inputs, outputs, ctx):
    _kp("layout").prepare_pad(p, inputs, outputs, ctx)
    x, out = inputs[0], outputs[0]
    return (_pad_core, (x.buf, out.buf, (x.off, out.off) + tuple(x.shape4()) + tuple(out.shape4()[1:]) +
                        tuple(p[0:4]) + (p[8] & 0xFF, out.size)))


@micropython.viper
def _copy_core(S):
    """S = (xbuf, obuf, g): obuf[o + k*ostride + i] = xbuf[s + k*chunk + i] for k < outer, i < chunk, with
    g = (s, chunk, o, ostride, outer)."""
    i = 0
    x = ptr8(S[0])
    ob = ptr8(S[1])
    g = S[2]
    s = int(g[0])
    chunk = int(g[1])
    o = int(g[2])
    ostride = int(g[3])
    outer = int(g[4])
    for k in range(outer):
        d = o - s
        for i in range(s, s + chunk):
            ob[i + d] = x[i]
        s += chunk
        o += ostride


def _run_concatenation(copies):
    for S in copies:
        _copy_core(S)


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def prepare_concatenation(p, inputs, outputs, ctx):
    _kp("layout").prepare_concatenation(p, inputs, outputs, ctx)
    out = outputs[0]
    axis = p[0]
    size = out.nbytes // out.size       # bytes per value: any one dtype
    outer = _prod(out.shape[:axis])
    total = _prod(out.shape[axis:]) * size
    copies = []
    o = out.off
    for t in inputs:
        chunk = _prod(t.shape[axis:]) * size
        copies.append((t.buf, out.buf, (t.off, chunk, o, total, outer)))
        o += chunk
    return (_run_concatenation, tuple(copies))


@micropython.viper
def _slice_core(S):
    """STRIDED_SLICE: S = kernels_python.prepare_strided_slice's state (steps in bytes, any one dtype)."""
    j = 0
    x = ptr8(S[0])
    ob = ptr8(S[1])
    g = S[2]
    first = int(g[0])
    o = int(g[1])
    size = int(g[2])
    D0 = int(g[3])
    D1 = int(g[4])
    D2 = int(g[5])
    D3 = int(g[6])
    s0 = int(g[7])
    s1 = int(g[8])
    s2 = int(g[9])
    s3 = int(g[10])
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                k = first + i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(D3):
                    for j in range(size):
                        ob[o + j] = x[k + j]
                    k += s3
                    o += size


def prepare_strided_slice(p, inputs, outputs, ctx):
    return (_slice_core, _kp("layout").prepare_strided_slice(p, inputs, outputs, ctx))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_CONCATENATION: (prepare_concatenation, _run),
    _ops.OP_STRIDED_SLICE: (prepare_strided_slice, _run),
    _ops.OP_PAD: (prepare_pad, _run),
    _ops.OP_RESIZE_BILINEAR: (prepare_resize_bilinear, _run),
    _ops.OP_ARG_MAX: (prepare_arg_max, _run),
}
del _ops
