# picoml.kernels_python: every .pml op's run in pure Python (MicroPython / CircuitPython), bit-exact with the numpy
# reference (host/picoml/ops/*.py) and so with TensorFlow Lite Micro: the slow, exact fallback backend. The kernel
# interface, each op's prepare and the state layouts its run reads are in picoml.prepare; RUNS = {op_code:
# run}. Values are int8 stored as bytes (SIGNED[u] or (u ^ 0x80) - 0x80 reads one); the in-place ops (ADD, MUL,
# LUT) read element i of every input before writing element i of the output. On 32-bit ports int32 products
# beyond +-2**30 are long ints, which allocate temporarily.
from .prepare import (INT32_MAX, INT32_MIN, SIGNED, _clz32, _rounding_half_sum, _sat_left_shift, mbqm,
                              one_over_one_plus_x_for_x_in_0_1, rdbp, srdhm, wrap32)


def run_lut(st):
    tb, to, xb, xo, ob, oo, n = st
    d = oo - xo
    for i in range(xo, xo + n):
        ob[i + d] = tb[to + xb[i]]


def _rows_dot(vec, wb, k, n, bias, mults, shifts, ooff, amin, amax, ob, o):
    """For each of n weight rows (int8, len(vec) each, from wb[k]): bias + row . vec, requantized, clamped and
    stored at ob[o]; returns the next o. The output loop of CONV_2D (vec: a patch) and FULLY_CONNECTED."""
    S = SIGNED
    for c in range(n):
        acc = bias[c]
        for v in vec:
            acc += v * S[wb[k]]
            k += 1
        acc = mbqm(acc, mults[c], shifts[c]) + ooff
        if acc < amin:
            acc = amin
        elif acc > amax:
            acc = amax
        ob[o] = acc & 0xFF
        o += 1
    return o


def run_conv_2d(st):
    (xb, xo, N, H, W, C, fb, fo, KH, KW, OC, ob, oo, OH, OW, sh, sw, dh, dw, pt, pl, zp, bias, rq,
     amin, amax, ooff, patch) = st
    S = SIGNED
    mults, shifts = rq
    row = W * C
    o = oo
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            for ox in range(OW):
                ix0 = ox * sw - pl
                # gather the window as signed ints, padding as the zero point
                j = 0
                iy = iy0
                for ky in range(KH):
                    if 0 <= iy < H:
                        rbase = xn + iy * row
                        ix = ix0
                        for kx in range(KW):
                            if 0 <= ix < W:
                                p0 = rbase + ix * C
                                for q in range(p0, p0 + C):
                                    patch[j] = S[xb[q]]
                                    j += 1
                            else:
                                for q in range(C):
                                    patch[j] = zp
                                    j += 1
                            ix += dw
                    else:
                        for q in range(KW * C):
                            patch[j] = zp
                            j += 1
                    iy += dh
                o = _rows_dot(patch, fb, fo, OC, bias, mults, shifts, ooff, amin, amax, ob, o)


def run_depthwise_conv_2d(st):
    (xb, xo, N, H, W, C, fb, fo, KH, KW, OC, ob, oo, OH, OW, sh, sw, dh, dw, pt, pl, zp, bias, rq,
     amin, amax, ooff, dm, acc) = st
    S = SIGNED
    mults, shifts = rq
    row = W * C
    o = oo
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            for ox in range(OW):
                ix0 = ox * sw - pl
                for c in range(OC):
                    acc[c] = bias[c]
                iy = iy0
                k = fo
                for ky in range(KH):
                    ix = ix0
                    for kx in range(KW):
                        if 0 <= iy < H and 0 <= ix < W:
                            p0 = xn + iy * row + ix * C
                            if dm == 1:
                                for c in range(C):
                                    acc[c] += S[xb[p0 + c]] * S[fb[k + c]]
                            else:
                                c = 0
                                for q in range(p0, p0 + C):
                                    v = S[xb[q]]
                                    for m in range(dm):
                                        acc[c] += v * S[fb[k + c]]
                                        c += 1
                        elif zp:
                            for c in range(OC):
                                acc[c] += zp * S[fb[k + c]]
                        k += OC
                        ix += dw
                    iy += dh
                for c in range(OC):
                    a = acc[c]
                    a = mbqm(a, mults[c], shifts[c]) + ooff
                    if a < amin:
                        a = amin
                    elif a > amax:
                        a = amax
                    ob[o] = a & 0xFF
                    o += 1


def run_fully_connected(st):
    xb, xo, B, D, wb, wo, U, ob, oo, bias, rq, ooff, amin, amax, row = st
    S = SIGNED
    mults, shifts = rq
    o = oo
    for b in range(B):
        j = 0
        for q in range(xo + b * D, xo + b * D + D):
            row[j] = S[xb[q]]
            j += 1
        o = _rows_dot(row, wb, wo, U, bias, mults, shifts, ooff, amin, amax, ob, o)


def run_batch_matmul(st):
    ab, bb, ob, o, mats, rows, cols, depth, ar, ak, bc, bk, lo, ro, mo, so, ooff, amin, amax = st
    S = SIGNED
    for ia, ib in mats:
        for m in range(rows):
            for n in range(cols):
                acc = 0
                i = ia + m * ar
                j = ib + n * bc
                for _ in range(depth):
                    acc += (S[ab[i]] + lo) * (S[bb[j]] + ro)
                    i += ak
                    j += bk
                acc = mbqm(acc, mo, so) + ooff
                if acc < amin:
                    acc = amin
                elif acc > amax:
                    acc = amax
                ob[o] = acc & 0xFF
                o += 1


def run_resize_bilinear(st):
    xb, xo, N, H, W, C, ob, o, rows, cols = st
    S = SIGNED
    row = W * C
    for b in range(N):
        base = xo + b * H * row
        for y0, y1, fy in rows:
            r0 = base + y0 * row
            r1 = base + y1 * row
            for x0, x1, fx in cols:
                w00 = (1024 - fy) * (1024 - fx)
                w10 = fy * (1024 - fx)
                w01 = (1024 - fy) * fx
                w11 = fy * fx
                p00 = r0 + x0 * C
                p10 = r1 + x0 * C
                p01 = r0 + x1 * C
                p11 = r1 + x1 * C
                for k in range(C):
                    t = S[xb[p00 + k]] * w00 + S[xb[p10 + k]] * w10 + S[xb[p01 + k]] * w01 + S[xb[p11 + k]] * w11
                    if t > 0:
                        t = (t + 524288) >> 20
                    else:
                        t = -((524288 - t) >> 20)
                    ob[o] = t & 0xFF
                    o += 1


def run_arg_max(st):
    xb, xo, outer, n, inner, ob, o, flip = st
    for a in range(outer):
        base = xo + a * n * inner
        for i in range(inner):
            q = base + i
            best = xb[q] ^ flip
            at = 0
            for k in range(1, n):
                q += inner
                v = xb[q] ^ flip
                if v > best:        # the first of equal values, as TFLite Micro's strict comparison
                    best = v
                    at = k
            ob[o] = at & 0xFF
            ob[o + 1] = (at >> 8) & 0xFF
            ob[o + 2] = (at >> 16) & 0xFF
            ob[o + 3] = (at >> 24) & 0xFF
            o += 4


def inv_sqrt(x, res):
    """TFLite's GetInvSqrtQuantizedMultiplierExp for x >= 0 into res: [multiplier, shift <= 0], as
    picoml.ops.nonlinear.inv_sqrt_multiplier on the host (written into an array: a returned tuple would be a heap
    block per row)."""
    if x <= 1:
        res[0] = INT32_MAX
        res[1] = 0
        return
    s = 11
    while x >= 1 << 29:
        x >>= 2
        s += 1
    pairs = (_clz32(x) - 1) // 2 - 1
    s -= pairs
    x <<= 2 * pairs
    half_input = rdbp(x >> 1, 1)
    r = 1 << 28
    for _ in range(5):
        r3 = _sat_left_shift(srdhm(srdhm(r, r), r), 6)
        r = _sat_left_shift(wrap32(srdhm(402653184, r) - srdhm(half_input, r3)), 3)     # 1.5 in Q3.28
    r = srdhm(r, 1518500250)
    if s < 0:
        r = wrap32(r << -s)
        s = 0
    res[0] = r
    res[1] = -s


def run_l2_normalization(st):
    xb, xo, rows, depth, zp, ob, o, res = st
    S = SIGNED
    for r in range(rows):
        q = xo + r * depth
        total = 0
        for i in range(depth):
            v = S[xb[q + i]] - zp
            total += v * v
        inv_sqrt(total, res)
        m = res[0]
        s = res[1] + 7
        for i in range(depth):
            v = mbqm(S[xb[q + i]] - zp, m, s)
            ob[o] = (-128 if v < -128 else (127 if v > 127 else v)) & 0xFF
            o += 1


def _pool(st, reduce):
    """Every output of a pooling op: reduce(xb, first index of the window's rows, row step, channel step,
    y0, y1, x0, x1) over the part of the window inside the input, clamped to the activation range."""
    xb, xo, N, H, W, C, ob, oo, OH, OW, sh, sw, fh, fw, pt, pl, amin, amax = st
    row = W * C
    o = oo
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
                for c in range(C):
                    v = reduce(xb, xn + c, row, C, y0, y1, x0, x1)
                    if v < amin:
                        v = amin
                    elif v > amax:
                        v = amax
                    ob[o] = v & 0xFF
                    o += 1


def _average(xb, q0, row, C, y0, y1, x0, x1):
    S = SIGNED
    total = 0
    for y in range(y0, y1):
        q = q0 + y * row
        for xx in range(x0, x1):
            total += S[xb[q + xx * C]]
    count = (y1 - y0) * (x1 - x0) if y1 > y0 and x1 > x0 else 0
    if count < 1:
        count = 1
    half = count >> 1
    if total > 0:
        return (total + half) // count
    return -((half - total) // count)


def _maximum(xb, q0, row, C, y0, y1, x0, x1):
    S = SIGNED
    best = -1048576
    for y in range(y0, y1):
        q = q0 + y * row
        for xx in range(x0, x1):
            v = S[xb[q + xx * C]]
            if v > best:
                best = v
    return best


def run_average_pool_2d(st):
    _pool(st, _average)


def run_max_pool_2d(st):
    _pool(st, _maximum)


def _row_max(xb, base, end):
    """The largest int8 value of xb[base:end] (SOFTMAX's and LOG_SOFTMAX's rows)."""
    S = SIGNED
    mx = -128
    for i in range(base, end):
        v = S[xb[i]]
        if v > mx:
            mx = v
    return mx


def _sat32(x):
    return INT32_MAX if x > INT32_MAX else (INT32_MIN if x < INT32_MIN else x)


def log_of_sum(x):
    """TFLite's log_x_for_x_greater_than_or_equal_to_1 of a Q12.19 sum, in Q5.26 (as log_of_sum in
    native_module/log_softmax.c and picoml.ops.nonlinear on the host)."""
    quarter = 8388608                                       # 1/4 in Q6.25
    h = _clz32(x)
    r_a = _sat_left_shift(srdhm(_sat_left_shift(x, h - 1), 1518500250), 1)
    a_adj = _sat32(_sat_left_shift(12 - h, 25) + quarter)
    hb = _clz32(srdhm(x, 1518500250)) - 1
    r_b = _sat_left_shift(x, hb)
    b_adj = _sat32(_sat_left_shift(12 - hb, 25) - quarter)
    r = r_a if r_a < r_b else r_b
    adj = a_adj if a_adj > b_adj else b_adj
    p = _rounding_half_sum(r, 1805811301)
    q = wrap32(r - 1805811301)
    q = wrap32(q + q)
    sq = srdhm(q, q)
    num = wrap32(srdhm(q, r) + srdhm(srdhm(q, sq), 117049297))
    denom = wrap32(srdhm(p, wrap32(wrap32(1057819769 + q) + srdhm(127690142, sq))) + srdhm(638450708, q))
    return _sat_left_shift(wrap32(srdhm(adj, 1488522236) + srdhm(rdbp(num, 6), one_over_one_plus_x_for_x_in_0_1(
        denom))), 1)


def run_log_softmax(st):
    xb, xo, ob, oo, rows, depth, scaled, exps, divisor, divisor_shift, diff_min = st
    S = SIGNED
    for r in range(rows):
        base = xo + r * depth
        end = base + depth
        mx = _row_max(xb, base, end)
        total = 0
        for i in range(base, end):
            d = mx - S[xb[i]]
            if -d >= diff_min:
                total += exps[d]
        log_sum = log_of_sum(wrap32(total))
        floor = mbqm(wrap32(log_sum - 2147483648), divisor, -divisor_shift)
        least = diff_min - 1 if diff_min - 1 > floor else floor
        o = oo + r * depth - base
        for i in range(base, end):
            d = mx - S[xb[i]]
            v = -128
            if -d > least:
                v = rdbp(wrap32(scaled[d] - log_sum), 22) + 127
                v = -128 if v < -128 else (127 if v > 127 else v)
            ob[o + i] = v & 0xFF


def run_softmax(st):
    xb, xo, ob, oo, rows, depth, max_diff, exps = st
    S = SIGNED
    for r in range(rows):
        base = xo + r * depth
        end = base + depth
        mx = _row_max(xb, base, end)
        total = 0
        for i in range(base, end):
            d = mx - S[xb[i]]
            if d <= max_diff:
                e = exps[d]             # exps are >= 0: rdbp(e, 12) is this
                total += (e >> 12) + 1 if e & 4095 > 2047 else e >> 12
        # GetReciprocal(sum, 12)
        u = total & 0xFFFFFFFF
        headroom = _clz32(u)
        exponent = 12 - headroom + 23
        shifted = ((u << headroom) & 0xFFFFFFFF) - 0x80000000
        # one_over_one_plus_x_for_x_in_0_1(shifted)
        scale = one_over_one_plus_x_for_x_in_0_1(shifted)
        o = oo + r * depth - base
        if exponent > 31:
            for i in range(base, end):
                ob[o + i] = 0x80
        else:
            mask = (1 << exponent) - 1
            half = mask >> 1
            for i in range(base, end):
                d = mx - S[xb[i]]
                if d <= max_diff:
                    a = srdhm(scale, exps[d])
                    rem = a & mask
                    a >>= exponent
                    if rem > (half + 1 if a < 0 else half):
                        a += 1
                    a -= 128
                    if a > 127:
                        a = 127
                    elif a < -128:
                        a = -128
                    ob[o + i] = a & 0xFF
                else:
                    ob[o + i] = 0x80


def _div(x, y, mo, so):
    """DIV of the offset values x / y before the output offset: TFLite Micro's DivElementwise (as div_one in
    native_module/div.c)."""
    if y < 0:
        x = -x
        y = -y
    zeros = _clz32(y)
    inverse = one_over_one_plus_x_for_x_in_0_1(((y << zeros) & 0xFFFFFFFF) - 0x80000000 if zeros < 32
                                               else INT32_MIN)
    headroom = _clz32(x) - 1 if x >= 0 else _clz32(2 * -x - 1)
    return rdbp(srdhm(srdhm(wrap32(x << headroom), inverse), mo), 31 - zeros + headroom - so)


def _binary_one(kind, va, vb, mo, so, ooff, amin, amax):
    """kind 0: ADD and SUB (vb negated), 1: MUL, 2: SQUARED_DIFFERENCE (vb negated; the int32 sum squared),
    3: DIV."""
    if kind == 2:
        v = wrap32(va + vb)
        v = mbqm(v * v, mo, so) + ooff
    elif kind == 3:
        v = _div(va, vb, mo, so) + ooff
    else:
        v = mbqm(va * vb if kind else va + vb, mo, so) + ooff
    if v < amin:
        return amin & 0xFF
    if v > amax:
        return amax & 0xFF
    return v & 0xFF


def run_binary(st):
    kind, ab, ao, sa, bb, bo, sb, ob, oo, shape4, flat, ta, tb, rq, ooff, amin, amax = st
    mo = rq[0]
    so = rq[1] - rq[2]
    if flat:
        d_a = ao - oo
        d_b = bo - oo
        for o in range(oo, oo + shape4[0] * shape4[1] * shape4[2] * shape4[3]):
            ob[o] = _binary_one(kind, ta[ab[o + d_a]], tb[bb[o + d_b]], mo, so, ooff, amin, amax)
        return
    D0, D1, D2, D3 = shape4
    a0s, a1s, a2s, a3s = sa
    b0s, b1s, b2s, b3s = sb
    o = oo
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                pa = ao + i0 * a0s + i1 * a1s + i2 * a2s
                pb = bo + i0 * b0s + i1 * b1s + i2 * b2s
                for i3 in range(D3):
                    ob[o] = _binary_one(kind, ta[ab[pa]], tb[bb[pb]], mo, so, ooff, amin, amax)
                    pa += a3s
                    pb += b3s
                    o += 1


def run_strided_slice(st):
    xb, ob, g = st
    first, o, size, D0, D1, D2, D3, s0, s1, s2, s3 = g
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                k = first + i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(D3):
                    for j in range(size):
                        ob[o + j] = xb[k + j]
                    k += s3
                    o += size


def run_concatenation(st):
    parts, outer, ob, oo, out_chunk = st
    o = oo
    for k in range(outer):
        for xb, xo, chunk in parts:
            s = xo + k * chunk
            d = o - s
            for i in range(s, s + chunk):
                ob[i + d] = xb[i]
            o += chunk


def run_mean(st):
    xb, xo, shape4, strides, ob, oo, n_out, count, in_zp, out_zp, rq, acc = st
    multiplier = rq[0]
    shift = rq[1] - rq[2]
    S = SIGNED
    D0, D1, D2, D3 = shape4
    s0, s1, s2, s3 = strides
    for i in range(n_out):
        acc[i] = 0
    q = xo
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                o = i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(D3):
                    acc[o] += S[xb[q]]
                    q += 1
                    o += s3
    sub = in_zp * count
    for i in range(n_out):
        v = acc[i]
        if v > INT32_MAX or v < INT32_MIN:
            v = ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        v = mbqm(v - sub, multiplier, shift) + out_zp
        if v < -128:
            v = -128
        elif v > 127:
            v = 127
        ob[oo + i] = v & 0xFF


def run_pad(st):
    xb, xo, in4, ob, oo, out4, before, pad = st
    for i in range(oo, oo + out4[0] * out4[1] * out4[2] * out4[3]):
        ob[i] = pad
    I0, I1, I2, I3 = in4
    O0, O1, O2, O3 = out4
    b0, b1, b2, b3 = before
    q = xo
    for i0 in range(I0):
        for i1 in range(I1):
            for i2 in range(I2):
                o = oo + (((i0 + b0) * O1 + i1 + b1) * O2 + i2 + b2) * O3 + b3
                d = o - q
                for i in range(q, q + I3):
                    ob[i + d] = xb[i]
                q += I3


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

RUNS = {
    _ops.OP_CONV_2D: run_conv_2d,
    _ops.OP_DEPTHWISE_CONV_2D: run_depthwise_conv_2d,
    _ops.OP_FULLY_CONNECTED: run_fully_connected,
    _ops.OP_AVERAGE_POOL_2D: run_average_pool_2d,
    _ops.OP_MAX_POOL_2D: run_max_pool_2d,
    _ops.OP_SOFTMAX: run_softmax,
    _ops.OP_ADD: run_binary,
    _ops.OP_SUB: run_binary,
    _ops.OP_SQUARED_DIFFERENCE: run_binary,
    _ops.OP_MUL: run_binary,
    _ops.OP_CONCATENATION: run_concatenation,
    _ops.OP_STRIDED_SLICE: run_strided_slice,
    _ops.OP_LUT: run_lut,
    _ops.OP_MEAN: run_mean,
    _ops.OP_PAD: run_pad,
    _ops.OP_BATCH_MATMUL: run_batch_matmul,
    _ops.OP_RESIZE_BILINEAR: run_resize_bilinear,
    _ops.OP_ARG_MAX: run_arg_max,
    _ops.OP_L2_NORMALIZATION: run_l2_normalization,
    _ops.OP_LOG_SOFTMAX: run_log_softmax,
    _ops.OP_DIV: run_binary,
}
del _ops
