/* The op-table walker: one call runs a whole .pml model from its bytes and an arena. */
#include "fixedpoint.h"
#include "picoml.h"

/* A switch, not a table of function pointers: the natmod linker cannot relocate pointers to functions of other
 * object files inside read-only data. One case per op of PML_OPS (ops.h). */
static int run_kernel(int32_t code, const void *params, const pml_operand_t *in, int n_in,
                      const pml_operand_t *out, int n_out) {
    switch (code) {
#define PML_CASE(NAME, name, op_code, n_params, n_inputs) \
        case op_code: return pml_##name##_s8(params, in, n_in, out, n_out);
        PML_OPS(PML_CASE)
#undef PML_CASE
        default: return PML_ERR_UNKNOWN_OP;
    }
}

static const uint8_t N_PARAMS[PML_OP_MAX + 1] = {
#define PML_N_PARAMS(NAME, name, op_code, n_params, n_inputs) [op_code] = n_params,
    PML_OPS(PML_N_PARAMS)
#undef PML_N_PARAMS
};

static const pml_tensor_t *tensor_table(const uint8_t *model) {
    return (const pml_tensor_t *)(const void *)(model + ((const pml_header_t *)(const void *)model)->tensors_offset);
}

static int check_tensors(const pml_header_t *h, const pml_tensor_t *tensors, uint32_t arena_size) {
    for (uint32_t i = 0; i < h->n_tensors; i++) {
        const pml_tensor_t *t = &tensors[i];
        uint32_t limit = t->storage == PML_STORAGE_ARENA ? arena_size : h->weights_size;
        uint32_t size = t->dtype == PML_DTYPE_INT32 ? 4 : (uint32_t)t->dtype;
        int64_t count = 1;
        if (t->dtype < PML_DTYPE_INT8 || t->dtype > PML_DTYPE_INT32 || t->ndim > PML_MAX_DIMS
            || t->storage > PML_STORAGE_WEIGHTS || (t->offset & 3) != 0) {
            return PML_ERR_MODEL;
        }
        for (int d = 0; d < t->ndim && count <= INT32_MAX; d++) {
            /* pml_mul_s64: no libgcc multiply on Cortex-M0 */
            count = t->dims[d] > INT32_MAX ? (int64_t)INT32_MAX + 1 : pml_mul_s64((int32_t)count, (int32_t)t->dims[d]);
        }
        if (count > INT32_MAX || (uint32_t)count * size != t->nbytes || (uint64_t)t->offset + t->nbytes > limit) {
            return PML_ERR_MODEL;
        }
    }
    return PML_OK;
}

int pml_check(const uint8_t *model, uint32_t model_size, uint32_t arena_size) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    if (((uintptr_t)model & 3) != 0 || model_size < sizeof(pml_header_t) || h->version != PML_FORMAT_VERSION
        || h->file_size != model_size || h->header_size != sizeof(pml_header_t)
        || arena_size < h->arena_size
        || (uint64_t)h->tensors_offset + (uint32_t)h->n_tensors * (uint32_t)sizeof(pml_tensor_t) > model_size
        || (uint64_t)h->ops_offset + h->ops_size > model_size
        || (uint64_t)h->weights_offset + h->weights_size > model_size
        || ((h->tensors_offset | h->ops_offset | h->ops_size | h->weights_offset) & 3) != 0) {
        return PML_ERR_MODEL;
    }
    if (check_tensors(h, tensor_table(model), arena_size) != PML_OK) {
        return PML_ERR_MODEL;
    }
    const int32_t *word = (const int32_t *)(const void *)(model + h->ops_offset);
    const int32_t *end = word + h->ops_size / 4;
    for (uint32_t i = 0; i < h->n_ops; i++) {
        if (end - word < 4) {
            return PML_ERR_MODEL;
        }
        int32_t code = word[0], n_in = word[1], n_out = word[2], n_params = word[3];
        if (code < 1 || code > PML_OP_MAX) {
            return PML_ERR_UNKNOWN_OP;
        }
        if (n_params != N_PARAMS[code] || n_in < 0 || n_out < 1 || n_in + n_out > PML_MAX_OPERANDS
            || end - word < 4 + n_in + n_out + n_params) {
            return PML_ERR_MODEL;
        }
        for (int32_t k = 0; k < n_in + n_out; k++) {
            int32_t t = word[4 + k];
            if (t < -1 || t >= (int32_t)h->n_tensors || (t < 0 && k >= n_in)) {
                return PML_ERR_MODEL;
            }
            if (k >= n_in && tensor_table(model)[t].storage != PML_STORAGE_ARENA) {
                return PML_ERR_MODEL;   /* an op would write into the model */
            }
        }
        word += 4 + n_in + n_out + n_params;
    }
    return word == end ? PML_OK : PML_ERR_MODEL;
}

int pml_invoke(const uint8_t *model, uint8_t *arena) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    const pml_tensor_t *tensors = tensor_table(model);
    const uint8_t *weights = model + h->weights_offset;
    const int32_t *word = (const int32_t *)(const void *)(model + h->ops_offset);
    pml_operand_t operands[PML_MAX_OPERANDS];
    for (uint32_t i = 0; i < h->n_ops; i++) {
        int32_t code = word[0], n_in = word[1], n_out = word[2], n_params = word[3];
        for (int32_t k = 0; k < n_in + n_out; k++) {
            int32_t t = word[4 + k];
            if (t < 0) {
                operands[k].tensor = 0;
                operands[k].data = 0;
                continue;
            }
            operands[k].tensor = &tensors[t];
            operands[k].data = tensors[t].storage == PML_STORAGE_WEIGHTS
                ? (void *)(uintptr_t)(weights + tensors[t].offset) : (void *)(arena + tensors[t].offset);
        }
        int status = run_kernel(code, word + 4 + n_in + n_out, operands, n_in, operands + n_in, n_out);
        if (status != PML_OK) {
            return status;
        }
        word += 4 + n_in + n_out + n_params;
    }
    return PML_OK;
}
