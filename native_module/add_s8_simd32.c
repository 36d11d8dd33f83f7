/* ADD and SUB, int8, over inputs of the output's shape (no broadcasting), on a core with the Armv7E-M DSP extension
 * (simd32.h): the bytes of add.c's portable kernel, whose three MultiplyByQuantizedMultiplier calls per element
 * are each three instructions here instead of 64-bit arithmetic (about 25 instructions an element against 130).
 *
 * Each is rescale2 (rescale_simd32.h), the output offset folded into the last one's constant. The
 * values double without overflow: |x + offset| <= 255, so 2 ((x + offset) << left_shift) < 2^30 and twice the sum
 * of the two rescaled inputs (each no larger than its input) < 2^31 for left_shift <= 21. Other constants (a
 * negative multiplier, a left shift of a value, an output shift outside [-22, -1]) take the portable kernel. */
#include "add_s8_simd32.h"
#include "rescale_simd32.h"

#if PML_SIMD32

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
