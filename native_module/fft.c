/* The FFT family of TFLite Micro's Signal library: SignalFftAutoScale and SignalRfft (int16), the latter as KISS
 * FFT's 16-bit fixed point computes it (TFLite Micro builds KISS FFT with FIXED_POINT 16): every intermediate
 * complex value int16 with C's wraparound, every product rounded as (p + 2^14) >> 15, every stage's inputs
 * divided by its radix as round(v * (32767 / radix) / 2^15). */
#include "check.h"
#include "signal.h"
#include "simd32.h"

int32_t pml_signal_fft_auto_scale(const int16_t *x, int32_t n, int16_t *y) {
    /* TFLite Micro's MaxAbs16, its int16 arithmetic kept: -v is compared as an int, then stored as an int16
     * (-(-32768) becomes -32768, which any later value then replaces) */
    int16_t max = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = x[i];
        if (v > max) {
            max = (int16_t)v;
        } else if (-v > max) {
            max = (int16_t)(uint16_t)(uint32_t)(-v);
        }
    }
    int32_t bits = 16 - pml_msb32((uint32_t)(int32_t)max) - 1;
    bits = bits > 0 ? bits : 0;
    for (int32_t i = 0; i < n; i++) {
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

/* C_MUL: a * b, both parts rounded once. */
static inline cpx_t cmul(cpx_t a, cpx_t b) {
    cpx_t m;
    m.r = q15_round((int32_t)a.r * b.r - (int32_t)a.i * b.i);
    m.i = q15_round((int32_t)a.r * b.i + (int32_t)a.i * b.r);
    return m;
}

/* C_FIXDIV: c / radix as a Q15 multiply by 32767 / radix. */
static inline cpx_t cdiv(cpx_t c, int32_t k) {
    cpx_t d;
    d.r = q15_round((int32_t)c.r * k);
    d.i = q15_round((int32_t)c.i * k);
    return d;
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

/* two Q15 products rounded, packed */
static inline uint32_t q15_pack(int32_t r, int32_t i) {
    return pml_pkhbt((uint32_t)((r + (1 << 14)) >> 15), (uint32_t)((i + (1 << 14)) >> 15));
}

static inline uint32_t wmul(uint32_t a, uint32_t b) {
    return q15_pack(pml_smusd(a, b), pml_smuadx(a, b));
}

static inline uint32_t wdiv(uint32_t c, uint32_t k) {
    return q15_pack(pml_smulbb(c, k), pml_smultb(c, k));
}

static void butterfly2(cpx_t *out, int32_t stride, const cpx_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; k++) {
        const uint32_t a = wdiv(cw(out[k]), 16383);
        const uint32_t t = wmul(wdiv(cw(out[k + m]), 16383), cw(tw[k * stride]));
        out[k + m] = wc(pml_ssub16(a, t));
        out[k] = wc(pml_sadd16(a, t));
    }
}

static void butterfly4(cpx_t *out, int32_t stride, const cpx_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; k++) {
        cpx_t *f0 = out + k, *f1 = f0 + m, *f2 = f1 + m, *f3 = f2 + m;
        uint32_t a = wdiv(cw(*f0), 8191);
        const uint32_t s0 = wmul(wdiv(cw(*f1), 8191), cw(tw[k * stride]));
        const uint32_t s1 = wmul(wdiv(cw(*f2), 8191), cw(tw[2 * k * stride]));
        const uint32_t s2 = wmul(wdiv(cw(*f3), 8191), cw(tw[3 * k * stride]));
        const uint32_t s5 = pml_ssub16(a, s1);
        a = pml_sadd16(a, s1);
        const uint32_t s3 = pml_sadd16(s0, s2), s4 = pml_ssub16(s0, s2);
        *f2 = wc(pml_ssub16(a, s3));
        *f0 = wc(pml_sadd16(a, s3));
        *f1 = wc(pml_ssax(s5, s4));
        *f3 = wc(pml_sasx(s5, s4));
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

/* KISS FFT's recursive decimation in time: n points of the complex input (every `stride`-th value from index
 * `first`, the real input read as complex pairs, zero beyond n_in values) into out, radix 4 while n divides by 4,
 * then 2. */
static void fft_stage(cpx_t *out, const int16_t *x, int32_t n_in, int32_t first, int32_t stride, int32_t n,
                      const cpx_t *tw) {
    const int32_t p = (n & 3) == 0 ? 4 : 2, m = p == 4 ? n >> 2 : n >> 1;   /* no division: Cortex-M0 has none */
    for (int32_t q = 0; q < p; q++) {
        const int32_t at = first + q * stride;
        if (m == 1) {
            out[q].r = 2 * at < n_in ? x[2 * at] : 0;
            out[q].i = 2 * at + 1 < n_in ? x[2 * at + 1] : 0;
        } else {
            fft_stage(out + q * m, x, n_in, at, stride * p, m, tw);
        }
    }
    if (p == 4) {
        butterfly4(out, stride, tw, m);
    } else {
        butterfly2(out, stride, tw, m);
    }
}

void pml_signal_rfft_q15(const int16_t *x, int32_t n_in, int32_t fft_length, const int16_t *twiddles,
                         const int16_t *super_twiddles, int16_t *y) {
    const int32_t half = fft_length / 2;
    const cpx_t *tw = (const cpx_t *)(const void *)twiddles, *super = (const cpx_t *)(const void *)super_twiddles;
    cpx_t *out = (cpx_t *)(void *)y;
    /* the complex FFT of the even (real) and odd (imaginary) samples, into y's first `half` values */
    fft_stage(out, x, n_in, 0, 1, half, tw);
    /* the split into the real signal's spectrum, in place: pair k reads out[k] and out[half - k] first */
    const cpx_t dc = cdiv(out[0], 16383);
    out[0].r = (int16_t)(dc.r + dc.i);
    out[half].r = (int16_t)(dc.r - dc.i);
    out[0].i = out[half].i = 0;
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
