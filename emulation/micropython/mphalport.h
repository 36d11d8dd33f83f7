#include <stdint.h>
#include <stddef.h>

// No machine.Pin here: keeps py/mphal.h from pulling extmod/virtpin.h (absent from the kit)
#define mp_hal_pin_obj_t void *

static inline void mp_hal_set_interrupt_char(char c) {
    (void)c;
}

// the CPU clock SysTick counts (QEMU's mps2-an386 SYSCLK; the nRF51's HCLK)
#if defined(__ARM_FP)
#define MICROPY_QEMU_CPU_HZ (25000000u)
#else
#define MICROPY_QEMU_CPU_HZ (16000000u)
#endif

uint64_t mp_hal_ticks_us64(void);
extern size_t port_heap_size;
void mp_hal_stdout_flush(void);
