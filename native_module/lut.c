/* LUT, int8 -> int8 by a 256-entry table: out[i] = table[(uint8_t)in[i]]. Every element-wise op of one int8 value
 * (the RELU family, LEAKY_RELU, QUANTIZE, LOGISTIC, TANH, HARD_SWISH) is converted to it; the host computes the
 * table with the op's numpy reference (host/picoml/ops/lut.py). May run in place: element i is read before it is
 * written. */
#include "check.h"
#include "picoml.h"

/* Once at load, after the operand types (check.c: int8 in and out, the table an int8 constant): a table of 256
 * values, an output of the input's size. */
PML_COLD int pml_lut_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                           pml_check_t *c) {
    (void)params;
    PML_NEED(c, pml_count(&inputs[1]) == 256, PML_R_LUT_SIZE, pml_count(&inputs[1]));
    return pml_check_same_size(c, &inputs[0], output, 0);
}

void pml_lut_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    (void)params;
    (void)n_inputs;
    const int32_t count = pml_count(&inputs[0]);
    const uint8_t *x = (const uint8_t *)inputs[0].data;
    const int8_t *table = (const int8_t *)inputs[1].data;
    int8_t *y = (int8_t *)output->data;
    for (int32_t i = 0; i < count; i++) {
        y[i] = table[x[i]];
    }
}
