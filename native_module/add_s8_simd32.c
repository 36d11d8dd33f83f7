/* ADD and SUB, int8, over inputs of the output's shape (no broadcasting), on a core with the Armv7E-M DSP extension
 * (simd32.h): the bytes of add.c's portable kernel, whose three MultiplyByQuantizedMultiplier calls per element
 * are each three instructions here instead of 64-bit arithmetic (about 25 instructions an element against 130).
 *
 * TFLite's SaturatingRoundingDoublingHighMul(v, M) is SMMULR(2 v, M) exactly when 2 v fits int32 (no saturation
 * for M >= 0), and its RoundingDivideByPOT by e >= 1 is (x + 2^(e-1) - [v < 0]) >> e (depthwise_conv_s8_simd32.c
 * derives both), so one value is
 *     t = (SMMLAR(2 v, M, 2^(e-1)) + ((2 v) >> 31)) >> e,     for e = 0: SMMLAR(2 v, M, 0),
 * the output offset o folded into the last one's constant (2^(e-1) + o 2^e, an exact multiple of 2^e). The
 * values double without overflow: |x + offset| <= 255, so 2 ((x + offset) << left_shift) < 2^30 and twice the sum
 * of the two rescaled inputs (each no larger than its input) < 2^31 for left_shift <= 21. Other constants (a
 * negative multiplier, a left shift of a value, an output shift outside [-22, -1]) take the portable kernel. */
#include "add_s8_simd32.h"

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
__attribute__((noinline))
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

int pml_add_sub_s8_simd32(const pml_add_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output,
                          int subtract) {
    const int32_t n = pml_count(output);
    rescale_t q1, q2, qo;
    if (pml_count(&inputs[0]) != n || pml_count(&inputs[1]) != n || p->left_shift > 21
        || !rescale_init(&q1, p->input1_multiplier, p->input1_shift, 0, 31)
        || !rescale_init(&q2, p->input2_multiplier, p->input2_shift, 0, 31)
        || !rescale_init(&qo, p->output_multiplier, p->output_shift, p->output_offset, 22) || qo.e == 0) {
        return 0;
    }
    const int8_t *x1 = (const int8_t *)inputs[0].data, *x2 = (const int8_t *)inputs[1].data;
    int8_t *out = (int8_t *)output->data;
    const int32_t shift = p->left_shift + 1, off1 = p->input1_offset, off2 = p->input2_offset;
    const int32_t lo = p->act_min, hi = p->act_max, negate = subtract ? -1 : 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t a = rescale2((int32_t)((uint32_t)(x1[i] + off1) << shift), &q1);
        const int32_t b = rescale2((int32_t)((uint32_t)(x2[i] + off2) << shift), &q2);
        const int32_t sum = a + ((b ^ negate) - negate);
        const int32_t t = rescale2((int32_t)((uint32_t)sum << 1), &qo);
        out[i] = (int8_t)(t < lo ? lo : t > hi ? hi : t);
    }
    return 1;
}

#endif
