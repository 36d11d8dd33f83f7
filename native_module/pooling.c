/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLite Micro's reference arithmetic; no requantization: the output
 * keeps the input's scale and zero point).
 *
 * For each output pixel the window's positions inside the input are a rectangle, found once per pixel; the
 * channels are innermost and contiguous. Positions in the padding take no part: the average divides by the
 * number of positions inside (rounding half away from zero, as TFLite), the maximum ignores them. */

#include "check.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "simd32.h"

#define CHANNEL_BLOCK 64    /* int32 sums of the average kept on the stack */

typedef struct {
    const int8_t *input;
    int8_t *output;
    int32_t batches, in_h, in_w, channels, out_h, out_w;
} pool_shape_t;

static void pool_shape(const pml_operand_t *input, const pml_operand_t *output, pool_shape_t *s) {
    s->batches = pml_dim(input, 0);
    s->in_h = pml_dim(input, 1);
    s->in_w = pml_dim(input, 2);
    s->channels = pml_dim(input, 3);
    s->out_h = pml_dim(output, 1);
    s->out_w = pml_dim(output, 2);
    s->input = (const int8_t *)input->data;
    s->output = (int8_t *)output->data;
}

/* Once at load, for both ops (their params have the same layout), after the operand types and parameter ranges
 * (check.c): the shapes the kernels below rely on. */
static PML_COLD int check_pool(const pml_average_pool_2d_params_t *p, const pml_operand_t *x,
                               const pml_operand_t *output, pml_check_t *c) {
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0), PML_R_BATCH, pml_dim(output, 0));
    PML_NEED(c, pml_dim(output, 3) == pml_dim(x, 3), PML_R_POOL_CHANNELS, pml_dim(output, 3));
    if (pml_check_window(c, pml_dim(x, 1), pml_dim(output, 1), p->filter_h, p->stride_h, 1, p->pad_top, 0)
        || pml_check_window(c, pml_dim(x, 2), pml_dim(output, 2), p->filter_w, p->stride_w, 1, p->pad_left, 1)) {
        return PML_ERR_OPERANDS;
    }
    /* the window positions inside the input, per output value: the average's int32 sums of at most 2^23 int8
     * values cannot overflow */
    const int32_t h = p->filter_h < pml_dim(x, 1) ? p->filter_h : pml_dim(x, 1);
    const int32_t w = p->filter_w < pml_dim(x, 2) ? p->filter_w : pml_dim(x, 2);
    PML_NEED(c, pml_mul_s64(h, w) <= (1 << 23), PML_R_POOL_WINDOW, pml_mul_s64(h, w));
    c->work = pml_work_mul(pml_count(output), pml_mul_s64(h, w));
    return PML_OK;
}

PML_COLD int pml_average_pool_2d_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    return check_pool((const pml_average_pool_2d_params_t *)params, &inputs[0], output, c);
}

PML_COLD int pml_max_pool_2d_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    return check_pool((const pml_average_pool_2d_params_t *)params, &inputs[0], output, c);
}

/* The inner loops, over contiguous channels: the first runs a multiple of 16 times, which gcc -O2 vectorizes
 * (its cheap cost model refuses loops that need a scalar epilogue). */
static void add_s8(int32_t *restrict sum, const int8_t *restrict x, uint32_t n) {
    const uint32_t n16 = n & ~15u;
    uint32_t c = 0;
    for (; c < n16; c++) {
        sum[c] += x[c];
    }
    for (; c < n; c++) {
        sum[c] += x[c];
    }
}

static void max_s8(int8_t *restrict best, const int8_t *restrict x, uint32_t n) {
    const uint32_t n16 = n & ~15u;
    uint32_t c = 0;
    for (; c < n16; c++) {
        best[c] = x[c] > best[c] ? x[c] : best[c];
    }
    for (; c < n; c++) {
        best[c] = x[c] > best[c] ? x[c] : best[c];
    }
}

/* sum[0..n) += a window's values: rows x cols positions from x, positions `step` bytes apart in a row, rows
 * `row_step` apart. Where the core allows, LANE_CHANNELS channels at a time in words of halfword sums (lanes_t),
 * which hold the sums of up to 256 values exactly, added to the int32 sums every 256 positions; the channels past
 * those as add_s8 does. */
#if PML_SIMD32
/* The Cortex-M4: 8 channels in four words (SXTAB16 adds (x0, x2) or (x1, x3) of a word) */
#define LANE_CHANNELS 8
typedef struct {
    uint32_t a0, a1, a2, a3;
} lanes_t;

static inline int lanes_fit(const int8_t *x, int32_t step, int32_t row_step) {
    (void)x, (void)step, (void)row_step;
    return 1;       /* pml_load32 reads any address */
}

static inline __attribute__((always_inline)) void lanes_add(lanes_t *l, const int8_t *p) {
    const uint32_t v = pml_load32(p), w = pml_load32(p + 4);
    l->a0 = pml_sxtab16(l->a0, v);
    l->a1 = pml_sxtab16_ror8(l->a1, v);
    l->a2 = pml_sxtab16(l->a2, w);
    l->a3 = pml_sxtab16_ror8(l->a3, w);
}

/* The int16 halves of a pair of sums added to two int32 sums */
static inline void add_pair(int32_t *lo, int32_t *hi, uint32_t pair) {
    *lo += (int16_t)(pair & 0xffffu);
    *hi += (int16_t)(pair >> 16);
}

static inline __attribute__((always_inline)) void lanes_flush(lanes_t *l, int32_t *sum) {
    add_pair(&sum[0], &sum[2], l->a0);
    add_pair(&sum[1], &sum[3], l->a1);
    add_pair(&sum[4], &sum[6], l->a2);
    add_pair(&sum[5], &sum[7], l->a3);
    l->a0 = l->a1 = l->a2 = l->a3 = 0;
}

static inline void lanes_end(int32_t *sum, int32_t positions) {
    (void)sum, (void)positions;
}
#elif defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)
/* The Cortex-M0/M0+ (no SIMD32): 4 channels in two words of the biased values x + 128 (lanes (x0, x2) and (x1,
 * x3)), the bias taken off at the end; the positions word-aligned. About 3 cycles a value, a quarter of add_s8's. */
#define LANE_CHANNELS 4
typedef struct {
    uint32_t even, odd;
} lanes_t;

static inline int lanes_fit(const int8_t *x, int32_t step, int32_t row_step) {
    return ((uintptr_t)x & 3) == 0 && (step & 3) == 0 && (row_step & 3) == 0;
}

static inline __attribute__((always_inline)) void lanes_add(lanes_t *l, const int8_t *p) {
    const uint32_t v = *(const uint32_t *)(const void *)p ^ 0x80808080u;
    l->even += v & 0x00ff00ffu;
    l->odd += (v >> 8) & 0x00ff00ffu;
}

static inline __attribute__((always_inline)) void lanes_flush(lanes_t *l, int32_t *sum) {
    sum[0] += (int32_t)(l->even & 0xffffu);
    sum[1] += (int32_t)(l->odd & 0xffffu);
    sum[2] += (int32_t)(l->even >> 16);
    sum[3] += (int32_t)(l->odd >> 16);
    l->even = l->odd = 0;
}

static inline void lanes_end(int32_t *sum, int32_t positions) {
    for (int32_t i = 0; i < LANE_CHANNELS; i++) {
        sum[i] -= positions << 7;
    }
}
#endif

static void add_window(int32_t *sum, const int8_t *x, int32_t rows, int32_t cols, int32_t step, int32_t row_step,
                       int32_t n) {
    int32_t c = 0;
#ifdef LANE_CHANNELS
    if (row_step == cols * step) {
        /* rows that follow each other (a global pool's): one run */
        cols *= rows;
        rows = 1;
    }
    for (; lanes_fit(x, step, row_step) && c + LANE_CHANNELS <= n; c += LANE_CHANNELS) {
        lanes_t l = {0};
        int32_t left = 256;
        for (int32_t r = 0; r < rows; r++) {
            const int8_t *p = x + r * row_step + c;
            for (int32_t k = 0; k < cols;) {
                const int32_t m = cols - k < left ? cols - k : left;
                for (const int8_t *const end = p + m * step; p != end; p += step) {
                    lanes_add(&l, p);
                }
                k += m;
                left -= m;
                if (left == 0) {
                    lanes_flush(&l, sum + c);
                    left = 256;
                }
            }
        }
        lanes_flush(&l, sum + c);
        lanes_end(sum + c, rows * cols);
    }
#endif
    for (int32_t r = 0; c < n && r < rows; r++) {
        for (int32_t k = 0; k < cols; k++) {
            add_s8(sum + c, x + r * row_step + k * step + c, (uint32_t)(n - c));
        }
    }
}

/* Cortex-M0/M0+ (armv6m) have no divide instruction: gcc calls libgcc's __aeabi_idiv there, which a MicroPython
 * native module cannot link, so there (and whenever PML_NO_LIBGCC is defined: fixedpoint.h) the average's
 * division is done by shifts and subtractions. */
/* TFLite's rounded average: (sum + count / 2) / count, or (sum - count / 2) / count for sum <= 0, the
 * division truncating (C's); count > 0. */
static inline int32_t rounded_average(int32_t sum, int32_t count) {
#if defined(PML_NO_LIBGCC)
    /* the sum of count int8 values: n < 256 count, so the quotient has 8 bits, found by as many steps of long
     * division where count << 7 fits 32 bits; else bit by bit */
    const uint32_t d = (uint32_t)count;
    uint32_t n = (uint32_t)(sum > 0 ? sum : -sum) + d / 2u, q = 0;
    if (d < (1u << 25)) {
        for (int i = 7; i >= 0; i--) {
            if (n >= d << i) {
                n -= d << i;
                q |= 1u << i;
            }
        }
    } else {
        uint32_t r = 0;
        for (int i = 31; i >= 0; i--) {
            r = (r << 1) | ((n >> i) & 1u);
            if (r >= d) {
                r -= d;
                q |= (uint32_t)1 << i;
            }
        }
    }
    return sum > 0 ? (int32_t)q : -(int32_t)q;
#else
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
#endif
}

/* The window positions [*lo, *hi) of a window starting at input position i0 that lie inside [0, size). */
static void inside(int32_t i0, int32_t size, int32_t taps, int32_t *lo, int32_t *hi) {
    *lo = i0 < 0 ? -i0 : 0;
    *hi = size - i0 < taps ? size - i0 : taps;
    if (*hi < *lo) {
        *hi = *lo;
    }
}

void pml_average_pool_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
    const pml_operand_t *output, void *scratch) {
    const pml_average_pool_2d_params_t *p = (const pml_average_pool_2d_params_t *)params;
    pool_shape_t s;
    (void)n_inputs;
    pool_shape(&inputs[0], output, &s);
    int32_t sum[CHANNEL_BLOCK];
    int8_t *out = s.output;
    for (int32_t b = 0; b < s.batches; b++) {
        const int8_t *image = s.input + b * s.in_h * s.in_w * s.channels;
        for (int32_t oy = 0; oy < s.out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            inside(iy0, s.in_h, p->filter_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < s.out_w; ox++, out += s.channels) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                inside(ix0, s.in_w, p->filter_w, &kx0, &kx1);
                int32_t count = (ky1 - ky0) * (kx1 - kx0);
                count = count > 0 ? count : 1;  /* a window wholly in the padding averages to 0 */
                for (int32_t c0 = 0; c0 < s.channels; c0 += CHANNEL_BLOCK) {
                    const int32_t n = s.channels - c0 < CHANNEL_BLOCK ? s.channels - c0 : CHANNEL_BLOCK;
                    for (int32_t c = 0; c < n; c++) {
                        sum[c] = 0;
                    }
                    if (ky0 < ky1 && kx0 < kx1) {
                        add_window(sum, image + ((iy0 + ky0) * s.in_w + ix0 + kx0) * s.channels + c0, ky1 - ky0,
                                   kx1 - kx0, s.channels, s.in_w * s.channels, n);
                    }
                    for (int32_t c = 0; c < n; c++) {
                        out[c0 + c] = pml_clamp_s8(rounded_average(sum[c], count), p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void pml_max_pool_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
    const pml_operand_t *output, void *scratch) {
    /* the two ops' params have the same layout */
    const pml_average_pool_2d_params_t *p = (const pml_average_pool_2d_params_t *)params;
    pool_shape_t s;
    (void)n_inputs;
    pool_shape(&inputs[0], output, &s);
    int8_t *out = s.output;
    for (int32_t b = 0; b < s.batches; b++) {
        const int8_t *image = s.input + b * s.in_h * s.in_w * s.channels;
        for (int32_t oy = 0; oy < s.out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            inside(iy0, s.in_h, p->filter_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < s.out_w; ox++, out += s.channels) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                inside(ix0, s.in_w, p->filter_w, &kx0, &kx1);
                if (ky0 == ky1 || kx0 == kx1) {
                    /* a window wholly in the padding: the maximum of nothing, clamped */
                    for (int32_t c = 0; c < s.channels; c++) {
                        out[c] = pml_clamp_s8(-(1 << 20), p->act_min, p->act_max);
                    }
                    continue;
                }
                for (int32_t c = 0; c < s.channels; c++) {
                    out[c] = INT8_MIN;
                }
                for (int32_t ky = ky0; ky < ky1; ky++) {
                    for (int32_t kx = kx0; kx < kx1; kx++) {
                        max_s8(out, image + ((iy0 + ky) * s.in_w + ix0 + kx) * s.channels, (uint32_t)s.channels);
                    }
                }
                for (int32_t c = 0; c < s.channels; c++) {
                    out[c] = pml_clamp_s8(out[c], p->act_min, p->act_max);
                }
            }
        }
    }
}
