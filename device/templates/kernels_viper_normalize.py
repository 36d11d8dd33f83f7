# picoml.kernels_viper_normalize: L2_NORMALIZATION and LOG_SOFTMAX in viper code, imported by
# picoml.kernels_viper.kernel() for a model with one of them (the word-size rules, the kernel interface and the lines
# written once for every kernel: device/templates/kernels_viper.py).
import micropython

from .kernels_viper import _EXT, _fallback, _ints, _kp, _pair, _records, _run, _runs
from .kernels_viper_softmax import _reciprocal_words, _srdhm_words


# ---------------------------------------------------------------------------------------------------------
# L2_NORMALIZATION (int8 [rows, depth] -> int8 in scale 1/128), as kernels_python.run_l2_normalization: per row the
# sum of the squared (x - zero point) (an int32: the format bounds depth), its inverse square root by TFLite's
# GetInvSqrtQuantizedMultiplierExp (five Newton steps through _srdhm_words) as the row's requantization record q,
# then each value requantized by it and 2^7. g = (x_off, out_off, rows, depth, zero point); w: 3 work words.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _l2_core(S):
    i = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    w = S[2]
    p = ptr32(w)
    q = ptr16(S[3])
    g = S[4]
    xo = int(g[0])
    out = int(g[1])
    rows = int(g[2])
    depth = int(g[3])
    zp = int(g[4])
    ext = int(_EXT)
    b30 = 1
    b30 = b30 << 30
    top = b30 << 1
    imax = top - 1
    lo = -128
    hi = 127
    amin = -128
    amax = 127
    ooff = 0
    r = int(q)
    for row in range(rows):
        base = xo + row * depth
        total = 0
        for i in range(base, base + depth):
            v = ((x[i] ^ 0x80) - 0x80) - zp
            total += v * v
        # 1 / sqrt(total) ~ m 2^(s - 31), s <= 0: total scaled by powers of 4 into [2^27, 2^29) (3 integer bits),
        # five Newton steps r = 3/2 r - total/2 r^3 from 1, saturated, then sqrt(2)/2
        if total <= 1:
            m = imax
            s = 0
        else:
            s = 11
            t = total
            while t >= (b30 >> 1):
                t = t >> 2
                s += 1
            n = 0                               # leading zeros of t (as a 32-bit word)
            u = t
            while (u & top) == 0:
                u = u << 1
                n += 1
            pairs = ((n - 1) >> 1) - 1
            s -= pairs
            t = t << (pairs + pairs)
            h = t >> 1
            half_input = (h >> 1) + (h & 1)
            rr = b30 >> 2
            half_three = rr + (rr >> 1)
            for k in range(5):
                p[0] = rr
                p[1] = rr
                _srdhm_words(w)
                p[0] = p[2]
                _srdhm_words(w)
                t = (p[2] << ext) >> ext        # r^3, then << 6 saturated
                if t > 0x1FFFFFF:
                    t = imax
                elif t < -0x2000000:
                    t = top
                else:
                    t = t << 6
                p[0] = half_input
                p[1] = t
                _srdhm_words(w)
                t = p[2]
                p[0] = half_three
                p[1] = rr
                _srdhm_words(w)
                t = (((p[2] - t) << ext) >> ext)    # 3/2 r - total/2 r^3, then << 3 saturated
                if t > 0xFFFFFFF:
                    rr = imax
                elif t < -0x10000000:
                    rr = top
                else:
                    rr = t << 3
                rr = (rr << ext) >> ext
            p[0] = rr
            t = 0x2D413CCD                      # half of sqrt(2)/2 in Q0.31 (a variable: the compiler would fold
            p[1] = t + t                        # a constant sum into an object)
            _srdhm_words(w)
            m = (p[2] << ext) >> ext
            if s < 0:
                m = ((m << (0 - s)) << ext) >> ext
                s = 0
            s = 0 - s
        s += 7
        q[0] = m & 0x7FF                # the record of (m, s) as kernels_viper._pair writes it
        q[1] = (m >> 11) & 0x7FF
        q[2] = (m >> 22) & 0xFFFF
        if m >= 0 and s >= -22 and s <= -1:
            q[3] = 9 - s
        else:
            q[3] = 63 + s
        for i in range(base, base + depth):
            acc = ((x[i] ^ 0x80) - 0x80) - zp
            #: requantize
            #: clamp
            out += 1


def prepare_l2_normalization(p, inputs, outputs, ctx):
    xb, xo, rows, depth, zp, ob, oo, _ = _kp("softmax").prepare_l2_normalization(p, inputs, outputs, ctx)
    return (_l2_core, (xb, ob, _ints([0, 0, 0]), _records([0, 0, 0, 0]), (xo, oo, rows, depth, zp)))


# ---------------------------------------------------------------------------------------------------------
# LOG_SOFTMAX (int8 -> int8 in scale 16/256, zero point 127), as kernels_python.run_log_softmax: per row the sum
# of the exps of the differences d = max - x in Q12.19 (kernels_python's tables: each difference scaled, and its
# exp), TFLite's fixed-point log of it (log_x_for_x_greater_than_or_equal_to_1: the power of two from the leading
# zeros, the mantissa's log by a rational approximation, _srdhm_words and _reciprocal_words), the least difference
# kept (the log less 2^31 requantized by the divisor: q), then per value its scaled difference less the log,
# divided by 2^22 with rounding. g = (x_off, out_off, rows, depth, diff_min); w: 5 work words.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _log_words(w):
    """w[4] = TFLite's log_x_for_x_greater_than_or_equal_to_1 of w[4] (x >= 0 in Q12.19) in Q5.26: x or x sqrt(1/2)
    scaled to its leading bit, whichever mantissa rr is nearer 1, its power of two as adj, the mantissa's log by
    a rational approximation around sqrt(sqrt(1/2)) (w[0..3]: _srdhm_words' and _reciprocal_words')."""
    p = ptr32(w)
    ext = int(_EXT)
    b30 = 1
    b30 = b30 << 30
    top = b30 << 1
    imax = top - 1
    c = 759250125
    sqrt_half = c + c                   # the constants above 2^30 as sums of variables: the compiler would fold
    c = 902905650                       # a constant sum into an object
    sqrt_sqrt_half = c + c + 1
    c = 528909884
    alpha_i = c + c + 1
    c = 744261118
    log_2 = c + c
    total = (p[4] << ext) >> ext
    h = 32
    if total:
        h = 0
        u = total
        while (u & top) == 0:
            u = u << 1
            h += 1
    p[0] = total << (h - 1)
    p[1] = sqrt_half
    _srdhm_words(w)
    t = (p[2] << ext) >> ext
    r_a = imax if t > 0x3FFFFFFF else t << 1
    a_adj = ((12 - h) << 25) + (1 << 23)
    p[0] = total
    _srdhm_words(w)
    t = (p[2] << ext) >> ext
    hb = 31
    if t:
        hb = -1
        while (t & top) == 0:
            t = t << 1
            hb += 1
    r_b = total << hb
    if total > (imax >> hb):
        r_b = imax
    b_adj = ((12 - hb) << 25) - (1 << 23)
    rr = r_a if r_a < r_b else r_b
    adj = a_adj if a_adj > b_adj else b_adj
    hs = (rr >> 1) + (sqrt_sqrt_half >> 1) + 1              # RoundingHalfSum(rr, sqrt(sqrt(1/2))), rr >= 0
    qq = ((rr - sqrt_sqrt_half) << ext) >> ext
    qq = ((qq + qq) << ext) >> ext
    p[0] = qq
    p[1] = qq
    _srdhm_words(w)
    sq = (p[2] << ext) >> ext
    p[1] = rr
    _srdhm_words(w)
    num = p[2]
    p[1] = sq
    _srdhm_words(w)
    p[0] = p[2]
    p[1] = 117049297
    _srdhm_words(w)
    num = (((num + p[2]) << ext) >> ext)
    p[0] = 127690142
    p[1] = sq
    _srdhm_words(w)
    p[1] = (((((alpha_i + qq) << ext) >> ext) + ((p[2] << ext) >> ext)) << ext) >> ext
    p[0] = hs
    _srdhm_words(w)
    t = p[2]
    p[0] = 638450708
    p[1] = qq
    _srdhm_words(w)
    p[3] = t + p[2]
    _reciprocal_words(w)
    mask = 63                       # num / 2^6, rounded
    rem = num & mask
    th = 31
    if num < 0:
        th += 1
    num = num >> 6
    if rem > th:
        num += 1
    p[0] = num
    p[1] = p[3]
    _srdhm_words(w)
    t = p[2]
    p[0] = adj
    p[1] = log_2
    _srdhm_words(w)
    t = (((t + p[2]) << ext) >> ext)
    if t > 0x3FFFFFFF:
        ls = imax
    elif t < -b30:
        ls = top
    else:
        ls = t << 1
    ls = (ls << ext) >> ext
    p[4] = ls


@micropython.viper
def _log_softmax_core(S):
    i = 0
    x = ptr8(S[0])
    o = ptr8(S[1])
    sc = ptr32(S[2])
    e = ptr32(S[3])
    w = S[4]
    p = ptr32(w)
    q = ptr16(S[5])
    g = S[6]
    xo = int(g[0])
    od = int(g[1]) - xo
    rows = int(g[2])
    depth = int(g[3])
    diff_min = int(g[4])
    ext = int(_EXT)
    b30 = 1
    b30 = b30 << 30
    top = b30 << 1
    imax = top - 1
    r = int(q)
    for row in range(rows):
        base = xo + row * depth
        end = base + depth
        mx = -128
        for i in range(base, end):
            v = (x[i] ^ 0x80) - 0x80
            if v > mx:
                mx = v
        total = 0                       # Q12.19 (the format bounds depth: no wrap)
        for i in range(base, end):
            d = mx - ((x[i] ^ 0x80) - 0x80)
            if 0 - d >= diff_min:
                total += e[d]
        p[4] = total
        _log_words(w)
        ls = (p[4] << ext) >> ext
        # the least difference kept: the log less 2^31 requantized by the divisor, or diff_min - 1
        acc = ls + top
        #: requantize
        least = diff_min - 1
        if v > least:
            least = v
        for i in range(base, end):
            d = mx - ((x[i] ^ 0x80) - 0x80)
            v = -128
            if 0 - d > least:
                t = (((sc[d] << ext) >> ext) - ls << ext) >> ext
                rem = t & 0x3FFFFF
                th = 0x1FFFFF
                if t < 0:
                    th += 1
                t = t >> 22
                if rem > th:
                    t += 1
                v = t + 127
                if v > 127:
                    v = 127
                elif v < -128:
                    v = -128
            o[i + od] = v


def prepare_log_softmax(p, inputs, outputs, ctx):
    st = _kp("softmax").prepare_log_softmax(p, inputs, outputs, ctx)
    xb, xo, ob, oo, rows, depth, scaled, exps, divisor, divisor_shift, diff_min = st
    q = _pair(divisor, -divisor_shift)
    if q is None:
        return _fallback(_runs().run_log_softmax, (xb, xo, ob, oo, rows, depth, scaled, exps, divisor, divisor_shift,
                                               diff_min))
    # -d lies in [-255, 0]: diff_min clamped to [-256, 1] compares the same and fits a machine word
    diff_min = -256 if diff_min < -256 else 1 if diff_min > 1 else diff_min
    return (_log_softmax_core, (xb, ob, scaled, exps, _ints([0, 0, 0, 0, 0]), _records(q),
                                (xo, oo, rows, depth, diff_min)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_L2_NORMALIZATION: (prepare_l2_normalization, _run),
    _ops.OP_LOG_SOFTMAX: (prepare_log_softmax, _run),
}
del _ops
