"""The audio front-end ops of TensorFlow Lite Micro's Signal library (SignalWindow, SignalFftAutoScale, SignalRfft,
SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot, SignalFilterBankSpectralSubtraction, SignalPCAN,
SignalFilterBankLog): their lowering from the custom ops' flexbuffer options and their numpy reference kernels,
bit-exact with TFLite Micro's signal library (signal/src/*.cc): the same integer widths, wraps, shifts and rounding.

Each kernel is one function with its options as explicit arguments; `reference_*` adapt them to the interpreter.
Unsigned 32/64-bit values are numpy uint32/uint64 (whose arithmetic wraps as C's does), int16 ones int16.
"""
import math

import numpy as np

# ---------------------------------------------------------------------------------------------------------------
# Bit helpers
# ---------------------------------------------------------------------------------------------------------------


def msb32(x):
    """TFLite Micro's MostSignificantBit32 (GCC build): the 1-based position of the highest set bit, 32 for 0."""
    x = np.asarray(x, np.uint64) & np.uint64(0xFFFFFFFF)
    bits = np.frexp(x.astype(np.float64))[1].astype(np.int64)     # exact: every uint32 is a float64
    return np.where(x == 0, 32, bits)


def msb64(x):
    """MostSignificantBit64 (GCC build): the 1-based position of the highest set bit, 64 for 0."""
    x = np.asarray(x, np.uint64)
    hi = x >> np.uint64(32)
    lo = x & np.uint64(0xFFFFFFFF)
    result = np.where(hi > 0, 32 + msb32(hi), msb32(lo))
    return np.where(x == 0, 64, result)


# ---------------------------------------------------------------------------------------------------------------
# SignalWindow
# ---------------------------------------------------------------------------------------------------------------


def window(x, weights, shift):
    """int16 x times the int16 window (repeated along x's flat values), arithmetic right shift, saturated to int16."""
    x = np.asarray(x, np.int16)
    w = np.tile(np.asarray(weights, np.int64), x.size // len(weights))
    raw = (x.reshape(-1).astype(np.int64) * w) >> shift
    return np.clip(raw, -32768, 32767).astype(np.int16).reshape(x.shape)


# ---------------------------------------------------------------------------------------------------------------
# SignalFftAutoScale
# ---------------------------------------------------------------------------------------------------------------


def max_abs16(x):
    """TFLite Micro's MaxAbs16, including its int16 wrap: a -32768 in the input makes the running maximum -32768,
    which any later value then replaces."""
    x = np.asarray(x, np.int16).reshape(-1)
    if not np.any(x == -32768):
        return int(np.max(np.abs(x.astype(np.int32)), initial=0))
    m = 0
    for v in x.tolist():
        if v > m:
            m = v
        elif -v > m:
            m = -v if v != -32768 else -32768
    return m


def fft_auto_scale(x):
    """(x shifted left by the most bits that keep its largest magnitude inside int16, that bit count)."""
    x = np.asarray(x, np.int16)
    m = max_abs16(x)
    scale = 16 - (32 if m == 0 else (m & 0xFFFFFFFF).bit_length()) - 1
    scale = max(scale, 0)
    y = (x.astype(np.int64) * (1 << scale)).astype(np.int16)
    return y, scale


# ---------------------------------------------------------------------------------------------------------------
# SignalRfft (int16): KISS FFT in 16-bit fixed point, as TFLite Micro builds it (kiss_fft 1.3.0, FIXED_POINT 16)
# ---------------------------------------------------------------------------------------------------------------

_SAMP_MAX = 32767


def _q15(phase):
    """A twiddle as KISS FFT's fixed-point kf_cexp computes it: floor(0.5 + 32767 * cos/sin(phase)), in double."""
    return math.floor(0.5 + _SAMP_MAX * math.cos(phase)), math.floor(0.5 + _SAMP_MAX * math.sin(phase))


def rfft_twiddles(fft_length):
    """(twiddles int16 [fft_length / 2, 2], super_twiddles int16 [fft_length / 4, 2]) of a forward real FFT: the
    complex FFT's of half the length, and the real FFT's post-processing ones."""
    n = fft_length // 2
    tw = [_q15(-2 * math.pi * i / n) for i in range(n)]
    sup = [_q15(-math.pi * ((i + 1) / n + 0.5)) for i in range(n // 2)]
    return np.array(tw, np.int16).reshape(n, 2), np.array(sup, np.int16).reshape(n // 2, 2)


def rfft_factors(n):
    """KISS FFT's radices for a complex FFT of n points: 4 while 4 divides, then 2 (n a power of two)."""
    factors = []
    while n > 1:
        p = 4 if n % 4 == 0 else 2
        factors.append(p)
        n //= p
    return factors


def _w16(x):
    """Wrap int64 values to int16, as storing an int into a C short does."""
    return np.asarray(x, np.int64).astype(np.int16).astype(np.int64)


def _sround(x):
    """KISS FFT's sround: (x + 2^14) >> 15 stored as a short."""
    return _w16((x + (1 << 14)) >> 15)


def _fixdiv(re, im, p):
    """C_FIXDIV: each part times 32767 / p, rounded, >> 15."""
    k = _SAMP_MAX // p
    return _sround(re * k), _sround(im * k)


def _cmul(ar, ai, br, bi):
    return _sround(ar * br - ai * bi), _sround(ar * bi + ai * br)


def _kiss_fft(re, im, twiddles, factors, fstride=1):
    """KISS FFT's kf_work on a batch: re, im int64 [batch, n] (the subsequence this stage transforms, already
    decimated); returns the transform, [batch, n], in int16 values."""
    p = factors[0]
    batch, n = re.shape
    m = n // p
    if m == 1:
        out_re, out_im = re.copy(), im.copy()
    else:
        sub_re = np.stack([re[:, q::p] for q in range(p)], axis=1).reshape(batch * p, m)
        sub_im = np.stack([im[:, q::p] for q in range(p)], axis=1).reshape(batch * p, m)
        out_re, out_im = _kiss_fft(sub_re, sub_im, twiddles, factors[1:], fstride * p)
        out_re, out_im = out_re.reshape(batch, n), out_im.reshape(batch, n)
    f_re = [out_re[:, q * m:(q + 1) * m] for q in range(p)]
    f_im = [out_im[:, q * m:(q + 1) * m] for q in range(p)]
    j = np.arange(m)
    tw_re, tw_im = twiddles[:, 0].astype(np.int64), twiddles[:, 1].astype(np.int64)
    if p == 2:
        a_re, a_im = _fixdiv(f_re[0], f_im[0], 2)
        b_re, b_im = _fixdiv(f_re[1], f_im[1], 2)
        t_re, t_im = _cmul(b_re, b_im, tw_re[j * fstride], tw_im[j * fstride])
        res_re = [_w16(a_re + t_re), _w16(a_re - t_re)]
        res_im = [_w16(a_im + t_im), _w16(a_im - t_im)]
    else:   # p == 4, forward
        f = [_fixdiv(f_re[q], f_im[q], 4) for q in range(4)]
        s0 = _cmul(f[1][0], f[1][1], tw_re[j * fstride], tw_im[j * fstride])
        s1 = _cmul(f[2][0], f[2][1], tw_re[2 * j * fstride], tw_im[2 * j * fstride])
        s2 = _cmul(f[3][0], f[3][1], tw_re[3 * j * fstride], tw_im[3 * j * fstride])
        s5 = (_w16(f[0][0] - s1[0]), _w16(f[0][1] - s1[1]))
        f0 = (_w16(f[0][0] + s1[0]), _w16(f[0][1] + s1[1]))
        s3 = (_w16(s0[0] + s2[0]), _w16(s0[1] + s2[1]))
        s4 = (_w16(s0[0] - s2[0]), _w16(s0[1] - s2[1]))
        out2 = (_w16(f0[0] - s3[0]), _w16(f0[1] - s3[1]))
        out0 = (_w16(f0[0] + s3[0]), _w16(f0[1] + s3[1]))
        out1 = (_w16(s5[0] + s4[1]), _w16(s5[1] - s4[0]))
        out3 = (_w16(s5[0] - s4[1]), _w16(s5[1] + s4[0]))
        res_re = [out0[0], out1[0], out2[0], out3[0]]
        res_im = [out0[1], out1[1], out2[1], out3[1]]
    return np.concatenate(res_re, axis=1), np.concatenate(res_im, axis=1)


def rfft(x, fft_length, twiddles, super_twiddles):
    """The int16 real FFT of each row of x (its last axis, zero-padded to fft_length): int16 [..., fft_length + 2],
    real and imaginary parts of bins 0 .. fft_length / 2 interleaved, as TFLite Micro's RfftInt16Apply."""
    x = np.asarray(x, np.int16)
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    padded = np.zeros((rows.shape[0], fft_length), np.int64)
    padded[:, :rows.shape[1]] = rows
    n = fft_length // 2
    tmp_re, tmp_im = _kiss_fft(padded[:, 0::2], padded[:, 1::2], np.asarray(twiddles, np.int16).reshape(-1, 2),
                               rfft_factors(n))
    out_re = np.zeros((rows.shape[0], n + 1), np.int64)
    out_im = np.zeros((rows.shape[0], n + 1), np.int64)
    dc_re, dc_im = _fixdiv(tmp_re[:, 0], tmp_im[:, 0], 2)
    out_re[:, 0] = _w16(dc_re + dc_im)
    out_re[:, n] = _w16(dc_re - dc_im)
    k = np.arange(1, n // 2 + 1)
    st = np.asarray(super_twiddles, np.int16).reshape(-1, 2).astype(np.int64)
    fpk_re, fpk_im = _fixdiv(tmp_re[:, k], tmp_im[:, k], 2)
    fpnk_re, fpnk_im = _fixdiv(tmp_re[:, n - k], _w16(-tmp_im[:, n - k]), 2)
    f1_re, f1_im = _w16(fpk_re + fpnk_re), _w16(fpk_im + fpnk_im)
    f2_re, f2_im = _w16(fpk_re - fpnk_re), _w16(fpk_im - fpnk_im)
    tw_re, tw_im = _cmul(f2_re, f2_im, st[k - 1, 0], st[k - 1, 1])
    # bin n/2 is written twice (k and n - k coincide); the second write, the n - k one, stays
    out_re[:, k] = _w16((f1_re + tw_re) >> 1)
    out_im[:, k] = _w16((f1_im + tw_im) >> 1)
    out_re[:, n - k] = _w16((f1_re - tw_re) >> 1)
    out_im[:, n - k] = _w16((tw_im - f1_im) >> 1)
    out = np.stack([out_re, out_im], axis=-1).reshape(x.shape[:-1] + (2 * (n + 1),))
    return out.astype(np.int16)


# ---------------------------------------------------------------------------------------------------------------
# SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot
# ---------------------------------------------------------------------------------------------------------------


def energy(x, start_index, end_index, size):
    """uint32 [size]: re^2 + im^2 of the complex int16 bins start_index .. end_index - 1 of x; 0 elsewhere (TFLite
    Micro leaves those untouched)."""
    c = np.asarray(x, np.int16).reshape(-1, 2).astype(np.int64)
    out = np.zeros(size, np.uint32)
    bins = c[start_index:end_index]
    out[start_index:end_index] = ((bins[:, 0] * bins[:, 0] + bins[:, 1] * bins[:, 1]) & 0xFFFFFFFF).astype(np.uint32)
    return out


def filter_bank(x, weights, unweights, frequency_starts, weight_starts, widths):
    """uint64 [len(widths) - 1]: the mel filter bank's weighted sums of the uint32 spectrum x (TFLite Micro's
    FilterbankAccumulateChannels; channel 0 of its work area dropped). Weights are int16 taken to uint64 as C does."""
    x = np.asarray(x, np.uint32).astype(np.uint64)
    w = np.asarray(weights, np.int16).astype(np.int64).astype(np.uint64)
    u = np.asarray(unweights, np.int16).astype(np.int64).astype(np.uint64)
    n = len(widths)
    out = np.zeros(n, np.uint64)
    carry = np.uint64(0)
    with np.errstate(over="ignore"):
        for i in range(n):
            f0, w0, width = int(frequency_starts[i]), int(weight_starts[i]), int(widths[i])
            bins = x[f0:f0 + width]
            weighted = carry + np.sum(w[w0:w0 + width] * bins, dtype=np.uint64)
            carry = np.sum(u[w0:w0 + width] * bins, dtype=np.uint64)
            out[i] = weighted
    return out[1:]


def _bitwise_sqrt(num, width):
    """TFLite Micro's bit-by-bit integer root (Sqrt32 for width 32, the 64-bit part of Sqrt64 for 64) of each
    value, with its rounding up when the remainder exceeds the root (but not past 2^(width/2) - 1); vectorised,
    each value running its own number of iterations."""
    num = np.asarray(num, np.uint64).copy()
    msb = msb32(num) if width == 32 else msb64(num)
    max_bit = (width - msb) | 1
    bit = np.left_shift(np.uint64(1), (width - 1 - max_bit).astype(np.uint64))
    iterations = (width - 1 - max_bit) // 2 + 1
    res = np.zeros_like(num)
    for step in range(int(iterations.max(initial=0))):
        active = step < iterations
        take = active & (num >= res + bit)
        num = np.where(take, num - (res + bit), num)
        res = np.where(take, (res >> np.uint64(1)) + bit, np.where(active, res >> np.uint64(1), res))
        bit = np.where(active, bit >> np.uint64(2), bit)
    top = np.uint64((1 << (width // 2)) - 1)
    return np.where((num > res) & (res != top), res + np.uint64(1), res)


def sqrt32(num):
    """TFLite Micro's Sqrt32 on uint32 values (0 for 0)."""
    num = np.asarray(num, np.uint64)
    return np.where(num == 0, np.uint64(0), _bitwise_sqrt(num, 32))


def sqrt64(num):
    """TFLite Micro's Sqrt64 on uint64 values: Sqrt32 when the high word is 0, else the 64-bit root (uint32)."""
    num = np.asarray(num, np.uint64)
    small = (num >> np.uint64(32)) == 0
    return np.where(small, sqrt32(num & np.uint64(0xFFFFFFFF)), _bitwise_sqrt(num, 64) & np.uint64(0xFFFFFFFF))


def filter_bank_square_root(x, scale_bits):
    """uint32: the root of each uint64 channel, shifted right by scale_bits (clamped to 0..31)."""
    shift = min(max(int(scale_bits), 0), 31)
    return (sqrt64(np.asarray(x, np.uint64)) >> np.uint64(shift)).astype(np.uint32)


# ---------------------------------------------------------------------------------------------------------------
# SignalFilterBankSpectralSubtraction (stateful), SignalPCAN, SignalFilterBankLog
# ---------------------------------------------------------------------------------------------------------------

_U32 = np.uint64(0xFFFFFFFF)


def spectral_subtraction(x, noise_estimate, smoothing, one_minus_smoothing, alternate_smoothing,
                         alternate_one_minus_smoothing, smoothing_bits, spectral_subtraction_bits,
                         min_signal_remaining, clamping):
    """(output uint32, noise_estimate uint32): one frame of TFLite Micro's FilterbankSpectralSubtraction; the noise
    estimate given is the previous frame's (zeros after a reset), the one returned replaces it. Even channels use
    smoothing, odd ones the alternate coefficients; the coefficients are uint32, the products uint64."""
    x = np.asarray(x, np.uint32).astype(np.uint64)
    estimate = np.asarray(noise_estimate, np.uint32).astype(np.uint64)
    n = x.size
    odd = (np.arange(n) & 1).astype(bool)
    s = np.where(odd, np.uint64(alternate_smoothing & 0xFFFFFFFF), np.uint64(smoothing & 0xFFFFFFFF))
    oms = np.where(odd, np.uint64(alternate_one_minus_smoothing & 0xFFFFFFFF),
                   np.uint64(one_minus_smoothing & 0xFFFFFFFF))
    ssb = np.uint64(spectral_subtraction_bits)
    with np.errstate(over="ignore"):
        scaled_up = (x << np.uint64(smoothing_bits)) & _U32
        estimate = ((scaled_up * s + estimate * oms) >> ssb) & _U32
        capped = np.minimum(estimate, scaled_up)
        if clamping:
            estimate = capped
        floor = ((x * np.uint64(min_signal_remaining & 0xFFFFFFFF)) >> ssb) & _U32
        subtracted = ((scaled_up - capped) & _U32) >> np.uint64(smoothing_bits)
    return np.maximum(subtracted, floor).astype(np.uint32), estimate.astype(np.uint32)


PCAN_SNR_BITS = 12
PCAN_OUTPUT_BITS = 6
PCAN_LUT_SIZE = 4 * 32 - 6 + 3     # WideDynamicFunction reads lut[4 * msb - 6 + 2] for msb up to 32


def wide_dynamic_function(x, lut):
    """TFLite Micro's WideDynamicFunction: the PCAN gain (int16) for each uint32 noise estimate, interpolated in
    the gain table."""
    x = np.asarray(x, np.uint32).astype(np.int64)
    lut = np.asarray(lut, np.int16).astype(np.int64)
    interval = msb32(x.astype(np.uint64))
    base = np.where(x <= 2, 0, 4 * interval - 6)
    frac = np.where(interval < 11, (x << np.maximum(11 - interval, 0)) & 0xFFFFFFFF,
                    x >> np.maximum(interval - 11, 0)) & 0x3FF
    l0, l1, l2 = lut[np.minimum(base, len(lut) - 1)], lut[np.minimum(base + 1, len(lut) - 1)], \
        lut[np.minimum(base + 2, len(lut) - 1)]
    result = (l2 * frac) >> 5
    result = _wrap32(result + _wrap32((l1 & 0xFFFFFFFF) << 5))
    result = _wrap32(result * frac)
    result = ((result + (1 << 14)) >> 15) + l0
    small = lut[np.minimum(x, 2)]
    return np.where(x <= 2, small, result).astype(np.int16)


def _wrap32(x):
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    return np.where(x >= 1 << 31, x - (1 << 32), x)


def pcan_shrink(snr):
    """PcanShrink on uint32 values: x^2 / 4 below 2 (in 12 fractional bits), x - 1 above; 6 fractional bits out."""
    snr = np.asarray(snr, np.uint64)
    small = ((snr * snr) & _U32) >> np.uint64(2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    large = ((snr >> np.uint64(PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - np.uint64(1 << PCAN_OUTPUT_BITS)) & _U32
    return np.where(snr < np.uint64(2 << PCAN_SNR_BITS), small, large).astype(np.uint32)


def pcan(x, noise_estimate, gain_lut, snr_shift):
    """uint32: per-channel automatic gain control (TFLite Micro's ApplyPcanAutoGainControlFixed)."""
    gain = wide_dynamic_function(noise_estimate, gain_lut).astype(np.int64) & 0xFFFFFFFF
    with np.errstate(over="ignore"):
        snr = ((np.asarray(x, np.uint32).astype(np.uint64) * gain.astype(np.uint64)) >> np.uint64(snr_shift)) & _U32
    return pcan_shrink(snr)


_LOG_LUT = np.array([
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358,
    3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001, 5063, 5123,
    5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641,
    5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156,
    5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971, 1851,
    1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0], np.int64)
LOG_SCALE_BITS = 16
LOG_SEGMENT_BITS = 7
LOG_COEFF = 45426           # ln(2) in 16 fractional bits


def log32(x, output_scale):
    """TFLite Micro's Log32 on uint32 values above 1: ln(x) times output_scale, in fixed point (uint32)."""
    x = np.asarray(x, np.int64)
    integer = msb32(x.astype(np.uint64)) - 1
    frac = x - (np.int64(1) << integer)
    frac = np.where(integer < LOG_SCALE_BITS, frac << np.maximum(LOG_SCALE_BITS - integer, 0),
                    frac >> np.maximum(integer - LOG_SCALE_BITS, 0))
    seg = frac >> (LOG_SCALE_BITS - LOG_SEGMENT_BITS)
    c0, c1 = _LOG_LUT[seg], _LOG_LUT[seg + 1]
    rel = ((c1 - c0) * (frac - (seg << (LOG_SCALE_BITS - LOG_SEGMENT_BITS)))) >> LOG_SCALE_BITS
    fraction = (frac + c0 + rel) & 0xFFFFFFFF
    log2 = ((integer << LOG_SCALE_BITS) + fraction) & 0xFFFFFFFF
    half = 1 << (LOG_SCALE_BITS - 1)
    loge = ((LOG_COEFF * log2 + half) >> LOG_SCALE_BITS) & 0xFFFFFFFF
    return ((((output_scale & 0xFFFFFFFF) * loge) & 0xFFFFFFFF) + half & 0xFFFFFFFF) >> LOG_SCALE_BITS


def filter_bank_log(x, output_scale, input_correction_bits):
    """int16: log of each uint32 channel shifted left by input_correction_bits (0 where that is 0 or 1), times
    output_scale, capped at 32767 (TFLite Micro's FilterbankLog)."""
    scaled = (np.asarray(x, np.uint32).astype(np.int64) << input_correction_bits) & 0xFFFFFFFF
    big = scaled > 1
    values = log32(np.where(big, scaled, 2), output_scale)
    return np.where(big, np.minimum(values, 32767), 0).astype(np.int16)


# ---------------------------------------------------------------------------------------------------------------
# Lowering from TFLite: the custom ops' flexbuffer options (every option read; a missing or out-of-range one is
# refused naming it)
# ---------------------------------------------------------------------------------------------------------------

def _option(ctx, op, name, low=None, high=None):
    if name not in op.options:
        ctx.fail(op, "its options lack %r (options: %s)" % (name, sorted(op.options)))
    value = op.options[name]
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        ctx.fail(op, "option %r is %r; an integer is needed" % (name, value))
    if (low is not None and value < low) or (high is not None and value > high):
        ctx.fail(op, "option %r = %d is outside %s..%s" % (name, value, low, high))
    return value


def _types(ctx, op, inputs, outputs):
    """Check the op's operand counts and numpy dtypes (None: any)."""
    if len(op.inputs) != len(inputs) or len(op.outputs) != len(outputs):
        ctx.fail(op, "it has %d inputs and %d outputs; %s takes %d and gives %d"
                 % (len(op.inputs), len(op.outputs), op.name, len(inputs), len(outputs)))
    for kind, tensors, dtypes in (("input", op.inputs, inputs), ("output", op.outputs, outputs)):
        for i, (t, dtype) in enumerate(zip(tensors, dtypes)):
            if t is None:
                ctx.fail(op, "%s %d is missing" % (kind, i))
            if dtype is not None and t.dtype != np.dtype(dtype):
                ctx.fail(op, "%s %d (%r) is %s; %s needs %s" % (kind, i, t.name, t.type_name, op.name,
                                                                 np.dtype(dtype).name))


def _size(t):
    return int(np.prod(t.shape, dtype=np.int64))


def _constant(ctx, op, t, what):
    if t.data is None:
        ctx.fail(op, "%s (%r) must be a constant" % (what, t.name))
    return np.asarray(t.data).reshape(-1)


def lower_window(ctx, op):
    _types(ctx, op, (np.int16, np.int16), (np.int16,))
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    weights = _constant(ctx, op, w, "the window")
    if weights.size < 1 or _size(x) % weights.size or _size(out) != _size(x):
        ctx.fail(op, "input %s, window of %d and output %s do not fit" % (list(x.shape), weights.size,
                                                                         list(out.shape)))
    shift = _option(ctx, op, "shift", 0, 31)
    ctx.emit("SIGNAL_WINDOW", [ctx.activation(x), ctx.constant(weights, w.name)], [ctx.activation(out)],
             {"shift": shift}, op)


def lower_fft_auto_scale(ctx, op):
    _types(ctx, op, (np.int16,), (np.int16, np.int32))
    x, out, scale = op.inputs[0], op.outputs[0], op.outputs[1]
    if _size(out) != _size(x) or _size(scale) != 1:
        ctx.fail(op, "output %s and scale %s do not fit input %s" % (list(out.shape), list(scale.shape),
                                                                    list(x.shape)))
    scale_index = ctx.activation(scale)
    ctx.model.tensors[scale_index].shape = ()
    ctx.emit("SIGNAL_FFT_AUTO_SCALE", [ctx.activation(x)], [ctx.activation(out), scale_index], {}, op)


def lower_rfft(ctx, op):
    _types(ctx, op, (None,), (None,))
    x, out = op.inputs[0], op.outputs[0]
    if x.dtype != np.int16 or out.dtype != np.int16:
        ctx.fail(op, "a %s real FFT: picoml runs the int16 one (TFLite Micro's RfftInt16)" % x.type_name)
    fft_length = _option(ctx, op, "fft_length", 4, 1 << 16)
    if fft_length & (fft_length - 1):
        ctx.fail(op, "fft_length %d: picoml's FFT takes a power of two (4 .. 65536)" % fft_length)
    if "T" in op.options and op.options["T"] != 7:      # tflite TensorType INT16
        ctx.fail(op, "option T = %r: picoml runs the int16 real FFT (T = 7)" % op.options["T"])
    if not x.shape or not out.shape or x.shape[-1] > fft_length or out.shape[-1] != fft_length + 2 \
            or _size(out) // (fft_length + 2) != _size(x) // max(x.shape[-1], 1):
        ctx.fail(op, "input %s and output %s do not fit a real FFT of %d points (rows of at most %d values in, "
                 "of %d out)" % (list(x.shape), list(out.shape), fft_length, fft_length, fft_length + 2))
    twiddles, super_twiddles = rfft_twiddles(fft_length)
    ctx.emit("SIGNAL_RFFT", [ctx.activation(x), ctx.constant(twiddles, op.label + "/twiddles"),
                             ctx.constant(super_twiddles, op.label + "/super_twiddles")],
             [ctx.activation(out)], {"fft_length": fft_length}, op)


def lower_energy(ctx, op):
    _types(ctx, op, (np.int16,), (np.uint32,))
    x, out = op.inputs[0], op.outputs[0]
    n = _size(out)
    start, end = _option(ctx, op, "start_index", 0, n), _option(ctx, op, "end_index", 0, n)
    if start > end or _size(x) != 2 * n:
        ctx.fail(op, "start_index %d, end_index %d, input %s and output %s do not fit (the input holds a complex "
                 "value per output)" % (start, end, list(x.shape), list(out.shape)))
    ctx.emit("SIGNAL_ENERGY", [ctx.activation(x)], [ctx.activation(out)],
             {"start_index": start, "end_index": end}, op)


def lower_filter_bank(ctx, op):
    _types(ctx, op, (np.uint32,) + (np.int16,) * 5, (np.uint64,))
    x, out = op.inputs[0], op.outputs[0]
    channels = _option(ctx, op, "num_channels", 1)
    if channels != _size(out):
        ctx.fail(op, "num_channels %d but the output has %d values" % (channels, _size(out)))
    weights, unweights, freq_starts, weight_starts, widths = \
        [_constant(ctx, op, t, name) for t, name in zip(op.inputs[1:], ("weights", "unweights",
                                                                        "channel_frequency_starts",
                                                                        "channel_weight_starts", "channel_widths"))]
    if min(freq_starts.size, weight_starts.size, widths.size) < channels + 1 or weights.size != unweights.size:
        ctx.fail(op, "the channel tables need num_channels + 1 = %d values and weights as many as unweights"
                 % (channels + 1))
    freq_starts, weight_starts, widths = (a[:channels + 1] for a in (freq_starts, weight_starts, widths))
    for i in range(channels + 1):
        f0, w0, width = int(freq_starts[i]), int(weight_starts[i]), int(widths[i])
        if width < 0 or f0 < 0 or w0 < 0 or f0 + width > _size(x) or w0 + width > weights.size:
            ctx.fail(op, "channel %d (frequency start %d, weight start %d, width %d) reaches outside the "
                     "spectrum of %d or the weights of %d" % (i, f0, w0, width, _size(x), weights.size))
    names = [t.name for t in op.inputs[1:]]
    constants = [ctx.constant(a, name) for a, name in zip((weights, unweights, freq_starts, weight_starts, widths),
                                                           names)]
    ctx.emit("SIGNAL_FILTER_BANK", [ctx.activation(x)] + constants, [ctx.activation(out)], {}, op)


def lower_filter_bank_square_root(ctx, op):
    _types(ctx, op, (np.uint64, np.int32), (np.uint32,))
    x, scale, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if _size(out) != _size(x) or _size(scale) != 1:
        ctx.fail(op, "input %s, scale_bits %s and output %s do not fit" % (list(x.shape), list(scale.shape),
                                                                          list(out.shape)))
    if scale.data is not None:
        scale_index = ctx.constant(np.asarray(scale.data, np.int32).reshape(()), scale.name)
    else:
        scale_index = ctx.activation(scale)
        ctx.model.tensors[scale_index].shape = ()
    ctx.emit("SIGNAL_FILTER_BANK_SQUARE_ROOT", [ctx.activation(x), scale_index], [ctx.activation(out)], {}, op)


SPECTRAL_SUBTRACTION_OPTIONS = {"smoothing": (None, None), "one_minus_smoothing": (None, None),
                                "alternate_smoothing": (None, None),
                                "alternate_one_minus_smoothing": (None, None), "smoothing_bits": (0, 31),
                                "spectral_subtraction_bits": (0, 63), "min_signal_remaining": (None, None),
                                "clamping": (0, 1)}


def lower_spectral_subtraction(ctx, op):
    _types(ctx, op, (np.uint32,), (np.uint32, np.uint32))
    x, out, noise = op.inputs[0], op.outputs[0], op.outputs[1]
    channels = _option(ctx, op, "num_channels", 1)
    if not channels == _size(x) == _size(out) == _size(noise):
        ctx.fail(op, "num_channels %d, input %s and outputs %s, %s do not fit" % (
            channels, list(x.shape), list(out.shape), list(noise.shape)))
    params = {name: _option(ctx, op, name, low, high)
              for name, (low, high) in SPECTRAL_SUBTRACTION_OPTIONS.items()}
    for name in ("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
                 "min_signal_remaining"):     # uint32 in TFLite Micro, int32 options: the same 32 bits
        params[name] = (params[name] + (1 << 31)) % (1 << 32) - (1 << 31)
    from ..format import Tensor
    state = ctx.model.add_tensor(Tensor((channels,), np.uint32, name=op.label + "/noise_estimate_state",
                                        state=True))
    ctx.emit("SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION", [ctx.activation(x), state],
             [ctx.activation(out), ctx.activation(noise)], params, op)


def lower_pcan(ctx, op):
    _types(ctx, op, (np.uint32, np.uint32, np.int16), (np.uint32,))
    x, noise, lut, out = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    table = _constant(ctx, op, lut, "the gain table")
    if table.size < PCAN_LUT_SIZE:
        ctx.fail(op, "the gain table has %d values; PCAN reads %d" % (table.size, PCAN_LUT_SIZE))
    if not _size(x) == _size(noise) == _size(out):
        ctx.fail(op, "input %s, noise estimate %s and output %s do not fit" % (list(x.shape), list(noise.shape),
                                                                              list(out.shape)))
    ctx.emit("SIGNAL_PCAN", [ctx.activation(x), ctx.activation(noise), ctx.constant(table[:PCAN_LUT_SIZE], lut.name)],
             [ctx.activation(out)], {"snr_shift": _option(ctx, op, "snr_shift", 0, 63)}, op)


def lower_filter_bank_log(ctx, op):
    _types(ctx, op, (np.uint32,), (np.int16,))
    x, out = op.inputs[0], op.outputs[0]
    if _size(out) != _size(x):
        ctx.fail(op, "input %s and output %s do not fit" % (list(x.shape), list(out.shape)))
    scale = _option(ctx, op, "output_scale", -(1 << 31), (1 << 32) - 1)
    params = {"input_correction_bits": _option(ctx, op, "input_correction_bits", 0, 31),
              "output_scale": (scale + (1 << 31)) % (1 << 32) - (1 << 31)}
    ctx.emit("SIGNAL_FILTER_BANK_LOG", [ctx.activation(x)], [ctx.activation(out)], params, op)


# ---------------------------------------------------------------------------------------------------------------
# Reference adapters: (op, inputs, output tensors) -> outputs; state operands are views of the arena, updated in
# place
# ---------------------------------------------------------------------------------------------------------------

def _u32(v):
    return int(v) & 0xFFFFFFFF


def reference_window(op, inputs, outputs):
    return [window(inputs[0], inputs[1].reshape(-1), op.params["shift"]).reshape(outputs[0].shape)]


def reference_fft_auto_scale(op, inputs, outputs):
    y, scale = fft_auto_scale(inputs[0])
    return [y.reshape(outputs[0].shape), np.array(scale, np.int32).reshape(outputs[1].shape)]


def reference_rfft(op, inputs, outputs):
    return [rfft(inputs[0], op.params["fft_length"], inputs[1], inputs[2]).reshape(outputs[0].shape)]


def reference_energy(op, inputs, outputs):
    n = int(np.prod(outputs[0].shape))
    return [energy(inputs[0], op.params["start_index"], op.params["end_index"], n).reshape(outputs[0].shape)]


def reference_filter_bank(op, inputs, outputs):
    return [filter_bank(inputs[0].reshape(-1), *[a.reshape(-1) for a in inputs[1:]]).reshape(outputs[0].shape)]


def reference_filter_bank_square_root(op, inputs, outputs):
    return [filter_bank_square_root(inputs[0].reshape(-1), int(inputs[1].reshape(-1)[0])).reshape(outputs[0].shape)]


def reference_spectral_subtraction(op, inputs, outputs):
    p = op.params
    x, state = inputs
    out, estimate = spectral_subtraction(
        x.reshape(-1), state.reshape(-1), _u32(p["smoothing"]), _u32(p["one_minus_smoothing"]),
        _u32(p["alternate_smoothing"]), _u32(p["alternate_one_minus_smoothing"]), p["smoothing_bits"],
        p["spectral_subtraction_bits"], _u32(p["min_signal_remaining"]), p["clamping"])
    state.reshape(-1)[:] = estimate
    return [out.reshape(outputs[0].shape), estimate.reshape(outputs[1].shape)]


def reference_pcan(op, inputs, outputs):
    return [pcan(inputs[0].reshape(-1), inputs[1].reshape(-1), inputs[2].reshape(-1),
                 op.params["snr_shift"]).reshape(outputs[0].shape)]


def reference_filter_bank_log(op, inputs, outputs):
    return [filter_bank_log(inputs[0].reshape(-1), _u32(op.params["output_scale"]),
                            op.params["input_correction_bits"]).reshape(outputs[0].shape)]


LOWER = {"CUSTOM(SignalWindow)": lower_window, "CUSTOM(SignalFftAutoScale)": lower_fft_auto_scale,
         "CUSTOM(SignalRfft)": lower_rfft, "CUSTOM(SignalEnergy)": lower_energy,
         "CUSTOM(SignalFilterBank)": lower_filter_bank,
         "CUSTOM(SignalFilterBankSquareRoot)": lower_filter_bank_square_root,
         "CUSTOM(SignalFilterBankSpectralSubtraction)": lower_spectral_subtraction,
         "CUSTOM(SignalPCAN)": lower_pcan, "CUSTOM(SignalFilterBankLog)": lower_filter_bank_log}
REFERENCE = {"SIGNAL_WINDOW": reference_window, "SIGNAL_FFT_AUTO_SCALE": reference_fft_auto_scale,
             "SIGNAL_RFFT": reference_rfft, "SIGNAL_ENERGY": reference_energy,
             "SIGNAL_FILTER_BANK": reference_filter_bank,
             "SIGNAL_FILTER_BANK_SQUARE_ROOT": reference_filter_bank_square_root,
             "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION": reference_spectral_subtraction,
             "SIGNAL_PCAN": reference_pcan, "SIGNAL_FILTER_BANK_LOG": reference_filter_bank_log}
# TFLite ops these lowerings take whatever their dtypes (they check them), and those with more than one output
INTEGER_OPS = frozenset(LOWER)
N_OUTPUTS = {"CUSTOM(SignalFftAutoScale)": 2, "CUSTOM(SignalFilterBankSpectralSubtraction)": 2}


# ---------------------------------------------------------------------------------------------------------------
# Frame-batched kernels (reference.run_frames): activations with a leading frames axis, constants without; the
# stateful SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION has none (it runs frame by frame, in order)
# ---------------------------------------------------------------------------------------------------------------

def _batch(outputs, n, k=0):
    return (n,) + tuple(outputs[k].shape)


def batched_fft_auto_scale(op, inputs, outputs, n):
    rows = np.asarray(inputs[0], np.int16).reshape(n, -1)
    peak = np.max(np.abs(rows.astype(np.int32)), axis=1, initial=0)
    for i in np.nonzero(np.any(rows == -32768, axis=1))[0]:
        peak[i] = max_abs16(rows[i])
    peak = peak.astype(np.int64) & 0xFFFFFFFF
    msb = np.where(peak == 0, 32, np.frexp(peak.astype(np.float64))[1])
    scale = np.maximum(16 - msb - 1, 0).astype(np.int64)
    y = (rows.astype(np.int64) * (np.int64(1) << scale)[:, None]).astype(np.int16)
    return [y.reshape(_batch(outputs, n)), scale.astype(np.int32).reshape(_batch(outputs, n, 1))]


def batched_energy(op, inputs, outputs, n):
    return [np.stack([energy(x, op.params["start_index"], op.params["end_index"], int(np.prod(outputs[0].shape)))
                      for x in np.asarray(inputs[0]).reshape(n, -1)]).reshape(_batch(outputs, n)) if n else
            np.zeros(_batch(outputs, n), np.uint32)]


def batched_filter_bank(op, inputs, outputs, n):
    x = np.asarray(inputs[0], np.uint32).reshape(n, -1).astype(np.uint64)
    weights, unweights, starts, weight_starts, widths = [np.asarray(a).reshape(-1) for a in inputs[1:]]
    w = weights.astype(np.int16).astype(np.int64).astype(np.uint64)
    u = unweights.astype(np.int16).astype(np.int64).astype(np.uint64)
    channels = len(widths)
    out = np.zeros((n, channels), np.uint64)
    carry = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for i in range(channels):
            f0, w0, width = int(starts[i]), int(weight_starts[i]), int(widths[i])
            bins = x[:, f0:f0 + width]
            out[:, i] = carry + np.sum(w[w0:w0 + width] * bins, axis=1, dtype=np.uint64)
            carry = np.sum(u[w0:w0 + width] * bins, axis=1, dtype=np.uint64)
    return [out[:, 1:].reshape(_batch(outputs, n))]


def batched_filter_bank_square_root(op, inputs, outputs, n):
    x = np.asarray(inputs[0], np.uint64).reshape(n, -1)
    shift = np.clip(np.asarray(inputs[1], np.int64).reshape(n, -1)[:, 0], 0, 31).astype(np.uint64)
    return [(sqrt64(x) >> shift[:, None]).astype(np.uint32).reshape(_batch(outputs, n))]


def _elementwise(fn):
    """A reference adapter whose kernel is element-wise on any shape: the same for a batch of frames."""
    def batched(op, inputs, outputs, n):
        return [value.reshape((n,) + tuple(t.shape)) for value, t in
                zip(fn(op, [np.asarray(x) for x in inputs], [_Shape(x) for x in outputs]), outputs)]
    return batched


class _Shape:
    """An output tensor as an element-wise adapter sees it, its shape made that of the whole batch (-1)."""

    def __init__(self, t):
        self.shape = (-1,)
        self.dtype = t.dtype


BATCHED = {"SIGNAL_WINDOW": _elementwise(reference_window),
           "SIGNAL_FFT_AUTO_SCALE": batched_fft_auto_scale,
           "SIGNAL_RFFT": lambda op, inputs, outputs, n: [rfft(np.asarray(inputs[0]).reshape(n, -1),
                                                               op.params["fft_length"], inputs[1], inputs[2])
                                                          .reshape(_batch(outputs, n))],
           "SIGNAL_ENERGY": batched_energy, "SIGNAL_FILTER_BANK": batched_filter_bank,
           "SIGNAL_FILTER_BANK_SQUARE_ROOT": batched_filter_bank_square_root,
           "SIGNAL_PCAN": lambda op, inputs, outputs, n: [pcan(inputs[0], inputs[1], np.asarray(inputs[2]).reshape(-1),
                                                               op.params["snr_shift"]).reshape(_batch(outputs, n))],
           "SIGNAL_FILTER_BANK_LOG": lambda op, inputs, outputs, n: [
               filter_bank_log(inputs[0], _u32(op.params["output_scale"]), op.params["input_correction_bits"])
               .reshape(_batch(outputs, n))]}
