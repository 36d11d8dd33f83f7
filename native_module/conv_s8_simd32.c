/* CONV_2D, int8, on a core with the Armv7E-M DSP extension (Cortex-M4/M7: PML_SIMD32, simd32.h).
 *
 * A blocked matrix product: four output pixels x one output channel at a time, four accumulators in registers.
 * The four pixels' input patches are sign-extended once into int16 pairs ("columns", in the scratch), in the order
 * SXTB16 gives them: for each 4 bytes x0..x3 of a patch the words (x0, x2) and (x1, x3), the four pixels' words
 * side by side (8 words per 4 patch bytes). Each filter word w0..w3 is extended the same way, with no
 * reordering of the weights, and (x0, x2).(w0, w2) + (x1, x3).(w1, w3) is two SMLADs: per 4 patch bytes one
 * weight load and two SXTB16 serve the four pixels, whose 8 column words come in two LDMs. The columns are
 * reused by every output channel. A 1x1 convolution with stride 1 and no padding reads its patches straight
 * from the input; any other geometry gathers each patch first (padding reads as the input zero point), the
 * gathered bytes beside the columns. The columns take 32 bytes per 4 patch bytes (512 bytes for a patch of 64),
 * the gathered patch 4 more, in the scratch when they fit COLS4_BYTES. A longer patch's columns go to the op's
 * output ahead of their block (bytes no output has been written to yet: the op's output shares no bytes with its
 * inputs, pml_check), while there is room; the blocks left run 2 pixels at a time, their columns (16 bytes per 4
 * patch bytes) in the scratch (channels_2x2_fast: two output channels at a time, 15 instructions per 16
 * multiply-accumulates; channels_1x2 for the other constants). A patch whose columns of 2 pixels exceed
 * COLS_BYTES goes to the portable kernel (conv.c).
 *
 * The fast path (block_fast: the usual constants, int8's activation range, a patch of whole words) runs a
 * block's channels in one piece of assembly, the multiply-accumulates and the requantization in four
 * instructions per output (SMMLAR on doubled sums, as depthwise_conv_s8_simd32.c does); anything else takes
 * channels_1x4 with requantize_channels.h's arithmetic. */

#include "simd32.h"

#if PML_SIMD32

#include "check.h"
#include "conv_generic.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "requantize_channels.h"

/* bytes of scratch for the columns and the gathered patch at most: those of 2 pixels of a 3x3 patch over 64
 * channels (5 bytes per patch byte: ResNet-8's last layers, 2.4x faster than the portable kernel for 1,856 bytes
 * more scratch than its 1 KiB); the columns of 4 pixels in the scratch at most COLS4_BYTES (a port short of RAM may
 * build with -DPML_M4_SCRATCH_GOAL=<bytes>, which depthwise_conv_s8_simd32.c takes too) */
#define COLS_BYTES (5 * 3 * 3 * 64)
#ifdef PML_M4_SCRATCH_GOAL
#define COLS4_BYTES PML_M4_SCRATCH_GOAL
#else
#define COLS4_BYTES 1024
#endif
#define PIXELS 4        /* output pixels per block (the columns of mac_1x4) */

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Pixel slot s (0..np-1) of columns of np pixels: the n bytes at x extended, zeros up to the next multiple of 4. */
static void widen_slot(const int8_t *x, int32_t n, uint32_t *cols, int32_t s, int32_t np) {
    const int32_t n4 = n >> 2;
    uint32_t *c = cols + 2 * s;
    for (int32_t j = 0; j < n4; j++, c += 2 * np, x += 4) {
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

/* One word of 4 bytes widened and doubled into c[0] (bytes 0, 2) and c[1] (bytes 1, 3) */
static inline void widen_word2(uint32_t w, uint32_t *c) {
    const uint32_t lo = pml_sxtb16(w), hi = pml_sxtb16_ror8(w);
    c[0] = pml_sadd16(lo, lo);
    c[1] = pml_sadd16(hi, hi);
}

/* widen_slot doubled, for the fast path (below): n4 words at x, twice each byte; two words a step */
static void widen_slot2(const int8_t *x, int32_t n4, uint32_t *cols, int32_t s, int32_t np) {
    uint32_t *c = cols + 2 * s;
    const int8_t *const end = x + 4 * n4;
    if (n4 & 1) {
        widen_word2(pml_load32(x), c);
        x += 4;
        c += 2 * np;
    }
    for (; x != end; x += 8, c += 4 * np) {
        const uint32_t w0 = pml_load32(x), w1 = pml_load32(x + 4);
        widen_word2(w0, c);
        widen_word2(w1, c + 2 * np);
    }
}

/* widen_slot2 for all PIXELS slots at once, pixel s's n4 words at x + s * step: the columns' 8 words of a k-step
 * from 4 loads in a row */
static void widen_block2(const int8_t *x, int32_t step, int32_t n4, uint32_t *cols) {
    const int8_t *const end = x + 4 * n4;
    for (uint32_t *c = cols; x != end; x += 4, c += 2 * PIXELS) {
        const uint32_t w0 = pml_load32(x), w1 = pml_load32(x + step);
        const uint32_t w2 = pml_load32(x + 2 * step), w3 = pml_load32(x + 3 * step);
        widen_word2(w0, c);
        widen_word2(w1, c + 2);
        widen_word2(w2, c + 4);
        widen_word2(w3, c + 6);
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

/* MAC_1X4 over a patch of n4 words and its last `tail` bytes (zeros above: the columns hold zeros there too) */
#define MAC_PATCH_1X4(x, w, n4, tail, a0, a1, a2, a3) do { \
        MAC_1X4(x, w, n4, a0, a1, a2, a3); \
        if (tail) { \
            const uint32_t t_ = pml_load_tail(w, tail); \
            MAC_STEP(x, t_, a0, a1, a2, a3); \
            w += tail; \
        } \
    } while (0)

/* a0, a1 += the 2 columns at x (columns of 2 pixels: 4 words per k-step) . the filter row at w over n4 words of 4
 * patch bytes (x and w advance past them); on the Cortex-M4 two k-steps in 18 instructions */
#define MAC_STEP2(x, f, a0, a1) do { \
        const uint32_t fa_ = pml_sxtb16(f), fb_ = pml_sxtb16_ror8(f); \
        a0 = pml_smlad((x)[0], fa_, a0); \
        a0 = pml_smlad((x)[1], fb_, a0); \
        a1 = pml_smlad((x)[2], fa_, a1); \
        a1 = pml_smlad((x)[3], fb_, a1); \
    } while (0)
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
#define MAC_1X2(x, w, n4, a0, a1) do { \
        if ((n4) & 1) { \
            const uint32_t f_ = pml_load32(w); \
            MAC_STEP2(x, f_, a0, a1); \
            x += 4; \
            w += 4; \
        } \
        const uint32_t *const end_ = x + 4 * ((n4) & ~1); \
        if (x != end_) { \
            uint32_t f_, g_, fa_, fb_; \
            __asm__ volatile( \
                "1:\n\t" \
                "ldr %[f], [%[w]], #4\n\t"          /* rows of any alignment: no LDRD */ \
                "ldr %[g], [%[w]], #4\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "sxtb16 %[fa], %[f]\n\t" \
                "sxtb16 %[fb], %[f], ror #8\n\t" \
                "smlad %[a0], r8, %[fa], %[a0]\n\t" \
                "smlad %[a0], r9, %[fb], %[a0]\n\t" \
                "smlad %[a1], r10, %[fa], %[a1]\n\t" \
                "smlad %[a1], r11, %[fb], %[a1]\n\t" \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "sxtb16 %[fa], %[g]\n\t" \
                "sxtb16 %[fb], %[g], ror #8\n\t" \
                "smlad %[a0], r8, %[fa], %[a0]\n\t" \
                "smlad %[a0], r9, %[fb], %[a0]\n\t" \
                "smlad %[a1], r10, %[fa], %[a1]\n\t" \
                "smlad %[a1], r11, %[fb], %[a1]\n\t" \
                "cmp %[x], %[end]\n\t" \
                "bne 1b\n\t" \
                : [a0] "+r"(a0), [a1] "+r"(a1), [x] "+r"(x), [w] "+r"(w), \
                  [f] "=&r"(f_), [g] "=&r"(g_), [fa] "=&r"(fa_), [fb] "=&r"(fb_) \
                : [end] "r"(end_) \
                : "r8", "r9", "r10", "r11", "cc", "memory"); \
        } \
    } while (0)
#else
#define MAC_1X2(x, w, n4, a0, a1) do { \
        for (int32_t j_ = 0; j_ < (n4); j_++, x += 4, w += 4) { \
            const uint32_t f_ = pml_load32(w); \
            MAC_STEP2(x, f_, a0, a1); \
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

/* Every output channel of a block of n_px (1..PIXELS) output pixels whose columns are ready (not doubled): the
 * filter rows one after another, each against the PIXELS columns, requantized and stored at out (pixel-major).
 * Any constants, any activation range, any patch length. In a function of its own without a frame pointer:
 * MAC_1X4's assembly takes 14 registers. */
static NOINLINE void channels_1x4(const uint32_t *cols, const int8_t *filter, int32_t patch, int32_t n_px,
                                  const outputs_t *q, int8_t *out) {
    const int32_t n4 = patch >> 2, tail = patch & 3, out_c = q->out_c;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; oc++) {
        /* the bias as the start: the sums wrap as TFLite Micro's int32 sums do */
        int32_t a0 = q->bias[oc], a1 = a0, a2 = a0, a3 = a0;
        const uint32_t *x = cols;
        MAC_PATCH_1X4(x, w, n4, tail, a0, a1, a2, a3);
        const int32_t acc[PIXELS] = {a0, a1, a2, a3};
        store_general(acc, n_px, q, oc * q->q_step, out + oc);
    }
}

/* channels_1x4 for a block of n_px (1..2) pixels whose columns of 2 pixels are ready (not doubled). */
static NOINLINE void channels_1x2(const uint32_t *cols, const int8_t *filter, int32_t patch, int32_t n_px,
                                  const outputs_t *q, int8_t *out) {
    const int32_t n4 = patch >> 2, tail = patch & 3, out_c = q->out_c;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; oc++) {
        int32_t a0 = q->bias[oc], a1 = a0;
        const uint32_t *x = cols;
        MAC_1X2(x, w, n4, a0, a1);
        if (tail) {
            const uint32_t t = pml_load_tail(w, tail);
            MAC_STEP2(x, t, a0, a1);
            w += tail;
        }
        const int32_t acc[PIXELS] = {a0, a1, 0, 0};
        store_general(acc, n_px, q, oc * q->q_step, out + oc);
    }
}

/* channels_1x4 for 4 pixels when every channel's constants suit requantize_fast and the activation range is
 * int8's (fast_requantize_fast), for the patches block_fast does not take (a tail): the requantization in
 * straight lines. */
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
        MAC_PATCH_1X4(x, w, n4, tail, a0, a1, a2, a3);
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
static int fast_requantize_fast(const outputs_t *q, int32_t n_quant) {
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

/* ---- the fast path: every channel's constants suit the requantization below, the activation range is int8's,
 * the patch a whole number of words ----------------------------------------------------------------------------
 * The columns hold twice the input (SADD16 after SXTB16: |2 x| <= 256 fits the halves) and the sums start at
 * twice the bias, so the block's four sums are 2 acc, which fits int32 as |bias| < 2^30 - patch 2^14 bounds |acc|
 * by 2^30 (no sum wraps, so none of the reference's wrapping is lost). Requantization as in
 * depthwise_conv_s8_simd32.c: TFLite's MultiplyByQuantizedMultiplier(acc, M, -e) + o for M >= 0, e in [1, 22] is
 * (SMMLAR(2 acc, M, 2^(e-1) + o 2^e) + ((2 acc) >> 31)) >> e, then SSAT #8. */

/* one call: every output channel of a block of PIXELS pixels (the assembly reads the offsets written here) */
typedef struct {
    const int32_t *mult, *shift;    /*  0,  4: channel k's constants (advanced per channel when per-channel) */
    int8_t *out;                    /*  8: channel k's output at pixel 0 */
    uint32_t one2o;                 /* 12: 1 + 2 o: 2^(e-1) + o 2^e is one2o << (e - 1) */
    const int32_t **advance;        /* 16: where the advanced mult and shift go: &mult, or parked (per-tensor) */
    int32_t off[3];                 /* 20: pixels 1..3's outputs from pixel 0's (missing pixels repeat the last) */
    const int32_t *bias, *bias_end; /* 32, 36: channel k's bias, the end of the biases */
    const uint32_t *cols, *end;     /* 40, 44: the columns, their end */
    const int8_t *w;                /* 48: the filter */
    int32_t entry;                  /* 52: where a channel starts in the assembly's loop (entry_case) */
    const int32_t *parked[2];       /* 56 */
} block_t;

#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
typedef char pml_block_offsets_ok[(__builtin_offsetof(block_t, off) == 20 && __builtin_offsetof(block_t, bias) == 32
                                   && __builtin_offsetof(block_t, cols) == 40 && __builtin_offsetof(block_t, w) == 48
                                   && __builtin_offsetof(block_t, entry) == 52 && sizeof(void *) == 4) ? 1 : -1];

/* One k-step (4 patch bytes, 16 multiply-accumulates): the filter word and the 4 pixels' 8 column words, in
 * r0-r3 the four sums. */
#define KSTEP \
    "ldr.w r11, [r9], #4\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "sxtb16 r12, r11\n\t" \
    "sxtb16 lr, r11, ror #8\n\t" \
    "smlad r0, r4, r12, r0\n\t" \
    "smlad r0, r5, lr, r0\n\t" \
    "smlad r1, r6, r12, r1\n\t" \
    "smlad r1, r7, lr, r1\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "smlad r2, r4, r12, r2\n\t" \
    "smlad r2, r5, lr, r2\n\t" \
    "smlad r3, r6, r12, r3\n\t" \
    "smlad r3, r7, lr, r3\n\t"
/* Two k-steps, their two filter words in one LDRD (r11, r12; the second waits in r12 during the first). The
 * loop body is four of them, entered where a channel runs its n4 steps (Duff's device; an odd n4 runs one KSTEP
 * first): entry_case. */
#define DSTEP \
    "ldrd r11, r12, [r9], #8\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "sxtb16 lr, r11\n\t" \
    "sxtb16 r11, r11, ror #8\n\t" \
    "smlad r0, r4, lr, r0\n\t" \
    "smlad r0, r5, r11, r0\n\t" \
    "smlad r1, r6, lr, r1\n\t" \
    "smlad r1, r7, r11, r1\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "smlad r2, r4, lr, r2\n\t" \
    "smlad r2, r5, r11, r2\n\t" \
    "smlad r3, r6, lr, r3\n\t" \
    "smlad r3, r7, r11, r3\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "sxtb16 lr, r12\n\t" \
    "sxtb16 r12, r12, ror #8\n\t" \
    "smlad r0, r4, lr, r0\n\t" \
    "smlad r0, r5, r12, r0\n\t" \
    "smlad r1, r6, lr, r1\n\t" \
    "smlad r1, r7, r12, r1\n\t" \
    "ldmia.w r8!, {r4, r5, r6, r7}\n\t" \
    "smlad r2, r4, lr, r2\n\t" \
    "smlad r2, r5, r12, r2\n\t" \
    "smlad r3, r6, lr, r3\n\t" \
    "smlad r3, r7, r12, r3\n\t"
/* output t of sum a with M (r11), R (r5), e (lr) */
#define REQUANT(t, a) \
    "smmlar " t ", " a ", r11, r5\n\t" \
    "add " t ", " t ", " a ", asr #31\n\t" \
    "asr " t ", " t ", lr\n\t" \
    "ssat " t ", #8, " t "\n\t"

/* In assembly: gcc neither keeps the column loads as LDMs nor the sums in registers. Per channel the MACs in 25
 * instructions per 32 (DSTEP: one LDRD for two filter words; the loop's CMP and BNE per 128), then the
 * requantization and the next channel's start in 43, the block's state in b (on the stack while the loop takes
 * all 14 registers). */
static NOINLINE void block_fast(block_t *b) {
    register block_t *r0 __asm__("r0") = b;
    __asm__ volatile(
        "sub sp, sp, #12\n\t"
        "str r0, [sp]\n\t"
        "ldr r1, [r0, #52]\n\t"             /* entry_case: the loop's entries (Thumb addresses) at sp + 4, 8 */
        "and r3, r1, #7\n\t"
        "adr.w r2, 20f\n\t"
        "cmp r3, #1\n\t"
        "it eq\n\t"
        "adreq.w r2, 21f\n\t"
        "cmp r3, #2\n\t"
        "it eq\n\t"
        "adreq.w r2, 23f\n\t"
        "cmp r3, #3\n\t"
        "it eq\n\t"
        "adreq.w r2, 24f\n\t"
        "cmp r3, #4\n\t"
        "it eq\n\t"
        "adreq.w r2, 22f\n\t"
        "orr r2, r2, #1\n\t"
        "str r2, [sp, #8]\n\t"
        "tst r1, #8\n\t"
        "it ne\n\t"
        "adrne.w r2, 19f\n\t"
        "orr r2, r2, #1\n\t"
        "str r2, [sp, #4]\n\t"
        "ldr r9, [r0, #48]\n\t"
        "ldr r10, [r0, #44]\n\t"
        "ldr r8, [r0, #40]\n\t"
        "ldr r4, [r0, #32]\n\t"
        "ldr r1, [r4], #4\n\t"
        "str r4, [r0, #32]\n\t"
        "lsl r1, r1, #1\n\t"
        "mov r0, r1\n\t"
        "mov r2, r1\n\t"
        "mov r3, r1\n\t"
        "ldr pc, [sp, #4]\n\t"
        "19:\n\t"                           /* odd n4: one k-step, then the even rest's entry */
        KSTEP
        "ldr pc, [sp, #8]\n\t"
        "20:\n\t"
        DSTEP
        "21:\n\t"
        DSTEP
        "23:\n\t"
        DSTEP
        "24:\n\t"
        DSTEP
        "cmp r8, r10\n\t"
        "bne 20b\n\t"
        "22:\n\t"
        /* the channel's constants: M in r11, R in r5, e in lr */
        "ldr r12, [sp]\n\t"
        "ldm r12, {r4, r5, r6, r7, r8}\n\t"  /* mult, shift, out, one2o, advance */
        "ldr r11, [r4], #4\n\t"
        "ldr lr, [r5], #4\n\t"
        "stm r8, {r4, r5}\n\t"
        "mvn r4, lr\n\t"
        "lsl r5, r7, r4\n\t"
        "rsb lr, lr, #0\n\t"
        REQUANT("r7", "r0") REQUANT("r0", "r1") REQUANT("r1", "r2") REQUANT("r2", "r3")
        "add lr, r12, #20\n\t"
        "ldm lr, {r3, r4, r8}\n\t"          /* the pixels' offsets */
        "strb r7, [r6]\n\t"
        "strb r0, [r6, r3]\n\t"
        "strb r1, [r6, r4]\n\t"
        "strb r2, [r6, r8]\n\t"
        "add r6, r6, #1\n\t"
        "str r6, [r12, #8]\n\t"
        /* the next channel */
        "ldrd r4, r5, [r12, #32]\n\t"
        "cmp r4, r5\n\t"
        "beq 9f\n\t"
        "ldr r0, [r4], #4\n\t"
        "str r4, [r12, #32]\n\t"
        "lsl r0, r0, #1\n\t"
        "mov r1, r0\n\t"
        "mov r2, r0\n\t"
        "mov r3, r0\n\t"
        "ldr r8, [r12, #40]\n\t"
        "ldr pc, [sp, #4]\n\t"
        "9:\n\t"
        "add sp, sp, #12\n\t"
        : "+r"(r0)
        :
        : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}
#undef KSTEP
#undef DSTEP
#undef REQUANT
#else
/* the same in C (the portable build) */
static void block_fast(block_t *b) {
    const int8_t *w = b->w;
    for (const int32_t *bias = b->bias; bias != b->bias_end; bias++) {
        int32_t a0 = 2 * *bias, a1 = a0, a2 = a0, a3 = a0;
        for (const uint32_t *x = b->cols; x != b->end; x += 2 * PIXELS, w += 4) {
            const uint32_t f = pml_load32(w);
            MAC_STEP(x, f, a0, a1, a2, a3);
        }
        const int32_t m = *b->mult, s = *b->shift;
        b->advance[0] = b->mult + 1;
        b->advance[1] = b->shift + 1;
        const int32_t r = (int32_t)(b->one2o << (-s - 1)), e = -s;
        const int32_t acc[PIXELS] = {a0, a1, a2, a3};
        int8_t t[PIXELS];
        for (int i = 0; i < PIXELS; i++) {
            t[i] = (int8_t)pml_ssat8((pml_smmlar(acc[i], m, r) + (acc[i] >> 31)) >> e);
        }
        b->out[0] = t[0];
        b->out[b->off[0]] = t[1];
        b->out[b->off[1]] = t[2];
        b->out[b->off[2]] = t[3];
        b->out++;
    }
}
#endif

/* The fast path for a block of 2 pixels (columns of 2 pixels, doubled): two output channels at a time (the last
 * one alone, its row read twice), four sums; per k-step 15 instructions for 16 multiply-accumulates, the
 * requantization as block_fast's. In a function of its own without a frame pointer: the assembly takes 14
 * registers. */
static NOINLINE void channels_2x2_fast(const uint32_t *cols, const int8_t *filter, int32_t n4, int32_t n_px,
                                       const outputs_t *q, uint32_t one2o, int8_t *out) {
    const int32_t out_c = q->out_c, step = q->q_step;
    const uint32_t *const end = cols + 4 * n4;
    const int32_t *mult = q->multipliers, *shift = q->shifts;
    for (int32_t oc = 0; oc < out_c; oc += 2, filter += 8 * n4, out += 2, mult += 2 * step, shift += 2 * step) {
        const int last = oc + 1 == out_c;
        const int8_t *w0 = filter, *w1 = last ? filter : filter + 4 * n4;
        int32_t a0 = 2 * q->bias[oc], a1 = a0, a2 = 2 * q->bias[oc + 1 - last], a3 = a2;
        const uint32_t *x = cols;
        if (n4 & 1) {
            const uint32_t f = pml_load32(w0), g = pml_load32(w1);
            MAC_STEP2(x, f, a0, a1);
            MAC_STEP2(x, g, a2, a3);
            x += 4;
            w0 += 4;
            w1 += 4;
        }
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
        if (x != end) {
            uint32_t f, g, fa;
            __asm__ volatile(
#define KSTEP2 \
                "ldmia %[x]!, {r8, r9, r10, r11}\n\t" \
                "ldr %[f], [%[w0]], #4\n\t" \
                "ldr %[g], [%[w1]], #4\n\t" \
                "sxtb16 %[fa], %[f]\n\t" \
                "sxtb16 %[f], %[f], ror #8\n\t" \
                "smlad %[a0], r8, %[fa], %[a0]\n\t" \
                "smlad %[a0], r9, %[f], %[a0]\n\t" \
                "smlad %[a1], r10, %[fa], %[a1]\n\t" \
                "smlad %[a1], r11, %[f], %[a1]\n\t" \
                "sxtb16 %[fa], %[g]\n\t" \
                "sxtb16 %[g], %[g], ror #8\n\t" \
                "smlad %[a2], r8, %[fa], %[a2]\n\t" \
                "smlad %[a2], r9, %[g], %[a2]\n\t" \
                "smlad %[a3], r10, %[fa], %[a3]\n\t" \
                "smlad %[a3], r11, %[g], %[a3]\n\t"
                "1:\n\t"
                KSTEP2
                KSTEP2
                "ldr %[fa], %[end]\n\t"
                "cmp %[x], %[fa]\n\t"
                "bne 1b\n\t"
#undef KSTEP2
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w0] "+r"(w0),
                  [w1] "+r"(w1), [f] "=&r"(f), [g] "=&r"(g), [fa] "=&r"(fa)
                : [end] "m"(end)
                : "r8", "r9", "r10", "r11", "cc", "memory");
        }
#else
        for (; x != end; x += 4, w0 += 4, w1 += 4) {
            const uint32_t f = pml_load32(w0), g = pml_load32(w1);
            MAC_STEP2(x, f, a0, a1);
            MAC_STEP2(x, g, a2, a3);
        }
#endif
        const int32_t e0 = -shift[0], m0 = mult[0], r0 = (int32_t)(one2o << (e0 - 1));
        out[0] = (int8_t)pml_ssat8((pml_smmlar(a0, m0, r0) + (a0 >> 31)) >> e0);
        if (n_px == 2) {
            out[out_c] = (int8_t)pml_ssat8((pml_smmlar(a1, m0, r0) + (a1 >> 31)) >> e0);
        }
        if (!last) {
            const int32_t e1 = -shift[step], m1 = mult[step], r1 = (int32_t)(one2o << (e1 - 1));
            out[1] = (int8_t)pml_ssat8((pml_smmlar(a2, m1, r1) + (a2 >> 31)) >> e1);
            if (n_px == 2) {
                out[out_c + 1] = (int8_t)pml_ssat8((pml_smmlar(a3, m1, r1) + (a3 >> 31)) >> e1);
            }
        }
    }
}

/* Where block_fast's loop (four DSTEPs, 8 k-steps) starts a channel of n4 k-steps: bits 0-2 the DSTEP (0-3) that
 * leaves a whole number of passes for the even part of n4, or 4: none (n4 == 1); bit 3: n4 is odd, one KSTEP
 * first. */
static int32_t entry_case(int32_t n4) {
    const int32_t odd = n4 & 1, even = n4 - odd;
    return (even == 0 ? 4 : (4 - (even >> 1)) & 3) | (odd << 3);
}

/* Whether the fast path takes the op: the activation range is int8's, the patch whole words, and every channel's
 * constants and bias suit it (see above). */
static int fast_constants(const outputs_t *q, int32_t n_quant, int32_t patch) {
    if (q->act_min != -128 || q->act_max != 127 || (patch & 3) || patch > (1 << 15)) {
        return 0;
    }
    for (int32_t k = 0; k < n_quant; k++) {
        if (q->multipliers[k] < 0 || q->shifts[k] > -1 || q->shifts[k] < -22) {
            return 0;
        }
    }
    const int32_t bound = (1 << 30) - (patch << 14);
    for (int32_t k = 0; k < q->out_c; k++) {
        if (q->bias[k] <= -bound || q->bias[k] >= bound) {
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
    /* taps [kx0, kx1) of a row and rows [ky0, ky1) are inside the image (any dilation) */
    int32_t kx0 = 0, kx1 = g->kw, ky0 = 0, ky1 = g->kh;
    while (kx0 < kx1 && ix0 + kx0 * g->dil_w < 0) {
        kx0++;
    }
    while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dil_w >= g->in_w) {
        kx1--;
    }
    while (ky0 < ky1 && iy0 + ky0 * g->dil_h < 0) {
        ky0++;
    }
    while (ky1 > ky0 && iy0 + (ky1 - 1) * g->dil_h >= g->in_h) {
        ky1--;
    }
    const int32_t row = g->kw * in_c;
    if (kx0 > 0 || kx1 < g->kw || ky0 > 0 || ky1 < g->kh) {
        /* the zero point everywhere, then the taps inside over it (the patch is whole words in the scratch) */
        const uint32_t zp4 = 0x01010101u * (uint8_t)g->zero_point;
        uint32_t *w = (uint32_t *)(void *)patch;
        for (uint32_t *const end = w + ((g->kh * row + 3) >> 2); w != end; w++) {
            *w = zp4;
        }
    }
    if (kx0 == kx1) {
        return;
    }
    const int32_t step = kx1 - kx0 > 1 ? g->dil_w * in_c : 0;     /* two taps inside: dil_w < in_w */
    const int32_t run = (kx1 - kx0) * in_c;
    int8_t *dst = patch + ky0 * row + kx0 * in_c;
    const int8_t *src = image + ((iy0 + ky0 * g->dil_h) * g->in_w + ix0 + kx0 * g->dil_w) * in_c;
    const int32_t src_row = g->dil_h * g->in_w * in_c;
    if (run == row && (step == in_c || kx1 - kx0 == 1) && (row & 3) == 0) {
        /* whole rows of whole words (the first convolution's rows of 4 bytes) */
        for (int32_t ky = ky0; ky < ky1; ky++, dst += row, src += src_row) {
            uint32_t *d = (uint32_t *)(void *)dst;
            for (const int8_t *x = src, *const end = src + row; x != end; x += 4) {
                *d++ = pml_load32(x);
            }
        }
        return;
    }
    for (int32_t ky = ky0; ky < ky1; ky++, dst += row, src += src_row) {
        int8_t *d = dst;
        const int8_t *x = src;
        if (step == in_c || kx1 - kx0 == 1) {
            /* the taps inside side by side: one run of bytes, a word at a time */
            int32_t n = run;
            for (; n >= 4; n -= 4, x += 4, d += 4) {
                const uint32_t v = pml_load32(x);
                __builtin_memcpy(d, &v, 4);
            }
            for (; n > 0; n--) {
                *d++ = *x++;
            }
        } else if (in_c == 1) {
            for (int32_t kx = kx0; kx < kx1; kx++, x += step) {
                *d++ = *x;
            }
        } else {
            for (int32_t kx = kx0; kx < kx1; kx++, x += step) {
                for (int32_t c = 0; c < in_c; c++) {
                    *d++ = x[c];
                }
            }
        }
    }
}

/* (b, oy, ox) to the next output pixel */
#define NEXT_PIXEL(b, oy, ox, out_h, out_w) do { \
        if (++(ox) == (out_w)) { \
            (ox) = 0; \
            if (++(oy) == (out_h)) { \
                (oy) = 0; \
                (b)++; \
            } \
        } \
    } while (0)

/* Words of scratch: the columns of PIXELS pixels and the gathered patch when they fit COLS4_BYTES, else the columns
 * of 2 pixels and the gathered patch (the columns of PIXELS pixels then go to the output ahead of their block while
 * there is room: four_in_scratch). More than COLS_BYTES: the portable kernel runs the op. */
static int32_t scratch_words(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int32_t words = (kh * kw * pml_dim(&inputs[0], 3) + 3) >> 2;
    /* a 1x1 convolution over every pixel: the input is the matrix of patches, nothing gathered */
    const int direct = kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0
                       && p->pad_left == 0 && pml_dim(output, 1) == pml_dim(&inputs[0], 1)
                       && pml_dim(output, 2) == pml_dim(&inputs[0], 2);
    const int32_t four = 2 * PIXELS * words + (direct ? 0 : words);
    return 4 * four <= COLS4_BYTES ? four : 4 * words + (direct ? 0 : words);
}

static int four_in_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    const int32_t words = (pml_dim(&inputs[1], 1) * pml_dim(&inputs[1], 2) * pml_dim(&inputs[0], 3) + 3) >> 2;
    return scratch_words(params, inputs, output) >= 2 * PIXELS * words;
}

uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    const int32_t words = scratch_words(params, inputs, output);
    return 4 * words > COLS_BYTES ? pml_conv_2d_s8_generic_scratch(params, inputs, output) : 4 * (uint32_t)words;
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
    if (4 * scratch_words(params, inputs, output) > COLS_BYTES) {
        pml_conv_2d_s8_generic(params, inputs, n_inputs, output, scratch);
        return;
    }
    /* a 1x1 convolution over every pixel reads its patches in place */
    const int direct = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0
                       && g.pad_left == 0 && out_h == g.in_h && out_w == g.in_w;
    /* the columns of PIXELS pixels in the scratch, or in the output ahead of each block and those of 2 pixels in
     * the scratch; the gathered patch after them */
    const int four = four_in_scratch(params, inputs, output);
    uint32_t *const cols2 = (uint32_t *)scratch;
    int8_t *const raw = (int8_t *)(cols2 + (four ? 2 * PIXELS : 4) * words);
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
    const int fast = fast_constants(&q, pml_count(&inputs[3]), patch);
    const int tail_fast = !fast && fast_requantize_fast(&q, pml_count(&inputs[3]));
    block_t blk;
    blk.one2o = 1 + 2 * (uint32_t)p->output_offset;
    blk.advance = q.q_step ? &blk.mult : blk.parked;
    blk.bias_end = q.bias + out_c;
    blk.w = filter;
    blk.entry = entry_case(words);

    const int32_t pixels = pml_dim(output, 0) * out_h * out_w;
    int8_t *const out_end = out + pixels * out_c;
    int32_t b = 0, oy = 0, ox = 0;
    int32_t pix = 0;
    for (; pix < pixels; pix += PIXELS, out += PIXELS * out_c) {
        const int32_t n_px = pixels - pix < PIXELS ? pixels - pix : PIXELS;
        uint32_t *cols = cols2;
        if (n_px <= 2) {
            break;      /* a last block of 1 or 2 pixels: 2 pixels at a time below, its columns over these */
        }
        if (!four) {
            /* in the output ahead of the block: bytes no output has been written to yet (whole words), while there
             * is room, unless the output lies over the input (behind it) */
            cols = (uint32_t *)(((uintptr_t)(out + PIXELS * out_c) + 3) & ~(uintptr_t)3);
            if (n_px < PIXELS || (uintptr_t)(cols + 2 * PIXELS * words) > (uintptr_t)out_end
                || pml_overlaps(&inputs[0], output)) {
                break;
            }
        }
        if (fast && direct && n_px == PIXELS) {
            widen_block2(g.input + pix * g.in_c, g.in_c, words, cols);
        }
        for (int32_t s = 0; s < PIXELS && !(fast && direct && n_px == PIXELS); s++) {
            if (s >= n_px) {
                /* a missing pixel: zeros, its results dropped; on the fast path the last pixel again, its
                 * results written over the last pixel's with the same values */
                for (int32_t j = 0; j < words; j++) {
                    uint32_t *c = cols + 2 * PIXELS * j;
                    c[2 * s] = fast ? c[2 * (n_px - 1)] : 0;
                    c[2 * s + 1] = fast ? c[2 * (n_px - 1) + 1] : 0;
                }
            } else {
                const int8_t *x = g.input + (pix + s) * g.in_c;
                if (!direct) {
                    gather(&g, b, oy, ox, raw);
                    x = raw;
                    NEXT_PIXEL(b, oy, ox, out_h, out_w);
                }
                if (fast) {
                    widen_slot2(x, words, cols, s, PIXELS);
                } else {
                    widen_slot(x, patch, cols, s, PIXELS);
                }
            }
        }
        if (fast) {
            blk.mult = q.multipliers;
            blk.shift = q.shifts;
            blk.out = out;
            blk.bias = q.bias;
            blk.cols = cols;
            blk.end = cols + 2 * PIXELS * words;
            for (int32_t i = 1; i < PIXELS; i++) {
                blk.off[i - 1] = (i < n_px ? i : n_px - 1) * out_c;
            }
            block_fast(&blk);
        } else if (tail_fast && n_px == PIXELS) {
            channels_1x4_fast(cols, filter, patch, &q, out);
        } else {
            channels_1x4(cols, filter, patch, n_px, &q, out);
        }
    }
    /* the rest two pixels at a time, their columns in the scratch (a missing pixel's zeros, its results dropped) */
    for (; pix < pixels; pix += 2, out += 2 * out_c) {
        const int32_t n_px = pixels - pix < 2 ? pixels - pix : 2;
        for (int32_t s = 0; s < 2; s++) {
            if (s >= n_px) {
                for (int32_t j = 0; j < words; j++) {
                    cols2[4 * j + 2] = cols2[4 * j + 3] = 0;
                }
                continue;
            }
            const int8_t *x = g.input + (pix + s) * g.in_c;
            if (!direct) {
                gather(&g, b, oy, ox, raw);
                x = raw;
                NEXT_PIXEL(b, oy, ox, out_h, out_w);
            }
            if (fast) {
                widen_slot2(x, words, cols2, s, 2);
            } else {
                widen_slot(x, patch, cols2, s, 2);
            }
        }
        if (fast) {
            channels_2x2_fast(cols2, filter, words, n_px, &q, blk.one2o, out);
        } else {
            channels_1x2(cols2, filter, patch, n_px, &q, out);
        }
    }
}

#endif
