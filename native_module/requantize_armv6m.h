/* Per-channel requantization for the Armv6-M kernels (conv_s8_armv6m.c, depthwise_conv_s8_armv6m.c,
 * fully_connected_s8_armv6m.c): the results of requantize_channels.h (pml_mbqm(acc, multiplier, shift) + offset,
 * clamped) in 32-bit operations only. The Cortex-M0 has no 32 x 32 -> 64 multiply.
 *
 * The shortcut (rq6f_t, most outputs): for a multiplier M > 0, shift = -e with e in [1, 22] and |acc| < 2^19
 * (and, with every piece 0, the channels whose outputs are all 0 there: rq6_zero),
 * with the rounding constant R = 2^30 + 2^(30+e) (less 2^31 for acc < 0), a multiple of 2^22, and M cut into
 * 11-bit pieces M = m2 2^22 + m1 2^11 + m0:
 *   floor((acc M + R) / 2^(31+e)) = Z2 >> (9 + e), where Z0 = acc m0, Z1 = acc m1 + (Z0 >> 11),
 *   Z2 = acc m2 + (Z1 >> 11) + R / 2^22
 * (floor division carried piece by piece; every term is below 2^31 in magnitude: |acc m1| < 2^30,
 * |R / 2^22| <= 2^8 + 2^30). The general case (rq6_t, rq6_apply_slow): the 64-bit product acc * multiplier put
 * together from four 16 x 16 products (each fits 32 bits), then rounded as requantize_right / requantize_left do:
 * floor((X + round) / 2^(31 + e)), the rounding constant (less 2^31 for a negative product) prepared per channel
 * as two 32-bit halves.
 * pml_armv6m_requant (requantize_armv6m.c, in assembly on the core) requantizes a run of outputs by the shortcut
 * from a table of rq6f_t; pml_armv6m_rq6_run finishes what it leaves (an accumulator out of the shortcut's range). */
#ifndef PICOML_REQUANTIZE_ARMV6M_H
#define PICOML_REQUANTIZE_ARMV6M_H

#include <stdint.h>

#include "requantize_channels.h"

#define RQ6_FAST_LIMIT (1 << 19)    /* the shortcut takes |acc| < 2^19 (acc + 2^19 in [0, 2^20)) */

/* The shortcut's constants of a channel (the layout pml_armv6m_requant reads: 5 words) */
typedef struct {
    int32_t m0, m1, m2;     /* the multiplier's 11-bit pieces */
    int32_t k;              /* R / 2^22 for acc >= 0: 2^8 + 2^(8+e) */
    int32_t shift;          /* 9 + e, or 0 when the shortcut does not apply to the channel */
} rq6f_t;

typedef struct {
    rq6f_t f;
    int32_t multiplier;
    struct {
        uint32_t lo;
        int32_t hi;
    } round[2];             /* the rounding constant's words: [0] for a product >= 0, [1] for one < 0 */
    int32_t left, right1;   /* as requant_t: right1 = e - 1 >= 0 for shift = -e < 0, else -1 */
} rq6_t;

/* The shortcut applies: multiplier > 0, shift in [-22, -1] */
static inline int rq6_fast(int32_t multiplier, int32_t shift) {
    return multiplier > 0 && shift <= -1 && shift >= -22;
}

/* Every accumulator of the shortcut's range requantizes to 0: a zero multiplier (any shift: the doubling high
 * multiply of anything by 0 is 0), or a positive one with shift below -22 (|acc M| < 2^50, so the doubling high
 * multiply is at most 2^19 + 1 in magnitude, which a rounding division by 2^23 or more takes to 0). Trained models
 * have such channels (vww_96_int8: dead filters, shifts down to -31). */
static inline int rq6_zero(int32_t multiplier, int32_t shift) {
    return multiplier == 0 || (multiplier > 0 && shift < -22);
}

static inline void rq6f_init(rq6f_t *f, int32_t multiplier, int32_t shift) {
    const int fast = rq6_fast(multiplier, shift);
    const uint32_t m = fast ? (uint32_t)multiplier : 0u;
    f->m0 = (int32_t)(m & 0x7ffu);
    f->m1 = (int32_t)((m >> 11) & 0x7ffu);
    f->m2 = (int32_t)(m >> 22);
    f->k = fast ? (int32_t)((1u << 8) + (1u << (8 - shift))) : 0;
    f->shift = fast ? 9 - shift : 0;
    if (rq6_zero(multiplier, shift)) {
        /* the pieces 0: (k - 512 [acc < 0]) >> 10 = 0 for either sign */
        f->k = 512;
        f->shift = 10;
    }
}

/* The constants of a multiplier and shift (in requantize_armv6m.c: one copy, its 64-bit constants are long in
 * Thumb-1) */
void pml_armv6m_rq6_init(rq6_t *q, int32_t multiplier, int32_t shift);

/* The general case (rare: kept out of line, the kernels' code lives in the heap of a native module) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int8_t rq6_apply_slow(int32_t acc, const rq6_t *q, const out_range_t *o) {
    /* the product: hi * 2^32 + lo */
    const pml_halves_t p = pml_mul_halves((int32_t)((uint32_t)acc << q->left), q->multiplier);
    uint32_t lo = p.lo;
    int32_t hi = p.hi;
    const int neg = hi < 0;
    const uint32_t sum = lo + q->round[neg].lo;
    hi = (int32_t)((uint32_t)hi + (uint32_t)q->round[neg].hi + (sum < lo ? 1u : 0u));
    lo = sum;
    const int32_t y = q->right1 >= 0 ? hi >> q->right1 : (int32_t)(((uint32_t)hi << 1) | (lo >> 31));
    return clamp_offset(y, o);
}

/* The shortcut; the caller checked f->shift != 0 and |acc| < 2^19 */
static inline int32_t rq6f_apply(int32_t acc, const rq6f_t *f) {
    const int32_t z1 = acc * f->m1 + ((acc * f->m0) >> 11);
    const int32_t z2 = acc * f->m2 + (z1 >> 11) + f->k + (acc >> 31) * 512;
    return z2 >> f->shift;
}

static inline int8_t rq6_apply(int32_t acc, const rq6_t *q, const out_range_t *o) {
    if (q->f.shift != 0 && (uint32_t)acc + RQ6_FAST_LIMIT < 2u * RQ6_FAST_LIMIT) {
        return clamp_offset(rq6f_apply(acc, &q->f), o);
    }
    return rq6_apply_slow(acc, q, o);
}

/* The requantization of one output from the operand's multiplier and shift (what the shortcut leaves; in
 * requantize_armv6m.c: one copy for the kernels) */
int8_t pml_armv6m_rq6_exact(int32_t acc, int32_t multiplier, int32_t shift, const out_range_t *o);

/* out[i] = acc[i] requantized exactly with q, i < n, any accumulators (in requantize_armv6m.c: in assembly on the
 * core for the constants of most element-wise ops, about 50 cycles an output) */
void pml_armv6m_rq6_exact_run(const int32_t *acc, const rq6_t *q, int8_t *out, int32_t n, const out_range_t *range);

/* out[i] = the requantized acc[i] by the shortcut with the constants q[i], i < n, as long as every acc[i] is in
 * its range; returns the number done (n, or the index of the first accumulator out of range). Every q[i] must
 * have its shift != 0 (the kernels' `fast` flag for a whole table; pml_armv6m_rq6_run checks each channel of one that
 * is not). When the range's low end is 0 (after a ReLU) a negative accumulator of any size gives that end without
 * a multiply (its output is at most 0), and a positive one needs no low clamp: in assembly on the core about 32
 * cycles an output then, 16 a negative one; 40 otherwise. */
int32_t pml_armv6m_requant(const int32_t *acc, const rq6f_t *q, int8_t *out, int32_t n, const out_range_t *range);

/* out[i] = acc[i] requantized with channel c0 + i's constants, i < n: the shortcut through q[i] (a run of them by
 * pml_armv6m_requant when `fast`: every q[i] takes it) for the channels that take it, else (and for the
 * accumulators out of its range) from multipliers / shifts (index (c0 + i) * q_step). In requantize_armv6m.c: one
 * copy for the kernels. */
void pml_armv6m_rq6_run(const int32_t *acc, const rq6f_t *q, int fast, int8_t *out, int32_t n,
                        const out_range_t *range, const int32_t *multipliers, const int32_t *shifts, int32_t c0,
                        int32_t q_step);

/* The shortcut's pieces in Thumb-1 (rq6f_apply's z2 before the sign term and the shift): the accumulator in r3,
 * the constants m0, m1, m2, k in r4-r7; z2 in r6. Clobbers r4, r5. */
#define PML_ARMV6M_PIECES_ASM \
    "muls r4, r3, r4\n asrs r4, r4, #11\n" \
    "muls r5, r3, r5\n adds r5, r5, r4\n asrs r5, r5, #11\n" \
    "muls r6, r3, r6\n adds r6, r6, r5\n adds r6, r6, r7\n"

/* The shortcut in Thumb-1 assembly, for the kernels' assembly loops: the accumulator in r3 requantized with the
 * constants at r1 (advanced past them), clamped to [r9, r10], offset by r11 and stored at r2 (advanced); an
 * accumulator outside the shortcut's range branches to the label OUT (e.g. "8f"); A and B are two local labels
 * free at the place of use. Clobbers r3-r7. */
#define PML_ARMV6M_REQUANT_ASM(OUT, A, B) \
    "movs r4, #1\n lsls r4, r4, #19\n adds r4, r3, r4\n lsrs r4, r4, #20\n bne " OUT "\n" \
    PML_ARMV6M_REQUANT_SAFE_ASM(A, B)

/* The same for an accumulator known to be in the shortcut's range (no check) */
#define PML_ARMV6M_REQUANT_SAFE_ASM(A, B) \
    "ldm r1!, {r4, r5, r6, r7}\n" \
    PML_ARMV6M_PIECES_ASM \
    "asrs r3, r3, #31\n lsls r3, r3, #9\n adds r6, r6, r3\n" \
    "ldm r1!, {r4}\n asrs r6, r6, r4\n" \
    "cmp r6, r9\n bge " A "f\n mov r6, r9\n" \
    A ":\n cmp r6, r10\n ble " B "f\n mov r6, r10\n" \
    B ":\n add r6, r11\n strb r6, [r2]\n adds r2, #1\n"

/* The same without the check, for an accumulator in r3 and the range's lo, hi and offset in r12, lr, r0 (where
 * the kernel keeps its sums in r8 .. r11): requantize straight from the registers, the output stored at r2 + OFF
 * (r2 not advanced). A negative accumulator gives
 * y <= 0 (acc M + R < 2^(31+e) for the R of acc < 0), so when lo >= 0 (act_min at or above the output offset, as
 * after a ReLU) its output is lo + offset without a multiply; when lo < 0 it takes R's 2^31 off k (at 45) and the
 * shortcut as a positive one. Clobbers r3-r7. */
#define PML_ARMV6M_REQUANT_REG_ASM(OFF) \
    "cmp r3, #0\n blt 44f\n" \
    "ldm r1!, {r4, r5, r6, r7}\n" \
    "45:\n" PML_ARMV6M_PIECES_ASM \
    "ldm r1!, {r4}\n asrs r6, r4\n" \
    "cmp r6, r12\n bge 41f\n mov r6, r12\n" \
    "41:\n cmp r6, lr\n ble 42f\n mov r6, lr\n b 42f\n" \
    "44:\n mov r4, r12\n cmp r4, #0\n blt 46f\n adds r1, #20\n mov r6, r12\n b 42f\n" \
    "46:\n ldm r1!, {r4, r5, r6, r7}\n subs r7, #255\n subs r7, #255\n subs r7, #2\n b 45b\n" \
    "42:\n add r6, r0\n strb r6, [r2, #" OFF "]\n"

/* The same for a range whose low end is 0 (after a ReLU): a negative accumulator gives 0 (plus the offset) and a
 * positive one y >= 0 (every piece, k and acc >= 0), so only the high end is clamped. Clobbers r3-r7. */
#define PML_ARMV6M_REQUANT_RELU_ASM(OFF) \
    "cmp r3, #0\n blt 44f\n" \
    "ldm r1!, {r4, r5, r6, r7}\n" \
    PML_ARMV6M_PIECES_ASM \
    "ldm r1!, {r4}\n asrs r6, r4\n" \
    "cmp r6, lr\n ble 42f\n mov r6, lr\n b 42f\n" \
    "44:\n adds r1, #20\n movs r6, #0\n" \
    "42:\n add r6, r0\n strb r6, [r2, #" OFF "]\n"

#endif
