/* picoml int8 runtime: the .pml layout as C structs, the kernel interface and the op-table walker.
 * No MicroPython here: the same code builds with host gcc (tests) and in the native module. */
#ifndef PICOML_H
#define PICOML_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* Status codes returned by pml_check, pml_invoke and the kernels. */
#define PML_OK 0
#define PML_ERR_MODEL (-1)        /* the model's tables are inconsistent */
#define PML_ERR_UNKNOWN_OP (-2)   /* an op code this build does not know */
#define PML_ERR_OPERANDS (-3)     /* an op's operands do not fit its kernel (count, dtype or shape) */

#define PML_MAX_DIMS 4
#define PML_MAX_OPERANDS 32
#define PML_STORAGE_ARENA 0
#define PML_STORAGE_WEIGHTS 1
#define PML_DTYPE_INT8 1
#define PML_DTYPE_INT16 2
#define PML_DTYPE_INT32 3

/* The 64-byte file header (docs/format.md); all targets are little-endian, fields are naturally aligned. */
typedef struct {
    char magic[4];
    uint16_t version, header_size;
    uint32_t file_size, crc;
    uint16_t n_tensors, n_ops, n_inputs, n_outputs;
    uint32_t arena_size, tensors_offset, ops_offset, ops_size, io_offset;
    uint32_t metadata_offset, metadata_size, weights_offset, weights_size, flags;
} pml_header_t;

/* A tensor table entry, 36 bytes. */
typedef struct {
    uint8_t dtype, ndim, storage, reserved;
    uint32_t offset, nbytes;
    uint32_t dims[PML_MAX_DIMS];
    float scale;
    int32_t zero_point;
} pml_tensor_t;

/* An op's operand as a kernel sees it: the tensor's description and where its bytes are. */
typedef struct {
    const pml_tensor_t *tensor;
    void *data;
} pml_operand_t;

/* Every kernel has the signature of the ones below: params overlay the op's int32 params
 * (pml_<op>_params_t in ops.h); inputs and outputs are the op's operands in table order. */

/* Structural check of a whole model, once, before any pml_invoke: offsets inside the file and the arena,
 * operand indices in range, known op codes with the right parameter counts. */
int pml_check(const uint8_t *model, uint32_t model_size, uint32_t arena_size);

/* Run every op of a checked model; inputs are already in the arena, outputs are left there. */
int pml_invoke(const uint8_t *model, uint8_t *arena);

/* Shape helpers shared by the kernels. */
static inline int32_t pml_dim(const pml_operand_t *o, int i) {
    return (int32_t)o->tensor->dims[i];
}

static inline int32_t pml_count(const pml_operand_t *o) {
    int32_t n = 1;
    for (int i = 0; i < o->tensor->ndim; i++) {
        n *= (int32_t)o->tensor->dims[i];
    }
    return n;
}

/* The shape right-aligned to 4 dimensions, leading dimensions 1. */
static inline void pml_dims4(const pml_operand_t *o, int32_t out[PML_MAX_DIMS]) {
    int ndim = o->tensor->ndim;
    for (int i = 0; i < PML_MAX_DIMS; i++) {
        int j = i - (PML_MAX_DIMS - ndim);
        out[i] = j >= 0 ? (int32_t)o->tensor->dims[j] : 1;
    }
}

/* The kernels, one family per file: pml_<name>_s8 for every op of PML_OPS (ops.h). */
#define PML_KERNEL(NAME, name, code, n_params, n_inputs) \
    int pml_##name##_s8(const void *, const pml_operand_t *, int, const pml_operand_t *, int);
PML_OPS(PML_KERNEL)
#undef PML_KERNEL

#endif
