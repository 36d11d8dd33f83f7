#include <stdint.h>
#include <stddef.h>

// No machine.Pin here: keeps py/mphal.h from pulling extmod/virtpin.h (absent from the kit)
#define mp_hal_pin_obj_t void *

static inline void mp_hal_set_interrupt_char(char c) {
    (void)c;
}

// the rate of the core's CCOUNT register in QEMU's sim machine (port.c; QEMU derives it from its virtual clock)
#define MICROPY_QEMU_CPU_HZ (XTENSA_SIM_CCOUNT_HZ)

uint64_t mp_hal_ticks_us64(void);
extern size_t port_heap_size;
void mp_hal_stdout_flush(void);
