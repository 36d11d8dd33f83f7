/* LUT, int8 -> int8 by a 256-entry table: out[i] = table[(uint8_t)in[i]]. Every element-wise op of one int8 value
 * (the RELU family, LEAKY_RELU, QUANTIZE, LOGISTIC, TANH, HARD_SWISH) is converted to it; the host computes the
 * table with the op's numpy reference (host/picoml/ops/lut.py). May run in place: element i is read before it is
 * written. */
#include "picoml.h"

int pml_lut_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *outputs,
    int n_outputs) {
    (void)params;
    if (n_inputs != 2 || n_outputs != 1 || inputs[0].tensor == 0 || inputs[1].tensor == 0
        || inputs[0].tensor->dtype != PML_DTYPE_INT8 || inputs[1].tensor->dtype != PML_DTYPE_INT8
        || outputs[0].tensor->dtype != PML_DTYPE_INT8 || pml_count(&inputs[1]) != 256
        || pml_count(&inputs[0]) != pml_count(&outputs[0])) {
        return PML_ERR_OPERANDS;
    }
    int32_t count = pml_count(&inputs[0]);
    const uint8_t *x = (const uint8_t *)inputs[0].data;
    const int8_t *table = (const int8_t *)inputs[1].data;
    int8_t *y = (int8_t *)outputs[0].data;
    for (int32_t i = 0; i < count; i++) {
        y[i] = table[x[i]];
    }
    return PML_OK;
}
