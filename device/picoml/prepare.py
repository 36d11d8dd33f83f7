# picoml.prepare: the load-time half of the Python backends (viper and pure Python): each op's prepare (its
# checks, its constants decoded, its state), the Tensor and Context they are given, prepare(model), which builds a
# model's steps, and the fixed-point helpers both halves use. The runs of the pure-Python backend are in
# picoml.kernels_python, imported only for a model that runs one of them: a model whose every op runs in viper code
# needs this module only while it loads (picoml.load drops it then).
#
# Kernel interface (shared with picoml.kernels_viper, which may supply faster versions of some ops)
# ----------------------------------------------------------------------------------------------
# An op's kernel is a pair (prepare, run): here PREPARES = {op_code: prepare} and kernels_python.RUNS = {op_code:
# run} (op codes as in docs/format.md), kernels_viper.kernel(op_code) and kernels_audio.KERNELS the pair.
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
# picoml.kernels_viper provides kernel(op_code) -> (prepare, run), or None, for the ops it accelerates (each
# family of them in a module of its own, imported on first use); prepare() takes its pair when there is one and
# this module's prepare with kernels_python's run otherwise, so it may cover any subset of the ops. Its prepare can call this module's prepare (the checks, the decoded constants) and build its own state from the
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


def prepare_arg_max(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, outer, n, inner, out_buf, out_off, flip): the raw bytes ^ flip order as the int8
    values (flip 0x80) or in reverse (0x7F, ARG_MIN)."""
    x, out = inputs[0], outputs[0]
    _check_int8((x,), "ARG_MAX")
    outer, n, inner = x.shape
    return (x.buf, x.off, outer, n, inner, out.buf, out.off, 0x7F if p[0] else 0x80)


def prepare_l2_normalization(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, rows, depth, zero point, out_buf, out_off, a row's multiplier and shift)"""
    x, out = inputs[0], outputs[0]
    _check_int8((x, out), "L2_NORMALIZATION")
    rows, depth = x.shape
    return (x.buf, x.off, rows, depth, p[0], out.buf, out.off, array("i", (0, 0)))


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


def prepare_div(p, inputs, outputs, ctx):
    return prepare_mul(p, inputs, outputs, ctx, "DIV", 3)     # MUL's params and state, kind 3


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
    True when nothing the model runs is in the pure-Python kernels (every op in viper code) and no model kept them:
    picoml.load then drops them (this module, kernels_python, kernels_audio)."""
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
            if code in PREPARES:
                from .kernels_python import RUNS
                entry = (PREPARES[code], RUNS[code])
            else:                   # an audio front-end's op: its kernels are imported only for such a model
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


# Non-empty once a prepared model runs pure-Python kernels (kernels_python's or kernels_audio's, which refer to this
# module): until then a viper model needs this module only while it loads, and prepare() says picoml.load may drop
# it; once kept, it is never dropped (a model still running them would keep their code alive beside a second copy).
_KEPT = []


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_CONV_2D: prepare_conv_2d,
    _ops.OP_DEPTHWISE_CONV_2D: prepare_depthwise_conv_2d,
    _ops.OP_FULLY_CONNECTED: prepare_fully_connected,
    _ops.OP_AVERAGE_POOL_2D: prepare_pool,
    _ops.OP_MAX_POOL_2D: prepare_pool,
    _ops.OP_SOFTMAX: prepare_softmax,
    _ops.OP_ADD: prepare_add,
    _ops.OP_SUB: prepare_sub,
    _ops.OP_SQUARED_DIFFERENCE: prepare_squared_difference,
    _ops.OP_MUL: prepare_mul,
    _ops.OP_CONCATENATION: prepare_concatenation,
    _ops.OP_STRIDED_SLICE: prepare_strided_slice,
    _ops.OP_LUT: prepare_lut,
    _ops.OP_MEAN: prepare_mean,
    _ops.OP_PAD: prepare_pad,
    _ops.OP_BATCH_MATMUL: prepare_batch_matmul,
    _ops.OP_RESIZE_BILINEAR: prepare_resize_bilinear,
    _ops.OP_ARG_MAX: prepare_arg_max,
    _ops.OP_L2_NORMALIZATION: prepare_l2_normalization,
    _ops.OP_LOG_SOFTMAX: prepare_log_softmax,
    _ops.OP_DIV: prepare_div,
}
del _ops
