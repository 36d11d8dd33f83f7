# picoml: every .pml op in pure Python (MicroPython / CircuitPython), bit-exact with the numpy reference
# (host/picoml/ops/*.py) and so with TensorFlow Lite Micro. The slow, exact fallback backend.
#
# Kernel interface (shared with picoml.kernels_viper, which may supply faster versions of some ops)
# ----------------------------------------------------------------------------------------------
# A kernel module exposes   KERNELS = {op_code: (prepare, run)}   (op codes as in docs/format.md).
#
#   state = prepare(params, inputs, outputs, ctx)     called once per op, at load; may allocate
#   run(state)                                        called once per op per inference; must not allocate
#
#   params   tuple of the op's int32 params, in the order of docs/format.md (picoml._ops.N_PARAMS).
#   inputs   tuple of Tensor (below), outputs likewise (always one output). A Tensor has
#            .index, .dtype (1 int8, 2 int16, 3 int32), .shape (tuple), .shape4() (right-aligned to 4-D),
#            .size (elements), .nbytes, .scale, .zero_point, .storage (0 arena, 1 weights, 2 state), and .buf / .off:
#            the buffer holding its bytes and the byte offset of element 0 in it -- the arena bytearray for
#            activations, the model buffer (bytes, bytearray or a memoryview of a ROMFS file) for constants.
#            .ints() decodes an int32 constant into a tuple of ints; .describe() is "1x49x10x1".
#   ctx      Context (below): ctx.arena (the arena bytearray), ctx.model (the model buffer) and
#            ctx.scratch(slot, n) -> a list of exactly n ints shared by every op asking for the same (slot, n):
#            ops run one after the other, so a kernel may use its scratch lists freely during run().
#   state    anything; the walker keeps (run, state) per op and calls run(state). Raise ValueError from
#            prepare when the operands do not fit the kernel (the model names the op in the message).
#
# prepare() below builds the walker's step list; Tensor objects exist only while their op is prepared.
#
# Values are int8 stored as bytes: a kernel reads an unsigned byte and sign-extends it (SIGNED[u] below or
# (u ^ 0x80) - 0x80) and writes (value & 0xFF). Activations may share arena bytes: the in-place ops (ADD, MUL,
# LUT: docs/format.md) may find their output over a full-shaped input, so read element i of every input before
# writing element i of the output.
#
# picoml.kernels_viper provides KERNELS with the same shape for the ops it accelerates; prepare() takes
# its entry when it has the op code and this module's otherwise, so it may cover any subset of the ops. Its
# prepare can call this module's prepare (the checks, the decoded constants) and build its own state from the
# returned tuple, or keep (this module's run, that state) for an op it cannot take: the state layouts
# documented at each prepare below are part of this interface -- change them together with kernels_viper.
# All targets are little-endian (int32 constants are copied from the model bytes as they are).
#
# Arithmetic: MicroPython ints are arbitrary precision, so every place where the C code (and the reference,
# via wrap_int32) wraps an int32 wraps explicitly here. On 64-bit ports every intermediate value is a small int
# (no heap allocation); on 32-bit ports values beyond +-2**30 become long ints, which allocate temporarily.
import struct
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

INT32_MIN = const(-2147483648)
INT32_MAX = const(2147483647)
_NUDGE = const(1073741824)              # 1 << 30
_NUDGE_NEG = const(1073741823)          # (1 << 30) - 1

# SIGNED[u] is the int8 value of the byte u.
SIGNED = array("b", bytes(range(256)))     # the bytes 0..255 read as int8


# ---------------------------------------------------------------------------------------------------------
# Scalar integer arithmetic, as TFLite Micro's reference kernels (gemmlowp rounding).
# ---------------------------------------------------------------------------------------------------------

def wrap32(x):
    """Two's complement wrap into int32, as a C int32 overflow does."""
    if INT32_MIN <= x <= INT32_MAX:
        return x
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    if ab >= 0:
        return (ab + _NUDGE) >> 31
    return -((_NUDGE_NEG - ab) >> 31)


def rdbp(x, exponent):
    """gemmlowp RoundingDivideByPOT (exponent >= 0)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = mask >> 1
    if x < 0:
        threshold += 1
    x >>= exponent
    if remainder > threshold:
        return x + 1
    return x


def mbqm(x, multiplier, shift):
    """TFLite MultiplyByQuantizedMultiplier: x wrapped to int32 (after shifting it left when shift > 0), the
    rounding doubling high multiply, then a rounding right shift when shift < 0. One function, no calls: the
    kernels use it once per output value."""
    if shift > 0:
        x <<= shift
    if x > 2147483647 or x < -2147483648:
        x = ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    if x == -2147483648 and multiplier == -2147483648:
        x = 2147483647
    else:
        x *= multiplier
        if x >= 0:
            x = (x + 1073741824) >> 31
        else:
            x = -((1073741823 - x) >> 31)
    if shift < 0:
        mask = (1 << -shift) - 1
        r = x & mask
        x >>= -shift
        if r > ((mask >> 1) + 1 if x < 0 else mask >> 1):
            x += 1
    return x


def requant_pair(multiplier, shift):
    """(multiplier, left shift, right shift, mask, mask >> 1) of a multiplier/shift pair: the form in which
    per-op requantization constants appear in the states (ADD, MUL, MEAN)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    mask = (1 << right) - 1
    return (multiplier, left, right, mask, mask >> 1)


def _sat_left_shift(x, n):
    x <<= n
    if x > INT32_MAX:
        return INT32_MAX
    if x < INT32_MIN:
        return INT32_MIN
    return x


def _rescale(x, src_integer_bits, dst_integer_bits):
    exponent = src_integer_bits - dst_integer_bits
    if exponent > 0:
        return _sat_left_shift(x, exponent)
    if exponent < 0:
        return rdbp(x, -exponent)
    return x


def _rounding_half_sum(a, b):
    s = a + b
    s = s + 1 if s >= 0 else s - 1
    return s >> 1 if s >= 0 else -((-s) >> 1)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbp(x4, 2)
    poly = rdbp(wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a, integer_bits):
    """gemmlowp exp_on_negative_values: exp(a) in Q0.31 for a <= 0 with `integer_bits` integer bits."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = wrap32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(_rescale(a_mod, integer_bits, 0))
    remainder = wrap32(a_mod - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            if remainder & (1 << (fractional_bits + exponent)):
                result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        return INT32_MAX
    return result


def _newton_reciprocal_of_half_denominator(a):
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap32((1 << 29) - half_denominator_times_x)
        x = wrap32(x + _rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    return _rescale(_newton_reciprocal_of_half_denominator(a), 1, 0)


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def _check_int8(tensors, what):
    for t in tensors:
        _check(t.dtype == 1, "%s tensor %d is not int8" % (what, t.index))


def _check_int32(t, n, what):
    _check(t.dtype == 3 and t.size in n, "%s (tensor %d) must be int32 with %s values, has %d"
           % (what, t.index, " or ".join([str(k) for k in n]), t.size))


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


# ---------------------------------------------------------------------------------------------------------
# LUT: out[i] = table[x[i]], the 256-entry table (a constant in the model, indexed by the input's byte) computed
# on the host. state = (table_buf, table_off, in_buf, in_off, out_buf, out_off, n)
# ---------------------------------------------------------------------------------------------------------

def prepare_lut(p, inputs, outputs, ctx):
    x, table, out = inputs[0], inputs[1], outputs[0]
    _check_int8((x, table, out), "LUT")
    _check(table.size == 256, "the table has %d values, not 256" % table.size)
    _check(x.size == out.size, "input has %d values, output %d" % (x.size, out.size))
    return (table.buf, table.off, x.buf, x.off, out.buf, out.off, out.size)


def run_lut(st):
    tb, to, xb, xo, ob, oo, n = st
    d = oo - xo
    for i in range(xo, xo + n):
        ob[i + d] = tb[to + xb[i]]


# ---------------------------------------------------------------------------------------------------------
# Convolutions and FULLY_CONNECTED. The bias has the input zero point folded in, so the kernels accumulate raw
# int8 products; taps in the padding read as the input zero point (-input_offset).
# ---------------------------------------------------------------------------------------------------------

def table32(fn):
    """array('i') of fn(u) for the 256 byte values u, filled in place (no big temporary list)."""
    t = array("i", range(256))     # sized from len(range): one block, no temporary
    for u in range(256):
        t[u] = fn(u)
    return t


def int32s(t, n):
    """An int32 constant as array('i') of n values, copied straight from the model's bytes (all targets are
    little-endian); a single value is repeated n times."""
    if t.size == n:
        return array("i", bytes(memoryview(t.buf)[t.off:t.off + 4 * n]))    # raw copy from bytes
    a = array("i", range(n))
    v = t.ints()[0]
    for i in range(n):
        a[i] = v
    return a


def _requant_channels(inputs, channels):
    """(bias, multipliers, shifts) as arrays of `channels` values (a per-tensor pair is repeated)."""
    bias_t, mult_t, shift_t = inputs[2], inputs[3], inputs[4]
    _check_int32(bias_t, (channels,), "bias")
    _check_int32(mult_t, (channels, 1), "multipliers")
    _check_int32(shift_t, (mult_t.size,), "shifts")
    wide = int32s(shift_t, channels)
    shifts = array("b", bytes(channels))
    for i in range(channels):
        v = wide[i]
        _check(-63 < v < 63, "shift %d out of range" % v)
        shifts[i] = v
    return int32s(bias_t, channels), int32s(mult_t, channels), shifts


def _window_geometry(p, x, out, kh, kw):
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left = p[:6]
    _check(len(x.shape) == 4 and len(out.shape) == 4, "convolution needs 4-D NHWC tensors")
    _check(stride_h > 0 and stride_w > 0 and dilation_h > 0 and dilation_w > 0, "bad stride or dilation")
    n, h, w, c = x.shape
    on, oh, ow, oc = out.shape
    _check(on == n, "batch %d in, %d out" % (n, on))
    return n, h, w, c, oh, ow, oc


def prepare_conv_2d(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, filter_buf, filter_off, KH, KW, OC, out_buf, out_off, OH, OW,
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, input_zero_point, bias,
    (multipliers, shifts), act_min, act_max, out_offset, patch): bias and multipliers are array('i'), shifts
    array('b'), one value per output channel; patch is a scratch list of KH * KW * C ints."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    _check_int8((x, f, out), "CONV_2D")
    n, h, w, c, oh, ow, oc = _window_geometry(p, x, out, 0, 0)
    _check(len(f.shape) == 4 and f.shape[0] == oc and f.shape[3] == c,
           "filter %s does not fit input %s / output %s" % (f.describe(), x.describe(), out.describe()))
    kh, kw = f.shape[1], f.shape[2]
    bias, mults, shifts = _requant_channels(inputs, oc)
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, in_off, out_off, act_min, act_max = p
    patch = ctx.scratch("patch", kh * kw * c)
    return (x.buf, x.off, n, h, w, c, f.buf, f.off, kh, kw, oc, out.buf, out.off, oh, ow,
            stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, -in_off, bias, (mults, shifts),
            act_min, act_max, out_off, patch)


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


def prepare_depthwise_conv_2d(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, filter_buf, filter_off, KH, KW, OC, out_buf, out_off, OH, OW,
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, input_zero_point, bias,
    (multipliers, shifts), act_min, act_max, out_offset, depth_multiplier, acc): as CONV_2D; acc is a scratch
    list of OC ints."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    _check_int8((x, f, out), "DEPTHWISE_CONV_2D")
    n, h, w, c, oh, ow, oc = _window_geometry(p, x, out, 0, 0)
    dm = p[10]
    _check(dm > 0 and oc == c * dm and len(f.shape) == 4 and f.shape[0] == 1 and f.shape[3] == oc,
           "filter %s does not fit input %s / output %s with depth multiplier %d"
           % (f.describe(), x.describe(), out.describe(), dm))
    kh, kw = f.shape[1], f.shape[2]
    bias, mults, shifts = _requant_channels(inputs, oc)
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, in_off, out_off, act_min, act_max = p[:10]
    acc = ctx.scratch("acc", oc)
    return (x.buf, x.off, n, h, w, c, f.buf, f.off, kh, kw, oc, out.buf, out.off, oh, ow,
            stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, -in_off, bias, (mults, shifts),
            act_min, act_max, out_off, dm, acc)


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


def prepare_fully_connected(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, batches, depth, weights_buf, weights_off, units, out_buf, out_off, bias,
    (multipliers, shifts), output_offset, act_min, act_max, row): as CONV_2D; row is a scratch list of depth
    ints."""
    x, wt, out = inputs[0], inputs[1], outputs[0]
    _check_int8((x, wt, out), "FULLY_CONNECTED")
    _check(len(wt.shape) == 2, "weights must be 2-D, got %s" % wt.describe())
    units, depth = wt.shape
    _check(depth > 0 and x.size % depth == 0 and out.size == x.size // depth * units,
           "input %s does not fit weights %s / output %s" % (x.describe(), wt.describe(), out.describe()))
    bias, mults, shifts = _requant_channels(inputs, units)
    out_off, act_min, act_max = p
    row = ctx.scratch("patch", depth)
    return (x.buf, x.off, x.size // depth, depth, wt.buf, wt.off, units, out.buf, out.off, bias, (mults, shifts),
            out_off, act_min, act_max, row)


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


# ---------------------------------------------------------------------------------------------------------
# Pooling: state = (x_buf, x_off, N, H, W, C, out_buf, out_off, OH, OW, stride_h, stride_w, filter_h,
# filter_w, pad_top, pad_left, act_min, act_max)
# ---------------------------------------------------------------------------------------------------------

def prepare_pool(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "pooling")
    stride_h, stride_w, filter_h, filter_w, pad_top, pad_left, act_min, act_max = p
    _check(len(x.shape) == 4 and len(out.shape) == 4 and x.shape[0] == out.shape[0] and x.shape[3] == out.shape[3],
           "pooling needs 4-D NHWC tensors of the same batch and depth")
    _check(stride_h > 0 and stride_w > 0 and filter_h > 0 and filter_w > 0, "bad stride or filter size")
    n, h, w, c = x.shape
    return (x.buf, x.off, n, h, w, c, out.buf, out.off, out.shape[1], out.shape[2],
            stride_h, stride_w, filter_h, filter_w, pad_top, pad_left, act_min, act_max)


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


# ---------------------------------------------------------------------------------------------------------
# SOFTMAX over the last axis. exp of each (x - row max) comes from a 256-entry table made at load.
# state = (x_buf, x_off, out_buf, out_off, rows, depth, max_diff, exps); exps[d] = exp(-d) in Q0.31
# ---------------------------------------------------------------------------------------------------------

def _clz32(u):
    n = 0
    if u == 0:
        return 32
    while not u & 0x80000000:
        u <<= 1
        n += 1
    return n


def prepare_softmax(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "SOFTMAX")
    _check(x.size == out.size and len(x.shape) >= 1, "input %s, output %s" % (x.describe(), out.describe()))
    multiplier, left_shift, diff_min = p
    _check(0 <= left_shift < 32, "input_left_shift %d out of range" % left_shift)
    depth = x.shape[-1]
    # exps[d] = exp(diff) for diff = -d
    exps = table32(lambda d: exp_on_negative_values(srdhm(wrap32((-d) << left_shift), multiplier), 5))
    # valid: diff >= diff_min, i.e. d <= -diff_min
    max_diff = -diff_min
    return (x.buf, x.off, out.buf, out.off, x.size // depth if depth else 0, depth, max_diff,
            exps)


def run_softmax(st):
    xb, xo, ob, oo, rows, depth, max_diff, exps = st
    S = SIGNED
    for r in range(rows):
        base = xo + r * depth
        end = base + depth
        mx = -128
        for i in range(base, end):
            v = S[xb[i]]
            if v > mx:
                mx = v
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


# ---------------------------------------------------------------------------------------------------------
# ADD and MUL with NumPy broadcasting (shapes right-aligned to 4-D).
# state = (kind, a_buf, a_off, a_strides, b_buf, b_off, b_strides, out_buf, out_off, out_shape4, flat, ta, tb,
#          rq, output_offset, act_min, act_max), rq = requant_pair(output_multiplier, output_shift)
# ADD: ta[u] / tb[u] = each input byte u already offset, shifted and rescaled; out = mbqm(ta + tb).
# MUL: ta[u] / tb[u] = the input byte plus its offset; out = mbqm(ta * tb).
# ---------------------------------------------------------------------------------------------------------

def _broadcast_strides(t, out_shape4):
    shape = t.shape4()
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if shape[i] == out_shape4[i]:
            strides[i] = s if shape[i] > 1 else 0
        else:
            _check(shape[i] == 1, "shape %s does not broadcast to the output" % t.describe())
        s *= shape[i]
    return tuple(strides)


def _prepare_binary(inputs, outputs, what):
    a, b, out = inputs[0], inputs[1], outputs[0]
    _check_int8((a, b, out), what)
    _check(len(a.shape) <= 4 and len(b.shape) <= 4 and len(out.shape) <= 4, "more than 4 dimensions")
    shape4 = out.shape4()
    flat = a.size == out.size and b.size == out.size
    return a, b, out, shape4, _broadcast_strides(a, shape4), _broadcast_strides(b, shape4), flat


def prepare_add(p, inputs, outputs, ctx):
    (in1_off, in2_off, out_off, left_shift, m1, s1, m2, s2, mo, so, act_min, act_max) = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs, "ADD")
    _check(0 <= left_shift < 32, "left_shift %d out of range" % left_shift)
    ta = table32(lambda u: mbqm((SIGNED[u] + in1_off) << left_shift, m1, s1))
    tb = table32(lambda u: mbqm((SIGNED[u] + in2_off) << left_shift, m2, s2))
    return (0, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


def prepare_mul(p, inputs, outputs, ctx):
    in1_off, in2_off, out_off, mo, so, act_min, act_max = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs, "MUL")
    ta = table32(lambda u: SIGNED[u] + in1_off)
    tb = table32(lambda u: SIGNED[u] + in2_off)
    return (1, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


def _binary_one(kind, va, vb, mo, so, ooff, amin, amax):
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


# ---------------------------------------------------------------------------------------------------------
# CONCATENATION, any one dtype: state = (parts, outer, out_buf, out_off, out_chunk) with parts = ((buf, off,
# chunk), ...), chunks in bytes
# ---------------------------------------------------------------------------------------------------------

def prepare_concatenation(p, inputs, outputs, ctx):
    out = outputs[0]
    axis = p[0]
    for t in inputs:
        _check(t.dtype == out.dtype, "CONCATENATION input tensor %d is not of the output's dtype" % t.index)
    size = out.nbytes // out.size
    rank = len(out.shape)
    _check(0 <= axis < rank, "axis %d out of range for rank %d" % (axis, rank))
    outer = _prod(out.shape[:axis])
    parts = []
    total = 0
    for t in inputs:
        _check(len(t.shape) == rank, "input %s does not fit output %s" % (t.describe(), out.describe()))
        for d in range(rank):
            _check(d == axis or t.shape[d] == out.shape[d],
                   "input %s does not fit output %s" % (t.describe(), out.describe()))
        chunk = _prod(t.shape[axis:]) * size
        parts.append((t.buf, t.off, chunk))
        total += chunk
    _check(total == _prod(out.shape[axis:]) * size, "the inputs do not add up to the output %s" % out.describe())
    return (tuple(parts), outer, out.buf, out.off, total)


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


# ---------------------------------------------------------------------------------------------------------
# MEAN over the axes in axis_mask. state = (x_buf, x_off, shape4, out_strides4, out_buf, out_off, out_size,
# count, input_zero_point, output_zero_point, rq, acc), rq = requant_pair(multiplier, shift)
# ---------------------------------------------------------------------------------------------------------

def prepare_mean(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "MEAN")
    axis_mask, in_zp, out_zp, multiplier, shift = p
    ndim = len(x.shape)
    shape4 = x.shape4()
    lead = 4 - ndim
    reduced = [False] * 4
    for i in range(ndim):
        if axis_mask >> i & 1:
            reduced[lead + i] = True
    count = 1
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if reduced[i]:
            count *= shape4[i]
        else:
            strides[i] = s
            s *= shape4[i]
    _check(s == out.size, "output %s does not follow from input %s reduced by mask %d"
           % (out.describe(), x.describe(), axis_mask))
    acc = ctx.scratch("acc", out.size)
    return (x.buf, x.off, shape4, tuple(strides), out.buf, out.off, out.size, count, in_zp, out_zp,
            requant_pair(multiplier, shift), acc)


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


# ---------------------------------------------------------------------------------------------------------
# PAD: state = (x_buf, x_off, in_shape4, out_buf, out_off, out_shape4, before4, pad_byte)
# ---------------------------------------------------------------------------------------------------------

def prepare_pad(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "PAD")
    before = tuple(p[0:4])
    after = tuple(p[4:8])
    _check(len(x.shape) == len(out.shape), "input %s and output %s differ in rank" % (x.describe(), out.describe()))
    in4 = x.shape4()
    out4 = out.shape4()
    for i in range(4):
        _check(before[i] >= 0 and after[i] >= 0 and in4[i] + before[i] + after[i] == out4[i],
               "paddings do not turn %s into %s" % (x.describe(), out.describe()))
    return (x.buf, x.off, in4, out.buf, out.off, out4, before, p[8] & 0xFF)


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


# ---------------------------------------------------------------------------------------------------------
# The audio front-end: TFLite Micro's Signal library (micro_speech), its fixed point and wraparounds exactly as
# the C kernels (native_module/window.c, fft.c, energy.c, filter_bank.c, spectral_subtraction.c, pcan.c) and the
# numpy reference. Activations are little-endian int16 / uint32 / uint64 values in the arena bytes, read and
# written a byte at a time (MicroPython has no typed view of a bytearray); constants are decoded at prepare into
# array('h'). Values beyond 2**30 are long ints on 32-bit ports (temporary allocations, as noted above).
# ---------------------------------------------------------------------------------------------------------

def _get16(b, o):
    v = b[o] | (b[o + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def _put16(b, o, v):
    b[o] = v & 0xFF
    b[o + 1] = (v >> 8) & 0xFF


def _get32(b, o):
    return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)


def _put32(b, o, v):
    b[o] = v & 0xFF
    b[o + 1] = (v >> 8) & 0xFF
    b[o + 2] = (v >> 16) & 0xFF
    b[o + 3] = (v >> 24) & 0xFF


def _wrap16(v):
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def int16s(t):
    """An int16 constant as array('h'), copied from the model's bytes."""
    return array("h", bytes(memoryview(t.buf)[t.off:t.off + 2 * t.size]))


def msb32(x):
    """TFLite Micro's MostSignificantBit32 (as gcc builds it): the bit length of x, 32 for 0."""
    if x == 0:
        return 32
    n = 0
    while x >= 0x100:
        x >>= 8
        n += 8
    while x:
        x >>= 1
        n += 1
    return n


# SignalWindow. state = (x_buf, x_off, count, weights array('h'), shift, out_buf, out_off)
def run_signal_window(st):
    xb, xo, count, w, shift, ob, oo = st
    nw = len(w)
    for i in range(count):
        v = (_get16(xb, xo + 2 * i) * w[i % nw]) >> shift
        if v < -32768:
            v = -32768
        elif v > 32767:
            v = 32767
        _put16(ob, oo + 2 * i, v)


# SignalFftAutoScale. state = (x_buf, x_off, n, out_buf, out_off, bits_buf, bits_off)
def run_signal_fft_auto_scale(st):
    xb, xo, n, ob, oo, sb, so = st
    top = 0                     # MaxAbs16: -v compared as an int, stored as an int16 (-(-32768) is -32768)
    for i in range(n):
        v = _get16(xb, xo + 2 * i)
        if v > top:
            top = v
        elif -v > top:
            top = _wrap16(-v)
    bits = 16 - msb32(top & 0xFFFFFFFF) - 1
    if bits < 0:
        bits = 0
    for i in range(n):
        _put16(ob, oo + 2 * i, _wrap16(_get16(xb, xo + 2 * i) << bits))
    _put32(sb, so, bits)


def _q15(p):
    """KISS FFT's sround: a Q15 product back to int16 (wrapping)."""
    return _wrap16((p + 16384) >> 15)


def _fft_stage(re, im, at, xb, xo, n_in, first, stride, n, tw):
    """KISS FFT's recursive decimation in time (native_module/fft.c: fft_stage) into re/im[at:at + n]."""
    p = 4 if n & 3 == 0 else 2
    m = n // p
    for q in range(p):
        k = first + q * stride
        if m == 1:
            re[at + q] = _get16(xb, xo + 4 * k) if 2 * k < n_in else 0
            im[at + q] = _get16(xb, xo + 4 * k + 2) if 2 * k + 1 < n_in else 0
        else:
            _fft_stage(re, im, at + q * m, xb, xo, n_in, k, stride * p, m, tw)
    if p == 2:
        for k in range(at, at + m):
            ar = _q15(re[k] * 16383)
            ai = _q15(im[k] * 16383)
            br = _q15(re[k + m] * 16383)
            bi = _q15(im[k + m] * 16383)
            j = 2 * (k - at) * stride
            wr, wi = tw[j], tw[j + 1]
            tr = _q15(br * wr - bi * wi)
            ti = _q15(br * wi + bi * wr)
            re[k + m] = _wrap16(ar - tr)
            im[k + m] = _wrap16(ai - ti)
            re[k] = _wrap16(ar + tr)
            im[k] = _wrap16(ai + ti)
        return
    for k in range(at, at + m):
        j = 2 * (k - at) * stride
        ar = _q15(re[k] * 8191)
        ai = _q15(im[k] * 8191)
        fr = _q15(re[k + m] * 8191)
        fi = _q15(im[k + m] * 8191)
        wr, wi = tw[j], tw[j + 1]
        s0r = _q15(fr * wr - fi * wi)
        s0i = _q15(fr * wi + fi * wr)
        fr = _q15(re[k + 2 * m] * 8191)
        fi = _q15(im[k + 2 * m] * 8191)
        wr, wi = tw[2 * j], tw[2 * j + 1]
        s1r = _q15(fr * wr - fi * wi)
        s1i = _q15(fr * wi + fi * wr)
        fr = _q15(re[k + 3 * m] * 8191)
        fi = _q15(im[k + 3 * m] * 8191)
        wr, wi = tw[3 * j], tw[3 * j + 1]
        s2r = _q15(fr * wr - fi * wi)
        s2i = _q15(fr * wi + fi * wr)
        s5r = _wrap16(ar - s1r)
        s5i = _wrap16(ai - s1i)
        ar = _wrap16(ar + s1r)
        ai = _wrap16(ai + s1i)
        s3r = _wrap16(s0r + s2r)
        s3i = _wrap16(s0i + s2i)
        s4r = _wrap16(s0r - s2r)
        s4i = _wrap16(s0i - s2i)
        re[k + 2 * m] = _wrap16(ar - s3r)
        im[k + 2 * m] = _wrap16(ai - s3i)
        re[k] = _wrap16(ar + s3r)
        im[k] = _wrap16(ai + s3i)
        re[k + m] = _wrap16(s5r + s4i)
        im[k + m] = _wrap16(s5i - s4r)
        re[k + 3 * m] = _wrap16(s5r - s4i)
        im[k + 3 * m] = _wrap16(s5i + s4r)


# SignalRfft (int16). state = (x_buf, x_off, rows, n_in, fft_length, twiddles array('h'), super_twiddles
# array('h'), out_buf, out_off, re, im): re, im scratch lists of fft_length / 2 ints; the twiddles as in
# native_module/signal.h (pml_signal_rfft_q15), interleaved (real, imaginary).
def run_signal_rfft(st):
    xb, xo, rows, n_in, nfft, tw, sup, ob, oo, re, im = st
    half = nfft >> 1
    for r in range(rows):
        _fft_stage(re, im, 0, xb, xo + 2 * n_in * r, n_in, 0, 1, half, tw)
        o = oo + 2 * (nfft + 2) * r
        dr = _q15(re[0] * 16383)
        di = _q15(im[0] * 16383)
        _put16(ob, o, dr + di)
        _put16(ob, o + 2, 0)
        _put16(ob, o + 4 * half, dr - di)
        _put16(ob, o + 4 * half + 2, 0)
        for k in range(1, half // 2 + 1):
            pr = _q15(re[k] * 16383)
            pi = _q15(im[k] * 16383)
            nr = _q15(re[half - k] * 16383)
            ni = _q15(_wrap16(-im[half - k]) * 16383)
            f1r = _wrap16(pr + nr)
            f1i = _wrap16(pi + ni)
            f2r = _wrap16(pr - nr)
            f2i = _wrap16(pi - ni)
            wr, wi = sup[2 * k - 2], sup[2 * k - 1]
            tr = _q15(f2r * wr - f2i * wi)
            ti = _q15(f2r * wi + f2i * wr)
            _put16(ob, o + 4 * k, (f1r + tr) >> 1)
            _put16(ob, o + 4 * k + 2, (f1i + ti) >> 1)
            _put16(ob, o + 4 * (half - k), (f1r - tr) >> 1)
            _put16(ob, o + 4 * (half - k) + 2, (ti - f1i) >> 1)


# SignalEnergy. state = (spectrum_buf, spectrum_off, n, start, end, out_buf, out_off); values outside
# [start, end) are 0.
def run_signal_energy(st):
    xb, xo, n, start, end, ob, oo = st
    for i in range(n):
        if start <= i < end:
            a = _get16(xb, xo + 4 * i)
            b = _get16(xb, xo + 4 * i + 2)
            _put32(ob, oo + 4 * i, a * a + b * b)
        else:
            _put32(ob, oo + 4 * i, 0)


# SignalFilterBank. state = (x_buf, x_off, weights, unweights, freq_starts, weight_starts, widths (array('h')
# each), n_channels, out_buf, out_off): uint64 sums, modulo 2**64.
def run_signal_filter_bank(st):
    xb, xo, w, u, fs, ws, wd, nch, ob, oo = st
    acc = 0
    for c in range(nch + 1):
        f = xo + 4 * fs[c]
        k = ws[c]
        nxt = 0
        for j in range(wd[c]):
            v = _get32(xb, f + 4 * j)
            acc += w[k + j] * v
            nxt += u[k + j] * v
        if c:
            o = oo + 8 * (c - 1)
            _put32(ob, o, acc)
            _put32(ob, o + 4, acc >> 32)
        acc = nxt


def _sqrt32(num):
    if num == 0:
        return 0
    res = 0
    top = (32 - msb32(num)) | 1
    bit = 1 << (31 - top)
    for _ in range((31 - top) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != 0xFFFF:
        res += 1
    return res


def _sqrt64(num):
    """TFLite Micro's Sqrt64 (num already reduced modulo 2**64)."""
    if num >> 32 == 0:
        return _sqrt32(num)
    res = 0
    top = (64 - 32 - msb32(num >> 32)) | 1
    bit = 1 << (63 - top)
    for _ in range((63 - top) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != 0xFFFFFFFF:
        res += 1
    return res


# SignalFilterBankSquareRoot. state = (x_buf, x_off, n, bits_buf, bits_off, out_buf, out_off)
def run_signal_filter_bank_square_root(st):
    xb, xo, n, sb, so, ob, oo = st
    shift = _get32(sb, so)
    if shift & 0x80000000:          # an int32 computed at run time: clamped to 0..31
        shift = 0
    elif shift > 31:
        shift = 31
    for i in range(n):
        v = _get32(xb, xo + 8 * i) | (_get32(xb, xo + 8 * i + 4) << 32)
        _put32(ob, oo + 4 * i, _sqrt64(v) >> shift)


# SignalFilterBankSpectralSubtraction. state = (x_buf, x_off, n, (smoothing, one_minus_smoothing,
# alternate_smoothing, alternate_one_minus_smoothing, min_signal_remaining, smoothing_bits,
# spectral_subtraction_bits, clamping), noise_buf, noise_off, out_buf, out_off, copy_buf, copy_off): the noise
# estimate is the op's state (uint32, n values); copy (or None) receives it after the frame.
def run_signal_spectral_subtraction(st):
    xb, xo, n, cfg, nb, no, ob, oo, cb, co = st
    sm, oms, asm, aoms, msr, sbits, ssbits, clamping = cfg
    for i in range(n):
        if i & 1:
            s, om = asm, aoms
        else:
            s, om = sm, oms
        x = _get32(xb, xo + 4 * i)
        signal = (x << sbits) & 0xFFFFFFFF
        est = signal * s + _get32(nb, no + 4 * i) * om
        if est >> 64:               # (the mask is a long int: only where the sum needs it)
            est &= 0xFFFFFFFFFFFFFFFF
        est = (est >> ssbits) & 0xFFFFFFFF
        noise = est
        if est > signal:
            est = signal
            if clamping:
                noise = est
        _put32(nb, no + 4 * i, noise)
        floor = ((x * msr) >> ssbits) & 0xFFFFFFFF
        sub = (signal - est) >> sbits
        _put32(ob, oo + 4 * i, sub if sub > floor else floor)
    if cb is not None:
        for i in range(4 * n):
            cb[co + i] = nb[no + i]


# SignalPCAN. state = (x_buf, x_off, noise_buf, noise_off, lut array('h'), n, snr_shift, out_buf, out_off)
def run_signal_pcan(st):
    xb, xo, nb, no, lut, n, snr_shift, ob, oo = st
    for i in range(n):
        e = _get32(nb, no + 4 * i)
        if e <= 2:
            g = lut[e]
        else:
            octave = msb32(e)
            c = 4 * octave - 6
            frac = (e << (11 - octave) if octave < 11 else e >> (octave - 11)) & 0x3FF
            r = (lut[c + 2] * frac) >> 5
            r = ((r + (lut[c + 1] << 5)) * frac) & 0xFFFFFFFF
            r = (r + 16384) & 0xFFFFFFFF
            if r & 0x80000000:
                r -= 0x100000000
            g = _wrap16((r >> 15) + lut[c])
        snr = ((_get32(xb, xo + 4 * i) * (g & 0xFFFFFFFF)) >> snr_shift) & 0xFFFFFFFF
        if snr < 8192:
            y = (snr * snr) >> 20
        else:
            y = (snr >> 6) - 64
        _put32(ob, oo + 4 * i, y)


# log2(1 + k/128) - k/128 in Q16 for k = 0..128, and a final 0 (native_module/filter_bank.c)
LOG2_CORRECTION = array("H", (
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001,
    5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631,
    5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332,
    5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
    4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549,
    2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0,
    0))


# SignalFilterBankLog. state = (x_buf, x_off, n, output_scale, correction_bits, out_buf, out_off)
def run_signal_filter_bank_log(st):
    xb, xo, n, scale, bits, ob, oo = st
    T = LOG2_CORRECTION
    for i in range(n):
        x = (_get32(xb, xo + 4 * i) << bits) & 0xFFFFFFFF
        if x > 1:
            integer = msb32(x) - 1
            frac = x - (1 << integer)
            if integer < 16:
                frac <<= 16 - integer
            else:
                frac >>= integer - 16
            seg = frac >> 9
            c0 = T[seg]
            frac += c0 + (((T[seg + 1] - c0) * (frac - (seg << 9))) >> 16)
            log2 = ((integer << 16) + frac) & 0xFFFFFFFF
            loge = ((45426 * log2 + 32768) >> 16) & 0xFFFFFFFF
            v = (((scale & 0xFFFFFFFF) * loge) & 0xFFFFFFFF) + 32768
            v = (v & 0xFFFFFFFF) >> 16
            _put16(ob, oo + 2 * i, v if v < 32767 else 32767)
        else:
            _put16(ob, oo + 2 * i, 0)


# -- the front-end ops' prepare (their state layouts are documented at each run_ above) --------------------

def prepare_signal_window(p, inputs, outputs, ctx):
    x, w, out = inputs[0], inputs[1], outputs[0]
    return (x.buf, x.off, x.size, int16s(w), p[0], out.buf, out.off)


def prepare_signal_fft_auto_scale(p, inputs, outputs, ctx):
    x, out, bits = inputs[0], outputs[0], outputs[1]
    return (x.buf, x.off, x.size, out.buf, out.off, bits.buf, bits.off)


def prepare_signal_rfft(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    n = p[0]
    row = x.shape[-1] if x.shape else 1
    return (x.buf, x.off, x.size // row, row, n, int16s(inputs[1]), int16s(inputs[2]), out.buf, out.off,
            ctx.scratch("fft_re", n // 2), ctx.scratch("fft_im", n // 2))


def prepare_signal_energy(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    return (x.buf, x.off, out.size, p[0], p[1], out.buf, out.off)


def prepare_signal_filter_bank(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    return (x.buf, x.off, int16s(inputs[1]), int16s(inputs[2]), int16s(inputs[3]), int16s(inputs[4]),
            int16s(inputs[5]), out.size, out.buf, out.off)


def prepare_signal_filter_bank_square_root(p, inputs, outputs, ctx):
    x, bits, out = inputs[0], inputs[1], outputs[0]
    return (x.buf, x.off, out.size, bits.buf, bits.off, out.buf, out.off)


def prepare_signal_spectral_subtraction(p, inputs, outputs, ctx):
    # params: smoothing, one_minus_smoothing, alternate_smoothing, alternate_one_minus_smoothing, smoothing_bits,
    # spectral_subtraction_bits, min_signal_remaining, clamping (the coefficients read as uint32)
    x, state, out, copy = inputs[0], inputs[1], outputs[0], outputs[1]
    m = 0xFFFFFFFF
    cfg = (p[0] & m, p[1] & m, p[2] & m, p[3] & m, p[6] & m, p[4], p[5], p[7])
    return (x.buf, x.off, x.size, cfg, state.buf, state.off, out.buf, out.off, copy.buf, copy.off)


def prepare_signal_pcan(p, inputs, outputs, ctx):
    x, noise, out = inputs[0], inputs[1], outputs[0]
    return (x.buf, x.off, noise.buf, noise.off, int16s(inputs[2]), out.size, p[0], out.buf, out.off)


def prepare_signal_filter_bank_log(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]       # params: input_correction_bits, output_scale
    return (x.buf, x.off, out.size, p[1], p[0], out.buf, out.off)


# ---------------------------------------------------------------------------------------------------------
# Integer (not quantized) element-wise ops on any integer dtype (host/picoml/ops/integer.py): values read and
# written a byte at a time, C's conversions (the low bits) and int32 wraparound.
# ---------------------------------------------------------------------------------------------------------

_SIZES = (0, 1, 2, 4, 4, 8)


def _get(b, o, dtype):
    """Value at byte offset o of a tensor of `dtype` (1 int8, 2 int16, 3 int32, 4 uint32, 5 uint64)."""
    if dtype == 1:
        return SIGNED[b[o]]
    if dtype == 2:
        return _get16(b, o)
    v = _get32(b, o)
    if dtype == 3:
        return v - 0x100000000 if v & 0x80000000 else v
    if dtype == 5:
        v |= _get32(b, o + 4) << 32
    return v


def _put(b, o, dtype, v):
    for k in range(_SIZES[dtype]):
        b[o + k] = v & 0xFF
        v >>= 8


# CAST. state = (x_buf, x_off, x_dtype, out_buf, out_off, out_dtype, n)
def prepare_cast(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    return (x.buf, x.off, x.dtype, out.buf, out.off, out.dtype, out.size)


def run_cast(st):
    xb, xo, xd, ob, oo, od, n = st
    a, b = _SIZES[xd], _SIZES[od]
    for i in range(n):
        _put(ob, oo + b * i, od, _get(xb, xo + a * i, xd))


# STRIDED_SLICE. state = (x_buf, x_off, out_buf, out_off, dtype, out shape4, first value index, steps4)
def prepare_strided_slice(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    a = x.shape4()
    strides = (a[1] * a[2] * a[3], a[2] * a[3], a[3], 1)
    first = 0
    steps = []
    for d in range(4):
        first += p[d] * strides[d]
        steps.append(p[4 + d] * strides[d])
    return (x.buf, x.off, out.buf, out.off, out.dtype, out.shape4(), first, tuple(steps))


def run_strided_slice(st):
    xb, xo, ob, oo, dtype, shape4, first, steps = st
    size = _SIZES[dtype]
    D0, D1, D2, D3 = shape4
    s0, s1, s2, s3 = steps
    o = oo
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                k = first + i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(D3):
                    src = xo + size * k
                    for j in range(size):
                        ob[o + j] = xb[src + j]
                    k += s3
                    o += size


# MINIMUM, MAXIMUM (kind 0, 1: any one dtype), ADD_INT32, MUL_INT32, DIV_INT32 (kind 2, 3, 4). state = (kind,
# a_buf, a_off, a_strides4, b_buf, b_off, b_strides4, out_buf, out_off, shape4, dtype, act_min, act_max)
def _prepare_integer(kind, p, inputs, outputs):
    a, b, out = inputs[0], inputs[1], outputs[0]
    shape4 = out.shape4()
    act = p if p else (0, 0)
    return (kind, a.buf, a.off, _broadcast_strides(a, shape4), b.buf, b.off, _broadcast_strides(b, shape4),
            out.buf, out.off, shape4, out.dtype, act[0], act[1])


def prepare_minimum(p, inputs, outputs, ctx):
    return _prepare_integer(0, p, inputs, outputs)


def prepare_maximum(p, inputs, outputs, ctx):
    return _prepare_integer(1, p, inputs, outputs)


def prepare_add_int32(p, inputs, outputs, ctx):
    return _prepare_integer(2, p, inputs, outputs)


def prepare_mul_int32(p, inputs, outputs, ctx):
    return _prepare_integer(3, p, inputs, outputs)


def prepare_div_int32(p, inputs, outputs, ctx):
    return _prepare_integer(4, p, inputs, outputs)


def _integer_one(kind, x, y, lo, hi):
    if kind == 0:
        return x if x <= y else y
    if kind == 1:
        return x if x >= y else y
    if kind == 2:
        v = x + y
    elif kind == 3:
        v = x * y
    elif y == 0:
        v = 0
    else:
        v = (x if x >= 0 else -x) // (y if y >= 0 else -y)     # truncation toward zero
        if (x < 0) != (y < 0):
            v = -v
    if v > 2147483647 or v < -2147483648:
        v = ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return lo if v < lo else (hi if v > hi else v)


def run_integer(st):
    kind, ab, ao, sa, bb, bo, sb, ob, oo, shape4, dtype, lo, hi = st
    size = _SIZES[dtype]
    D0, D1, D2, D3 = shape4
    o = oo
    for i0 in range(D0):
        for i1 in range(D1):
            for i2 in range(D2):
                pa = i0 * sa[0] + i1 * sa[1] + i2 * sa[2]
                pb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2]
                for i3 in range(D3):
                    v = _integer_one(kind, _get(ab, ao + size * pa, dtype), _get(bb, bo + size * pb, dtype), lo, hi)
                    _put(ob, o, dtype, v)
                    pa += sa[3]
                    pb += sb[3]
                    o += size


class Tensor:
    """An operand as prepare sees it (one tensor table entry, docs/format.md)."""

    def __init__(self, index, buf, tensors_offset, weights_offset, arena):
        dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = \
            struct.unpack_from("<BBBBII4Ifi", buf, tensors_offset + 36 * index)
        self.index = index
        self.dtype = dtype
        self.storage = storage
        self.offset = offset
        self.nbytes = nbytes
        self.shape = (d0, d1, d2, d3)[:ndim]
        self.scale = scale
        self.zero_point = zp
        self.size = _prod(self.shape)
        if storage == 1:    # the weights; an activation or state (2) is in the arena
            self.buf = buf
            self.off = weights_offset + offset
        else:
            self.buf = arena
            self.off = offset

    def shape4(self):
        """The shape right-aligned to 4 dimensions, leading dimensions 1."""
        return (1,) * (4 - len(self.shape)) + self.shape

    def ints(self):
        """An int32 constant's values as a tuple of ints."""
        _check(self.dtype == 3, "tensor %d is not int32" % self.index)
        return struct.unpack_from("<%di" % self.size, self.buf, self.off)

    def describe(self):
        return "x".join([str(d) for d in self.shape]) or "scalar"


class Context:
    """What a kernel's prepare gets besides its operands."""

    def __init__(self, arena, model):
        self.arena = arena
        self.model = model
        self._scratch = {}

    def scratch(self, slot, n):
        key = (slot, n)
        lst = self._scratch.get(key)
        if lst is None:
            lst = [0] * n
            self._scratch[key] = lst
        return lst


def prepare(model):
    """The last step of picoml.load for the viper and pure-Python backends, once the loader's code is gone:
    model._steps, (ops, arena, tensors_offset, weights_offset, viper module or None) from picoml.pml -- the ops as
    (code, inputs, outputs, params) tuples, validated by picoml.validate -- becomes one (run, state) pair per op,
    the viper module's kernel where it has one; model.python_ops lists the ops left to this module (viper)."""
    import gc
    ops, arena, tensors_offset, weights_offset, viper = model._steps
    model._steps = None
    gc.collect()                # the loader's garbage, before the kernels' long-lived tables
    buf = model.buffer
    fast = viper.KERNELS if viper is not None else {}
    ctx = Context(arena, buf)
    steps = []
    python_ops = []
    for n in range(len(ops)):
        code, ins, outs, params = ops[n]
        entry = fast.get(code)
        if entry is None:
            entry = KERNELS[code]
            python_ops.append(n)
        # Tensor objects live for one op only (they are big next to what the kernels keep)
        inputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in ins])
        outputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in outs])
        steps.append((entry[1], entry[0](params, inputs, outputs, ctx)))
    model._steps = steps
    if viper is not None:
        model.python_ops = python_ops


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_CONV_2D: (prepare_conv_2d, run_conv_2d),
    _ops.OP_DEPTHWISE_CONV_2D: (prepare_depthwise_conv_2d, run_depthwise_conv_2d),
    _ops.OP_FULLY_CONNECTED: (prepare_fully_connected, run_fully_connected),
    _ops.OP_AVERAGE_POOL_2D: (prepare_pool, run_average_pool_2d),
    _ops.OP_MAX_POOL_2D: (prepare_pool, run_max_pool_2d),
    _ops.OP_SOFTMAX: (prepare_softmax, run_softmax),
    _ops.OP_ADD: (prepare_add, run_binary),
    _ops.OP_MUL: (prepare_mul, run_binary),
    _ops.OP_CONCATENATION: (prepare_concatenation, run_concatenation),
    _ops.OP_LUT: (prepare_lut, run_lut),
    _ops.OP_MEAN: (prepare_mean, run_mean),
    _ops.OP_PAD: (prepare_pad, run_pad),
    _ops.OP_SIGNAL_WINDOW: (prepare_signal_window, run_signal_window),
    _ops.OP_SIGNAL_FFT_AUTO_SCALE: (prepare_signal_fft_auto_scale, run_signal_fft_auto_scale),
    _ops.OP_SIGNAL_RFFT: (prepare_signal_rfft, run_signal_rfft),
    _ops.OP_SIGNAL_ENERGY: (prepare_signal_energy, run_signal_energy),
    _ops.OP_SIGNAL_FILTER_BANK: (prepare_signal_filter_bank, run_signal_filter_bank),
    _ops.OP_SIGNAL_FILTER_BANK_SQUARE_ROOT: (prepare_signal_filter_bank_square_root,
                                             run_signal_filter_bank_square_root),
    _ops.OP_SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: (prepare_signal_spectral_subtraction,
                                                      run_signal_spectral_subtraction),
    _ops.OP_SIGNAL_PCAN: (prepare_signal_pcan, run_signal_pcan),
    _ops.OP_SIGNAL_FILTER_BANK_LOG: (prepare_signal_filter_bank_log, run_signal_filter_bank_log),
    _ops.OP_CAST: (prepare_cast, run_cast),
    _ops.OP_STRIDED_SLICE: (prepare_strided_slice, run_strided_slice),
    _ops.OP_MINIMUM: (prepare_minimum, run_integer),
    _ops.OP_MAXIMUM: (prepare_maximum, run_integer),
    _ops.OP_ADD_INT32: (prepare_add_int32, run_integer),
    _ops.OP_MUL_INT32: (prepare_mul_int32, run_integer),
    _ops.OP_DIV_INT32: (prepare_div_int32, run_integer),
}
del _ops
