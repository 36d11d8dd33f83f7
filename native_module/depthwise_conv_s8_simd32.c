/* DEPTHWISE_CONV_2D, int8, on the Cortex-M4's SIMD32 instructions (simd32.h): the same bytes as the generic
 * kernel (depthwise_conv.c: pml_depthwise_channels), which runs what this one leaves.
 *
 * It takes depth multiplier 1, the channels in groups of four (one word of input bytes per pixel and tap), any
 * kernel size up to MAX_TAPS taps, stride, dilation and padding, per-channel or per-tensor quantization:
 *   - per group, the filter taps sign-extended and doubled into halfword pairs on the stack, [2 f0, 2 f2] and
 *     [2 f1, 2 f3] (SXTB16), so that an input word unpacked with SXTB16 / SXTB16 ROR 8 feeds four
 *     SMLABB/SMLATT into four int32 sums, which hold twice the accumulator;
 *   - 3x3 filters with stride and dilation 1 (DS-CNN, MobileNet's stride-1 layers): the group's input words,
 *     padding filled with the input zero point, copied into lines of a buffer in the scratch (input rows, or
 *     columns when pairs run down the columns: the axis that leaves fewer single pixels if three of its lines
 *     fit LINES_BYTES, else the shorter lines; plan_3x3); then two neighbouring output pixels at once, which
 *     share three of their four input words per line and every weight load, with no bounds check (pair_3x3:
 *     121 instructions for 72 MACs; one pixel: 3x3_1, 73 for 36). Lines longer than LINE_PLACES_MAX, and other
 *     filters, take one pixel at a time, its window copied to the scratch where it reaches into the padding;
 *   - requantization in three instructions (below) instead of the 64-bit arithmetic of requantize_channels.h,
 *     where its conditions hold for the group's four channels (checked per call: shifts in [-22, -1],
 *     multipliers >= 0, |bias| < 2^30 - 2^19); else the generic kernel runs the group.
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
#define LINES_BYTES 768         /* the 3x3 kernels' ring of lines along the axis of fewer single pixels if it fits */
#define LINE_PLACES_MAX 64      /* at most this many places (output pixels + 2) per line */

/* M4 assembly for the 3x3 kernels below, or their C twins (the portable build, PML_SIMD32_PORTABLE) */
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
#define DW_ASM 1
#else
#define DW_ASM 0
#endif

typedef struct {
    int32_t mult, round, shift; /* M, 2^(e-1) + o 2^e, e */
} rq_t;

typedef struct {
    int32_t step2, step1;       /* the 3x3 kernels' bytes from a pixel's second buffer line to its third (w - 8),
                                 * from its first to its second (w - 4): the lines are a ring of three */
    uint32_t w[MAX_TAPS][2];    /* per tap: [2 f0, 2 f2], [2 f1, 2 f3]; 3x3 pairs: along-minor (below) */
    /* from here at fixed offsets from w, which the assembly reads (pml_dw_offsets_ok) */
    rq_t rq[4];                 /* w + 200 */
    int8_t *out;                /* w + 248: where pairs_3x3 writes the next pixel A, B at out + out_step */
    int32_t out_step;           /* w + 252 */
    int32_t bias2[4];           /* w + 256: 2 bias */
    int32_t count;              /* w + 272: pairs left */
    const int8_t *q;            /* w + 276: the current pair's buffer word */
} group_t;

typedef struct {
    const int8_t *image;        /* the current batch's image, at the group's first channel */
    int32_t in_h, in_w, c;      /* input height, width, channels */
    int32_t kh, kw, dh, dw;
    uint32_t zp4;               /* the input zero point in each byte */
    int32_t lo, hi, full;       /* the activation range; full: it is [-128, 127] */
} geom_t;

/* the offsets pair_3x3_store's assembly reads, from w */
typedef char pml_dw_offsets_ok[(__builtin_offsetof(group_t, rq) - __builtin_offsetof(group_t, w) == 200
                                && __builtin_offsetof(group_t, out) - __builtin_offsetof(group_t, w) == 248
                                && __builtin_offsetof(group_t, out_step) - __builtin_offsetof(group_t, w) == 252
                                && __builtin_offsetof(group_t, bias2) - __builtin_offsetof(group_t, w) == 256
                                && __builtin_offsetof(group_t, count) - __builtin_offsetof(group_t, w) == 272
                                && __builtin_offsetof(group_t, q) - __builtin_offsetof(group_t, w) == 276
                                && __builtin_offsetof(group_t, w) == 8 && sizeof(int8_t *) == 4) || !DW_ASM ? 1 : -1];

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

/* mac4 on a buffer position: its input word already unpacked, x02 and x13 */
static inline void mac4x(const int8_t *q, const uint32_t w[2], int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    const uint32_t x02 = ld32(q), x13 = ld32(q + 4);
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

/* the activation range's clamp on the four bytes at out and at out + step (after SSAT: the same result) */
static void clamp8(int8_t *out, int32_t step, const geom_t *d) {
    for (int k = 0; k < 4; k++) {
        out[k] = (int8_t)clamp(out[k], d);
        out[step + k] = (int8_t)clamp(out[step + k], d);
    }
}

/* The input word of the group at (iy, ix), or the zero points outside the image. */
static inline uint32_t word_at(const geom_t *d, int32_t iy, int32_t ix) {
    if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) {
        return d->zp4;
    }
    return ld32(d->image + (iy * d->in_w + ix) * d->c);
}

/* ---- 3x3, stride and dilation 1, from the line buffer -------------------------------------------------------
 * Buffer word (line j, position i) at q + 8 i + the steps to line j (step1, then step2). An output pixel A at q reads the words
 * (i, j), i, j < 3, with tap (i, j) at g->w[3 j + i] (i along the line: the filter's x for lines that are
 * input rows, its y for columns); its neighbour B at q + 4 reads (i + 1, j) with the same taps. */

#if DW_ASM
#define DW_MAC(acc0, acc1, acc2, acc3) \
    "smlabb %[" acc0 "], %[u], %[w0], %[" acc0 "]\n\t" \
    "smlatt %[" acc2 "], %[u], %[w0], %[" acc2 "]\n\t" \
    "smlabb %[" acc1 "], %[v], %[w1], %[" acc1 "]\n\t" \
    "smlatt %[" acc3 "], %[v], %[w1], %[" acc3 "]\n\t"
#define DW_WORD(offset) "ldrd %[u], %[v], [%[q], #" offset "]\n\t"
#define DW_TAP(offset) "ldrd %[w0], %[w1], [%[w], #" offset "]\n\t"
#define DW_NEXT_LINE1 "ldr %[u], [%[w], #-4]\n\tadd %[q], %[q], %[u]\n\t"
#define DW_NEXT_LINE2 "ldr %[u], [%[w], #-8]\n\tadd %[q], %[q], %[u]\n\t"
/* one line j of a pair: words 0..3, taps 3j..3j+2 at byte offsets T, T+8, T+16 */
#define DW_PAIR_LINE(T0, T1, T2) \
    DW_WORD("0") DW_TAP(T0) DW_MAC("a0", "a1", "a2", "a3") \
    DW_WORD("8") DW_MAC("b0", "b1", "b2", "b3") DW_TAP(T1) DW_MAC("a0", "a1", "a2", "a3") \
    DW_WORD("16") DW_MAC("b0", "b1", "b2", "b3") DW_TAP(T2) DW_MAC("a0", "a1", "a2", "a3") \
    DW_WORD("24") DW_MAC("b0", "b1", "b2", "b3")
#define DW_ONE_LINE(T0, T1, T2) \
    DW_WORD("0") DW_TAP(T0) DW_MAC("a0", "a1", "a2", "a3") \
    DW_WORD("8") DW_TAP(T1) DW_MAC("a0", "a1", "a2", "a3") \
    DW_WORD("16") DW_TAP(T2) DW_MAC("a0", "a1", "a2", "a3")
#endif

#if !DW_ASM
/* acc[0..3] (A) and acc[4..7] (B) += the pair's products */
static inline void pair_3x3(const int8_t *q, const group_t *g, int32_t acc[8]) {
    for (int32_t j = 0; j < 3; j++, q += j == 1 ? g->step1 : g->step2) {
        const uint32_t *w = g->w[3 * j];
        mac4x(q, w, &acc[0], &acc[1], &acc[2], &acc[3]);
        for (int32_t i = 1; i < 3; i++) {
            mac4x(q + 8 * i, w - 2 + 2 * i, &acc[4], &acc[5], &acc[6], &acc[7]);
            mac4x(q + 8 * i, w + 2 * i, &acc[0], &acc[1], &acc[2], &acc[3]);
        }
        mac4x(q + 24, w + 4, &acc[4], &acc[5], &acc[6], &acc[7]);
    }
}
#endif

/* `count` pairs from q on, 8 bytes apart: each from bias2, requantized and clamped to [-128, 127] (the
 * activation range's clamp follows), written to out and out + out_step, out advancing by 2 out_step. */
static void pairs_3x3(const int8_t *q, group_t *g, int8_t *out, int32_t out_step, int32_t count) {
#if DW_ASM
    int32_t a0, a1, a2, a3, b0, b1, b2, b3;
    uint32_t u, v, w0, w1;
    g->out = out;
    g->out_step = out_step;
    g->count = count;
    /* per channel k: M, R at w + 200 + 12 k, e at + 8; A's byte at out + k, B's at out + out_step + k (out_step
     * and then B's address in a0, free after channel 0) */
#define DW_STORE(k, ak, bk, rq, e, outb) \
    "ldrd %[u], %[v], [%[w], #" rq "]\n\t" \
    "smmlar %[w0], %[" bk "], %[u], %[v]\n\t" \
    "smmlar %[u], %[" ak "], %[u], %[v]\n\t" \
    "ldr %[v], [%[w], #" e "]\n\t" \
    "add %[w0], %[w0], %[" bk "], asr #31\n\t" \
    "add %[u], %[u], %[" ak "], asr #31\n\t" \
    "asr %[w0], %[w0], %[v]\n\t" \
    "asr %[u], %[u], %[v]\n\t" \
    "ssat %[w0], #8, %[w0]\n\t" \
    "ssat %[u], #8, %[u]\n\t" \
    "strb %[u], [%[q], #" k "]\n\t" \
    outb \
    "strb %[w0], [%[a0], #" k "]\n\t"
    __asm__ volatile(
        "1:\n\t"
        "str %[q], [%[w], #276]\n\t"
        "ldrd %[a0], %[a1], [%[w], #256]\n\t"
        "ldrd %[a2], %[a3], [%[w], #264]\n\t"
        "mov %[b0], %[a0]\n\t"
        "mov %[b1], %[a1]\n\t"
        "mov %[b2], %[a2]\n\t"
        "mov %[b3], %[a3]\n\t"
        DW_PAIR_LINE("0", "8", "16") DW_NEXT_LINE1
        DW_PAIR_LINE("24", "32", "40") DW_NEXT_LINE2
        DW_PAIR_LINE("48", "56", "64")
        "ldr %[q], [%[w], #248]\n\t"
        DW_STORE("0", "a0", "b0", "200", "208", "ldr %[a0], [%[w], #252]\n\tadd %[a0], %[a0], %[q]\n\t")
        DW_STORE("1", "a1", "b1", "212", "220", "")
        DW_STORE("2", "a2", "b2", "224", "232", "")
        DW_STORE("3", "a3", "b3", "236", "244", "")
        "ldr %[u], [%[w], #252]\n\t"
        "add %[q], %[q], %[u], lsl #1\n\t"
        "str %[q], [%[w], #248]\n\t"
        "ldr %[q], [%[w], #276]\n\t"
        "adds %[q], %[q], #16\n\t"
        "ldr %[u], [%[w], #272]\n\t"
        "subs %[u], %[u], #1\n\t"
        "str %[u], [%[w], #272]\n\t"
        "bne 1b\n\t"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1),
          [b2] "=&r"(b2), [b3] "=&r"(b3), [q] "+r"(q), [u] "=&r"(u), [v] "=&r"(v), [w0] "=&r"(w0), [w1] "=&r"(w1)
        : [w] "r"(g->w)
        : "cc", "memory");   /* reads the buffer and the group, writes the output and the group's count, q, out */
#undef DW_STORE
#else
    for (; count > 0; count--, q += 16, out += 2 * out_step) {
        int32_t acc[8];
        for (int k = 0; k < 4; k++) {
            acc[k] = acc[4 + k] = g->bias2[k];
        }
        pair_3x3(q, g, acc);
        for (int k = 0; k < 4; k++) {
            out[k] = (int8_t)pml_ssat8(requantize2(acc[k], &g->rq[k]));
            out[out_step + k] = (int8_t)pml_ssat8(requantize2(acc[4 + k], &g->rq[k]));
        }
    }
#endif
}

/* The pixel at q from bias2, requantized and clamped to [-128, 127] (the activation range's clamp follows),
 * written to out. */
static void one_3x3(const int8_t *q, group_t *g, int8_t *out) {
#if DW_ASM
    int32_t a0, a1, a2, a3;
    uint32_t u, v, w0, w1;
    g->out = out;
#define DW_STORE1(k, ak, rq, e) \
    "ldrd %[u], %[v], [%[w], #" rq "]\n\t" \
    "smmlar %[w0], %[" ak "], %[u], %[v]\n\t" \
    "ldr %[v], [%[w], #" e "]\n\t" \
    "add %[w0], %[w0], %[" ak "], asr #31\n\t" \
    "asr %[w0], %[w0], %[v]\n\t" \
    "ssat %[w0], #8, %[w0]\n\t" \
    "strb %[w0], [%[q], #" k "]\n\t"
    __asm__ volatile(
        "ldrd %[a0], %[a1], [%[w], #256]\n\t"
        "ldrd %[a2], %[a3], [%[w], #264]\n\t"
        DW_ONE_LINE("0", "8", "16") DW_NEXT_LINE1
        DW_ONE_LINE("24", "32", "40") DW_NEXT_LINE2
        DW_ONE_LINE("48", "56", "64")
        "ldr %[q], [%[w], #248]\n\t"
        DW_STORE1("0", "a0", "200", "208")
        DW_STORE1("1", "a1", "212", "220")
        DW_STORE1("2", "a2", "224", "232")
        DW_STORE1("3", "a3", "236", "244")
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [q] "+r"(q), [u] "=&r"(u), [v] "=&r"(v),
          [w0] "=&r"(w0), [w1] "=&r"(w1)
        : [w] "r"(g->w)
        : "memory");   /* reads the buffer and the group, writes the output */
#undef DW_STORE1
#else
    int32_t acc[4] = {g->bias2[0], g->bias2[1], g->bias2[2], g->bias2[3]};
    for (int32_t j = 0; j < 3; j++, q += j == 1 ? g->step1 : g->step2) {
        for (int32_t i = 0; i < 3; i++) {
            mac4x(q + 8 * i, g->w[3 * j + i], &acc[0], &acc[1], &acc[2], &acc[3]);
        }
    }
    for (int k = 0; k < 4; k++) {
        out[k] = (int8_t)pml_ssat8(requantize2(acc[k], &g->rq[k]));
    }
#endif
}

/* The 3x3 kernels' plan for an image: lines along the output rows or columns (columns: pairs run down the
 * columns), and the buffer's size in words, a ring of three input lines. Pairs go the way that leaves fewer
 * single pixels when its ring fits LINES_BYTES, else along the shorter lines; no ring (one pixel at a time) when
 * a line would exceed LINE_PLACES_MAX places. */
typedef struct {
    int32_t columns, words;
} plan_3x3_t;

static plan_3x3_t plan_3x3(int32_t out_h, int32_t out_w) {
    plan_3x3_t plan;
    plan.columns = (out_h % 2) * out_w < (out_w % 2) * out_h;
    if (3 * 8 * ((plan.columns ? out_h : out_w) + 2) > LINES_BYTES) {
        plan.columns = out_h < out_w;
    }
    const int32_t places = (plan.columns ? out_h : out_w) + 2;
    plan.words = places > LINE_PLACES_MAX ? 0 : 3 * 2 * places;
    return plan;
}

/* One output line of lines_3x3 (below) over buffer lines r0, r1, r2 (line_words each at buf): len pixels from
 * start, out_place bytes apart. */
static void line_3x3(const geom_t *d, group_t *g, uint32_t *buf, int32_t line_words, int32_t r0, int32_t r1,
                     int32_t r2, int8_t *start, int32_t len, int32_t out_place) {
    g->step1 = 4 * line_words * (r1 - r0);
    g->step2 = 4 * line_words * (r2 - r1);
    const int8_t *q = (const int8_t *)(buf + r0 * line_words);
    int8_t *o = start;
    int32_t i = 0;
    if (len >= 2) {
        pairs_3x3(q, g, o, out_place, len / 2);
        i = len & ~1;
        q += 8 * i;
        o += i * out_place;
        if (!d->full) {
            for (int8_t *c = start; c < o; c += 2 * out_place) {
                clamp8(c, out_place, d);
            }
        }
    }
    if (i < len) {
        one_3x3(q, g, o);
        if (!d->full) {
            for (int k = 0; k < 4; k++) {
                o[k] = (int8_t)clamp(o[k], d);
            }
        }
    }
}

/* 3x3, stride 1, dilation 1: output lines of `len` pixels each (rows, or columns when `columns`), `lines` of
 * them, from a ring of three buffer lines at buf: input line l (counting the padding line before the image)
 * goes to the ring's oldest line, then output line l - 2 is made from the three. */
__attribute__((noinline)) static void lines_3x3(const geom_t *d, group_t *g, int columns, int32_t out_h, int32_t out_w,
                                                int32_t pad_top, int32_t pad_left, int8_t *out, uint32_t *buf) {
    const int32_t len = columns ? out_h : out_w, lines = columns ? out_w : out_h;
    const int32_t places = len + 2, line_words = 2 * places;
    const uint32_t zp = pml_sxtb16(d->zp4);     /* x02 and x13 of the zero points */
    /* input position (line l, place i) -> (y, x); steps between places and lines in the image */
    const int32_t pad_line = columns ? pad_left : pad_top, pad_place = columns ? pad_top : pad_left;
    const int32_t in_lines = columns ? d->in_w : d->in_h, in_places = columns ? d->in_h : d->in_w;
    const int32_t place_step = columns ? d->in_w * d->c : d->c, line_step = columns ? d->c : d->in_w * d->c;
    const int32_t out_place = columns ? out_w * d->c : d->c, out_line = columns ? d->c : out_w * d->c;
    /* the places of a line inside the image: [first, last) of the buffer line */
    const int32_t first = pad_place, last = pad_place + in_places < places ? pad_place + in_places : places;
    /* the ring's lines: r2 takes input line l, r0 and r1 hold lines l - 2 and l - 1 */
    int32_t r0 = 1, r1 = 2, r2 = 0;
    for (int32_t l = 0; l < lines + 2; l++) {
        uint32_t *b = buf + r2 * line_words;
        const int32_t in_line = l - pad_line;
        if (in_line < 0 || in_line >= in_lines) {
            for (int32_t i = 0; i < line_words; i++) {
                b[i] = zp;
            }
        } else {
            const int8_t *x = d->image + in_line * line_step;
            int32_t i = 0;
            for (; i < first; i++) {
                b[2 * i] = b[2 * i + 1] = zp;
            }
            for (; i < last; i++, x += place_step) {
                const uint32_t v = ld32(x);
                b[2 * i] = pml_sxtb16(v);
                b[2 * i + 1] = pml_sxtb16_ror8(v);
            }
            for (; i < places; i++) {
                b[2 * i] = b[2 * i + 1] = zp;
            }
        }
        if (l >= 2) {
            /* output line l - 2 over buffer lines r0, r1, r2 */
            line_3x3(d, g, buf, line_words, r0, r1, r2, out + (l - 2) * out_line, len, out_place);
        }
        const int32_t next = r0;
        r0 = r1;
        r1 = r2;
        r2 = next;
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
    int32_t a[4] = {g->bias2[0], g->bias2[1], g->bias2[2], g->bias2[3]};
    const uint32_t (*w)[2] = g->w;
    for (int32_t ky = 0; ky < d->kh; ky++, x += rs) {
        const int8_t *r = x;
        for (int32_t kx = 0; kx < d->kw; kx++, r += cs, w++) {
            mac4(ld32(r), *w, &a[0], &a[1], &a[2], &a[3]);
        }
    }
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

/* Bytes of scratch: the 3x3 kernels' line buffer, or one window of words for pixel() (its window where it
 * reaches into the padding). */
uint32_t pml_depthwise_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs,
                                          const pml_operand_t *output) {
    const pml_depthwise_conv_2d_params_t *p = (const pml_depthwise_conv_2d_params_t *)params;
    const int32_t kh = pml_dim(&inputs[1], 1), kw = pml_dim(&inputs[1], 2);
    if (p->depth_multiplier != 1 || kh * kw > MAX_TAPS) {
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
    if (p->depth_multiplier != 1 || taps > MAX_TAPS) {
        pml_depthwise_channels(p, inputs, output, 0, out_c);
        return;
    }
    const int32_t n = d.c & ~3;
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *mult = (const int32_t *)inputs[3].data, *shift = (const int32_t *)inputs[4].data;
    const int32_t q_step = pml_count(&inputs[3]) == d.c ? 1 : 0;
    d.zp4 = 0x01010101u * (uint8_t)(int8_t)-p->input_offset;
    d.lo = p->act_min;
    d.hi = p->act_max;
    d.full = d.lo <= -128 && d.hi >= 127;
    const int32_t out_h = pml_dim(output, 1), out_w = pml_dim(output, 2);
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int s1_3x3 = d.kh == 3 && d.kw == 3 && sh == 1 && sw == 1 && d.dh == 1 && d.dw == 1;
    const plan_3x3_t plan = plan_3x3(out_h, out_w);
    const int columns = plan.columns, use_lines = s1_3x3 && plan.words > 0;
    group_t g;
    for (int32_t c0 = 0; c0 < n; c0 += 4) {
        if (!fast_requantization(bias + c0, mult + c0 * q_step, shift + c0 * q_step, q_step)) {
            pml_depthwise_channels(p, inputs, output, c0, c0 + 4);
            continue;
        }
        for (int32_t t = 0; t < taps; t++) {
            /* 3x3 pairs down the columns: tap (ky, kx) at 3 kx + ky */
            const int32_t slot = use_lines && columns ? (t % 3) * 3 + t / 3 : t;
            const uint32_t f = ld32(filter + t * d.c + c0);
            const uint32_t f02 = pml_sxtb16(f), f13 = pml_sxtb16_ror8(f);
            g.w[slot][0] = ((f02 << 1) & 0xfffeu) | ((f02 & 0xffff0000u) << 1);
            g.w[slot][1] = ((f13 << 1) & 0xfffeu) | ((f13 & 0xffff0000u) << 1);
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
            if (use_lines) {
                lines_3x3(&d, &g, columns, out_h, out_w, p->pad_top, p->pad_left, out, (uint32_t *)scratch);
                continue;
            }
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
