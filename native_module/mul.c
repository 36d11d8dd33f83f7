/* MUL, int8, NumPy broadcasting to the output's shape: TFLite's quantized mul (the product of the offset inputs
 * rescaled to the output). Reference: reference_mul in host/picoml/ops/elementwise.py. May run in place on a
 * full-shaped input. */
#include "fixedpoint.h"
#include "picoml.h"

static inline int8_t mul_one(const pml_mul_params_t *p, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    int32_t r = pml_mbqm((x1 + p->input1_offset) * (x2 + p->input2_offset), p->output_multiplier, p->output_shift);
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

int pml_mul_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    const pml_mul_params_t *p = (const pml_mul_params_t *)params;
    int32_t s1[PML_MAX_DIMS], s2[PML_MAX_DIMS], shape[PML_MAX_DIMS];
    if (n_inputs != 2 || n_outputs != 1 || outputs[0].tensor->dtype != PML_DTYPE_INT8
        || !pml_broadcast_strides(&inputs[0], &outputs[0], s1) || !pml_broadcast_strides(&inputs[1], &outputs[0], s2)) {
        return PML_ERR_OPERANDS;
    }
    int32_t lo = p->act_min - p->output_offset, hi = p->act_max - p->output_offset;
    const int8_t *x1 = (const int8_t *)inputs[0].data, *x2 = (const int8_t *)inputs[1].data;
    int8_t *y = (int8_t *)outputs[0].data;
    int32_t n = pml_count(&outputs[0]), n1 = pml_count(&inputs[0]), n2 = pml_count(&inputs[1]);
    if ((n1 == n || n1 == 1) && (n2 == n || n2 == 1)) {
        /* equal shapes, or a scalar operand: one flat loop */
        int32_t step1 = n1 == n ? 1 : 0, step2 = n2 == n ? 1 : 0;
        for (int32_t i = 0; i < n; i++, x1 += step1, x2 += step2) {
            y[i] = mul_one(p, lo, hi, *x1, *x2);
        }
        return PML_OK;
    }
    /* general broadcasting: rows of the last axis (a last-axis vector operand is read contiguously) */
    pml_dims4(&outputs[0], shape);
    for (int32_t i0 = 0; i0 < shape[0]; i0++) {
        for (int32_t i1 = 0; i1 < shape[1]; i1++) {
            for (int32_t i2 = 0; i2 < shape[2]; i2++) {
                const int8_t *r1 = x1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *r2 = x2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; i3++, r1 += s1[3], r2 += s2[3]) {
                    *y++ = mul_one(p, lo, hi, *r1, *r2);
                }
            }
        }
    }
    return PML_OK;
}
