/* setjmp/longjmp for the Xtensa windowed register ABI, and the window spill they (and the GC) need.
 *
 * Where the windowed ABI keeps a spilled frame F (start.S's overflow handlers): F's a0-a3 in the 16 bytes below
 * the stack pointer of F's callee; F's a4-a7 (call8) or a4-a11 (call12) in the 16 or 32 bytes below the 16 bytes
 * under F's caller's stack pointer. setjmp spills every window, then copies from those places what longjmp
 * must put back: the caller C's a0-a3, C's a4.. (as many as its call to setjmp left it), the save area below
 * C's stack pointer (C's caller's a0-a3, which later calls may overwrite) and the return address into C.
 * longjmp spills every window (so that none of them is live any more), writes those words back where a return
 * into C reloads them, and returns into C with the call size of C's call to setjmp: the window-underflow
 * exception of that retw restores C's registers, and C sees setjmp return val (1 if val is 0). */
    .text

/* void port_window_spill(void): a chain of call12s, each touching a15 of its window, rotates through the
 * register file 8 * 12 = 96 registers, more than the 64 of the largest Xtensa register file (the ESP32's; 32 on
 * dc233c): every live window of the callers meets a window-overflow exception and is written to the stack.
 * Frames: 48 bytes for a function that calls with call12 (its a4-a11 may be spilled into its own frame), 32 for
 * call8. */
    .global port_window_spill
    .align 4
port_window_spill:
.Lspill:
    entry a1, 48
    movi  a14, 8
    call12 .Lspill12
    retw
    .align 4
.Lspill12:
    entry a1, 48
    or    a15, a15, a15
    addi  a2, a2, -1
    beqz  a2, 1f
    mov   a14, a2
    call12 .Lspill12
1:  retw

/* int setjmp(jmp_buf env): words 0-3 C's a0-a3, 4-11 C's a4.., 12-15 the save area below C's sp, 16 the
 * return address */
    .global setjmp
    .align 4
setjmp:
    entry a1, 32
    call8 .Lspill
    /* C's a0-a3: below this function's stack pointer (word 1 is C's sp) */
    addi  a5, a1, -16
    l32i  a3, a5, 0
    l32i  a4, a5, 4
    s32i  a3, a2, 0
    s32i  a4, a2, 4
    l32i  a3, a5, 8
    l32i  a4, a5, 12
    s32i  a3, a2, 8
    s32i  a4, a2, 12
    l32i  a8, a2, 4
    addi  a8, a8, -16
    /* C's a4.. : the call size n (1, 2, 3) of C's call to us in a0's top bits, 16 * (n - 1) bytes below the 16
     * under C's caller's stack pointer, which is the word at C's sp - 12 */
    extui a3, a0, 30, 2
    blti  a3, 2, 2f
    l32i  a7, a8, 4
    slli  a4, a3, 4
    sub   a5, a7, a4
    addi  a6, a2, 16
    addi  a7, a7, -16
1:  l32i  a3, a5, 0
    l32i  a4, a5, 4
    s32i  a3, a6, 0
    s32i  a4, a6, 4
    l32i  a3, a5, 8
    l32i  a4, a5, 12
    s32i  a3, a6, 8
    s32i  a4, a6, 12
    addi  a5, a5, 16
    addi  a6, a6, 16
    blt   a5, a7, 1b
2:  /* the 4 words below C's stack pointer */
    l32i  a3, a8, 0
    l32i  a4, a8, 4
    s32i  a3, a2, 48
    s32i  a4, a2, 52
    l32i  a3, a8, 8
    l32i  a4, a8, 12
    s32i  a3, a2, 56
    s32i  a4, a2, 60
    /* the return address into C, with the call size in its top bits */
    s32i  a0, a2, 64
    movi  a2, 0
    retw

/* void longjmp(jmp_buf env, int val) */
    .global longjmp
    .align 4
longjmp:
    entry a1, 32
    call8 .Lspill
    /* return as setjmp did (its return address and call size) */
    l32i  a0, a2, 64
    /* C's a0-a3 below our stack pointer, where the underflow of our retw reads them */
    addi  a7, a1, -16
    l32i  a4, a2, 0
    l32i  a5, a2, 4
    s32i  a4, a7, 0
    s32i  a5, a7, 4
    l32i  a4, a2, 8
    l32i  a5, a2, 12
    s32i  a4, a7, 8
    s32i  a5, a7, 12
    /* C's a4.. back below C's caller's stack pointer (word 13: the save area below C's sp holds it) */
    extui a7, a0, 30, 2
    blti  a7, 2, 2f
    l32i  a8, a2, 52
    slli  a4, a7, 4
    sub   a6, a8, a4
    addi  a5, a2, 16
    addi  a8, a8, -16
1:  l32i  a7, a5, 0
    l32i  a4, a5, 4
    s32i  a7, a6, 0
    s32i  a4, a6, 4
    l32i  a7, a5, 8
    l32i  a4, a5, 12
    s32i  a7, a6, 8
    s32i  a4, a6, 12
    addi  a5, a5, 16
    addi  a6, a6, 16
    blt   a6, a8, 1b
2:  /* the 4 words below C's stack pointer (word 1) */
    l32i  a7, a2, 4
    addi  a7, a7, -16
    l32i  a4, a2, 48
    l32i  a5, a2, 52
    s32i  a4, a7, 0
    s32i  a5, a7, 4
    l32i  a4, a2, 56
    l32i  a5, a2, 60
    s32i  a4, a7, 8
    s32i  a5, a7, 12
    movi  a2, 1
    movnez a2, a3, a3
    retw
