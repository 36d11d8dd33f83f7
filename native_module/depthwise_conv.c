/* DEPTHWISE_CONV_2D, int8 (TFLite Micro's reference arithmetic).
 *
 * Channels innermost. For each block of BLOCK output channels (their requantization constants prepared once),
 * every output pixel sums in int32 over the filter taps; the taps of a pixel whose input position lies inside
 * the image form a rectangle, found once per pixel, so the inner loops have no bounds checks. Taps in the
 * padding read the input zero point: for pixels at the border (and only when the zero point is not 0) they read
 * it from a row of zero points on the stack. With depth_multiplier 1 the inner loop is an element-wise int8
 * multiply-accumulate over contiguous channels, which compilers vectorize; other multipliers take a plain loop
 * where output channel oc reads input channel oc / depth_multiplier. On the Cortex-M4 (PML_SIMD32), the op's
 * entry point is in depthwise_conv_s8_simd32.c, which leaves to pml_depthwise_channels what it does not take. */

#include "check.h"
#include "picoml.h"
#include "requantize_channels.h"
#include "simd32.h"

#include "depthwise_conv.h"

#define BLOCK 32    /* output channels per pass */

typedef struct {
    const int8_t *image;        /* the input image of the current batch */
    const int8_t *filter;
    int32_t in_h, in_w, in_c, out_c, kh, kw, dil_h, dil_w, multiplier;
    int8_t zero_points[BLOCK];  /* what the padding reads as */
} dw_t;

/* acc[k] += x[k] * f[k], k < n; the first loop runs a multiple of 16 times, which gcc -O2 vectorizes. */
static inline void mac(int32_t *restrict acc, const int8_t *restrict x, const int8_t *restrict f, uint32_t n) {
    const uint32_t n16 = n & ~15u;
    uint32_t k = 0;
    for (; k < n16; k++) {
        acc[k] += x[k] * f[k];
    }
    for (; k < n; k++) {
        acc[k] += x[k] * f[k];
    }
}

/* acc[k] += x[ic(k)] * f[k] for output channels oc0 + k, k < n, with depth_multiplier > 1: output channel
 * oc = ic * multiplier + j reads input channel ic; x points at the block's first input channel, j0 is oc0's j. */
static void mac_multiplier(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, int32_t multiplier,
                           int32_t j0) {
    int32_t ic = 0, j = j0;
    for (int32_t k = 0; k < n; k++) {
        acc[k] += x[ic] * f[k];
        if (++j == multiplier) {
            j = 0;
            ic++;
        }
    }
}

/* The sums of output channels [oc0, oc0 + n) at the output pixel whose window starts at input (iy0, ix0):
 * over the taps [ky0, ky1) x [kx0, kx1) inside the image, then, when `pad`, the taps in the padding. */
static void dw_pixel(const dw_t *d, int32_t oc0, int32_t n, int32_t iy0, int32_t ix0, int32_t ky0, int32_t ky1,
                     int32_t kx0, int32_t kx1, int pad, int32_t acc[BLOCK]) {
    /* the block's first input channel, and oc0's place in its group */
    int32_t ic0 = oc0, j0 = 0;
    if (d->multiplier > 1) {
        ic0 = 0;
        j0 = oc0;
        while (j0 >= d->multiplier) {
            j0 -= d->multiplier;
            ic0++;
        }
    }
    for (int32_t k = 0; k < n; k++) {
        acc[k] = 0;
    }
    /* Every index below is that of a position inside the image or the filter (never one past a row: a dilation
     * as large as pml_check lets through would overflow a step between taps), so no arithmetic leaves int32. */
    for (int32_t ky = ky0; ky < ky1 && kx0 < kx1; ky++) {
        const int8_t *row = d->image + (iy0 + ky * d->dil_h) * d->in_w * d->in_c + ic0;
        const int8_t *filter_row = d->filter + ky * d->kw * d->out_c + oc0;
        for (int32_t kx = kx0; kx < kx1; kx++) {
            const int8_t *x = row + (ix0 + kx * d->dil_w) * d->in_c, *f = filter_row + kx * d->out_c;
            if (d->multiplier == 1) {
                mac(acc, x, f, (uint32_t)n);
            } else {
                mac_multiplier(acc, x, f, n, d->multiplier, j0);
            }
        }
    }
    if (!pad) {
        return;
    }
    for (int32_t ky = 0; ky < d->kh; ky++) {
        const int row_inside = ky >= ky0 && ky < ky1;
        for (int32_t kx = 0; kx < d->kw; kx++) {
            if (row_inside && kx >= kx0 && kx < kx1) {
                continue;
            }
            const int8_t *f = d->filter + (ky * d->kw + kx) * d->out_c + oc0;
            if (d->multiplier == 1) {
                mac(acc, d->zero_points, f, (uint32_t)n);
            } else {
                mac_multiplier(acc, d->zero_points, f, n, d->multiplier, j0);
            }
        }
    }
}

/* The taps [*lo, *hi) of a window starting at input position i0 whose positions lie inside [0, size). */
static void inside_taps(int32_t i0, int32_t size, int32_t taps, int32_t dilation, int32_t *lo, int32_t *hi) {
    int32_t a = 0, b = taps;
    while (a < taps && i0 + a * dilation < 0) {
        a++;
    }
    while (b > a && i0 + (b - 1) * dilation >= size) {
        b--;
    }
    *lo = a;
    *hi = b;
}

/* Once at load, after the operand types and parameter ranges (check.c): the shapes and constants the kernel
 * below relies on. */
PML_COLD int pml_depthwise_conv_2d_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    const pml_operand_t *x = &inputs[0], *f = &inputs[1];
    const int32_t kh = pml_dim(f, 1), kw = pml_dim(f, 2), out_c = pml_dim(f, 3);
    PML_NEED(c, pml_dim(f, 0) == 1, PML_R_DW_FILTER, pml_dim(f, 0));
    PML_NEED(c, pml_mul_s64(pml_dim(x, 3), p->depth_multiplier) == out_c, PML_R_DW_CHANNELS, out_c);
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0), PML_R_BATCH, pml_dim(output, 0));
    PML_NEED(c, pml_dim(output, 3) == out_c, PML_R_OUT_CHANNELS, pml_dim(output, 3));
    /* the int32 sums over the taps (mac) cannot overflow: at most 2^16 products of at most 2^14 */
    PML_NEED(c, pml_mul_s64(kh, kw) <= 65536, PML_R_DW_TAPS, pml_mul_s64(kh, kw));
    if (pml_check_requantization(c, inputs, out_c) != PML_OK
        || pml_check_window(c, pml_dim(x, 1), pml_dim(output, 1), kh, p->stride_h, p->dilation_h, p->pad_top, 0)
        || pml_check_window(c, pml_dim(x, 2), pml_dim(output, 2), kw, p->stride_w, p->dilation_w, p->pad_left, 1)) {
        return PML_ERR_OPERANDS;
    }
    /* a multiply-accumulate per output value and filter tap (taps in the padding included) */
    c->work = pml_work_mul(pml_count(output), pml_work_mul(kh, kw));
    c->scratch = PML_DEPTHWISE_SCRATCH(params, inputs, output);
    return PML_OK;
}

void pml_depthwise_channels(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                            const pml_operand_t *output, int32_t oc_begin, int32_t oc_end) {
    dw_t d;
    const int32_t batches = pml_dim(&inputs[0], 0);
    d.in_h = pml_dim(&inputs[0], 1);
    d.in_w = pml_dim(&inputs[0], 2);
    d.in_c = pml_dim(&inputs[0], 3);
    d.kh = pml_dim(&inputs[1], 1);
    d.kw = pml_dim(&inputs[1], 2);
    d.out_c = pml_dim(&inputs[1], 3);
    d.dil_h = p->dilation_h;
    d.dil_w = p->dilation_w;
    d.multiplier = p->depth_multiplier;
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t n_quant = pml_count(&inputs[3]);
    d.filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    for (int32_t k = 0; k < BLOCK; k++) {
        d.zero_points[k] = (int8_t)-p->input_offset;
    }
    const int32_t q_step = n_quant == d.out_c ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const int32_t image_size = d.in_h * d.in_w * d.in_c;
    requant_t rq[BLOCK];
    int32_t acc[BLOCK];
    for (int32_t oc0 = oc_begin; oc0 < oc_end; oc0 += BLOCK) {
        const int32_t n = oc_end - oc0 < BLOCK ? oc_end - oc0 : BLOCK;
        int all_right = 1;  /* all shifts negative, as usual: one branch per block, not per value */
        for (int32_t k = 0; k < n; k++) {
            const int32_t q = (oc0 + k) * q_step;
            requant_init(&rq[k], multipliers[q], shifts[q]);
            all_right &= rq[k].right1 >= 0;
        }
        const int32_t *block_bias = bias + oc0;
        int8_t *out = (int8_t *)output->data + oc0;
        for (int32_t b = 0; b < batches; b++) {
            d.image = (const int8_t *)inputs[0].data + b * image_size;
            for (int32_t oy = 0; oy < out_h; oy++) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky0, ky1;
                inside_taps(iy0, d.in_h, d.kh, d.dil_h, &ky0, &ky1);
                for (int32_t ox = 0; ox < out_w; ox++, out += d.out_c) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx0, kx1;
                    inside_taps(ix0, d.in_w, d.kw, d.dil_w, &kx0, &kx1);
                    const int pad = p->input_offset != 0 && (ky0 > 0 || ky1 < d.kh || kx0 > 0 || kx1 < d.kw);
                    dw_pixel(&d, oc0, n, iy0, ix0, ky0, ky1, kx0, kx1, pad, acc);
                    /* the bias added as unsigned: wrapping, as TFLite Micro's int32 sums do */
                    if (all_right) {
                        for (int32_t k = 0; k < n; k++) {
                            const int32_t sum = (int32_t)((uint32_t)acc[k] + (uint32_t)block_bias[k]);
                            out[k] = requantize_right(sum, &rq[k], &range);
                        }
                    } else {
                        for (int32_t k = 0; k < n; k++) {
                            const int32_t sum = (int32_t)((uint32_t)acc[k] + (uint32_t)block_bias[k]);
                            out[k] = requantize(sum, &rq[k], &range);
                        }
                    }
                }
            }
        }
    }
}

#if !PML_SIMD32 && !(defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE))   /* Armv6-M: depthwise_conv_s8_armv6m.c */
void pml_depthwise_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                              const pml_operand_t *output, void *scratch) {
    (void)n_inputs;
    pml_depthwise_channels((const pml_depthwise_conv_2d_params_t *)params, inputs, output, 0, pml_dim(output, 3));
}
#endif
