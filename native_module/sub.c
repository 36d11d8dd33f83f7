/* SUB and SQUARED_DIFFERENCE, int8, NumPy broadcasting to the output's shape: TFLite's quantized sub, ADD's
 * arithmetic with the second rescaled input subtracted, and TFLite Micro's squared difference, that difference
 * squared (add.h). Only in the full module (native_module/Makefile's PML_FULL_ONLY_FILES). May run in place on a
 * full-shaped input. */
#include "add.h"
#include "broadcast.h"
#include "check.h"
#include "picoml.h"

/* ADD's params and SUB's are one parameter list (host/picoml/optable.py): the same layout */
typedef char pml_sub_params_like_add[sizeof(pml_sub_params_t) == sizeof(pml_add_params_t) ? 1 : -1];

/* ... and SQUARED_DIFFERENCE's */
typedef char pml_squared_difference_params_like_add[
    sizeof(pml_squared_difference_params_t) == sizeof(pml_add_params_t) ? 1 : -1];

/* Out of line: one copy of the arithmetic for SUB (kind 1), SQUARED_DIFFERENCE (PML_SQUARED_DIFFERENCE) and both
 * loops of pml_broadcast_binary_s8 (both ops are rare, and the full module's code takes a board's heap: on armv6m
 * 0.9 KB less than inlined, for a call per element). */
static __attribute__((noinline)) int8_t difference_one(const void *params, int32_t lo, int32_t hi, int32_t x1,
                                                        int32_t x2, int kind) {
    return pml_add_sub_one(params, lo, hi, x1, x2, kind);
}

static inline int8_t sub_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    return difference_one(params, lo, hi, x1, x2, 1);
}

static inline int8_t squared_difference_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    return difference_one(params, lo, hi, x1, x2, PML_SQUARED_DIFFERENCE);
}

/* Once at load, after the operand types and parameter ranges (check.c): the shapes broadcast. */
PML_COLD int pml_sub_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                  pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

void pml_sub_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_sub_params_t *p = (const pml_sub_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    if (pml_add_sub_fast((const pml_add_params_t *)params, inputs, output, 1)) {
        return;
    }
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            sub_one);
}

PML_COLD int pml_squared_difference_check(const void *params, const pml_operand_t *inputs,
                                          const pml_operand_t *output, pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

void pml_squared_difference_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                               const pml_operand_t *output, void *scratch) {
    const pml_squared_difference_params_t *p = (const pml_squared_difference_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            squared_difference_one);
}
