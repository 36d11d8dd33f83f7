# picoml.kernels_viper_audio: the audio front-end's ops in viper code -- TFLite Micro's Signal library (window, FFT
# auto scale, real FFT, energy, filter bank, its square root, spectral subtraction, PCAN, log) and the integer ops
# around it (CAST, MINIMUM, MAXIMUM, ADD_INT32, MUL_INT32, DIV_INT32) -- bit-exact with kernels_audio, imported by
# picoml.kernels_viper.kernel() for a model with one of them (the word-size rules and the kernel interface:
# device/templates/kernels_viper.py). Each prepare decodes with kernels_audio (imported on use, so that a loaded
# model refers to nothing of it); every op and parameter value the loader lets through runs here.
#
# Beyond the core's rules, the values here are uint32 and uint64 too: a uint32 is taken apart into 16-bit halves
# (ptr16 loads, or (v >> 16) & 0xFFFF and v & 0xFFFF of a word) wherever its size matters, and compared as halves
# or as `v ^ INT32_MIN` of its int32 view (which orders uint32 values as signed words on both widths); 64-bit
# sums and products are four 16-bit limbs, each word holding a limb plus carries not yet moved up (a 16 x 16-bit
# product is read as (p >> 16) & 0xFFFF and p & 0xFFFF, right even where it is negative on a 32-bit word); a
# 64-bit value shifted right is picked from its limbs. KISS FFT's int16 wraparounds are left to the int16
# stores, except before a multiply or a shift right, where `(v << e16) >> e16` (e16 = word bits - 16) wraps.
# Operands are read and written with ptr16 / ptr32 at their offsets (every tensor is 4-byte aligned in the arena
# bytearray; a constant operand is copied at prepare, the int16 tables into arrays).
#:: The 64-bit arithmetic spectral subtraction and PCAN both write out (viper has no inlining), once:
#: define limbs_product
# (c3, c2, c1, c0): the 16-bit limbs of the product of the uint32 values (xh, xl) and (mh, ml)
t = xl * ml
c0 = t & 0xFFFF
c1 = (t >> 16) & 0xFFFF
t = xl * mh
c1 += t & 0xFFFF
c2 = (t >> 16) & 0xFFFF
t = xh * ml
c1 += t & 0xFFFF
c2 += (t >> 16) & 0xFFFF
t = xh * mh
c2 += t & 0xFFFF
c3 = (t >> 16) & 0xFFFF
c1 += c0 >> 16
c0 = c0 & 0xFFFF
c2 += c1 >> 16
c1 = c1 & 0xFFFF
c3 += c2 >> 16
c2 = c2 & 0xFFFF
#: end
#: define limbs_shifted
# (a1, a0): the halves of the low 32 bits of the limbs c3..c0 shifted right by 16 q + r bits
if q == 0:
    a0 = c0
    a1 = c1
    a2 = c2
elif q == 1:
    a0 = c1
    a1 = c2
    a2 = c3
elif q == 2:
    a0 = c2
    a1 = c3
    a2 = 0
else:
    a0 = c3
    a1 = 0
    a2 = 0
a0 = ((a0 >> r) | (a1 << (16 - r))) & 0xFFFF
a1 = ((a1 >> r) | (a2 << (16 - r))) & 0xFFFF
#: end
import micropython

from .kernels_viper import _EXT, _run, _words


def _ka():
    from . import kernels_audio
    return kernels_audio


def _data(t):
    """(buffer, byte offset) of an operand read with ptr16 / ptr32: a constant (which may sit anywhere in the model
    buffer) copied into a buffer of its own."""
    if t.storage == 1:
        return bytearray(memoryview(t.buf)[t.off:t.off + t.nbytes]), 0
    return t.buf, t.off


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_WINDOW: out = clamp_int16((x * w) >> shift), the window repeated. g = (x_off, out_off (in int16s),
# count, window length, shift)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _window_core(S):
    i = 0
    j = 0
    x = ptr16(S[0])
    o = ptr16(S[1])
    w = ptr16(S[2])
    g = S[3]
    xo = int(g[0])
    d = int(g[1]) - xo
    nw = int(g[3])
    shift = int(g[4])
    for i in range(xo, xo + int(g[2])):
        v = (((x[i] ^ 0x8000) - 0x8000) * ((w[j] ^ 0x8000) - 0x8000)) >> shift
        if v < -32768:
            v = -32768
        elif v > 32767:
            v = 32767
        o[i + d] = v
        j += 1
        if j == nw:
            j = 0


def prepare_signal_window(p, inputs, outputs, ctx):
    _, _, n, w, shift, ob, oo = _ka().prepare_signal_window(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    return (_window_core, (xb, ob, w, (xo >> 1, oo >> 1, n, len(w), shift)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_FFT_AUTO_SCALE: MaxAbs16 (-(-32768) stored as an int16), the shift, the values shifted (int16 stores).
# g = (x_off, out_off (in int16s), n, bits_off (in int32s))
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _auto_scale_core(S):
    i = 0
    top = 0
    x = ptr16(S[0])
    o = ptr16(S[1])
    sb = ptr32(S[2])
    g = S[3]
    xo = int(g[0])
    d = int(g[1]) - xo
    xe = xo + int(g[2])
    for i in range(xo, xe):
        v = (x[i] ^ 0x8000) - 0x8000
        if v > top:
            top = v
        elif 0 - v > top:
            top = 0 - v
            if top == 32768:
                top = -32768
    bits = 0
    if top > 0:
        bits = 15
        while top:
            top = top >> 1
            bits -= 1
    for i in range(xo, xe):
        o[i + d] = x[i] << bits
    sb[int(g[3])] = bits


def prepare_signal_fft_auto_scale(p, inputs, outputs, ctx):
    _, _, n, ob, oo, sb, so = _ka().prepare_signal_fft_auto_scale(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    return (_auto_scale_core, (xb, ob, sb, (xo >> 1, oo >> 1, n, so >> 2)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_RFFT: as native_module/fft.c, KISS FFT's recursion done stage by stage in the output row: the input's
# complex values gathered in base-4 digit-reversed order (zero past the input), the innermost stage (radix 4, or
# radix 2 for an odd power of two) and the radix-4 stages above it in place, then the real-FFT split. A value v
# divided by the radix, (v * K + 2^14) >> 15 (K = 8191 or 16383), is (u * K - (K * 2^15 - 2^14)) >> 15 from
# u = v + 2^15, the int16 load ^ 0x8000: its sign extension folded into the constant.
# g = (x_off, rows, n_in, fft_length, out_off) (offsets in int16s); tw, sup: the twiddles as array('h').
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _rfft_core(S):
    f = 0
    j = 0
    x = ptr16(S[0])
    o = ptr16(S[1])
    tw = ptr16(S[2])
    sup = ptr16(S[3])
    g = S[4]
    xo = int(g[0])
    rows = int(g[1])
    n_in = int(g[2])
    nfft = int(g[3])
    oo = int(g[4])
    e16 = int(_EXT) + 16
    half = nfft >> 1
    lg = 0
    while (1 << lg) < half:
        lg += 1
    p = 4
    if lg & 1:
        p = 2
    groups = half // p
    w0r = (tw[0] ^ 0x8000) - 0x8000
    w0i = (tw[1] ^ 0x8000) - 0x8000
    for row in range(rows):
        xr = xo + n_in * row
        ob = oo + (nfft + 2) * row
        # the gather: group gi's p values are the input's r, r + groups, ..., r the digit reversal of gi
        r = 0
        f = ob
        for gi in range(groups):
            at = r + r
            for q in range(p):
                v = 0
                if at < n_in:
                    v = x[xr + at]
                o[f] = v
                v = 0
                if at + 1 < n_in:
                    v = x[xr + at + 1]
                o[f + 1] = v
                f += 2
                at += groups + groups
            w = groups >> 2
            while w > 0 and (r & (3 * w)) == 3 * w:
                r -= 3 * w
                w = w >> 2
            r += w
        stride = groups
        size = 4
        if p == 2:
            # the innermost radix-2 stage: its twiddle tw[0]
            f = ob
            for gi in range(groups):
                ar = ((o[f] ^ 0x8000) * 16383 - 536821760) >> 15
                ai = ((o[f + 1] ^ 0x8000) * 16383 - 536821760) >> 15
                br = ((o[f + 2] ^ 0x8000) * 16383 - 536821760) >> 15
                bi = ((o[f + 3] ^ 0x8000) * 16383 - 536821760) >> 15
                tr = (br * w0r - bi * w0i + 16384) >> 15
                ti = (br * w0i + bi * w0r + 16384) >> 15
                o[f + 2] = ar - tr
                o[f + 3] = ai - ti
                o[f] = ar + tr
                o[f + 1] = ai + ti
                f += 4
            stride = groups >> 2
            size = 8
        # the radix-4 stages, innermost first: `stride` groups of `size` values, twiddles `stride` apart (each
        # butterfly's three loaded once for all the groups)
        while stride > 0:
            m2 = size >> 1              # int16s between a butterfly's four values
            j = 0
            for k in range(size >> 2):
                w1r = (tw[j] ^ 0x8000) - 0x8000
                w1i = (tw[j + 1] ^ 0x8000) - 0x8000
                w2r = (tw[j + j] ^ 0x8000) - 0x8000
                w2i = (tw[j + j + 1] ^ 0x8000) - 0x8000
                w3r = (tw[3 * j] ^ 0x8000) - 0x8000
                w3i = (tw[3 * j + 1] ^ 0x8000) - 0x8000
                f = ob + k + k
                for gi in range(stride):
                    # the butterfly of the values at f, f + m2, f + size, f + size + m2, each divided by 4
                    ar = ((o[f] ^ 0x8000) * 8191 - 268386304) >> 15
                    ai = ((o[f + 1] ^ 0x8000) * 8191 - 268386304) >> 15
                    fr = ((o[f + m2] ^ 0x8000) * 8191 - 268386304) >> 15
                    fi = ((o[f + m2 + 1] ^ 0x8000) * 8191 - 268386304) >> 15
                    s0r = (fr * w1r - fi * w1i + 16384) >> 15
                    s0i = (fr * w1i + fi * w1r + 16384) >> 15
                    fr = ((o[f + size] ^ 0x8000) * 8191 - 268386304) >> 15
                    fi = ((o[f + size + 1] ^ 0x8000) * 8191 - 268386304) >> 15
                    s1r = (fr * w2r - fi * w2i + 16384) >> 15
                    s1i = (fr * w2i + fi * w2r + 16384) >> 15
                    fr = ((o[f + size + m2] ^ 0x8000) * 8191 - 268386304) >> 15
                    fi = ((o[f + size + m2 + 1] ^ 0x8000) * 8191 - 268386304) >> 15
                    s2r = (fr * w3r - fi * w3i + 16384) >> 15
                    s2i = (fr * w3i + fi * w3r + 16384) >> 15
                    s5r = ar - s1r
                    s5i = ai - s1i
                    ar += s1r
                    ai += s1i
                    s3r = s0r + s2r
                    s3i = s0i + s2i
                    s4r = s0r - s2r
                    s4i = s0i - s2i
                    o[f + size] = ar - s3r
                    o[f + size + 1] = ai - s3i
                    o[f] = ar + s3r
                    o[f + 1] = ai + s3i
                    o[f + m2] = s5r + s4i
                    o[f + m2 + 1] = s5i - s4r
                    o[f + size + m2] = s5r - s4i
                    o[f + size + m2 + 1] = s5i + s4r
                    f += size + size
                j += stride + stride
            stride = stride >> 2
            size = size << 2
        # the split into the real signal's spectrum: pair k reads values k and half - k, then writes both
        dr = ((o[ob] ^ 0x8000) * 16383 - 536821760) >> 15
        di = ((o[ob + 1] ^ 0x8000) * 16383 - 536821760) >> 15
        o[ob] = dr + di
        o[ob + 1] = 0
        o[ob + nfft] = dr - di
        o[ob + nfft + 1] = 0
        f = ob + 2
        j = ob + nfft - 2
        for k in range(half >> 1):
            pr = ((o[f] ^ 0x8000) * 16383 - 536821760) >> 15
            pi = ((o[f + 1] ^ 0x8000) * 16383 - 536821760) >> 15
            nr = ((o[j] ^ 0x8000) * 16383 - 536821760) >> 15
            ni = ((((0 - o[j + 1]) & 0xFFFF) ^ 0x8000) * 16383 - 536821760) >> 15
            f1r = ((pr + nr) << e16) >> e16
            f1i = ((pi + ni) << e16) >> e16
            f2r = ((pr - nr) << e16) >> e16
            f2i = ((pi - ni) << e16) >> e16
            wr = (sup[k + k] ^ 0x8000) - 0x8000
            wi = (sup[k + k + 1] ^ 0x8000) - 0x8000
            tr = (((f2r * wr - f2i * wi + 16384) >> 15) << e16) >> e16
            ti = (((f2r * wi + f2i * wr + 16384) >> 15) << e16) >> e16
            o[f] = (f1r + tr) >> 1
            o[f + 1] = (f1i + ti) >> 1
            o[j] = (f1r - tr) >> 1
            o[j + 1] = (ti - f1i) >> 1
            f += 2
            j -= 2


def prepare_signal_rfft(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    row = x.shape[-1] if x.shape else 1
    int16s = _ka().int16s
    xb, xo = _data(x)
    return (_rfft_core, (xb, out.buf, int16s(inputs[1]), int16s(inputs[2]),
                         (xo >> 1, x.size // row, row, p[0], out.off >> 1)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_ENERGY: re^2 + im^2 (uint32: the int32 store keeps 2^31) in [start, end), 0 elsewhere.
# g = (x_off (int16s), out_off (int32s), n, start, end)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _energy_core(S):
    i = 0
    x = ptr16(S[0])
    o = ptr32(S[1])
    g = S[2]
    xo = int(g[0])
    oo = int(g[1])
    start = int(g[3])
    end = int(g[4])
    for i in range(int(g[2])):
        v = 0
        if i >= start and i < end:
            a = (x[xo + i + i] ^ 0x8000) - 0x8000
            b = (x[xo + i + i + 1] ^ 0x8000) - 0x8000
            v = a * a + b * b
        o[oo + i] = v


def prepare_signal_energy(p, inputs, outputs, ctx):
    _, _, n, start, end, ob, oo = _ka().prepare_signal_energy(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    return (_energy_core, (xb, ob, (xo >> 1, oo >> 2, n, start, end)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_FILTER_BANK: per channel the weights' and the unweights' uint64 sums of w * x (x's 16-bit halves read
# apart: each product fits int32), each sum as (L, M, H): L the low limb, M the next one, H the high 32 bits
# (modulo 2^32, so H may wrap), carries moved up every 8192 terms (M grows by less than 3 * 2^15 a term).
# g = (x_off (int16s), out_off (int32s), channels); S[2..6] the tables (array('h')).
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _filter_bank_core(S):
    k = 0
    q = 0
    x = ptr16(S[0])
    o = ptr32(S[1])
    w = ptr16(S[2])
    u = ptr16(S[3])
    fs = ptr16(S[4])
    ws = ptr16(S[5])
    wd = ptr16(S[6])
    g = S[7]
    xo = int(g[0])
    oo = int(g[1])
    la = 0          # the running channel's weights sum, from the previous channel's unweights sum
    ma = 0
    ha = 0
    for c in range(int(g[2]) + 1):
        lb = 0      # the unweights sum, the next channel's start
        mb = 0
        hb = 0
        q = xo + 2 * fs[c]
        k = ws[c]
        width = wd[c]
        done = 0
        while done < width:
            chunk = width - done
            if chunk > 8192:
                chunk = 8192
            done += chunk
            for j in range(chunk):
                xl = x[q]
                xh = x[q + 1]
                a = (w[k] ^ 0x8000) - 0x8000
                b = (u[k] ^ 0x8000) - 0x8000
                t = a * xl
                la += t & 0xFFFF
                ma += t >> 16
                t = a * xh
                ma += t & 0xFFFF
                ha += t >> 16
                t = b * xl
                lb += t & 0xFFFF
                mb += t >> 16
                t = b * xh
                mb += t & 0xFFFF
                hb += t >> 16
                q += 2
                k += 1
            ma += la >> 16
            la = la & 0xFFFF
            ha += ma >> 16
            ma = ma & 0xFFFF
            mb += lb >> 16
            lb = lb & 0xFFFF
            hb += mb >> 16
            mb = mb & 0xFFFF
        if c:
            o[oo] = la | (ma << 16)
            o[oo + 1] = ha
            oo += 2
        la = lb
        ma = mb
        ha = hb


def prepare_signal_filter_bank(p, inputs, outputs, ctx):
    _, _, w, u, fs, ws, wd, nch, ob, oo = _ka().prepare_signal_filter_bank(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    return (_filter_bank_core, (xb, ob, w, u, fs, ws, wd, (xo >> 1, oo >> 2, nch)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_FILTER_BANK_SQUARE_ROOT: Sqrt64's result is floor(sqrt(v)), plus 1 when the remainder exceeds it (not
# past 0xFFFF for v < 2^32, 0xFFFFFFFF above): here digit by digit from the top, two bits of v a step. After k
# steps the root is below 2^k and the remainder at most twice it, so the first 29 steps fit a word; the last
# three of a v of 2^58 or more take the remainder (< 2^34), the root and its trial 4 root + 1 as (high, low 16
# bits). g = (x_off (int16s), n, bits_off, out_off (int32s))
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _sqrt_core(S):
    rem = 0
    root = 0
    x = ptr16(S[0])
    sb = ptr32(S[1])
    o = ptr32(S[2])
    g = S[3]
    xo = int(g[0])
    oo = int(g[3])
    shift = (sb[int(g[2])] << int(_EXT)) >> int(_EXT)
    if shift < 0:
        shift = 0
    elif shift > 31:
        shift = 31
    for i in range(int(g[1])):
        q = xo + 4 * i
        top = 3
        while top >= 0 and x[q + top] == 0:
            top -= 1
        rem = 0
        root = 0
        p = 8 * top + 7             # the next pair of bits: bits 2 p and 2 p + 1
        last = p - 28
        if last < 0:
            last = 0
        while p >= last:
            rem = (rem << 2) | ((x[q + (p >> 3)] >> ((p & 7) << 1)) & 3)
            t = (root << 2) | 1
            root = root << 1
            if rem >= t:
                rem -= t
                root += 1
            p -= 1
        if p < 0:
            if rem > root and (root != 0xFFFF or top >= 2):
                root += 1
            o[oo + i] = root >> shift
            continue
        rl = rem & 0xFFFF
        rh = rem >> 16
        ql = root & 0xFFFF
        qh = root >> 16
        while p >= 0:
            rl = (rl << 2) | ((x[q + (p >> 3)] >> ((p & 7) << 1)) & 3)
            rh = (rh << 2) + (rl >> 16)
            rl = rl & 0xFFFF
            tl = (ql << 2) | 1
            th = (qh << 2) + (tl >> 16)
            tl = tl & 0xFFFF
            ql = ql << 1
            qh = (qh << 1) + (ql >> 16)
            ql = ql & 0xFFFF
            if rh > th or (rh == th and rl >= tl):
                rl -= tl
                rh -= th
                if rl < 0:
                    rl += 0x10000
                    rh -= 1
                ql += 1
            p -= 1
        if (rh > qh or (rh == qh and rl > ql)) and (ql != 0xFFFF or qh != 0xFFFF):
            ql += 1
            if ql == 0x10000:
                ql = 0
                qh += 1
        if shift >= 16:
            o[oo + i] = qh >> (shift - 16)
        else:
            o[oo + i] = (qh << (16 - shift)) | (ql >> shift)


def prepare_signal_filter_bank_square_root(p, inputs, outputs, ctx):
    _, _, n, _, _, ob, oo = _ka().prepare_signal_filter_bank_square_root(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    sb, so = _data(inputs[1])
    return (_sqrt_core, (xb, sb, ob, (xo >> 1, n, so >> 2, oo >> 2)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: the estimate (signal * s + noise * (1 - s)) >> bits modulo 2^64 and
# the floor (x * min_signal_remaining) >> bits from the 16-bit halves' products in limbs c0..c3, the low 32 bits
# of the shifted value picked from them as halves; uint32 comparisons by halves. g = (x_off, noise_off, out_off,
# copy_off (int32s), n, smoothing_bits, spectral_subtraction_bits, clamping); h = the coefficients' halves.
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _spectral_core(S):
    i = 0
    c1 = 0
    x = ptr32(S[0])
    nz = ptr32(S[1])
    o = ptr32(S[2])
    cp = ptr32(S[3])
    g = S[4]
    h = S[5]
    xo = int(g[0])
    no = int(g[1])
    oo = int(g[2])
    co = int(g[3])
    sbits = int(g[5])
    q = int(g[6]) >> 4          # the shift: q limbs and r bits
    r = int(g[6]) & 15
    clamping = int(g[7])
    ml = int(h[8])              # min_signal_remaining
    mh = int(h[9])
    for i in range(int(g[4])):
        k = 4 * (i & 1)         # odd channels: the alternate coefficients
        sml = int(h[k])
        smh = int(h[k + 1])
        oml = int(h[k + 2])
        omh = int(h[k + 3])
        xv = x[xo + i]
        sig = xv << sbits
        sl = sig & 0xFFFF
        sh = (sig >> 16) & 0xFFFF
        v = nz[no + i]
        nl = v & 0xFFFF
        nh = (v >> 16) & 0xFFFF
        # the estimate: signal * s + noise * (1 - s)
        t = sl * sml
        c0 = t & 0xFFFF
        c1 = (t >> 16) & 0xFFFF
        t = nl * oml
        c0 += t & 0xFFFF
        c1 += (t >> 16) & 0xFFFF
        t = sl * smh
        c1 += t & 0xFFFF
        c2 = (t >> 16) & 0xFFFF
        t = sh * sml
        c1 += t & 0xFFFF
        c2 += (t >> 16) & 0xFFFF
        t = nl * omh
        c1 += t & 0xFFFF
        c2 += (t >> 16) & 0xFFFF
        t = nh * oml
        c1 += t & 0xFFFF
        c2 += (t >> 16) & 0xFFFF
        t = sh * smh
        c2 += t & 0xFFFF
        c3 = (t >> 16) & 0xFFFF
        t = nh * omh
        c2 += t & 0xFFFF
        c3 += (t >> 16) & 0xFFFF
        c1 += c0 >> 16
        c0 = c0 & 0xFFFF
        c2 += c1 >> 16
        c1 = c1 & 0xFFFF
        c3 += c2 >> 16
        c2 = c2 & 0xFFFF
        c3 = c3 & 0xFFFF
        #: limbs_shifted
        el = a0
        eh = a1
        # the noise estimate, and the estimate capped at the signal
        v = el | (eh << 16)
        if eh > sh or (eh == sh and el > sl):
            el = sl
            eh = sh
            if clamping:
                v = sig
        nz[no + i] = v
        cp[co + i] = v
        # the floor: x * min_signal_remaining
        xl = xv & 0xFFFF
        xh = (xv >> 16) & 0xFFFF
        #: limbs_product
        #: limbs_shifted
        # (signal - estimate) >> smoothing_bits, as halves
        dl = sl - el
        dh = sh - eh
        if dl < 0:
            dl += 0x10000
            dh -= 1
        if sbits >= 16:
            dl = dh >> (sbits - 16)
            dh = 0
        else:
            dl = ((dl >> sbits) | (dh << (16 - sbits))) & 0xFFFF
            dh = dh >> sbits
        if dh > a1 or (dh == a1 and dl > a0):
            o[oo + i] = dl | (dh << 16)
        else:
            o[oo + i] = a0 | (a1 << 16)


def _halves(v):
    return [v & 0xFFFF, (v >> 16) & 0xFFFF]


def prepare_signal_spectral_subtraction(p, inputs, outputs, ctx):
    x, state, out, copy = inputs[0], inputs[1], outputs[0], outputs[1]
    xb, xo = _data(x)
    h = _halves(p[0]) + _halves(p[1]) + _halves(p[2]) + _halves(p[3]) + _halves(p[6])
    return (_spectral_core, (xb, state.buf, out.buf, copy.buf,
                             (xo >> 2, state.off >> 2, out.off >> 2, copy.off >> 2, x.size, p[4], p[5], p[7]),
                             tuple(h)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_PCAN: the gain from the noise estimate's octave (WideDynamicFunction: every value fits int32), the
# 64-bit product x * gain (the int16 gain as uint32) shifted right by snr_shift in limbs, then PcanShrink.
# g = (x_off, noise_off, out_off (int32s), n, snr_shift); lut: array('h')
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _pcan_core(S):
    i = 0
    c1 = 0
    x = ptr32(S[0])
    nz = ptr32(S[1])
    o = ptr32(S[2])
    lut = ptr16(S[3])
    g = S[4]
    xo = int(g[0])
    no = int(g[1])
    oo = int(g[2])
    q = int(g[4]) >> 4
    r = int(g[4]) & 15
    ext = int(_EXT)
    for i in range(int(g[3])):
        e = (nz[no + i] << ext) >> ext
        if e >= 0 and e <= 2:
            gain = (lut[e] ^ 0x8000) - 0x8000
        else:
            octave = 32
            if e > 0:
                octave = 0
                t = e
                while t:
                    t = t >> 1
                    octave += 1
            c = 4 * octave - 6
            if octave < 11:
                frac = (e << (11 - octave)) & 0x3FF
            else:
                frac = (e >> (octave - 11)) & 0x3FF
            t = (((lut[c + 2] ^ 0x8000) - 0x8000) * frac) >> 5
            t = (t + (((lut[c + 1] ^ 0x8000) - 0x8000) << 5)) * frac
            gain = (((t + 16384) >> 15) + ((lut[c] ^ 0x8000) - 0x8000)) & 0xFFFF
            gain = (gain ^ 0x8000) - 0x8000
        ml = gain & 0xFFFF      # the gain as uint32
        mh = (gain >> 16) & 0xFFFF
        v = x[xo + i]
        xl = v & 0xFFFF
        xh = (v >> 16) & 0xFFFF
        #: limbs_product
        #: limbs_shifted
        if a1 == 0 and a0 < 8192:
            o[oo + i] = (a0 * a0) >> 20
        else:
            o[oo + i] = ((a1 << 10) | (a0 >> 6)) - 64


def prepare_signal_pcan(p, inputs, outputs, ctx):
    _, _, _, _, lut, n, snr_shift, ob, oo = _ka().prepare_signal_pcan(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    nb, no = _data(inputs[1])
    return (_pcan_core, (xb, nb, ob, lut, (xo >> 2, no >> 2, oo >> 2, n, snr_shift)))


# ---------------------------------------------------------------------------------------------------------
# SIGNAL_FILTER_BANK_LOG: Log32 of x << correction_bits (its int32 view: negative is 2^31 and above), ln 2 in
# Q16 times log2 from log2's halves (45426 ll = 2 * 22713 ll), the last product modulo 2^32 as there.
# g = (x_off (int32s), out_off (int16s), n, correction_bits, output_scale's high and low halves)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _log_core(S):
    i = 0
    xs = 0
    x = ptr32(S[0])
    o = ptr16(S[1])
    T = ptr16(S[2])
    g = S[3]
    xo = int(g[0])
    oo = int(g[1])
    bits = int(g[3])
    scale = (int(g[4]) << 16) | int(g[5])
    ext = int(_EXT)
    for i in range(int(g[2])):
        xs = ((x[xo + i] << bits) << ext) >> ext
        if xs == 0 or xs == 1:
            o[oo + i] = 0
        else:
            integer = 31
            if xs > 0:
                integer = -1
                t = xs
                while t:
                    t = t >> 1
                    integer += 1
            frac = xs & ((1 << integer) - 1)
            if integer < 16:
                frac = frac << (16 - integer)
            else:
                frac = frac >> (integer - 16)
            seg = frac >> 9
            c0 = T[seg]
            frac += c0 + (((T[seg + 1] - c0) * (frac - (seg << 9))) >> 16)
            t = (integer << 16) + frac
            t = 45426 * (t >> 16) + (((t & 0xFFFF) * 22713 + 16384) >> 15)
            v = ((scale * t + 32768) >> 16) & 0xFFFF
            if v > 32767:
                v = 32767
            o[oo + i] = v


def prepare_signal_filter_bank_log(p, inputs, outputs, ctx):
    ka = _ka()
    _, _, n, scale, bits, ob, oo = ka.prepare_signal_filter_bank_log(p, inputs, outputs, ctx)
    xb, xo = _data(inputs[0])
    return (_log_core, (xb, ob, ka.LOG2_CORRECTION, (xo >> 2, oo >> 1, n, bits, (scale >> 16) & 0xFFFF,
                                                      scale & 0xFFFF)))


# ---------------------------------------------------------------------------------------------------------
# CAST, MINIMUM, MAXIMUM (kinds 5, 0, 1: any integer dtype), ADD_INT32, MUL_INT32, DIV_INT32 (2, 3, 4): each
# value read as the int32 view of its low 32 bits and a high word (its sign, 0 for a uint32, a uint64's high
# half); compared as (high, low ^ INT32_MIN), the high word biased too for uint64; written as its low bytes.
# Broadcasting by 4-D strides. Offsets and strides count elements, int32 words for uint64 (only 4-byte aligned).
# g = (kind, in dtype, out dtype, a_off, b_off, out_off, D0..D3, a's strides, b's strides, act_min, act_max) and
# the addresses of a, b and out, in int32 words (_words)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _integer_core(pa: int):
    pb = 0
    g = ptr32(pa)                # _words: g, then act_min, act_max, then the buffers' addresses
    a8 = ptr8(int(g[20]) | ((int(g[21]) << 16) << 16))
    a16 = ptr16(a8)
    a32 = ptr32(a8)
    b8 = ptr8(int(g[22]) | ((int(g[23]) << 16) << 16))
    b16 = ptr16(b8)
    b32 = ptr32(b8)
    o8 = ptr8(int(g[24]) | ((int(g[25]) << 16) << 16))
    o16 = ptr16(o8)
    o32 = ptr32(o8)
    kind = int(g[0])
    dt = int(g[1])
    odt = int(g[2])
    out = int(g[5])
    a3s = int(g[13])
    b3s = int(g[17])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    imin = 0 - imax - 1
    lo = (int(g[18]) << ext) >> ext
    hi = (int(g[19]) << ext) >> ext
    for i0 in range(int(g[6])):
        for i1 in range(int(g[7])):
            for i2 in range(int(g[8])):
                pa = int(g[3]) + i0 * int(g[10]) + i1 * int(g[11]) + i2 * int(g[12])
                pb = int(g[4]) + i0 * int(g[14]) + i1 * int(g[15]) + i2 * int(g[16])
                for i3 in range(int(g[9])):
                    if dt == 3 or dt == 4:
                        xl = (a32[pa] << ext) >> ext
                        yl = (b32[pb] << ext) >> ext
                    elif dt == 2:
                        xl = (a16[pa] ^ 0x8000) - 0x8000
                        yl = (b16[pb] ^ 0x8000) - 0x8000
                    elif dt == 1:
                        xl = (a8[pa] ^ 0x80) - 0x80
                        yl = (b8[pb] ^ 0x80) - 0x80
                    else:
                        xl = (a32[pa] << ext) >> ext
                        yl = (b32[pb] << ext) >> ext
                    xh = xl >> 31
                    yh = yl >> 31
                    if dt == 4:
                        xh = 0
                        yh = 0
                    elif dt == 5:
                        xh = (a32[pa + 1] << ext) >> ext
                        yh = (b32[pb + 1] << ext) >> ext
                    pa += a3s
                    pb += b3s
                    if kind <= 1:
                        # y's order against x's: the high words', or the low words' when they are equal
                        kx = xh
                        ky = yh
                        if dt == 5:
                            kx = kx ^ imin
                            ky = ky ^ imin
                        r = 1
                        if ky < kx or (ky == kx and (yl ^ imin) < (xl ^ imin)):
                            r = -1
                        elif ky == kx and yl == xl:
                            r = 0
                        if kind == 0:
                            r = 0 - r
                        if r <= 0:          # MINIMUM keeps x unless y < x, MAXIMUM unless y > x
                            yl = xl
                            yh = xh
                    elif kind == 5:
                        yl = xl
                        yh = xh
                    else:
                        if kind == 2:
                            r = xl + yl
                        elif kind == 3:
                            r = xl * yl
                        elif yl == 0:
                            r = 0
                        elif yl == imin:
                            r = 0
                            if xl == imin:
                                r = 1
                        else:
                            ay = yl
                            if ay < 0:
                                ay = 0 - ay
                            if xl == imin:
                                r = (imax - ay + 1) // ay + 1
                            else:
                                ax = xl
                                if ax < 0:
                                    ax = 0 - ax
                                r = ax // ay
                            if (xl ^ yl) < 0:
                                r = 0 - r
                        r = (r << ext) >> ext
                        if r < lo:
                            r = lo
                        elif r > hi:
                            r = hi
                        yl = r
                    if odt == 3 or odt == 4:
                        o32[out] = yl
                    elif odt == 2:
                        o16[out] = yl
                    elif odt == 1:
                        o8[out] = yl
                    else:
                        o32[out] = yl
                        o32[out + 1] = yh
                        out += 1
                    out += 1


_UNITS = (1, 1, 2, 4, 4, 4)       # per dtype, the bytes its offsets count


def _operand(t):
    buf, off = _data(t)
    return buf, off // _UNITS[t.dtype]


def _integer_state(kind, dt, odt, a, b, o, shape4, sa, sb, lo, hi):
    k = 2 if dt == 5 else 1
    g = (kind, dt, odt, a[1], b[1], o[1] // _UNITS[odt]) + tuple(shape4) + tuple(k * s for s in sa) + \
        tuple(k * s for s in sb)
    return (_integer_core,) + _words(g + (lo, hi), (a[0], b[0], o[0]))


def prepare_cast(p, inputs, outputs, ctx):
    _, _, xd, ob, oo, od, n = _ka().prepare_cast(p, inputs, outputs, ctx)
    a = _operand(inputs[0])
    return _integer_state(5, xd, od, a, a, (ob, oo), (1, 1, 1, n), (0, 0, 0, 1), (0, 0, 0, 1), 0, 0)


def _prepare_integer(prepare, p, inputs, outputs, ctx):
    kind, _, _, sa, _, _, sb, ob, oo, shape4, dt, lo, hi = prepare(p, inputs, outputs, ctx)
    return _integer_state(kind, dt, dt, _operand(inputs[0]), _operand(inputs[1]), (ob, oo), shape4, sa, sb, lo, hi)


def prepare_minimum(p, inputs, outputs, ctx):
    return _prepare_integer(_ka().prepare_minimum, p, inputs, outputs, ctx)


def prepare_maximum(p, inputs, outputs, ctx):
    return _prepare_integer(_ka().prepare_maximum, p, inputs, outputs, ctx)


def prepare_add_int32(p, inputs, outputs, ctx):
    return _prepare_integer(_ka().prepare_add_int32, p, inputs, outputs, ctx)


def prepare_mul_int32(p, inputs, outputs, ctx):
    return _prepare_integer(_ka().prepare_mul_int32, p, inputs, outputs, ctx)


def prepare_div_int32(p, inputs, outputs, ctx):
    return _prepare_integer(_ka().prepare_div_int32, p, inputs, outputs, ctx)


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_SIGNAL_WINDOW: (prepare_signal_window, _run),
    _ops.OP_SIGNAL_FFT_AUTO_SCALE: (prepare_signal_fft_auto_scale, _run),
    _ops.OP_SIGNAL_RFFT: (prepare_signal_rfft, _run),
    _ops.OP_SIGNAL_ENERGY: (prepare_signal_energy, _run),
    _ops.OP_SIGNAL_FILTER_BANK: (prepare_signal_filter_bank, _run),
    _ops.OP_SIGNAL_FILTER_BANK_SQUARE_ROOT: (prepare_signal_filter_bank_square_root, _run),
    _ops.OP_SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: (prepare_signal_spectral_subtraction, _run),
    _ops.OP_SIGNAL_PCAN: (prepare_signal_pcan, _run),
    _ops.OP_SIGNAL_FILTER_BANK_LOG: (prepare_signal_filter_bank_log, _run),
    _ops.OP_CAST: (prepare_cast, _run),
    _ops.OP_MINIMUM: (prepare_minimum, _run),
    _ops.OP_MAXIMUM: (prepare_maximum, _run),
    _ops.OP_ADD_INT32: (prepare_add_int32, _run),
    _ops.OP_MUL_INT32: (prepare_mul_int32, _run),
    _ops.OP_DIV_INT32: (prepare_div_int32, _run),
}
del _ops
