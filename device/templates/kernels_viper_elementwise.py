# picoml.kernels_viper_elementwise: ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE and LUT in viper code, imported by
# picoml.kernels_viper.kernel() for a model with one of them (the word-size rules, the kernel interface and the lines
# written once for every kernel: device/templates/kernels_viper.py).
import micropython
from array import array

from .kernels_viper import (_EXT, _INT32_MIN, _byte_table, _fallback, _in_int32, _kp, _out_range, _pair, _records,
                            _run, _runs, _wrap32)


# ---------------------------------------------------------------------------------------------------------
# ADD, SUB, MUL and DIV with NumPy broadcasting, from per-input 256-entry int32 tables made at load: ADD (x +
# offset) << left_shift rescaled to the common scale, acc = ta[a] + tb[b] (SUB: tb negated); MUL x + offset, acc =
# ta[a] * tb[b]; DIV (kernels_python._div split by operand, _div_tables) acc = srdhm(the dividend at its headroom,
# the divisor's reciprocal), its rounding shift written into q per element; then the output requantization.
# g = (kind, a_off, b_off, out_off, D0, D1, D2, D3, a0s, a1s, a2s, a3s, b0s, b1s, b2s, b3s, output_offset, lo, hi,
# act_min, act_max, flat); q = the output multiplier's record (kernels_viper._pair); d = DIV's other tables (xn, ht,
# zt).
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _binary_core(S):
    acc = 0
    pa = 0
    pb = 0
    xa = ptr8(S[0])
    xb = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    ta = ptr32(S[4])
    tb = ptr32(S[5])
    q = ptr16(S[6])
    d = S[7]
    xn = ptr32(d[0])
    ht = ptr32(d[1])
    zt = ptr32(d[2])
    kind = int(g[0])
    pa0 = int(g[1])
    pb0 = int(g[2])
    out = int(g[3])
    D0 = int(g[4])
    D1 = int(g[5])
    D2 = int(g[6])
    D3 = int(g[7])
    a0s = int(g[8])
    a1s = int(g[9])
    a2s = int(g[10])
    a3s = int(g[11])
    b0s = int(g[12])
    b1s = int(g[13])
    b2s = int(g[14])
    b3s = int(g[15])
    ooff = int(g[16])
    lo = int(g[17])
    hi = int(g[18])
    amin = int(g[19])
    amax = int(g[20])
    flat = int(g[21])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    r = int(q)
    if flat:        # same shapes: one run over all elements
        D3 = D0 * D1 * D2 * D3
        D0 = 1
        D1 = 1
        D2 = 1
        a3s = 1
        b3s = 1
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                pa = pa0 + i0 * a0s + i1 * a1s + i2 * a2s
                pb = pb0 + i0 * b0s + i1 * b1s + i2 * b2s
                for i3 in range(D3):
                    if kind == 3:       # DIV: the divisor's sign picks the dividend's table, its zeros the shift
                        u = xa[pa]
                        w = xb[pb]
                        z = zt[w]
                        if z >> 8:
                            acc = xn[u]
                            e = ht[u] >> 8
                        else:
                            acc = ta[u]
                            e = ht[u] & 0xFF
                        e += (z & 0xFF) - 64
                        if e >= 1 and e <= 22:      # the record's shift (kernels_viper._pair) for -e
                            q[3] = 9 + e
                        else:
                            q[3] = 63 - e
                        # acc = srdhm(acc, the divisor's reciprocal), as the requantization's product
                        acc = (acc << ext) >> ext
                        m = tb[w]
                        #: srdhm
                        acc = v
                    elif kind == 1:
                        acc = ta[xa[pa]] * tb[xb[pb]]
                    else:
                        acc = ta[xa[pa]] + tb[xb[pb]]
                        if kind == 2:       # SQUARED_DIFFERENCE: the int32 difference squared
                            acc = (acc << ext) >> ext
                            acc = acc * acc
                    pa += a3s
                    pb += b3s
                    #: requantize
                    #: clamp
                    out += 1


def _prepare_binary(kind, p, inputs, outputs, ctx, sign=1):
    """ADD (kind 0), SUB (ADD with sign -1: the second input's rescaled values negated in its table), MUL (kind 1)
    or SQUARED_DIFFERENCE (kind 2: SUB's difference squared). The tables are shared by the ops with the same
    constants."""
    if kind != 1:
        in1_off, in2_off, ooff, left_shift, m1, s1, m2, s2, mo, so, amin, amax = p
        ta = ctx.shared(("v", in1_off, left_shift, m1, s1, 1), lambda: _byte_table(in1_off, left_shift, m1, s1))
        tb = ctx.shared(("v", in2_off, left_shift, m2, s2, sign),
                        lambda: _byte_table(in2_off, left_shift, m2, s2, sign))
    else:
        in1_off, in2_off, ooff, mo, so, amin, amax = p
        ta = ctx.shared(("v", in1_off), lambda: _byte_table(in1_off))
        tb = ctx.shared(("v", in2_off), lambda: _byte_table(in2_off))
    lo, hi = _out_range(ooff, amin, amax)
    q = _pair(mo, so)
    if q is None or ta is None or tb is None or not _in_int32(lo, hi):
        family = _kp("elementwise")
        if kind == 1:
            return _fallback(_runs().run_binary, family.prepare_mul(p, inputs, outputs, ctx))
        return _fallback(_runs().run_binary, family.prepare_add(p, inputs, outputs, ctx, sign, kind))
    return _binary_state(kind, inputs, outputs, ta, tb, _records(q), (ta, ta, ta), (ooff, lo, hi, amin, amax))


def _binary_state(kind, inputs, outputs, ta, tb, q, d, clamp):
    """_binary_core's run for the op: clamp = (output_offset, lo, hi, act_min, act_max)."""
    a, b, out = inputs[0], inputs[1], outputs[0]
    out4 = out.shape4()
    flat = 1 if a.size == out.size and b.size == out.size else 0
    strides = _kp()._broadcast_strides
    g = (kind, a.off, b.off, out.off) + tuple(out4) + strides(a, out4) + strides(b, out4) + clamp + (flat,)
    return (_binary_core, (a.buf, b.buf, out.buf, g, ta, tb, q, d))


def prepare_add(p, inputs, outputs, ctx):
    return _prepare_binary(0, p, inputs, outputs, ctx)


def prepare_sub(p, inputs, outputs, ctx):
    return _prepare_binary(0, p, inputs, outputs, ctx, -1)


def prepare_squared_difference(p, inputs, outputs, ctx):
    return _prepare_binary(2, p, inputs, outputs, ctx, -1)


def prepare_mul(p, inputs, outputs, ctx):
    return _prepare_binary(1, p, inputs, outputs, ctx)


def _div_tables(in1_off, in2_off, so):
    """DIV's constants per byte (kernels_python._div, split by operand): per dividend byte its value at its
    headroom for a positive divisor (xp) and negated for a negative one (xn), both headrooms (ht: low byte, next
    byte); per divisor byte its reciprocal (it) and 31 - leading zeros - so + 64 with the divisor's sign at bit 8
    (zt). None when a value leaves int32."""
    xp, xn, ht, it, zt = [array("i", range(256)) for _ in range(5)]
    for u in range(256):
        x = ((u ^ 0x80) - 0x80) + in1_off
        y = ((u ^ 0x80) - 0x80) + in2_off
        if not _in_int32(x << 1, y << 1):
            return None
        hp = _kp()._clz32(x) - 1 if x >= 0 else _kp()._clz32(2 * -x - 1)
        hn = _kp()._clz32(-x) - 1 if x <= 0 else _kp()._clz32(2 * x - 1)
        xp[u] = _wrap32(x << hp)
        xn[u] = _wrap32(-x << hn)
        ht[u] = hp | hn << 8
        zeros = _kp()._clz32(-y if y < 0 else y)
        it[u] = _kp().one_over_one_plus_x_for_x_in_0_1(
            (((-y if y < 0 else y) << zeros) & 0xFFFFFFFF) - 0x80000000 if zeros < 32 else _INT32_MIN)
        zt[u] = (31 - zeros - so + 64) | (256 if y < 0 else 0)
    return xp, xn, ht, it, zt


def prepare_div(p, inputs, outputs, ctx):
    in1_off, in2_off, ooff, mo, so, amin, amax = p
    tables = ctx.shared(("div", in1_off, in2_off, so), lambda: _div_tables(in1_off, in2_off, so))
    lo, hi = _out_range(ooff, amin, amax)
    q = _pair(mo, 0)
    if tables is None or q is None or not _in_int32(lo, hi):
        return _fallback(_runs().run_binary, _kp("elementwise").prepare_div(p, inputs, outputs, ctx))
    xp, xn, ht, it, zt = tables
    return _binary_state(3, inputs, outputs, xp, it, _records(q), (xn, ht, zt), (ooff, lo, hi, amin, amax))


# ---------------------------------------------------------------------------------------------------------
# LUT: out[i] = table[x[i]] (the table is in the model buffer, computed on the host).
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _lut_core(S):
    i = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    t = ptr8(S[2])
    g = S[3]
    xo = int(g[0])
    d = int(g[1]) - xo
    to = int(g[2])
    for i in range(xo, xo + int(g[3])):
        o[i + d] = t[to + x[i]]


def prepare_lut(p, inputs, outputs, ctx):
    tb, to, xb, xo, ob, oo, n = _kp("elementwise").prepare_lut(p, inputs, outputs, ctx)
    return (_lut_core, (xb, ob, tb, (xo, oo, to, n)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_ADD: (prepare_add, _run),
    _ops.OP_SUB: (prepare_sub, _run),
    _ops.OP_SQUARED_DIFFERENCE: (prepare_squared_difference, _run),
    _ops.OP_MUL: (prepare_mul, _run),
    _ops.OP_LUT: (prepare_lut, _run),
    _ops.OP_DIV: (prepare_div, _run),
}
del _ops
