/* Vector table and reset handler shared by the three images: copy .data, zero .bss, enable the FPU when the
 * code is built for one (Cortex-M4F), call main. Faults report the stacked PC (harness_fault, per image). */
#include <stdint.h>

extern uint32_t __stack_top[], __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
int main(void);
void harness_fault(const uint32_t *frame);

__attribute__((noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    uint32_t *src = __data_load, *dst = __data_start;
    if (src != dst) {
        while (dst < __data_end) {
            *dst++ = *src++;
        }
    }
    for (dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

/* The exception frame is on the main stack (the harness never switches to the process stack). */
__attribute__((naked)) void Fault_Handler(void) {
    __asm__ volatile(
        "mrs r0, msp\n\t"
        "ldr r1, =harness_fault\n\t"
        "bx r1\n\t"
        ".ltorg");
}

__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    Reset_Handler,
    Fault_Handler,  /* NMI */
    Fault_Handler,  /* HardFault */
    Fault_Handler,  /* MemManage (M4) */
    Fault_Handler,  /* BusFault (M4) */
    Fault_Handler,  /* UsageFault (M4) */
};
