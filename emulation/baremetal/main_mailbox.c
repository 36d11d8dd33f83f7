/* Harness main for rp2040js (Cortex-M0+): no semihosting there, so the host (run_rp2040.mjs) and the image
 * talk through a mailbox at a fixed address (0x20000100: the +0x100 of common/image.ld). The host reads
 * heap_start/heap_end, puts the model and the inputs in memory, fills model_*, inputs_addr and n_samples, and
 * runs the core; the image runs every sample (bkpt 1 / bkpt 2 around each pml_invoke), fills
 * outputs_addr/outputs_size and status, and stops at bkpt 0. */
#include <stdint.h>

#include "harness.h"
#include "startup.h"

#define MAILBOX_MAGIC 0x484c4d50u   /* "PMLH" */

typedef struct {
    uint32_t magic, version;
    uint32_t heap_start, heap_end;                        /* set at link time */
    uint32_t model_addr, model_size, inputs_addr, n_samples;  /* set by the host */
    uint32_t outputs_addr, outputs_size, arena_addr, arena_size;  /* set by the image */
    int32_t status;
    uint32_t done;
} mailbox_t;

extern uint8_t __heap_start[], __heap_end[];

__attribute__((section(".mailbox"), used)) volatile mailbox_t mailbox = {
    MAILBOX_MAGIC, 1, (uint32_t)(uintptr_t)__heap_start, (uint32_t)(uintptr_t)__heap_end, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

__attribute__((noreturn)) static void finish(int status) {
    mailbox.status = status;
    mailbox.done = 1;
    for (;;) {
        __asm__ volatile("bkpt 0");
    }
}

int main(void) {
    const uint8_t *model = (const uint8_t *)(uintptr_t)mailbox.model_addr;
    if (!model || mailbox.model_size < 64) {
        finish(HARNESS_ERR_ARGS);
    }
    /* the host allocates above what it announced in heap_start: take that space */
    harness_alloc(mailbox.heap_start - (uint32_t)(uintptr_t)__heap_start);
    uint32_t out_bytes = harness_io_bytes(model, 1);
    uint32_t arena_size = *(const uint32_t *)(const void *)(model + 24);
    uint8_t *outputs = harness_alloc(mailbox.n_samples * out_bytes + 4);
    uint8_t *arena = harness_alloc(arena_size + 4);
    if (!outputs || !arena) {
        finish(HARNESS_ERR_MEMORY);
    }
    mailbox.outputs_addr = (uint32_t)(uintptr_t)outputs;
    mailbox.outputs_size = mailbox.n_samples * out_bytes;
    mailbox.arena_addr = (uint32_t)(uintptr_t)arena;
    mailbox.arena_size = arena_size;
    finish(harness_run(model, mailbox.model_size, arena, arena_size, (const uint8_t *)(uintptr_t)mailbox.inputs_addr,
                       mailbox.n_samples, outputs));
}

void fault(const uint32_t *frame, uint32_t exception) {
    (void)frame;
    (void)exception;
    finish(HARNESS_FAULT);
}
