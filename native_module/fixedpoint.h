/* TFLite's integer requantization arithmetic (gemmlowp rounding), exactly as its reference kernels do it. */
#ifndef PICOML_FIXEDPOINT_H
#define PICOML_FIXEDPOINT_H

#include <stdint.h>

/* min(max(x, lo), hi), as TFLite clamps (hi wins should lo exceed it). */
static inline int8_t pml_clamp_s8(int32_t x, int32_t lo, int32_t hi) {
    x = x < lo ? lo : x;
    return (int8_t)(x > hi ? hi : x);
}

/* gemmlowp SaturatingRoundingDoublingHighMul. */
static inline int32_t pml_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t t = ab + (ab >= 0 ? (1 << 30) : (1 - (1 << 30)));
    /* division by 2^31 truncating toward zero */
    return (int32_t)(t >= 0 ? (t >> 31) : -((-t) >> 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, halves away from zero. */
static inline int32_t pml_rdbpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier: x * multiplier * 2^shift, multiplier in Q31. */
static inline int32_t pml_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return pml_rdbpot(pml_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

#endif
