/* MUL, int8, NumPy broadcasting to the output's shape: TFLite's quantized mul (the product of the offset inputs
 * rescaled to the output). Reference: reference_mul in host/picoml/ops/elementwise.py. May run in place on a
 * full-shaped input. */
#include "broadcast.h"
#include "check.h"
#include "fixedpoint.h"
#include "picoml.h"

static inline int8_t mul_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    const pml_mul_params_t *p = (const pml_mul_params_t *)params;
    int32_t r = pml_mbqm((x1 + p->input1_offset) * (x2 + p->input2_offset), p->output_multiplier, p->output_shift);
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

/* Once at load, after the operand types and parameter ranges (check.c, which keeps every shift below 32 and the
 * offsets int8, so nothing overflows int32): the shapes broadcast. */
PML_COLD int pml_mul_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                  pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

void pml_mul_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_mul_params_t *p = (const pml_mul_params_t *)params;
    (void)n_inputs;
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            mul_one);
}
