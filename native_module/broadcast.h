/* NumPy broadcasting of a binary int8 element-wise op (ADD, MUL) to the output's shape. */
#ifndef PICOML_BROADCAST_H
#define PICOML_BROADCAST_H

#include "picoml.h"

/* Element strides of `in` broadcast to the output's shape (right-aligned to 4-D; 0 on a broadcast axis). */
static inline void pml_broadcast_strides(const pml_operand_t *in, int32_t strides[PML_MAX_DIMS]) {
    int32_t dims[PML_MAX_DIMS], stride = 1;
    pml_dims4(in, dims);
    for (int i = PML_MAX_DIMS - 1; i >= 0; i--) {
        strides[i] = dims[i] == 1 ? 0 : stride;
        stride *= dims[i];
    }
}

/* y = element(params, lo, hi, x1, x2) over the output, the inputs broadcast to its shape. Static inline with a
 * constant `element`: the compiler inlines it into each op's loop. */
typedef int8_t (*pml_binary_element_fn)(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2);

static inline void pml_broadcast_binary_s8(const void *p, int32_t lo, int32_t hi, const pml_operand_t *inputs,
                                           const pml_operand_t *output, pml_binary_element_fn element) {
    int32_t s1[PML_MAX_DIMS], s2[PML_MAX_DIMS], shape[PML_MAX_DIMS];
    const int8_t *x1 = (const int8_t *)inputs[0].data, *x2 = (const int8_t *)inputs[1].data;
    int8_t *y = (int8_t *)output->data;
    const int32_t n = pml_count(output), n1 = pml_count(&inputs[0]), n2 = pml_count(&inputs[1]);
    if ((n1 == n || n1 == 1) && (n2 == n || n2 == 1)) {
        /* equal shapes, or a scalar operand: one flat loop */
        const int32_t step1 = n1 == n ? 1 : 0, step2 = n2 == n ? 1 : 0;
        for (int32_t i = 0; i < n; i++, x1 += step1, x2 += step2) {
            y[i] = element(p, lo, hi, *x1, *x2);
        }
        return;
    }
    /* general broadcasting: rows of the last axis (a last-axis vector operand is read contiguously) */
    pml_broadcast_strides(&inputs[0], s1);
    pml_broadcast_strides(&inputs[1], s2);
    pml_dims4(output, shape);
    for (int32_t i0 = 0; i0 < shape[0]; i0++) {
        for (int32_t i1 = 0; i1 < shape[1]; i1++) {
            for (int32_t i2 = 0; i2 < shape[2]; i2++) {
                const int8_t *r1 = x1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *r2 = x2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; i3++, r1 += s1[3], r2 += s2[3]) {
                    *y++ = element(p, lo, hi, *r1, *r2);
                }
            }
        }
    }
}

#endif
