/* LOGISTIC and TANH, int8 in and int8 out: TFLite Micro's reference_integer_ops::Logistic / Tanh, gemmlowp's
 * fixed-point logistic / tanh of the input rescaled to Q4.27. LOGISTIC's output is scale 1/256, zero point -128;
 * TANH's 1/128, 0. Reference: reference_logistic / reference_tanh in host/picoml/ops/nonlinear.py. May run in
 * place. Both ops have the same params (pml_logistic_params_t and pml_tanh_params_t lay out alike). */
#include "fixedpoint_gemmlowp.h"
#include "picoml.h"

#define INPUT_INTEGER_BITS 4

static int8_t sigmoid_one(const pml_logistic_params_t *p, int is_tanh, int32_t left_shift, int32_t value) {
    int32_t x = value - p->input_zero_point;
    if (x <= -p->input_range_radius) {
        return -128;
    }
    if (x >= p->input_range_radius) {
        return 127;
    }
    int32_t q4 = pml_mbqm(x, p->input_multiplier, left_shift);
    int32_t out = is_tanh
        ? pml_rdbpot(pml_fp_tanh(q4, INPUT_INTEGER_BITS), 31 - 7)               /* Q0.31 -> 1/128 steps */
        : pml_rdbpot(pml_fp_logistic(q4, INPUT_INTEGER_BITS), 31 - 8) - 128;    /* Q0.31 -> 1/256 steps */
    out = out > -128 ? out : -128;
    return (int8_t)(out < 127 ? out : 127);
}

static int sigmoid_s8(const pml_logistic_params_t *p, int is_tanh, const pml_operand_t *inputs, int n_inputs,
                      const pml_operand_t *outputs, int n_outputs) {
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[0].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8 || pml_count(&inputs[0]) != pml_count(&outputs[0])) {
        return PML_ERR_OPERANDS;
    }
    int32_t left_shift = p->input_left_shift < 31 ? p->input_left_shift : 31;
    int32_t count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    if (count > 256) {
        /* cheaper to evaluate each of the 256 int8 values once */
        int8_t table[256];
        for (int32_t v = -128; v < 128; v++) {
            table[v + 128] = sigmoid_one(p, is_tanh, left_shift, v);
        }
        for (int32_t i = 0; i < count; i++) {
            y[i] = table[x[i] + 128];
        }
    } else {
        for (int32_t i = 0; i < count; i++) {
            y[i] = sigmoid_one(p, is_tanh, left_shift, x[i]);
        }
    }
    return PML_OK;
}

int pml_logistic_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    return sigmoid_s8((const pml_logistic_params_t *)params, 0, inputs, n_inputs, outputs, n_outputs);
}

int pml_tanh_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    return sigmoid_s8((const pml_logistic_params_t *)params, 1, inputs, n_inputs, outputs, n_outputs);
}
