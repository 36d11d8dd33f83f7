/* ADD, int8, NumPy broadcasting to the output's shape: TFLite's quantized add (both inputs shifted left by
 * left_shift and rescaled to a common scale, summed, rescaled to the output). Reference: reference_add in
 * host/picoml/ops/elementwise.py. May run in place on a full-shaped input. */
#include "broadcast.h"
#include "check.h"
#include "fixedpoint.h"
#include "picoml.h"

static inline int8_t add_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    const pml_add_params_t *p = (const pml_add_params_t *)params;
    int32_t a = (int32_t)((uint32_t)(x1 + p->input1_offset) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(x2 + p->input2_offset) << p->left_shift);
    a = pml_mbqm(a, p->input1_multiplier, p->input1_shift);
    b = pml_mbqm(b, p->input2_multiplier, p->input2_shift);
    int32_t r = pml_mbqm((int32_t)((uint32_t)a + (uint32_t)b), p->output_multiplier, p->output_shift);
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

/* Once at load, after the operand types and parameter ranges (check.c, which keeps every shift below 32 and the
 * offsets int8, so nothing overflows int32): the shapes broadcast. */
PML_COLD int pml_add_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                  pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

void pml_add_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_add_params_t *p = (const pml_add_params_t *)params;
    (void)n_inputs;
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            add_one);
}
