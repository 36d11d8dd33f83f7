/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLite Micro's reference arithmetic; no requantization: the output
 * keeps the input's scale and zero point).
 *
 * For each output pixel the window's positions inside the input are a rectangle, found once per pixel; the
 * channels are innermost and contiguous. Positions in the padding take no part: the average divides by the
 * number of positions inside (rounding half away from zero, as TFLite), the maximum ignores them. */

#include "picoml.h"
#include "fixedpoint.h"

#define CHANNEL_BLOCK 64    /* int32 sums of the average kept on the stack */

typedef struct {
    const int8_t *input;
    int8_t *output;
    int32_t batches, in_h, in_w, channels, out_h, out_w;
} pool_shape_t;

static int pool_shape(const pml_average_pool_2d_params_t *p, const pml_operand_t *inputs, int n_inputs,
                      const pml_operand_t *outputs, int n_outputs, pool_shape_t *s) {
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || outputs[0].tensor == 0
        || inputs[0].tensor->dtype != PML_DTYPE_INT8 || outputs[0].tensor->dtype != PML_DTYPE_INT8
        || inputs[0].tensor->ndim != 4 || outputs[0].tensor->ndim != 4) {
        return PML_ERR_OPERANDS;
    }
    s->batches = pml_dim(&inputs[0], 0);
    s->in_h = pml_dim(&inputs[0], 1);
    s->in_w = pml_dim(&inputs[0], 2);
    s->channels = pml_dim(&inputs[0], 3);
    s->out_h = pml_dim(&outputs[0], 1);
    s->out_w = pml_dim(&outputs[0], 2);
    if (pml_dim(&outputs[0], 0) != s->batches || pml_dim(&outputs[0], 3) != s->channels || p->stride_h < 1
        || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1 || p->pad_top < 0 || p->pad_left < 0) {
        return PML_ERR_OPERANDS;
    }
    s->input = (const int8_t *)inputs[0].data;
    s->output = (int8_t *)outputs[0].data;
    return PML_OK;
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

/* Cortex-M0/M0+ (armv6m) have no divide instruction: gcc calls libgcc's __aeabi_idiv there, which a MicroPython
 * native module cannot link, so there (and whenever PML_NO_LIBGCC is defined: fixedpoint.h) the average's
 * division is done bit by bit. */
/* TFLite's rounded average: (sum + count / 2) / count, or (sum - count / 2) / count for sum <= 0, the
 * division truncating (C's); count > 0. */
static inline int32_t rounded_average(int32_t sum, int32_t count) {
#if defined(PML_NO_LIBGCC)
    uint32_t n = (uint32_t)(sum > 0 ? sum : -sum) + (uint32_t)count / 2u, q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1u);
        if (r >= (uint32_t)count) {
            r -= (uint32_t)count;
            q |= (uint32_t)1 << i;
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

int pml_average_pool_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
    const pml_operand_t *outputs, int n_outputs) {
    const pml_average_pool_2d_params_t *p = (const pml_average_pool_2d_params_t *)params;
    pool_shape_t s;
    if (pool_shape(p, inputs, n_inputs, outputs, n_outputs, &s) != PML_OK) {
        return PML_ERR_OPERANDS;
    }
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
                    for (int32_t ky = ky0; ky < ky1; ky++) {
                        for (int32_t kx = kx0; kx < kx1; kx++) {
                            add_s8(sum, image + ((iy0 + ky) * s.in_w + ix0 + kx) * s.channels + c0, (uint32_t)n);
                        }
                    }
                    for (int32_t c = 0; c < n; c++) {
                        out[c0 + c] = pml_clamp_s8(rounded_average(sum[c], count), p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return PML_OK;
}

int pml_max_pool_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    /* the two ops' params have the same layout */
    const pml_average_pool_2d_params_t *p = (const pml_average_pool_2d_params_t *)params;
    pool_shape_t s;
    if (pool_shape(p, inputs, n_inputs, outputs, n_outputs, &s) != PML_OK) {
        return PML_ERR_OPERANDS;
    }
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
    return PML_OK;
}
