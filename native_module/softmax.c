/* SOFTMAX over the last axis, int8 in and int8 out (scale 1/256, zero point -128): TFLite Micro's
 * reference_ops::Softmax<int8_t, int8_t> with gemmlowp's fixed-point exp and reciprocal.
 * Reference: reference_softmax in host/picoml/ops/nonlinear.py. */
#include "check.h"
#include "fixedpoint_gemmlowp.h"
#include "picoml.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

/* exp(beta * scale * diff) in Q0.31 for diff = x - max(row) <= 0. The left shift wraps in int32 as TFLite's
 * MultiplyByQuantizedMultiplierGreaterThanOne does. */
static inline int32_t exp_of_diff(const pml_softmax_params_t *p, int32_t diff) {
    int32_t scaled = pml_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
    return pml_fp_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
}

static void softmax_row(const pml_softmax_params_t *p, const int8_t *x, int8_t *y, int32_t depth) {
    int32_t max = x[0];
    for (int32_t i = 1; i < depth; i++) {
        max = x[i] > max ? x[i] : max;
    }
    uint32_t sum = 0;  /* Q12.19; pml_softmax_check keeps depth below 4096 so it cannot wrap */
    for (int32_t i = 0; i < depth; i++) {
        int32_t diff = x[i] - max;
        if (diff >= p->diff_min) {
            sum += (uint32_t)pml_rdbpot(exp_of_diff(p, diff), ACCUMULATION_INTEGER_BITS);
        }
    }
    /* GetReciprocal: 1 / sum scaled into [0.5, 1) in Q0.31, and the power of two taken out. */
    int headroom_plus_one = pml_fp_clz(sum);
    int32_t shifted_sum_minus_one = headroom_plus_one < 32
        ? (int32_t)((sum << headroom_plus_one) - 0x80000000u) : INT32_MIN;
    int32_t shifted_scale = pml_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    int exponent = (ACCUMULATION_INTEGER_BITS - headroom_plus_one) + 31 - 8;
    for (int32_t i = 0; i < depth; i++) {
        int32_t diff = x[i] - max;
        int32_t out = -128;
        /* exponent > 31: the sum is at least 512, every output rounds to 0.0 (TFLite Micro aborts instead) */
        if (diff >= p->diff_min && exponent <= 31) {
            out = pml_rdbpot(pml_srdhm(shifted_scale, exp_of_diff(p, diff)), exponent) - 128;
            out = out > -128 ? out : -128;
            out = out < 127 ? out : 127;
        }
        y[i] = (int8_t)out;
    }
}

/* The last dimension's size, 1 for a scalar. */
static int32_t depth(const pml_operand_t *x) {
    return x->tensor->ndim > 0 ? pml_dim(x, x->tensor->ndim - 1) : 1;
}

/* Once at load, after the operand types and parameter ranges (check.c): the sum of at most 4095 exponentials of
 * at most 2^19 each cannot wrap (TFLite Micro's int32 sum would overflow above: the host refuses such models). */
PML_COLD int pml_softmax_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    (void)params;
    PML_NEED(c, depth(&inputs[0]) <= 4095, PML_R_SOFTMAX_DEPTH, depth(&inputs[0]));
    return pml_check_same_size(c, &inputs[0], output, 0);
}

void pml_softmax_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_softmax_params_t *p = (const pml_softmax_params_t *)params;
    (void)n_inputs;
    const int32_t n = depth(&inputs[0]), count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)output->data;
    for (int32_t done = 0; done < count; done += n) {
        softmax_row(p, x + done, y + done, n);
    }
}
