// picoml's minimal MicroPython 1.23 port for QEMU: Cortex-M4F (mps2-an386, armv7emsp, hardware float),
// Cortex-M0 (microbit, armv6m, software float, or none with MICROPY_QEMU_FLOAT=0) and Xtensa dc233c (sim machine,
// xtensawin as on the ESP32, no float: not an ESP32, no ESP-IDF, MUL32_HIGH done in software by ../xtensa/start.S).
// Console, files, command line, clock and exit over Arm semihosting (the Xtensa build: the same calls over its
// simulator calls, ../xtensa/semihost.c).
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <alloca.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// The native emitter decides which native .mpy the loader accepts (sys.implementation._mpy): with the CPU
// flags, cortex-m4 + fpv4-sp-d16 hard-float gives armv7emsp, cortex-m0 with ARMV7M off gives armv6m; xtensawin
// on the Xtensa core, as on the ESP32.
#if defined(__xtensa__)
#define MICROPY_EMIT_XTENSAWIN              (1)
#define MICROPY_EMIT_INLINE_XTENSA          (0)
// nlr through setjmp/longjmp for the windowed ABI (../xtensa/setjmp.S): py/nlrxtensa.c is for the call0 ABI
#define MICROPY_NLR_SETJMP                  (1)
#else
#define MICROPY_EMIT_THUMB                  (1)
#if !defined(__thumb2__)
#define MICROPY_EMIT_THUMB_ARMV7M           (0)
#endif
#define MICROPY_EMIT_INLINE_THUMB           (0)
#define MICROPY_MAKE_POINTER_CALLABLE(p)    ((void *)((mp_uint_t)(p) | 1))
#endif
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
// Native code goes where port_alloc_exec puts it (modport.c): the GC heap, or with --native-code=flash the
// static region outside it. Relocated code in the heap is kept alive through a root list, as by default.
void port_alloc_exec(size_t min_size, void **ptr, size_t *size);
void port_free_exec(void *ptr, size_t size);
#define MP_PLAT_ALLOC_EXEC(min_size, ptr, size) port_alloc_exec(min_size, ptr, size)
#define MP_PLAT_FREE_EXEC(ptr, size) port_free_exec(ptr, size)
#define MICROPY_PERSISTENT_CODE_TRACK_RELOC_CODE (1)

#define MICROPY_ENABLE_COMPILER             (1)
#define MICROPY_ENABLE_GC                   (1)
#define MICROPY_ENABLE_FINALISER            (0)
#define MICROPY_STACK_CHECK                 (1)
#define MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF (1)
#define MICROPY_EMERGENCY_EXCEPTION_BUF_SIZE (256)
#define MICROPY_ENABLE_SOURCE_LINE          (1)
#define MICROPY_ERROR_REPORTING             (MICROPY_ERROR_REPORTING_DETAILED)
#define MICROPY_WARNINGS                    (1)
#define MICROPY_LONGINT_IMPL                (MICROPY_LONGINT_IMPL_MPZ)
#ifndef MICROPY_QEMU_FLOAT
#define MICROPY_QEMU_FLOAT                  (1)
#endif
#if MICROPY_QEMU_FLOAT
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_FLOAT)
#define MICROPY_PY_MATH                     (1)
#else
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_NONE)
#define MICROPY_PY_MATH                     (0)
#endif
#define MICROPY_PY_CMATH                    (0)
#define MICROPY_HELPER_REPL                 (0)
#define MICROPY_KBD_EXCEPTION               (0)
#define MICROPY_MODULE_FROZEN               (0)

// Files: scripts and modules are read whole over semihosting (main.c: mp_reader_new_file, mp_import_stat)
#define MICROPY_READER_VFS                  (1)
#define MICROPY_ENABLE_EXTERNAL_IMPORT      (1)
#define MICROPY_VFS                         (0)

// Modules: the py/ core ones, plus the port's own (modport.c): time, os, json, binascii, qemu; and open()
#if defined(__xtensa__)
#define MICROPY_PY_SYS_PLATFORM             "qemu-xtensa"
#define MICROPY_HW_BOARD_NAME               "QEMU sim"
#define MICROPY_HW_MCU_NAME                 "Xtensa dc233c (no float)"
#elif defined(__ARM_FP)
#define MICROPY_PY_SYS_PLATFORM             "qemu-m4"
#define MICROPY_HW_BOARD_NAME               "QEMU mps2-an386"
#define MICROPY_HW_MCU_NAME                 "Cortex-M4F"
#else
#define MICROPY_PY_SYS_PLATFORM             "qemu-m0"
#define MICROPY_HW_BOARD_NAME               "QEMU microbit"
#if MICROPY_QEMU_FLOAT
#define MICROPY_HW_MCU_NAME                 "Cortex-M0"
#else
#define MICROPY_HW_MCU_NAME                 "Cortex-M0 (no float)"
#endif
#endif
#define MICROPY_PY_SYS_ARGV                 (1)
#define MICROPY_PY_SYS_EXIT                 (1)
#define MICROPY_PY_SYS_STDFILES             (1)
#define MICROPY_PY_SYS_STDIO_BUFFER         (0)
#define MICROPY_PY_MICROPYTHON_HEAP_LOCKED  (1)
#define MICROPY_PY_BUILTINS_INPUT           (0)
#define MICROPY_PY_BUILTINS_HELP            (0)
#define MICROPY_PY_IO                       (1)
#define MICROPY_PY_IO_IOBASE                (0)
#define MICROPY_PY_JSON                     (1)
#define MICROPY_PY_JSON_SEPARATORS          (0)
#define MICROPY_PY_TIME                     (0)
#define MICROPY_PY_OS                       (0)
#define MICROPY_PY_SELECT                   (0)
#define MICROPY_PY_ASYNCIO                  (0)
#define MICROPY_PY_UCTYPES                  (0)
#define MICROPY_PY_DEFLATE                  (0)
#define MICROPY_PY_MACHINE                  (0)

// type definitions for the specific machine

#define MP_SSIZE_MAX (0x7fffffff)
#if defined(__xtensa__)     // (int32_t is an int there, a long on Arm)
#define UINT_FMT "%u"
#define INT_FMT "%d"
#else
#define UINT_FMT "%lu"
#define INT_FMT "%ld"
#endif

typedef int32_t mp_int_t;       // must be pointer size
typedef uint32_t mp_uint_t;     // must be pointer size
typedef long mp_off_t;

// newlib's log2 may be a macro
#define MP_NEED_LOG2 (1)

#define MP_STATE_PORT MP_STATE_VM
