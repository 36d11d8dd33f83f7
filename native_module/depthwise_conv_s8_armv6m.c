/* DEPTHWISE_CONV_2D, int8, for the Cortex-M0/M0+ (Armv6-M). Same results as TFLite Micro's reference
 * arithmetic.
 *
 * With depth_multiplier 1 and channels in whole words (a multiple of 4, the tensors word-aligned), four channels
 * at a time: each filter tap is one word load of four inputs and one of four weights, the four products summed
 * in registers over all the taps of the output pixel (no sum goes through memory between taps), then requantized
 * in 32-bit operations (requantize_armv6m.h). Taps in the padding read the input zero point (the host folded the
 * input offset into the bias): their weights times the zero point are added, at the border pixels only. Every
 * other case (depth multipliers, channel counts not a multiple of 4) takes the portable kernel of
 * depthwise_conv.c (pml_depthwise_channels). */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "check.h"
#include "depthwise_conv.h"
#include "picoml.h"
#include "requantize_armv6m.h"

#define BLOCK 16    /* channels per pass (their requantization constants prepared once) */

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

static inline int32_t byte0(uint32_t w) { return (int8_t)w; }
static inline int32_t byte1(uint32_t w) { return (int8_t)(w >> 8); }
static inline int32_t byte2(uint32_t w) { return (int8_t)(w >> 16); }
static inline int32_t byte3(uint32_t w) { return (int32_t)w >> 24; }

void pml_depthwise_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                              const pml_operand_t *output, void *scratch) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    (void)n_inputs;
    const int32_t in_c = pml_dim(&inputs[0], 3);
    if (p->depth_multiplier != 1 || (in_c & 3) != 0 || ((uintptr_t)inputs[0].data & 3) != 0
        || ((uintptr_t)inputs[1].data & 3) != 0) {
        pml_depthwise_channels(p, inputs, output, 0, pml_dim(output, 3));
        return;
    }
    const int32_t batches = pml_dim(&inputs[0], 0), in_h = pml_dim(&inputs[0], 1), in_w = pml_dim(&inputs[0], 2);
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t dil_h = pml_dilation(p->dilation_h, kh), dil_w = pml_dilation(p->dilation_w, kw);
    const int32_t n_quant = pml_count(&inputs[3]);
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const int32_t zp = -p->input_offset;
    const int32_t q_step = n_quant == in_c ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const int32_t image_size = in_h * in_w * in_c;
    /* the byte step between a filter row's taps (the input's is per pixel: x_step) */
    const int32_t f_step = in_c;
    rq6_t rq[BLOCK];
    for (int32_t c0 = 0; c0 < in_c; c0 += BLOCK) {
        const int32_t n = in_c - c0 < BLOCK ? in_c - c0 : BLOCK;
        for (int32_t k = 0; k < n; k++) {
            const int32_t q = (c0 + k) * q_step;
            rq6_init(&rq[k], multipliers[q], shifts[q]);
        }
        int8_t *out = (int8_t *)output->data + c0;
        for (int32_t b = 0; b < batches; b++) {
            const int8_t *image = (const int8_t *)inputs[0].data + b * image_size + c0;
            for (int32_t oy = 0; oy < out_h; oy++) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky0, ky1;
                inside_taps(iy0, in_h, kh, dil_h, &ky0, &ky1);
                for (int32_t ox = 0; ox < out_w; ox++, out += in_c) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx0, kx1;
                    inside_taps(ix0, in_w, kw, dil_w, &kx0, &kx1);
                    const int pad = zp != 0 && (ky0 > 0 || ky1 < kh || kx0 > 0 || kx1 < kw);
                    const int32_t nx = kx1 - kx0;
                    const int32_t x_step = nx > 1 ? dil_w * in_c : 0;   /* two taps inside: dil_w < in_w */
                    for (int32_t k = 0; k < n; k += 4) {
                        uint32_t s0 = (uint32_t)bias[c0 + k], s1 = (uint32_t)bias[c0 + k + 1];
                        uint32_t s2 = (uint32_t)bias[c0 + k + 2], s3 = (uint32_t)bias[c0 + k + 3];
                        for (int32_t ky = ky0; ky < ky1 && nx > 0; ky++) {
                            const uint32_t *x = (const uint32_t *)(const void *)(
                                image + ((iy0 + ky * dil_h) * in_w + ix0 + kx0 * dil_w) * in_c + k);
                            const uint32_t *f = (const uint32_t *)(const void *)(
                                filter + (ky * kw + kx0) * in_c + c0 + k);
                            for (int32_t t = 0; t < nx; t++) {
                                const uint32_t xw = *x, fw = *f;
                                s0 += (uint32_t)(byte0(xw) * byte0(fw));
                                s1 += (uint32_t)(byte1(xw) * byte1(fw));
                                s2 += (uint32_t)(byte2(xw) * byte2(fw));
                                s3 += (uint32_t)(byte3(xw) * byte3(fw));
                                x = (const uint32_t *)(const void *)((const int8_t *)x + x_step);
                                f = (const uint32_t *)(const void *)((const int8_t *)f + f_step);
                            }
                        }
                        if (pad) {
                            /* the taps in the padding: weight times the zero point */
                            for (int32_t ky = 0; ky < kh; ky++) {
                                const int row_inside = ky >= ky0 && ky < ky1;
                                for (int32_t kx = 0; kx < kw; kx++) {
                                    if (row_inside && kx >= kx0 && kx < kx1) {
                                        continue;
                                    }
                                    const int8_t *f = filter + (ky * kw + kx) * in_c + c0 + k;
                                    s0 += (uint32_t)(f[0] * zp);
                                    s1 += (uint32_t)(f[1] * zp);
                                    s2 += (uint32_t)(f[2] * zp);
                                    s3 += (uint32_t)(f[3] * zp);
                                }
                            }
                        }
                        const uint32_t sums[4] = {s0, s1, s2, s3};
                        for (int32_t i = 0; i < 4; i++) {
                            out[k + i] = rq6_apply((int32_t)sums[i], &rq[k + i], &range);
                        }
                    }
                }
            }
        }
    }
}

#endif
