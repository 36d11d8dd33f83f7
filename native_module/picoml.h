/* picoml int8 runtime: the .pml layout as C structs, the kernel interface, the checks and the op-table walker.
 * No MicroPython here: the same code builds with host gcc (tests) and in the native module. */
#ifndef PICOML_H
#define PICOML_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* Status codes returned by pml_check. */
#define PML_OK 0
#define PML_ERR_MODEL (-1)        /* the model's tables are inconsistent */
#define PML_ERR_UNKNOWN_OP (-2)   /* an op code this build does not know */
#define PML_ERR_OPERANDS (-3)     /* an op's operands or params do not fit its kernel */

#define PML_STORAGE_ARENA 0
#define PML_STORAGE_WEIGHTS 1
#define PML_STORAGE_STATE 2     /* in the arena, kept from one invoke to the next */
#define PML_DTYPE_INT8 1
#define PML_DTYPE_INT16 2
#define PML_DTYPE_INT32 3
#define PML_DTYPE_UINT32 4
#define PML_DTYPE_UINT64 5      /* at a 4-byte aligned offset, like every tensor */

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

/* What pml_check reports about the first rule a model breaks: the op (or -1 for the model's tables), the tensor
 * (or -1), the rule (a PML_R_ code of rules.h), its detail (the operand or parameter index for the rules of
 * operand types and parameter ranges, else -1) and the offending value. picoml.validate words it. */
typedef struct {
    int32_t op, tensor, rule, detail, value;
} pml_error_t;

/* What an op's check (pml_<op>_check) sees besides its params and operands (its input count), and what it fills
 * in: the rule broken and the value, or the op's work (the inner-loop iterations of its kernel, saturated at
 * PML_MAX_WORK + 1) and the bytes of scratch its kernel needs on this build's core (0 unless it says). */
typedef struct {
    int32_t n_inputs, rule, value;
    int64_t work;
    uint32_t scratch;
} pml_check_t;

/* An op whose kernel's scratch is the buffer apart (pml_check's scratch_at). */
#define PML_SCRATCH_APART UINT32_MAX

/* Validate a whole model once, before any pml_invoke (check.c): the sections inside the file, every tensor inside
 * the arena or the weights blob, every op's operands and params consistent with what its kernel reads and writes,
 * the total work at most PML_MAX_WORK (rules.h). The caller has checked the header's magic, version, file size
 * and CRC-32 (picoml.pml.check_header, picoml.format.read_header) and that `model` is 4-byte aligned. Returns
 * PML_OK or a status, with *error saying what is wrong.
 * Then where each op's kernel takes its scratch (working memory during that op; most kernels need none). With
 * scratch_at NULL, every op takes it from a buffer apart of *scratch_size bytes (the largest of any op's, a
 * multiple of 4). Otherwise scratch_at has n_ops entries: an op's is the arena offset of bytes that no tensor
 * still needs during that op (scratch.c), or PML_SCRATCH_APART when none are free, and *scratch_size covers only
 * the ops apart. A model that passes is safe to pml_invoke with a 4-byte aligned buffer apart of *scratch_size
 * bytes, the same scratch_at and an arena of at least arena_size bytes (the header's; with scratch_at, the
 * arena_size given here, which the placement may use to its end). */
int pml_check(const uint8_t *model, uint32_t model_size, uint32_t arena_size, pml_error_t *error,
              uint32_t *scratch_size, uint32_t *scratch_at);

/* Run every op of a model pml_check accepted; inputs are already in the arena, outputs are left there. No checks:
 * the kernels trust pml_check. `scratch` is the buffer apart and scratch_at the placement pml_check made (or
 * NULL, as it was given to it). */
void pml_invoke(const uint8_t *model, uint8_t *arena, void *scratch, const uint32_t *scratch_at);

/* Shape helpers shared by the kernels. */
/* The dilation a kernel uses along an axis with `taps` filter taps: any dilation passes pml_check when there is
 * one tap (it moves nothing), so the kernels take 1 there and no index arithmetic meets an unchecked value. */
static inline int32_t pml_dilation(int32_t dilation, int32_t taps) {
    return taps > 1 ? dilation : 1;
}

static inline int32_t pml_dim(const pml_operand_t *o, int i) {
    return (int32_t)o->tensor->dims[i];
}

/* An output that shares arena bytes with an input: a convolution's output behind its input (check.c's behind_gap).
 * From the tensors' offsets, so the kernels' scratch queries see it at load as the kernels do at run time. */
static inline int pml_overlaps(const pml_operand_t *input, const pml_operand_t *output) {
    const pml_tensor_t *x = input->tensor, *y = output->tensor;
    return x->storage == y->storage && x->offset < y->offset + y->nbytes && y->offset < x->offset + x->nbytes;
}

static inline int32_t pml_count(const pml_operand_t *o) {
    int32_t n = 1;
    for (int i = 0; i < o->tensor->ndim; i++) {
        n *= (int32_t)o->tensor->dims[i];
    }
    return n;
}

/* Bytes per value of a dtype (PML_DTYPE_*). */
static inline int32_t pml_dtype_size(int dtype) {
    return dtype == PML_DTYPE_UINT64 ? 8 : (dtype >= PML_DTYPE_INT32 ? 4 : dtype);
}

/* The shape right-aligned to 4 dimensions, leading dimensions 1. */
static inline void pml_dims4(const pml_operand_t *o, int32_t out[PML_MAX_DIMS]) {
    int ndim = o->tensor->ndim;
    for (int i = 0; i < PML_MAX_DIMS; i++) {
        int j = i - (PML_MAX_DIMS - ndim);
        out[i] = j >= 0 ? (int32_t)o->tensor->dims[j] : 1;
    }
}

/* The kernels, one family per file, for every op of PML_OPS (ops.h): pml_<name>_check validates an op once at load,
 * after its operand types and parameter ranges (check.c), and says how much scratch its kernel needs;
 * pml_<name>_s8 runs it with no checks. */
#define PML_KERNEL(NAME, name, code, n_params, n_inputs) \
    int pml_##name##_check(const void *, const pml_operand_t *, const pml_operand_t *, pml_check_t *); \
    void pml_##name##_s8(const void *, const pml_operand_t *, int, const pml_operand_t *, void *);
PML_OPS(PML_KERNEL)
#undef PML_KERNEL

#endif
