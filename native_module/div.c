/* DIV, int8, NumPy broadcasting to the output's shape (Keras's softsign, a division of two activations): TFLite
 * Micro's DivElementwise -- the divisor made positive, its reciprocal by GetReciprocal (gemmlowp's 1 / (1 + x) and
 * a power of two; a divisor of 0 through the same arithmetic, as TFLite Micro's), the dividend shifted to its
 * headroom, multiplied, rescaled. The DIV_SHIFT rule (output_shift 7..22) keeps every rounding shift in 0..31.
 * Reference: reference_div in host/picoml/ops/elementwise.py. Only in the full module (native_module/Makefile's
 * PML_FULL_ONLY_FILES). */
#include "broadcast.h"
#include "check.h"
#include "fixedpoint_gemmlowp.h"
#include "picoml.h"

/* TFLite's CountLeadingSignBits of an int32 in -255..255 (31 for 0) */
static inline int leading_sign_bits(int32_t x) {
    return x >= 0 ? pml_fp_clz((uint32_t)x) - 1 : pml_fp_clz((uint32_t)(2 * -x - 1));
}

static inline int8_t div_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    const pml_div_params_t *p = (const pml_div_params_t *)params;
    int32_t x = x1 + p->input1_offset, y = x2 + p->input2_offset;
    if (y < 0) {
        x = -x;
        y = -y;
    }
    const int zeros = pml_fp_clz((uint32_t)y);
    const int32_t inverse = pml_fp_one_over_one_plus_x_for_x_in_0_1(
        zeros < 32 ? (int32_t)(((uint32_t)y << zeros) - 0x80000000u) : INT32_MIN);
    const int headroom = leading_sign_bits(x);
    const int32_t unscaled = pml_srdhm((int32_t)((uint32_t)x << headroom), inverse);
    int32_t r = pml_rdbpot(pml_srdhm(unscaled, p->output_multiplier), (31 - zeros) + headroom - p->output_shift);
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

PML_COLD int pml_div_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                           pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

void pml_div_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                void *scratch) {
    const pml_div_params_t *p = (const pml_div_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output, div_one);
}
