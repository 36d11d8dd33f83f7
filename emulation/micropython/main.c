// picoml's MicroPython port for QEMU: runs one script given on the semihosting command line and exits with
// its status.
//
//   qemu-system-arm ... -semihosting-config enable=on,target=native,arg=fw,arg=--heap=200000,arg=script.py
//
// Options before the script: --heap=N (bytes, k/m suffixes allowed; default MICROPY_QEMU_HEAP_DEFAULT);
// --native-code=heap|flash: where the code of native modules and viper functions goes (default heap, as on the
// nRF and RP2 ports; flash: outside the heap, in the code memory after the firmware, modport.c; only where the
// code memory is writable RAM standing in for flash: the M4 board).
// Arguments after it become sys.argv[1:]. Exit status: 0, the SystemExit code, 1 for an uncaught exception
// (after its traceback), 2 for a bad command line.
#include <stdio.h>
#include <string.h>

#include "py/builtin.h"
#include "py/compile.h"
#include "py/gc.h"
#include "py/lexer.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/reader.h"
#include "py/runtime.h"
#include "py/stackctrl.h"
#include "semihost.h"
#if defined(__xtensa__)
#include "setjmp.h"
#else
#include "shared/runtime/gchelper.h"
#include "startup.h"
#endif

#ifndef MICROPY_QEMU_HEAP_DEFAULT
#define MICROPY_QEMU_HEAP_DEFAULT (200000)
#endif

extern uint8_t __heap_start[], __heap_end[], __stack_top[];

// ---------------------------------------------------------------------------------------------------------
// console: the semihosting ":tt" handle (QEMU's stdout), line buffered

static int console_fd = -1;
static char console_buf[256];
static size_t console_len;

void mp_hal_stdout_flush(void) {
    if (console_len) {
        if (console_fd < 0) {
            console_fd = sh_open(":tt", SH_MODE_W);
        }
        sh_write(console_fd, console_buf, console_len);
        console_len = 0;
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    for (size_t i = 0; i < len; i++) {
        console_buf[console_len++] = str[i];
        if (str[i] == '\n' || console_len == sizeof(console_buf)) {
            mp_hal_stdout_flush();
        }
    }
    return len;
}

void mp_hal_stdout_tx_strn_cooked(const char *str, size_t len) {
    mp_hal_stdout_tx_strn(str, len);
}

void mp_hal_stdout_tx_str(const char *str) {
    mp_hal_stdout_tx_strn(str, strlen(str));
}

int mp_hal_stdin_rx_chr(void) {
    static int stdin_fd = -1;
    unsigned char c;
    mp_hal_stdout_flush();
    if (stdin_fd < 0) {
        stdin_fd = sh_open(":tt", SH_MODE_R);
    }
    if (sh_read(stdin_fd, &c, 1) != 1) {
        return 4;   // EOF: ctrl-D
    }
    return c;
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    (void)poll_flags;
    return 0;
}

static NORETURN void port_exit(int status) {
    mp_hal_stdout_flush();
    sh_exit(status);
}

#if !defined(__xtensa__)    // (the Xtensa core: any exception but those ../xtensa/start.S handles exits with 0x7f)
static void put_hex(int fd, uint32_t v) {
    char buf[10] = "0x";
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    }
    sh_write(fd, buf, sizeof buf);
}

// startup.c's fault handler: report where, exit with status 99
void fault(const uint32_t *frame, uint32_t exception) {
    static const char *const names[] = {"", "", "NMI", "HardFault (bad memory access, unaligned access on the "
        "Cortex-M0, bad code)", "MemManage", "BusFault", "UsageFault"};
    const char *what = exception < MP_ARRAY_SIZE(names) ? names[exception] : "unexpected exception";
    mp_hal_stdout_flush();
    int fd = sh_open(":tt", SH_MODE_W);
    sh_write(fd, "\nFATAL: ", 8);
    sh_write(fd, what, strlen(what));
    sh_write(fd, " at pc ", 7);
    put_hex(fd, frame[6]);
    sh_write(fd, ", lr ", 5);
    put_hex(fd, frame[5]);
    sh_write(fd, "\n", 1);
    sh_exit(99);
}
#endif

// ---------------------------------------------------------------------------------------------------------
// clock: the core's cycle counter at MICROPY_QEMU_CPU_HZ, extended to 64 bits. QEMU drives it from its virtual
// clock: host time normally, exactly one nanosecond per instruction with -icount shift=0.

#if defined(__xtensa__)
// the CCOUNT register, extended at each read (a wrap is missed only if nothing reads the clock for 2^32 counts)
static void clock_init(void) {
}

static uint64_t cpu_cycles(void) {
    static uint32_t last, wraps;
    uint32_t now;
    __asm__ volatile ("rsr %0, ccount" : "=r" (now));
    if (now < last) {
        wraps++;
    }
    last = now;
    return (uint64_t)wraps << 32 | now;
}
#else
// SysTick on the CPU clock, extended by its interrupt
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SYST_PERIOD (1u << 24)

static volatile uint32_t systick_wraps;

void SysTick_Handler(void) {
    systick_wraps++;
}

static void clock_init(void) {
    SYST_RVR = SYST_PERIOD - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;   // enable, interrupt, CPU clock
}

static uint64_t cpu_cycles(void) {
    uint32_t wraps, val;
    do {
        wraps = systick_wraps;
        val = SYST_CVR;
    } while (wraps != systick_wraps);
    return (uint64_t)wraps * SYST_PERIOD + (SYST_PERIOD - 1 - val);
}
#endif

uint64_t mp_hal_ticks_us64(void) {
    return cpu_cycles() / (MICROPY_QEMU_CPU_HZ / 1000000u);
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)mp_hal_ticks_us64();
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(mp_hal_ticks_us64() / 1000u);
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)cpu_cycles();
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = mp_hal_ticks_us64() + us;
    while (mp_hal_ticks_us64() < end) {
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_hal_delay_us(ms * 1000u);
}

// ---------------------------------------------------------------------------------------------------------
// files: scripts and modules are read through a small buffer (as a board's VFS reader does: a .mpy's code is
// copied into its final place without the whole file passing through the heap); import stat by probing with
// SYS_OPEN

#define READER_BUF_SIZE (256)

typedef struct {
    int fd;
    uint16_t len, pos;
    byte buf[READER_BUF_SIZE];
} port_reader_t;

static mp_uint_t port_reader_readbyte(void *data) {
    port_reader_t *r = data;
    if (r->pos == r->len) {
        if (r->fd < 0) {
            return MP_READER_EOF;
        }
        int n = sh_read(r->fd, r->buf, READER_BUF_SIZE);
        if (n < 0) {
            mp_raise_OSError(MP_EIO);
        }
        if (n == 0) {
            sh_close(r->fd);
            r->fd = -1;
            r->len = r->pos = 0;
            return MP_READER_EOF;
        }
        r->len = n;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

static void port_reader_close(void *data) {
    port_reader_t *r = data;
    if (r->fd >= 0) {
        sh_close(r->fd);
    }
    m_del_obj(port_reader_t, r);
}

void mp_reader_new_file(mp_reader_t *reader, qstr filename) {
    const char *path = qstr_str(filename);
    port_reader_t *r = m_new_obj_maybe(port_reader_t);
    if (r == NULL) {
        m_malloc_fail(sizeof(port_reader_t));
    }
    r->fd = sh_open(path, SH_MODE_RB);
    if (r->fd < 0) {
        m_del_obj(port_reader_t, r);
        mp_raise_OSError_with_filename(MP_ENOENT, path);
    }
    r->len = r->pos = 0;
    reader->data = r;
    reader->readbyte = port_reader_readbyte;
    reader->close = port_reader_close;
}

// A directory opens like a file on the host (target=native) but cannot be read.
mp_import_stat_t port_stat(const char *path, int *size) {
    int fd = sh_open(path, SH_MODE_RB);
    if (fd < 0) {
        return MP_IMPORT_STAT_NO_EXIST;
    }
    int len = sh_flen(fd);
    char c;
    int n = sh_read(fd, &c, 1);
    sh_close(fd);
    if (size) {
        *size = len;
    }
    if (n < 0 || (n == 0 && len > 0)) {
        return MP_IMPORT_STAT_DIR;
    }
    return MP_IMPORT_STAT_FILE;
}

mp_import_stat_t mp_import_stat(const char *path) {
    return port_stat(path, NULL);
}

// ---------------------------------------------------------------------------------------------------------
// GC, fatal errors

void port_collect_exec(void);

void gc_collect(void) {
    gc_collect_start();
    #if defined(__xtensa__)
    // with every caller's register window spilled, the stack from 16 bytes below this function's stack pointer
    // (where its caller's a0-a3 went) to the top holds every root the C code has
    port_window_spill();
    uintptr_t sp;
    __asm__ volatile ("mov %0, a1" : "=r" (sp));
    sp -= 16;
    gc_collect_root((void **)sp, ((uintptr_t)MP_STATE_THREAD(stack_top) - sp) / sizeof(void *));
    #else
    gc_helper_collect_regs_and_stack();
    #endif
    port_collect_exec();       // native code outside the heap (--native-code=flash) points to heap blocks
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    (void)val;
    mp_hal_stdout_tx_str("FATAL: uncaught NLR\n");
    port_exit(98);
}

void NORETURN __fatal_error(const char *msg) {
    mp_hal_stdout_tx_str("FATAL: ");
    mp_hal_stdout_tx_str(msg);
    mp_hal_stdout_tx_str("\n");
    port_exit(97);
}

#ifndef NDEBUG
void MP_WEAK __assert_func(const char *file, int line, const char *func, const char *expr) {
    (void)func;
    mp_printf(&mp_plat_print, "Assertion '%s' failed, at file %s:%d\n", expr, file, line);
    port_exit(96);
}
#endif

// ---------------------------------------------------------------------------------------------------------
// command line and the script

static char cmdline[2048];
size_t port_heap_size;

static size_t parse_size(const char *s, bool *ok) {
    size_t n = 0;
    *ok = *s != 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (*s - '0');
    }
    if (*s == 'k' || *s == 'K') {
        n *= 1024;
        s++;
    } else if (*s == 'm' || *s == 'M') {
        n *= 1024 * 1024;
        s++;
    }
    if (*s) {
        *ok = false;
    }
    return n;
}

static int run_script(const char *path) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_file(qstr_from_str(path));
        qstr source_name = lex->source_name;
        mp_store_global(MP_QSTR___file__, MP_OBJ_NEW_QSTR(source_name));
        mp_parse_tree_t parse_tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t module_fun = mp_compile(&parse_tree, source_name, false);
        mp_call_function_0(module_fun);
        nlr_pop();
        return 0;
    }
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(((mp_obj_base_t *)nlr.ret_val)->type),
        MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        mp_obj_t code = mp_obj_exception_get_value(exc);
        if (code == mp_const_none) {
            return 0;
        }
        if (mp_obj_is_small_int(code)) {
            return MP_OBJ_SMALL_INT_VALUE(code) & 0xff;
        }
        mp_obj_print_helper(&mp_plat_print, code, PRINT_STR);
        mp_hal_stdout_tx_str("\n");
        return 1;
    }
    mp_obj_print_exception(&mp_plat_print, exc);
    return 1;
}

int main(void) {
    clock_init();
    size_t heap_size = MICROPY_QEMU_HEAP_DEFAULT;
    size_t heap_max = __heap_end - __heap_start;
    const char *script = NULL;
    char *argv[32];
    int argc = 0;
    if (sh_cmdline(cmdline, sizeof(cmdline) - 1) == 0) {
        char *p = cmdline;
        bool first = true;
        while (*p) {
            while (*p == ' ') {
                *p++ = 0;
            }
            if (!*p) {
                break;
            }
            char *tok = p;
            while (*p && *p != ' ') {
                p++;
            }
            if (*p) {
                *p++ = 0;
            }
            if (first) {
                first = false;      // the program name
            } else if (script == NULL && strncmp(tok, "--heap=", 7) == 0) {
                bool ok;
                heap_size = parse_size(tok + 7, &ok);
                if (!ok || heap_size < 4096) {
                    mp_hal_stdout_tx_str("bad --heap value\n");
                    port_exit(2);
                }
            } else if (script == NULL && strncmp(tok, "--native-code=", 14) == 0) {
                extern bool port_exec_in_flash;
                if (strcmp(tok + 14, "heap") == 0) {
                    port_exec_in_flash = false;
                } else if (strcmp(tok + 14, "flash") == 0 && MICROPY_QEMU_CODE_WRITABLE) {
                    port_exec_in_flash = true;
                } else {
                    mp_hal_stdout_tx_str(MICROPY_QEMU_CODE_WRITABLE ? "bad --native-code value: heap or flash\n" :
                        "bad --native-code value: this board's flash is not writable by the CPU, only heap works\n");
                    port_exit(2);
                }
            } else if (script == NULL && strncmp(tok, "--", 2) == 0) {
                mp_hal_stdout_tx_str("unknown option: ");
                mp_hal_stdout_tx_str(tok);
                mp_hal_stdout_tx_str("\n");
                port_exit(2);
            } else if (script == NULL) {
                script = tok;
            } else if (argc < (int)MP_ARRAY_SIZE(argv)) {
                argv[argc++] = tok;
            }
        }
    }
    if (script == NULL) {
        mp_hal_stdout_tx_str("usage: -semihosting-config enable=on,target=native,arg=fw[,arg=--heap=N][,arg=--native-code=heap|flash],arg=SCRIPT.py"
            "[,arg=ARG...]\n");
        port_exit(2);
    }
    if (heap_size > heap_max) {
        mp_printf(&mp_plat_print, "--heap=%u is more than the %u bytes of RAM this build leaves for the heap\n",
            (unsigned)heap_size, (unsigned)heap_max);
        port_exit(2);
    }

    mp_stack_set_top(__stack_top);
    mp_stack_set_limit(__stack_top - __heap_end - 1024);     // the stack: from the heap's end to the top
    port_heap_size = heap_size;
    gc_init(__heap_start, __heap_start + heap_size);
    mp_init();

    // sys.path[0] is the script's folder (as in the unix port); sys.argv = [script, args...]
    const char *slash = strrchr(script, '/');
    mp_obj_list_t *path = MP_OBJ_TO_PTR(mp_sys_path);
    path->items[0] = slash ? mp_obj_new_str(script, slash == script ? 1 : slash - script) : MP_OBJ_NEW_QSTR(MP_QSTR_);
    mp_obj_list_append(mp_sys_argv, mp_obj_new_str(script, strlen(script)));
    for (int i = 0; i < argc; i++) {
        mp_obj_list_append(mp_sys_argv, mp_obj_new_str(argv[i], strlen(argv[i])));
    }

    int status = run_script(script);
    mp_deinit();
    port_exit(status);
    return status;
}
