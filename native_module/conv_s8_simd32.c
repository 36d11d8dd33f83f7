/* CONV_2D, int8, on a core with the Armv7E-M DSP extension (Cortex-M4/M7: PML_SIMD32, simd32.h).
 *
 * A blocked matrix product: four output pixels x one output channel at a time, four accumulators in registers.
 * The four pixels' input patches are sign-extended once into int16 pairs ("columns", on the stack), in the order
 * SXTB16 gives them: for each 4 bytes x0..x3 of a patch the words (x0, x2) and (x1, x3), the four pixels' words
 * side by side (8 words per 4 patch bytes). Each filter word w0..w3 is extended the same way, with no
 * reordering of the weights, and (x0, x2).(w0, w2) + (x1, x3).(w1, w3) is two SMLADs: per 4 patch bytes one
 * weight load and two SXTB16 serve the four pixels, whose 8 column words come in two LDMs (MAC_1X4). The
 * columns are reused by every output channel. A 1x1 convolution with stride 1 and no padding reads its patches
 * straight from the input; any other geometry gathers each patch first (padding reads as the input zero
 * point), the gathered bytes beside the columns. The columns take 32 bytes per 4 patch bytes (512 bytes for a
 * patch of 64), the gathered patch 4 more; a patch longer than COLS_BYTES allows goes to the portable kernel
 * (conv.c), as nothing else here needs it.
 *
 * Requantization: requantize_channels.h's requantize_fast for the usual constants (a multiplier >= 0, a right
 * shift in [2, 23]), one SMLAL and an SSAT per output; any other constants or activation range take the
 * general path. */

#include "simd32.h"

#if PML_SIMD32

#include "check.h"
#include "conv_generic.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "requantize_channels.h"

/* bytes of stack for the columns and the gathered patch at most (the portable kernel's columns take 1 KiB) */
#define COLS_BYTES 1024
#define PIXELS 4        /* output pixels per block (the columns of mac_1x4) */

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Pixel slot s (0..PIXELS-1) of the columns: the n bytes at x extended, zeros up to the next multiple of 4. */
static void widen_slot(const int8_t *x, int32_t n, uint32_t *cols, int32_t s) {
    const int32_t n4 = n >> 2;
    uint32_t *c = cols + 2 * s;
    for (int32_t j = 0; j < n4; j++, c += 2 * PIXELS, x += 4) {
        const uint32_t w = pml_load32(x);
        c[0] = pml_sxtb16(w);
        c[1] = pml_sxtb16_ror8(w);
    }
    if (n & 3) {
        const uint32_t w = pml_load_tail(x, n & 3);
        c[0] = pml_sxtb16(w);
        c[1] = pml_sxtb16_ror8(w);
    }
}

/* One word of 4 filter bytes against the 4 pixels' columns (8 words at x). */
#define MAC_STEP(x, f, a0, a1, a2, a3) do { \
        const uint32_t fa_ = pml_sxtb16(f), fb_ = pml_sxtb16_ror8(f); \
        a0 = pml_smlad((x)[0], fa_, a0); \
        a0 = pml_smlad((x)[1], fb_, a0); \
        a1 = pml_smlad((x)[2], fa_, a1); \
        a1 = pml_smlad((x)[3], fb_, a1); \
        a2 = pml_smlad((x)[4], fa_, a2); \
        a2 = pml_smlad((x)[5], fb_, a2); \
        a3 = pml_smlad((x)[6], fa_, a3); \
        a3 = pml_smlad((x)[7], fb_, a3); \
    } while (0)

/* a0..a3 += the 4 columns at x . the filter row at w over n4 words of 4 patch bytes (x and w advance past
 * them): the inner loop of this file. On the Cortex-M4 in assembly, as gcc neither keeps the column loads as
 * LDMs nor unrolls: per 8 patch bytes 2 LDR, 4 SXTB16, 4 LDM of 4 words, 16 SMLAD, CMP and BNE, 28
 * instructions for 32 multiply-accumulates, in 14 registers. */
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
#define MAC_1X4(x, w, n4, a0, a1, a2, a3) do { \
        if ((n4) & 1) { \
            const uint32_t f_ = pml_load32(w); \
            MAC_STEP(x, f_, a0, a1, a2, a3); \
            x += 2 * PIXELS; \
            w += 4; \
        } \
        const uint32_t *const end_ = x + 2 * PIXELS * ((n4) & ~1); \
        if (x != end_) { \
            uint32_t f_, fa_, fb_; \
            __asm__ volatile( \
                "1:\n\t" \
                "ldr %[f], [%[w]], #4\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "sxtb16 %[fa], %[f]\n\t" \
                "sxtb16 %[fb], %[f], ror #8\n\t" \
                "smlad %[a0], r8, %[fa], %[a0]\n\t" \
                "smlad %[a0], r9, %[fb], %[a0]\n\t" \
                "smlad %[a1], r10, %[fa], %[a1]\n\t" \
                "smlad %[a1], r11, %[fb], %[a1]\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "ldr %[f], [%[w]], #4\n\t" \
                "smlad %[a2], r8, %[fa], %[a2]\n\t" \
                "smlad %[a2], r9, %[fb], %[a2]\n\t" \
                "smlad %[a3], r10, %[fa], %[a3]\n\t" \
                "smlad %[a3], r11, %[fb], %[a3]\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "sxtb16 %[fa], %[f]\n\t" \
                "sxtb16 %[fb], %[f], ror #8\n\t" \
                "smlad %[a0], r8, %[fa], %[a0]\n\t" \
                "smlad %[a0], r9, %[fb], %[a0]\n\t" \
                "smlad %[a1], r10, %[fa], %[a1]\n\t" \
                "smlad %[a1], r11, %[fb], %[a1]\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "smlad %[a2], r8, %[fa], %[a2]\n\t" \
                "smlad %[a2], r9, %[fb], %[a2]\n\t" \
                "smlad %[a3], r10, %[fa], %[a3]\n\t" \
                "smlad %[a3], r11, %[fb], %[a3]\n\t" \
                "cmp %[x], %[end]\n\t" \
                "bne 1b\n\t" \
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w), \
                  [f] "=&r"(f_), [fa] "=&r"(fa_), [fb] "=&r"(fb_) \
                : [end] "r"(end_) \
                : "r8", "r9", "r10", "r11", "cc", "memory"); \
        } \
    } while (0)
#else
#define MAC_1X4(x, w, n4, a0, a1, a2, a3) do { \
        for (int32_t j_ = 0; j_ < (n4); j_++, x += 2 * PIXELS, w += 4) { \
            const uint32_t f_ = pml_load32(w); \
            MAC_STEP(x, f_, a0, a1, a2, a3); \
        } \
    } while (0)
#endif

/* What the outputs need: the folded bias, the requantization constants, the activation range. */
typedef struct {
    const int32_t *bias, *multipliers, *shifts;
    int32_t q_step, out_c;
    int32_t act_min, act_max;
    out_range_t range;
} outputs_t;

/* The outputs of channel k at the n_px pixels, at o, o + out_c, ... (any constants, any activation range). */
static void store_general(const int32_t acc[PIXELS], int32_t n_px, const outputs_t *q, int32_t k, int8_t *o) {
    requant_fast_t f;
    requant_fast_init(&f, q->multipliers[k], q->shifts[k], q->range.offset);
    for (int32_t i = 0; i < n_px; i++, o += q->out_c) {
        if (f.right >= 0) {
            *o = pml_clamp_s8(pml_ssat8(requantize_fast(acc[i], &f)), q->act_min, q->act_max);
        } else {
            requant_t rq;
            requant_init(&rq, q->multipliers[k], q->shifts[k]);
            *o = requantize(acc[i], &rq, &q->range);
        }
    }
}

/* Every output channel of a block of n_px (1..PIXELS) output pixels whose columns are ready: the filter rows
 * one after another, each against the PIXELS columns, requantized and stored at out (pixel-major). In a
 * function of its own without a frame pointer: MAC_1X4's assembly takes 14 registers. */
static NOINLINE void channels_1x4(const uint32_t *cols, const int8_t *filter, int32_t patch, int32_t n_px,
                                  const outputs_t *q, int8_t *out) {
    const int32_t n4 = patch >> 2, tail = patch & 3, out_c = q->out_c;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; oc++) {
        /* the bias as the start: the sums wrap as TFLite Micro's int32 sums do */
        int32_t a0 = q->bias[oc], a1 = a0, a2 = a0, a3 = a0;
        const uint32_t *x = cols;
        MAC_1X4(x, w, n4, a0, a1, a2, a3);
        if (tail) {
            /* the row's last bytes, zeros above (the columns hold zeros there too) */
            const uint32_t t = pml_load_tail(w, tail);
            MAC_STEP(x, t, a0, a1, a2, a3);
            w += tail;
        }
        const int32_t acc[PIXELS] = {a0, a1, a2, a3};
        store_general(acc, n_px, q, oc * q->q_step, out + oc);
    }
}

/* channels_1x4 for 4 pixels when every channel's constants suit requantize_fast (fast_constants) and the
 * activation range is int8's: the requantization in straight lines. */
static NOINLINE void channels_1x4_fast(const uint32_t *cols, const int8_t *filter, int32_t patch,
                                       const outputs_t *q, int8_t *out) {
    const int32_t n4 = patch >> 2, tail = patch & 3, out_c = q->out_c;
    const uint32_t offset_round = 1 + 2 * (uint32_t)q->range.offset;      /* requant_fast_t.round >> (e - 2) */
    /* channel k's constants at k & mask: one pair per channel, or one for all */
    const int32_t mask = q->q_step ? -1 : 0;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; oc++) {
        int32_t a0 = q->bias[oc], a1 = a0, a2 = a0, a3 = a0;
        const uint32_t *x = cols;
        MAC_1X4(x, w, n4, a0, a1, a2, a3);
        if (tail) {
            const uint32_t t = pml_load_tail(w, tail);
            MAC_STEP(x, t, a0, a1, a2, a3);
            w += tail;
        }
        const int32_t k = oc & mask;
        const uint32_t e2 = (uint32_t)(-2 - q->shifts[k]);      /* e - 2, in [0, 21] */
        requant_fast_t f;
        f.multiplier = q->multipliers[k];
        f.round = (int32_t)(offset_round << e2);
        f.right = (int32_t)e2 + 1;
        int8_t *o = out + oc;
        *o = (int8_t)pml_ssat8(requantize_fast(a0, &f));
        o += out_c;
        *o = (int8_t)pml_ssat8(requantize_fast(a1, &f));
        o += out_c;
        *o = (int8_t)pml_ssat8(requantize_fast(a2, &f));
        o += out_c;
        *o = (int8_t)pml_ssat8(requantize_fast(a3, &f));
    }
}

/* Whether every channel's constants suit requantize_fast and the activation range is int8's. */
static int fast_constants(const outputs_t *q, int32_t n_quant) {
    if (q->act_min != -128 || q->act_max != 127) {
        return 0;
    }
    for (int32_t k = 0; k < n_quant; k++) {
        requant_fast_t f;
        requant_fast_init(&f, q->multipliers[k], q->shifts[k], q->range.offset);
        if (f.right < 0) {
            return 0;
        }
    }
    return 1;
}

/* The patch of the output pixel (b, oy, ox) as raw bytes: [kh, kw, in_c], padding as the zero point. */
typedef struct {
    const int8_t *input;
    int32_t in_h, in_w, in_c, kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int8_t zero_point;
} geometry_t;

static void gather(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, int8_t *patch) {
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left, in_c = g->in_c;
    const int8_t *image = g->input + b * g->in_h * g->in_w * in_c;
    const int8_t zp = g->zero_point;
    /* taps [kx0, kx1) of a row are inside the image (any dilation) */
    int32_t kx0 = 0, kx1 = g->kw;
    while (kx0 < kx1 && ix0 + kx0 * g->dil_w < 0) {
        kx0++;
    }
    while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dil_w >= g->in_w) {
        kx1--;
    }
    const int32_t row = g->kw * in_c, before = kx0 * in_c, after = (g->kw - kx1) * in_c;
    for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h) {
        if (iy < 0 || iy >= g->in_h || kx0 == kx1) {
            for (int32_t i = 0; i < row; i++) {
                *patch++ = zp;
            }
            continue;
        }
        for (int32_t i = 0; i < before; i++) {
            *patch++ = zp;
        }
        const int8_t *src = image + (iy * g->in_w + ix0 + kx0 * g->dil_w) * in_c;
        const int32_t step = kx1 - kx0 > 1 ? g->dil_w * in_c : 0;     /* two taps inside: dil_w < in_w */
        if (in_c == 1) {
            for (int32_t kx = kx0; kx < kx1; kx++, src += step) {
                *patch++ = *src;
            }
        } else {
            for (int32_t kx = kx0; kx < kx1; kx++, src += step) {
                for (int32_t c = 0; c < in_c; c++) {
                    *patch++ = src[c];
                }
            }
        }
        for (int32_t i = 0; i < after; i++) {
            *patch++ = zp;
        }
    }
}

/* The scratch of the shapes left to the portable kernel; this kernel's own columns are on the stack. */
uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int32_t words = (kh * kw * pml_dim(&inputs[0], 3) + 3) >> 2;
    const int direct = kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0
                       && p->pad_left == 0 && pml_dim(output, 1) == pml_dim(&inputs[0], 1)
                       && pml_dim(output, 2) == pml_dim(&inputs[0], 2);
    const int32_t col_words = 2 * PIXELS * words, raw_words = direct ? 0 : words;
    return 4 * (col_words + raw_words) > COLS_BYTES ? pml_conv_2d_s8_generic_scratch(params, inputs, output) : 0;
}

void pml_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    geometry_t g;
    g.input = (const int8_t *)inputs[0].data;
    g.in_h = pml_dim(&inputs[0], 1);
    g.in_w = pml_dim(&inputs[0], 2);
    g.in_c = pml_dim(&inputs[0], 3);
    g.kh = pml_dim(&inputs[1], 1);
    g.kw = pml_dim(&inputs[1], 2);
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.dil_h = pml_dilation(p->dilation_h, g.kh);
    g.dil_w = pml_dilation(p->dilation_w, g.kw);
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.zero_point = (int8_t)-p->input_offset;
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2), out_c = pml_dim(&inputs[1], 0);
    const int32_t patch = g.kh * g.kw * g.in_c, words = (patch + 3) >> 2;
    /* a 1x1 convolution over every pixel: the input is the matrix of patches */
    const int direct = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0
                       && g.pad_left == 0 && out_h == g.in_h && out_w == g.in_w;
    const int32_t col_words = 2 * PIXELS * words, raw_words = direct ? 0 : words;
    if (4 * (col_words + raw_words) > COLS_BYTES) {
        pml_conv_2d_s8_generic(params, inputs, n_inputs, output, scratch);
        return;
    }
    uint32_t cols[col_words + raw_words];
    int8_t *raw = (int8_t *)(cols + col_words);
    const int8_t *filter = (const int8_t *)inputs[1].data;
    outputs_t q;
    q.bias = (const int32_t *)inputs[2].data;
    q.multipliers = (const int32_t *)inputs[3].data;
    q.shifts = (const int32_t *)inputs[4].data;
    q.q_step = pml_count(&inputs[3]) == out_c ? 1 : 0;
    q.out_c = out_c;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    out_range_init(&q.range, p->output_offset, p->act_min, p->act_max);
    int8_t *out = (int8_t *)output->data;
    const int fast = fast_constants(&q, pml_count(&inputs[3]));

    const int32_t pixels = pml_dim(output, 0) * out_h * out_w;
    int32_t b = 0, oy = 0, ox = 0;
    for (int32_t pix = 0; pix < pixels; pix += PIXELS, out += PIXELS * out_c) {
        const int32_t n_px = pixels - pix < PIXELS ? pixels - pix : PIXELS;
        for (int32_t s = 0; s < PIXELS; s++) {
            if (s >= n_px) {
                /* a missing pixel reads as zeros, its results dropped */
                for (int32_t j = 0; j < words; j++) {
                    cols[2 * PIXELS * j + 2 * s] = cols[2 * PIXELS * j + 2 * s + 1] = 0;
                }
            } else if (direct) {
                widen_slot(g.input + (pix + s) * g.in_c, patch, cols, s);
            } else {
                gather(&g, b, oy, ox, raw);
                widen_slot(raw, patch, cols, s);
                if (++ox == out_w) {
                    ox = 0;
                    if (++oy == out_h) {
                        oy = 0;
                        b++;
                    }
                }
            }
        }
        if (fast && n_px == PIXELS) {
            channels_1x4_fast(cols, filter, patch, &q, out);
        } else if (fast && PIXELS * out_c <= 512) {
            /* the last pixels: all four rows of results into a buffer, the missing pixels' dropped */
            int8_t rows[PIXELS * out_c];
            channels_1x4_fast(cols, filter, patch, &q, rows);
            for (int32_t i = 0; i < n_px * out_c; i++) {
                out[i] = rows[i];
            }
        } else {
            channels_1x4(cols, filter, patch, n_px, &q, out);
        }
    }
}

#endif
