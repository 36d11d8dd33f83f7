# picoml.kernels_audio: the audio front-end's ops in pure Python -- TFLite Micro's Signal library (micro_speech's
# window, FFT, filter bank, noise reduction, gain control, log) and the integer (not quantized) element-wise ops
# around it -- and the LSTM (its int16 gates and state), their prepares and runs: the pure-Python backend's, and
# the viper kernels' decoding (kernels_viper_audio). The kernel interface is picoml.prepare's; a module of its own
# so that only a model with these ops pays its RAM: picoml.prepare.prepare imports it for such a model.
from array import array

from .prepare import SIGNED, _broadcast_strides, int32s, mbqm


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


def _sqrt(num, bits):
    """TFLite Micro's Sqrt32 (bits=32) and Sqrt64 (bits=64; num already reduced modulo 2**64)."""
    if num == 0:
        return 0
    if bits == 64 and num >> 32 == 0:
        bits = 32
    top = (bits - 32 - msb32(num >> (bits - 32))) | 1 if bits == 64 else (32 - msb32(num)) | 1
    res = 0
    bit = 1 << (bits - 1 - top)
    for _ in range((bits - 1 - top) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != (1 << (bits // 2)) - 1:
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
        _put32(ob, oo + 4 * i, _sqrt(v, 64) >> shift)


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


# ---------------------------------------------------------------------------------------------------------
# LSTM: TFLite Micro's integer LSTM as native_module/lstm.c and host/picoml/ops/recurrent.py run it, unit by
# unit: each unit's four gates from the step's input row and old hidden state (decoded once per step into
# scratch lists), its cell state updated, its hidden state written to the output, which becomes the state
# (int16, less the zero point) after the step's last unit.
# state = (x_buf, x_off, out_buf, out_off, batches, steps, features, units, time_major, weights_buf,
# weights_off, recurrent_buf, recurrent_off, bias, multipliers, shifts (array('i')), table (array('h')),
# hidden_buf, hidden_off, cell_buf, cell_off, params, x row, hidden row, gates (scratch lists))
# ---------------------------------------------------------------------------------------------------------

def _sat16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def _interpolate(table, a, bits, saturated):
    e = a >> bits
    if e >= 255:
        return saturated
    low = table[e] + 32768
    return (low << bits) + (a & ((1 << bits) - 1)) * (table[e + 1] + 32768 - low)


def _sigmoid16(x, table):
    v = x * 3
    r = _interpolate(table, -v if v < 0 else v, 9, 0x7FFF << 10)
    return _wrap16((r + 512 if v >= 0 else (1 << 25) - r + 511) >> 10)


def _tanh16(x, table, multiplier, shift):
    v = (x * multiplier + ((1 << shift) >> 1)) >> shift
    r = _interpolate(table, -v if v < 0 else v, 8, 0xFFFF << 8)
    return _wrap16((r - 8388480 if v >= 0 else 8388735 - r) >> 8)     # -+ 2^23, + 2^7 (- 1)


def prepare_lstm(p, inputs, outputs, ctx):
    x, w, r, bias, mults, shifts, table, h, c = inputs
    out = outputs[0]
    units, features, tm = out.shape[2], x.shape[2], p[0]
    return (x.buf, x.off, out.buf, out.off, x.shape[1] if tm else x.shape[0], x.shape[0] if tm else x.shape[1],
            features, units, tm, w.buf, w.off, r.buf, r.off, int32s(bias, 4 * units), int32s(mults, 8),
            int32s(shifts, 8), int16s(table), h.buf, h.off, c.buf, c.off, p, ctx.scratch("lstm_x", features),
            ctx.scratch("lstm_h", units), ctx.scratch("lstm_gates", 4))


def run_lstm(st):
    xb, xo, ob, oo, B, T, I, U, tm, wb, wo, rb, ro, bias, mults, shifts, table, hb, ho, cb, co, p, xr, hr, gates = st
    S = SIGNED
    zp = p[1]
    for b in range(B):
        hq = ho + 2 * b * U
        cq = co + 2 * b * U
        for t in range(T):
            at = t * B + b if tm else b * T + t
            q = xo + at * I
            for i in range(I):
                xr[i] = S[xb[q + i]]
            for u in range(U):
                hr[u] = _get16(hb, hq + 2 * u)
            o = oo + at * U
            for u in range(U):
                for g in range(4):
                    row = g * U + u
                    acc = bias[row]
                    k = wo + row * I
                    for i in range(I):
                        acc += xr[i] * S[wb[k + i]]
                    a = _sat16(mbqm(acc, mults[g], shifts[g]))
                    acc = 0
                    k = ro + row * U
                    for j in range(U):
                        acc += hr[j] * S[rb[k + j]]
                    v = _sat16(a + _sat16(mbqm(acc, mults[4 + g], shifts[4 + g])))
                    gates[g] = _tanh16(v, table, 3, 0) if g == 2 else _sigmoid16(v, table)
                kept = _sat16(mbqm(gates[1] * _get16(cb, cq + 2 * u), p[2], p[3]))
                cell = _sat16(kept + _sat16(mbqm(gates[0] * gates[2], p[4], p[5])))
                if p[10] > 0:
                    cell = p[10] if cell > p[10] else (-p[10] if cell < -p[10] else cell)
                _put16(cb, cq + 2 * u, cell)
                v = mbqm(_tanh16(cell, table, p[8], p[9]) * gates[3], p[6], p[7]) + zp
                ob[o + u] = (-128 if v < -128 else (127 if v > 127 else v)) & 0xFF
            for u in range(U):
                _put16(hb, hq + 2 * u, S[ob[o + u]] - zp)


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
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
    _ops.OP_MINIMUM: (prepare_minimum, run_integer),
    _ops.OP_MAXIMUM: (prepare_maximum, run_integer),
    _ops.OP_ADD_INT32: (prepare_add_int32, run_integer),
    _ops.OP_MUL_INT32: (prepare_mul_int32, run_integer),
    _ops.OP_DIV_INT32: (prepare_div_int32, run_integer),
    _ops.OP_LSTM: (prepare_lstm, run_lstm),
}
del _ops
