// Vector table and reset handler for the Cortex-M4F (mps2-an386) and Cortex-M0 (microbit) targets.
#include <stdint.h>
#include "semihost.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void SysTick_Handler(void);

__attribute__((noreturn)) void Reset_Handler(void) {
    #if defined(__ARM_FP)
    // Cortex-M4F: give CP10/CP11 (the FPU) full access before any floating-point instruction runs
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile ("dsb\n isb" ::: "memory");
    #endif
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    sh_exit(main());
}

void mp_hal_stdout_flush(void);

static void put(int fd, const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    sh_write(fd, s, n);
}

static void put_hex(int fd, uint32_t v) {
    char buf[11] = "0x";
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    }
    buf[10] = 0;
    put(fd, buf);
}

// frame: the registers the core stacked on the exception (r0-r3, r12, lr, pc, xpsr)
__attribute__((noreturn, used)) void fault_report(const uint32_t *frame, const char *what) {
    mp_hal_stdout_flush();
    int fd = sh_open(":tt", SH_MODE_W);
    put(fd, "\nFATAL: ");
    put(fd, what);
    put(fd, " at pc ");
    put_hex(fd, frame[6]);
    put(fd, ", lr ");
    put_hex(fd, frame[5]);
    put(fd, "\n");
    sh_exit(99);
}

// which stack holds the frame: bit 2 of EXC_RETURN (in lr)
#define FAULT_HANDLER(name, text) \
    __attribute__((used)) static const char name##_text[] = text; \
    __attribute__((naked)) void name(void) { \
        __asm__ volatile ( \
            "movs r0, #4\n mov r1, lr\n tst r0, r1\n beq 1f\n mrs r0, psp\n b 2f\n" \
            "1: mrs r0, msp\n 2: ldr r1, =" #name "_text\n ldr r2, =fault_report\n bx r2\n"); \
    }

FAULT_HANDLER(HardFault_Handler, "HardFault (bad memory access, unaligned access on the Cortex-M0, bad code)")
FAULT_HANDLER(Default_Handler, "unexpected exception")

const uint32_t isr_vector[] __attribute__((section(".isr_vector"), used)) = {
    (uint32_t)&_estack,
    (uint32_t)&Reset_Handler,
    (uint32_t)&Default_Handler,     // NMI
    (uint32_t)&HardFault_Handler,
    (uint32_t)&HardFault_Handler,   // MemManage
    (uint32_t)&HardFault_Handler,   // BusFault
    (uint32_t)&HardFault_Handler,   // UsageFault
    0, 0, 0, 0,
    (uint32_t)&Default_Handler,     // SVC
    (uint32_t)&Default_Handler,     // DebugMon
    0,
    (uint32_t)&Default_Handler,     // PendSV
    (uint32_t)&SysTick_Handler,
};
