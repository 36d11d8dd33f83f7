/* DEPTHWISE_CONV_2D, int8, on the Cortex-M4's SIMD32 instructions (simd32.h): the same bytes as the generic
 * kernel (depthwise_conv.c: pml_depthwise_channels), which runs what this one leaves.
 *
 * It takes depth multiplier 1, any kernel size up to MAX_TAPS taps, stride, dilation and padding, per-channel or
 * per-tensor quantization (depth multipliers > 1: below, ---- depth multiplier > 1):
 *   - 3x3 filters with stride and dilation 1 (DS-CNN, MobileNet's stride-1 layers), any number of channels, in
 *     groups of four (of two, or single channels, where four rings exceed RING_BYTES: plan_3x3): each channel's
 *     input lines (rows, or columns) in a ring of three lines of int16 pairs of neighbouring places in the
 *     scratch (four channels' lines from words of four input bytes, two channels' from halfwords), the
 *     kernel rows as pairs of taps, four neighbouring outputs of one channel at a time from three loads per line
 *     (SMLAD on pairs of taps: 24 multiply instructions for 36 MACs; blocks_3x3, 64 instructions), the last 1-3
 *     outputs of a line one at a time. Described below (---- 3x3);
 *   - other filters, strides and dilations, the channels in groups of four (one word of input bytes per pixel and
 *     tap): per group the filter taps sign-extended and doubled into halfword pairs, [2 f0, 2 f2] and
 *     [2 f1, 2 f3] (SXTB16), so that an input word unpacked with SXTB16 / SXTB16 ROR 8 feeds four SMLABB/SMLATT
 *     into four int32 sums, which hold twice the accumulator; one pixel at a time, its window copied to the
 *     scratch where it reaches into the padding (so do 3x3 lines whose rings would exceed RING_BYTES);
 *   - requantization in three instructions (below) instead of the 64-bit arithmetic of requantize_channels.h,
 *     where its conditions hold for the group's channels (checked per call: shifts in [-22, -1], multipliers
 *     >= 0, |bias| < 2^30 - 2^19); else the generic kernel runs the group.
 *
 * Requantization. TFLite's MultiplyByQuantizedMultiplier(acc, M, -e) for e >= 1 is, with P = acc * M,
 * floor((P + 2^30 + 2^(30+e) - [P < 0] 2^31) / 2^(31+e)) (requantize_channels.h). Its doubling high multiply is
 * x = floor((P + 2^30) / 2^31) = floor((2 acc * M + 2^31) / 2^32) = SMMULR(2 acc, M); the rounding division
 * by 2^e is (x + 2^(e-1) - [acc < 0]) >> e ([P < 0] = [acc < 0] for M > 0; for M = 0, x = 0 and both give 0).
 * With the output offset o folded in, (x + 2^(e-1) + o 2^e - [acc < 0]) >> e = result + o, so:
 *     t = SMMLAR(2 acc, M, 2^(e-1) + o 2^e);  t += (2 acc) >> 31;  t >>= e;  then SSAT #8 or the clamp.
 * 2 acc fits int32 by the bound above (no sum wraps either, so none of the reference's wrapping is lost),
 * o 2^e fits for e <= 22. */
#include "depthwise_conv.h"

#if PML_SIMD32

#define MAX_TAPS 25             /* filter taps per group: 5x5 */

/* Depth multipliers > 1 (below: about 1.4 KB of code) in every build but the small module without the audio
 * front-end (native_module/Makefile's PML_FRONTEND=0, held to the heap goal with its code in the heap:
 * tests/test_heap_overhead.py), where the generic kernel runs them. */
#ifndef PML_WITHOUT_FRONTEND
#define DW_MULTIPLIER 1
#else
#define DW_MULTIPLIER 0
#endif

/* M4 assembly for the 3x3 kernels below, or their C twins (the portable build, PML_SIMD32_PORTABLE) */
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
#define DW_ASM 1
#else
#define DW_ASM 0
#endif

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

typedef struct {
    int32_t mult, round, shift; /* M, 2^(e-1) + o 2^e, e */
} rq_t;

typedef struct {
    uint32_t w[MAX_TAPS][2];    /* per tap: [2 f0, 2 f2], [2 f1, 2 f3] */
    rq_t rq[4];
    int32_t bias2[4];           /* 2 bias */
} group_t;

typedef struct {
    const int8_t *image;        /* the current batch's image, at the group's first channel */
    int32_t in_h, in_w, c;      /* input height, width, channels */
    int32_t kh, kw, dh, dw;
    uint32_t zp4;               /* the input zero point in each byte */
    int32_t lo, hi, full;       /* the activation range; full: it is [-128, 127] */
    int32_t m;                  /* the depth multiplier */
} geom_t;

static inline uint32_t ld32(const void *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* the four sums of one pixel and tap: acc[k] += 2 f_k x_k */
static inline void mac4(uint32_t v, const uint32_t w[2], int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    const uint32_t x02 = pml_sxtb16(v), x13 = pml_sxtb16_ror8(v);
    *a0 = pml_smlabb(x02, w[0], *a0);
    *a2 = pml_smlatt(x02, w[0], *a2);
    *a1 = pml_smlabb(x13, w[1], *a1);
    *a3 = pml_smlatt(x13, w[1], *a3);
}

static inline int32_t requantize2(int32_t acc2, const rq_t *q) {
    return (pml_smmlar(acc2, q->mult, q->round) + (acc2 >> 31)) >> q->shift;
}

static inline int32_t clamp(int32_t t, const geom_t *d) {
    t = t < d->lo ? d->lo : t;
    return t > d->hi ? d->hi : t;
}

static inline void store4(int8_t *out, const group_t *g, const geom_t *d, const int32_t a[4]) {
    const int32_t t0 = requantize2(a[0], &g->rq[0]), t1 = requantize2(a[1], &g->rq[1]);
    const int32_t t2 = requantize2(a[2], &g->rq[2]), t3 = requantize2(a[3], &g->rq[3]);
    if (d->full) {
        out[0] = (int8_t)pml_ssat8(t0);
        out[1] = (int8_t)pml_ssat8(t1);
        out[2] = (int8_t)pml_ssat8(t2);
        out[3] = (int8_t)pml_ssat8(t3);
    } else {
        out[0] = (int8_t)clamp(t0, d);
        out[1] = (int8_t)clamp(t1, d);
        out[2] = (int8_t)clamp(t2, d);
        out[3] = (int8_t)clamp(t3, d);
    }
}

/* The input word of the group at (iy, ix), or the zero points outside the image. */
static inline uint32_t word_at(const geom_t *d, int32_t iy, int32_t ix) {
    if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) {
        return d->zp4;
    }
    return ld32(d->image + (iy * d->in_w + ix) * d->c);
}

/* ---- 3x3, stride and dilation 1: one channel at a time, pairs of taps -----------------------------------------
 * The channel's input lines (rows, or columns when the outputs run down the columns: plan_3x3) go to a ring of
 * three lines in the scratch as int16 pairs of neighbouring places: word (pair j, slot s) = (x[2j], x[2j + 1]) of
 * the line in slot s, at buf[3 j + s], so that the three lines' words of a pair sit side by side. A kernel row
 * (f0, f1, f2), doubled, is two words u = (2 f0, 2 f1), v = (2 f1, 2 f2); with W0 = (x0, x1), W1 = (x2, x3),
 * W2 = (x4, x5) of one line, four neighbouring outputs take
 *     p0 += SMLAD(W0, u) + SMLABT(W1, v)      p1 += SMLATB(W0, u) + SMLAD(W1, v)
 *     p2 += SMLAD(W1, u) + SMLABT(W2, v)      p3 += SMLATB(W1, u) + SMLAD(W2, v)
 * eight multiply instructions for 12 MACs, three loads. Over the ring's three lines a block of four outputs is 24
 * of them, 9 loads of input and 3 of weights (blocks_3x3: 64 instructions for 36 MACs); the last 1-3 outputs of
 * a line one at a time. The sums are twice the accumulator (doubled weights, 2 bias), for the
 * requantization above. */

/* the channel's constants as the block's assembly reads them (word offsets): the kernel rows' (u, v) by ring slot
 * (0-5, rotated per output line), 2 bias (6), M (7), 2^(e-1) + o 2^e (8), e (9), and the outputs of a line past
 * its blocks of four (10: 0-3) */
enum { K_W = 0, K_BIAS2 = 6, K_MULT = 7, K_ROUND = 8, K_SHIFT = 9, K_REST = 10, K_WORDS = 11 };

#if !DW_ASM
/* the first n (0..4) outputs of the block at q (the ring's pair j, slot 0), requantized and clamped to
 * [-128, 127], written to out, out + step, ...: output 2 m + 1 from pairs j + m, j + m + 1 as output 2 m + 1 of
 * the assembly below, output 2 m as output 0 */
static void rest_3x3(const uint32_t *q, const int32_t *k, int32_t n, int8_t *out, int32_t step) {
    const uint32_t u0 = (uint32_t)k[0], v0 = (uint32_t)k[1], u1 = (uint32_t)k[2], v1 = (uint32_t)k[3];
    const uint32_t u2 = (uint32_t)k[4], v2 = (uint32_t)k[5];
    const rq_t rq = {k[K_MULT], k[K_ROUND], k[K_SHIFT]};
    for (int32_t i = 0; i < n; i++, out += step) {
        const uint32_t *p = q + 3 * (i >> 1);
        int32_t a = k[K_BIAS2];
        if (i & 1) {
            a = pml_smlad(p[3], v0, pml_smlatb(p[0], u0, a));
            a = pml_smlad(p[4], v1, pml_smlatb(p[1], u1, a));
            a = pml_smlad(p[5], v2, pml_smlatb(p[2], u2, a));
        } else {
            a = pml_smlabt(p[3], v0, pml_smlad(p[0], u0, a));
            a = pml_smlabt(p[4], v1, pml_smlad(p[1], u1, a));
            a = pml_smlabt(p[5], v2, pml_smlad(p[2], u2, a));
        }
        *out = (int8_t)pml_ssat8(requantize2(a, &rq));
    }
}
#endif

/* One output line of g channels: for each, its blocks of four outputs from the ring's pair 0 (q) on to end, two
 * pairs apart, then its k[K_REST] last outputs, written to out, out + step, ...; the next channel's ring `ring`
 * bytes on, its constants K_STRIDE bytes on, its outputs one byte on. */
typedef struct {
    const uint32_t *q;
    const int32_t *k;
    int8_t *out;
    int32_t step;
    const uint32_t *end;        /* q after the last block */
    int32_t g, ring;
} blocks_t;

#define K_STRIDE (3 * K_WORDS * 4)   /* bytes from a channel's constants to the next channel's (krot) */

#if DW_ASM
typedef char pml_blocks_offsets_ok[(__builtin_offsetof(blocks_t, end) == 16 && __builtin_offsetof(blocks_t, ring) == 24
                                    && K_STRIDE == 132 && sizeof(void *) == 4) ? 1 : -1];

/* one ring slot s (k's words 2s, 2s + 1; the ring's words at 4 s, 12 + 4 s, 24 + 4 s) of a block */
#define DW_SLOT(s, ks, q0, q1, q2) \
    "ldrd r7, r8, [r10, #" ks "]\n\t" \
    "ldr r4, [r9, #" q0 "]\n\t" \
    "ldr r5, [r9, #" q1 "]\n\t" \
    "ldr r6, [r9, #" q2 "]\n\t" \
    "smlad r0, r4, r7, r0\n\t" \
    "smlabt r0, r5, r8, r0\n\t" \
    "smlatb r1, r4, r7, r1\n\t" \
    "smlad r1, r5, r8, r1\n\t" \
    "smlad r2, r5, r7, r2\n\t" \
    "smlabt r2, r6, r8, r2\n\t" \
    "smlatb r3, r5, r7, r3\n\t" \
    "smlad r3, r6, r8, r3\n\t"
/* output sum a: SMMLAR(a, M, R + (a >> 31)) >> e, saturated (M in r7, R in r8, e in r6) */
#define DW_REQUANT(a) \
    "add r4, r8, " a ", asr #31\n\t" \
    "smmlar " a ", " a ", r7, r4\n\t" \
    "asr " a ", " a ", r6\n\t" \
    "ssat " a ", #8, " a "\n\t"

/* one output from pairs B, B + 12 of the ring (even: the block's output 0, odd: output 1) into r0 */
#define DW_EVEN "smlad r0, r4, r7, r0\n\tsmlabt r0, r5, r8, r0\n\t"
#define DW_ODD "smlatb r0, r4, r7, r0\n\tsmlad r0, r5, r8, r0\n\t"
#define DW_ONE_SLOT(ks, q0, q1, mac) \
    "ldrd r7, r8, [r10, #" ks "]\n\t" \
    "ldr r4, [r9, #" q0 "]\n\t" \
    "ldr r5, [r9, #" q1 "]\n\t" \
    mac
#define DW_ONE(B0, B1, B2, B3, B4, B5, mac) \
    "ldr r0, [r10, #24]\n\t" \
    DW_ONE_SLOT("0", B0, B3, mac) DW_ONE_SLOT("8", B1, B4, mac) DW_ONE_SLOT("16", B2, B5, mac) \
    "ldrd r7, r8, [r10, #28]\n\t" \
    "ldr r6, [r10, #36]\n\t" \
    DW_REQUANT("r0")

/* In assembly: the sums in r0-r3, the ring's words in r4-r6, (u, v) in r7, r8, the ring in r9, the constants in
 * r10, the output in r11 (its step in r12), the end in lr. The first slot starts the four sums at 2 bias. The
 * last 1-3 outputs one at a time (DW_ONE). Then the next channel: b (at sp) advanced, the channels left at
 * sp + 4. */
static NOINLINE void blocks_3x3(blocks_t *b) {
    register blocks_t *r0 __asm__("r0") = b;
    __asm__ volatile(
        "sub sp, sp, #8\n\t"
        "str r0, [sp]\n\t"
        "ldr r1, [r0, #20]\n\t"
        "str r1, [sp, #4]\n\t"
        "ldm r0, {r9, r10, r11, r12, lr}\n\t"
        "7:\n\t"
        "cmp r9, lr\n\t"
        "beq 8f\n\t"
        "1:\n\t"
        "ldrd r7, r8, [r10, #0]\n\t"
        "ldr r0, [r10, #24]\n\t"
        "ldr r4, [r9, #0]\n\t"
        "ldr r5, [r9, #12]\n\t"
        "ldr r6, [r9, #24]\n\t"
        "smlatb r1, r4, r7, r0\n\t"
        "smlad r2, r5, r7, r0\n\t"
        "smlatb r3, r5, r7, r0\n\t"
        "smlad r0, r4, r7, r0\n\t"
        "smlabt r0, r5, r8, r0\n\t"
        "smlad r1, r5, r8, r1\n\t"
        "smlabt r2, r6, r8, r2\n\t"
        "smlad r3, r6, r8, r3\n\t"
        DW_SLOT(1, "8", "4", "16", "28")
        DW_SLOT(2, "16", "8", "20", "32")
        "ldrd r7, r8, [r10, #28]\n\t"
        "ldr r6, [r10, #36]\n\t"
        DW_REQUANT("r0") DW_REQUANT("r1") DW_REQUANT("r2") DW_REQUANT("r3")
        "strb r0, [r11]\n\t"
        "strb r1, [r11, r12]\n\t"
        "add r11, r11, r12, lsl #1\n\t"
        "strb r2, [r11]\n\t"
        "strb r3, [r11, r12]\n\t"
        "add r11, r11, r12, lsl #1\n\t"
        "add r9, r9, #24\n\t"
        "cmp r9, lr\n\t"
        "bne 1b\n\t"
        "8:\n\t"
        "ldr lr, [r10, #40]\n\t"
        "cmp lr, #0\n\t"
        "beq 9f\n\t"
        DW_ONE("0", "4", "8", "12", "16", "20", DW_EVEN)
        "strb r0, [r11]\n\t"
        "cmp lr, #1\n\t"
        "beq 9f\n\t"
        DW_ONE("0", "4", "8", "12", "16", "20", DW_ODD)
        "strb r0, [r11, r12]\n\t"
        "cmp lr, #2\n\t"
        "beq 9f\n\t"
        DW_ONE("12", "16", "20", "24", "28", "32", DW_EVEN)
        "add r11, r11, r12, lsl #1\n\t"
        "strb r0, [r11]\n\t"
        "9:\n\t"
        "ldrd r0, r1, [sp]\n\t"
        "subs r1, r1, #1\n\t"
        "beq 10f\n\t"
        "str r1, [sp, #4]\n\t"
        "ldm r0, {r3, r4, r5, r6, r7}\n\t"
        "ldr r2, [r0, #24]\n\t"
        "add r9, r3, r2\n\t"
        "add r10, r4, #132\n\t"
        "add r11, r5, #1\n\t"
        "mov r12, r6\n\t"
        "add lr, r7, r2\n\t"
        "stm r0, {r9, r10, r11, r12, lr}\n\t"
        "b 7b\n\t"
        "10:\n\t"
        "add sp, sp, #8\n\t"
        : "+r"(r0)
        :
        : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}
#undef DW_SLOT
#undef DW_REQUANT
#undef DW_ONE_SLOT
#undef DW_ONE
#undef DW_EVEN
#undef DW_ODD
#else
static void blocks_3x3(blocks_t *b) {
    for (int32_t j = 0; j < b->g; j++) {
        const int32_t *k = b->k + j * (K_STRIDE / 4);
        const uint32_t *q = b->q + j * (b->ring / 4);
        int8_t *out = b->out + j;
        for (; q != b->end + j * (b->ring / 4); q += 6, out += 4 * b->step) {
            rest_3x3(q, k, 4, out, b->step);
        }
        rest_3x3(q, k, k[K_REST], out, b->step);
    }
}
#endif

/* The 3x3 kernels' plan for an image: outputs along the rows, or down the columns (`columns`), rings for `group`
 * channels at a time (4, 2 or 1), whichever takes fewest estimated cycles (blocks of four, the rest one at a time,
 * the ring's lines built: groups of four from words of four channels, of two from halfwords, single channels from
 * bytes; a call per line and group) among the plans whose rings fit RING_BYTES; the rings' words (three lines of
 * 2 ceil(len / 4) + 1 pairs per channel, `group` of them); no ring (one pixel at a time) when none fits. */
typedef struct {
    int32_t columns, words, group;
} plan_3x3_t;

/* four rings of lines of up to 64 outputs (VWW's 48x48 layers: 1,200 bytes), two of up to 130, one of up to 264;
 * a port short of RAM may build with -DPML_M4_SCRATCH_GOAL=<bytes> (conv_s8_simd32.c takes it too) */
#ifdef PML_M4_SCRATCH_GOAL
#define RING_BYTES PML_M4_SCRATCH_GOAL
#else
#define RING_BYTES 1600
#endif

/* one channel's ring: three lines of pairs of places; up to GROUP of them, one per channel of a group */
#define GROUP 4

static int32_t ring_words(int32_t len) {
    return 3 * (2 * ((len + 3) / 4) + 1);
}

/* per channel: `lines` output lines of len outputs, in groups of 1 << log2g channels */
static int32_t cost_3x3(int32_t len, int32_t lines, int32_t log2g) {
    return lines * (80 * (len / 4) + 30 * (len % 4) + (10 + (8 >> log2g)) * (len + 2) + 40 + (80 >> log2g));
}

static plan_3x3_t plan_3x3(int32_t out_h, int32_t out_w) {
    plan_3x3_t plan = {0, 0, 0};
    int32_t best = 0;
    for (int32_t columns = 0; columns < 2; columns++) {
        const int32_t len = columns ? out_h : out_w, lines = columns ? out_w : out_h;
        for (int32_t log2g = 2; log2g >= 0; log2g--) {
            const int32_t group = 1 << log2g, words = group * ring_words(len), cost = cost_3x3(len, lines, log2g);
            if (4 * words <= RING_BYTES && (plan.words == 0 || cost < best)) {
                plan.columns = columns;
                plan.words = words;
                plan.group = group;
                best = cost;
            }
        }
    }
    return plan;
}

/* Whether the requantization above holds for channel c: see the top of the file. The sums of at most MAX_TAPS
 * products of at most 2^14 stay under 2^19, so |bias| < 2^30 - 2^19 bounds |acc| by 2^30. */
static int fast_channel(int32_t bias, int32_t mult, int32_t shift) {
    return mult >= 0 && shift <= -1 && shift >= -22 && bias > -(1 << 30) + (1 << 19) && bias < (1 << 30) - (1 << 19);
}

/* An input line of a group of two channels into their rings (the other at w + ring) from x (place first): two
 * channels' places p, p + 1 from two halfwords, (c0 p, c1 p, c0 p+1, c1 p+1), then SXTB16 and SXTB16 ROR 8. */
static inline void line_2(const int8_t *x, uint32_t *w, int32_t ring, int32_t place_step, int32_t single_first,
                            int32_t n2, int32_t single_last) {
    if (single_first) {
        ((int16_t *)w)[1] = x[0];
        ((int16_t *)(w + ring))[1] = x[1];
        w += 3;
        x += place_step;
    }
    for (uint32_t *const end = w + 3 * n2; w != end; w += 3, x += 2 * place_step) {
        uint16_t a, c;
        __builtin_memcpy(&a, x, 2);
        __builtin_memcpy(&c, x + place_step, 2);
        const uint32_t u = (uint32_t)a | (uint32_t)c << 16;
        w[0] = pml_sxtb16(u);
        w[ring] = pml_sxtb16_ror8(u);
    }
    if (single_last) {
        ((int16_t *)w)[0] = x[0];
        ((int16_t *)(w + ring))[0] = x[1];
    }
}

/* A group of g (1..GROUP) channels' 3x3, stride 1, dilation 1: output lines of `len` outputs each (rows, or
 * columns when `columns`), `lines` of them, each channel j from its ring at buf + j ring_words: input line l
 * (counting the padding before the image) goes to slot l % 3, then output line r = l - 2 is made from the three
 * slots, kernel row t at slot (r + t) % 3 (channel j's constants krot[j][r % 3]). image and out at the group's
 * first channel. The rings' places outside [first, last) hold the zero point (channels_3x3 fills the rings with
 * it); an input line writes the others, a group of four from words of four channels. */
static NOINLINE void group_3x3(const geom_t *d, int columns, int32_t out_h, int32_t out_w, int32_t pad_top,
                               int32_t pad_left, int32_t g, const int32_t krot[GROUP][3][K_WORDS], int8_t *out,
                               uint32_t *buf) {
    const int32_t len = columns ? out_h : out_w, lines = columns ? out_w : out_h;
    const int32_t pairs = 2 * ((len + 3) / 4) + 1, places = 2 * pairs, ring = 3 * pairs;
    const uint32_t zp2 = 0x00010001u * (uint16_t)(int16_t)(int8_t)d->zp4;
    const int32_t pad_line = columns ? pad_left : pad_top, pad_place = columns ? pad_top : pad_left;
    const int32_t in_lines = columns ? d->in_w : d->in_h, in_places = columns ? d->in_h : d->in_w;
    const int32_t place_step = columns ? d->in_w * d->c : d->c, line_step = columns ? d->c : d->in_w * d->c;
    const int32_t out_place = columns ? out_w * d->c : d->c, out_line = columns ? d->c : out_w * d->c;
    /* the buffer places inside the image, [first, last): a single place at first when it is odd, then n2 pairs,
     * then a single place when `single_last` */
    const int32_t first = pad_place, last = pad_place + in_places < places ? pad_place + in_places : places;
    const int32_t single_first = first & 1, n2 = (last - first - single_first) >> 1;
    const int32_t single_last = (last - first - single_first) & 1;
    const int32_t full = len / 4;
    blocks_t b;
    b.g = g;
    b.ring = 4 * ring;
    int32_t s = 0, t = 0;       /* the slot of input line l, the rotation of output line l - 2 */
    for (int32_t l = 0; l < lines + 2; l++) {
        const int32_t in_line = l - pad_line;
        if (in_line < 0 || in_line >= in_lines) {
            for (int32_t j = 0; j < g; j++) {
                uint32_t *w = buf + j * ring + s;
                for (int32_t k = 0; k < pairs; k++, w += 3) {
                    *w = zp2;
                }
            }
        } else if (g == GROUP) {
            const int8_t *x = d->image + in_line * line_step;
            uint32_t *w = buf + s + 3 * (first >> 1);
            if (single_first) {
                for (int32_t j = 0; j < GROUP; j++) {
                    ((int16_t *)(w + j * ring))[1] = x[j];
                }
                w += 3;
                x += place_step;
            }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 2
#endif
            for (uint32_t *const end = w + 3 * n2; w != end; w += 3, x += 2 * place_step) {
                const uint32_t u = ld32(x), v = ld32(x + place_step);
                const uint32_t u02 = pml_sxtb16(u), v02 = pml_sxtb16(v);
                const uint32_t u13 = pml_sxtb16_ror8(u), v13 = pml_sxtb16_ror8(v);
                w[0] = pml_pkhbt(u02, v02);
                w[ring] = pml_pkhbt(u13, v13);
                w[2 * ring] = pml_pkhtb(v02, u02);
                w[3 * ring] = pml_pkhtb(v13, u13);
            }
            if (single_last) {
                for (int32_t j = 0; j < GROUP; j++) {
                    ((int16_t *)(w + j * ring))[0] = x[j];
                }
            }
        } else if (g == 2) {
            line_2(d->image + in_line * line_step, buf + s + 3 * (first >> 1), ring, place_step, single_first, n2,
                   single_last);
        } else {
            for (int32_t j = 0; j < g; j++) {
                const int8_t *x = d->image + in_line * line_step + j;
                uint32_t *w = buf + j * ring + s + 3 * (first >> 1);
                if (single_first) {
                    ((int16_t *)w)[1] = *x;
                    w += 3;
                    x += place_step;
                }
                for (uint32_t *const end = w + 3 * n2; w != end; w += 3, x += 2 * place_step) {
                    *w = pml_pkhbt((uint32_t)x[0], (uint32_t)x[place_step]);
                }
                if (single_last) {
                    ((int16_t *)w)[0] = *x;
                }
            }
        }
        s = s == 2 ? 0 : s + 1;
        if (l >= 2) {
            int8_t *o = out + (l - 2) * out_line;
            b.q = buf;
            b.end = buf + 6 * full;
            b.k = krot[0][t];
            b.out = o;
            b.step = out_place;
            blocks_3x3(&b);
            t = t == 2 ? 0 : t + 1;
            if (!d->full) {
                for (int32_t i = 0; i < len; i++, o += out_place) {
                    for (int32_t j = 0; j < g; j++) {
                        o[j] = (int8_t)clamp(o[j], d);
                    }
                }
            }
        }
    }
}

/* Every channel of a 3x3, stride-1, dilation-1 op through group_3x3 in groups of GROUP (the last one smaller), a
 * group with a channel whose constants do not suit the requantization to the generic kernel. */
static void channels_3x3(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                         const pml_operand_t *output, geom_t *d, plan_3x3_t plan, uint32_t *buf) {
    const int columns = plan.columns;
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *mult = (const int32_t *)inputs[3].data, *shift = (const int32_t *)inputs[4].data;
    const int32_t q_step = pml_count(&inputs[3]) == d->c ? 1 : 0;
    const int32_t batches = pml_dim(&inputs[0], 0), out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t len = columns ? out_h : out_w;
    /* the rings' places in the padding: the zero point, for every channel */
    const uint32_t zp2 = 0x00010001u * (uint16_t)(int16_t)(int8_t)d->zp4;
    for (int32_t i = 0, n = plan.words; i < n; i++) {
        buf[i] = zp2;
    }
    int32_t krot[GROUP][3][K_WORDS];
    for (int32_t c0 = 0; c0 < d->c; c0 += plan.group) {
        const int32_t g = d->c - c0 < plan.group ? d->c - c0 : plan.group;
        int fast = 1;
        for (int32_t j = 0; j < g; j++) {
            fast = fast && fast_channel(bias[c0 + j], mult[(c0 + j) * q_step], shift[(c0 + j) * q_step]);
        }
        if (!fast) {
            pml_depthwise_channels(p, inputs, output, c0, c0 + g);
            continue;
        }
        for (int32_t j = 0; j < g; j++) {
            const int32_t c = c0 + j, q = c * q_step, e = -shift[q];
            /* kernel row t along the lines ((ky, kx) = (t, i) for rows, (i, t) for columns), doubled, as (u, v) */
            uint32_t kw[3][2];
            const int8_t *f = filter + c;
            const int32_t along = columns ? 3 * d->c : d->c, across = columns ? d->c : 3 * d->c;
            for (int32_t t = 0; t < 3; t++, f += across) {
                const uint32_t f0 = (uint32_t)(2 * f[0]), f1 = (uint32_t)(2 * f[along]);
                const uint32_t f2 = (uint32_t)(2 * f[2 * along]);
                kw[t][0] = pml_pkhbt(f0, f1);
                kw[t][1] = pml_pkhbt(f1, f2);
            }
            /* rotation r: kernel row t at slot (r + t) % 3 */
            int32_t *k = krot[j][0];
            k[K_BIAS2] = 2 * bias[c];
            k[K_MULT] = mult[q];
            k[K_ROUND] = (int32_t)(1u << (e - 1)) + (int32_t)((uint32_t)p->output_offset << e);
            k[K_SHIFT] = e;
            k[K_REST] = len % 4;
            for (int32_t r = 0; r < 3; r++, k += K_WORDS) {
                if (r > 0) {
                    for (int32_t i = K_BIAS2; i < K_WORDS; i++) {
                        k[i] = k[i - K_WORDS];
                    }
                }
                const int32_t s1 = r == 2 ? 0 : r + 1, s2 = r == 0 ? 2 : r - 1;
                k[K_W + 2 * r] = (int32_t)kw[0][0];
                k[K_W + 2 * r + 1] = (int32_t)kw[0][1];
                k[K_W + 2 * s1] = (int32_t)kw[1][0];
                k[K_W + 2 * s1 + 1] = (int32_t)kw[1][1];
                k[K_W + 2 * s2] = (int32_t)kw[2][0];
                k[K_W + 2 * s2 + 1] = (int32_t)kw[2][1];
            }
        }
        for (int32_t b = 0; b < batches; b++) {
            d->image = (const int8_t *)inputs[0].data + b * d->in_h * d->in_w * d->c + c0;
            group_3x3(d, columns, out_h, out_w, p->pad_top, p->pad_left, g, (const int32_t(*)[3][K_WORDS])krot,
                      (int8_t *)output->data + b * out_h * out_w * d->c + c0, buf);
        }
    }
}

/* ---- any filter, one pixel at a time ------------------------------------------------------------------------ */

/* The output pixel whose window starts at input (iy0, ix0): columns cs bytes apart, rows rs bytes apart. */
__attribute__((noinline)) static void pixel(const geom_t *d, const group_t *g, int32_t iy0, int32_t ix0, int8_t *out,
                                            uint32_t *patch) {
    const int8_t *x;
    int32_t cs, rs;
    if (iy0 >= 0 && iy0 + (d->kh - 1) * d->dh < d->in_h && ix0 >= 0 && ix0 + (d->kw - 1) * d->dw < d->in_w) {
        x = d->image + (iy0 * d->in_w + ix0) * d->c;
        cs = d->dw * d->c;
        rs = d->dh * d->in_w * d->c;
    } else {
        for (int32_t ky = 0, t = 0; ky < d->kh; ky++) {
            for (int32_t kx = 0; kx < d->kw; kx++, t++) {
                patch[t] = word_at(d, iy0 + ky * d->dh, ix0 + kx * d->dw);
            }
        }
        x = (const int8_t *)patch;
        cs = 4;
        rs = 4 * d->kw;
    }
    int32_t a0 = g->bias2[0], a1 = g->bias2[1], a2 = g->bias2[2], a3 = g->bias2[3];
    const uint32_t (*w)[2] = g->w;
    /* the taps in their order (rows of kw), a filter of one column as one row of kh (1-D convolutions down the
     * rows: one loop over the taps) */
    int32_t rows = d->kh, cols = d->kw;
    if (cols == 1) {
        cols = rows;
        rows = 1;
        cs = rs;
    }
    for (int32_t ky = 0; ky < rows; ky++, x += rs) {
        const int8_t *r = x;
        for (int32_t kx = 0; kx < cols; kx++, r += cs, w++) {
            mac4(ld32(r), *w, &a0, &a1, &a2, &a3);
        }
    }
    const int32_t a[4] = {a0, a1, a2, a3};
    store4(out, g, d, a);
}

/* Whether the requantization above holds for the four channels of a group: see the top of the file. The sums
 * of at most MAX_TAPS products of at most 2^14 stay under 2^19, so |bias| < 2^30 - 2^19 bounds |acc| by 2^30. */
static int fast_requantization(const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t q_step) {
    for (int32_t k = 0; k < 4; k++) {
        const int32_t q = k * q_step;
        if (mult[q] < 0 || shift[q] > -1 || shift[q] < -22 || bias[k] <= -(1 << 30) + (1 << 19)
            || bias[k] >= (1 << 30) - (1 << 19)) {
            return 0;
        }
    }
    return 1;
}

/* ---- depth multiplier > 1, any filter: one pixel at a time --------------------------------------------------
 * Output channel oc reads input channel oc / m. Per pixel, each group of four output channels sums over the taps
 * with one filter word per tap (SXTB16, SXTB16 ROR 8): when the group reads one input channel (m a multiple of 4,
 * or a group inside one channel's m outputs), one LDRSB of the input value and four SMLABB/SMLATB; else the
 * group's input bytes gathered into a word (SXTB16 pairs as in mac4). The window is copied to the scratch (every
 * input channel, the zero point in the padding) where it reaches into the padding. The requantization as above,
 * on twice the sum; its conditions for every channel, with |bias| < 2^30 - taps 2^14, else the generic kernel. */

#if DW_MULTIPLIER
#define PATCH_BYTES 2048        /* the largest window copy; past it windows in the padding take the generic kernel */

typedef struct {
    const int8_t *filter;
    const int32_t *bias, *mult, *shift;
    int32_t q_step, out_c, n, offset;   /* n: the output channels in groups of four; offset: the output's */
} mult_t;

/* The scratch the op takes (bytes of the window's copy), or -1 when the generic kernel runs it. */
static int32_t mult_patch(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                          const pml_operand_t *output) {
    const int32_t in_h = pml_dim(&inputs[0], 1), in_w = pml_dim(&inputs[0], 2), c = pml_dim(&inputs[0], 3);
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    const int64_t last_y = (int64_t)(pml_dim(output, 1) - 1) * p->stride_h - p->pad_top
                           + (int64_t)(kh - 1) * pml_dilation(p->dilation_h, kh);
    const int64_t last_x = (int64_t)(pml_dim(output, 2) - 1) * p->stride_w - p->pad_left
                           + (int64_t)(kw - 1) * pml_dilation(p->dilation_w, kw);
    if (p->pad_top <= 0 && p->pad_left <= 0 && last_y < in_h && last_x < in_w) {
        return 0;
    }
    const int64_t bytes = (int64_t)kh * kw * c;
    return bytes <= PATCH_BYTES ? (int32_t)((bytes + 3) & ~3) : -1;
}

/* a[k] += the products of a filter row's kw taps (filter words at f, fs bytes apart) with one input value per tap
 * (at r, cs bytes apart), for a group of four output channels that read one input channel; two taps a step. Out of
 * line: the sums stay in registers. */
static NOINLINE void row_one(const int8_t *r, const int8_t *f, int32_t kw, int32_t cs, int32_t fs, int32_t *a) {
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    if (kw & 1) {
        const uint32_t v = (uint32_t)(int32_t)*r, w = ld32(f);
        r += cs;
        f += fs;
        const uint32_t f02 = pml_sxtb16(w), f13 = pml_sxtb16_ror8(w);
        a0 = pml_smlabb(f02, v, a0);
        a2 = pml_smlatb(f02, v, a2);
        a1 = pml_smlabb(f13, v, a1);
        a3 = pml_smlatb(f13, v, a3);
    }
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
    /* in assembly: gcc keeps the steps on the stack (20 instructions for 8 MACs here, 24 from gcc) */
    int32_t n = kw >> 1;
    uint32_t v, w, t;
    if (n > 0) {
#define PML_TAP4 "sxtb16 %[t], %[w]\n sxtb16 %[w], %[w], ror #8\n smlabb %[a0], %[t], %[v], %[a0]\n" \
    "smlatb %[a2], %[t], %[v], %[a2]\n smlabb %[a1], %[w], %[v], %[a1]\n smlatb %[a3], %[w], %[v], %[a3]\n"
        __asm__ volatile(
            "1:\n ldrsb %[v], [%[r]]\n ldr %[w], [%[f]]\n" PML_TAP4
            "ldrsb %[v], [%[r], %[cs]]\n ldr %[w], [%[f], %[fs]]\n"
            "add %[r], %[r], %[cs], lsl #1\n add %[f], %[f], %[fs], lsl #1\n" PML_TAP4
            "subs %[n], %[n], #1\n bne 1b\n"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [r] "+r"(r), [f] "+r"(f), [n] "+r"(n),
              [v] "=&r"(v), [w] "=&r"(w), [t] "=&r"(t)
            : [cs] "r"(cs), [fs] "r"(fs)
            : "cc", "memory");
#undef PML_TAP4
    }
#else
    for (int32_t n = kw >> 1; n > 0; n--) {
        for (int32_t k = 0; k < 2; k++, r += cs, f += fs) {
            const uint32_t v = (uint32_t)(int32_t)*r, w = ld32(f);
            const uint32_t f02 = pml_sxtb16(w), f13 = pml_sxtb16_ror8(w);
            a0 = pml_smlabb(f02, v, a0);
            a2 = pml_smlatb(f02, v, a2);
            a1 = pml_smlabb(f13, v, a1);
            a3 = pml_smlatb(f13, v, a3);
        }
    }
#endif
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}

/* The same for a group whose four channels read inputs at r, r + o1, r + o2, r + o3 (gathered into a word) */
static NOINLINE void row_gather(const int8_t *r, const int8_t *f, int32_t kw, int32_t cs, int32_t fs, int32_t o1,
                                int32_t o2, int32_t o3, int32_t *a) {
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    for (int32_t n = kw; n > 0; n--, r += cs, f += fs) {
        const uint8_t *u = (const uint8_t *)r;
        const uint32_t v = u[0] | (uint32_t)u[o1] << 8 | (uint32_t)u[o2] << 16 | (uint32_t)u[o3] << 24;
        const uint32_t w = ld32(f);
        const uint32_t x02 = pml_sxtb16(v), x13 = pml_sxtb16_ror8(v);
        const uint32_t f02 = pml_sxtb16(w), f13 = pml_sxtb16_ror8(w);
        a0 = pml_smlabb(x02, f02, a0);
        a2 = pml_smlatt(x02, f02, a2);
        a1 = pml_smlabb(x13, f13, a1);
        a3 = pml_smlatt(x13, f13, a3);
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}

static NOINLINE void pixel_mult(const geom_t *d, const mult_t *m, int32_t iy0, int32_t ix0, int8_t *out,
                                int8_t *patch) {
    const int8_t *x;
    int32_t cs, rs;
    if (iy0 >= 0 && iy0 + (d->kh - 1) * d->dh < d->in_h && ix0 >= 0 && ix0 + (d->kw - 1) * d->dw < d->in_w) {
        x = d->image + (iy0 * d->in_w + ix0) * d->c;
        cs = d->dw * d->c;
        rs = d->dh * d->in_w * d->c;
    } else {
        int8_t *w = patch;
        for (int32_t ky = 0; ky < d->kh; ky++) {
            const int32_t iy = iy0 + ky * d->dh;
            for (int32_t kx = 0; kx < d->kw; kx++) {
                const int32_t ix = ix0 + kx * d->dw;
                const int in = iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w;
                for (int32_t j = 0; j < d->c; j++) {
                    *w++ = in ? d->image[(iy * d->in_w + ix) * d->c + j] : (int8_t)d->zp4;
                }
            }
        }
        x = patch;
        cs = d->c;
        rs = d->kw * d->c;
    }
    const int32_t mul = d->m, kw = d->kw, fs = m->out_c;
    for (int32_t c0 = 0; c0 < m->n; c0 += 4) {
        const int32_t ic = c0 / mul, o1 = (c0 + 1) / mul - ic, o2 = (c0 + 2) / mul - ic, o3 = (c0 + 3) / mul - ic;
        const int8_t *f = m->filter + c0, *xs = x + ic;
        int32_t a[4] = {0, 0, 0, 0};
        for (int32_t ky = 0; ky < d->kh; ky++, xs += rs) {
            const int8_t *r = xs;
            if (o3 == 0) {
                row_one(r, f, kw, cs, fs, a);
                f += kw * fs;
            } else {
                row_gather(r, f, kw, cs, fs, o1, o2, o3, a);
                f += kw * fs;
            }
        }
        for (int32_t k = 0; k < 4; k++) {
            const int32_t q = (c0 + k) * m->q_step, e = -m->shift[q];
            const rq_t rq = {m->mult[q], (int32_t)(1u << (e - 1)) + (int32_t)((uint32_t)m->offset << e), e};
            const int32_t t = requantize2(2 * (a[k] + m->bias[c0 + k]), &rq);
            out[c0 + k] = (int8_t)(d->full ? pml_ssat8(t) : clamp(t, d));
        }
    }
}

/* Every output channel of an op with depth multiplier > 1 in groups of four, the last 1-3 and ops whose constants
 * do not suit the requantization to the generic kernel. */
static void channels_mult(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                          const pml_operand_t *output, geom_t *d, int8_t *patch) {
    mult_t m;
    m.filter = (const int8_t *)inputs[1].data;
    m.bias = (const int32_t *)inputs[2].data;
    m.mult = (const int32_t *)inputs[3].data;
    m.shift = (const int32_t *)inputs[4].data;
    m.out_c = pml_dim(output, 3);
    m.q_step = pml_count(&inputs[3]) == m.out_c ? 1 : 0;
    m.offset = p->output_offset;
    m.n = m.out_c & ~3;
    const int32_t lim = (1 << 30) - d->kh * d->kw * (1 << 14);
    for (int32_t k = 0; k < m.n; k++) {
        const int32_t q = k * m.q_step;
        if (m.mult[q] < 0 || m.shift[q] > -1 || m.shift[q] < -22 || m.bias[k] <= -lim || m.bias[k] >= lim) {
            m.n = 0;
        }
    }
    if (mult_patch(p, inputs, output) < 0) {
        m.n = 0;
    }
    const int32_t batches = pml_dim(&inputs[0], 0), out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    for (int32_t b = 0; m.n > 0 && b < batches; b++) {
        d->image = (const int8_t *)inputs[0].data + b * d->in_h * d->in_w * d->c;
        int8_t *out = (int8_t *)output->data + b * out_h * out_w * m.out_c;
        for (int32_t oy = 0; oy < out_h; oy++) {
            for (int32_t ox = 0; ox < out_w; ox++, out += m.out_c) {
                pixel_mult(d, &m, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, out, patch);
            }
        }
    }
    if (m.n < m.out_c) {
        pml_depthwise_channels(p, inputs, output, m.n, m.out_c);
    }
}
#endif

/* Bytes of scratch: the 3x3 kernels' line buffer, or one window of words for pixel() (its window where it
 * reaches into the padding). */
uint32_t pml_depthwise_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs,
                                          const pml_operand_t *output) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    if (p->depth_multiplier != 1) {
#if DW_MULTIPLIER
        const int32_t bytes = mult_patch(p, inputs, output);
        return bytes > 0 ? (uint32_t)bytes : 0;
#else
        return 0;
#endif
    }
    if (kh * kw > MAX_TAPS) {
        return 0;
    }
    if (kh == 3 && kw == 3 && p->stride_h == 1 && p->stride_w == 1 && pml_dilation(p->dilation_h, kh) == 1
        && pml_dilation(p->dilation_w, kw) == 1) {
        const plan_3x3_t plan = plan_3x3(pml_dim(output, 1), pml_dim(output, 2));
        if (plan.words > 0) {
            return 4 * (uint32_t)plan.words;
        }
    }
    return 4 * (uint32_t)(kh * kw);
}

void pml_depthwise_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                              const pml_operand_t *output, void *scratch) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    (void)n_inputs;
    geom_t d;
    const int32_t batches = pml_dim(&inputs[0], 0);
    d.in_h = pml_dim(&inputs[0], 1);
    d.in_w = pml_dim(&inputs[0], 2);
    d.c = pml_dim(&inputs[0], 3);
    d.kh = pml_dim(&inputs[1], 1);
    d.kw = pml_dim(&inputs[1], 2);
    d.dh = pml_dilation(p->dilation_h, d.kh);
    d.dw = pml_dilation(p->dilation_w, d.kw);
    const int32_t taps = d.kh * d.kw, out_c = pml_dim(output, 3);
    d.zp4 = 0x01010101u * (uint8_t)(int8_t)-p->input_offset;
    d.lo = p->act_min;
    d.hi = p->act_max;
    d.full = d.lo <= -128 && d.hi >= 127;
    d.m = p->depth_multiplier;
    if (d.m != 1) {
#if DW_MULTIPLIER
        channels_mult(p, inputs, output, &d, (int8_t *)scratch);
#else
        pml_depthwise_channels(p, inputs, output, 0, out_c);
#endif
        return;
    }
    if (taps > MAX_TAPS) {
        pml_depthwise_channels(p, inputs, output, 0, out_c);
        return;
    }
    const int32_t n = d.c & ~3;
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *mult = (const int32_t *)inputs[3].data, *shift = (const int32_t *)inputs[4].data;
    const int32_t q_step = pml_count(&inputs[3]) == d.c ? 1 : 0;
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int s1_3x3 = d.kh == 3 && d.kw == 3 && sh == 1 && sw == 1 && d.dh == 1 && d.dw == 1;
    const plan_3x3_t plan = plan_3x3(out_h, out_w);
    if (s1_3x3 && plan.words > 0) {
        channels_3x3(p, inputs, output, &d, plan, (uint32_t *)scratch);
        return;
    }
    group_t g;
    for (int32_t c0 = 0; c0 < n; c0 += 4) {
        if (!fast_requantization(bias + c0, mult + c0 * q_step, shift + c0 * q_step, q_step)) {
            pml_depthwise_channels(p, inputs, output, c0, c0 + 4);
            continue;
        }
        for (int32_t t = 0; t < taps; t++) {
            const uint32_t f = ld32(filter + t * d.c + c0);
            const uint32_t f02 = pml_sxtb16(f), f13 = pml_sxtb16_ror8(f);
            g.w[t][0] = ((f02 << 1) & 0xfffeu) | ((f02 & 0xffff0000u) << 1);
            g.w[t][1] = ((f13 << 1) & 0xfffeu) | ((f13 & 0xffff0000u) << 1);
        }
        for (int k = 0; k < 4; k++) {
            const int32_t q = (c0 + k) * q_step, e = -shift[q];
            g.bias2[k] = 2 * bias[c0 + k];
            g.rq[k].mult = mult[q];
            g.rq[k].shift = e;
            g.rq[k].round = (int32_t)(1u << (e - 1)) + (int32_t)((uint32_t)p->output_offset << e);
        }
        for (int32_t b = 0; b < batches; b++) {
            d.image = (const int8_t *)inputs[0].data + b * d.in_h * d.in_w * d.c + c0;
            int8_t *out = (int8_t *)output->data + b * out_h * out_w * d.c + c0;
            for (int32_t oy = 0; oy < out_h; oy++) {
                for (int32_t ox = 0; ox < out_w; ox++) {
                    pixel(&d, &g, oy * sh - p->pad_top, ox * sw - p->pad_left, out + (oy * out_w + ox) * d.c,
                          (uint32_t *)scratch);
                }
            }
        }
    }
    if (n < out_c) {
        pml_depthwise_channels(p, inputs, output, n, out_c);
    }
}

#endif
