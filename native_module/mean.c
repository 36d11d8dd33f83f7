/* MEAN over the axes set in axis_mask, int8: TFLite Micro's int8 reference_ops::QuantizedMeanOrSum, the sum in
 * int32 minus input_zero_point times the count, rescaled with the host-folded multiplier and shift (1/count is
 * in them), plus the output zero point. Reference: reference_mean in host/picoml/ops/mean.py. */
#include "check.h"
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

/* The input's shape right-aligned to 4-D split into the kept axes, over which the outputs run in order (with or
 * without keep_dims), and the reduced ones (the axes set in axis_mask); strides of the input. */
static __attribute__((noinline)) void split_axes(const pml_mean_params_t *p, const pml_operand_t *input, int32_t kept[PML_MAX_DIMS],
                       int32_t reduced[PML_MAX_DIMS], int32_t strides[PML_MAX_DIMS]) {
    int32_t dims[PML_MAX_DIMS], stride = 1;
    const int leading = PML_MAX_DIMS - input->tensor->ndim;
    pml_dims4(input, dims);
    for (int i = PML_MAX_DIMS - 1; i >= 0; i--) {
        const int is_reduced = i >= leading && ((uint32_t)p->axis_mask >> (i - leading) & 1);
        kept[i] = is_reduced ? 1 : dims[i];
        reduced[i] = is_reduced ? dims[i] : 1;
        strides[i] = stride;
        stride *= dims[i];
    }
}

/* Once at load, after the operand types and parameter ranges (check.c: int8 zero points, a shift pml_mbqm takes):
 * the mask's axes inside the input, the output the input reduced over them. */
PML_COLD int pml_mean_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    const pml_mean_params_t *p = (const pml_mean_params_t *)params;
    int32_t kept[PML_MAX_DIMS], reduced[PML_MAX_DIMS], strides[PML_MAX_DIMS];
    PML_NEED(c, p->axis_mask >= 0 && p->axis_mask < (1 << inputs[0].tensor->ndim), PML_R_MEAN_MASK, p->axis_mask);
    split_axes(p, &inputs[0], kept, reduced, strides);
    PML_NEED(c, kept[0] * kept[1] * kept[2] * kept[3] == pml_count(output), PML_R_MEAN_OUTPUT, pml_count(output));
    c->work = pml_count(&inputs[0]) + pml_count(output);
    return PML_OK;
}

void pml_mean_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_mean_params_t *p = (const pml_mean_params_t *)params;
    int32_t kept[PML_MAX_DIMS], reduced[PML_MAX_DIMS], strides[PML_MAX_DIMS];
    (void)n_inputs;
    split_axes(p, &inputs[0], kept, reduced, strides);
    const int32_t n_reduced = reduced[0] * reduced[1] * reduced[2] * reduced[3];
    const uint32_t zero_point_sum = (uint32_t)p->input_zero_point * (uint32_t)n_reduced;
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    const int32_t lo = -128 - p->output_zero_point, hi = 127 - p->output_zero_point;
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *y = (int8_t *)output->data;
    for (int32_t i0 = 0; i0 < kept[0]; i0++) {
        for (int32_t i1 = 0; i1 < kept[1]; i1++) {
            for (int32_t i2 = 0; i2 < kept[2]; i2++) {
                for (int32_t i3 = 0; i3 < kept[3]; i3++) {
                    const int8_t *block = x + i0 * strides[0] + i1 * strides[1] + i2 * strides[2] + i3 * strides[3];
                    const int32_t shifted = (int32_t)(block_sum(block, reduced, strides) - zero_point_sum);
                    int32_t r = pml_mbqm(shifted, p->multiplier, p->shift);
                    r = r > lo ? r : lo;
                    r = r < hi ? r : hi;
                    *y++ = (int8_t)(r + p->output_zero_point);
                }
            }
        }
    }
}
