/* CONCATENATION along `axis` of tensors of any rank up to 4: byte copies (the host has already requantized any
 * input whose quantization differs from the output's). Reference: reference_concatenation in
 * host/picoml/ops/shape.py. */
#include "picoml.h"

int pml_concatenation_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_concatenation_params_t *p = (const pml_concatenation_params_t *)params;
    const pml_tensor_t *out = outputs[0].tensor;
    int32_t axis = p->axis;
    if (n_inputs < 1 || n_outputs != 1 || axis < 0 || axis >= out->ndim) {
        return PML_ERR_OPERANDS;
    }
    /* Every input: the output's dtype and rank, its shape off the axis; their sizes on the axis add up. */
    int32_t axis_total = 0;
    for (int k = 0; k < n_inputs; k++) {
        const pml_tensor_t *t = inputs[k].tensor;
        if (t == 0 || t->dtype != out->dtype || t->ndim != out->ndim) {
            return PML_ERR_OPERANDS;
        }
        for (int d = 0; d < out->ndim; d++) {
            if (d != axis && t->dims[d] != out->dims[d]) {
                return PML_ERR_OPERANDS;
            }
        }
        axis_total += (int32_t)t->dims[axis];
    }
    if (axis_total != (int32_t)out->dims[axis]) {
        return PML_ERR_OPERANDS;
    }
    /* The output is `outer` blocks; block o holds block o of each input in turn, each of dims[axis] * inner bytes. */
    int32_t outer = 1, inner = out->dtype == PML_DTYPE_INT32 ? 4 : (int32_t)out->dtype;
    for (int d = 0; d < axis; d++) {
        outer *= (int32_t)out->dims[d];
    }
    for (int d = axis + 1; d < out->ndim; d++) {
        inner *= (int32_t)out->dims[d];
    }
    uint8_t *y = (uint8_t *)outputs[0].data;
    for (int32_t o = 0; o < outer; o++) {
        for (int k = 0; k < n_inputs; k++) {
            int32_t size = (int32_t)inputs[k].tensor->dims[axis] * inner;
            const uint8_t *x = (const uint8_t *)inputs[k].data + o * size;
            for (int32_t i = 0; i < size; i++) {
                y[i] = x[i];
            }
            y += size;
        }
    }
    return PML_OK;
}
