/* The op-table walker: pml_invoke runs a model pml_check (check.c) accepted, from its bytes, an arena and where
 * its kernels' scratch is (a buffer apart, or the arena's free bytes), with no checks. */
#include "picoml.h"

/* A switch, not a table of function pointers: the natmod linker cannot relocate pointers to functions of other
 * object files inside read-only data. One case per op of PML_OPS (ops.h). */
static void run_kernel(int32_t code, const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out,
                       void *scratch) {
    switch (code) {
#define PML_CASE(NAME, name, op_code, n_params, n_inputs) \
        case op_code: pml_##name##_s8(params, in, n_in, out, scratch); break;
        PML_OPS(PML_CASE)
#undef PML_CASE
        default: break;
    }
}

void pml_invoke(const uint8_t *model, uint8_t *arena, void *scratch, const uint32_t *scratch_at) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    const pml_tensor_t *tensors = (const pml_tensor_t *)(const void *)(model + h->tensors_offset);
    const uint8_t *weights = model + h->weights_offset;
    const int32_t *word = (const int32_t *)(const void *)(model + h->ops_offset);
    pml_operand_t operands[PML_MAX_OPERANDS];
    for (uint32_t i = 0; i < h->n_ops; i++) {
        const int32_t code = word[0], n_in = word[1], n_out = word[2], n_params = word[3];
        for (int32_t k = 0; k < n_in + n_out; k++) {
            const pml_tensor_t *t = &tensors[word[4 + k]];
            operands[k].tensor = t;
            operands[k].data = t->storage == PML_STORAGE_WEIGHTS ? (void *)(uintptr_t)(weights + t->offset)
                                                                 : (void *)(arena + t->offset);
        }
        run_kernel(code, word + 4 + n_in + n_out, operands, n_in, operands + n_in,
                   scratch_at == 0 || scratch_at[i] == PML_SCRATCH_APART ? scratch : (void *)(arena + scratch_at[i]));
        word += 4 + n_in + n_out + n_params;
    }
}
