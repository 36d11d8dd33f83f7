// setjmp/longjmp for the Xtensa windowed register ABI (setjmp.S), for MicroPython's nlr (MICROPY_NLR_SETJMP).
// Found before the C library's <setjmp.h> (the ESP8266 picolibc's headers are for the call0 ABI).
#ifndef PICOML_XTENSA_SETJMP_H
#define PICOML_XTENSA_SETJMP_H

// the caller's a0-a3, its a4-a11 (as many as its call to setjmp leaves it), the 4 words below its stack
// pointer (its caller's a0-a3), setjmp's return address
typedef int jmp_buf[17];

__attribute__((returns_twice)) int setjmp(jmp_buf env);
__attribute__((noreturn)) void longjmp(jmp_buf env, int val);

// every register window of the callers written to its save area on the stack (setjmp.S)
void port_window_spill(void);

#endif
