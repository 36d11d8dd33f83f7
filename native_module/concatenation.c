/* CONCATENATION along `axis` of tensors of any rank up to 4 and any one dtype: byte copies (the host has already
 * requantized any int8 input whose quantization differs from the output's). Reference: reference_concatenation in
 * host/picoml/ops/shape.py. */
#include "check.h"
#include "copy.h"
#include "picoml.h"

/* Once at load, after the operand types and parameter ranges (check.c): every input the output's rank and shape
 * off the axis, their sizes on the axis adding up. */
PML_COLD int pml_concatenation_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    const pml_concatenation_params_t *p = (const pml_concatenation_params_t *)params;
    const pml_tensor_t *out = output->tensor;
    PML_NEED(c, p->axis < out->ndim, PML_R_AXIS, p->axis);
    int64_t total = 0;
    for (int k = 0; k < c->n_inputs; k++) {
        const pml_tensor_t *t = inputs[k].tensor;
        PML_NEED(c, t->ndim == out->ndim, PML_R_CONCAT_RANK, t->ndim);
        for (int d = 0; d < out->ndim; d++) {
            PML_NEED(c, d == p->axis || t->dims[d] == out->dims[d], PML_R_CONCAT_SHAPE, (int64_t)t->dims[d]);
        }
        total += t->dims[p->axis];
    }
    PML_NEED(c, total == out->dims[p->axis], PML_R_CONCAT_SUM, total);
    c->work = pml_count(output);
    return PML_OK;
}

void pml_concatenation_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                          const pml_operand_t *output, void *scratch) {
    const pml_concatenation_params_t *p = (const pml_concatenation_params_t *)params;
    const pml_tensor_t *out = output->tensor;
    const int32_t axis = p->axis;
    /* The output is `outer` blocks; block o holds block o of each input in turn, each of dims[axis] * inner bytes
     * (inner: the bytes of one step along the axis). */
    int32_t outer = 1, inner = pml_dtype_size(out->dtype);       /* in bytes */
    for (int d = 0; d < axis; d++) {
        outer *= (int32_t)out->dims[d];
    }
    for (int d = axis + 1; d < out->ndim; d++) {
        inner *= (int32_t)out->dims[d];
    }
    uint8_t *y = (uint8_t *)output->data;
    for (int32_t o = 0; o < outer; o++) {
        for (int k = 0; k < n_inputs; k++) {
            const int32_t size = (int32_t)inputs[k].tensor->dims[axis] * inner;
            const uint8_t *x = (const uint8_t *)inputs[k].data + o * size;
            pml_copy(y, x, size);
            y += size;
        }
    }
}
