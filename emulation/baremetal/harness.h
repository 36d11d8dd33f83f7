/* Bare-metal harness for the picoml C kernels on emulated Cortex-M cores (see README.md). */
#ifndef PICOML_HARNESS_H
#define PICOML_HARNESS_H

#include <stdint.h>

/* Status the harness reports: 0, a pml_check status (negative), or one of these. */
#define HARNESS_ERR_ARGS 1          /* bad command line / mailbox */
#define HARNESS_ERR_IO 2            /* a host file could not be opened, read or written */
#define HARNESS_ERR_MEMORY 3        /* model, inputs, outputs, arena and scratch do not fit the free RAM */
#define HARNESS_ERR_INPUTS 4        /* the inputs are not a whole number of samples */
#define HARNESS_FAULT 0x7f          /* HardFault (QEMU images) */

/* Called right before and right after each pml_invoke. noinline functions of two instructions each (nop or
 * bkpt, then bx lr): the QEMU instruction-count plugin and the rp2040js runner count between them. */
void pml_mark_begin(void);
void pml_mark_end(void);

/* Bytes of all model inputs (outputs) of one sample, in io-table order. */
uint32_t harness_io_bytes(const uint8_t *model, int outputs);

/* A bump allocator over the free RAM the linker script leaves between the end of .bss and the stack. */
void *harness_alloc(uint32_t size);
uint32_t harness_free_bytes(void);

/* pml_check (the kernels' scratch placed in the arena's free bytes, or taken from the free RAM), then for each of n_samples samples: inputs into the arena, pml_invoke, outputs out of it.
 * `inputs` holds n_samples * harness_io_bytes(model, 0) bytes, `outputs` n_samples * harness_io_bytes(model, 1). */
int harness_run(const uint8_t *model, uint32_t model_size, uint8_t *arena, uint32_t arena_size,
                const uint8_t *inputs, uint32_t n_samples, uint8_t *outputs);

/* harness_text.c: "picoml-harness status=S samples=N" and the exit with S, over the image's console. */
void harness_write(const char *s, uint32_t n);              /* supplied by the image's main */
__attribute__((noreturn)) void harness_exit(int status);    /* supplied by the image's main */
void harness_print(const char *s);
void harness_print_int(int32_t v);
__attribute__((noreturn)) void harness_finish(int status, uint32_t samples);

#endif
