/* ADD, int8, NumPy broadcasting to the output's shape: TFLite's quantized add (add.h). May run in place on a
 * full-shaped input. */
#include "add.h"
#include "broadcast.h"
#include "check.h"
#include "picoml.h"

static inline int8_t add_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    return pml_add_sub_one(params, lo, hi, x1, x2, 0);
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
    (void)scratch;
    if (pml_add_sub_fast((const pml_add_params_t *)params, inputs, output, 0)) {
        return;
    }
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            add_one);
}
