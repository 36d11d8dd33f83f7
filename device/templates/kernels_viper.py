# picoml: the MAC-heavy ops in MicroPython viper code, bit-exact with kernels_python (and so with the numpy
# reference and TensorFlow Lite Micro). The backend for boards without a _picoml native module for their arch
# (ESP32 xtensawin in particular). Same interface as kernels_python (see its header): KERNELS = {op_code:
# (prepare, run)}; the model takes kernels_python's (kernels_audio's) entry for the op codes missing here: the audio
# front-end's (the Signal library's and the int32 ops around them).
#
# Viper-accelerated: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, SUB, MUL, DIV,
# SQUARED_DIFFERENCE, LUT, MEAN, PAD, CONCATENATION, STRIDED_SLICE, BATCH_MATMUL, RESIZE_BILINEAR, ARG_MAX, LSTM,
# SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION (these three with gemmlowp's fixed point once per row in int32 words:
# _srdhm_words, _reciprocal_words, _log_words). Each prepare runs kernels_python's prepare (the checks and the
# decoding), then builds what the viper code needs; an op whose constants the viper code does not take (a shift
# outside [-31, 31], an input zero point outside int8) keeps kernels_python's run, so every model runs and stays
# exact.
#
# Word size. A viper `int` is the machine word: 32 bits on the boards, 64 on the x64 unix port. The code is
# written so that it gives the same bytes on both:
#   * accumulations use only + - * (exact modulo 2**32 on a 32-bit word, exact on a 64-bit one) and are then
#     wrapped to int32 with `(v << ext) >> ext`, ext = word bits - 32 (_EXT: 0 on 32-bit, 32 on 64-bit), as
#     the C code's int32 wraps; int32 values loaded with ptr32 (zero-extended on 64-bit) go through the same
#     wrap wherever their sign matters;
#   * the requantization (TFLite's MultiplyByQuantizedMultiplier) never forms a 64-bit product: gemmlowp's
#     SaturatingRoundingDoublingHighMul(a, b) equals floor((a * b + 2**30) / 2**31) (its nudge for negative
#     products turns C's truncating division into this floor), computed from 16-bit halves a = ah*2**16 + al,
#     b = bh*2**16 + bl (ah, bh signed, al, bl in [0, 65535]) as
#         2 * (ah*bh + (X >> 16) + (Y >> 16)) + (((X & 0xFFFF) + (Y & 0xFFFF) + L + 2**14) >> 15)
#     with X = ah*bl, Y = al*bh and L = floor(al*bl / 2**16) = (al*(bl >> 1) + ((al*(bl & 1)) >> 1)) >> 15:
#     every partial value fits in int32; only the final doubling may leave it, and the result (which lies in
#     int32 except when a = b = INT32_MIN, the saturating case, tested first) is then the same modulo 2**32;
#   * the rounding right shift uses a precomputed mask, the output offset is applied after comparing with
#     (act_min - offset, act_max - offset), so no sum leaves int32; shift counts stay below 32; no integer
#     literal reaches 2**30; `//` only sees non-negative operands.
# tests/test_device_viper.py runs this file's viper functions in CPython on emulated 32- and 64-bit words
# (every operation wrapped to the word, ptr32 loads signed or zero-extended as on each) and on the unix port.
#
# Memory: prepare allocates per op a few int32 arrays (bias folded with the weight sums, 4 words of
# requantization constants per channel, or one set when quantized per tensor) and shares byte scratch buffers
# between ops; these kernels allocate nothing per run, on 32-bit boards too (no value leaves the viper code as a
# Python int). The audio front-end's ops, left to kernels_audio, make temporary long ints on 32-bit ports.
#
# Speed: each op is one call of a viper function taking one tuple (the emitter keeps only the first 2-3 locals
# of a function in registers, arguments first, so the hot loop variables come right after it); CONV_2D and
# FULLY_CONNECTED gather the input window once per output pixel and run the MACs of all output channels over
# it, 4 per step, by walking addresses; DEPTHWISE_CONV_2D unrolls the usual 3-wide window. The requantization
# lines are repeated in each kernel instead of called: a call between viper functions goes through the Python
# call machinery (and needs int() around its result), once per output element. On the x64 unix
# port the keyword-spotting model (kws_ref_model) takes about 3.5 ms per inference against about 185 ms with
# kernels_python.
#:: The lines every kernel writes out (viper has no inlining; see above), once: `#: NAME` in a kernel is NAME's
#:: lines at its indentation. host/picoml/viper_source.py writes device/picoml/kernels_viper.py from this file.
#: define conv_geometry
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
ooff = int(g[19])
lo = int(g[20])
hi = int(g[21])
amin = int(g[22])
amax = int(g[23])
qstep = int(g[24])
#: end
#: define patch_dot
pp = pa
while pp != pe4:
    pw = ptr8(pp)
    fw = ptr8(fk)
    acc += (pw[0] * (fw[0] ^ 0x80) + pw[1] * (fw[1] ^ 0x80)
            + pw[2] * (fw[2] ^ 0x80) + pw[3] * (fw[3] ^ 0x80))
    pp += 4
    fk += 4
while pp != pe:
    acc += ptr8(pp)[0] * (ptr8(fk)[0] ^ 0x80)
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
# requantize acc with the 4 words at q[r] into v (the same lines in every kernel)
acc = (acc << ext) >> ext
m = q[r]
left = q[r + 1]
if left:
    acc = ((acc << left) << ext) >> ext
#: srdhm
right = q[r + 2]
if right:
    mask = q[r + 3]
    rem = v & mask
    th = mask >> 1
    if v < 0:
        th += 1
    v = v >> right
    if rem > th:
        v += 1
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
from array import array


def _kp():
    """picoml.kernels_python, for the prepare functions (the checks and the decoding): imported on use, so that
    once a model is loaded nothing here refers to it and picoml.load can drop it (runs_in_viper)."""
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


def _run(st):
    """The run of every op here: st = (function, its one argument). The viper functions take one tuple: the
    emitter keeps only the first 2 (mpy-cross) or 3 locals of a function in registers, arguments first, so
    each puts its hottest loop variables right after it."""
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


def _pair(m, s):
    """The 4 int32 the requantization block reads: multiplier, left shift, right shift, rounding mask."""
    right = -s if s < 0 else 0
    return [m, s if s > 0 else 0, right, (1 << right) - 1]


def _quant(inputs, channels):
    """(records, step) for the multipliers/shifts operands: _pair() per multiplier and the word step between
    channels (0 when quantized per tensor); (None, 0) when a shift is outside [-31, 31]."""
    multipliers = inputs[3].ints()
    shifts = inputs[4].ints()
    q = []
    for i in range(len(multipliers)):
        if shifts[i] < -31 or shifts[i] > 31:
            return None, 0
        q += _pair(multipliers[i], shifts[i])
    return _ints(q), (4 if len(multipliers) == channels and channels > 1 else 0)


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


# ---------------------------------------------------------------------------------------------------------
# CONV_2D: per output pixel, the window is gathered into `patch` as offset-binary bytes p = x + 128 (the
# padding as the input zero point + 128), so the MAC loop is one flat loop over kh*kw*c, unrolled by 4, of
# p * (filter byte ^ 0x80) = (x + 128) * (w + 128): sum(x * w) = that - 128 * sum(p) - 128 * sum(w), the first
# taken once per pixel (psum), the second folded into the bias (bz) at load.
# g = (x_off, N, H, W, C, f_off, KH, KW, OC, out_off, OH, OW, stride_h, stride_w, dilation_h, dilation_w,
#      pad_top, pad_left, pad_byte, output_offset, lo, hi, act_min, act_max, q_step)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _conv_core(S):
    pp = 0
    fk = 0
    acc = 0
    x = ptr8(S[0])
    f = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    bz = ptr32(S[4])
    q = ptr32(S[5])
    p = ptr8(S[6])
    #: conv_geometry
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    K = KH * KW * C
    pa = int(p)                 # the patch's address
    pe4 = pa + K - (K & 3)
    pe = pa + K
    fa = int(f) + fo            # the filter's
    row = W * C
    kwc = KW * C
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            for ox in range(OW):
                ix0 = ox * sw - pl
                j = 0
                psum = 0
                iy = iy0
                for ky in range(KH):
                    if iy >= 0 and iy < H:
                        rb = xn + iy * row
                        ix = ix0
                        for kx in range(KW):
                            if ix >= 0 and ix < W:
                                s = rb + ix * C
                                for c in range(C):
                                    u = x[s + c] ^ 0x80
                                    p[j] = u
                                    psum += u
                                    j += 1
                            else:
                                for c in range(C):
                                    p[j] = zq
                                    j += 1
                                psum += zq * C
                            ix += dw
                    else:
                        for c in range(kwc):
                            p[j] = zq
                            j += 1
                        psum += zq * kwc
                    iy += dh
                psum = psum << 7
                fk = fa
                r = 0
                for oc in range(OC):
                    # sum of patch * (filter + 128), unrolled by 4, walking addresses (pp in the patch, fk
                    # in the filter: constant offsets from a pointer are the cheapest loads viper emits);
                    # bz and psum take the two offsets out
                    acc = bz[oc] - psum
                    #: patch_dot
                    #: requantize
                    #: clamp
                    out += 1
                    r += qstep


def _out_range(ooff, amin, amax):
    return amin - ooff, amax - ooff


def _conv_operands(p, inputs, outputs, channels):
    """What CONV_2D and DEPTHWISE_CONV_2D share: (x, f, out, zp, q, qstep, lo, hi, ok)."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    zp = -p[6]
    q, qstep = _quant(inputs, channels)
    lo, hi = _out_range(p[7], p[8], p[9])
    return x, f, out, zp, q, qstep, lo, hi, q is not None and -128 <= zp <= 127 and _in_int32(lo, hi)


def prepare_conv_2d(p, inputs, outputs, ctx):
    st, run = _kp().prepare_conv_2d(p, inputs, outputs, ctx), _kp().run_conv_2d
    OC, KH, KW = inputs[1].shape[0], inputs[1].shape[1], inputs[1].shape[2]
    x, f, out, zp, q, qstep, lo, hi, ok = _conv_operands(p, inputs, outputs, OC)
    if not ok:
        return _fallback(run, st)
    N, H, W, C = x.shape
    K = KH * KW * C
    bz = _folded_bias(f.buf, f.off, OC, K, 1, K, inputs[2].ints(), -128)
    g = (x.off, N, H, W, C, f.off, KH, KW, OC, out.off, out.shape[1], out.shape[2]) + tuple(p[:6]) + (
        zp + 128, p[7], lo, hi, p[8], p[9], qstep)
    return (_conv_core, (x.buf, f.buf, out.buf, g, bz, q, _scratch_bytes(ctx, K)))


# ---------------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D: per output pixel the taps inside the input form a rectangle [ky0, ky1) x [kx0, kx1);
# acc = bias + zp * sum(filter[:, oc]) + sum over those taps of (x - zp) * filter, so the padding costs nothing.
# g = (x_off, N, H, W, C, f_off, KH, KW, OC, out_off, OH, OW, stride_h, stride_w, dilation_h, dilation_w,
#      pad_top, pad_left, zp + 128, output_offset, lo, hi, act_min, act_max, q_step, depth_multiplier)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _depthwise_core(S):
    acc = 0
    xr = 0
    fr = 0
    x = ptr8(S[0])
    f = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    bz = ptr32(S[4])
    q = ptr32(S[5])
    #: conv_geometry
    dm = int(g[25])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    row = W * C
    xstep = dw * C
    xstep2 = xstep + xstep
    oc2 = OC + OC
    xrow = dh * row
    fstep = KW * OC
    xa = int(x)             # the input's address
    fa = int(f) + fo        # the filter's
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            ky0 = 0
            if iy0 < 0:
                ky0 = (dh - 1 - iy0) // dh
            ky1 = H - 1 - iy0
            if ky1 < 0:
                ky1 = 0
            else:
                ky1 = ky1 // dh + 1
                if ky1 > KH:
                    ky1 = KH
            for ox in range(OW):
                ix0 = ox * sw - pl
                kx0 = 0
                if ix0 < 0:
                    kx0 = (dw - 1 - ix0) // dw
                kx1 = W - 1 - ix0
                if kx1 < 0:
                    kx1 = 0
                else:
                    kx1 = kx1 // dw + 1
                    if kx1 > KW:
                        kx1 = KW
                # addresses of the first tap inside the input, in the input and in the filter
                x00 = xa + xn + (iy0 + ky0 * dh) * row + (ix0 + kx0 * dw) * C
                f00 = fa + ky0 * fstep + kx0 * OC
                nkx = kx1 - kx0
                oc = 0
                r = 0
                for c in range(C):
                    for mm in range(dm):
                        acc = bz[oc]
                        xr = x00 + c
                        fr = f00 + oc
                        for ky in range(ky0, ky1):
                            if nkx == 3:    # the usual 3-wide window, unrolled
                                xw = ptr8(xr)
                                fw = ptr8(fr)
                                acc += (((xw[0] ^ 0x80) - zq) * ((fw[0] ^ 0x80) - 0x80)
                                        + ((xw[xstep] ^ 0x80) - zq) * ((fw[OC] ^ 0x80) - 0x80)
                                        + ((xw[xstep2] ^ 0x80) - zq) * ((fw[oc2] ^ 0x80) - 0x80))
                            else:
                                xi = xr
                                fi = fr
                                for kx in range(nkx):
                                    acc += ((ptr8(xi)[0] ^ 0x80) - zq) * ((ptr8(fi)[0] ^ 0x80) - 0x80)
                                    xi += xstep
                                    fi += OC
                            xr += xrow
                            fr += fstep
                        #: requantize
                        #: clamp
                        out += 1
                        oc += 1
                        r += qstep


def prepare_depthwise_conv_2d(p, inputs, outputs, ctx):
    st, run = _kp().prepare_depthwise_conv_2d(p, inputs, outputs, ctx), _kp().run_depthwise_conv_2d
    KH, KW, OC = inputs[1].shape[1], inputs[1].shape[2], inputs[1].shape[3]
    x, f, out, zp, q, qstep, lo, hi, ok = _conv_operands(p, inputs, outputs, OC)
    if not ok:
        return _fallback(run, st)
    N, H, W, C = x.shape
    bz = _folded_bias(f.buf, f.off, OC, 1, OC, KH * KW, inputs[2].ints(), zp)
    g = (x.off, N, H, W, C, f.off, KH, KW, OC, out.off, out.shape[1], out.shape[2]) + tuple(p[:6]) + (
        zp + 128, p[7], lo, hi, p[8], p[9], qstep, p[10])
    return (_depthwise_core, (x.buf, f.buf, out.buf, g, bz, q))


# ---------------------------------------------------------------------------------------------------------
# FULLY_CONNECTED: each input row is copied as offset-binary bytes into `patch`, then as CONV_2D: the MACs of
# (x + 128) * (w + 128), less 128 * sum(patch) per row and 128 * sum(weights[u]) folded into the bias.
# g = (x_off, batches, depth, w_off, units, out_off, output_offset, lo, hi, act_min, act_max, q_step)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _fc_core(S):
    pp = 0
    fk = 0
    acc = 0
    x = ptr8(S[0])
    w = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    bz = ptr32(S[4])
    q = ptr32(S[5])
    p = ptr8(S[6])
    xo = int(g[0])
    B = int(g[1])
    D = int(g[2])
    wo = int(g[3])
    U = int(g[4])
    out = int(g[5])
    ooff = int(g[6])
    lo = int(g[7])
    hi = int(g[8])
    amin = int(g[9])
    amax = int(g[10])
    qstep = int(g[11])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    pa = int(p)                 # the patch's address
    pe4 = pa + D - (D & 3)
    pe = pa + D
    wa = int(w) + wo            # the weights'
    for b in range(B):
        s = xo + b * D
        psum = 0
        for j in range(D):
            t = x[s + j] ^ 0x80
            p[j] = t
            psum += t
        psum = psum << 7
        fk = wa
        r = 0
        for u in range(U):
            # sum of patch * (weight + 128), unrolled by 4, walking addresses as CONV_2D; bz and psum take the
            # two offsets out
            acc = bz[u] - psum
            #: patch_dot
            #: requantize
            #: clamp
            out += 1
            r += qstep


def prepare_fully_connected(p, inputs, outputs, ctx):
    st, run = _kp().prepare_fully_connected(p, inputs, outputs, ctx), _kp().run_fully_connected
    x, w, out = inputs[0], inputs[1], outputs[0]
    U, D = w.shape
    ooff, amin, amax = p
    q, qstep = _quant(inputs, U)
    lo, hi = _out_range(ooff, amin, amax)
    if q is None or not _in_int32(lo, hi):
        return _fallback(run, st)
    bz = _folded_bias(w.buf, w.off, U, D, 1, D, inputs[2].ints(), -128)
    g = (x.off, x.size // D, D, w.off, U, out.off, ooff, lo, hi, amin, amax, qstep)
    return (_fc_core, (x.buf, w.buf, out.buf, g, bz, q, _scratch_bytes(ctx, D)))


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
    _kp().prepare_pool(p, inputs, outputs, ctx)
    x, out = inputs[0], outputs[0]
    N, H, W, C = x.shape
    return (_pool_core, (x.buf, out.buf, (x.off, N, H, W, C, out.off, out.shape[1], out.shape[2]) + tuple(p) +
                         (is_max,)))


def prepare_average_pool_2d(p, inputs, outputs, ctx):
    return _prepare_pool(0, p, inputs, outputs, ctx)


def prepare_max_pool_2d(p, inputs, outputs, ctx):
    return _prepare_pool(1, p, inputs, outputs, ctx)


# ---------------------------------------------------------------------------------------------------------
# ADD, SUB, MUL and DIV with NumPy broadcasting, from per-input 256-entry int32 tables made at load: ADD (x +
# offset) << left_shift rescaled to the common scale, acc = ta[a] + tb[b] (SUB: tb negated); MUL x + offset, acc =
# ta[a] * tb[b]; DIV (kernels_python._div split by operand, _div_tables) acc = srdhm(the dividend at its headroom,
# the divisor's reciprocal), its rounding shift written into q per element; then the output requantization.
# g = (kind, a_off, b_off, out_off, D0, D1, D2, D3, a0s, a1s, a2s, a3s, b0s, b1s, b2s, b3s, output_offset, lo, hi,
# act_min, act_max, flat); q = the output multiplier's 4 words; d = DIV's other tables (xn, ht, zt).
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
    q = ptr32(S[6])
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
    r = 0
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
                        q[2] = e
                        q[3] = (1 << e) - 1
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


def _strides4(t, out4):
    """Element strides of t's shape right-aligned to 4-D, 0 along the axes it is broadcast on."""
    shape = t.shape4()
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if shape[i] == out4[i] and shape[i] > 1:
            strides[i] = s
        s *= shape[i]
    return tuple(strides)


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
    if so < -31 or so > 31 or ta is None or tb is None or not _in_int32(lo, hi):
        if kind == 1:
            return _fallback(_kp().run_binary, _kp().prepare_mul(p, inputs, outputs, ctx))
        what = "SQUARED_DIFFERENCE" if kind == 2 else ("SUB" if sign < 0 else "ADD")
        return _fallback(_kp().run_binary, _kp().prepare_add(p, inputs, outputs, ctx, what, sign, kind))
    return _binary_state(kind, inputs, outputs, ta, tb, _ints(_pair(mo, so)), (ta, ta, ta), (ooff, lo, hi, amin, amax))


def _binary_state(kind, inputs, outputs, ta, tb, q, d, clamp):
    """_binary_core's run for the op: clamp = (output_offset, lo, hi, act_min, act_max)."""
    a, b, out = inputs[0], inputs[1], outputs[0]
    out4 = out.shape4()
    flat = 1 if a.size == out.size and b.size == out.size else 0
    g = (kind, a.off, b.off, out.off) + tuple(out4) + _strides4(a, out4) + _strides4(b, out4) + clamp + (flat,)
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
    if tables is None or not _in_int32(lo, hi):
        return _fallback(_kp().run_binary, _kp().prepare_div(p, inputs, outputs, ctx))
    xp, xn, ht, it, zt = tables
    return _binary_state(3, inputs, outputs, xp, it, _ints([mo, 0, 0, 0]), (xn, ht, zt), (ooff, lo, hi, amin, amax))


# ---------------------------------------------------------------------------------------------------------
# BATCH_MATMUL: per output matrix (its lhs and rhs offsets in mats), per row and column the sum over k of
# ta[lhs byte] * tb[rhs byte] (the bytes plus their offsets, _byte_table), requantized. g = (matrices, out_off,
# rows, cols, depth, lhs row step, lhs k step, rhs column step, rhs k step, output_offset, lo, hi, act_min,
# act_max)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _matmul_core(S):
    acc = 0
    i = 0
    j = 0
    xa = ptr8(S[0])
    xb = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    ta = ptr32(S[4])
    tb = ptr32(S[5])
    q = ptr32(S[6])
    mats = ptr32(S[7])
    n_mats = int(g[0])
    out = int(g[1])
    rows = int(g[2])
    cols = int(g[3])
    depth = int(g[4])
    ar = int(g[5])
    ak = int(g[6])
    bc = int(g[7])
    bk = int(g[8])
    ooff = int(g[9])
    lo = int(g[10])
    hi = int(g[11])
    amin = int(g[12])
    amax = int(g[13])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    r = 0
    for t in range(n_mats):
        ia = mats[2 * t]
        ib = mats[2 * t + 1]
        for mm in range(rows):
            for nn in range(cols):
                acc = 0
                i = ia + mm * ar
                j = ib + nn * bc
                for k in range(depth):
                    acc += ta[xa[i]] * tb[xb[j]]
                    i += ak
                    j += bk
                #: requantize
                #: clamp
                out += 1


def prepare_batch_matmul(p, inputs, outputs, ctx):
    st = _kp().prepare_batch_matmul(p, inputs, outputs, ctx)
    ab, bb, ob, oo, mats, rows, cols, depth, ar, ak, bc, bk, l_off, r_off, mo, so, ooff, amin, amax = st
    lo, hi = _out_range(ooff, amin, amax)
    ta = ctx.shared(("v", l_off), lambda: _byte_table(l_off))
    tb = ctx.shared(("v", r_off), lambda: _byte_table(r_off))
    if so < -31 or so > 31 or ta is None or tb is None or not _in_int32(lo, hi):
        return _fallback(_kp().run_batch_matmul, st)
    offsets = array("i", range(2 * len(mats)))
    for t in range(len(mats)):
        offsets[2 * t], offsets[2 * t + 1] = mats[t]
    g = (len(mats), oo, rows, cols, depth, ar, ak, bc, bk, ooff, lo, hi, amin, amax)
    return (_matmul_core, (ab, bb, ob, g, ta, tb, _ints(_pair(mo, so)), offsets))


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
    xb, xo, n, h, w, c, ob, oo, rows, cols = _kp().prepare_resize_bilinear(p, inputs, outputs, ctx)
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
    xb, xo, outer, n, inner, ob, oo, flip = _kp().prepare_arg_max(p, inputs, outputs, ctx)
    return (_arg_max_core, (xb, ob, (xo, outer, n, inner, oo, flip)))


# ---------------------------------------------------------------------------------------------------------
# LSTM: as native_module/lstm.c and kernels_audio.run_lstm, unit by unit. Per unit the eight FC sums (four
# gates' input and recurrent ones) go to acc8 and are requantized in one loop; the gates' sigmoid / tanh
# (TFLite's int16 functions interpolating tab, TFLite's sigmoid table as int32) in another; then
# the three products of the cell and hidden update are requantized in a third (records 8, 9, 10 of q). The new
# hidden state (int16, less its zero point) goes to the state after the step's last unit.
# g = (x_off, out_off, batches, steps, features, units, time_major, w_off, r_off, h_off, c_off, hidden zero
# point, tanh multiplier, tanh shift, cell clip); S = (x buf, weights buf, out buf, arena (h, c), g, bias, q,
# tab, acc8 (int32 scratch: 8 sums, then the 8 requantized values, then the 4 gates))
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _lstm_core(S):
    acc = 0
    k = 0
    x = ptr8(S[0])
    w = ptr8(S[1])
    o = ptr8(S[2])
    hc = ptr16(S[3])
    g = S[4]
    bias = ptr32(S[5])
    q = ptr32(S[6])
    tab = ptr32(S[7])
    a8 = ptr32(S[8])
    xo = int(g[0])
    oo = int(g[1])
    B = int(g[2])
    T = int(g[3])
    I = int(g[4])
    U = int(g[5])
    tm = int(g[6])
    wo = int(g[7])
    ro = int(g[8])
    ho = int(g[9]) >> 1
    co = int(g[10]) >> 1
    zp = int(g[11])
    tmul = int(g[12])
    tsh = int(g[13])
    clip = int(g[14])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    tround = 0
    if tsh > 0:
        tround = 1 << (tsh - 1)
    for b in range(B):
        hb = ho + b * U
        cb = co + b * U
        for t in range(T):
            at = b * T + t
            if tm:
                at = t * B + b
            xs = xo + at * I
            oi = oo + at * U
            for u in range(U):
                # the eight sums: gate j's input FC in a8[j], its recurrent FC in a8[4 + j]
                for j in range(4):
                    row = j * U + u
                    acc = int(bias[row])
                    k = wo + row * I
                    for i in range(I):
                        acc += ((x[xs + i] ^ 0x80) - 0x80) * ((w[k + i] ^ 0x80) - 0x80)
                    a8[j] = acc
                    acc = 0
                    k = ro + row * U
                    for i in range(U):
                        acc += ((hc[hb + i] ^ 0x8000) - 0x8000) * ((w[k + i] ^ 0x80) - 0x80)
                    a8[4 + j] = acc
                r = 0
                for j in range(8):
                    acc = int(a8[j])
                    #: requantize
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    a8[8 + j] = v
                    r += 4
                # the gates: sigmoid of the saturated sum (the cell gate's, index 2: tanh)
                for j in range(4):
                    v = ((int(a8[8 + j]) << ext) >> ext) + ((int(a8[12 + j]) << ext) >> ext)
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    v = v * 3
                    a = v
                    if a < 0:
                        a = 0 - a
                    if j == 2:
                        e = a >> 8
                        if e >= 255:
                            e = 0xFFFF << 8
                        else:
                            lo = int(tab[e])
                            e = (lo << 8) + (a & 0xFF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e - 8388480) >> 8
                        else:
                            v = (8388735 - e) >> 8
                    else:
                        e = a >> 9
                        if e >= 255:
                            e = 0x7FFF << 10
                        else:
                            lo = int(tab[e])
                            e = (lo << 9) + (a & 0x1FF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e + 512) >> 10
                        else:
                            v = (33554432 - e + 511) >> 10
                    a8[16 + j] = ((v & 0xFFFF) ^ 0x8000) - 0x8000
                # the cell (records 8, 9) and the hidden state (record 10)
                cell = 0
                r = 32
                for j in range(3):
                    if j == 0:
                        acc = ((int(a8[17]) << ext) >> ext) * ((hc[cb + u] ^ 0x8000) - 0x8000)
                    elif j == 1:
                        acc = ((int(a8[16]) << ext) >> ext) * ((int(a8[18]) << ext) >> ext)
                    else:
                        v = (cell * tmul + tround) >> tsh
                        a = v
                        if a < 0:
                            a = 0 - a
                        e = a >> 8
                        if e >= 255:
                            e = 0xFFFF << 8
                        else:
                            lo = int(tab[e])
                            e = (lo << 8) + (a & 0xFF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e - 8388480) >> 8
                        else:
                            v = (8388735 - e) >> 8
                        acc = (((v & 0xFFFF) ^ 0x8000) - 0x8000) * ((int(a8[19]) << ext) >> ext)
                    #: requantize
                    if j == 2:
                        v += zp
                        if v < -128:
                            v = -128
                        elif v > 127:
                            v = 127
                        o[oi + u] = v
                    else:
                        if v < -32768:
                            v = -32768
                        elif v > 32767:
                            v = 32767
                        cell += v
                        if j == 1:
                            if cell < -32768:
                                cell = -32768
                            elif cell > 32767:
                                cell = 32767
                            if clip > 0:
                                if cell > clip:
                                    cell = clip
                                elif cell < 0 - clip:
                                    cell = 0 - clip
                            hc[cb + u] = cell
                    r += 4
            for u in range(U):
                hc[hb + u] = ((o[oi + u] ^ 0x80) - 0x80) - zp


def prepare_lstm(p, inputs, outputs, ctx):
    from .kernels_audio import prepare_lstm as prepare, run_lstm
    st = prepare(p, inputs, outputs, ctx)
    x, out, mults, shifts = inputs[0], outputs[0], inputs[4].ints(), inputs[5].ints()
    pairs = [(mults[i], shifts[i]) for i in range(8)] + [(p[2], p[3]), (p[4], p[5]), (p[6], p[7])]
    if not _in_int32(p[1], p[8], p[9], p[10]) or not all(-31 <= s <= 31 for _, s in pairs):
        return _fallback(run_lstm, st)
    q = _ints([v for m, s in pairs for v in _pair(m, s)])
    tab = _ints([v + 32768 for v in st[16]])
    g = _ints((st[1], st[3], st[4], st[5], st[6], st[7], st[8], st[10], st[12], st[18], st[20], p[1], p[8], p[9],
               p[10]))
    return (_lstm_core, (st[0], st[9], st[2], st[17], g, st[13], q, tab, _ints(range(20))))


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
    tb, to, xb, xo, ob, oo, n = _kp().prepare_lut(p, inputs, outputs, ctx)
    return (_lut_core, (xb, ob, tb, (xo, oo, to, n)))


# ---------------------------------------------------------------------------------------------------------
# MEAN: sums per output element in an int32 array, less zp * count, then _requant_array.
# g = (x_off, D0, D1, D2, D3, s0, s1, s2, s3, n_out, sub); R = _requant_array's S.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _requant_array(abuf, obuf, S, n: int):
    """Requantize the n int32 values of abuf with the records q (step q_step words) of S = (g, q), g = (out_off,
    output_offset, lo, hi, act_min, act_max, q_step, raw): to clamped int8 at obuf[out_off + k], or with raw
    set to int32 obuf[k] without offset or clamp (for the tests)."""
    a = ptr32(abuf)
    o = ptr8(obuf)
    o32 = ptr32(obuf)
    g = S[0]
    q = ptr32(S[1])
    out = int(g[0])
    ooff = int(g[1])
    lo = int(g[2])
    hi = int(g[3])
    amin = int(g[4])
    amax = int(g[5])
    qstep = int(g[6])
    raw = int(g[7])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    r = 0
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
    st, run = _kp().prepare_mean(p, inputs, outputs, ctx), _kp().run_mean
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
    if shift < -31 or shift > 31 or not _in_int32(lo, hi):
        return _fallback(run, st)
    g = (x.off,) + tuple(shape4) + tuple(strides) + (out.size, _wrap32(in_zp * count))
    R = (out.buf, ((out.off, out_zp, lo, hi, -128, 127, 0, 0), _ints(_pair(multiplier, shift))))
    return (_mean_core, (x.buf, _scratch_bytes(ctx, 4 * out.size), g, R))


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
    _kp().prepare_pad(p, inputs, outputs, ctx)
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
    _kp().prepare_concatenation(p, inputs, outputs, ctx)
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
    return (_slice_core, _kp().prepare_strided_slice(p, inputs, outputs, ctx))


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
    xb, xo, ob, oo, rows, depth, max_diff, exps = _kp().prepare_softmax(p, inputs, outputs, ctx)
    # d = max - x lies in [0, 255]: max_diff clamped to [-1, 255] compares the same and fits a machine word
    max_diff = -1 if max_diff < 0 else 255 if max_diff > 255 else max_diff
    return (_softmax_core, (xb, ob, exps, _ints([0, 0, 0, 0]), (xo, oo, rows, depth, max_diff)))


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
    q = ptr32(S[3])
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
    r = 0
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
        q[0] = m
        q[1] = 0
        q[2] = 0
        q[3] = 0
        if s > 0:
            q[1] = s
        elif s < 0:
            q[2] = 0 - s
            q[3] = (1 << (0 - s)) - 1
        for i in range(base, base + depth):
            acc = ((x[i] ^ 0x80) - 0x80) - zp
            #: requantize
            #: clamp
            out += 1


def prepare_l2_normalization(p, inputs, outputs, ctx):
    xb, xo, rows, depth, zp, ob, oo, _ = _kp().prepare_l2_normalization(p, inputs, outputs, ctx)
    return (_l2_core, (xb, ob, _ints([0, 0, 0]), _ints([0, 0, 0, 0]), (xo, oo, rows, depth, zp)))


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
    q = ptr32(S[5])
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
    r = 0
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
    xb, xo, ob, oo, rows, depth, scaled, exps, divisor, divisor_shift, diff_min = _kp().prepare_log_softmax(
        p, inputs, outputs, ctx)
    if not -31 <= divisor_shift <= 31:
        return _fallback(_kp().run_log_softmax, (xb, xo, ob, oo, rows, depth, scaled, exps, divisor, divisor_shift,
                                               diff_min))
    # -d lies in [-255, 0]: diff_min clamped to [-256, 1] compares the same and fits a machine word
    diff_min = -256 if diff_min < -256 else 1 if diff_min > 1 else diff_min
    return (_log_softmax_core, (xb, ob, scaled, exps, _ints([0, 0, 0, 0, 0]), _ints(_pair(divisor, -divisor_shift)),
                                (xo, oo, rows, depth, diff_min)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_CONV_2D: (prepare_conv_2d, _run),
    _ops.OP_DEPTHWISE_CONV_2D: (prepare_depthwise_conv_2d, _run),
    _ops.OP_FULLY_CONNECTED: (prepare_fully_connected, _run),
    _ops.OP_AVERAGE_POOL_2D: (prepare_average_pool_2d, _run),
    _ops.OP_MAX_POOL_2D: (prepare_max_pool_2d, _run),
    _ops.OP_ADD: (prepare_add, _run),
    _ops.OP_SUB: (prepare_sub, _run),
    _ops.OP_SQUARED_DIFFERENCE: (prepare_squared_difference, _run),
    _ops.OP_MUL: (prepare_mul, _run),
    _ops.OP_CONCATENATION: (prepare_concatenation, _run),
    _ops.OP_STRIDED_SLICE: (prepare_strided_slice, _run),
    _ops.OP_LUT: (prepare_lut, _run),
    _ops.OP_MEAN: (prepare_mean, _run),
    _ops.OP_PAD: (prepare_pad, _run),
    _ops.OP_BATCH_MATMUL: (prepare_batch_matmul, _run),
    _ops.OP_RESIZE_BILINEAR: (prepare_resize_bilinear, _run),
    _ops.OP_ARG_MAX: (prepare_arg_max, _run),
    _ops.OP_LSTM: (prepare_lstm, _run),
    _ops.OP_SOFTMAX: (prepare_softmax, _run),
    _ops.OP_DIV: (prepare_div, _run),
    _ops.OP_L2_NORMALIZATION: (prepare_l2_normalization, _run),
    _ops.OP_LOG_SOFTMAX: (prepare_log_softmax, _run),
}
del _ops
