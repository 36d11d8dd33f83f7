/* The part of the harness every image shares: feed samples through pml_check + pml_invoke. */
#include "harness.h"

#include <stddef.h>

#include "picoml.h"

extern uint8_t __heap_start[], __heap_end[];
static uint8_t *heap_next = __heap_start;

void *harness_alloc(uint32_t size) {
    uint8_t *p = (uint8_t *)(((uintptr_t)heap_next + 15) & ~(uintptr_t)15);
    if (p > __heap_end || size > (uint32_t)(__heap_end - p)) {
        return 0;
    }
    heap_next = p + size;
    return p;
}

uint32_t harness_free_bytes(void) {
    return (uint32_t)(__heap_end - heap_next);
}

static const pml_tensor_t *io_tensor(const uint8_t *model, uint32_t k) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    const uint8_t *entry = model + h->io_offset + 4 * k;
    uint32_t index = (uint32_t)entry[0] | ((uint32_t)entry[1] << 8);
    return (const pml_tensor_t *)(const void *)(model + h->tensors_offset) + index;
}

static void io_range(const uint8_t *model, int outputs, uint32_t *first, uint32_t *end) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    *first = outputs ? h->n_inputs : 0;
    *end = outputs ? (uint32_t)h->n_inputs + h->n_outputs : h->n_inputs;
}

uint32_t harness_io_bytes(const uint8_t *model, int outputs) {
    uint32_t k, end, total = 0;
    for (io_range(model, outputs, &k, &end); k < end; k++) {
        total += io_tensor(model, k)->nbytes;
    }
    return total;
}

static void copy(uint8_t *dst, const uint8_t *src, uint32_t n) {
    while (n--) {
        *dst++ = *src++;
    }
}

__attribute__((noinline)) void pml_mark_begin(void) {
#ifdef HARNESS_BKPT_MARKERS
    __asm__ volatile("bkpt 1");
#else
    __asm__ volatile("nop");
#endif
}

__attribute__((noinline)) void pml_mark_end(void) {
#ifdef HARNESS_BKPT_MARKERS
    __asm__ volatile("bkpt 2");
#else
    __asm__ volatile("nop");
#endif
}

int harness_run(const uint8_t *model, uint32_t model_size, uint8_t *arena, uint32_t arena_size,
                const uint8_t *inputs, uint32_t n_samples, uint8_t *outputs) {
    pml_error_t error;
    uint32_t scratch_size;
    const uint32_t n_ops = model_size >= sizeof(pml_header_t) ? ((const pml_header_t *)(const void *)model)->n_ops : 0;
    uint32_t *scratch_at = harness_alloc(4 * n_ops + 4);   /* none (every op's scratch apart) when it does not fit */
    int status = pml_check(model, model_size, arena_size, &error, &scratch_size, scratch_at);
    if (status != PML_OK) {
        return status;
    }
    void *scratch = scratch_size ? harness_alloc(scratch_size) : 0;
    if (scratch_size && !scratch) {
        return HARNESS_ERR_MEMORY;
    }
    for (uint32_t i = 0; i < arena_size; i++) {
        arena[i] = 0;
    }
    for (uint32_t s = 0; s < n_samples; s++) {
        uint32_t k, end;
        for (io_range(model, 0, &k, &end); k < end; k++) {
            const pml_tensor_t *t = io_tensor(model, k);
            copy(arena + t->offset, inputs, t->nbytes);
            inputs += t->nbytes;
        }
        pml_mark_begin();
        pml_invoke(model, arena, scratch, scratch_at);
        pml_mark_end();
        for (io_range(model, 1, &k, &end); k < end; k++) {
            const pml_tensor_t *t = io_tensor(model, k);
            copy(outputs, arena + t->offset, t->nbytes);
            outputs += t->nbytes;
        }
    }
    return 0;
}
