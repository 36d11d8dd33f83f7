/* The rescaling of the element-wise ops (ADD, SUB, MUL) on a core with the Armv7E-M DSP extension (simd32.h):
 * TFLite's MultiplyByQuantizedMultiplier(v, M, -e) in three instructions instead of 64-bit arithmetic.
 *
 * TFLite's SaturatingRoundingDoublingHighMul(v, M) is SMMULR(2 v, M) exactly when 2 v fits int32 (no saturation
 * for M >= 0), and its RoundingDivideByPOT by e >= 1 is (x + 2^(e-1) - [v < 0]) >> e (depthwise_conv_s8_simd32.c
 * derives both), so one value is
 *     t = (SMMLAR(2 v, M, 2^(e-1)) + ((2 v) >> 31)) >> e,     for e = 0: SMMLAR(2 v, M, 0),
 * an output offset o folded into the constant (2^(e-1) + o 2^e, an exact multiple of 2^e). */
#ifndef PICOML_RESCALE_SIMD32_H
#define PICOML_RESCALE_SIMD32_H

#include "simd32.h"

#if PML_SIMD32

typedef struct {
    int32_t m, round, sign, e;  /* M, the rounding constant, -1 when the sign correction applies (e >= 1), e */
} rescale_t;

static inline int32_t rescale2(int32_t v2, const rescale_t *q) {
    return (pml_smmlar(v2, q->m, q->round) + ((v2 >> 31) & q->sign)) >> q->e;
}

/* The constants of multiplier m and shift -e (0 <= e <= max_e, m >= 0), the offset folded in (e >= 1); 0 when
 * they do not suit the shortcut. */
#if defined(__GNUC__)
__attribute__((noinline, unused))
#endif
static int rescale_init(rescale_t *q, int32_t m, int32_t shift, int32_t offset, int32_t max_e) {
    const int32_t e = -shift;
    if (m < 0 || e < 0 || e > max_e || (e == 0 && offset != 0)) {
        return 0;
    }
    q->m = m;
    q->e = e;
    q->sign = e ? -1 : 0;
    q->round = e ? (int32_t)(1u << (e - 1)) + (int32_t)((uint32_t)offset << e) : 0;
    return 1;
}

#endif

#endif
