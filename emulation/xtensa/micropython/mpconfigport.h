// picoml's MicroPython 1.23 port for QEMU's Xtensa dc233c core (sim machine): the port of ../../micropython (its
// main.c, file.c, modport.c, modjson.c) over the simulator's semihosting calls instead of Arm's (port.c), for
// the windowed register ABI, so that xtensawin native modules (the ESP32's _picoml.mpy) load. Not an ESP32: no
// ESP-IDF, no LX6 timing, MUL32_HIGH done in software by ../start.S.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <alloca.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// The native emitter decides which native .mpy the loader accepts (sys.implementation._mpy): xtensawin, as on
// the ESP32; viper and @native code are emitted for it too.
#define MICROPY_EMIT_XTENSAWIN              (1)
#define MICROPY_EMIT_INLINE_XTENSA          (0)
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
void port_alloc_exec(size_t min_size, void **ptr, size_t *size);
void port_free_exec(void *ptr, size_t size);
#define MP_PLAT_ALLOC_EXEC(min_size, ptr, size) port_alloc_exec(min_size, ptr, size)
#define MP_PLAT_FREE_EXEC(ptr, size) port_free_exec(ptr, size)
#define MICROPY_PERSISTENT_CODE_TRACK_RELOC_CODE (1)

// nlr through setjmp/longjmp for the windowed ABI (setjmp.S): py/nlrxtensa.c is for the call0 ABI
#define MICROPY_NLR_SETJMP                  (1)

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
// No float: clang's Xtensa target here has no soft-float library (compiler-rt is not built for it). The
// device library's int8 path needs none.
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_NONE)
#define MICROPY_PY_MATH                     (0)
#define MICROPY_PY_CMATH                    (0)
#define MICROPY_HELPER_REPL                 (0)
#define MICROPY_KBD_EXCEPTION               (0)
#define MICROPY_MODULE_FROZEN               (0)

// Files: scripts and modules are read through the port's reader (../../micropython/main.c)
#define MICROPY_READER_VFS                  (1)
#define MICROPY_ENABLE_EXTERNAL_IMPORT      (1)
#define MICROPY_VFS                         (0)

#define MICROPY_PY_SYS_PLATFORM             "qemu-xtensa"
#define MICROPY_HW_BOARD_NAME               "QEMU sim"
#define MICROPY_HW_MCU_NAME                 "Xtensa dc233c (no float)"
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

#define MP_SSIZE_MAX (0x7fffffff)
#define UINT_FMT "%u"
#define INT_FMT "%d"

typedef int32_t mp_int_t;       // must be pointer size
typedef uint32_t mp_uint_t;     // must be pointer size
typedef long mp_off_t;

#define MP_STATE_PORT MP_STATE_VM
