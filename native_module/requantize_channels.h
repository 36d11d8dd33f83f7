/* Per-channel requantization for the convolution family (conv, depthwise conv, fully connected): the same
 * results as pml_mbqm(acc, multiplier, shift) + offset with the clamp, in fewer operations per output. */
#ifndef PICOML_REQUANTIZE_CHANNELS_H
#define PICOML_REQUANTIZE_CHANNELS_H

#include <stdint.h>

#include "fixedpoint.h"

/* Requantization: pml_mbqm(acc, multiplier, shift) + offset, clamped to [act_min, act_max]; the same results in
 * fewer operations (tests/test_c_conv.py checks them against pml_mbqm).
 * For shift = -e < 0, srdhm rounds X = acc * multiplier + 2^30 down by 2^31, then rdbpot adds 2^(e-1), less 1
 * when X < 0, and rounds down by 2^e. Since floor((floor(X / 2^31) + c) / 2^e) = floor((X + c 2^31) / 2^(31+e))
 * for an integer c, both roundings are one: (X + 2^(30+e) - (X < 0 ? 2^31 : 0)) >> (31 + e), where testing
 * acc * multiplier < 0 instead of X < 0 changes nothing. The shift is taken as the high word shifted by e - 1:
 * no 64-bit variable shift, which is a libgcc call on 32-bit targets.
 * For shift >= 0 it is ((acc << shift) * multiplier + 2^30) >> 31.
 * Only multiplier = INT32_MIN can saturate the doubling high multiply: the host never produces it and
 * pml_check refuses it (check.h); shifts are in [-31, 31]. The clamp bounds are moved by the offset, so that nothing overflows. */
typedef struct {
    int64_t round;          /* 2^30 + 2^(30+e) */
    int32_t multiplier;
    int16_t left, right1;   /* left = shift > 0 ? shift : 0; right1 = e - 1, or -1 when shift >= 0 */
} requant_t;

typedef struct {
    int32_t lo, hi, offset;
} out_range_t;

/* 2^n for 0 <= n < 63 without a 64-bit variable shift */
static inline int64_t pow2(int32_t n) {
    return n < 32 ? (int64_t)((uint32_t)1 << n) : (int64_t)((uint32_t)1 << (n - 32)) * ((int64_t)1 << 32);
}

static inline void requant_init(requant_t *q, int32_t multiplier, int32_t shift) {
    q->multiplier = multiplier;
    q->left = (int16_t)(shift > 0 ? shift : 0);
    q->right1 = (int16_t)(shift > 0 ? -1 : -shift - 1);
    q->round = pow2(30) + (shift < 0 ? pow2(30 - shift) : 0);
}

static inline void out_range_init(out_range_t *o, int32_t offset, int32_t act_min, int32_t act_max) {
    o->offset = offset;
    o->lo = act_min - offset;
    o->hi = act_max - offset;
}

/* min(max(y + offset, act_min), act_max), as TFLite clamps (act_max wins should act_min exceed it) */
static inline int8_t clamp_offset(int32_t y, const out_range_t *o) {
    y = y < o->lo ? o->lo : y;
    y = y > o->hi ? o->hi : y;
    return (int8_t)(y + o->offset);
}

/* shift < 0 */
static inline int8_t requantize_right(int32_t acc, const requant_t *q, const out_range_t *o) {
    const int64_t p = pml_mul_s64(acc, q->multiplier);
    const int64_t x = p + q->round - (p < 0 ? (int64_t)1 << 31 : 0);
    return clamp_offset((int32_t)(x >> 32) >> q->right1, o);
}

/* shift >= 0 */
static inline int8_t requantize_left(int32_t acc, const requant_t *q, const out_range_t *o) {
    const int64_t p = pml_mul_s64((int32_t)((uint32_t)acc << q->left), q->multiplier);
    return clamp_offset((int32_t)((p + (1 << 30)) >> 31), o);
}

static inline int8_t requantize(int32_t acc, const requant_t *q, const out_range_t *o) {
    return q->right1 >= 0 ? requantize_right(acc, q, o) : requantize_left(acc, q, o);
}

/* The usual constants in fewer operations: a multiplier >= 0 and shift = -e with e in [2, 23] (right >= 0),
 * the output offset folded in. With z = acc * multiplier + 2^30 - (acc < 0 ? 2^31 : 0), which for a multiplier
 * >= 0 is X above less 2^(30+e) (acc * multiplier < 0 only when acc < 0; when the product is 0 the 2^31 less
 * changes nothing, e >= 1), the result is floor((z + 2^(30+e)) / 2^(31+e)) + offset
 * = (hi(z) + 2^(e-2) + offset * 2^(e-1)) >> (e-1), since 2^(30+e) is a whole multiple of 2^32: the low word
 * of z only ever adds a fraction below 1. |hi(z)| <= 2^30 + 1 and |2^(e-2) + offset * 2^(e-1)| < 2^29, so the
 * sum fits 32 bits. On the Cortex-M4 that is ASR, EOR, SMLAL, ADD, ASR, and SSAT for the int8 clamp. */
typedef struct {
    int32_t multiplier, round, right;   /* right = e - 1, or -1 when the constants need requantize() */
} requant_fast_t;

static inline void requant_fast_init(requant_fast_t *q, int32_t multiplier, int32_t shift, int32_t offset) {
    q->multiplier = multiplier;
    q->right = multiplier >= 0 && shift <= -2 && shift >= -23 ? -shift - 1 : -1;
    q->round = q->right >= 0 ? (int32_t)((uint32_t)(1 + 2 * offset) << (-shift - 2)) : 0;
}

/* requant_fast_t's result before the clamp: pml_mbqm(acc, multiplier, shift) + offset (right >= 0) */
static inline int32_t requantize_fast(int32_t acc, const requant_fast_t *q) {
    const int32_t sign = acc >> 31;
    const uint64_t start = ((uint64_t)(uint32_t)sign << 32) | (0x40000000u ^ ((uint32_t)sign << 31));
    const int64_t z = (int64_t)(start + (uint64_t)pml_mul_s64(acc, q->multiplier));
    return ((int32_t)(z >> 32) + q->round) >> q->right;
}

#endif
