/* Vector table and reset handler of every emulated image (picoml's MicroPython port, the bare-metal harness):
 * copy .data, zero .bss, give the FPU full access on a Cortex-M4F, call main(). main() does not return: each
 * program stops the machine its own way (a semihosting exit on QEMU, a breakpoint on rp2040js). A fault or an
 * unexpected exception calls the program's fault() with the registers the core stacked; SysTick goes to the
 * program's SysTick_Handler when it has one. */
#include <stdint.h>

#include "startup.h"

extern uint32_t __stack_top[], __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
int main(void);

__attribute__((noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 before any floating-point instruction */
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

/* fault(frame, exception number): the frame is on the stack bit 2 of EXC_RETURN (in lr) names. */
__attribute__((naked)) void Fault_Handler(void) {
    __asm__ volatile(
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "mrs r1, ipsr\n\t"
        "ldr r2, =fault\n\t"
        "bx r2\n\t"
        ".ltorg");
}

void SysTick_Handler(void) __attribute__((weak, alias("Fault_Handler")));

__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    Reset_Handler,
    Fault_Handler,      /* NMI */
    Fault_Handler,      /* HardFault */
    Fault_Handler,      /* MemManage (M4) */
    Fault_Handler,      /* BusFault (M4) */
    Fault_Handler,      /* UsageFault (M4) */
    0, 0, 0, 0,
    Fault_Handler,      /* SVC */
    Fault_Handler,      /* DebugMon */
    0,
    Fault_Handler,      /* PendSV */
    SysTick_Handler,
};
