# picoml: the ops in MicroPython viper code, bit-exact with kernels_python (and so with the numpy reference and
# TensorFlow Lite Micro). The backend for boards without a _picoml native module for their arch (ESP32 xtensawin in
# particular). This module is the core: what the kernels share, and kernel(op_code) -> (prepare, run) as the pure-
# Python kernels' (see picoml.prepare's header), or None; the model takes picoml.prepare's prepare and
# kernels_python's run for an op without one. The kernels are in family modules, kernels_viper_<family> (_FAMILY says
# which has an op), imported on first use: a model loads only the viper code of its ops (models/gesture on the
# emulated M4: 16 KB of the 68 KB of .mpy).
#
# Viper-accelerated: every op: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, SUB,
# MUL, DIV, SQUARED_DIFFERENCE, LUT, MEAN, PAD, CONCATENATION, STRIDED_SLICE, BATCH_MATMUL, RESIZE_BILINEAR, ARG_MAX,
# LSTM, the audio front-end's (kernels_viper_audio), SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION (these three with
# gemmlowp's fixed point once per row in int32 words: _srdhm_words, _reciprocal_words, _log_words). The model was
# validated (picoml.validate) before any prepare runs. Each prepare builds what the viper code needs, most from
# what picoml.prepare's prepare decodes; the convolutions, FULLY_CONNECTED, the pools and MEAN read their operands
# themselves and import no prepare family. An op whose constants the viper code does not take (a shift outside
# [-31, 31], an input zero point outside int8) keeps kernels_python's run, so every model runs and stays exact.
#
# Word size. A viper `int` is the machine word: 32 bits on the boards, 64 on the x64 unix port. The code is
# written so that it gives the same bytes on both:
#   * accumulations use only + - * (exact modulo 2**32 on a 32-bit word, exact on a 64-bit one) and are then
#     wrapped to int32 with `(v << ext) >> ext`, ext = word bits - 32 (_EXT: 0 on 32-bit, 32 on 64-bit), as
#     the C code's int32 wraps; int32 values loaded with ptr32 (zero-extended on 64-bit) go through the same
#     wrap wherever their sign matters;
#   * the requantization (TFLite's MultiplyByQuantizedMultiplier) never forms a 64-bit product. Its record
#     (_pair, _RECORD halfwords, read with ptr16: half the RAM of words for the same loads) holds the multiplier
#     M's 11-bit pieces m0, m1, m2 (M = m2 2^22 + m1 2^11 + m0) and the shift. Most outputs take the shortcut of
#     the Armv6-M kernels (native_module/requantize_armv6m.h): for a right shift e in [1, 22] and |acc| < 2^19,
#     with rs = 9 + e,
#         floor((acc M + 2^30 + 2^(30+e) - 2^31 [acc < 0]) / 2^(31+e)) = Z2 >> rs,
#         Z1 = acc m1 + ((acc m0) >> 11),  Z2 = acc m2 + (Z1 >> 11) + 2^8 + 2^(rs-1) - 2^9 [acc < 0]
#     (the floors carried piece by piece, every term below 2^31 in magnitude: the same on a 32- and a 64-bit
#     word). Any other accumulator or shift (the record's rs = 63 + s then) takes the general lines: gemmlowp's
#     SaturatingRoundingDoublingHighMul(a, b) equals floor((a * b + 2**30) / 2**31) (its nudge for negative
#     products turns C's truncating division into this floor), computed from 16-bit halves a = ah*2**16 + al,
#     b = bh*2**16 + bl (ah signed, al, bl in [0, 65535], bh in [0, 32767]: the requantization takes
#     multipliers >= 0, as every converter writes them; _pair refuses the others, whose ops run in
#     kernels_python) as
#         2 * ah*bh + (X >> 15) + ((Y + L + (X & 0x7FFF) + 2**14) >> 15)
#     with X = ah*bl, Y = al*bh and L = floor(al*bl / 2**16): X and Y fit in int32, al*bl and the last sum
#     (below 2**32) are taken as uint (`uint` shifts right logically), and the result lies in int32 (no
#     saturating case: b >= 0). The rounding right shift by e >= 1 is (v >> e) + (((v & mask) + 2**(e-1) -
#     [v < 0]) >> e), mask = 2**e - 1, that last sum as uint (below 2**32). Small records: the arrays of 64
#     channels' records of six words found no hole while DS-CNN loaded in a heap 16 KB larger than the 1 KB
#     ones of four words needed;
#   * the output offset is applied after comparing with (act_min - offset, act_max - offset), so no sum leaves
#     int32; shift counts stay below 32; no integer literal reaches 2**30; `//` only sees non-negative operands.
# tests/test_device_viper.py runs this file's viper functions in CPython on emulated 32- and 64-bit words
# (every operation wrapped to the word, ptr32 loads signed or zero-extended as on each) and on the unix port.
#
# Memory: prepare allocates per op a few arrays (bias folded with the weight sums, a requantization record of
# _RECORD halfwords per channel, or one when quantized per tensor) and shares byte scratch buffers
# between ops; these kernels allocate nothing per run, on 32-bit boards too (no value leaves the viper code as a
# Python int).
#
# Speed: each op is one call of a viper function taking one argument: a tuple, or, for the convolutions and the
# integer ops, the address of int32 words (_words) whose int argument then serves as a loop variable (the emitter
# keeps only the first 2 (mpy-cross) or 3 locals of a function in registers, arguments first, so the hot loop
# variables come right after it); CONV_2D and FULLY_CONNECTED gather the input window once per output pixel and
# run the MACs of all output channels over it, 8 per step, by walking addresses; DEPTHWISE_CONV_2D adds each tap
# to the sums of all channels of an output pixel in one pass. The requantization lines are repeated in each kernel
# instead of called: a call between viper functions goes through the Python call machinery (and needs int()
# around its result), once per output element. On the x64 unix port the keyword-spotting model (kws_ref_model)
# takes about 3.5 ms per inference against about 185 ms with kernels_python (session 17); on the emulated Xtensa
# core 56.4 M instructions (docs/esp32.md).
#:: The lines every kernel writes out (viper has no inlining; see above), once: `#: NAME` in a kernel is NAME's
#:: lines at its indentation. host/picoml/viper_source.py writes device/picoml/kernels_viper.py from this file.
#: define conv_geometry
#:: g: ptr32 of _words' int32 values (on a 64-bit word loaded zero-extended: the five that can be negative are
#:: sign-extended; the format's rules keep the others >= 0)
ext = int(_EXT)
xo = int(g[0])
N = int(g[1])
H = int(g[2])
W = int(g[3])
C = int(g[4])
fo = int(g[5])
KH = int(g[6])
KW = int(g[7])
OC = int(g[8])
out = int(g[9])
OH = int(g[10])
OW = int(g[11])
sh = int(g[12])
sw = int(g[13])
dh = int(g[14])
dw = int(g[15])
pt = int(g[16])
pl = int(g[17])
zq = int(g[18])
ooff = (int(g[19]) << ext) >> ext
lo = (int(g[20]) << ext) >> ext
hi = (int(g[21]) << ext) >> ext
amin = (int(g[22]) << ext) >> ext
amax = (int(g[23]) << ext) >> ext
qstep = int(g[24])
#: end
#: define conv_buffers
#:: the buffers' addresses in _words after the geometry, from word wb on (conv_geometry's g): the input x, the
#:: filter f, the output o, the folded bias bz, the records q, and the scratch's address scr
x = ptr8(int(g[wb]) | ((int(g[wb + 1]) << 16) << 16))
f = ptr8(int(g[wb + 2]) | ((int(g[wb + 3]) << 16) << 16))
o = ptr8(int(g[wb + 4]) | ((int(g[wb + 5]) << 16) << 16))
bz = ptr32(int(g[wb + 6]) | ((int(g[wb + 7]) << 16) << 16))
q = ptr16(int(g[wb + 8]) | ((int(g[wb + 9]) << 16) << 16))
scr = int(g[wb + 10]) | ((int(g[wb + 11]) << 16) << 16)
#: end
#: define patch_dot
#:: 8 per step, each byte loaded at a constant offset from the walking address itself: a pointer local per step
#:: (pw = ptr8(pp)) costs a stack slot and a reload per byte. FULLY_CONNECTED 1024x64 on qemu-m4: 1,500,310 ->
#:: 1,189,014 instructions; on qemu-xtensa 1,452,208 -> 1,165,488 (a47d311). The weight before the input byte
#:: in each product: DS-CNN 69,623,037 -> 64,885,501 on qemu-m4, 68,351,635 -> 63,613,473 on qemu-xtensa.
pp = pa
while pp != pe8:
    acc += ((ptr8(fk)[0] ^ 0x80) * ptr8(pp)[0] + (ptr8(fk)[1] ^ 0x80) * ptr8(pp)[1]
            + (ptr8(fk)[2] ^ 0x80) * ptr8(pp)[2] + (ptr8(fk)[3] ^ 0x80) * ptr8(pp)[3]
            + (ptr8(fk)[4] ^ 0x80) * ptr8(pp)[4] + (ptr8(fk)[5] ^ 0x80) * ptr8(pp)[5]
            + (ptr8(fk)[6] ^ 0x80) * ptr8(pp)[6] + (ptr8(fk)[7] ^ 0x80) * ptr8(pp)[7])
    pp += 8
    fk += 8
while pp != pe:
    acc += (ptr8(fk)[0] ^ 0x80) * ptr8(pp)[0]
    pp += 1
    fk += 1
#: end
#: define srdhm
bh = (m << ext) >> (ext + 16)
bl = m & 0xFFFF
ah = acc >> 16
al = acc & 0xFFFF
if al == 0 and bl == 0 and ah == -32768 and bh == -32768:
    v = imax
else:
    hx = ah * bl
    hy = al * bh
    ll = (al * (bl >> 1) + ((al * (bl & 1)) >> 1)) >> 15
    ll += (hx & 0xFFFF) + (hy & 0xFFFF) + 0x4000
    v = ((ah * bh + (hx >> 16) + (hy >> 16)) << 1) + (ll >> 15)
#: end
#: define requantize
# requantize acc by the record at address r (_pair's) into v (the same lines in every kernel)
acc = (acc << ext) >> ext
qr = ptr16(r)
rs = qr[3]
if rs < 32 and ((acc + 0x80000) >> 20) == 0:
    v = acc * qr[1] + ((acc * qr[0]) >> 11)
    v = (acc * qr[2] + (v >> 11) + 256 + (1 << (rs - 1)) + ((acc >> 31) << 9)) >> rs
else:
    if rs < 32:
        rs = 9 - rs
    else:
        rs -= 63
    if rs > 0:
        acc = ((acc << rs) << ext) >> ext
    mq = qr[0] + (qr[1] << 11) + (((qr[2] << (ext + 16)) >> (ext + 16)) << 22)
    bh = mq >> 16
    bl = mq & 0xFFFF
    ah = acc >> 16
    al = acc & 0xFFFF
    hx = ah * bl
    rt = uint(al * bh) + (uint(al * bl) >> 16) + (hx & 0x7FFF) + 0x4000
    v = ((ah * bh) << 1) + (hx >> 15) + (rt >> 15)
    if rs < 0:
        rs = 0 - rs
        mask = (1 << rs) - 1
        v = (v >> rs) + (uint((v & mask) + (mask >> 1) + 1 + (v >> 31)) >> rs)
# end requantize
#: end
#: define clamp
# clamp: act_min - offset <= v <= act_max - offset, then add the offset (no int32 overflow)
if v < lo:
    v = amin
elif v > hi:
    v = amax
else:
    v += ooff
o[out] = v
#: end
import micropython
import sys
from array import array


def _kp(family=None):
    """picoml.prepare, or with `family` its module of that family's prepares (picoml.prepare_<family>: the decoded
    constants), imported on use, so that once a model is loaded nothing here refers to them and picoml.load
    can drop them (runs_in_viper)."""
    from . import prepare
    return prepare if family is None else prepare.family(family)


def _runs():
    """picoml.kernels_python, for the run of an op whose constants the viper code does not take (_fallback)."""
    from . import kernels_python
    return kernels_python


@micropython.viper
def _word_bits() -> int:
    x = 1
    n = 0
    while x != 0:
        x = x << 1
        n += 1
    return n


_EXT = _word_bits() - 32            # 0 on 32-bit ports, 32 on 64-bit ones
_INT32_MIN = -2147483648
_INT32_MAX = 2147483647


@micropython.viper
def _addr(b) -> int:
    return int(ptr8(b))


def _words(values, buffers):
    """(address, keep) of an int32 array of `values`, then the address of each of `buffers` in two words (low,
    high: the high one 0 on 32-bit ports, read back as low | ((high << 16) << 16)): a kernel taking the address as
    its one int argument reads its constants from the words (conv_geometry) and has both of the emitter's
    registers for locals free for its loops. keep holds what the words point into."""
    a = array("i", values + (0, 0) * len(buffers))
    i = len(values)
    for b in buffers:
        address = _addr(b)
        a[i] = ((address & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
        a[i + 1] = (address >> 16) >> 16 & 0x7FFFFFFF
        i += 2
    return _addr(a), (a, buffers)


def _run(st):
    """The run of every op here: st = (function, its one argument[, what the argument points into: _words])."""
    st[0](st[1])


def _python(S):
    S[0](S[1])


def _fallback(run, state):
    """The state making _run call kernels_python's run: for constants the viper code does not take."""
    return (_python, (run, state))


def runs_in_viper(steps):
    """True when every prepared step runs viper code: no op left to kernels_python or falling back to its run."""
    for run, state in steps:
        if run is not _run or state[0] is _python:
            return False
    return True


def _ints(values):
    return array("i", values)


def _in_int32(*values):
    for v in values:
        if v < _INT32_MIN or v > _INT32_MAX:
            return False
    return True


# Prepare-time arithmetic (Python ints), as fixedpoint.py: wrap to int32, MultiplyByQuantizedMultiplier.
def _wrap32(x):
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _mbqm(x, m, shift):
    x = _wrap32(x << shift if shift > 0 else x)
    x = 0x7FFFFFFF if x == m == _INT32_MIN else (x * m + 0x40000000) >> 31
    if shift < 0:
        mask = (1 << -shift) - 1
        rem = x & mask
        x >>= -shift
        if rem > (mask >> 1) + (1 if x < 0 else 0):
            x += 1
    return x


_RECORD = 4     # halfwords of a requantization record (_pair)


def _pair(m, s):
    """The _RECORD halfwords the requantization lines read for multiplier m and shift s: m's 11-bit pieces
    (low first) and the shift as rs = 9 - s for s in [-22, -1] (the three-product shortcut's), else 63 + s; None
    for what they do not take: a negative multiplier, a shift outside [-31, 31]."""
    if m < 0 or s < -31 or s > 31:
        return None
    return [m & 0x7FF, (m >> 11) & 0x7FF, m >> 22, 9 - s if -22 <= s <= -1 else 63 + s]


def _records(values):
    """The requantization records' array (halfwords) of a list of them (_pair's, concatenated)."""
    return array("H", values)


def _quant(inputs, channels):
    """(records, step) for the multipliers/shifts operands: _pair() per multiplier and the byte step between
    channels' records (0 when quantized per tensor); (None, 0) when _pair refuses one."""
    multipliers = inputs[3].ints()
    shifts = inputs[4].ints()
    n = len(multipliers)
    q = array("H", range(_RECORD * n))      # filled in place: no list growing while a model loads
    for i in range(n):
        record = _pair(multipliers[i], shifts[i])
        if record is None:
            return None, 0
        for k in range(_RECORD):
            q[_RECORD * i + k] = record[k]
    return q, (2 * _RECORD if n == channels and channels > 1 else 0)


def _scratch_bytes(ctx, n):
    """A bytearray of n bytes shared by the ops asking for the same size (ops run one at a time); the dict of
    them lives in a one-item scratch list of the context."""
    cell = ctx.scratch("kernels_viper", 1)
    d = cell[0]
    if not d:
        d = {}
        cell[0] = d
    b = d.get(n)
    if b is None:
        b = bytearray(n if n > 0 else 1)
        d[n] = b
    return b


@micropython.viper
def _sums(fbuf, out, g):
    """out[c] = sum of the int8 values fbuf[fo + c*cstride + i*estride], i < count, for c < n."""
    f = ptr8(fbuf)
    s = ptr32(out)
    fo = int(g[0])
    n = int(g[1])
    cstride = int(g[2])
    estride = int(g[3])
    count = int(g[4])
    for c in range(n):
        k = fo + c * cstride
        t = 0
        for i in range(count):
            t += (f[k] ^ 0x80) - 0x80
            k += estride
        s[c] = t


def _folded_bias(fb, fo, n, cstride, estride, count, bias, coef):
    """int32 array of wrap32(bias[c] + coef * sum of filter c)."""
    sums = _ints([0] * n)
    _sums(fb, sums, (fo, n, cstride, estride, count))
    return _ints([_wrap32(bias[c] + coef * sums[c]) for c in range(n)])


def _out_range(ooff, amin, amax):
    return amin - ooff, amax - ooff


def _conv_operands(p, inputs, outputs, channels):
    """What CONV_2D and DEPTHWISE_CONV_2D share: (x, f, out, zp, q, qstep, lo, hi, ok)."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    zp = -p[6]
    q, qstep = _quant(inputs, channels)
    lo, hi = _out_range(p[7], p[8], p[9])
    return x, f, out, zp, q, qstep, lo, hi, q is not None and -128 <= zp <= 127 and _in_int32(lo, hi)


def _byte_table(offset, left_shift=0, m=None, s=0, sign=1):
    """int32 [256]: for each int8 value x (as its byte u), x + offset, or with (m, s) sign * _mbqm((x + offset) <<
    left_shift, m, s); None when one leaves int32. Filled in place: no 256-item lists, whose growth fragments a
    board's heap while a model loads."""
    t = array("i", range(256))
    for u in range(256):
        v = ((u ^ 0x80) - 0x80) + offset
        if m is not None:
            v = sign * _mbqm(v << left_shift, m, s)
        if v < _INT32_MIN or v > _INT32_MAX:
            return None
        t[u] = v
    return t


def kernel(code):
    """(prepare, run) of the op's viper kernel, or None for an op without one (or whose module is missing: the op
    then runs in kernels_python). Each family of kernels is a module of its own, picoml.kernels_viper_<family>,
    imported on first use, so a model loads only the viper code of its ops."""
    family = _FAMILY.get(code)
    if family is None:
        return None
    name = __name__ + "_" + family
    try:
        __import__(name)
    except ImportError:
        return None
    return sys.modules[name].KERNELS[code]


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

_FAMILY = {
    #: families
}
del _ops
