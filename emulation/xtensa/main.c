/* Harness main for QEMU's Xtensa sim machine: the host places one blob in the RAM with QEMU's loader device at
 * BLOB_ADDRESS (link.ld): the words "PMLX", model bytes, input bytes, then the model (16-byte aligned) and
 * the inputs (n samples back to back). Writes the outputs to stdout as hex, one line per sample, then
 * "picoml-harness status=S samples=N", and exits with S (0 when all went well). */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

int sim_call(int nr, int a, int b, int c);
#define SYS_EXIT 1
#define SYS_WRITE 4

extern const uint8_t __blob[];

void harness_write(const char *s, uint32_t n) {
    sim_call(SYS_WRITE, 1, (int)(uintptr_t)s, (int)n);
}

void harness_exit(int status) {
    sim_call(SYS_EXIT, status, 0, 0);
    for (;;) {
    }
}

static uint32_t word(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(void) {
    static char line[2 * 4096 + 1];
    if (word(__blob) != 0x584c4d50u) {            /* "PMLX" */
        harness_finish(HARNESS_ERR_ARGS, 0);
    }
    uint32_t model_size = word(__blob + 4), inputs_size = word(__blob + 8);
    const uint8_t *model = __blob + 16;
    const uint8_t *inputs = model + ((model_size + 15) & ~15u);
    if (model_size < 64) {
        harness_finish(-1, 0);
    }
    uint32_t in_bytes = harness_io_bytes(model, 0), out_bytes = harness_io_bytes(model, 1);
    uint32_t arena_size = word(model + 24);
    if (in_bytes == 0 || inputs_size % in_bytes != 0 || out_bytes > 4096) {
        harness_finish(HARNESS_ERR_INPUTS, 0);
    }
    uint32_t n = inputs_size / in_bytes;
    uint8_t *outputs = harness_alloc(n * out_bytes + 4);
    uint8_t *arena = harness_alloc(arena_size + 4);
    if (!outputs || !arena) {
        harness_finish(HARNESS_ERR_MEMORY, 0);
    }
    int status = harness_run(model, model_size, arena, arena_size, inputs, n, outputs);
    if (status == 0) {
        static const char hex[] = "0123456789abcdef";
        for (uint32_t s = 0; s < n; s++) {
            const uint8_t *o = outputs + s * out_bytes;
            for (uint32_t i = 0; i < out_bytes; i++) {
                line[2 * i] = hex[o[i] >> 4];
                line[2 * i + 1] = hex[o[i] & 15];
            }
            line[2 * out_bytes] = '\n';
            harness_write(line, 2 * out_bytes + 1);
        }
    }
    harness_finish(status, status == 0 ? n : 0);
}

/* What the native module takes from MicroPython (modpicoml.c): the compiler may call these for struct copies. */
void *memmove(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--) {
            *d++ = *s++;
        }
    } else {
        while (n--) {
            d[n] = s[n];
        }
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
    return memmove(dst, src, n);
}

void *memset(void *p, int c, size_t n) {
    uint8_t *d = p;
    while (n--) {
        *d++ = (uint8_t)c;
    }
    return p;
}
