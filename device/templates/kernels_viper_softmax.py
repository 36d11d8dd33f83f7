# picoml.kernels_viper_softmax: SOFTMAX in viper code, imported by picoml.kernels_viper.kernel() for a model with one
# (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython

from .kernels_viper import _EXT, _ints, _kp, _run


# ---------------------------------------------------------------------------------------------------------
# SOFTMAX (int8 -> int8), as kernels_python.run_softmax (TFLite Micro's integer softmax): per row the max, the sum
# of the exps of the differences d = max - x (kernels_python's table of 256, rounded >> 12), its reciprocal by
# gemmlowp's Newton iterations (_reciprocal_words), then per value srdhm(scale, exps[d]) divided by 2^exponent with
# rounding. In int32 words throughout, so nothing becomes a Python int: a 32-bit board allocates nothing
# (kernels_python's version makes long ints there). g = (x_off, out_off, rows, depth, max_diff); w: 4 work words.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _srdhm_words(w):
    """w[2] = gemmlowp's SaturatingRoundingDoublingHighMul(w[0], w[1]) on int32 words, from 16-bit halves as the
    requantization (see the top of the file)."""
    p = ptr32(w)
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    acc = (p[0] << ext) >> ext
    m = p[1]
    #: srdhm
    p[2] = v


@micropython.viper
def _reciprocal_words(w):
    """w[3] = gemmlowp's one_over_one_plus_x_for_x_in_0_1(w[3]) on int32 words: half the denominator d, then x =
    48/17 - 32/17 d and three times x += 4 x (1 - d x), saturated; 2 x, saturated (w[0..2]: _srdhm_words's)."""
    p = ptr32(w)
    ext = int(_EXT)
    b30 = 1
    b30 = b30 << 30
    top = b30 << 1
    imax = top - 1
    a = (p[3] << ext) >> ext
    if a == (top << ext) >> ext:        # INT32_MIN: gemmlowp's RoundingHalfSum(a, INT32_MAX) is -1 there
        hd = -1
    else:
        hd = (a >> 1) + b30
    p[0] = hd
    p[1] = -1010580540
    _srdhm_words(w)
    xr = 0x2D2D2D2D
    xr = ((xr + xr + ((p[2] << ext) >> ext)) << ext) >> ext  # 1515870810 + srdhm(d, -32/17)
    for k in range(3):
        p[0] = hd
        p[1] = xr
        _srdhm_words(w)
        p[0] = xr
        p[1] = (((1 << 29) - ((p[2] << ext) >> ext)) << ext) >> ext
        _srdhm_words(w)
        t = (p[2] << ext) >> ext
        if t > 0x1FFFFFFF:
            t = imax
        elif t < -0x20000000:
            t = top
        else:
            t = t << 2
        xr = ((xr + t) << ext) >> ext
    if xr > 0x3FFFFFFF:
        xr = imax
    elif xr < -b30:
        xr = top
    else:
        xr = xr << 1
    p[3] = xr


@micropython.viper
def _softmax_core(S):
    i = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    e = ptr32(S[2])
    w = S[3]
    p = ptr32(w)
    g = S[4]
    xo = int(g[0])
    od = int(g[1]) - xo
    rows = int(g[2])
    depth = int(g[3])
    max_diff = int(g[4])
    ext = int(_EXT)
    b30 = 1
    b30 = b30 << 30                     # 2^30 and bit 31 (the sign bit of a 32-bit word) as variables: the
    top = b30 << 1                      # compiler would fold 1 << 30 into an object
    imax = top - 1
    for r in range(rows):
        base = xo + r * depth
        end = base + depth
        mx = -128
        for i in range(base, end):
            v = (x[i] ^ 0x80) - 0x80
            if v > mx:
                mx = v
        # the sum of exps[d] >> 12 rounded (exps >= 0: up when bit 11 is set), modulo 2^32 as the C int32
        total = 0
        for i in range(base, end):
            d = mx - ((x[i] ^ 0x80) - 0x80)
            if d <= max_diff:
                v = e[d]
                total += (v >> 12) + ((v >> 11) & 1)
        # GetReciprocal(total, 12): 1 / (1 + x) of x = (u << headroom) - 2^31 (bit 31 of u << headroom set)
        u = (total << ext) >> ext
        headroom = 0
        if u == 0:
            headroom = 32
        else:
            while (u & top) == 0:
                u = ((u << 1) << ext) >> ext
                headroom += 1
        p[3] = u + top
        _reciprocal_words(w)
        scale = (p[3] << ext) >> ext
        exponent = 35 - headroom
        if exponent > 31:
            for i in range(base, end):
                o[i + od] = 0x80
            continue
        mask = (((1 << exponent) - 1) << ext) >> ext
        half = mask >> 1
        for i in range(base, end):
            d = mx - ((x[i] ^ 0x80) - 0x80)
            if d > max_diff:
                o[i + od] = 0x80
                continue
            acc = scale
            m = e[d]
            #: srdhm
            v = (v << ext) >> ext
            rem = v & mask
            v = v >> exponent
            th = half
            if v < 0:
                th += 1
            if rem > th:
                v += 1
            v -= 128
            if v > 127:
                v = 127
            elif v < -128:
                v = -128
            o[i + od] = v


def prepare_softmax(p, inputs, outputs, ctx):
    xb, xo, ob, oo, rows, depth, max_diff, exps = _kp("softmax").prepare_softmax(p, inputs, outputs, ctx)
    # d = max - x lies in [0, 255]: max_diff clamped to [-1, 255] compares the same and fits a machine word
    max_diff = -1 if max_diff < 0 else 255 if max_diff > 255 else max_diff
    return (_softmax_core, (xb, ob, exps, _ints([0, 0, 0, 0]), (xo, oo, rows, depth, max_diff)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_SOFTMAX: (prepare_softmax, _run),
}
del _ops
