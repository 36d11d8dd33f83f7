/* The FFT family of TFLite Micro's Signal library: SignalFftAutoScale and SignalRfft (int16), the latter as KISS
 * FFT's 16-bit fixed point computes it (TFLite Micro builds KISS FFT with FIXED_POINT 16): every intermediate
 * complex value int16 with C's wraparound, every product rounded as (p + 2^14) >> 15, every stage's inputs
 * divided by its radix as round(v * (32767 / radix) / 2^15). */
#include "check.h"
#include "signal.h"
#include "simd32.h"

/* TFLite Micro's MaxAbs16 one value at a time, its int16 arithmetic kept: -v is compared as an int, then stored
 * as an int16 (-(-32768) becomes -32768, which any later value then replaces) */
static int16_t max_abs16(const int16_t *x, int32_t n) {
    int16_t max = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = x[i];
        if (v > max) {
            max = (int16_t)v;
        } else if (-v > max) {
            max = (int16_t)(uint16_t)(uint32_t)(-v);
        }
    }
    return max;
}

int32_t pml_signal_fft_auto_scale(const int16_t *x, int32_t n, int16_t *y) {
    int32_t max, i = 0;
#if PML_SIMD32
    /* the largest and smallest values two at a time: without a -32768 MaxAbs16 is max(0, largest, -smallest) */
    uint32_t hi = 0, lo = 0;
    if ((((uintptr_t)x | (uintptr_t)y) & 3u) == 0) {
        /* four words a step (the arena's tensors are word aligned) */
        const uint32_t *xw = (const uint32_t *)(const void *)x;
        for (; i + 8 <= n; i += 8, xw += 4) {
            const uint32_t a = xw[0], b = xw[1], c = xw[2], d = xw[3];
            hi = pml_max16x2(pml_max16x2(pml_max16x2(pml_max16x2(hi, a), b), c), d);
            lo = pml_min16x2(pml_min16x2(pml_min16x2(pml_min16x2(lo, a), b), c), d);
        }
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t v, u;
        __builtin_memcpy(&v, x + i, 4);
        __builtin_memcpy(&u, x + i + 2, 4);
        hi = pml_max16x2(pml_max16x2(hi, v), u);
        lo = pml_min16x2(pml_min16x2(lo, v), u);
    }
    if (i + 2 <= n) {
        uint32_t v;
        __builtin_memcpy(&v, x + i, 4);
        hi = pml_max16x2(hi, v);
        lo = pml_min16x2(lo, v);
        i += 2;
    }
    int32_t top = (int16_t)hi > (int16_t)(hi >> 16) ? (int16_t)hi : (int16_t)(hi >> 16);
    int32_t bottom = (int16_t)lo < (int16_t)(lo >> 16) ? (int16_t)lo : (int16_t)(lo >> 16);
    if (i < n) {
        top = x[i] > top ? x[i] : top;
        bottom = x[i] < bottom ? x[i] : bottom;
    }
    max = bottom > INT16_MIN ? (top > -bottom ? top : -bottom) : max_abs16(x, n);
#else
    max = max_abs16(x, n);
#endif
    int32_t bits = 16 - pml_msb32((uint32_t)max) - 1;
    bits = bits > 0 ? bits : 0;
    i = 0;
#if PML_SIMD32
    /* two values a word, each shifted within its half: the low half shifted, packed (PKHBT) with the high half
     * shifted; four words a step when both are word aligned, else two */
    if ((((uintptr_t)x | (uintptr_t)y) & 3u) == 0) {
        const uint32_t *xw = (const uint32_t *)(const void *)x;
        uint32_t *yw = (uint32_t *)(void *)y;
        for (; i + 8 <= n; i += 8, xw += 4, yw += 4) {
            const uint32_t a = xw[0], b = xw[1], c = xw[2], d = xw[3];
            yw[0] = pml_pkhbt0(a << bits, (a & 0xffff0000u) << bits);
            yw[1] = pml_pkhbt0(b << bits, (b & 0xffff0000u) << bits);
            yw[2] = pml_pkhbt0(c << bits, (c & 0xffff0000u) << bits);
            yw[3] = pml_pkhbt0(d << bits, (d & 0xffff0000u) << bits);
        }
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t v, u;
        __builtin_memcpy(&v, x + i, 4);
        __builtin_memcpy(&u, x + i + 2, 4);
        v = ((v << bits) & 0xffffu) | ((v & 0xffff0000u) << bits);
        u = ((u << bits) & 0xffffu) | ((u & 0xffff0000u) << bits);
        __builtin_memcpy(y + i, &v, 4);
        __builtin_memcpy(y + i + 2, &u, 4);
    }
#endif
    for (; i < n; i++) {
        y[i] = (int16_t)(uint16_t)((uint32_t)(int32_t)x[i] << bits);
    }
    return bits;
}

typedef struct {
    int16_t r, i;
} cpx_t;

/* KISS FFT's sround: a Q15 product rounded back to int16. */
static inline int16_t q15_round(int32_t p) {
    return (int16_t)((p + (1 << 14)) >> 15);
}

/* C_FIXDIV: c / radix as a Q15 multiply by 32767 / radix. */
static inline cpx_t cdiv(cpx_t c, int32_t k) {
    cpx_t d;
    d.r = q15_round((int32_t)c.r * k);
    d.i = q15_round((int32_t)c.i * k);
    return d;
}

#if !PML_SIMD32
/* C_MUL: a * b, both parts rounded once. */
static inline cpx_t cmul(cpx_t a, cpx_t b) {
    cpx_t m;
    m.r = q15_round((int32_t)a.r * b.r - (int32_t)a.i * b.i);
    m.i = q15_round((int32_t)a.r * b.i + (int32_t)a.i * b.r);
    return m;
}

static inline cpx_t cadd(cpx_t a, cpx_t b) {
    cpx_t s;
    s.r = (int16_t)(a.r + b.r);
    s.i = (int16_t)(a.i + b.i);
    return s;
}

static inline cpx_t csub(cpx_t a, cpx_t b) {
    cpx_t s;
    s.r = (int16_t)(a.r - b.r);
    s.i = (int16_t)(a.i - b.i);
    return s;
}
#endif

#if PML_SIMD32
/* The butterflies on the Cortex-M4's SIMD32 instructions: a complex value as one word, real part in the low
 * halfword; products by SMUSD/SMUADX/SMULBB/SMULTB, sums by SADD16/SSUB16/SASX/SSAX (modulo 2^16 per half, as
 * the int16 stores above wrap). The same results as the functions above. */
static inline uint32_t cw(cpx_t c) {
    uint32_t w;
    __builtin_memcpy(&w, &c, 4);
    return w;
}

static inline cpx_t wc(uint32_t w) {
    cpx_t c;
    __builtin_memcpy(&c, &w, 4);
    return c;
}

/* a * b, both parts rounded: the real part SMLSD plus 2^14, the imaginary SMLADX plus 2^14 doubled so that its
 * bits 15..30 are the top half, packed with the real part's bits 15..30 (PKHTB, ASR #15). Doubling modulo 2^32
 * keeps those bits. */
static inline uint32_t wmul(uint32_t a, uint32_t b) {
    const int32_t r = pml_smlsd(a, b, 1 << 14), i = pml_smladx(a, b, 1 << 14);
    return pml_pkhtb15((uint32_t)i << 1, (uint32_t)r);
}

/* c / radix: k = 32767 / radix in the low half of kk, 2 k in the high half: the real part lo * k + 2^14, the
 * imaginary hi * 2k + 2^15 (twice hi * k + 2^14, within int32 for k <= 16383), packed as in wmul */
static inline uint32_t wdiv(uint32_t c, uint32_t kk) {
    return pml_pkhtb15((uint32_t)pml_smlatt(c, kk, 1 << 15), (uint32_t)pml_smlabb(c, kk, 1 << 14));
}

#define DIV_BY(k) ((uint32_t)(k) | ((uint32_t)(2 * (k)) << 16))

/* the radix-4 butterfly of f0..f3 with the twiddles w1..w3 */
#define BUTTERFLY4(v0, v1, v2, v3, w1, w2, w3, f0, f1, f2, f3) do { \
        const uint32_t kk_ = DIV_BY(8191); \
        uint32_t a_ = wdiv(v0, kk_); \
        const uint32_t s0_ = wmul(wdiv(v1, kk_), w1), s1_ = wmul(wdiv(v2, kk_), w2); \
        const uint32_t s2_ = wmul(wdiv(v3, kk_), w3); \
        const uint32_t s5_ = pml_ssub16(a_, s1_); \
        a_ = pml_sadd16(a_, s1_); \
        const uint32_t s3_ = pml_sadd16(s0_, s2_), s4_ = pml_ssub16(s0_, s2_); \
        f2 = pml_ssub16(a_, s3_); \
        f0 = pml_sadd16(a_, s3_); \
        f1 = pml_ssax(s5_, s4_); \
        f3 = pml_sasx(s5_, s4_); \
    } while (0)

static void butterfly4(cpx_t *out, int32_t stride, const cpx_t *tw, int32_t m) {
    /* twiddles k * stride, 2 k * stride and 3 k * stride: j, 2 j and 3 j */
    for (int32_t k = 0, j = 0; k < m; k++, j += stride) {
        cpx_t *f = out + k;
        uint32_t y0, y1, y2, y3;
        BUTTERFLY4(cw(f[0]), cw(f[m]), cw(f[2 * m]), cw(f[3 * m]), cw(tw[j]), cw(tw[2 * j]), cw(tw[3 * j]),
                   y0, y1, y2, y3);
        f[0] = wc(y0);
        f[m] = wc(y1);
        f[2 * m] = wc(y2);
        f[3 * m] = wc(y3);
    }
}

#else
/* One radix-2 stage: m butterflies over out[0..2m), twiddles `stride` apart. */
static void butterfly2(cpx_t *out, int32_t stride, const cpx_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; k++) {
        const cpx_t a = cdiv(out[k], 16383);
        const cpx_t t = cmul(cdiv(out[k + m], 16383), tw[k * stride]);
        out[k + m] = csub(a, t);
        out[k] = cadd(a, t);
    }
}

/* One radix-4 stage (forward): m butterflies over out[0..4m). */
static void butterfly4(cpx_t *out, int32_t stride, const cpx_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; k++) {
        cpx_t *f0 = out + k, *f1 = f0 + m, *f2 = f1 + m, *f3 = f2 + m;
        cpx_t a = cdiv(*f0, 8191);
        const cpx_t s0 = cmul(cdiv(*f1, 8191), tw[k * stride]);
        const cpx_t s1 = cmul(cdiv(*f2, 8191), tw[2 * k * stride]);
        const cpx_t s2 = cmul(cdiv(*f3, 8191), tw[3 * k * stride]);
        const cpx_t s5 = csub(a, s1);
        a = cadd(a, s1);
        const cpx_t s3 = cadd(s0, s2), s4 = csub(s0, s2);
        *f2 = csub(a, s3);
        *f0 = cadd(a, s3);
        f1->r = (int16_t)(s5.r + s4.i);
        f1->i = (int16_t)(s5.i - s4.r);
        f3->r = (int16_t)(s5.r - s4.i);
        f3->i = (int16_t)(s5.i + s4.r);
    }
}
#endif

/* Complex value `at` of the real input read as (real, imaginary) pairs, zero beyond n_in values. */
static inline cpx_t input_at(const int16_t *x, int32_t n_in, int32_t at) {
    cpx_t c;
    c.r = 2 * at < n_in ? x[2 * at] : 0;
    c.i = 2 * at + 1 < n_in ? x[2 * at + 1] : 0;
    return c;
}

/* KISS FFT's decimation in time over n points (radix 4 while n divides by 4, then 2, which is therefore only ever
 * the innermost stage), done stage by stage rather than by its recursion: the same butterflies on the same
 * values. The innermost stage's groups (p = 4 or 2 values each, out[p g ..]) read the input values r, r + G, ..
 * (G = n / p groups), r the base-4 digit reversal of g; stage l above it (4^l groups of n / 4^l values, radix 4)
 * takes its twiddles 4^l apart. */
/* The next base-4 digit-reversed index after r (groups a power of 4): digits 3 become 0 and carry to the next
 * lower digit. */
static inline int32_t next_reversed(int32_t r, int32_t groups) {
    int32_t w = groups >> 2;
    while (w > 0 && (r & (3 * w)) == 3 * w) {
        r -= 3 * w;
        w >>= 2;
    }
    return r + w;
}

#if PML_SIMD32
/* input_at as one word: a whole complex value is one load */
static inline uint32_t input_word(const int16_t *x, int32_t n_in, int32_t at) {
    if (2 * at + 1 < n_in) {
        uint32_t v;
        __builtin_memcpy(&v, x + 2 * at, 4);
        return v;
    }
    return cw(input_at(x, n_in, at));
}
#endif

static void fft_q15(cpx_t *out, const int16_t *x, int32_t n_in, int32_t n, const cpx_t *tw) {
    int32_t log2 = 0;
    while ((1 << log2) < n) {
        log2++;
    }
    const int32_t p = (log2 & 1) ? 2 : 4, groups = n >> (p == 4 ? 2 : 1);
#if PML_SIMD32
    /* the innermost stage: its butterflies (k = 0: the twiddle tw[0]) on the values as they are loaded */
    const uint32_t w0 = cw(tw[0]);
    if (p == 4) {
        /* the groups whose four values all lie in the input (the most: those past it are zero) without bounds */
        const int32_t inside = (n_in >> 1) - 3 * groups;
        for (int32_t g = 0, r = 0; g < groups; g++, r = next_reversed(r, groups)) {
            uint32_t y0, y1, y2, y3, v0, v1, v2, v3;
            if (r < inside) {
                const int16_t *q = x + 2 * r;
                __builtin_memcpy(&v0, q, 4);
                __builtin_memcpy(&v1, q + 2 * groups, 4);
                __builtin_memcpy(&v2, q + 4 * groups, 4);
                __builtin_memcpy(&v3, q + 6 * groups, 4);
            } else {
                v0 = input_word(x, n_in, r);
                v1 = input_word(x, n_in, r + groups);
                v2 = input_word(x, n_in, r + 2 * groups);
                v3 = input_word(x, n_in, r + 3 * groups);
            }
            BUTTERFLY4(v0, v1, v2, v3, w0, w0, w0, y0, y1, y2, y3);
            cpx_t *o = out + 4 * g;
            o[0] = wc(y0);
            o[1] = wc(y1);
            o[2] = wc(y2);
            o[3] = wc(y3);
        }
    } else {
        for (int32_t g = 0, r = 0; g < groups; g++, r = next_reversed(r, groups)) {
            const uint32_t a = wdiv(input_word(x, n_in, r), DIV_BY(16383));
            const uint32_t b = wmul(wdiv(input_word(x, n_in, r + groups), DIV_BY(16383)), w0);
            out[2 * g] = wc(pml_sadd16(a, b));
            out[2 * g + 1] = wc(pml_ssub16(a, b));
        }
    }
#else
    for (int32_t g = 0, r = 0; g < groups; g++, r = next_reversed(r, groups)) {
        cpx_t *o = out + g * p;
        for (int32_t q = 0; q < p; q++) {
            o[q] = input_at(x, n_in, r + q * groups);
        }
        if (p == 4) {
            butterfly4(o, groups, tw, 1);
        } else {
            butterfly2(o, groups, tw, 1);
        }
    }
#endif
    /* the radix-4 stages above, innermost first */
    for (int32_t stride = groups >> 2, size = 4 * p; stride > 0; stride >>= 2, size <<= 2) {
        for (int32_t g = 0; g < stride; g++) {
            butterfly4(out + g * size, stride, tw, size >> 2);
        }
    }
}

void pml_signal_rfft_q15(const int16_t *x, int32_t n_in, int32_t fft_length, const int16_t *twiddles,
                         const int16_t *super_twiddles, int16_t *y) {
    const int32_t half = fft_length / 2;
    const cpx_t *tw = (const cpx_t *)(const void *)twiddles, *super = (const cpx_t *)(const void *)super_twiddles;
    cpx_t *out = (cpx_t *)(void *)y;
    /* the complex FFT of the even (real) and odd (imaginary) samples, into y's first `half` values */
    fft_q15(out, x, n_in, half, tw);
    /* the split into the real signal's spectrum, in place: pair k reads out[k] and out[half - k] first */
    const cpx_t dc = cdiv(out[0], 16383);
    out[0].r = (int16_t)(dc.r + dc.i);
    out[half].r = (int16_t)(dc.r - dc.i);
    out[0].i = out[half].i = 0;
#if PML_SIMD32
    /* fpnk = conj(out[half - k]): SSAX of 0 and the value's halves swapped gives (re, -im) with int16's
     * wraparound; the halving sums SHADD16/SHSUB16 are the (a +- b) >> 1 below */
    for (int32_t k = 1; k <= half / 2; k++) {
        const uint32_t b = cw(out[half - k]);
        const uint32_t fpk = wdiv(cw(out[k]), DIV_BY(16383));
        const uint32_t fpnk = wdiv(pml_ssax(0, (b >> 16) | (b << 16)), DIV_BY(16383));
        const uint32_t f1k = pml_sadd16(fpk, fpnk), tw2 = wmul(pml_ssub16(fpk, fpnk), cw(super[k - 1]));
        out[k] = wc(pml_shadd16(f1k, tw2));
        /* (f1k.r - tw2.r) >> 1 and (tw2.i - f1k.i) >> 1 */
        out[half - k] = wc(pml_shsub16(pml_pkhbt0(f1k, tw2), pml_pkhbt0(tw2, f1k)));
    }
#else
    for (int32_t k = 1; k <= half / 2; k++) {
        cpx_t fpnk;
        fpnk.r = out[half - k].r;
        fpnk.i = (int16_t)(-out[half - k].i);
        const cpx_t fpk = cdiv(out[k], 16383);
        fpnk = cdiv(fpnk, 16383);
        const cpx_t f1k = cadd(fpk, fpnk), tw2 = cmul(csub(fpk, fpnk), super[k - 1]);
        out[k].r = (int16_t)((f1k.r + tw2.r) >> 1);
        out[k].i = (int16_t)((f1k.i + tw2.i) >> 1);
        out[half - k].r = (int16_t)((f1k.r - tw2.r) >> 1);
        out[half - k].i = (int16_t)((tw2.i - f1k.i) >> 1);
    }
#endif
}

/* The op SIGNAL_FFT_AUTO_SCALE: outputs the scaled values and the shift. Once at load, after the operand types
 * (int16 in and out, the shift an int32 scalar): the output the input's size. */
PML_COLD int pml_signal_fft_auto_scale_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                             pml_check_t *c) {
    (void)params;
    return pml_check_same_size(c, &in[0], &out[0], 0);
}

void pml_signal_fft_auto_scale_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)params;
    (void)n_in;
    *(int32_t *)out[1].data = pml_signal_fft_auto_scale((const int16_t *)in[0].data, pml_count(&in[0]),
                                                        (int16_t *)out[0].data);
}

/* The input's last dimension (a row), 1 for a scalar. */
static int32_t last_dim(const pml_operand_t *o) {
    return o->tensor->ndim ? pml_dim(o, o->tensor->ndim - 1) : 1;
}

/* The number of rows: the product of the dimensions before the last. */
static int32_t rows_of(const pml_operand_t *o) {
    int32_t n = 1;
    for (int i = 0; i + 1 < o->tensor->ndim; i++) {
        n *= pml_dim(o, i);
    }
    return n;
}

/* The op SIGNAL_RFFT: one real FFT per row of the input (its last axis). Once at load, after the operand types
 * (int16; the twiddles constants) and fft_length's range (1 or more): fft_length a power of two from 4 to 2^16,
 * rows of at most fft_length values, fft_length + 2 output values per row and as many rows, the twiddle
 * tables' sizes. */
PML_COLD int pml_signal_rfft_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                   pml_check_t *c) {
    const int32_t n = ((const pml_signal_rfft_params_t *)params)->fft_length;
    PML_NEED(c, n >= 4 && n <= 65536 && (n & (n - 1)) == 0, PML_R_RFFT_LENGTH, n);
    const int32_t row = last_dim(&in[0]), rows = rows_of(&in[0]);
    PML_NEED(c, row <= n, PML_R_RFFT_INPUT, row);
    PML_NEED(c, out->tensor->ndim > 0 && last_dim(out) == n + 2, PML_R_RFFT_OUTPUT, last_dim(out));
    PML_NEED(c, rows_of(out) == rows, PML_R_RFFT_ROWS, pml_count(out));
    PML_NEED(c, pml_count(&in[1]) == n && pml_count(&in[2]) == n / 2, PML_R_RFFT_TWIDDLES, pml_count(&in[1]));
    int32_t log2 = 0;
    while ((1 << log2) < n) {
        log2++;
    }
    c->work = pml_work_mul(rows, pml_mul_s64(n, log2));
    return PML_OK;
}

void pml_signal_rfft_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const int32_t n = ((const pml_signal_rfft_params_t *)params)->fft_length;
    const int32_t row = last_dim(&in[0]), rows = rows_of(&in[0]);
    const int16_t *x = (const int16_t *)in[0].data;
    int16_t *y = (int16_t *)out->data;
    (void)n_in;
    for (int32_t r = 0; r < rows; r++, x += row, y += n + 2) {
        pml_signal_rfft_q15(x, row, n, (const int16_t *)in[1].data, (const int16_t *)in[2].data, y);
    }
}
