#include <stdint.h>
#include <stddef.h>

// No machine.Pin here: keeps py/mphal.h from pulling extmod/virtpin.h (absent from the kit)
#define mp_hal_pin_obj_t void *

static inline void mp_hal_set_interrupt_char(char c) {
    (void)c;
}

// MICROPY_QEMU_CPU_HZ: the rate of the clock main.c reads (the machine's <NAME>_CPU_HZ in ../machines.mk)

uint64_t mp_hal_ticks_us64(void);
extern size_t port_heap_size;
void mp_hal_stdout_flush(void);
