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

/* MUL32_HIGH in software: none of QEMU's Xtensa cores has the option, the ESP32 has. An illegal mulsh or muluh
 * (RRR: op0 0, op1 2, op2 0xb / 0xa) is done here with mull on 16-bit halves, its result written to the saved
 * register, and execution goes on after it. Runs with PS.EXCM set, in the interrupted code's window: every
 * register is saved first (at SAVE_AREA) and restored after. */
    .set  SAVE_AREA, 0x400
mul32high:
    movi  a0, SAVE_AREA
    s32i  a1, a0, 4
    s32i  a2, a0, 8
    s32i  a3, a0, 12
    s32i  a4, a0, 16
    s32i  a5, a0, 20
    s32i  a6, a0, 24
    s32i  a7, a0, 28
    s32i  a8, a0, 32
    s32i  a9, a0, 36
    s32i  a10, a0, 40
    s32i  a11, a0, 44
    s32i  a12, a0, 48
    s32i  a13, a0, 52
    s32i  a14, a0, 56
    s32i  a15, a0, 60
    rsr   a1, excsave1
    s32i  a1, a0, 0
    rsr   a2, epc1
    l8ui  a3, a2, 0
    l8ui  a4, a2, 1
    l8ui  a5, a2, 2
    extui a6, a3, 0, 4
    bnez  a6, fatal
    movi  a6, 0xb2
    movi  a14, 1
    beq   a5, a6, 6f
    movi  a6, 0xa2
    movi  a14, 0
    beq   a5, a6, 6f
    j     fatal
6:  extui a7, a3, 4, 4
    extui a8, a4, 0, 4
    extui a9, a4, 4, 4
    addx4 a10, a8, a0
    l32i  a10, a10, 0
    addx4 a11, a7, a0
    l32i  a11, a11, 0
    /* x in a10, y in a11, signed (a14 = 1) or not: the high word of x * y into a12 */
    extui a3, a10, 0, 16
    extui a4, a10, 16, 16
    extui a5, a11, 0, 16
    extui a6, a11, 16, 16
    mull  a7, a3, a5
    mull  a8, a3, a6
    mull  a13, a4, a5
    mull  a12, a4, a6
    extui a7, a7, 16, 16
    extui a15, a8, 0, 16
    add   a7, a7, a15
    extui a15, a13, 0, 16
    add   a7, a7, a15
    extui a7, a7, 16, 16
    add   a12, a12, a7
    extui a8, a8, 16, 16
    add   a12, a12, a8
    extui a13, a13, 16, 16
    add   a12, a12, a13
    beqz  a14, 7f
    bgez  a10, 8f
    sub   a12, a12, a11
8:  bgez  a11, 7f
    sub   a12, a12, a10
7:  addx4 a13, a9, a0
    s32i  a12, a13, 0
    addi  a2, a2, 3
    wsr   a2, epc1
    l32i  a15, a0, 60
    l32i  a14, a0, 56
    l32i  a13, a0, 52
    l32i  a12, a0, 48
    l32i  a11, a0, 44
    l32i  a10, a0, 40
    l32i  a9, a0, 36
    l32i  a8, a0, 32
    l32i  a7, a0, 28
    l32i  a6, a0, 24
    l32i  a5, a0, 20
    l32i  a4, a0, 16
    l32i  a3, a0, 12
    l32i  a2, a0, 8
    l32i  a1, a0, 4
    l32i  a0, a0, 0
    rsync
    rfe
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
    /* IllegalInstructionCause */
4:  bnez  a0, 5f
    j     mul32high
5:  j     fatal
    .org window_vectors + 0x3c0          /* DoubleExceptionVector */
    j     fatal
