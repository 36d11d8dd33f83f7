/* MEAN over the axes set in axis_mask, int8: TFLite Micro's int8 reference_ops::QuantizedMeanOrSum, the sum in
 * int32 minus input_zero_point times the count, rescaled with the host-folded multiplier and shift (1/count is
 * in them), plus the output zero point. Reference: reference_mean in host/picoml/ops/mean.py. */
#include "fixedpoint.h"
#include "picoml.h"

/* The int32 (wrapping) sum of the int8 block of shape n at x, with element strides s. */
static uint32_t block_sum(const int8_t *x, const int32_t n[PML_MAX_DIMS], const int32_t s[PML_MAX_DIMS]) {
    uint32_t sum = 0;
    for (int32_t i0 = 0; i0 < n[0]; i0++) {
        for (int32_t i1 = 0; i1 < n[1]; i1++) {
            for (int32_t i2 = 0; i2 < n[2]; i2++) {
                const int8_t *row = x + i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (int32_t i3 = 0; i3 < n[3]; i3++, row += s[3]) {
                    sum += (uint32_t)*row;
                }
            }
        }
    }
    return sum;
}

int pml_mean_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_mean_params_t *p = (const pml_mean_params_t *)params;
    if (n_inputs != 1 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[0].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8) {
        return PML_ERR_OPERANDS;
    }
    /* Split the input's shape (right-aligned to 4-D) into the kept axes, over which the outputs run in order
     * (with or without keep_dims), and the reduced ones; bits above the input's rank are ignored. */
    int32_t dims[PML_MAX_DIMS], kept[PML_MAX_DIMS], reduced[PML_MAX_DIMS], strides[PML_MAX_DIMS];
    int32_t stride = 1, n_kept = 1, n_reduced = 1;
    int leading = PML_MAX_DIMS - inputs[0].tensor->ndim;
    pml_dims4(&inputs[0], dims);
    for (int i = PML_MAX_DIMS - 1; i >= 0; i--) {
        int is_reduced = i >= leading && ((uint32_t)p->axis_mask >> (i - leading) & 1);
        kept[i] = is_reduced ? 1 : dims[i];
        reduced[i] = is_reduced ? dims[i] : 1;
        strides[i] = stride;
        stride *= dims[i];
        n_kept *= kept[i];
        n_reduced *= reduced[i];
    }
    if (n_kept != pml_count(&outputs[0])) {
        return PML_ERR_OPERANDS;
    }
    uint32_t zero_point_sum = (uint32_t)p->input_zero_point * (uint32_t)n_reduced;
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    int32_t lo = -128 - p->output_zero_point, hi = 127 - p->output_zero_point;
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i0 = 0; i0 < kept[0]; i0++) {
        for (int32_t i1 = 0; i1 < kept[1]; i1++) {
            for (int32_t i2 = 0; i2 < kept[2]; i2++) {
                for (int32_t i3 = 0; i3 < kept[3]; i3++) {
                    const int8_t *block = x + i0 * strides[0] + i1 * strides[1] + i2 * strides[2] + i3 * strides[3];
                    int32_t shifted = (int32_t)(block_sum(block, reduced, strides) - zero_point_sum);
                    int32_t r = pml_mbqm(shifted, p->multiplier, p->shift);
                    r = r > lo ? r : lo;
                    r = r < hi ? r : hi;
                    *y++ = (int8_t)(r + p->output_zero_point);
                }
            }
        }
    }
    return PML_OK;
}
