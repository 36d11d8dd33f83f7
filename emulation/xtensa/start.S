/* Reset code and exception vectors for the bare-metal kernel harness on QEMU's Xtensa dc233c core (sim machine,
 * docs/esp32.md). The windowed ABI spills and refills register windows through the six window handlers, and movsp
 * (clang restores the stack pointer with it after a call that passed arguments on the stack) raises the alloca
 * exception when the caller's registers are spilled: the user-exception vector reloads them and retries, as
 * Xtensa's runtimes (and ESP-IDF on the ESP32) do. Any other exception exits with status 0x7f. */
    .section .text.start, "ax"
    .global _start
    .align 4
_start:
    j     .Lgo
    .align 4
.Lstack:   .long __stack - 64
.Lps:      .long 0x00040020             /* WOE (windowed overflow enabled), UM, EXCM 0, INTLEVEL 0 */
.Lmain:    .long main
.Lvectors: .long window_vectors
.Lgo:
    l32r  a2, .Lvectors
    wsr   a2, vecbase
    movi  a2, 0
    wsr   a2, windowbase
    movi  a2, 1
    wsr   a2, windowstart
    rsync
    l32r  a1, .Lstack
    l32r  a2, .Lps
    wsr   a2, ps
    rsync
    movi  a0, 0
    l32r  a4, .Lmain
    callx4 a4
    mov   a3, a6
    movi  a2, 1
    .byte 0x00, 0x51, 0x00              /* simcall: exit(a3) */
1:  j     1b

/* int sim_call(int nr, int a, int b, int c): QEMU's Xtensa semihosting (simcall: nr in a2, arguments in a3..a5,
 * the result in a2) */
    .text
    .global sim_call
    .align 4
sim_call:
    entry a1, 16
    .byte 0x00, 0x51, 0x00              /* simcall */
    retw.n

    .section .vectors, "ax"
    .align 12
    .global window_vectors
window_vectors:
    .org window_vectors + 0x00           /* WindowOverflow4 */
    s32e  a0, a5, -16
    s32e  a1, a5, -12
    s32e  a2, a5, -8
    s32e  a3, a5, -4
    rfwo
    .org window_vectors + 0x40           /* WindowUnderflow4 */
underflow4:
    l32e  a0, a5, -16
    l32e  a1, a5, -12
    l32e  a2, a5, -8
    l32e  a3, a5, -4
    rfwu
    .org window_vectors + 0x80           /* WindowOverflow8 */
    s32e  a0, a9, -16
    l32e  a0, a1, -12
    s32e  a2, a9, -8
    s32e  a1, a9, -12
    s32e  a3, a9, -4
    s32e  a4, a0, -32
    s32e  a5, a0, -28
    s32e  a6, a0, -24
    s32e  a7, a0, -20
    rfwo
    .org window_vectors + 0xc0           /* WindowUnderflow8 */
underflow8:
    l32e  a1, a9, -12
    l32e  a0, a9, -16
    l32e  a7, a1, -12
    l32e  a2, a9, -8
    l32e  a4, a7, -32
    l32e  a3, a9, -4
    l32e  a5, a7, -28
    l32e  a6, a7, -24
    l32e  a7, a7, -20
    rfwu
    .org window_vectors + 0x100          /* WindowOverflow12 */
    s32e  a0, a13, -16
    l32e  a0, a1, -12
    s32e  a1, a13, -12
    s32e  a2, a13, -8
    s32e  a3, a13, -4
    s32e  a4, a0, -48
    s32e  a5, a0, -44
    s32e  a6, a0, -40
    s32e  a7, a0, -36
    s32e  a8, a0, -32
    s32e  a9, a0, -28
    s32e  a10, a0, -24
    s32e  a11, a0, -20
    rfwo
    .org window_vectors + 0x140          /* WindowUnderflow12 */
underflow12:
    l32e  a1, a13, -12
    l32e  a0, a13, -16
    l32e  a11, a1, -12
    l32e  a2, a13, -8
    l32e  a4, a11, -48
    l32e  a8, a11, -32
    l32e  a3, a13, -4
    l32e  a5, a11, -44
    l32e  a6, a11, -40
    l32e  a7, a11, -36
    l32e  a9, a11, -28
    l32e  a10, a11, -24
    l32e  a11, a11, -20
    rfwu
    .org window_vectors + 0x180          /* (interrupt vectors, unused): the alloca handler */
alloca:
    /* before rotw changes it */
    rsr   a0, windowbase
    /* WINDOWBASE goes to a4; a0-a3 are scratch */
    rotw  -1
    rsr   a2, ps
    /* PS.OWB */
    extui a3, a2, 8, 4
    /* the bits that changed from the old to the current window base */
    xor   a3, a3, a4
    /* the original a0 */
    rsr   a4, excsave1
    slli  a3, a3, 8
    xor   a2, a2, a3
    /* PS.OWB = the current window base */
    wsr   a2, ps
    rsync
    /* the caller's call size, from its return address: call4 */
    bbsi  a4, 31, 1f
    j     underflow4
1:  rotw  -1
    /* call8 */
    bbsi  a8, 30, 2f
    j     underflow8
2:  rotw  -1                             /* call12 */
    j     underflow12
fatal:
    movi  a2, 1
    movi  a3, 0x7f
    /* simcall: exit(0x7f) */
    .byte 0x00, 0x51, 0x00
3:  j     3b
    .org window_vectors + 0x340          /* UserExceptionVector */
    wsr   a0, excsave1
    rsr   a0, exccause
    /* AllocaCause */
    bnei  a0, 5, 4f
    j     alloca
4:  j     fatal
    .org window_vectors + 0x3c0          /* DoubleExceptionVector */
    j     fatal
