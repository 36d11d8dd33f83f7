/* Per-channel requantization for the Armv6-M kernels (conv_s8_armv6m.c, depthwise_conv_s8_armv6m.c,
 * fully_connected_s8_armv6m.c): the results of requantize_channels.h (pml_mbqm(acc, multiplier, shift) + offset,
 * clamped) in 32-bit operations only. The Cortex-M0 has no 32 x 32 -> 64 multiply: the 64-bit product
 * acc * multiplier is put together from four 16 x 16 products (each fits 32 bits), then rounded as
 * requantize_right / requantize_left do: floor((X + round) / 2^(31 + e)), the rounding constant (less 2^31 for a
 * negative product) prepared per channel as two 32-bit halves. */
#ifndef PICOML_REQUANTIZE_ARMV6M_H
#define PICOML_REQUANTIZE_ARMV6M_H

#include <stdint.h>

#include "requantize_channels.h"

typedef struct {
    int32_t fast;           /* the shortcut below applies: multiplier > 0, shift in [-15, -1] */
    uint32_t mh, ml;        /* multiplier >> 16, multiplier & 0xffff */
    int32_t k;              /* floor(round / 2^16) */
    int32_t fast_shift;     /* 15 + e */
    int32_t multiplier;
    uint32_t lo[2];         /* low words of the rounding constant: [0] for a product >= 0, [1] for one < 0 */
    int32_t hi[2];          /* high words */
    int32_t left, right1;   /* as requant_t: right1 = e - 1 >= 0 for shift = -e < 0, else -1 */
} rq6_t;

static inline void rq6_init(rq6_t *q, int32_t multiplier, int32_t shift) {
    requant_t r;
    requant_init(&r, multiplier, shift);
    q->multiplier = multiplier;
    q->left = r.left;
    q->right1 = r.right1;
    const uint64_t round = (uint64_t)r.round;
    const uint64_t neg = r.right1 >= 0 ? round - ((uint64_t)1 << 31) : round;
    q->lo[0] = (uint32_t)round;
    q->hi[0] = (int32_t)(uint32_t)(round >> 32);
    q->lo[1] = (uint32_t)neg;
    q->hi[1] = (int32_t)(uint32_t)(neg >> 32);
    q->fast = multiplier > 0 && shift <= -1 && shift >= -15;
    q->mh = (uint32_t)multiplier >> 16;
    q->ml = (uint32_t)multiplier & 0xffffu;
    q->k = (int32_t)(round >> 16);
    q->fast_shift = 15 - shift;
}

/* The general case (rare: kept out of line, the kernels' code lives in the heap of a native module) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int8_t rq6_apply_slow(int32_t acc, const rq6_t *q, const out_range_t *o) {
    const int32_t a = (int32_t)((uint32_t)acc << q->left), m = q->multiplier;
    const uint32_t al = (uint32_t)a & 0xffffu, ml = (uint32_t)m & 0xffffu;
    const int32_t ah = a >> 16, mh = m >> 16;
    const uint32_t ll = al * ml;
    const int32_t x1 = ah * (int32_t)ml, x2 = (int32_t)al * mh;
    /* the product: hi * 2^32 + lo */
    const uint32_t mid = (ll >> 16) + ((uint32_t)x1 & 0xffffu) + ((uint32_t)x2 & 0xffffu);
    uint32_t lo = (mid << 16) | (ll & 0xffffu);
    int32_t hi = ah * mh + (x1 >> 16) + (x2 >> 16) + (int32_t)(mid >> 16);
    const int neg = hi < 0;
    const uint32_t sum = lo + q->lo[neg];
    hi = (int32_t)((uint32_t)hi + (uint32_t)q->hi[neg] + (sum < lo ? 1u : 0u));
    lo = sum;
    const int32_t y = q->right1 >= 0 ? hi >> q->right1 : (int32_t)(((uint32_t)hi << 1) | (lo >> 31));
    return clamp_offset(y, o);
}

/* The shortcut for |acc| <= 2^15 (most sums), multiplier > 0 and shift = -e in [-15, -1]: with the rounding
 * constant R = 2^30 + 2^(30+e) (less 2^31 for acc < 0), whose low 16 bits are 0,
 *   floor((acc * multiplier + R) / 2^(31+e)) = floor((acc * mh + floor(acc * ml / 2^16) + R / 2^16) / 2^(15+e)),
 * every term in int32: |acc * ml| < 2^31, |acc * mh| <= 2^30, R / 2^16 <= 2^29 + 2^14. */
static inline int8_t rq6_apply(int32_t acc, const rq6_t *q, const out_range_t *o) {
    if (q->fast && (uint32_t)acc + 32768u <= 65536u) {
        const int32_t u = acc * (int32_t)q->mh + ((acc * (int32_t)q->ml) >> 16) + q->k + ((acc >> 31) * 32768);
        return clamp_offset(u >> q->fast_shift, o);
    }
    return rq6_apply_slow(acc, q, o);
}
#endif
