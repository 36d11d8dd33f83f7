/* PAD, int8: the input placed inside pad_before / pad_after (given right-aligned to 4-D) filled with pad_value.
 * Reference: reference_pad in host/picoml/ops/shape.py. Not in place: the output is larger. */
#include "check.h"
#include "picoml.h"

static void fill(int8_t *y, int32_t n, int8_t value) {
    for (int32_t i = 0; i < n; i++) {
        y[i] = value;
    }
}

/* Once at load, after the operand types and parameter ranges (check.c: pads of 0 or more, an int8 pad value): the
 * output the input grown by the pads. */
PML_COLD int pml_pad_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                           pml_check_t *c) {
    const int32_t *pads = (const int32_t *)params;     /* pad_before_0..3, pad_after_0..3 */
    int32_t in[PML_MAX_DIMS], out[PML_MAX_DIMS];
    PML_NEED(c, output->tensor->ndim == inputs[0].tensor->ndim, PML_R_PAD_RANK, output->tensor->ndim);
    pml_dims4(&inputs[0], in);
    pml_dims4(output, out);
    for (int i = 0; i < PML_MAX_DIMS; i++) {
        PML_NEED(c, (int64_t)in[i] + pads[i] + pads[4 + i] == out[i], PML_R_PAD_DIMS, out[i]);
    }
    c->work = pml_count(output);
    return PML_OK;
}

void pml_pad_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_pad_params_t *p = (const pml_pad_params_t *)params;
    const int32_t before[PML_MAX_DIMS] = {p->pad_before_0, p->pad_before_1, p->pad_before_2, p->pad_before_3};
    const int32_t after3 = p->pad_after_3;
    int32_t in[PML_MAX_DIMS], out[PML_MAX_DIMS];
    (void)n_inputs;
    pml_dims4(&inputs[0], in);
    pml_dims4(output, out);
    const int8_t value = (int8_t)p->pad_value;
    const int8_t *x = (const int8_t *)inputs[0].data;    /* the input rows are consumed in order */
    int8_t *y = (int8_t *)output->data;
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
                fill(y + before[3] + in[3], after3, value);
            }
        }
    }
}
