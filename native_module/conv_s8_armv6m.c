/* CONV_2D, int8, for the Cortex-M0/M0+ (Armv6-M: 8 low registers, a single-cycle 32 x 32 -> 32 MULS, 2-cycle
 * loads, no multiply-accumulate, no SIMD). Same results as TFLite Micro's reference arithmetic.
 *
 * Each product needs a MULS (1 cycle) and an ADD (1), and the 8 low registers decide the rest. The inner loop
 * takes two output pixels x three output channels and two patch elements (i, j) at a time, on words that hold
 * two bytes biased by 128 (u = v ^ 0x80, 0..255) in lanes at bits 0 and 23: a pixel's X = u_i | u_j << 23 and a
 * channel's W = v_j | v_i << 23, so that S = X + W = a | b << 23 with a = u_i + v_j, b = u_j + v_i (both below
 * 2^9: no carry between the lanes, nothing lost above bit 31) and (Winograd's inner product, 1968)
 *   a b = u_i v_i + u_j v_j + u_i u_j + v_i v_j,
 * two multiply-accumulates from one MULS, the last two terms summed once per pixel and once per channel. The
 * MULS takes b (S >> 23) times the whole of S: a b + b^2 2^23, whose second term only touches bits 23 and up; the
 * sums are kept modulo 2^23 and lie in [0, 2^23) (below), so the junk is masked off once per output. Per product
 * ADDS, LSRS, MULS, ADD: 4 cycles. Per pair of elements: 2 LDM (X of both pixels, 2 W) and an LDR (the third W), 8
 * cycles, and 6 products, 24: 32 cycles per 12 MACs, 2.67 per MAC (2.8 with the loop); the plain form (a MULS per
 * product, an LDRB per operand) takes 24 per 6, 4.0. The buffers, in the scratch:
 *   wbuf  the W words of a block of output channels (as many triples as WBUF holds, at least BLOCK_MIN
 *         channels; every channel when the output lies behind the input, check.c's behind_gap: a block sweeps
 *         the whole image, so a later one would read input already overwritten), per group of 8 patch elements
 *         the pairs (0, 3), (1, 2), (4, 7), (5, 6) x 3 channels, prepared once per block
 *   cols  the X words of two output pixels, per group 4 pairs x 2 pixels (the padding reads as the input zero
 *         point), rebuilt per pixel pair and block from the input's rows where they are whole aligned groups
 *         (windows_in_place), else from a staging row of biased bytes
 *   sums  the 2 pixels' sums of the block's channels, which conv_2x3 writes for every triple of the block and
 *         the driver then requantizes a pixel at a time (pml_armv6m_rq6_run: requantize_armv6m.h's shortcut, about
 *         32 cycles an output, 16 a negative one after a ReLU)
 * The host folded the input offset into the bias (the kernel sums w x, the padding reading as the zero point);
 * the biases are undone exactly (modulo 2^23):
 *   sum w x = sum v u - 128 sum u - 128 sum w,   sum v u = sum a b - sum u_i u_j - sum v_i v_j,
 * so the sums start at cw - xs, with cw = L - 128 sum w - sum v_i v_j per channel (prepared with the weights, L =
 * 2^22 - 1) and xs = 128 sum u + sum u_i u_j = sum over the pairs of (u_i + 128)(u_j + 128) - 2^14 per pixel.
 * With every w x in [-16,256, 16,384], sum w x + L lies in [0, 2^23) for a patch of at most 256 elements
 * (PML_ARMV6M_LANE_PATCH), and for any patch whose sum |w| is at most 32,767 (|sum w x| <= 128 sum |w|); the
 * output's accumulator is that less L plus the bias, the end constant per channel. A longer patch is checked per
 * channel, its op run by conv_plain when one channel's sum |w| is larger (no conformance model's convolution).
 * A channel whose every accumulator requantizes to the same output (a dead filter) keeps its sums without the
 * bias and takes constants that give that output (constant_channel).
 * Patches longer than PATCH_MAX (a 3x3 convolution over more than 64 channels) take a plain loop instead.
 * The driver (pml_armv6m_conv, conv_s8_armv6m.h) reads the filter rows at any element stride and writes the
 * outputs at any pixel stride: DEPTHWISE_CONV_2D runs its depth multipliers > 1 with it (per input channel, a
 * convolution of that channel alone into its M output channels). */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include <stddef.h>

#include "check.h"
#include "conv_generic.h"
#include "conv_s8_armv6m.h"
#include "picoml.h"
#include "requantize_armv6m.h"

#define PATCH_MAX PML_ARMV6M_PATCH_MAX

/* Filter rows read at an element stride: only for DEPTHWISE_CONV_2D's depth multipliers, which _picoml_core leaves
 * to _picoml (PML_WITHOUT_FRONTEND): there every row is contiguous */
#ifndef PML_WITHOUT_FRONTEND
#define STRIDED 1
#else
#define STRIDED 0
#endif
#define WBUF 5376               /* bytes of W words (2 per patch element and channel: 66 channels of a 40-element
                                 * patch, DS-CNN's first convolution in one block; 3,072 took 1.4% more cycles on
                                 * DS-CNN, 8% on ResNet-8, for 2.9 KB less scratch there) ... */
#define BLOCK_MIN 6             /* ... or of this many channels (every block rebuilds the X words of each pixel) */
#define LANE 23                 /* the bit where a word's second byte starts: X = u_i | u_j << LANE */
#define LANE_MASK ((1u << LANE) - 1u)
#define LANE_BIAS ((1u << (LANE - 1)) - 1u)     /* added to the sums so that they lie in [0, 2^LANE) */
#define LANE_ABS_MAX 32767      /* sum |w| of a channel whose sums then do: 128 sum |w| + LANE_BIAS < 2^LANE */

/* A pair's word: a in the low lane, b in the high */
static inline uint32_t lane_pair(uint32_t a, uint32_t b) {
    return a | b << LANE;
}

/* The step of the convolution that the inner loop takes: 2 output pixels x the triples of output channels of a
 * block, 3 at a time (the offsets are those the assembly reads). */
typedef struct {
    const uint8_t *cols_end;    /*  0: the end of the columns (32 bytes per group of 8 patch elements) */
    const uint32_t *cw;         /*  4: the triple's 3 channels' start constants (L - 128 sum w - sum v_i v_j), then
                                 *     their end constants (bias - L; B - L for constant_channel's) */
    uint32_t xs[2];             /*  8: the 2 pixels' 128 sum u + sum u_i u_j */
    uint32_t *acc_a, *acc_b;    /* 16, 20: where the triple's sums go (pixel a's 3 channels, pixel b's) */
    int32_t triples;            /* 24: triples left, this one included */
    int32_t one_at;             /* 28: 1 when the block's last triple has one channel (its words alone), else 0 */
    const uint8_t *w;           /* 32: the triple's W words */
    const uint8_t *cols;        /* 36: the columns */
} step_t;

/* For each triple from s's on: acc[p * 3 + j] = (cw[j] - xs[p] + sum over the pairs of lo(X + W) hi(X + W)) modulo
 * 2^23 + cw[3 + j] (X: pixel p's words in cols, W: channel j's in w), p < 2, j < 3, to acc_a (p = 0) and acc_b (p =
 * 1), 3 words each; the pointers advance past the triple (s->w to the next triple's W words, s->cw by 6). The sums of
 * channels a last triple lacks are left as they come (the caller does not read them). */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly: the step below needs all 8 low registers and 6 high ones, which gcc does not give inline assembly.
 * r0 cols, r1 weights, r2 r3 = Xa Xb, r4 r7 = two W, r5 r6 the sum S, its high lane and the product, sums in r8 r9
 * r10 (pixel a) and r11 r12 lr (pixel b); s and the end of cols on the stack. 32 cycles per pair of elements, 6
 * per two groups of 4 pairs (the loop's branch back is out of BNE's reach); a triple of one channel (the block's
 * last) 13 per pair; about 100 per triple to start the sums, mask them and store them. */
void pml_armv6m_conv_2x3(step_t *s);
#define PML_PROD(x, w, acc) "adds r5, " x ", " w "\n lsrs r6, r5, #23\n muls r5, r6, r5\n add " acc ", r5\n"
#define PML_PAIR \
    "ldm r0!, {r2, r3}\n ldm r1!, {r4, r7}\n" PML_PROD("r2", "r4", "r8") PML_PROD("r3", "r4", "r11") \
    "ldm r1!, {r4}\n" PML_PROD("r2", "r7", "r9") PML_PROD("r3", "r7", "r12") \
    PML_PROD("r2", "r4", "r10") PML_PROD("r3", "r4", "lr")
#define PML_PAIR1(off) "ldm r0!, {r2, r3}\n ldr r4, [r1, #" off "]\n" PML_PROD("r2", "r4", "r8") PML_PROD("r3", "r4", "r11")
/* a sum's low lane plus its end constant */
#define PML_SUM(dst, acc, end) "mov " dst ", " acc "\n lsls " dst ", " dst ", #9\n lsrs " dst ", " dst ", #9\n" \
    "adds " dst ", " dst ", " end "\n"
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_conv_2x3\n"
    ".type pml_armv6m_conv_2x3, %function\n .thumb_func\n"
    "pml_armv6m_conv_2x3:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "ldr r7, [r0, #0]\n push {r0, r7}\n mov r2, r0\n"
    /* a triple (r2 = s): the sums start at cw[j] - xs[p] */
    "10:\n ldr r3, [r2, #4]\n ldm r3!, {r4, r5, r6}\n ldr r3, [r2, #8]\n ldr r7, [r2, #12]\n"
    "subs r0, r4, r7\n mov r11, r0\n subs r0, r5, r7\n mov r12, r0\n subs r0, r6, r7\n mov lr, r0\n"
    "subs r4, r4, r3\n mov r8, r4\n subs r5, r5, r3\n mov r9, r5\n subs r6, r6, r3\n mov r10, r6\n"
    "ldr r0, [r2, #36]\n ldr r1, [r2, #32]\n ldr r5, [r2, #24]\n ldr r6, [r2, #28]\n cmp r5, r6\n bne 1f\n b 30f\n"
    /* two groups per loop, from the second when their number is odd (bit 5 of the columns' bytes) */
    "1:\n ldr r5, [sp, #4]\n subs r5, r5, r0\n lsrs r5, r5, #6\n bcc 32f\n b 31f\n"
    "32:\n" PML_PAIR PML_PAIR PML_PAIR PML_PAIR
    "31:\n" PML_PAIR PML_PAIR PML_PAIR PML_PAIR
    "ldr r5, [sp, #4]\n cmp r0, r5\n beq 4f\n b 32b\n"
    /* a triple of one channel (the block's last): its W words only, at 12-byte steps */
    "30:\n" PML_PAIR1("0") PML_PAIR1("12") PML_PAIR1("24") PML_PAIR1("36")
    "adds r1, #48\n ldr r5, [sp, #4]\n cmp r0, r5\n bne 30b\n"
    /* the sums masked to their lane plus the end constants, to acc_a and acc_b; s->w to the next triple's words
     * (r1), s->cw past the triple's */
    "4:\n ldr r7, [sp]\n str r1, [r7, #32]\n ldr r0, [r7, #4]\n adds r0, #12\n ldm r0!, {r2, r3, r4}\n"
    "str r0, [r7, #4]\n"
    PML_SUM("r1", "r8", "r2") PML_SUM("r5", "r9", "r3") PML_SUM("r6", "r10", "r4")
    "ldr r0, [r7, #16]\n stm r0!, {r1, r5, r6}\n str r0, [r7, #16]\n"
    PML_SUM("r1", "r11", "r2") PML_SUM("r5", "r12", "r3") PML_SUM("r6", "lr", "r4")
    "ldr r0, [r7, #20]\n stm r0!, {r1, r5, r6}\n str r0, [r7, #20]\n"
    /* the next triple, if any */
    "ldr r0, [r7, #24]\n subs r0, #1\n str r0, [r7, #24]\n beq 9f\n mov r2, r7\n b 10b\n"
    "9:\n add sp, #8\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_conv_2x3, .-pml_armv6m_conv_2x3\n");
#undef PML_SUM
#undef PML_PAIR1
#undef PML_PAIR
#undef PML_PROD
#define conv_2x3 pml_armv6m_conv_2x3
/* the offsets the assembly reads */
typedef char pml_step_t_layout_as_the_assembly_reads_it[
    offsetof(step_t, acc_a) == 16 && offsetof(step_t, triples) == 24 && offsetof(step_t, w) == 32
    && offsetof(step_t, cols) == 36 ? 1 : -1];
#else
/* the same algorithm in C (the host build checks it) */
static void conv_2x3(step_t *s) {
    do {
        uint32_t acc[6];
        for (uint32_t p = 0; p < 2; p++) {
            for (uint32_t j = 0; j < 3; j++) {
                acc[p * 3 + j] = s->cw[j] - s->xs[p];
            }
        }
        const uint32_t *x = (const uint32_t *)(const void *)s->cols, *f = (const uint32_t *)(const void *)s->w;
        for (; x != (const uint32_t *)(const void *)s->cols_end; x += 2, f += 3) {
            for (uint32_t j = 0; j < 3; j++) {
                for (uint32_t p = 0; p < 2; p++) {
                    const uint32_t sum = x[p] + f[j];
                    acc[p * 3 + j] += sum * (sum >> LANE);
                }
            }
        }
        for (uint32_t j = 0; j < 3; j++) {
            s->acc_a[j] = (acc[j] & LANE_MASK) + s->cw[3 + j];
            s->acc_b[j] = (acc[3 + j] & LANE_MASK) + s->cw[3 + j];
        }
        s->acc_a += 3;
        s->acc_b += 3;
        s->cw += 6;
        s->w = (const uint8_t *)f;
    } while (--s->triples != 0);
}
#endif

typedef pml_conv_geometry_t geometry_t;     /* conv_generic.h */

/* The patch of output pixel (b, oy, ox) as biased bytes at dst, zeros up to a multiple of 8. A filter row's taps
 * inside the image are one run of the input when dil_w is 1 (copied a word at a time where it is aligned), the
 * others read the zero point. What is the same for every row (the taps [kx0, kx1) inside the image, the rows
 * [ky0, ky1) inside it) is worked out once. Out of line: the caller's loop keeps its registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void build_column(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, uint8_t *dst) {
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left, in_c = g->in_c;
    const int32_t run = g->kw * in_c, row_bytes = g->in_w * in_c;
    const uint8_t pad = (uint8_t)((uint8_t)g->zero_point ^ 0x80u);  /* what the padding reads as, biased */
    uint8_t *q = dst;
    /* taps [kx0, kx1) of a row lie inside the image, rows [ky0, ky1) of the patch */
    int32_t kx0 = 0, kx1 = g->kw, ky0 = 0, ky1 = g->kh;
    while (kx0 < g->kw && ix0 + kx0 * g->dil_w < 0) {
        kx0++;
    }
    while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dil_w >= g->in_w) {
        kx1--;
    }
    while (ky0 < g->kh && iy0 + ky0 * g->dil_h < 0) {
        ky0++;
    }
    while (ky1 > ky0 && iy0 + (ky1 - 1) * g->dil_h >= g->in_h) {
        ky1--;
    }
    if (kx0 == kx1) {
        ky1 = ky0;
    }
    const int32_t lead = kx0 * in_c, trail = (g->kw - kx1) * in_c;
    const int32_t n = g->dil_w == 1 ? (kx1 - kx0) * in_c : in_c;     /* bytes of a run of taps */
    const int32_t runs = kx1 - kx0, tap_bytes = g->dil_w * in_c;      /* (dil_w > 1) */
    const int8_t *row = g->input;
    if (ky0 < ky1) {
        row += ((b * g->in_h + iy0 + ky0 * g->dil_h) * g->in_w + ix0 + kx0 * g->dil_w) * in_c;
    }
    if (g->dil_w == 1) {
        /* one run per row: a patch with padding columns first all padding (a word at a time; dst is aligned),
         * then each row's run inside the image copied to its place, whole rows of whole words a word at a time
         * (from bytes where the input's rows are not aligned as dst) */
        const int32_t patch = g->kh * run, whole = lead == 0 && trail == 0 && (n & 3) == 0;
        if (!whole) {
            const uint32_t pad4 = pad * 0x01010101u;
            for (uint32_t *w = (uint32_t *)(void *)dst, *end = w + (patch >> 2); w != end; w++) {
                *w = pad4;
            }
            for (q = dst + (patch & ~3); q != dst + patch; q++) {
                *q = pad;
            }
        } else {
            for (q = dst; q != dst + ky0 * run; q++) {
                *q = pad;
            }
            for (q = dst + ky1 * run; q != dst + patch; q++) {
                *q = pad;
            }
        }
        const int32_t step = g->dil_h * row_bytes;
        for (int32_t ky = ky0; ky < ky1; ky++, row += step) {
            const uint8_t *b8 = (const uint8_t *)row;
            q = dst + ky * run + lead;
            const uint8_t *const end = q + n;
            if (n >= 8 && (((uintptr_t)b8 ^ (uintptr_t)q) & 3) == 0) {
                for (; ((uintptr_t)q & 3) != 0; q++, b8++) {
                    *q = (uint8_t)(*b8 ^ 0x80u);
                }
                for (; end - q >= 4; q += 4, b8 += 4) {
                    *(uint32_t *)(void *)q = *(const uint32_t *)(const void *)b8 ^ 0x80808080u;
                }
            } else if (whole) {
                for (; q != end; q += 4, b8 += 4) {
                    *(uint32_t *)(void *)q = ((uint32_t)b8[0] | (uint32_t)b8[1] << 8 | (uint32_t)b8[2] << 16
                                              | (uint32_t)b8[3] << 24) ^ 0x80808080u;
                }
            }
            for (; q != end; q++, b8++) {
                *q = (uint8_t)(*b8 ^ 0x80u);
            }
        }
        for (q = dst + patch; ((q - dst) & 7) != 0; q++) {
            *q = 0;
        }
        return;
    }
    for (uint8_t *end = q + ky0 * run; q != end; q++) {
        *q = pad;
    }
    for (int32_t ky = ky0; ky < ky1; ky++, row += g->dil_h * row_bytes) {
        for (uint8_t *end = q + lead; q != end; q++) {
            *q = pad;
        }
        const int8_t *src = row;
        for (int32_t k = 0; k < runs; k++, src += tap_bytes) {
            const int8_t *s8 = src;
            const uint8_t *end = q + n;
            if (n >= 8 && (((uintptr_t)s8 ^ (uintptr_t)q) & 3) == 0) {
                for (; ((uintptr_t)q & 3) != 0; q++) {
                    *q = (uint8_t)((uint8_t)*s8++ ^ 0x80u);
                }
                for (; end - q >= 4; q += 4, s8 += 4) {
                    *(uint32_t *)(void *)q = *(const uint32_t *)(const void *)s8 ^ 0x80808080u;
                }
            }
            for (; q != end; q++) {
                *q = (uint8_t)((uint8_t)*s8++ ^ 0x80u);
            }
        }
        for (uint8_t *end = q + trail; q != end; q++) {
            *q = pad;
        }
    }
    for (uint8_t *end = q + (g->kh - ky1) * run; q != end; q++) {
        *q = pad;
    }
    for (; ((q - dst) & 7) != 0; q++) {
        *q = 0;
    }
}

/* The X words of a patch of biased bytes (groups of 8; stage's words XOR flip: 0 for a staged patch, 0x80808080 for
 * the input's own bytes) at every 8th word of x from x[0] (one pixel's place in the columns): per group the pairs of
 * elements (0, 3), (1, 2), (4, 7), (5, 6); returns the pixel's xs = sum over the pairs of (u_i + 128)(u_j + 128)
 * - 2^14, modulo 2^23 (the bits above are the lanes' junk). */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly (55 cycles per group): r0 the patch, r1 x, r2 the high lane's mask, r3 (128, 128) in the lanes, r4 a
 * word of 4 bytes, r5 an X word, r6 r7 its (u_i + 128)(u_j + 128); xs in r8 (from -2^16 per group), flip in r9, the
 * end of the patch in r10. */
uint32_t pml_armv6m_column_pairs(const uint8_t *stage, int32_t groups, uint32_t *x, uint32_t flip);
#define PML_CP_X(a, b, off) \
    a b "str r5, [r1, #" off "]\n adds r6, r5, r3\n lsrs r7, r6, #23\n muls r6, r7, r6\n add r8, r6\n"
#define PML_CP_WORD(off_a, off_b) \
    "ldm r0!, {r4}\n mov r7, r9\n eors r4, r7\n" \
    PML_CP_X("lsrs r6, r4, #1\n ands r6, r2\n", "uxtb r5, r4\n orrs r5, r6\n", off_a) \
    PML_CP_X("lsrs r5, r4, #8\n uxtb r5, r5\n", "lsls r6, r4, #7\n ands r6, r2\n orrs r5, r6\n", off_b)
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_column_pairs\n"
    ".type pml_armv6m_column_pairs, %function\n .thumb_func\n"
    "pml_armv6m_column_pairs:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n push {r4, r5, r6}\n"
    "lsls r4, r1, #16\n negs r4, r4\n mov r8, r4\n mov r9, r3\n"
    "lsls r1, r1, #3\n adds r1, r0, r1\n mov r10, r1\n mov r1, r2\n"
    "movs r2, #255\n lsls r2, r2, #23\n movs r3, #1\n lsls r3, r3, #30\n adds r3, #128\n"
    "cmp r0, r10\n beq 2f\n"
    "1:\n" PML_CP_WORD("0", "8") PML_CP_WORD("16", "24")
    "adds r1, #32\n cmp r0, r10\n bne 1b\n"
    "2:\n mov r0, r8\n"
    "pop {r4, r5, r6}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_column_pairs, .-pml_armv6m_column_pairs\n");
#undef PML_CP_WORD
#undef PML_CP_X
#define column_pairs pml_armv6m_column_pairs
/* The X words alone (37 cycles per group): r0 the patch, r1 its end, r2 x, r3 flip, r6 the high lane's mask */
void pml_armv6m_column_x(const uint8_t *stage, int32_t groups, uint32_t *x, uint32_t flip);
#define PML_CX_WORD(off_a, off_b) \
    "ldm r0!, {r4}\n eors r4, r3\n" \
    "lsrs r5, r4, #1\n ands r5, r6\n uxtb r7, r4\n orrs r7, r5\n str r7, [r2, #" off_a "]\n" \
    "lsrs r7, r4, #8\n uxtb r7, r7\n lsls r5, r4, #7\n ands r5, r6\n orrs r7, r5\n str r7, [r2, #" off_b "]\n"
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_column_x\n"
    ".type pml_armv6m_column_x, %function\n .thumb_func\n"
    "pml_armv6m_column_x:\n"
    "push {r4, r5, r6, r7, lr}\n lsls r1, r1, #3\n adds r1, r0, r1\n"
    "movs r6, #255\n lsls r6, r6, #23\n cmp r0, r1\n beq 2f\n"
    "1:\n" PML_CX_WORD("0", "8") PML_CX_WORD("16", "24")
    "adds r2, #32\n cmp r0, r1\n bne 1b\n"
    "2:\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_column_x, .-pml_armv6m_column_x\n");
#undef PML_CX_WORD
#define column_x pml_armv6m_column_x
#else
/* the same in C (the host build checks it) */
static void column_x(const uint8_t *stage, int32_t groups, uint32_t *x, uint32_t flip) {
    const uint32_t *st = (const uint32_t *)(const void *)stage;
    for (const uint32_t *end = st + 2 * groups; st != end; st += 2, x += 8) {
        const uint32_t u0 = st[0] ^ flip, u1 = st[1] ^ flip;
        x[0] = lane_pair(u0 & 0xffu, u0 >> 24);
        x[2] = lane_pair((u0 >> 8) & 0xffu, (u0 >> 16) & 0xffu);
        x[4] = lane_pair(u1 & 0xffu, u1 >> 24);
        x[6] = lane_pair((u1 >> 8) & 0xffu, (u1 >> 16) & 0xffu);
    }
}

static uint32_t column_pairs(const uint8_t *stage, int32_t groups, uint32_t *x, uint32_t flip) {
    column_x(stage, groups, x, flip);
    const uint32_t c = lane_pair(128, 128);
    uint32_t xs = 0;
    for (const uint32_t *end = x + 8 * groups; x != end; x += 2) {
        const uint32_t t = *x + c;
        xs += t * (t >> LANE);
    }
    return xs - ((uint32_t)groups << 16);     /* 2^14 per pair */
}
#endif

/* The X words of a window inside the image read in place (windows_in_place), a call of column_x or
 * column_pairs per row of kw in_c bytes, whole groups of 8; xs adds up over the rows. Out of line: column()'s
 * callers keep their registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t window_rows(const geometry_t *g, const uint8_t *window, uint32_t *x, int with_xs) {
    const int32_t row_groups = (g->kw * g->in_c) >> 3, step = g->dil_h * g->in_w * g->in_c;
    uint32_t xs = 0;
    for (int32_t ky = 0; ky < g->kh; ky++) {
        if (with_xs) {
            xs += column_pairs(window + ky * step, row_groups, x + ky * 8 * row_groups, 0x80808080u);
        } else {
            column_x(window + ky * step, row_groups, x + ky * 8 * row_groups, 0x80808080u);
        }
    }
    return xs;
}

/* Whether column() may read the windows inside the image in place: rows of whole groups of 8 (dilation 1 along the
 * row, kw in_c a multiple of 8: a 1x1 or 3x3 convolution over a multiple of 8 channels), each starting on a word
 * (in_c a multiple of 4, the input aligned) */
static int windows_in_place(const geometry_t *g) {
    return g->dil_w == 1 && ((g->kw * g->in_c) & 7) == 0 && (g->in_c & 3) == 0 && ((uintptr_t)g->input & 3) == 0;
}

/* The X words of output pixel (b, oy, ox) at x, as column_pairs; returns its xs. When `in_place`
 * (windows_in_place), a window inside the image is read from the input, a 1x1 one in one call, a taller one a call
 * per row (window_rows); any other is staged by build_column first. */
static inline uint32_t column(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, uint8_t *stage,
                              int32_t groups, uint32_t *x, int with_xs, int in_place) {
    const int32_t iy = oy * g->stride_h - g->pad_top, ix = ox * g->stride_w - g->pad_left;
    const uint8_t *src = stage;
    uint32_t flip = 0;
    if (in_place && iy >= 0 && ix >= 0 && iy + (g->kh - 1) * g->dil_h < g->in_h && ix + g->kw <= g->in_w) {
        src = (const uint8_t *)g->input + ((b * g->in_h + iy) * g->in_w + ix) * g->in_c;
        flip = 0x80808080u;
        if (g->kh > 1) {
            return window_rows(g, src, x, with_xs);
        }
    } else {
        build_column(g, b, oy, ox, stage);
    }
    if (!with_xs) {
        column_x(src, groups, x, flip);
        return 0;
    }
    return column_pairs(src, groups, x, flip);
}

/* column()'s xs of pixel pix: computed in a layer's first block of channels and, when the op has several blocks
 * (`stash`), kept until the last block in the 3 output bytes of the pixel's last channels, which only the last
 * block (a full one) writes (the output never overlaps the input: every block reads the input after the first has
 * written); its 24 bits are enough, the sums being kept modulo 2^23; the other blocks then take the X words alone
 * (column_x). */
static inline uint32_t pixel_column(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, uint8_t *stage,
                                    int32_t groups, uint32_t *x, uint8_t *stash, int first, int in_place) {
    if (stash == 0 || first) {
        const uint32_t xs = column(g, b, oy, ox, stage, groups, x, 1, in_place);
        if (stash) {
            stash[0] = (uint8_t)xs;
            stash[1] = (uint8_t)(xs >> 8);
            stash[2] = (uint8_t)(xs >> 16);
        }
        return xs;
    }
    column(g, b, oy, ox, stage, groups, x, 0, in_place);
    return (uint32_t)stash[0] | (uint32_t)stash[1] << 8 | (uint32_t)stash[2] << 16;
}

static void next_pixel(const geometry_t *g, int32_t *b, int32_t *oy, int32_t *ox) {
    if (++*ox == g->out_w) {
        *ox = 0;
        if (++*oy == g->out_h) {
            *oy = 0;
            ++*b;
        }
    }
}

/* Patches longer than PATCH_MAX: one output at a time (out of line: its own registers). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void conv_plain(const geometry_t *g, const int8_t *filter,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int32_t q_step,
                       const out_range_t *range, int8_t *out) {
    const int32_t batches = g->batches, out_c = g->out_c, zp = g->zero_point;
    const int32_t in_c = g->in_c, patch = g->kh * g->kw * in_c;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *image = g->input + b * g->in_h * g->in_w * in_c;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
                for (int32_t oc = 0; oc < out_c; oc++, out++) {
                    uint32_t acc = (uint32_t)bias[oc];
                    const int8_t *f = filter + oc * patch;
                    for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h) {
                        for (int32_t kx = 0, ix = ix0; kx < g->kw; kx++, ix += g->dil_w, f += in_c) {
                            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
                                for (int32_t c = 0; c < in_c; c++) {
                                    acc += (uint32_t)(f[c] * zp);
                                }
                                continue;
                            }
                            const int8_t *x = image + (iy * g->in_w + ix) * in_c;
                            for (int32_t c = 0; c < in_c; c++) {
                                acc += (uint32_t)(f[c] * x[c]);
                            }
                        }
                    }
                    const int32_t q = oc * q_step;
                    rq6_t rq;
                    pml_armv6m_rq6_init(&rq, multipliers[q], shifts[q]);
                    *out = rq6_apply((int32_t)acc, &rq, range);
                }
            }
        }
    }
}

/* The W words of `words` words of 4 weights from src (patch elements 4k .. 4k + 3, element 4k in the low byte):
 * per word its pair (0, 3) at dst[0] and (1, 2) at dst[3], dst 6 words on per word; adds to sums[0] sum v_i v_j
 * over the pairs, to sums[1] sum v, to sums[2] sum |w| in two halfword lanes. */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly (46 cycles a word; gcc spilled its sums at 61): r0 src, r1 its end, r2 dst, r3 the word, r4-r7
 * the bytes and products; the sums in r8, r9, r10, 0x80808080 in r11, 0x01010101 in r12, 0x00ff00ff in lr. */
void pml_armv6m_weight_words(const uint32_t *src, int32_t words, uint32_t *dst, uint32_t *sums);
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_weight_words\n"
    ".type pml_armv6m_weight_words, %function\n .thumb_func\n"
    "pml_armv6m_weight_words:\n"
    "push {r3, r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "mov r4, r12\n push {r4}\n"
    "ldm r3!, {r4, r5, r6}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n"
    "ldr r4, =0x80808080\n mov r11, r4\n ldr r4, =0x01010101\n mov r12, r4\n ldr r4, =0x00ff00ff\n mov lr, r4\n"
    "lsls r1, r1, #2\n adds r1, r0, r1\n cmp r0, r1\n beq 2f\n"
    "1:\n ldm r0!, {r3}\n"
    /* sum |w|: the negative bytes complemented, plus 1, added in two halfword lanes */
    "lsrs r4, r3, #7\n mov r5, r12\n ands r4, r5\n lsls r5, r4, #8\n subs r5, r5, r4\n eors r5, r3\n"
    "adds r5, r5, r4\n mov r6, lr\n lsrs r4, r5, #8\n ands r4, r6\n ands r5, r6\n adds r4, r4, r5\n add r10, r4\n"
    /* u = v ^ 0x80808080: the pairs (u0, u3) and (u1, u2) */
    "mov r4, r11\n eors r3, r4\n uxtb r4, r3\n lsrs r5, r3, #24\n lsls r6, r4, #23\n orrs r6, r5\n str r6, [r2, #0]\n"
    "adds r7, r4, r5\n muls r5, r4\n add r8, r5\n"
    "lsrs r4, r3, #8\n uxtb r4, r4\n lsls r3, r3, #8\n lsrs r3, r3, #24\n lsls r6, r4, #23\n orrs r6, r3\n"
    "str r6, [r2, #12]\n adds r7, r7, r4\n adds r7, r7, r3\n add r9, r7\n muls r3, r4\n add r8, r3\n"
    "adds r2, #24\n cmp r0, r1\n bne 1b\n"
    "2:\n pop {r4}\n mov r12, r4\n ldr r3, [sp, #16]\n mov r4, r8\n mov r5, r9\n mov r6, r10\n stm r3!, {r4, r5, r6}\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r3, r4, r5, r6, r7, pc}\n"
    ".ltorg\n"
    ".size pml_armv6m_weight_words, .-pml_armv6m_weight_words\n");
#define weight_words pml_armv6m_weight_words
#else
/* the same in C (the host build checks it) */
static void weight_words(const uint32_t *src, int32_t words, uint32_t *dst, uint32_t *sums) {
    for (int32_t i = 0; i < words; i++, dst += 6) {
        const uint32_t v = src[i], u = v ^ 0x80808080u;
        const uint32_t u0 = u & 0xffu, u1 = (u >> 8) & 0xffu, u2 = (u >> 16) & 0xffu, u3 = u >> 24;
        dst[0] = lane_pair(u3, u0);
        dst[3] = lane_pair(u2, u1);
        sums[0] += u0 * u3 + u1 * u2;
        sums[1] += (u0 + u3) + (u1 + u2);
        const uint32_t neg = (v >> 7) & 0x01010101u, a = (v ^ (neg * 0xffu)) + neg;
        sums[2] += (a & 0x00ff00ffu) + ((a >> 8) & 0x00ff00ffu);
    }
}
#endif

/* Output channel filter row f (patch elements) as W words at dst, every third word (per group of 8 elements its 4
 * pairs, W = v_j | v_i << LANE), the padding up to patch8 a zero weight (v = 0x80), read in place where f is
 * aligned, the rest staged at stage; returns sum v_i v_j over the pairs, *sum_v the sum of v, *abs_w sum |w|. Out
 * of line: the caller's loop keeps its registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t channel_words(const int8_t *f, int32_t patch, int32_t patch8, uint8_t *stage, uint32_t *dst,
                              uint32_t *sum_v, uint32_t *abs_w) {
    uint32_t sums[3] = {0, 0, 0};     /* sum v_i v_j, sum v, sum |w| in two halfword lanes */
    int32_t e = 0;
    if (((uintptr_t)f & 3) == 0) {
        e = patch & ~3;
        weight_words((const uint32_t *)(const void *)f, e >> 2, dst, sums);
    }
    int32_t k = 0;
    for (; e + k < patch8; k++) {
        stage[k] = (uint8_t)(e + k < patch ? f[e + k] : 0);
    }
    weight_words((const uint32_t *)(const void *)stage, k >> 2, dst + 6 * (e >> 2), sums);
    *sum_v = sums[1];
    *abs_w = (sums[2] & 0xffffu) + (sums[2] >> 16);
    return sums[0];
}

/* Four patch elements a, b = a + step, c, d, as the pairs (a, d) at dst[0] and (b, c) at dst[3] of channel_words'
 * layout; adds to sums[0] sum v_i v_j, to sums[1] sum v, to sums[2] sum |w| when `with_abs` */
static inline void strided_quad(const uint8_t *a, int32_t step, uint32_t *dst, uint32_t *sums, int with_abs) {
    const uint8_t *b = a + step, *c = b + step, *d = c + step;
    const uint32_t v0 = *a ^ 0x80u, v1 = *b ^ 0x80u, v2 = *c ^ 0x80u, v3 = *d ^ 0x80u;
    dst[0] = lane_pair(v3, v0);
    dst[3] = lane_pair(v2, v1);
    sums[0] += v0 * v3 + v1 * v2;
    sums[1] += v0 + v1 + v2 + v3;
    if (with_abs) {
        sums[2] += (v0 < 0x80u ? 0x80u - v0 : v0 - 0x80u) + (v1 < 0x80u ? 0x80u - v1 : v1 - 0x80u)
                   + (v2 < 0x80u ? 0x80u - v2 : v2 - 0x80u) + (v3 < 0x80u ? 0x80u - v3 : v3 - 0x80u);
    }
}

/* strided_quad over `quads` quads from r on (each 4 step bytes on, dst 6 words on), without sum |w| */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE) && STRIDED
/* In assembly (37 cycles a quad; gcc's took 63): r0 the element, r1 step, r2 dst, r3 the bytes' flip, r4-r7 the
 * elements, the sums in r8, r9, the end of dst in r10 */
void pml_armv6m_strided_quads(const uint8_t *r, int32_t step, int32_t quads, uint32_t *dst, uint32_t *sums);
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_strided_quads\n"
    ".type pml_armv6m_strided_quads, %function\n .thumb_func\n"
    "pml_armv6m_strided_quads:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n push {r4, r5, r6}\n"
    "movs r4, #24\n muls r2, r4, r2\n adds r2, r3, r2\n mov r10, r2\n mov r2, r3\n"
    "ldr r4, [sp, #32]\n ldm r4!, {r5, r6}\n mov r8, r5\n mov r9, r6\n"
    "cmp r2, r10\n beq 2f\n"
    "1:\n ldrb r4, [r0]\n adds r0, r0, r1\n ldrb r5, [r0]\n adds r0, r0, r1\n ldrb r6, [r0]\n adds r0, r0, r1\n"
    "ldrb r7, [r0]\n adds r0, r0, r1\n"
    "movs r3, #128\n eors r4, r3\n eors r5, r3\n eors r6, r3\n eors r7, r3\n"
    "lsls r3, r4, #23\n orrs r3, r7\n str r3, [r2, #0]\n lsls r3, r5, #23\n orrs r3, r6\n str r3, [r2, #12]\n"
    "adds r3, r4, r5\n adds r3, r3, r6\n adds r3, r3, r7\n add r9, r3\n"
    "muls r4, r7, r4\n muls r5, r6, r5\n adds r4, r4, r5\n add r8, r4\n"
    "adds r2, #24\n cmp r2, r10\n bne 1b\n"
    "2:\n ldr r4, [sp, #32]\n mov r5, r8\n mov r6, r9\n stm r4!, {r5, r6}\n"
    "pop {r4, r5, r6}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_strided_quads, .-pml_armv6m_strided_quads\n");
#define strided_quads pml_armv6m_strided_quads
#else
/* the same in C (the host build checks it; _picoml_core has no strided filters) */
static void strided_quads(const uint8_t *r, int32_t step, int32_t quads, uint32_t *dst, uint32_t *sums) {
    for (int32_t i = 0; i < quads; i++, r += 4 * step, dst += 6) {
        strided_quad(r, step, dst, sums, 0);
    }
}
#endif

/* channel_words for a filter row whose patch elements are step bytes apart (a depthwise filter's: element e at
 * f[e * step]), four elements at a time as weight_words takes a word; sum |w| only when `with_abs`, else *abs_w
 * is 0xffff (out of the shortcut's bound: the checks' path). Out of line: the caller's loop keeps its
 * registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t strided_words(const int8_t *f, int32_t step, int32_t patch, int32_t patch8, uint8_t *stage,
                              uint32_t *dst, int with_abs, uint32_t *sum_v, uint32_t *abs_w) {
    uint32_t sums[3] = {0, 0, 0};
    const uint8_t *r = (const uint8_t *)f;
    const int32_t quads = patch >> 2;
    if (with_abs) {
        for (int32_t i = 0; i < quads; i++) {
            strided_quad(r + 4 * i * step, step, dst + 6 * i, sums, 1);
        }
    } else {
        strided_quads(r, step, quads, dst, sums);
    }
    const int32_t e = quads << 2;
    if (e < patch8) {
        /* the last elements staged, the padding up to patch8 a zero weight */
        r += e * step;
        dst += 6 * quads;
        for (int32_t k = 0; e + k < patch8; k++) {
            stage[k] = (uint8_t)(e + k < patch ? r[k * step] : 0);
        }
        for (int32_t k = 0; e + k < patch8; k += 4, dst += 6) {
            strided_quad(stage + k, 1, dst, sums, with_abs);
        }
    }
    *sum_v = sums[1];
    *abs_w = with_abs ? sums[2] : 0xffffu;
    return sums[0];
}

/* A channel whose every accumulator, bias + sum w x with |sum w x| <= B = 128 sum |w|, requantizes to one output
 * (a dead filter: TFLite writes them with a bias near 2^30 and a tiny multiplier; vww_96_int8 has hundreds): its
 * sums are kept as sum w x + B, in [0, 2B] (*end: B - L instead of bias - L), and its constants f give that output
 * for each of them (every piece 0: ((y << 10) + 512) >> 10 = y). Sets them when it is one: B known (abs_w, sum |w|)
 * with 2B in the shortcut's range, the accumulators' range inside int32 and the requantization monotonic in them
 * (multiplier >= 0, shift <= 0: no left shift to wrap), its ends giving the same output. */
static void constant_channel(int32_t bias, uint32_t abs_w, int32_t multiplier, int32_t shift, const out_range_t *range,
                             uint32_t *end, rq6f_t *f) {
    const int32_t b = (int32_t)(abs_w << 7);
    if (abs_w > LANE_ABS_MAX || 2 * b >= RQ6_FAST_LIMIT || multiplier < 0 || shift > 0 || bias < INT32_MIN + b
        || bias > INT32_MAX - b) {
        return;
    }
    const int8_t out = pml_armv6m_rq6_exact(bias - b, multiplier, shift, range);
    if (pml_armv6m_rq6_exact(bias + b, multiplier, shift, range) != out) {
        return;
    }
    *end = (uint32_t)b - LANE_BIAS;
    f->m0 = f->m1 = f->m2 = 0;
    f->k = (int32_t)((uint32_t)(out - range->offset) << 10) + 512;
    f->shift = 10;
}

/* Output channels per block: whole triples whose W words fit WBUF bytes, and at least BLOCK_MIN, no more than the op
 * has (rounded up to a triple); all of them when `whole`. */
static int32_t block_channels(int32_t out_c, int32_t patch8, int whole) {
    int32_t block = 3;
    while (block < out_c && (whole || block < BLOCK_MIN || (block + 3) * 2 * patch8 <= WBUF)) {
        block += 3;
    }
    return block;
}

/* The scratch: the block's W words (block * 2 * patch8), the 2 pixels' X words (4 * patch8), a staging row
 * (patch8), per channel of the block the sums' start and end constants, the requantization constants and the 2
 * pixels' sums; none for the patches of conv_plain. */
uint32_t pml_armv6m_conv_scratch(int32_t patch, int32_t out_c, int whole) {
    const int32_t patch8 = (patch + 7) & ~7, block = block_channels(out_c, patch8, whole);
    return (uint32_t)((2 * block + 5) * patch8 + block * (int32_t)(4 * sizeof(uint32_t) + sizeof(rq6f_t)));
}

uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    (void)params;
    const int32_t patch = pml_dim(&inputs[1], 1) * pml_dim(&inputs[1], 2) * pml_dim(&inputs[0], 3);
    return patch > PATCH_MAX ? 0 : pml_armv6m_conv_scratch(patch, pml_dim(&inputs[1], 0),
                                                           pml_overlaps(&inputs[0], output));
}

PML_ARMV6M_CONV_LINKAGE int pml_armv6m_conv(const geometry_t *g, const pml_armv6m_conv_t *c, const out_range_t *range,
                                             void *scratch) {
    const int32_t batches = g->batches, out_c = g->out_c, out_px = c->out_px, f_chan = c->f_chan;
    const int8_t *filter = c->filter;
    const int32_t *bias = c->bias;
    const int32_t *multipliers = c->multipliers;
    const int32_t *shifts = c->shifts;
    const int32_t q_step = c->q_step;
    int8_t *out_data = c->out;
    const int32_t patch = g->kh * g->kw * g->in_c;
    const int32_t patch8 = (patch + 7) & ~7, groups = patch8 >> 3, block_max = block_channels(out_c, patch8, c->whole);
    uint8_t *const wbuf = (uint8_t *)scratch;               /* [triple][group][4 pairs][3 channels] words */
    uint8_t *const cols = wbuf + block_max * 2 * patch8;    /* [group][4 pairs][2 pixels] words */
    uint8_t *const stage = cols + 4 * patch8;               /* a patch or a filter row, biased */
    uint32_t *const cw = (uint32_t *)(void *)(stage + patch8);     /* per triple 3 starts, 3 ends */
    rq6f_t *const qf = (rq6f_t *)(void *)(cw + 2 * block_max);
    uint32_t *const accs = (uint32_t *)(void *)(qf + block_max);  /* pixel a's sums, then b's */
    const int32_t pixels = batches * g->out_h * g->out_w;
    step_t s;
    s.cols = cols;
    s.cols_end = cols + groups * 32;
    /* the blocks: the channels a whole number of full blocks leaves first, then full ones, so that the last block
     * has at least 3 channels whose output bytes keep xs until it (pixel_column) */
    int32_t block = out_c;
    while (block > block_max) {
        block -= block_max;
    }
    const int stashed = block < out_c;
    const int in_place = windows_in_place(g);
    for (int32_t oc0 = 0; oc0 < out_c; oc0 += block, block = block_max) {
        int32_t triples = 0;
        while (triples * 3 < block) {
            triples++;
        }
        /* the block's W words; a missing last channel repeats the block's last, its sums unused */
        int fast = 1;           /* every channel takes the shortcut */
        for (int32_t k = 0; k < triples * 3; k++) {
            const int32_t oc = oc0 + (k < block ? k : block - 1);
            const int8_t *f = filter + oc * f_chan;
            int32_t t = 0, j = k;
            while (j >= 3) {
                j -= 3;
                t++;
            }
            uint32_t sum, abs2, ww;
            uint32_t *const words = (uint32_t *)(void *)(wbuf + t * 6 * patch8) + j;
            if (STRIDED && c->f_elem != 1) {
                /* sum |w| (the bound that finds a dead filter) only when the pixels outnumber the pairs of taps:
                 * else it costs more than the requantization it saves */
                ww = strided_words(f, c->f_elem, patch, patch8, stage, words, pixels > patch8 >> 1, &sum, &abs2);
            } else {
                ww = channel_words(f, patch, patch8, stage, words, &sum, &abs2);
            }
            if (k < block) {
                if (patch > PML_ARMV6M_LANE_PATCH && abs2 > LANE_ABS_MAX) {
                    return 1;
                }
                /* sum w = sum v - 128 patch8 (the padding's v are 128) */
                cw[6 * t + j] = LANE_BIAS - ((sum - ((uint32_t)patch8 << 7)) << 7) - ww;
                cw[6 * t + 3 + j] = (uint32_t)bias[oc] - LANE_BIAS;
                const int32_t q = oc * q_step;
                rq6f_init(&qf[k], multipliers[q], shifts[q]);
                /* |sum| <= |bias| + 128 sum |w| (every input in [-128, 127]); a channel whose sums may leave the
                 * shortcut's range takes constant_channel's constants when it is a dead filter */
                const int32_t bk = bias[oc];
                const int32_t bound = bk > -RQ6_FAST_LIMIT && bk < RQ6_FAST_LIMIT ? (bk < 0 ? -bk : bk) : RQ6_FAST_LIMIT;
                if (bound + (int32_t)(abs2 << 7) >= RQ6_FAST_LIMIT) {
                    constant_channel(bk, abs2, multipliers[q], shifts[q], range, &cw[6 * t + 3 + j], &qf[k]);
                }
                fast &= qf[k].shift != 0;
            }
        }
        int32_t b = 0, oy = 0, ox = 0;
        for (int32_t pix = 0; pix < pixels; pix += 2) {
            const int two = pix + 1 < pixels;
            uint32_t *const x = (uint32_t *)(void *)cols;
            uint8_t *const stash = stashed ? (uint8_t *)out_data + pix * out_px + out_c - 3 : 0;
            s.xs[0] = pixel_column(g, b, oy, ox, stage, groups, x, stash, oc0 == 0, in_place);
            next_pixel(g, &b, &oy, &ox);
            if (two) {
                s.xs[1] = pixel_column(g, b, oy, ox, stage, groups, x + 1, stash ? stash + out_px : 0, oc0 == 0,
                                       in_place);
                next_pixel(g, &b, &oy, &ox);
            } else {
                s.xs[1] = s.xs[0];
                for (int32_t i = 0; i < 4 * groups; i++) {
                    x[2 * i + 1] = x[2 * i];
                }
            }
            s.cw = cw;
            s.w = wbuf;
            s.acc_a = accs;
            s.acc_b = accs + 3 * triples;
            s.triples = triples;
            s.one_at = block - 3 * (triples - 1) == 1;
            conv_2x3(&s);
            /* the sums requantized, a pixel at a time */
            for (int32_t p = 0; p < 1 + two; p++) {
                const int32_t *acc = (const int32_t *)accs + p * 3 * triples;
                int8_t *const out = out_data + (pix + p) * out_px + oc0;
                pml_armv6m_rq6_run(acc, qf, fast, out, block, range, multipliers, shifts, oc0, q_step);
            }
        }
    }
    return 0;
}

void pml_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                    void *scratch) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    (void)n_inputs;
    geometry_t g;
    pml_conv_geometry(&g, p, inputs, output);
    pml_armv6m_conv_t c;
    c.filter = (const int8_t *)inputs[1].data;
    c.bias = (const int32_t *)inputs[2].data;
    c.multipliers = (const int32_t *)inputs[3].data;
    c.shifts = (const int32_t *)inputs[4].data;
    c.q_step = pml_count(&inputs[3]) == g.out_c ? 1 : 0;
    c.out = (int8_t *)output->data;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const int32_t patch = g.kh * g.kw * g.in_c;
    c.f_chan = patch;
    c.f_elem = 1;
    c.out_px = g.out_c;
    c.whole = pml_overlaps(&inputs[0], output);
    if (patch > PATCH_MAX || pml_armv6m_conv(&g, &c, &range, scratch)) {
        conv_plain(&g, c.filter, c.bias, c.multipliers, c.shifts, c.q_step, &range, c.out);
    }
}

#endif
