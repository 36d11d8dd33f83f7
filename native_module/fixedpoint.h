/* TFLite's integer requantization arithmetic (gemmlowp rounding), exactly as its reference kernels do it. */
#ifndef PICOML_FIXEDPOINT_H
#define PICOML_FIXEDPOINT_H

#include <stdint.h>

/* min(max(x, lo), hi), as TFLite clamps (hi wins should lo exceed it). */
static inline int8_t pml_clamp_s8(int32_t x, int32_t lo, int32_t hi) {
    x = x < lo ? lo : x;
    return (int8_t)(x > hi ? hi : x);
}

/* The signed 64-bit product of two int32. Cortex-M0/M0+ (armv6m) have no 32 x 32 -> 64 multiply: gcc calls
 * libgcc's __aeabi_lmul there, which a MicroPython native module cannot link, so there (and whenever
 * PML_NO_LIBGCC is defined, which lets the host tests run this path) the product is put together from four
 * 16 x 16 -> 32 products (pml_mul_halves). */
#if defined(__ARM_ARCH_6M__) && !defined(PML_NO_LIBGCC)
#define PML_NO_LIBGCC 1
#endif

/* The signed 64-bit product of two int32 as its high and low words, from four 16 x 16 -> 32 products (each fits
 * 32 bits), in 32-bit operations only. */
typedef struct {
    int32_t hi;
    uint32_t lo;
} pml_halves_t;

static inline pml_halves_t pml_mul_halves(int32_t a, int32_t b) {
    const uint32_t al = (uint32_t)a & 0xffffu, bl = (uint32_t)b & 0xffffu;
    const int32_t ah = a >> 16, bh = b >> 16, x1 = ah * (int32_t)bl, x2 = (int32_t)al * bh;
    const uint32_t ll = al * bl, mid = (ll >> 16) + ((uint32_t)x1 & 0xffffu) + ((uint32_t)x2 & 0xffffu);
    const pml_halves_t p = {ah * bh + (x1 >> 16) + (x2 >> 16) + (int32_t)(mid >> 16), (mid << 16) | (ll & 0xffffu)};
    return p;
}

static inline int64_t pml_mul_s64(int32_t a, int32_t b) {
#if defined(PML_NO_LIBGCC)
    const pml_halves_t p = pml_mul_halves(a, b);
    return (int64_t)(((uint64_t)(uint32_t)p.hi << 32) | p.lo);
#else
    return (int64_t)a * b;
#endif
}

/* gemmlowp SaturatingRoundingDoublingHighMul: (ab + nudge) / 2^31 truncated toward zero, nudge 2^30 for ab >= 0
 * and 1 - 2^30 below, which is floor((ab + 2^30) / 2^31) in both cases (for ab < 0 the sum ab + 1 - 2^30 is
 * negative, and truncating it adds 2^31 - 1 before the floor), one arithmetic shift. */
static inline int32_t pml_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
#if defined(PML_NO_LIBGCC)
    /* from the product's two words (gcc's 64-bit additions and shifts take about three times the instructions on
     * the Cortex-M0) */
    const pml_halves_t p = pml_mul_halves(a, b);
    const uint32_t lo2 = p.lo + (1u << 30);
    return (int32_t)((((uint32_t)p.hi + (lo2 < p.lo ? 1u : 0u)) << 1) | (lo2 >> 31));
#else
    return (int32_t)((pml_mul_s64(a, b) + (1 << 30)) >> 31);
#endif
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, halves away from zero (exponent in [0, 31]). */
static inline int32_t pml_rdbpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)((1u << exponent) - 1u);
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
