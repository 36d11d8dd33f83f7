/* REQUANTIZE: int8 -> int8 with another scale and zero point (TFLite's int8 QUANTIZE, and the rescaling of a
 * CONCATENATION input). Reference: reference_requantize in host/picoml/ops/elementwise.py. May run in place. */
#include "fixedpoint.h"
#include "picoml.h"

int pml_requantize_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_requantize_params_t *p = (const pml_requantize_params_t *)params;
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[0].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8 || pml_count(&inputs[0]) != pml_count(&outputs[0])) {
        return PML_ERR_OPERANDS;
    }
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    int32_t lo = -128 - p->output_offset, hi = 127 - p->output_offset;
    int32_t count = pml_count(&inputs[0]);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i = 0; i < count; i++) {
        int32_t r = pml_mbqm(x[i] + p->input_offset, p->multiplier, p->shift);
        r = r > lo ? r : lo;
        r = r < hi ? r : hi;
        y[i] = (int8_t)(r + p->output_offset);
    }
    return PML_OK;
}
