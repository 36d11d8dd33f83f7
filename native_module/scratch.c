/* Where each op's kernel takes its scratch (pml_check, once every op has passed): arena bytes that no tensor still
 * needs during that op, else the buffer apart. A model's arena is sized for its busiest op; at the others, and
 * between a convolution's input and output, there are bytes to spare, so most ops' scratch costs no RAM at all. */
#include "check.h"
#include "picoml.h"

/* Steps (tensors looked at, ops walked) the placement of a whole model may take: a model's ops and tensors number
 * in the tens or hundreds, a damaged file's may not. Past it, the ops left take the buffer apart. */
#define PML_PLACE_STEPS (1u << 20)

/* The model's tables and the steps left. */
typedef struct {
    const pml_header_t *h;
    const pml_tensor_t *tensors;
    const uint16_t *io;     /* an entry's tensor at 2 * index */
    uint32_t steps;
} place_t;

static inline const int32_t *next_op(const int32_t *w) {
    return w + 4 + w[1] + w[2] + w[3];
}

/* Whether the bytes of tensor r (in the arena) are still needed during op k, whose words are at w: r is an operand
 * of op k, or state, or read by a later op or the caller (a model output) before a later op writes a tensor
 * spanning all of its bytes. On a tensor aliased by views, each view is a tensor of its own: a view read later is
 * needed, and one no op writes is written over by none. */
static PML_COLD int needed(place_t *p, const int32_t *w, int32_t k, int32_t r) {
    const pml_tensor_t *t = &p->tensors[r];
    if (t->storage == PML_STORAGE_STATE) {
        return 1;
    }
    for (int32_t m = k; m < (int32_t)p->h->n_ops; m++, w = next_op(w)) {
        if (p->steps == 0) {
            return 1;
        }
        p->steps--;
        /* the inputs first: an op that reads r and writes over it needs it */
        for (int32_t j = 0; j < w[1] + w[2]; j++) {
            const pml_tensor_t *o = &p->tensors[w[4 + j]];
            if (j < w[1] || m == k) {
                if (w[4 + j] == r) {
                    return 1;
                }
            } else if (o->offset <= t->offset && t->offset + t->nbytes <= o->offset + o->nbytes) {
                return 0;
            }
        }
    }
    for (uint32_t i = p->h->n_inputs; i < (uint32_t)p->h->n_inputs + p->h->n_outputs; i++) {
        if (p->io[2 * i] == (uint32_t)r) {
            return 1;
        }
    }
    return 0;
}

/* The lowest 4-byte aligned arena offset of `size` bytes no needed tensor holds during op k, or PML_SCRATCH_APART. */
static PML_COLD uint32_t free_bytes(place_t *p, const int32_t *w, int32_t k, uint32_t size, uint32_t arena_size) {
    uint32_t at = 0;
    while (size <= arena_size && at <= arena_size - size) {
        /* the lowest end of a needed tensor across [at, at + size): no offset below it fits */
        uint64_t clash = UINT64_MAX;
        for (int32_t r = 0; r < (int32_t)p->h->n_tensors; r++) {
            const pml_tensor_t *t = &p->tensors[r];
            const uint32_t end = t->offset + t->nbytes;     /* inside the arena: pml_check */
            if (p->steps == 0) {
                return PML_SCRATCH_APART;
            }
            p->steps--;
            if (t->storage != PML_STORAGE_WEIGHTS && t->offset < at + size && at < end && end < clash
                && needed(p, w, k, r)) {
                clash = end;
            }
        }
        if (clash == UINT64_MAX) {
            return at;
        }
        at = ((uint32_t)clash + 3u) & ~3u;
    }
    return PML_SCRATCH_APART;
}

PML_COLD uint32_t pml_place_scratch(const uint8_t *model, uint32_t arena_size, uint32_t *scratch_at) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    place_t p = {h, (const pml_tensor_t *)(const void *)(model + h->tensors_offset),
                 (const uint16_t *)(const void *)(model + h->io_offset), PML_PLACE_STEPS};
    const int32_t *w = (const int32_t *)(const void *)(model + h->ops_offset);
    uint32_t apart = 0;
    for (int32_t k = 0; k < (int32_t)h->n_ops; k++, w = next_op(w)) {
        const uint32_t size = scratch_at[k];
        scratch_at[k] = size ? free_bytes(&p, w, k, size, arena_size) : PML_SCRATCH_APART;
        if (size && scratch_at[k] == PML_SCRATCH_APART && size > apart) {
            apart = size;
        }
    }
    return apart;
}
