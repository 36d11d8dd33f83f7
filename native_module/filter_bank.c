/* The filter-bank family of TFLite Micro's Signal library: SignalFilterBank (triangular mel channels over a power
 * spectrum, 64-bit sums), SignalFilterBankSquareRoot and SignalFilterBankLog, with its fixed-point arithmetic. */
#include "check.h"
#include "signal.h"
#include "simd32.h"

#if defined(PML_NO_LIBGCC)
/* w * x as TFLite Micro computes it (the int16 weight converted to uint64, the product modulo 2^64): the signed
 * product, put together from two 16-bit halves of x (each partial product fits int32). */
static inline uint64_t weighted(int32_t w, uint32_t x) {
    const int64_t hi = (int64_t)(w * (int32_t)(x >> 16)), lo = (int64_t)(w * (int32_t)(x & 0xffffu));
    return ((uint64_t)hi << 16) + (uint64_t)lo;
}
#endif

void pml_signal_filter_bank(const uint32_t *x, const int16_t *weights, const int16_t *unweights,
                            const int16_t *freq_starts, const int16_t *weight_starts, const int16_t *widths,
                            int32_t n_channels, uint32_t *y) {
    uint64_t sum = 0;
    for (int32_t c = 0; c <= n_channels; c++) {
        const uint32_t *in = x + freq_starts[c];
        const int16_t *w = weights + weight_starts[c], *u = unweights + weight_starts[c];
        const int32_t width = widths[c];
        uint64_t next = 0;
#if defined(PML_NO_LIBGCC)
        for (int32_t j = 0; j < width; j++) {
            sum += weighted(w[j], in[j]);
            next += weighted(u[j], in[j]);
        }
#else
        /* a core with a 32 x 32 -> 64 multiply-accumulate (UMLAL): the weight's 32 bits times x, less x * 2^32
         * for a negative weight (its 32 bits are 2^32 + w), the x of those summed modulo 2^32 on the side */
        uint32_t sum_neg = 0, next_neg = 0;
        for (int32_t j = 0; j < width; j++) {
            const uint32_t v = in[j];
            const int32_t a = w[j], b = u[j];
            sum += (uint64_t)(uint32_t)a * v;
            next += (uint64_t)(uint32_t)b * v;
            sum_neg += v & (uint32_t)(a >> 31);
            next_neg += v & (uint32_t)(b >> 31);
        }
        sum -= (uint64_t)sum_neg << 32;
        next -= (uint64_t)next_neg << 32;
#endif
        if (c > 0) {
            y[2 * c - 2] = (uint32_t)sum;
            y[2 * c - 1] = (uint32_t)(sum >> 32);
        }
        sum = next;
    }
}

#if !PML_SIMD32
/* TFLite Micro's Sqrt32: bit-by-bit integer square root, rounded up when the remainder exceeds the root. */
static uint32_t sqrt32(uint32_t num) {
    if (num == 0) {
        return 0;
    }
    uint32_t res = 0;
    const int32_t top = (32 - pml_msb32(num)) | 1;
    uint32_t bit = (uint32_t)1 << (31 - top);
    for (int32_t k = (31 - top) / 2 + 1; k > 0; k--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xffffu) {
        res++;
    }
    return res;
}

/* TFLite Micro's Sqrt64: Sqrt32 when the high word is 0, else the same in 64 bits. */
static uint32_t sqrt64(uint64_t num) {
    const uint32_t high = (uint32_t)(num >> 32);
    if (high == 0) {
        return sqrt32((uint32_t)num);
    }
    uint64_t res = 0;
    const int32_t top = (64 - (32 + pml_msb32(high))) | 1;
    uint64_t bit = pml_bit_u64(63 - top);
    for (int32_t k = (63 - top) / 2 + 1; k > 0; k--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xffffffffu) {
        res++;
    }
    return (uint32_t)res;
}
#endif

#if PML_SIMD32
/* The same roots from a single-precision estimate (the Cortex-M4F's VSQRT; its portable twin's sqrtf, both IEEE
 * correctly rounded): the estimate, within about 2^9 of the root for any 64-bit num, one Newton step in float,
 * then the exact integer floor of the root by comparing squares (UMULL), and TFLite Micro's rounding (up when
 * the remainder exceeds the root, except at the largest root). The squares decide, so the estimate's accuracy
 * only sets how many steps the last loops take. */
static inline float float_sqrt(float v) {
#if defined(__ARM_FP)
    float r;
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(v));
    return r;
#else
    return __builtin_sqrtf(v);
#endif
}

static uint32_t sqrt64_fast(uint64_t num) {
    if (num == 0) {
        return 0;
    }
    const uint32_t high = (uint32_t)(num >> 32), low = (uint32_t)num;
    const uint32_t top = high ? 0xffffffffu : 0xffffu;
    const float v = (float)high * 4294967296.0f + (float)low;
    float e = float_sqrt(v);
    /* one Newton step: e + (num - e^2) / (2 e), the difference exact in 64 bits */
    uint32_t s = e >= 4294967040.0f ? 0xffffff00u : (uint32_t)e;
    if (s == 0) {
        s = 1;
    }
    const uint64_t sq = (uint64_t)s * s;
    const float diff = num >= sq ? (float)(uint32_t)((num - sq) >> 32) * 4294967296.0f + (float)(uint32_t)(num - sq)
                                 : -((float)(uint32_t)((sq - num) >> 32) * 4294967296.0f + (float)(uint32_t)(sq - num));
    e = (float)s + diff / (2.0f * (float)s);
    s = e >= 4294967040.0f ? 0xffffffffu : (e < 1.0f ? 1u : (uint32_t)e);
    while ((uint64_t)s * s > num) {
        s--;
    }
    while (s < 0xffffffffu && (uint64_t)(s + 1) * (s + 1) <= num) {
        s++;
    }
    const uint64_t rem = num - (uint64_t)s * s;
    if (rem > s && s != top) {
        s++;
    }
    return s;
}
#endif

void pml_signal_filter_bank_sqrt(const uint32_t *x, int32_t n, int32_t shift, uint32_t *y) {
    shift = shift < 0 ? 0 : (shift > 31 ? 31 : shift);
    for (int32_t i = 0; i < n; i++) {
#if PML_SIMD32
        y[i] = sqrt64_fast(((uint64_t)x[2 * i + 1] << 32) | x[2 * i]) >> shift;
#else
        y[i] = sqrt64(((uint64_t)x[2 * i + 1] << 32) | x[2 * i]) >> shift;
#endif
    }
}

/* log2(1 + f) - f for f = k / 128, k = 0..128, in Q16 (round((log2(1 + k/128) - k/128) * 65536)), and one more
 * 0: the correction TFLite Micro's Log32 interpolates. */
static const uint16_t LOG2_CORRECTION[130] = {
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001,
    5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631,
    5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332,
    5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
    4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549,
    2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0,
    0};

/* TFLite Micro's Log32 for x >= 2: out_scale * ln(x), from log2(x) in Q16 (integer part, the fraction corrected by
 * the interpolated table), times ln(2) in Q16 (45426), rounded; the last product wraps modulo 2^32 as there. */
static uint32_t log32(uint32_t x, uint32_t out_scale) {
    const int32_t integer = pml_msb32(x) - 1;
    int32_t frac = (int32_t)(x - ((uint32_t)1 << integer));
    if (integer < 16) {
        frac = (int32_t)((uint32_t)frac << (16 - integer));
    } else {
        frac >>= integer - 16;
    }
    const uint32_t segment = (uint32_t)frac >> 9;
    const int32_t c0 = LOG2_CORRECTION[segment], c1 = LOG2_CORRECTION[segment + 1];
    const int32_t rel = ((c1 - c0) * (frac - (int32_t)(segment << 9))) >> 16;
    const uint32_t log2 = ((uint32_t)integer << 16) + (uint32_t)(frac + c0 + rel);
    const uint32_t loge = (uint32_t)((pml_mul_u64(45426u, log2) + 32768u) >> 16);
    return (out_scale * loge + 32768u) >> 16;
}

void pml_signal_filter_bank_log(const uint32_t *x, int32_t n, int32_t output_scale, int32_t correction_bits,
                                int16_t *y) {
    for (int32_t i = 0; i < n; i++) {
        const uint32_t scaled = x[i] << correction_bits;
        if (scaled > 1) {
            const uint32_t v = log32(scaled, (uint32_t)output_scale);
            y[i] = (int16_t)(v < (uint32_t)INT16_MAX ? v : (uint32_t)INT16_MAX);
        } else {
            y[i] = 0;
        }
    }
}

/* The op SIGNAL_FILTER_BANK. Once at load, after the operand types (uint32 in, uint64 out, int16 constant tables):
 * the three channel tables one value longer than the output, as many unweights as weights, and every channel's
 * bins inside the input and its weights inside the weights. */
PML_COLD int pml_signal_filter_bank_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                          pml_check_t *c) {
    (void)params;
    const int32_t channels = pml_count(out), bins = pml_count(&in[0]), weights = pml_count(&in[1]);
    PML_NEED(c, pml_count(&in[2]) == weights, PML_R_FB_WEIGHTS, pml_count(&in[2]));
    for (int k = 3; k < 6; k++) {
        PML_NEED(c, pml_count(&in[k]) == channels + 1, PML_R_FB_CHANNELS, pml_count(&in[k]));
    }
    const int16_t *freq = (const int16_t *)in[3].data, *start = (const int16_t *)in[4].data;
    const int16_t *width = (const int16_t *)in[5].data;
    int64_t work = channels;
    for (int32_t k = 0; k <= channels; k++) {
        PML_NEED(c, freq[k] >= 0 && start[k] >= 0 && width[k] >= 0 && freq[k] + width[k] <= bins
                 && start[k] + width[k] <= weights, PML_R_FB_BAND, width[k]);
        work += 2 * width[k];
    }
    c->work = work > (int64_t)PML_MAX_WORK + 1 ? (int64_t)PML_MAX_WORK + 1 : work;
    return PML_OK;
}

#if !defined(PML_NO_LIBGCC)
/* pml_signal_filter_bank for inputs below 2^31 (a power spectrum's, as a rule), each product a signed 32 x 32 -> 64
 * multiply-accumulate (SMLAL): the weight times x read as int32, which is x's value; the sums modulo 2^64. */
static void filter_bank_below_2_31(const uint32_t *x, const int16_t *weights, const int16_t *unweights,
                                   const int16_t *freq_starts, const int16_t *weight_starts, const int16_t *widths,
                                   int32_t n_channels, uint32_t *y) {
    uint64_t sum = 0;
    for (int32_t c = 0; c <= n_channels; c++) {
        const int32_t *in = (const int32_t *)(const void *)(x + freq_starts[c]);
        const int16_t *w = weights + weight_starts[c], *u = unweights + weight_starts[c];
        const int32_t width = widths[c];
        uint64_t next = 0;
        for (int32_t j = 0; j < width; j++) {
            const int32_t v = in[j];
            sum += (uint64_t)((int64_t)w[j] * v);
            next += (uint64_t)((int64_t)u[j] * v);
        }
        if (c > 0) {
            y[2 * c - 2] = (uint32_t)sum;
            y[2 * c - 1] = (uint32_t)(sum >> 32);
        }
        sum = next;
    }
}
#endif

void pml_signal_filter_bank_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)params;
    (void)n_in;
#if !defined(PML_NO_LIBGCC)
    /* the input's top bits ORed (four words a step), then the faster loop when every value is below 2^31 */
    const uint32_t *x = (const uint32_t *)in[0].data;
    const int32_t n = pml_count(&in[0]);
    uint32_t any = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        any |= x[i] | x[i + 1] | x[i + 2] | x[i + 3];
    }
    for (; i < n; i++) {
        any |= x[i];
    }
    if ((any >> 31) == 0) {
        filter_bank_below_2_31(x, (const int16_t *)in[1].data, (const int16_t *)in[2].data,
                               (const int16_t *)in[3].data, (const int16_t *)in[4].data, (const int16_t *)in[5].data,
                               pml_count(out), (uint32_t *)out->data);
        return;
    }
#endif
    pml_signal_filter_bank((const uint32_t *)in[0].data, (const int16_t *)in[1].data, (const int16_t *)in[2].data,
                           (const int16_t *)in[3].data, (const int16_t *)in[4].data, (const int16_t *)in[5].data,
                           pml_count(out), (uint32_t *)out->data);
}

/* The op SIGNAL_FILTER_BANK_SQUARE_ROOT. Once at load, after the operand types (uint64 in, an int32 scalar shift,
 * uint32 out): the output the input's size; the work counts the root's 32 steps. */
PML_COLD int pml_signal_filter_bank_square_root_check(const void *params, const pml_operand_t *in,
                                                      const pml_operand_t *out, pml_check_t *c) {
    (void)params;
    PML_NEED(c, pml_count(out) == pml_count(&in[0]), PML_R_SIZE, pml_count(out));
    c->work = pml_work_mul(32, pml_count(out));
    return PML_OK;
}

void pml_signal_filter_bank_square_root_s8(const void *params, const pml_operand_t *in, int n_in,
                                           const pml_operand_t *out, void *scratch) {
    (void)params;
    (void)n_in;
    pml_signal_filter_bank_sqrt((const uint32_t *)in[0].data, pml_count(out), *(const int32_t *)in[1].data,
                                (uint32_t *)out->data);
}

/* The op SIGNAL_FILTER_BANK_LOG. Once at load, after the operand types (uint32 in, int16 out) and
 * input_correction_bits' range (0..31): the output the input's size. */
PML_COLD int pml_signal_filter_bank_log_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                              pml_check_t *c) {
    (void)params;
    return pml_check_same_size(c, &in[0], out, 0);
}

void pml_signal_filter_bank_log_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const pml_signal_filter_bank_log_params_t *p = (const pml_signal_filter_bank_log_params_t *)params;
    (void)n_in;
    pml_signal_filter_bank_log((const uint32_t *)in[0].data, pml_count(out), p->output_scale,
                               p->input_correction_bits, (int16_t *)out->data);
}
