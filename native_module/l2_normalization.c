/* L2_NORMALIZATION, int8 [outer, depth] -> int8 in scale 1/128 (TFLite Micro's reference_integer_ops::
 * L2Normalization): per row the int32 sum of the squared (x - zero point), its inverse square root as a
 * multiplier and shift (GetInvSqrtQuantizedMultiplierExp: five Newton-Raphson steps of gemmlowp's fixed point),
 * each value rescaled by it and 2^7, clamped. A depth of at most 33025 (the check) keeps the sum an int32.
 * Reference: reference_l2_normalization in host/picoml/ops/nonlinear.py. Only in the full module
 * (native_module/Makefile's PML_FULL_ONLY_FILES). */
#include "check.h"
#include "fixedpoint_gemmlowp.h"
#include "picoml.h"

#define MAX_DEPTH 33025     /* 33025 * 255^2 < 2^31 */

PML_COLD int pml_l2_normalization_check(const void *params, const pml_operand_t *inputs,
                                        const pml_operand_t *output, pml_check_t *c) {
    (void)params;
    PML_NEED(c, pml_count(output) == pml_count(&inputs[0]), PML_R_SIZE, pml_count(output));
    PML_NEED(c, pml_dim(&inputs[0], 1) <= MAX_DEPTH, PML_R_L2_DEPTH, pml_dim(&inputs[0], 1));
    c->work = pml_work_mul(pml_count(output), 2);
    return PML_OK;
}

/* 1/sqrt(x) ~ *multiplier 2^(*shift - 31), *shift <= 0, for x >= 0 (0 and 1: INT32_MAX and 0) */
static void inv_sqrt(int32_t x, int32_t *multiplier, int32_t *shift) {
    if (x <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    int32_t s = 11;
    while (x >= (1 << 29)) {
        x /= 4;
        s++;
    }
    const int pairs = (pml_fp_clz((uint32_t)x) - 1) / 2 - 1;
    s -= pairs;
    x = (int32_t)((uint32_t)x << (2 * pairs));                /* now in [2^27, 2^29): Q3.28 of [0.5, 2) */
    const int32_t half_input = pml_rdbpot(x >> 1, 1);
    const int32_t half_three = (1 << 28) + (1 << 27);         /* 1.5 in Q3.28 */
    int32_t r = 1 << 28;                                      /* 1.0 */
    for (int i = 0; i < 5; i++) {
        const int32_t r3 = pml_fp_shl_sat(pml_srdhm(pml_srdhm(r, r), r), 6);
        r = pml_fp_shl_sat(pml_fp_sub(pml_srdhm(half_three, r), pml_srdhm(half_input, r3)), 3);
    }
    r = pml_srdhm(r, 1518500250);                             /* sqrt(2) / 2 in Q0.31 */
    if (s < 0) {
        r = (int32_t)((uint32_t)r << -s);
        s = 0;
    }
    *multiplier = r;
    *shift = -s;
}

void pml_l2_normalization_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                             const pml_operand_t *output, void *scratch) {
    const pml_l2_normalization_params_t *p = (const pml_l2_normalization_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    const int32_t depth = pml_dim(&inputs[0], 1), rows = pml_dim(&inputs[0], 0), zp = p->input_zero_point;
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *out = (int8_t *)output->data;
    for (int32_t r = 0; r < rows; r++, x += depth, out += depth) {
        int32_t sum = 0;
        for (int32_t i = 0; i < depth; i++) {
            sum += (x[i] - zp) * (x[i] - zp);
        }
        int32_t multiplier, shift;
        inv_sqrt(sum, &multiplier, &shift);
        for (int32_t i = 0; i < depth; i++) {
            out[i] = pml_clamp_s8(pml_mbqm(x[i] - zp, multiplier, shift + 7), -128, 127);
        }
    }
}
