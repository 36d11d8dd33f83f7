/* The arithmetic of ADD, SUB and SQUARED_DIFFERENCE, int8 (TFLite's quantized add and sub, TFLite Micro's
 * squared difference): both inputs shifted left by left_shift and rescaled to a common scale, summed (SUB: the
 * second subtracted, after its rounding, as TFLite's raw_sub = scaled1 - scaled2; SQUARED_DIFFERENCE: that
 * difference squared), rescaled to the output. One definition for add.c and sub.c;
 * reference_add in host/picoml/ops/elementwise.py. Their params have ADD's layout (one parameter list in
 * host/picoml/optable.py). */
#ifndef PICOML_ADD_H
#define PICOML_ADD_H

#include "add_s8_armv6m.h"
#include "add_s8_simd32.h"
#include "fixedpoint.h"
#include "picoml.h"

/* `subtract` is a constant at each use: the compiler folds it away (1: SUB; PML_SQUARED_DIFFERENCE: the difference
 * squared, wrapping as C's int32). Always inlined: left to itself, gcc's armv6m -O2 made ADD 108 bytes larger than
 * with this body written in add_one (the same code now). */
#define PML_SQUARED_DIFFERENCE 2
static inline __attribute__((always_inline)) int8_t pml_add_sub_one(const void *params, int32_t lo, int32_t hi,
                                                                    int32_t x1, int32_t x2, int subtract) {
    const pml_add_params_t *p = (const pml_add_params_t *)params;
    int32_t a = (int32_t)((uint32_t)(x1 + p->input1_offset) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(x2 + p->input2_offset) << p->left_shift);
    a = pml_mbqm(a, p->input1_multiplier, p->input1_shift);
    b = pml_mbqm(b, p->input2_multiplier, p->input2_shift);
    uint32_t raw = subtract ? (uint32_t)a - (uint32_t)b : (uint32_t)a + (uint32_t)b;
    if (subtract == PML_SQUARED_DIFFERENCE) {
        raw *= raw;
    }
    int32_t r = pml_mbqm((int32_t)raw, p->output_multiplier, p->output_shift);
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

/* The core's own kernel for ADD (subtract 0) or SUB (1) over inputs of the output's shape (on the M0 also a scalar),
 * where it has one: 1 when it ran the op, 0 when the portable kernel must (add_s8_armv6m.c, add_s8_simd32.c). */
static inline int pml_add_sub_fast(const pml_add_params_t *p, const pml_operand_t *inputs,
                                   const pml_operand_t *output, int subtract) {
#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)
    return pml_add_sub_s8_armv6m(p, inputs, output, subtract);
#elif PML_SIMD32
    return pml_add_sub_s8_simd32(p, inputs, output, subtract);
#else
    (void)p, (void)inputs, (void)output, (void)subtract;
    return 0;
#endif
}

#endif
