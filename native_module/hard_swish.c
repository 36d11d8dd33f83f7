/* HARD_SWISH, int8: TFLite Micro's reference_ops::HardSwish<int8_t>, x * relu6(x + 3) / 6 in 16-bit fixed point
 * with gemmlowp's int16 rounding. Reference: reference_hard_swish in host/picoml/ops/nonlinear.py, whose int16
 * wrapping and saturation this follows step by step. May run in place. */
#include "picoml.h"

/* The int16 value of x's low 16 bits (two's complement wrap, as an int16_t assignment does). */
static inline int32_t wrap16(int32_t x) {
    return (int16_t)x;
}

/* gemmlowp SaturatingRoundingDoublingHighMul<int16_t>. */
static inline int32_t srdhm16(int32_t a, int32_t b) {
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    int32_t ab = a * b;
    ab += ab >= 0 ? (1 << 14) : 1 - (1 << 14);
    return wrap16(ab >= 0 ? ab >> 15 : -((-ab) >> 15));
}

/* TFLite's SaturatingDoublingHighMul: as above, the product truncated toward zero. */
static inline int32_t sdhm16(int32_t a, int32_t b) {
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    int32_t ab = a * b;
    return wrap16(ab >= 0 ? ab >> 15 : -((-ab) >> 15));
}

/* gemmlowp RoundingDivideByPOT<int16_t> for 0 <= exponent <= 31, its mask computed in int16: above 15 it gives
 * +1 for x >= 0 and -1 for x < 0, as TFLite Micro does. */
static inline int32_t rdbpot16(int32_t x, int exponent) {
    int32_t mask = wrap16((int32_t)(((uint32_t)1 << exponent) - 1));
    int32_t remainder = wrap16(x & mask);
    int32_t threshold = wrap16((mask >> 1) + (x < 0 ? 1 : 0));
    return wrap16((x >> exponent) + (remainder > threshold ? 1 : 0));
}

/* x * 2^amount saturated to int16; any amount above 15 saturates every nonzero int16 as 15 does. */
static inline int32_t shl_sat16(int32_t x, int32_t amount) {
    x *= (int32_t)1 << (amount < 15 ? amount : 15);
    x = x > -32768 ? x : -32768;
    return x < 32767 ? x : 32767;
}

int pml_hard_swish_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_hard_swish_params_t *p = (const pml_hard_swish_params_t *)params;
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[0].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8 || pml_count(&inputs[0]) != pml_count(&outputs[0])) {
        return PML_ERR_OPERANDS;
    }
    int32_t reluish_exponent = p->reluish_multiplier_exponent;
    /* QuantizeMultiplier gives exponents >= -31; the host refuses an output exponent above 0 */
    if (reluish_exponent < -31 || p->output_multiplier_exponent > 0 || p->output_multiplier_exponent < -31) {
        return PML_ERR_MODEL;
    }
    int output_right_shift = -p->output_multiplier_exponent;
    int32_t count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i = 0; i < count; i++) {
        int32_t hires = wrap16(wrap16(x[i] - p->input_zero_point) * 128);
        int32_t preshift_output_scale_value = srdhm16(hires, p->output_multiplier_fixedpoint_int16);
        /* reluish: the input rescaled so that -3 .. 3 maps onto the int16 range, saturating outside */
        int32_t reluish = hires;
        if (reluish_exponent > 0) {
            reluish = shl_sat16(reluish, reluish_exponent - 1);
        }
        reluish = srdhm16(reluish, p->reluish_multiplier_fixedpoint_int16);
        if (reluish_exponent > 0) {
            reluish = shl_sat16(reluish, 1);
        } else if (reluish_exponent < 0) {
            reluish = rdbpot16(reluish, -reluish_exponent);
        }
        reluish = (reluish + 32768) >> 1;       /* [-1, 1] onto [0, 1] */
        int32_t out = rdbpot16(sdhm16(reluish, preshift_output_scale_value), output_right_shift);
        out = wrap16(out + p->output_zero_point);
        out = out > -128 ? out : -128;
        y[i] = (int8_t)(out < 127 ? out : 127);
    }
    return PML_OK;
}
