/* ARG_MAX (and ARG_MIN, params->min), int8 -> int32: the index of the largest (smallest) value along the middle
 * axis of [outer, axis, inner], the first one where several tie (TFLite Micro's strict comparison). Only in the
 * full module (native_module/Makefile's PML_FULL_ONLY_FILES). */
#include "check.h"
#include "picoml.h"

PML_COLD int pml_arg_max_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                               pml_check_t *c) {
    const pml_operand_t *x = &inputs[0];
    (void)params;
    PML_NEED(c, pml_dim(x, 1) >= 1, PML_R_ARG_SHAPE, pml_dim(x, 1));
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0), PML_R_ARG_SHAPE, pml_dim(output, 0));
    PML_NEED(c, pml_dim(output, 1) == pml_dim(x, 2), PML_R_ARG_SHAPE, pml_dim(output, 1));
    c->work = pml_count(x);
    return PML_OK;
}

void pml_arg_max_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                    void *scratch) {
    const pml_arg_max_params_t *p = (const pml_arg_max_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    const int32_t outer = pml_dim(&inputs[0], 0), n = pml_dim(&inputs[0], 1), inner = pml_dim(&inputs[0], 2);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int32_t *out = (int32_t *)output->data;
    /* min: compare the values' bitwise complements (~v reverses the order of the int8 values) */
    const int flip = p->min ? -1 : 0;
    for (int32_t o = 0; o < outer; o++, x += n * inner) {
        for (int32_t i = 0; i < inner; i++) {
            int32_t best = x[i] ^ flip, at = 0;
            for (int32_t k = 1; k < n; k++) {
                const int32_t v = x[k * inner + i] ^ flip;
                if (v > best) {
                    best = v;
                    at = k;
                }
            }
            *out++ = at;
        }
    }
}
