/* LOG_SOFTMAX over the last axis, int8 in and int8 out (scale 16/256, zero point 127): TFLite Micro's
 * reference_ops::LogSoftmaxQuantized<int8_t> -- SOFTMAX's sum of gemmlowp exponentials, TFLite's fixed-point
 * log_x_for_x_greater_than_or_equal_to_1 of it, each difference to the row's maximum less that log.
 * Reference: reference_log_softmax in host/picoml/ops/nonlinear.py. Only in the full module
 * (native_module/Makefile's PML_FULL_ONLY_FILES). */
#include "check.h"
#include "fixedpoint_gemmlowp.h"
#include "picoml.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12
#define OUTPUT_INTEGER_BITS 4
#define LOG_ACCUM_BITS (SCALED_DIFF_INTEGER_BITS + 1)

static int32_t add_sat(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1, x in Q12.19, the result in Q5.26 (TFLite's log_x_for_x_greater_than_or_equal_to_1_impl):
 * x's power of two from its leading zeros (x or x sqrt(1/2), whichever leaves the mantissa nearer 1), the
 * mantissa's log by a rational approximation around sqrt(sqrt(1/2)). */
static int32_t log_of_sum(int32_t x) {
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t shifted_quarter = pml_rdbpot(536870912, LOG_ACCUM_BITS);
    const int a_headroom_plus_1 = pml_fp_clz((uint32_t)x);
    const int32_t r_a = pml_fp_shl_sat(pml_srdhm(pml_fp_shl_sat(x, a_headroom_plus_1 - 1), sqrt_half), 1);
    const int32_t a_pow_2_adj = add_sat(
        pml_fp_shl_sat(ACCUMULATION_INTEGER_BITS - a_headroom_plus_1, 31 - LOG_ACCUM_BITS), shifted_quarter);
    const int b_headroom = pml_fp_clz((uint32_t)pml_srdhm(x, sqrt_half)) - 1;
    const int32_t r_b = pml_fp_shl_sat(x, b_headroom);
    const int32_t b_pow_2_adj = add_sat(
        pml_fp_shl_sat(ACCUMULATION_INTEGER_BITS - b_headroom, 31 - LOG_ACCUM_BITS), -shifted_quarter);
    const int32_t r = r_a < r_b ? r_a : r_b;
    const int32_t pow_2_adj = a_pow_2_adj > b_pow_2_adj ? a_pow_2_adj : b_pow_2_adj;
    const int32_t p = pml_fp_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = pml_fp_sub(r, sqrt_sqrt_half);
    q = pml_fp_add(q, q);
    const int32_t common_sq = pml_srdhm(q, q);
    const int32_t num = pml_fp_add(pml_srdhm(q, r), pml_srdhm(pml_srdhm(q, common_sq), alpha_n));
    const int32_t denom_minus_one = pml_fp_add(
        pml_srdhm(p, pml_fp_add(pml_fp_add(alpha_i, q), pml_srdhm(alpha_d, common_sq))), pml_srdhm(alpha_f, q));
    const int32_t recip_denom = pml_fp_one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
    const int32_t num_scaled = pml_rdbpot(num, LOG_ACCUM_BITS);
    return pml_fp_shl_sat(pml_fp_add(pml_srdhm(pow_2_adj, log_2), pml_srdhm(num_scaled, recip_denom)),
                          LOG_ACCUM_BITS - SCALED_DIFF_INTEGER_BITS);
}

static void log_softmax_row(const pml_log_softmax_params_t *p, const int8_t *x, int8_t *y, int32_t depth) {
    int32_t max = x[0];
    for (int32_t i = 1; i < depth; i++) {
        max = x[i] > max ? x[i] : max;
    }
    uint32_t sum = 0;   /* Q12.19; the check keeps depth below 4096 so it cannot wrap */
    for (int32_t i = 0; i < depth; i++) {
        const int32_t diff = x[i] - max;
        if (diff >= p->diff_min) {
            const int32_t scaled = pml_mbqm(diff, p->input_multiplier, p->input_left_shift);
            sum += (uint32_t)pml_rdbpot(pml_fp_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS),
                                        ACCUMULATION_INTEGER_BITS);
        }
    }
    const int32_t log_sum = log_of_sum((int32_t)sum);
    const int32_t floor = pml_mbqm(pml_fp_add(log_sum, INT32_MIN), p->reverse_scaling_divisor,
                                   -p->reverse_scaling_right_shift);
    const int32_t adjusted_diff_min = p->diff_min - 1 > floor ? p->diff_min - 1 : floor;
    for (int32_t i = 0; i < depth; i++) {
        const int32_t diff = x[i] - max;
        int32_t out = -128;
        if (diff > adjusted_diff_min) {
            const int32_t scaled = pml_mbqm(diff, p->input_multiplier, p->input_left_shift);
            out = pml_rdbpot(pml_fp_sub(scaled, log_sum), 31 - SCALED_DIFF_INTEGER_BITS - OUTPUT_INTEGER_BITS) + 127;
            out = out > -128 ? out : -128;
            out = out < 127 ? out : 127;
        }
        y[i] = (int8_t)out;
    }
}

/* Once at load: SOFTMAX's depth rule (a sum of at most 4095 exponentials of at most 2^19 cannot wrap) */
PML_COLD int pml_log_softmax_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                                   pml_check_t *c) {
    (void)params;
    PML_NEED(c, pml_dim(&inputs[0], 1) <= 4095, PML_R_SOFTMAX_DEPTH, pml_dim(&inputs[0], 1));
    return pml_check_same_size(c, &inputs[0], output, 0);
}

void pml_log_softmax_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                        void *scratch) {
    const pml_log_softmax_params_t *p = (const pml_log_softmax_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    const int32_t rows = pml_dim(&inputs[0], 0), depth = pml_dim(&inputs[0], 1);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)output->data;
    for (int32_t r = 0; r < rows; r++) {
        log_softmax_row(p, x + r * depth, y + r * depth, depth);
    }
}
