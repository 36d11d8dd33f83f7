/* RELU (the whole RELU family, lowered to requantize-then-clamp: TFLite's QuantizedReluX) and LEAKY_RELU, int8.
 * Reference: reference_relu / reference_leaky_relu in host/picoml/ops/elementwise.py. Both may run in place.
 *
 * clamp(r + offset, lo, hi) is computed as clamp(r, lo - offset, hi - offset) + offset, so an r near the int32
 * limits cannot overflow (the reference adds in int64). */
#include "fixedpoint.h"
#include "picoml.h"

static int check_unary_s8(const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs, int n_outputs) {
    return n_inputs == 1 && n_outputs == 1 && inputs[0].tensor != 0 && inputs[0].tensor->dtype == PML_DTYPE_INT8
        && outputs[0].tensor->dtype == PML_DTYPE_INT8 && pml_count(&inputs[0]) == pml_count(&outputs[0]);
}

int pml_relu_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_relu_params_t *p = (const pml_relu_params_t *)params;
    if (!check_unary_s8(inputs, n_inputs, outputs, n_outputs)) {
        return PML_ERR_OPERANDS;
    }
    int32_t lo = p->act_min - p->output_offset, hi = p->act_max - p->output_offset;
    int32_t count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i = 0; i < count; i++) {
        int32_t r = pml_mbqm(x[i] + p->input_offset, p->output_multiplier, p->output_shift);
        r = r > lo ? r : lo;
        r = r < hi ? r : hi;
        y[i] = (int8_t)(r + p->output_offset);
    }
    return PML_OK;
}

int pml_leaky_relu_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_leaky_relu_params_t *p = (const pml_leaky_relu_params_t *)params;
    if (!check_unary_s8(inputs, n_inputs, outputs, n_outputs)) {
        return PML_ERR_OPERANDS;
    }
    int32_t lo = -128 - p->output_offset, hi = 127 - p->output_offset;
    int32_t count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i = 0; i < count; i++) {
        int32_t v = x[i] + p->input_offset;
        int32_t r = v >= 0 ? pml_mbqm(v, p->identity_multiplier, p->identity_shift)
                           : pml_mbqm(v, p->alpha_multiplier, p->alpha_shift);
        r = r > lo ? r : lo;
        r = r < hi ? r : hi;
        y[i] = (int8_t)(r + p->output_offset);
    }
    return PML_OK;
}
