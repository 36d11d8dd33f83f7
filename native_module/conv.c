/* CONV_2D, int8 (TFLite Micro's reference arithmetic, CMSIS-NN's arm_convolve_s8 scheme).
 *
 * PIXELS output pixels at a time: the input patch under each is copied ("im2col") into an int16 column in the
 * scratch buffer, the padding reading as the input zero point; each pair of output channels is then PIXELS x 2 dot
 * products of those columns with the channels' contiguous filter rows [kh * kw * in_c], every filter and input
 * load used several times. A 1x1 convolution is the same loop with a one-tap patch: the matrix product
 * [pixels x in_c] x [in_c x out_c]. The int16 columns make the int8 x int16 products map onto multiply-add
 * instructions (pmaddwd on x86) when the compiler vectorizes the dot product. A patch longer than COL_MAX is
 * cut into chunks of whole taps (or, when one tap has more channels than COL_MAX, of channels), summed in int32
 * per block of OC_BLOCK output channels, the columns rebuilt for each block. */

#include "check.h"
#include "conv_generic.h"
#include "picoml.h"
#include "requantize_channels.h"

#if !(defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE))   /* Armv6-M: conv_s8_armv6m.c */
/* int16 elements of one im2col column at most, a multiple of 16: the columns take at most PIXELS * 2 * COL_MAX
 * bytes of scratch (1 KiB); a port short of RAM may build with -DPML_CONV_COL_MAX=64 (about 3% slower on VWW and
 * ResNet-8) */
#ifdef PML_CONV_COL_MAX
#define COL_MAX PML_CONV_COL_MAX
#else
#define COL_MAX 128
#endif
#define PIXELS 4        /* columns, output pixels computed per pass (dot_4x2 takes 4) */
#define OC_BLOCK 16     /* output channels accumulated at once */

/* gcc -O2 vectorizes the dot product's loop only when it is compiled on its own, not inlined */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* acc0[p] += (column p) . w0 and acc1[p] += (column p) . w1 for the PIXELS columns, over n elements. The first
 * loop runs a multiple of 16 times, which lets gcc vectorize it at -O2 too (its cheap cost model refuses loops
 * that need a scalar epilogue). The sums wrap as int32 (added as unsigned: no undefined overflow). */
static NOINLINE void dot_4x2(const int16_t *const a[PIXELS], const int8_t *w0, const int8_t *w1, int32_t n,
                             int32_t acc0[PIXELS], int32_t acc1[PIXELS]) {
    const int16_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
    const uint32_t n16 = (uint32_t)n & ~15u;
    uint32_t i = 0;
    for (; i < n16; i++) {
        const int16_t f0 = w0[i], f1 = w1[i], x0 = a0[i], x1 = a1[i], x2 = a2[i], x3 = a3[i];
        s00 += x0 * f0;
        s01 += x0 * f1;
        s10 += x1 * f0;
        s11 += x1 * f1;
        s20 += x2 * f0;
        s21 += x2 * f1;
        s30 += x3 * f0;
        s31 += x3 * f1;
    }
    for (; i < (uint32_t)n; i++) {
        const int16_t f0 = w0[i], f1 = w1[i], x0 = a0[i], x1 = a1[i], x2 = a2[i], x3 = a3[i];
        s00 += x0 * f0;
        s01 += x0 * f1;
        s10 += x1 * f0;
        s11 += x1 * f1;
        s20 += x2 * f0;
        s21 += x2 * f1;
        s30 += x3 * f0;
        s31 += x3 * f1;
    }
    acc0[0] = (int32_t)((uint32_t)acc0[0] + (uint32_t)s00);
    acc0[1] = (int32_t)((uint32_t)acc0[1] + (uint32_t)s10);
    acc0[2] = (int32_t)((uint32_t)acc0[2] + (uint32_t)s20);
    acc0[3] = (int32_t)((uint32_t)acc0[3] + (uint32_t)s30);
    /* an odd last channel is paired with itself: acc1 == acc0, s?1 == s?0 */
    acc1[0] = (int32_t)((uint32_t)acc1[0] + (uint32_t)(acc1 == acc0 ? 0 : s01));
    acc1[1] = (int32_t)((uint32_t)acc1[1] + (uint32_t)(acc1 == acc0 ? 0 : s11));
    acc1[2] = (int32_t)((uint32_t)acc1[2] + (uint32_t)(acc1 == acc0 ? 0 : s21));
    acc1[3] = (int32_t)((uint32_t)acc1[3] + (uint32_t)(acc1 == acc0 ? 0 : s31));
}

typedef pml_conv_geometry_t conv_geometry_t;    /* conv_generic.h */

/* The output pixel a column belongs to. */
typedef struct {
    int32_t b, oy, ox;
} pixel_t;

static void next_pixel(const conv_geometry_t *g, pixel_t *px) {
    if (++px->ox == g->out_w) {
        px->ox = 0;
        if (++px->oy == g->out_h) {
            px->oy = 0;
            px->b++;
        }
    }
}

static void widen(const int8_t *restrict src, int32_t n, int16_t *restrict dst) {
    const uint32_t n16 = (uint32_t)n & ~15u;
    uint32_t i = 0;
    for (; i < n16; i++) {
        dst[i] = src[i];
    }
    for (; i < (uint32_t)n; i++) {
        dst[i] = src[i];
    }
}

static void fill(int16_t *dst, int32_t n, int16_t value) {
    for (int32_t i = 0; i < n; i++) {
        dst[i] = value;
    }
}

/* The im2col column of pixel px for taps [tap, tap + n_taps) in row-major (ky, kx) order and channels
 * [c0, c0 + n_c) of each tap, then zeros up to the next multiple of 16. */
static void fill_column(const conv_geometry_t *g, const pixel_t *px, int32_t tap, int32_t n_taps, int32_t c0,
                        int32_t n_c, int16_t *col) {
    const int32_t iy0 = px->oy * g->stride_h - g->pad_top, ix0 = px->ox * g->stride_w - g->pad_left;
    const int32_t in_c = g->in_c, len = n_taps * n_c;
    const int8_t *image = g->input + px->b * g->in_h * g->in_w * in_c;
    for (int32_t i = len; i < ((len + 15) & ~15); i++) {
        col[i] = 0;
    }
    if (n_taps == g->kh * g->kw && n_c == in_c && g->dil_w == 1) {
        /* The whole patch, filter row by filter row: the taps of a row that fall inside the image are one
         * contiguous run of the input, the rest is padding. No bounds check per tap. */
        const int32_t run = g->kw * in_c;
        /* taps [kx0, kx1) of each row are inside the image */
        const int32_t kx0 = ix0 >= 0 ? 0 : (-ix0 < g->kw ? -ix0 : g->kw);
        const int32_t kx1 = g->in_w - ix0 < kx0 ? kx0 : (g->in_w - ix0 < g->kw ? g->in_w - ix0 : g->kw);
        for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h, col += run) {
            if (iy < 0 || iy >= g->in_h || kx0 == kx1) {
                fill(col, run, (int16_t)g->zero_point);
                continue;
            }
            fill(col, kx0 * in_c, (int16_t)g->zero_point);
            widen(image + (iy * g->in_w + ix0 + kx0) * in_c, (kx1 - kx0) * in_c, col + kx0 * in_c);
            fill(col + kx1 * in_c, run - kx1 * in_c, (int16_t)g->zero_point);
        }
        return;
    }
    /* tap = ky * kw + kx without a division: taps advance one at a time */
    int32_t ky = 0, kx = tap;
    while (kx >= g->kw) {
        kx -= g->kw;
        ky++;
    }
    for (int32_t t = 0; t < n_taps; t++, col += n_c) {
        const int32_t iy = iy0 + ky * g->dil_h, ix = ix0 + kx * g->dil_w;
        if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w) {
            widen(image + (iy * g->in_w + ix) * in_c + c0, n_c, col);
        } else {
            fill(col, n_c, (int16_t)g->zero_point);
        }
        if (++kx == g->kw) {
            kx = 0;
            ky++;
        }
    }
}

#endif

/* Once at load, after the operand types and parameter ranges (check.c): the shapes and constants the kernel
 * below relies on. */
PML_COLD int pml_conv_2d_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    const pml_operand_t *x = &inputs[0], *f = &inputs[1];
    const int32_t out_c = pml_dim(f, 0), kh = pml_dim(f, 1), kw = pml_dim(f, 2), in_c = pml_dim(x, 3);
    PML_NEED(c, pml_dim(f, 3) == in_c, PML_R_FILTER_DEPTH, pml_dim(f, 3));
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0), PML_R_BATCH, pml_dim(output, 0));
    PML_NEED(c, pml_dim(output, 3) == out_c, PML_R_OUT_CHANNELS, pml_dim(output, 3));
    if (pml_check_requantization(c, inputs, out_c) != PML_OK
        || pml_check_window(c, pml_dim(x, 1), pml_dim(output, 1), kh, p->stride_h, p->dilation_h, p->pad_top, 0)
        || pml_check_window(c, pml_dim(x, 2), pml_dim(output, 2), kw, p->stride_w, p->dilation_w, p->pad_left, 1)) {
        return PML_ERR_OPERANDS;
    }
    /* a multiply-accumulate per output value and filter tap; the sums are taken in chunks of at most COL_MAX
     * products (dot_4x2), then added as unsigned: no accumulator overflows */
    c->work = pml_work_mul(pml_work_mul(pml_count(output), pml_work_mul(kh, kw)), in_c);
    c->scratch = pml_conv_2d_s8_scratch(params, inputs, output);
    return PML_OK;
}

#if !(defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE))   /* Armv6-M: conv_s8_armv6m.c */
/* int16 elements per column: the patch (whose zero padding to a multiple of 16 dot_4x2 reads), at most COL_MAX */
static int32_t column_length(const pml_operand_t *inputs) {
    const int32_t patch = pml_dim(&inputs[1], 1) * pml_dim(&inputs[1], 2) * pml_dim(&inputs[0], 3);
    return patch < COL_MAX ? (patch + 15) & ~15 : COL_MAX;
}

/* pml_conv_2d_s8_scratch, or the Cortex-M4 kernel's for its fallback: the PIXELS columns */
uint32_t PML_CONV_2D_GENERIC_SCRATCH(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    return (uint32_t)(PIXELS * column_length(inputs)) * sizeof(int16_t);
}

/* pml_conv_2d_s8, or the fallback of the Cortex-M4 kernel (conv_generic.h) */
void PML_CONV_2D_GENERIC(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    (void)n_inputs;
    conv_geometry_t g;
    pml_conv_geometry(&g, p, inputs, output);
    const int32_t batches = g.batches, out_c = g.out_c;
    const int32_t n_quant = pml_count(&inputs[3]);
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const int32_t q_step = n_quant == out_c ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out_data = (int8_t *)output->data;

    /* the patch [kh, kw, in_c] in chunks of n_taps whole taps of n_c channels each */
    const int32_t taps = g.kh * g.kw, patch = taps * g.in_c, filter_size = out_c * patch;
    int32_t n_taps = taps, n_c = g.in_c;
    if (patch > COL_MAX) {
        n_taps = 1;
        if (n_c > COL_MAX) {
            n_c = COL_MAX;
        } else {
            while ((n_taps + 1) * n_c <= COL_MAX) {
                n_taps++;
            }
        }
    }
    const int chunked = patch > COL_MAX;

    const int32_t col_length = column_length(inputs);
    int16_t *const col = (int16_t *)scratch;     /* column i at col + i * col_length */
    int32_t acc[OC_BLOCK][PIXELS];
    const int32_t pixels = batches * g.out_h * g.out_w;
    pixel_t next = {0, 0, 0};
    for (int32_t pix = 0; pix < pixels; pix += PIXELS) {
        const int32_t n_pix = pixels - pix < PIXELS ? pixels - pix : PIXELS;
        pixel_t px[PIXELS];
        /* Past the last pixel, the first column stands in for the missing ones, their results dropped. */
        const int16_t *cols[PIXELS];
        for (int32_t i = 0; i < PIXELS; i++) {
            px[i] = next;
            cols[i] = col + (i < n_pix ? i : 0) * col_length;
            if (i < n_pix) {
                next_pixel(&g, &next);
            }
        }
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += OC_BLOCK) {
            const int32_t block = out_c - oc0 < OC_BLOCK ? out_c - oc0 : OC_BLOCK;
            for (int32_t k = 0; k < block; k++) {
                for (int32_t i = 0; i < PIXELS; i++) {
                    acc[k][i] = 0;
                }
            }
            for (int32_t tap = 0; tap < taps; tap += n_taps) {
                const int32_t chunk_taps = taps - tap < n_taps ? taps - tap : n_taps;
                for (int32_t c0 = 0; c0 < g.in_c; c0 += n_c) {
                    const int32_t chunk_c = g.in_c - c0 < n_c ? g.in_c - c0 : n_c;
                    const int32_t len = chunk_taps * chunk_c, len16 = (len + 15) & ~15;
                    if (chunked || oc0 == 0) {
                        for (int32_t i = 0; i < n_pix; i++) {
                            fill_column(&g, &px[i], tap, chunk_taps, c0, chunk_c, col + i * col_length);
                        }
                    }
                    const int32_t start = (oc0 * taps + tap) * g.in_c + c0;
                    for (int32_t k = 0; k < block; k += 2) {
                        const int32_t k1 = k + 1 < block ? k + 1 : k;
                        const int32_t w1 = start + k1 * patch;
                        /* Up to the columns' zero padding when that stays inside the filter: the extra weights
                         * belong to the next channel and meet zeros; the loop then has no scalar tail. */
                        const int32_t n = w1 + len16 <= filter_size ? len16 : len;
                        dot_4x2(cols, filter + start + k * patch, filter + w1, n, acc[k], acc[k1]);
                    }
                }
            }
            int8_t *out = out_data + pix * out_c + oc0;
            for (int32_t k = 0; k < block; k++, out++) {
                const int32_t q = (oc0 + k) * q_step;
                const uint32_t b = (uint32_t)bias[oc0 + k];
                requant_t rq;
                requant_init(&rq, multipliers[q], shifts[q]);
                /* the bias added as unsigned: wrapping, as TFLite Micro's int32 sums do */
                if (rq.right1 >= 0) {
                    for (int32_t i = 0; i < n_pix; i++) {
                        out[i * out_c] = requantize_right((int32_t)((uint32_t)acc[k][i] + b), &rq, &range);
                    }
                } else {
                    for (int32_t i = 0; i < n_pix; i++) {
                        out[i * out_c] = requantize_left((int32_t)((uint32_t)acc[k][i] + b), &rq, &range);
                    }
                }
            }
        }
    }
}
#endif
