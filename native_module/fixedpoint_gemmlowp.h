/* gemmlowp's fixed-point exp and reciprocal (gemmlowp/fixedpoint/fixedpoint.h) on raw int32 values, as
 * TensorFlow Lite Micro's int8 SOFTMAX evaluates them. The numpy reference is
 * host/picoml/ops/nonlinear.py. A FixedPoint<int32, m> value is its raw int32 with 31 - m fractional bits.
 * Only 32-bit arithmetic here, apart from what pml_srdhm / pml_rdbpot (fixedpoint.h) do. */
#ifndef PICOML_FIXEDPOINT_GEMMLOWP_H
#define PICOML_FIXEDPOINT_GEMMLOWP_H

#include <stdint.h>

#include "fixedpoint.h"

/* Leading zeros of a 32-bit value (32 for 0), without __builtin_clz: Cortex-M0 has no CLZ and the native
 * module links no libgcc. */
static inline int pml_fp_clz(uint32_t x) {
    int n = 0;
    if (x == 0) {
        return 32;
    }
    if ((x & 0xFFFF0000u) == 0) { n += 16; x <<= 16; }
    if ((x & 0xFF000000u) == 0) { n += 8; x <<= 8; }
    if ((x & 0xF0000000u) == 0) { n += 4; x <<= 4; }
    if ((x & 0xC0000000u) == 0) { n += 2; x <<= 2; }
    if ((x & 0x80000000u) == 0) { n += 1; }
    return n;
}

/* gemmlowp Add / Sub / Neg on int32: two's complement, wrapping. */
static inline int32_t pml_fp_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t pml_fp_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT<n> (and ...Param) for 0 <= n < 31: x * 2^n saturated to int32 (Rescale to fewer
 * integer bits). */
static inline int32_t pml_fp_shl_sat(int32_t x, int n) {
    if (x > (INT32_MAX >> n)) {
        return INT32_MAX;
    }
    if (x < (INT32_MIN >> n)) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << n);
}

/* gemmlowp RoundingHalfSum: (a + b) / 2, the exact half rounded away from zero, without a 64-bit sum:
 * floor((a + b) / 2) plus one when the sum is odd and positive. */
static inline int32_t pml_fp_rounding_half_sum(int32_t a, int32_t b) {
    int32_t half = (a >> 1) + (b >> 1) + (a & b & 1);
    return half + ((a ^ b) & 1 & (half >= 0));
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8. */
static inline int32_t pml_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668;       /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = pml_fp_add(a, 1 << 28);             /* a + 1/8 */
    int32_t x2 = pml_srdhm(x, x);
    int32_t x3 = pml_srdhm(x2, x);
    int32_t x4 = pml_srdhm(x2, x2);
    int32_t x4_over_4 = pml_rdbpot(x4, 2);
    int32_t poly = pml_rdbpot(pml_fp_add(pml_srdhm(pml_fp_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return pml_fp_add(constant_term, pml_srdhm(constant_term, pml_fp_add(x, poly)));
}

/* gemmlowp exp_on_negative_values: exp(a) in Q0.31 for a <= 0 with `integer_bits` integer bits (1..30). */
static inline int32_t pml_fp_exp_on_negative_values(int32_t a, int integer_bits) {
    /* exp(-2^k) in Q0.31 for k = -2 .. 4, the barrel shifter's multipliers */
    static const int32_t exp_of_minus_pot[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    int fractional_bits = 31 - integer_bits;
    int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    int32_t a_mod_quarter_minus_one_quarter = pml_fp_sub(a & (one_quarter - 1), one_quarter);
    int32_t result = pml_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
        pml_fp_shl_sat(a_mod_quarter_minus_one_quarter, integer_bits));
    int32_t remainder = pml_fp_sub(a_mod_quarter_minus_one_quarter, a);
    for (int k = -2; k <= 4 && k < integer_bits; k++) {
        if ((uint32_t)remainder & ((uint32_t)1 << (fractional_bits + k))) {
            result = pml_srdhm(result, exp_of_minus_pot[k + 2]);
        }
    }
    if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) {
        result = 0;     /* below -32 */
    }
    return a == 0 ? INT32_MAX : result;
}

/* The core of one_over_one_plus_x_for_x_in_0_1: for a in Q0.31, about 1 / ((1 + a) / 2) in Q2.29 by three Newton-Raphson steps. */
static inline int32_t pml_fp_newton_reciprocal_of_half_denominator(int32_t a) {
    const int32_t constant_48_over_17 = 1515870810;         /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540;    /* Q2.29 */
    int32_t half_denominator = pml_fp_rounding_half_sum(a, INT32_MAX);
    int32_t x = pml_fp_add(constant_48_over_17, pml_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; i++) {
        int32_t half_denominator_times_x = pml_srdhm(half_denominator, x);
        int32_t one_minus_half_denominator_times_x = pml_fp_sub(1 << 29, half_denominator_times_x);
        /* the product has 4 integer bits: back to 2 */
        x = pml_fp_add(x, pml_fp_shl_sat(pml_srdhm(x, one_minus_half_denominator_times_x), 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
static inline int32_t pml_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    return pml_fp_shl_sat(pml_fp_newton_reciprocal_of_half_denominator(a), 1);
}

#endif
