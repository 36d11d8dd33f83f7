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
# picoml.kernels_viper provides kernel(op_code) -> (prepare, run) of the same shape, or None, for the ops it
# accelerates (each family of them in a module of its own, imported on first use); prepare() takes its entry
# when there is one and this module's otherwise, so it may cover any subset of the ops. Its prepare can call this module's prepare (the checks, the decoded constants) and build its own state from the
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


def prepare_batch_matmul(p, inputs, outputs, ctx):
    """state = (lhs_buf, rhs_buf, out_buf, out_off, matrices, rows, cols, depth, lhs row step, lhs k step, rhs
    column step, rhs k step, lhs_offset, rhs_offset, multiplier, shift, output_offset, act_min, act_max); matrices:
    per output matrix the byte offsets of its lhs and rhs matrices (the batch axes broadcast)."""
    a, b, out = inputs[0], inputs[1], outputs[0]
    _check_int8((a, b, out), "BATCH_MATMUL")
    lo, ro, ooff, mo, so, act_min, act_max, adj_x, adj_y = p
    sa, sb, o = a.shape4(), b.shape4(), out.shape4()
    rows, cols = o[2], o[3]
    depth = sa[2] if adj_x else sa[3]
    mats = []
    for b0 in range(o[0]):
        for b1 in range(o[1]):
            ia = ((b0 if sa[0] > 1 else 0) * sa[1] + (b1 if sa[1] > 1 else 0)) * rows * depth
            ib = ((b0 if sb[0] > 1 else 0) * sb[1] + (b1 if sb[1] > 1 else 0)) * depth * cols
            mats.append((a.off + ia, b.off + ib))
    return (a.buf, b.buf, out.buf, out.off, tuple(mats), rows, cols, depth, 1 if adj_x else depth,
            rows if adj_x else 1, depth if adj_y else 1, 1 if adj_y else cols, lo, ro, mo, so, ooff, act_min, act_max)


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


def resize_axis(out, size, align, half):
    """RESIZE_BILINEAR along one axis: per output position (first, second input position, distance past the first
    in 1/1024ths), as picoml.ops.resize.axis_positions on the host."""
    scale = ((1 << 10) * size + (out >> 1)) // out
    if align and out > 1:
        scale = ((1 << 10) * (size - 1) + ((out - 1) >> 1)) // (out - 1)
    positions = []
    for v in range(out):
        s = v * scale + ((scale >> 1) - 512 if half else 0)
        first = s >> 10 if s >= 0 else -((-s) >> 10)
        first = 0 if first < 0 else (size - 1 if first > size - 1 else first)
        second = (s + 1023) >> 10 if s + 1023 >= 0 else -((-s - 1023) >> 10)
        positions.append((first, size - 1 if second > size - 1 else second, s - (first << 10)))
    return tuple(positions)


def prepare_resize_bilinear(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, out_buf, out_off, rows, cols): rows and cols from resize_axis."""
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "RESIZE_BILINEAR")
    align, half = p
    n, h, w, c = x.shape4()
    oh, ow = out.shape4()[1:3]
    return (x.buf, x.off, n, h, w, c, out.buf, out.off, resize_axis(oh, h, align, half),
            resize_axis(ow, w, align, half))


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


def prepare_arg_max(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, outer, n, inner, out_buf, out_off, flip): the raw bytes ^ flip order as the int8
    values (flip 0x80) or in reverse (0x7F, ARG_MIN)."""
    x, out = inputs[0], outputs[0]
    _check_int8((x,), "ARG_MAX")
    outer, n, inner = x.shape
    return (x.buf, x.off, outer, n, inner, out.buf, out.off, 0x7F if p[0] else 0x80)


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


def prepare_l2_normalization(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, rows, depth, zero point, out_buf, out_off, a row's multiplier and shift)"""
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "L2_NORMALIZATION")
    rows, depth = x.shape
    return (x.buf, x.off, rows, depth, p[0], out.buf, out.off, array("i", (0, 0)))


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


def prepare_log_softmax(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, out_buf, out_off, rows, depth, the diffs' Q5.26 values and their exponentials in
    Q12.19 by -diff (0..255), divisor, divisor shift, diff_min)"""
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "LOG_SOFTMAX")
    multiplier, left_shift, divisor, divisor_shift, diff_min = p
    rows, depth = x.shape
    scaled = table32(lambda d: mbqm(-d, multiplier, left_shift))
    exps = table32(lambda d: rdbp(exp_on_negative_values(scaled[d], 5), 12))
    return (x.buf, x.off, out.buf, out.off, rows, depth, scaled, exps, divisor, divisor_shift, diff_min)


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


# ---------------------------------------------------------------------------------------------------------
# ADD, SUB and MUL with NumPy broadcasting (shapes right-aligned to 4-D).
# state = (kind, a_buf, a_off, a_strides, b_buf, b_off, b_strides, out_buf, out_off, out_shape4, flat, ta, tb,
#          rq, output_offset, act_min, act_max), rq = requant_pair(output_multiplier, output_shift)
# ADD: ta[u] / tb[u] = each input byte u already offset, shifted and rescaled; out = mbqm(ta + tb). SUB: ADD with
# tb negated.
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


def prepare_add(p, inputs, outputs, ctx, what="ADD", sign=1, kind=0):
    (in1_off, in2_off, out_off, left_shift, m1, s1, m2, s2, mo, so, act_min, act_max) = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs, what)
    _check(0 <= left_shift < 32, "left_shift %d out of range" % left_shift)
    ta = ctx.table((in1_off, left_shift, m1, s1, 1), lambda u: mbqm((SIGNED[u] + in1_off) << left_shift, m1, s1))
    tb = ctx.table((in2_off, left_shift, m2, s2, sign),
                   lambda u: wrap32(sign * mbqm((SIGNED[u] + in2_off) << left_shift, m2, s2)))
    return (kind, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


def prepare_sub(p, inputs, outputs, ctx):
    """ADD with the second input's rescaled values negated in its table (wrapped as C's int32: the sum then wraps
    to C's difference), after their rounding: exact."""
    return prepare_add(p, inputs, outputs, ctx, "SUB", -1)


def prepare_squared_difference(p, inputs, outputs, ctx):
    """SUB's difference squared (kind 2 of run_binary)."""
    return prepare_add(p, inputs, outputs, ctx, "SQUARED_DIFFERENCE", -1, 2)


def prepare_mul(p, inputs, outputs, ctx, what="MUL", kind=1):
    in1_off, in2_off, out_off, mo, so, act_min, act_max = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs, what)
    ta = ctx.table(in1_off, lambda u: SIGNED[u] + in1_off)
    tb = ctx.table(in2_off, lambda u: SIGNED[u] + in2_off)
    return (kind, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


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


def prepare_div(p, inputs, outputs, ctx):
    return prepare_mul(p, inputs, outputs, ctx, "DIV", 3)     # MUL's params and state, kind 3


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


# ---------------------------------------------------------------------------------------------------------
# CONCATENATION, any one dtype: state = (parts, outer, out_buf, out_off, out_chunk) with parts = ((buf, off,
# chunk), ...), chunks in bytes
# ---------------------------------------------------------------------------------------------------------

# STRIDED_SLICE: any one dtype, byte copies. state = (x_buf, out_buf, (first, out_off, size, D0, D1, D2, D3, s0,
# s1, s2, s3)): output value (i0, i1, i2, i3) is the `size` bytes at first + i0 s0 + i1 s1 + i2 s2 + i3 s3.
def prepare_strided_slice(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    size = out.nbytes // out.size
    a = x.shape4()
    strides = (a[1] * a[2] * a[3], a[2] * a[3], a[3], 1)
    first = x.off
    steps = []
    for d in range(4):
        first += size * p[d] * strides[d]
        steps.append(size * p[4 + d] * strides[d])
    return (x.buf, out.buf, (first, out.off, size) + tuple(out.shape4()) + tuple(steps))


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
        self._shared = {}

    def shared(self, key, make):
        """make(), once for all the ops that ask with the same key (a GRU's steps share their constants)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def table(self, key, fn):
        """table32(fn), one array for all the ops whose key is the same."""
        return self.shared(key, lambda: table32(fn))

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
    the viper module's kernel where it has one; model.python_ops lists the ops left to this module (viper).
    True when nothing the model runs is in this module (every op in viper code) and no model kept it: picoml.load
    then drops it."""
    import gc
    ops, arena, tensors_offset, weights_offset, viper = model._steps
    model._steps = None
    gc.collect()                # the loader's garbage, before the kernels' long-lived tables
    buf = model.buffer
    ctx = Context(arena, buf)
    steps = []
    python_ops = []
    for n in range(len(ops)):
        code, ins, outs, params = ops[n]
        entry = viper.kernel(code) if viper is not None else None
        if entry is None:
            entry = KERNELS.get(code)
            if entry is None:       # an audio front-end's op: its kernels are imported only for such a model
                from .kernels_audio import KERNELS as audio
                entry = audio[code]
            python_ops.append(n)
        # Tensor objects live for one op only (they are big next to what the kernels keep)
        inputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in ins])
        outputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in outs])
        steps.append((entry[1], entry[0](params, inputs, outputs, ctx)))
    model._steps = steps
    if viper is not None:
        model.python_ops = python_ops
    runs_in_viper = getattr(viper, "runs_in_viper", None)     # (a stand-in viper module may not say)
    if runs_in_viper is None or not runs_in_viper(steps):
        _KEPT.append(1)
    return not _KEPT


# Non-empty once a prepared model runs code of this module (or kernels_audio's, which refers to it): until then a
# viper model needs it only while it loads, and prepare() says picoml.load may drop it (about 25 KB of a board's
# heap); once kept, it is never dropped (a model still running it would keep its code alive beside a second copy).
_KEPT = []


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
    _ops.OP_SUB: (prepare_sub, run_binary),
    _ops.OP_SQUARED_DIFFERENCE: (prepare_squared_difference, run_binary),
    _ops.OP_MUL: (prepare_mul, run_binary),
    _ops.OP_CONCATENATION: (prepare_concatenation, run_concatenation),
    _ops.OP_STRIDED_SLICE: (prepare_strided_slice, run_strided_slice),
    _ops.OP_LUT: (prepare_lut, run_lut),
    _ops.OP_MEAN: (prepare_mean, run_mean),
    _ops.OP_PAD: (prepare_pad, run_pad),
    _ops.OP_BATCH_MATMUL: (prepare_batch_matmul, run_batch_matmul),
    _ops.OP_RESIZE_BILINEAR: (prepare_resize_bilinear, run_resize_bilinear),
    _ops.OP_ARG_MAX: (prepare_arg_max, run_arg_max),
    _ops.OP_L2_NORMALIZATION: (prepare_l2_normalization, run_l2_normalization),
    _ops.OP_LOG_SOFTMAX: (prepare_log_softmax, run_log_softmax),
    _ops.OP_DIV: (prepare_div, run_binary),
}
del _ops
