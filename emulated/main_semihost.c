/* Harness main for QEMU (mps2-an386 Cortex-M4F, microbit Cortex-M0): Arm semihosting carries the data.
 *   command line (semihosting args):  <image> <model.pml> <inputs.bin> <outputs.bin>
 * inputs.bin is n samples of the model's input bytes back to back; outputs.bin gets n samples of output bytes.
 * Prints "picoml-harness status=S samples=N" and exits with S (SYS_EXIT_EXTENDED), 0 when all went well. */
#include <stdint.h>

#include "harness.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0c
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define MODE_RB 1
#define MODE_WB 5

static int32_t semihost(int32_t op, const void *arg) {
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static uint32_t length(const char *s) {
    uint32_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static void print(const char *s) {
    semihost(SYS_WRITE0, s);
}

static void print_u32(uint32_t v) {
    char buf[12];
    int i = 11;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    print(buf + i);
}

__attribute__((noreturn)) static void finish(int status, uint32_t samples) {
    print("picoml-harness status=");
    if (status < 0) {
        print("-");
    }
    print_u32((uint32_t)(status < 0 ? -status : status));
    print(" samples=");
    print_u32(samples);
    print("\n");
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status & 0xff};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

static int32_t open_file(const char *name, int32_t mode) {
    uint32_t block[3] = {(uint32_t)(uintptr_t)name, (uint32_t)mode, length(name)};
    return semihost(SYS_OPEN, block);
}

/* The whole file into a fresh buffer (16-byte aligned); 0 on failure. */
static uint8_t *read_file(const char *name, uint32_t *size) {
    int32_t fd = open_file(name, MODE_RB);
    if (fd < 0) {
        finish(HARNESS_ERR_IO, 0);
    }
    uint32_t block[3] = {(uint32_t)fd, 0, 0};
    int32_t n = semihost(SYS_FLEN, block);
    if (n < 0) {
        finish(HARNESS_ERR_IO, 0);
    }
    uint8_t *buf = harness_alloc((uint32_t)n + 4);
    if (!buf) {
        finish(HARNESS_ERR_MEMORY, 0);
    }
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)n;
    if (semihost(SYS_READ, block) != 0) {
        finish(HARNESS_ERR_IO, 0);
    }
    semihost(SYS_CLOSE, block);
    *size = (uint32_t)n;
    return buf;
}

static void write_file(const char *name, const uint8_t *data, uint32_t size) {
    int32_t fd = open_file(name, MODE_WB);
    if (fd < 0) {
        finish(HARNESS_ERR_IO, 0);
    }
    uint32_t block[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)data, size};
    if (size && semihost(SYS_WRITE, block) != 0) {
        finish(HARNESS_ERR_IO, 0);
    }
    semihost(SYS_CLOSE, block);
}

static char cmdline[1024];

int main(void) {
    uint32_t block[2] = {(uint32_t)(uintptr_t)cmdline, sizeof cmdline - 1};
    char *argv[5];
    int argc = 0;
    if (semihost(SYS_GET_CMDLINE, block) != 0) {
        finish(HARNESS_ERR_ARGS, 0);
    }
    cmdline[block[1]] = 0;
    for (char *p = cmdline; *p && argc < 5;) {   /* space-separated: paths must not hold spaces */
        while (*p == ' ') {
            *p++ = 0;
        }
        if (*p) {
            argv[argc++] = p;
        }
        while (*p && *p != ' ') {
            p++;
        }
    }
    if (argc != 4) {
        finish(HARNESS_ERR_ARGS, 0);
    }
    uint32_t model_size, inputs_size;
    const uint8_t *model = read_file(argv[1], &model_size);
    const uint8_t *inputs = read_file(argv[2], &inputs_size);
    if (model_size < 64) {
        finish(-1, 0);
    }
    uint32_t in_bytes = harness_io_bytes(model, 0), out_bytes = harness_io_bytes(model, 1);
    uint32_t arena_size = *(const uint32_t *)(const void *)(model + 24);
    if (in_bytes == 0 || inputs_size % in_bytes != 0) {
        finish(HARNESS_ERR_INPUTS, 0);
    }
    uint32_t n = inputs_size / in_bytes;
    uint8_t *outputs = harness_alloc(n * out_bytes + 4);
    uint8_t *arena = harness_alloc(arena_size + 4);
    if (!outputs || !arena) {
        finish(HARNESS_ERR_MEMORY, 0);
    }
    int status = harness_run(model, model_size, arena, arena_size, inputs, n, outputs);
    if (status == 0) {
        write_file(argv[3], outputs, n * out_bytes);
    }
    finish(status, status == 0 ? n : 0);
}

void harness_fault(const uint32_t *frame) {
    print("picoml-harness HardFault pc=");
    print_u32(frame[6]);
    print("\n");
    finish(HARNESS_FAULT, 0);
}
