// The port's small modules: time, os (stat/remove), binascii (crc32, hexlify, unhexlify) and qemu
// (readfile_static: a host file copied into "flash" outside the GC heap, returned as a read-only memoryview,
// as a file in ROMFS would be).
#include <string.h>

#include "py/builtin.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objstr.h"
#include "py/runtime.h"
#include "py/smallint.h"
#include "semihost.h"

mp_import_stat_t port_stat(const char *path, int *size);

// ---------------------------------------------------------------------------------------------------------
// time

#define TICKS_PERIOD (MICROPY_PY_TIME_TICKS_PERIOD)
#define TICKS_MAX (TICKS_PERIOD - 1)
#define TICKS_HALFPERIOD (TICKS_PERIOD / 2)

static mp_obj_t time_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_ms_obj, time_ticks_ms);

static mp_obj_t time_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_us() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_us_obj, time_ticks_us);

static mp_obj_t time_ticks_cpu(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_cpu() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_cpu_obj, time_ticks_cpu);

static mp_obj_t time_ticks_diff(mp_obj_t end_in, mp_obj_t start_in) {
    mp_uint_t start = mp_obj_int_get_truncated(start_in);
    mp_uint_t end = mp_obj_int_get_truncated(end_in);
    mp_int_t diff = ((end - start + TICKS_HALFPERIOD) & TICKS_MAX) - TICKS_HALFPERIOD;
    return MP_OBJ_NEW_SMALL_INT(diff);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_diff_obj, time_ticks_diff);

static mp_obj_t time_ticks_add(mp_obj_t ticks_in, mp_obj_t delta_in) {
    mp_uint_t ticks = mp_obj_int_get_truncated(ticks_in);
    mp_uint_t delta = mp_obj_get_int(delta_in);
    return MP_OBJ_NEW_SMALL_INT((ticks + delta) & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_add_obj, time_ticks_add);

static mp_obj_t time_sleep_ms(mp_obj_t ms) {
    mp_int_t n = mp_obj_get_int(ms);
    if (n > 0) {
        mp_hal_delay_ms(n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_ms_obj, time_sleep_ms);

static mp_obj_t time_sleep_us(mp_obj_t us) {
    mp_int_t n = mp_obj_get_int(us);
    if (n > 0) {
        mp_hal_delay_us(n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_us_obj, time_sleep_us);

static mp_obj_t time_sleep(mp_obj_t s) {
    #if MICROPY_PY_BUILTINS_FLOAT
    mp_hal_delay_us((mp_uint_t)(mp_obj_get_float(s) * 1000000));
    #else
    mp_hal_delay_ms(1000 * mp_obj_get_int(s));
    #endif
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_obj, time_sleep);

// seconds since the firmware started (there is no real-time clock)
static mp_obj_t time_time(void) {
    return mp_obj_new_int_from_ull(mp_hal_ticks_us64() / 1000000u);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_obj, time_time);

static mp_obj_t time_time_ns(void) {
    return mp_obj_new_int_from_ull(mp_hal_ticks_us64() * 1000u);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_ns_obj, time_time_ns);

static const mp_rom_map_elem_t time_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_cpu), MP_ROM_PTR(&time_ticks_cpu_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&time_time_obj) },
    { MP_ROM_QSTR(MP_QSTR_time_ns), MP_ROM_PTR(&time_time_ns_obj) },
};
static MP_DEFINE_CONST_DICT(time_module_globals, time_module_globals_table);

const mp_obj_module_t mp_module_port_time = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&time_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_time, mp_module_port_time);

// ---------------------------------------------------------------------------------------------------------
// os

static mp_obj_t os_stat(mp_obj_t path_in) {
    const char *path = mp_obj_str_get_str(path_in);
    int size = 0;
    mp_import_stat_t st = port_stat(path, &size);
    if (st == MP_IMPORT_STAT_NO_EXIST) {
        mp_raise_OSError_with_filename(MP_ENOENT, path);
    }
    mp_obj_t items[10];
    for (int i = 0; i < 10; i++) {
        items[i] = MP_OBJ_NEW_SMALL_INT(0);
    }
    items[0] = MP_OBJ_NEW_SMALL_INT(st == MP_IMPORT_STAT_DIR ? 0x4000 : 0x8000);
    items[6] = mp_obj_new_int(st == MP_IMPORT_STAT_DIR ? 0 : size);
    return mp_obj_new_tuple(10, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(os_stat_obj, os_stat);

static mp_obj_t os_remove(mp_obj_t path_in) {
    const char *path = mp_obj_str_get_str(path_in);
    if (sh_remove(path) != 0) {
        mp_raise_OSError_with_filename(MP_ENOENT, path);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(os_remove_obj, os_remove);

static const mp_rom_map_elem_t os_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_os) },
    { MP_ROM_QSTR(MP_QSTR_stat), MP_ROM_PTR(&os_stat_obj) },
    { MP_ROM_QSTR(MP_QSTR_remove), MP_ROM_PTR(&os_remove_obj) },
    { MP_ROM_QSTR(MP_QSTR_sep), MP_ROM_QSTR(MP_QSTR__slash_) },
};
static MP_DEFINE_CONST_DICT(os_module_globals, os_module_globals_table);

const mp_obj_module_t mp_module_port_os = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&os_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_os, mp_module_port_os);

// ---------------------------------------------------------------------------------------------------------
// binascii

static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static mp_obj_t binascii_crc32(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[0], &bufinfo, MP_BUFFER_READ);
    uint32_t crc = n_args > 1 ? mp_obj_int_get_truncated(args[1]) : 0;
    crc = ~crc;
    const uint8_t *p = bufinfo.buf;
    for (size_t i = 0; i < bufinfo.len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return mp_obj_new_int_from_uint(~crc);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binascii_crc32_obj, 1, 2, binascii_crc32);

static mp_obj_t binascii_hexlify(mp_obj_t data) {
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(data, &bufinfo, MP_BUFFER_READ);
    vstr_t vstr;
    vstr_init_len(&vstr, bufinfo.len * 2);
    const uint8_t *p = bufinfo.buf;
    for (size_t i = 0; i < bufinfo.len; i++) {
        vstr.buf[2 * i] = "0123456789abcdef"[p[i] >> 4];
        vstr.buf[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(binascii_hexlify_obj, binascii_hexlify);

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    mp_raise_ValueError(MP_ERROR_TEXT("non-hex digit"));
}

static mp_obj_t binascii_unhexlify(mp_obj_t data) {
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(data, &bufinfo, MP_BUFFER_READ);
    if (bufinfo.len & 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("odd-length string"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, bufinfo.len / 2);
    const uint8_t *p = bufinfo.buf;
    for (size_t i = 0; i < bufinfo.len / 2; i++) {
        vstr.buf[i] = (hex_digit(p[2 * i]) << 4) | hex_digit(p[2 * i + 1]);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(binascii_unhexlify_obj, binascii_unhexlify);

static const mp_rom_map_elem_t binascii_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_binascii) },
    { MP_ROM_QSTR(MP_QSTR_crc32), MP_ROM_PTR(&binascii_crc32_obj) },
    { MP_ROM_QSTR(MP_QSTR_hexlify), MP_ROM_PTR(&binascii_hexlify_obj) },
    { MP_ROM_QSTR(MP_QSTR_unhexlify), MP_ROM_PTR(&binascii_unhexlify_obj) },
};
static MP_DEFINE_CONST_DICT(binascii_module_globals, binascii_module_globals_table);

const mp_obj_module_t mp_module_port_binascii = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&binascii_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_binascii, mp_module_port_binascii);

// ---------------------------------------------------------------------------------------------------------
// qemu: what only this port has

extern uint8_t __static_start[], __static_end[], __heap_start[], __heap_end[];
static uint8_t *static_next;    // files placed by readfile_static grow up from __static_start
static uint8_t *exec_low;       // native code placed by port_alloc_exec grows down from __static_end
bool port_exec_in_flash;        // --native-code=flash (main.c)

static uint8_t *static_pos(void) {
    if (static_next == NULL) {
        static_next = __static_start;
    }
    return static_next;
}

static uint8_t *static_top(void) {
    if (exec_low == NULL) {
        exec_low = __static_end;
    }
    return exec_low;
}

// MP_PLAT_ALLOC_EXEC: memory for native code (a .mpy's native module or viper functions, the native emitter's
// output). By default the GC heap, as on the nRF and RP2 ports. With --native-code=flash it is placed in the
// static region instead (the code memory after the firmware, which plays the part of flash), where the loader
// reads and relocates it in place: it then takes no heap at all, as on ports that keep native code outside
// the GC heap (the esp32 port: the IDF's executable heap). Never given back (reset_static() does not touch it).
void port_alloc_exec(size_t min_size, void **ptr, size_t *size) {
    if (!port_exec_in_flash) {
        *ptr = m_new(byte, min_size);
        *size = min_size;
        return;
    }
    uintptr_t top = (uintptr_t)static_top();
    uintptr_t p = (top - min_size) & ~(uintptr_t)7;
    if (min_size > top - (uintptr_t)static_pos() || p < (uintptr_t)static_pos()) {
        mp_raise_msg_varg(&mp_type_MemoryError, MP_ERROR_TEXT("native code of %u bytes: %u bytes of flash are left"),
            (unsigned)min_size, (unsigned)(top - (uintptr_t)static_pos()));
    }
    exec_low = (uint8_t *)p;
    *ptr = (void *)p;
    *size = min_size;
}

// Native code in the heap is scanned by the GC like any block, and that is what keeps a native module's BSS (its
// types, in a heap block the relocated code points to) alive; so native code placed outside the heap is scanned
// as a root. (MicroPython 1.23 has no other reference to that block.)
void port_collect_exec(void) {
    uint8_t *low = static_top();
    gc_collect_root((void **)low, (__static_end - low) / sizeof(void *));
}

void port_free_exec(void *ptr, size_t size) {
    if ((uint8_t *)ptr >= __heap_start && (uint8_t *)ptr < __heap_end) {
        m_del(byte, ptr, size);
    }
}

// readfile_static(path): the file copied into the static region (flash on these boards: the code memory after
// the firmware image), 16-byte aligned, as a read-only memoryview that the GC heap does not hold. Each call
// takes new space; reset_static() gives it all back (views made before then must not be used any more).
static mp_obj_t qemu_readfile_static(mp_obj_t path_in) {
    const char *path = mp_obj_str_get_str(path_in);
    int fd = sh_open(path, SH_MODE_RB);
    if (fd < 0) {
        mp_raise_OSError_with_filename(MP_ENOENT, path);
    }
    int len = sh_flen(fd);
    uint8_t *p = static_pos();
    if (len < 0 || (size_t)len > (size_t)(static_top() - p)) {
        sh_close(fd);
        mp_raise_msg_varg(&mp_type_MemoryError, MP_ERROR_TEXT("readfile_static: %s is %d bytes; %u are left"),
            path, len, (unsigned)(static_top() - p));
    }
    int n = len ? sh_read(fd, p, len) : 0;
    sh_close(fd);
    if (n != len) {
        mp_raise_OSError_with_filename(MP_EIO, path);
    }
    static_next = p + ((len + 15) & ~15);
    return mp_obj_new_memoryview('B', len, p);
}
static MP_DEFINE_CONST_FUN_OBJ_1(qemu_readfile_static_obj, qemu_readfile_static);

static mp_obj_t qemu_reset_static(void) {
    static_next = __static_start;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(qemu_reset_static_obj, qemu_reset_static);

// (static bytes free, static bytes total, heap bytes, RAM bytes the build could give the heap, static bytes
// taken by native code)
static mp_obj_t qemu_mem(void) {
    mp_obj_t items[5] = {
        mp_obj_new_int(static_top() - static_pos()),
        mp_obj_new_int(__static_end - __static_start),
        mp_obj_new_int(port_heap_size),
        mp_obj_new_int(__heap_end - __heap_start),
        mp_obj_new_int(__static_end - static_top()),
    };
    return mp_obj_new_tuple(5, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(qemu_mem_obj, qemu_mem);

// host nanoseconds since QEMU started (SYS_ELAPSED), whatever -icount does to the guest's clock
static mp_obj_t qemu_host_ns(void) {
    return mp_obj_new_int_from_ull(sh_elapsed_ns());
}
static MP_DEFINE_CONST_FUN_OBJ_0(qemu_host_ns_obj, qemu_host_ns);

static const mp_rom_map_elem_t qemu_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_qemu) },
    { MP_ROM_QSTR(MP_QSTR_readfile_static), MP_ROM_PTR(&qemu_readfile_static_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset_static), MP_ROM_PTR(&qemu_reset_static_obj) },
    { MP_ROM_QSTR(MP_QSTR_mem), MP_ROM_PTR(&qemu_mem_obj) },
    { MP_ROM_QSTR(MP_QSTR_host_ns), MP_ROM_PTR(&qemu_host_ns_obj) },
    { MP_ROM_QSTR(MP_QSTR_cpu_hz), MP_ROM_INT(MICROPY_QEMU_CPU_HZ) },
};
static MP_DEFINE_CONST_DICT(qemu_module_globals, qemu_module_globals_table);

const mp_obj_module_t mp_module_qemu = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&qemu_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_qemu, mp_module_qemu);
