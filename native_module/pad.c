/* PAD, int8: the input placed inside pad_before / pad_after (given right-aligned to 4-D) filled with pad_value.
 * Reference: reference_pad in host/picoml/ops/shape.py. Not in place: the output is larger. */
#include "picoml.h"

static void fill(int8_t *y, int32_t n, int8_t value) {
    for (int32_t i = 0; i < n; i++) {
        y[i] = value;
    }
}

int pml_pad_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_pad_params_t *p = (const pml_pad_params_t *)params;
    const int32_t before[PML_MAX_DIMS] = {p->pad_before_0, p->pad_before_1, p->pad_before_2, p->pad_before_3};
    const int32_t after[PML_MAX_DIMS] = {p->pad_after_0, p->pad_after_1, p->pad_after_2, p->pad_after_3};
    int32_t in[PML_MAX_DIMS], out[PML_MAX_DIMS];
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[0].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8) {
        return PML_ERR_OPERANDS;
    }
    pml_dims4(&inputs[0], in);
    pml_dims4(&outputs[0], out);
    for (int i = 0; i < PML_MAX_DIMS; i++) {
        if (before[i] < 0 || after[i] < 0 || out[i] - in[i] - before[i] != after[i]) {
            return PML_ERR_OPERANDS;
        }
    }
    const int8_t value = (int8_t)p->pad_value;
    const int8_t *x = (const int8_t *)inputs[0].data;    /* the input rows are consumed in order */
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t o0 = 0; o0 < out[0]; o0++) {
        for (int32_t o1 = 0; o1 < out[1]; o1++) {
            for (int32_t o2 = 0; o2 < out[2]; o2++, y += out[3]) {
                /* (unsigned)(o - before) < size: o lies inside the input on that axis */
                if ((uint32_t)(o0 - before[0]) >= (uint32_t)in[0] || (uint32_t)(o1 - before[1]) >= (uint32_t)in[1]
                    || (uint32_t)(o2 - before[2]) >= (uint32_t)in[2]) {
                    fill(y, out[3], value);
                    continue;
                }
                fill(y, before[3], value);
                for (int32_t i = 0; i < in[3]; i++) {
                    y[before[3] + i] = x[i];
                }
                x += in[3];
                fill(y + before[3] + in[3], after[3], value);
            }
        }
    }
    return PML_OK;
}
