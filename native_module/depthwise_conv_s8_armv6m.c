/* DEPTHWISE_CONV_2D, int8, for the Cortex-M0/M0+ (Armv6-M). Same results as TFLite Micro's reference
 * arithmetic.
 *
 * With depth_multiplier 1 and channels in whole words (a multiple of 4, the input word-aligned), four channels
 * at a time, in assembly (dw4_run) along a run of output pixels of a row:
 *   - the group's filter is laid out once as words (one sign-extended int32 per tap and channel, [tap][4]);
 *   - the input rows under the run are copied once per run into a window of words (four channels each), the
 *     padding filled with the input zero point, so that every pixel of the run reads all its taps at fixed steps;
 *   - per pixel, each tap is one word load of four inputs, four byte extractions and one LDM of four weights,
 *     the four sums in registers over all the taps (22 cycles per tap and 4 channels, 5.5 per MAC), then the
 *     four outputs are requantized in place by the shortcut of requantize_armv6m.h (about 35 cycles each).
 * A pixel with an accumulator out of the shortcut's range stops the run: its outputs are requantized in C and the
 * run goes on. The host folded the input offset into the bias.
 *
 * Depth multipliers M > 1 (in the full module: the device library loads it for them, not _picoml_core): per input
 * channel c, a CONV_2D of one input channel into the M output channels c M .. c M + M - 1, on the convolution
 * driver of conv_s8_armv6m.c (pml_armv6m_conv: about 3.3 cycles per MAC). Channel c of the input is gathered into
 * the scratch as an image of one channel (at most GATHER_MAX bytes); output (c, m)'s filter row is read C M bytes
 * apart from filter + c M + m, its bias and requantization at c M, its outputs C M bytes apart from out + c M. Both
 * ops sum w x with the input offset folded into the bias, the padding reading as the input zero point.
 *
 * Every other case (channel counts not a multiple of 4, more than TAPS_MAX taps, a window wider than WIN_WORDS;
 * depth multipliers over a larger image or a patch over PML_ARMV6M_LANE_PATCH taps) takes the portable kernel of
 * depthwise_conv.c (pml_depthwise_channels). */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include <stddef.h>

#include "check.h"
#include "conv_s8_armv6m.h"
#include "depthwise_conv.h"
#include "picoml.h"
#include "requantize_armv6m.h"

/* dw_multiplier reads the depthwise params as CONV_2D's: the same fields at the same offsets */
typedef char pml_dw_params_begin_with_conv_params[
    offsetof(pml_depthwise_conv_2d_params_t, act_max) == offsetof(pml_conv_2d_params_t, act_max)
    && offsetof(pml_depthwise_conv_2d_params_t, input_offset) == offsetof(pml_conv_2d_params_t, input_offset)
    && offsetof(pml_depthwise_conv_2d_params_t, depth_multiplier) == sizeof(pml_conv_2d_params_t) ? 1 : -1];

#define TAPS_MAX 25     /* filter taps (kh * kw) of the fast path: 5x5 */
#define WIN_WORDS 48    /* words of the window (kh rows of the run's input columns, 4 channels each) */
#define WROW 14         /* words between the window's rows for a 3x3 filter whose runs span at most WROW columns: the
                         * rows' taps then at fixed offsets (0 .. 2 * WROW * 4 + 8 <= 124: LDR's immediates) */
#define BAND_ROWS 18    /* input rows of a band (WROW words each: 1,008 bytes) */
#define RUN_MAX 16      /* output pixels per run */
#define GATHER_MAX 1024 /* bytes of one input channel (batches * in_h * in_w) for depth multipliers > 1 */

#ifndef PML_WITHOUT_FRONTEND
#define DW_MULTIPLIER 1
#else
#define DW_MULTIPLIER 0
#endif

/* A run of output pixels along a row, for dw4_run (the offsets are those the assembly reads) */
typedef struct {
    const uint32_t *win;        /*  0: the window of the next pixel (its first tap) */
    const int32_t *w;           /*  4: the filter words [tap][4] */
    int8_t *out;                /*  8: the next pixel's 4 outputs */
    int32_t n;                  /* 12: pixels of the run */
    int32_t px_step;            /* 16: bytes between two pixels' windows: stride_w * 4 */
    int32_t out_step;           /* 20: bytes between two pixels' outputs: in_c */
    int32_t tap_step;           /* 24: bytes between two taps of a row: dil_w * 4 */
    int32_t row_skip;           /* 28: bytes from after a row's last tap to the next row's first */
    int32_t kh;                 /* 32 */
    int32_t w_row;              /* 36: bytes of filter words of a row: kw * 16 */
    int32_t bias[4];            /* 40 */
    const rq6f_t *q;            /* 56: the 4 channels' constants */
    const out_range_t *range;   /* 60 */
    int32_t acc[4];             /* 64: the sums of the pixel the run stopped at */
    int32_t fast;               /* 80: every channel takes the shortcut */
    int32_t three;              /* 84: rows of 3 adjacent taps (kw 3, dil_w 1): the row unrolled (1; 4 for a 3x3
                                 *     filter over a window whose rows are WROW words apart and every sum in the
                                 *     shortcut's range: the whole pixel unrolled, the range kept in registers) */
    int32_t row_step;           /* 88: bytes between two rows of the window: span * 4 */
    int32_t safe;               /* 92: fast, and every sum in the shortcut's range (no check) */
    int32_t rows;               /* 96: three == 4: rows of n pixels */
    int32_t row_jump;           /* 100: three == 4: bytes from the window after a row's last pixel to the next row's */
} dw4_run_t;

/* The pixels of r, from r->win / r->out on, advancing both; returns the number done: r->n, or the index of a
 * pixel whose sums (r->acc) the shortcut does not take (r->win / r->out then point at it). */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* Taps: r0 x, r1 w, r2 the input word, r3 a byte, r4..r7 the tap's weights and products, sums in r8..r11, the
 * tap step in r12, the end of the row's filter words in lr. Stack: [sp] r, [sp, #4] pixels left, [sp, #8] rows
 * left. Requantization as in pml_armv6m_requant (requantize_armv6m.c), from r->acc. */
int32_t pml_armv6m_dw4_run(dw4_run_t *r);
/* one tap: the input word in r2, 4 weights from r1 (advanced) */
#define PML_DW_TAP \
    "ldm r1!, {r4, r5, r6, r7}\n" \
    "sxtb r3, r2\n muls r4, r3, r4\n add r8, r4\n" \
    "lsls r3, r2, #16\n asrs r3, r3, #24\n muls r5, r3, r5\n add r9, r5\n" \
    "lsls r3, r2, #8\n asrs r3, r3, #24\n muls r6, r3, r6\n add r10, r6\n" \
    "asrs r3, r2, #24\n muls r7, r3, r7\n add r11, r7\n"
#define PML_DW_REQUANT(OFF) PML_ARMV6M_REQUANT_REG_ASM(OFF)
#define PML_DW_RELU(OFF) PML_ARMV6M_REQUANT_RELU_ASM(OFF)
/* a row of 3 adjacent taps from the window at r0 */
#define PML_DW_ROW3_AT(a, b, c) "ldr r2, [r0, #" a "]\n" PML_DW_TAP "ldr r2, [r0, #" b "]\n" PML_DW_TAP \
    "ldr r2, [r0, #" c "]\n" PML_DW_TAP
#define PML_DW_ROW3 PML_DW_ROW3_AT("0", "4", "8")
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_dw4_run\n"
    ".type pml_armv6m_dw4_run, %function\n .thumb_func\n"
    "pml_armv6m_dw4_run:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "sub sp, #12\n str r0, [sp]\n ldr r1, [r0, #12]\n str r1, [sp, #4]\n cmp r1, #0\n bne 0f\n b 9f\n"
    "0:\n ldr r1, [r0, #84]\n cmp r1, #4\n bne 1f\n b 60f\n"
    /* a pixel: the sums start at the bias */
    "1:\n ldr r7, [sp]\n movs r6, #40\n adds r6, r7, r6\n ldm r6!, {r2, r3, r4, r5}\n"
    "mov r8, r2\n mov r9, r3\n mov r10, r4\n mov r11, r5\n"
    "ldr r0, [r7, #0]\n ldr r1, [r7, #4]\n"
    "ldr r2, [r7, #84]\n cmp r2, #0\n bne 20f\n"
    "ldr r2, [r7, #24]\n mov r12, r2\n ldr r2, [r7, #32]\n str r2, [sp, #8]\n"
    /* a row of taps */
    "2:\n ldr r2, [r7, #36]\n adds r2, r1, r2\n mov lr, r2\n"
    "3:\n ldr r2, [r0]\n add r0, r12\n" PML_DW_TAP
    "cmp r1, lr\n bne 3b\n"
    "ldr r7, [sp]\n ldr r2, [r7, #28]\n adds r0, r0, r2\n"
    "ldr r2, [sp, #8]\n subs r2, #1\n str r2, [sp, #8]\n bne 2b\n"
    "b 10f\n"
    /* rows of 3 adjacent taps: the window's rows row_step apart, the rows left in lr */
    "20:\n ldr r2, [r7, #88]\n mov r12, r2\n ldr r2, [r7, #32]\n mov lr, r2\n"
    "21:\n" PML_DW_ROW3 "add r0, r12\n mov r2, lr\n subs r2, #1\n mov lr, r2\n bne 21b\n"
    "ldr r7, [sp]\n"
    /* every sum in range (r->safe, with r->fast): requantized from the registers, the range in r12, lr, r0 */
    "10:\n ldr r1, [r7, #92]\n cmp r1, #0\n bne 13f\n b 40f\n 13:\n"
    "ldr r3, [r7, #60]\n ldm r3!, {r4, r5, r6}\n mov r12, r4\n mov lr, r5\n mov r0, r6\n"
    "ldr r1, [r7, #56]\n ldr r2, [r7, #8]\n"
    "mov r3, r8\n" PML_DW_REQUANT("0") "mov r3, r9\n" PML_DW_REQUANT("1") "mov r3, r10\n" PML_DW_REQUANT("2")
    "mov r3, r11\n" PML_DW_REQUANT("3")
    "b 12f\n"
    /* the sums to r->acc; requantize them from there */
    "40:\n movs r0, #64\n adds r0, r7, r0\n mov r2, r8\n mov r3, r9\n mov r4, r10\n mov r5, r11\n"
    "stm r0!, {r2, r3, r4, r5}\n"
    "mov r8, r0\n subs r0, #16\n"
    "ldr r1, [r7, #80]\n cmp r1, #0\n beq 8f\n"
    "ldr r3, [r7, #60]\n ldm r3!, {r4, r5, r6}\n mov r9, r4\n mov r10, r5\n mov r11, r6\n"
    "ldr r1, [r7, #56]\n ldr r2, [r7, #8]\n"
    "4:\n ldm r0!, {r3}\n"
    PML_ARMV6M_REQUANT_ASM("8f", "5", "6")
    "cmp r0, r8\n bne 4b\n"
    "12:\n"
    /* the next pixel */
    "ldr r7, [sp]\n ldr r2, [r7, #0]\n ldr r3, [r7, #16]\n adds r2, r2, r3\n str r2, [r7, #0]\n"
    "ldr r2, [r7, #8]\n ldr r3, [r7, #20]\n adds r2, r2, r3\n str r2, [r7, #8]\n"
    "ldr r2, [sp, #4]\n subs r2, #1\n str r2, [sp, #4]\n beq 9f\n b 1b\n"
    "8:\n9:\n ldr r0, [sp]\n ldr r0, [r0, #12]\n ldr r1, [sp, #4]\n subs r0, r0, r1\n add sp, #12\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    /* three == 4: the range's lo and hi in r12, lr for the whole run, its offset at [sp, #8]; per pixel the sums
     * start at the bias, 9 taps at fixed offsets from r->win, the next pixel's window stored, 4 outputs */
    "60:\n ldr r3, [r0, #60]\n ldm r3!, {r4, r5, r6}\n mov r12, r4\n mov lr, r5\n str r6, [sp, #8]\n"
    "61:\n ldr r7, [sp]\n movs r6, #40\n adds r6, r7, r6\n ldm r6!, {r2, r3, r4, r5}\n"
    "mov r8, r2\n mov r9, r3\n mov r10, r4\n mov r11, r5\n ldr r0, [r7, #0]\n ldr r1, [r7, #4]\n"
    PML_DW_ROW3 PML_DW_ROW3_AT("56", "60", "64") PML_DW_ROW3_AT("112", "116", "120")
    "ldr r7, [sp]\n ldr r3, [r7, #16]\n adds r3, r0, r3\n str r3, [r7, #0]\n"
    "ldr r0, [sp, #8]\n ldr r1, [r7, #56]\n ldr r2, [r7, #8]\n mov r3, r12\n cmp r3, #0\n bne 64f\n"
    /* the range's low end 0 (after a ReLU) */
    "mov r3, r8\n" PML_DW_RELU("0") "mov r3, r9\n" PML_DW_RELU("1") "mov r3, r10\n" PML_DW_RELU("2")
    "mov r3, r11\n" PML_DW_RELU("3") "b 65f\n"
    "64:\n mov r3, r8\n" PML_DW_REQUANT("0") "mov r3, r9\n" PML_DW_REQUANT("1") "mov r3, r10\n" PML_DW_REQUANT("2")
    "mov r3, r11\n" PML_DW_REQUANT("3")
    "65:\n ldr r7, [sp]\n ldr r3, [r7, #20]\n adds r2, r2, r3\n str r2, [r7, #8]\n"
    "ldr r2, [sp, #4]\n subs r2, #1\n str r2, [sp, #4]\n beq 62f\n b 61b\n"
    /* the next row: r->win row_jump on, n pixels */
    "62:\n ldr r3, [r7, #96]\n subs r3, #1\n str r3, [r7, #96]\n beq 63f\n"
    "ldr r2, [r7, #0]\n ldr r3, [r7, #100]\n adds r2, r2, r3\n str r2, [r7, #0]\n"
    "ldr r2, [r7, #12]\n str r2, [sp, #4]\n b 61b\n"
    "63:\n b 9b\n"
    ".size pml_armv6m_dw4_run, .-pml_armv6m_dw4_run\n");
#undef PML_DW_TAP
#undef PML_DW_REQUANT
#undef PML_DW_RELU
#undef PML_DW_ROW3
#undef PML_DW_ROW3_AT
#define dw4_run pml_armv6m_dw4_run
#else
/* the same in C (the host build checks it) */
static int32_t dw4_run(dw4_run_t *r) {
    const int32_t kw = r->w_row >> 4, tap = r->tap_step >> 2, skip = r->row_skip >> 2;
    if (r->three == 4 && r->rows > 1) {
        /* three == 4: r->rows rows of r->n pixels (every sum in range: none stops) */
        const int32_t rows = r->rows;
        r->rows = 1;
        for (int32_t k = 0; k < rows; k++, r->win += r->row_jump >> 2) {
            dw4_run(r);
        }
        r->win -= r->row_jump >> 2;
        return r->n;
    }
    for (int32_t i = 0; i < r->n; i++) {
        uint32_t s[4] = {(uint32_t)r->bias[0], (uint32_t)r->bias[1], (uint32_t)r->bias[2], (uint32_t)r->bias[3]};
        const uint32_t *x = r->win;
        const int32_t *w = r->w;
        for (int32_t ky = 0; ky < r->kh; ky++, x += skip) {
            for (int32_t kx = 0; kx < kw; kx++, x += tap, w += 4) {
                const uint32_t v = *x;
                s[0] += (uint32_t)((int8_t)v * w[0]);
                s[1] += (uint32_t)((int8_t)(v >> 8) * w[1]);
                s[2] += (uint32_t)((int8_t)(v >> 16) * w[2]);
                s[3] += (uint32_t)((int8_t)(v >> 24) * w[3]);
            }
        }
        for (int32_t j = 0; j < 4; j++) {
            r->acc[j] = (int32_t)s[j];
        }
        if (!r->fast || pml_armv6m_requant(r->acc, r->q, r->out, 4, r->range) != 4) {
            return i;
        }
        r->win += r->px_step >> 2;
        r->out += r->out_step;
    }
    return r->n;
}
#endif

/* The rows of a run's window that lie inside the image (kh rows, span words apart) */
typedef struct {
    int32_t kh, stride, dil_h, in_h;     /* stride: words between two rows of the window */
    int32_t row_size, step;     /* bytes between two input rows, words between two input pixels */
    uint32_t zp4;               /* the input zero point in 4 bytes */
} window_t;

/* Columns [lo, lo + cols) of the window rows at dst (win + lo): input rows iy0 + ky * dil_h from src (the input at
 * row 0, column ix0 + lo, of the group's channels), a row outside the image as zp. Kept out of line: it leaves the
 * caller's loop its registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void window_rows(uint32_t *dst, const window_t *w, int32_t cols, int32_t iy0, const int8_t *src) {
    const int32_t step = w->step, stride = w->stride;
    for (int32_t ky = 0, iy = iy0; ky < w->kh; ky++, iy += w->dil_h, dst += stride) {
        uint32_t *d = dst;
        if (iy >= 0 && iy < w->in_h) {
            const uint32_t *s = (const uint32_t *)(const void *)(src + iy * w->row_size);
            for (uint32_t *const end = d + cols; d != end; d++, s += step) {
                *d = *s;
            }
        } else {
            const uint32_t zp4 = w->zp4;
            for (uint32_t *const end = d + cols; d != end; d++) {
                *d = zp4;
            }
        }
    }
}

/* The band path: a 3x3 filter, dilation 1, whose padded input rows span at most WROW words. Up to BAND_ROWS input
 * rows of a group of 4 channels laid out once at a time, WROW words apart (the padding as zp), and each output row
 * one run of dw4_run's three == 4 loop straight from them: no window per run. */
typedef struct {
    int32_t out_h, out_w, stride_h, stride_w, pad_top, pad_left, in_c;
    int32_t span, lo, hi;   /* words of a padded row the output row reads, the columns [lo, hi) inside the image */
} band_t;

static int32_t band_span(const pml_depthwise_conv_2d_params_t *p, int32_t kh, int32_t kw, int32_t out_w) {
    const int32_t span = (out_w - 1) * p->stride_w + 3;
    return kh == 3 && kw == 3 && pml_dilation(p->dilation_h, kh) == 1 && pml_dilation(p->dilation_w, kw) == 1
           && p->stride_w < WROW && out_w <= WROW && span <= WROW ? span : 0;
}

/* Batch image's (the group's channels) outputs from out on with the band at band (r: the group's run, every sum
 * in range); returns the end of the outputs */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int8_t *band_group(dw4_run_t *r, const band_t *g, const window_t *wt, uint32_t *band, const int8_t *image,
                          int8_t *out) {
    const int32_t stride_h = g->stride_h;
    int32_t chunk = 1;      /* output rows per band: (chunk - 1) * stride_h + 3 input rows (no division: libgcc's) */
    while (chunk * stride_h + 3 <= BAND_ROWS) {
        chunk++;
    }
    window_t w = *wt;
    w.stride = WROW;
    w.dil_h = 1;
    r->three = 4;
    r->row_step = WROW * 4;
    r->row_skip = (WROW - 3) * 4;
    for (int32_t oy0 = 0; oy0 < g->out_h; oy0 += chunk) {
        const int32_t oy1 = g->out_h - oy0 < chunk ? g->out_h : oy0 + chunk;
        const int32_t iy0 = oy0 * stride_h - g->pad_top;
        w.kh = (oy1 - 1 - oy0) * stride_h + 3;
        for (uint32_t *row = band, *end = band + w.kh * WROW; row != end; row += WROW) {
            for (int32_t j = 0; j < g->lo; j++) {
                row[j] = w.zp4;
            }
            for (int32_t j = g->hi; j < g->span; j++) {
                row[j] = w.zp4;
            }
        }
        window_rows(band + g->lo, &w, g->hi - g->lo, iy0, image + (g->lo - g->pad_left) * g->in_c);
        r->win = band;
        r->out = out;
        r->n = g->out_w;
        r->rows = oy1 - oy0;
        r->row_jump = (stride_h * WROW - g->out_w * g->stride_w) * 4;
        dw4_run(r);
        out += (oy1 - oy0) * g->out_w * g->in_c;
    }
    return out;
}

/* Output pixels per run: the window holds kh rows of span(run) = (run - 1) * stride_w + (kw - 1) * dil_w + 1
 * words, at most WIN_WORDS; 0 when not even one pixel's fits (or more than TAPS_MAX taps). dil_w and stride_w are
 * compared with WIN_WORDS first, so that nothing overflows. */
static int32_t run_pixels(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs) {
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int32_t dil_w = pml_dilation(p->dilation_w, kw), stride_w = p->stride_w;
    int32_t run = 0;
    if (kh * kw <= TAPS_MAX && dil_w < WIN_WORDS && stride_w < WIN_WORDS) {
        while (run < RUN_MAX && kh * (run * stride_w + (kw - 1) * dil_w + 1) <= WIN_WORDS) {
            run++;
        }
    }
    return run;
}

#if DW_MULTIPLIER
/* Depth multipliers > 1: the bytes of one input channel's image, rounded up to a word, when the convolution driver
 * takes the op (else 0) */
static int32_t gather_bytes(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs) {
    const int32_t batches = pml_dim(&inputs[0], 0), in_h = pml_dim(&inputs[0], 1), in_w = pml_dim(&inputs[0], 2);
    if (p->depth_multiplier <= 1 || batches > GATHER_MAX || in_h > GATHER_MAX || in_w > GATHER_MAX
        || pml_dim(&inputs[1], 1) * pml_dim(&inputs[1], 2) > PML_ARMV6M_LANE_PATCH) {
        return 0;
    }
    const int32_t n = batches * in_h;
    return n <= GATHER_MAX && n * in_w <= GATHER_MAX ? (n * in_w + 3) & ~3 : 0;
}

/* Depth multipliers > 1 with the convolution driver (gather_bytes: bytes of the scratch's image) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dw_multiplier(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                          const pml_operand_t *output, int32_t gather, void *scratch) {
    const int32_t in_c = pml_dim(&inputs[0], 3), m = p->depth_multiplier, out_c = in_c * m;
    /* the depthwise params begin with CONV_2D's (ops.h; checked at the top of this file): the convolution's
     * geometry, over one input channel into m outputs */
    pml_conv_geometry_t g;
    pml_conv_geometry(&g, (const pml_conv_2d_params_t *)(const void *)p, inputs, output);
    g.in_c = 1;
    g.out_c = m;
    uint8_t *const image = (uint8_t *)scratch;
    g.input = (const int8_t *)image;
    const int32_t pixels = g.batches * g.in_h * g.in_w, q_next = pml_count(&inputs[3]) == out_c ? m : 0;
    pml_armv6m_conv_t c;
    c.filter = (const int8_t *)inputs[1].data;
    c.f_chan = 1;
    c.f_elem = out_c;
    c.bias = (const int32_t *)inputs[2].data;
    c.multipliers = (const int32_t *)inputs[3].data;
    c.shifts = (const int32_t *)inputs[4].data;
    c.q_step = q_next != 0;
    c.out = (int8_t *)output->data;
    c.out_px = out_c;
    c.whole = 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const uint8_t *x = (const uint8_t *)inputs[0].data;
    for (int32_t ic = 0; ic < in_c; ic++, x++) {
        const uint8_t *src = x;
        for (uint8_t *dst = image, *end = image + pixels; dst != end; dst++, src += in_c) {
            *dst = *src;
        }
        (void)pml_armv6m_conv(&g, &c, &range, image + gather);     /* (patches within PML_ARMV6M_LANE_PATCH) */
        c.filter += m;
        c.bias += m;
        c.multipliers += q_next;
        c.shifts += q_next;
        c.out += m;
    }
}
#endif

/* The scratch: the group's filter words (taps * 16 bytes) and the window (kh rows of the longest run's span); for
 * depth multipliers > 1, one input channel's image and the convolution driver's scratch. */
uint32_t pml_depthwise_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs,
                                          const pml_operand_t *output) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int32_t run = run_pixels(p, inputs), out_w = pml_dim(output, 2);
#if DW_MULTIPLIER
    const int32_t gather = gather_bytes(p, inputs);
    if (gather) {
        return (uint32_t)gather + pml_armv6m_conv_scratch(kh * kw, p->depth_multiplier, 0);
    }
#endif
    if (p->depth_multiplier != 1 || (pml_dim(&inputs[0], 3) & 3) != 0 || run == 0) {
        return 0;
    }
    const int32_t n = run < out_w ? run : out_w, dil_w = pml_dilation(p->dilation_w, kw);
    const int32_t span = (n - 1) * p->stride_w + (kw - 1) * dil_w + 1;
    const int32_t stride = kh == 3 && kw == 3 && dil_w == 1 && span <= WROW ? WROW : span;   /* as the kernel */
    int32_t words = kh * stride;
    if (band_span(p, kh, kw, out_w)) {
        const int32_t rows = (pml_dim(output, 1) - 1) * p->stride_h + 3;
        const int32_t band = (rows < BAND_ROWS ? rows : BAND_ROWS) * WROW;
        words = band > words ? band : words;
    }
    return (uint32_t)(kh * kw * 16 + words * 4);
}

void pml_depthwise_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                              const pml_operand_t *output, void *scratch) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    (void)n_inputs;
    const int32_t in_c = pml_dim(&inputs[0], 3);
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2), taps = kh * kw;
    const int32_t dil_h = pml_dilation(p->dilation_h, kh), dil_w = pml_dilation(p->dilation_w, kw);
    const int32_t stride_w = p->stride_w;
    const int32_t run_max = run_pixels(p, inputs);
#if DW_MULTIPLIER
    const int32_t gather = gather_bytes(p, inputs);
    if (gather) {
        dw_multiplier(p, inputs, output, gather, scratch);
        return;
    }
#endif
    if (p->depth_multiplier != 1 || (in_c & 3) != 0 || ((uintptr_t)inputs[0].data & 3) != 0 || run_max == 0) {
        pml_depthwise_channels(p, inputs, output, 0, pml_dim(output, 3));
        return;
    }
    const int32_t batches = pml_dim(&inputs[0], 0), in_h = pml_dim(&inputs[0], 1), in_w = pml_dim(&inputs[0], 2);
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t n_quant = pml_count(&inputs[3]);
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const uint32_t zp4 = (uint32_t)(uint8_t)(int8_t)-p->input_offset * 0x01010101u;
    const int32_t q_step = n_quant == in_c ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const int32_t image_size = in_h * in_w * in_c, row_size = in_w * in_c, step = in_c >> 2;
    int32_t *const wx = (int32_t *)scratch;                 /* the group's filter: [tap][channel] */
    uint32_t *const win = (uint32_t *)scratch + taps * 4;   /* the run's window: kh rows of span words */
    rq6f_t qf[4];
    dw4_run_t r;
    int32_t pads = -1;      /* the window's layout whose padding columns hold zp (none yet) */
    window_t wr = {kh, 0, dil_h, in_h, row_size, step, zp4};
    r.w = wx;
    r.px_step = stride_w * 4;
    r.out_step = in_c;
    r.tap_step = dil_w * 4;
    r.kh = kh;
    r.w_row = kw * 16;
    r.q = qf;
    r.range = &range;
    r.three = kw == 3 && dil_w == 1;
    band_t band;
    band.span = band_span(p, kh, kw, out_w);
    band.out_h = out_h;
    band.out_w = out_w;
    band.stride_h = p->stride_h;
    band.stride_w = stride_w;
    band.pad_top = p->pad_top;
    band.pad_left = p->pad_left;
    band.in_c = in_c;
    band.lo = p->pad_left < band.span ? p->pad_left : band.span;
    band.hi = in_w + p->pad_left < band.span ? in_w + p->pad_left : band.span;
    band.hi = band.hi > band.lo ? band.hi : band.lo;
    for (int32_t c0 = 0; c0 < in_c; c0 += 4) {
        for (int32_t t = 0; t < taps; t++) {
            for (int32_t j = 0; j < 4; j++) {
                wx[t * 4 + j] = filter[t * in_c + c0 + j];
            }
        }
        r.fast = 1;
        r.safe = 1;
        for (int32_t j = 0; j < 4; j++) {
            const int32_t q = (c0 + j) * q_step;
            rq6f_init(&qf[j], multipliers[q], shifts[q]);
            r.fast &= qf[j].shift != 0;
            r.bias[j] = bias[c0 + j];
            /* |sum| <= |bias| + 128 sum |w| (every input in [-128, 127]): in the shortcut's range, no check */
            const int32_t bj = bias[c0 + j];
            int32_t bound = bj > -RQ6_FAST_LIMIT && bj < RQ6_FAST_LIMIT ? (bj < 0 ? -bj : bj) : RQ6_FAST_LIMIT;
            for (int32_t t = 0; t < taps; t++) {
                const int32_t w = wx[t * 4 + j];
                bound += (w < 0 ? -w : w) << 7;
            }
            r.safe &= bound < RQ6_FAST_LIMIT;
        }
        r.safe &= r.fast;
        int8_t *out = (int8_t *)output->data + c0;
        if (band.span && r.safe) {
            for (int32_t b = 0; b < batches; b++) {
                out = band_group(&r, &band, &wr, win, (const int8_t *)inputs[0].data + b * image_size + c0, out);
            }
            pads = -1;      /* the band overwrote the window's padding columns */
            r.three = 1;
            continue;
        }
        for (int32_t b = 0; b < batches; b++) {
            const int8_t *image = (const int8_t *)inputs[0].data + b * image_size + c0;
            for (int32_t oy = 0; oy < out_h; oy++) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                for (int32_t ox0 = 0; ox0 < out_w; ox0 += run_max) {
                    const int32_t n = out_w - ox0 < run_max ? out_w - ox0 : run_max;
                    const int32_t span = (n - 1) * stride_w + (kw - 1) * dil_w + 1;
                    /* a 3x3 filter's window rows WROW words apart when they fit, else span */
                    const int32_t wstride = kh == 3 && r.three && span <= WROW ? WROW : span;
                    wr.stride = wstride;
                    const int32_t ix0 = ox0 * stride_w - p->pad_left;
                    /* the window: rows iy0 + ky * dil_h, columns ix0 .. ix0 + span - 1, the padding as zp (the
                     * columns [lo, hi) of the window inside the image). Its padding columns only ever hold zp:
                     * filled when the layout changes (`pads`: the last one), not per run */
                    const int32_t lo = ix0 < 0 ? (-ix0 < span ? -ix0 : span) : 0;
                    const int32_t hi = in_w - ix0 < span ? (in_w - ix0 > lo ? in_w - ix0 : lo) : span;
                    const int32_t layout = wstride << 16 | lo << 8 | hi;
                    if (layout != pads) {
                        pads = layout;
                        for (uint32_t *dst = win, *end = win + kh * wstride; dst != end; dst++) {
                            *dst = zp4;
                        }
                    }
                    window_rows(win + lo, &wr, hi - lo, iy0, image + (ix0 + lo) * in_c);
                    r.win = win;
                    r.out = out;
                    r.n = n;
                    r.row_skip = (wstride - kw * dil_w) * 4;
                    r.row_step = wstride * 4;
                    r.three = r.three ? (wstride == WROW && r.safe ? 4 : 1) : 0;
                    r.rows = 1;
                    for (;;) {
                        const int32_t done = dw4_run(&r);
                        if (done == r.n) {
                            break;
                        }
                        /* a pixel the shortcut does not take */
                        pml_armv6m_rq6_run(r.acc, qf, r.fast, r.out, 4, &range, multipliers, shifts, c0, q_step);
                        r.win += stride_w;
                        r.out += in_c;
                        r.n -= done + 1;
                        if (r.n == 0) {
                            break;
                        }
                    }
                    out += n * in_c;
                }
            }
        }
    }
}

#endif
