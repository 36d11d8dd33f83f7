/* Harness main for QEMU (mps2-an386 Cortex-M4F, microbit Cortex-M0): Arm semihosting carries the data.
 *   command line (semihosting args):  <image> <model.pml> <inputs.bin> <outputs.bin>
 * inputs.bin is n samples of the model's input bytes back to back; outputs.bin gets n samples of output bytes.
 * The model and the inputs go into the code memory after the image (flash on the microbit), as a ROMFS file
 * would sit on a board and as run_rp2040.mjs places them on the RP2040; outputs and arena into the RAM.
 * Prints "picoml-harness status=S samples=N" and exits with S, 0 when all went well. */
#include <stdint.h>

#include "harness.h"
#include "semihost.h"
#include "startup.h"

extern uint8_t __static_start[], __static_end[];
static uint8_t *static_next = __static_start;

void harness_write(const char *s, uint32_t n) {
    static int console = -1;
    if (console < 0) {
        console = sh_open(":tt", SH_MODE_W);
    }
    sh_write(console, s, n);
}

void harness_exit(int status) {
    sh_exit(status);
}

/* The whole host file into the static region, 16-byte aligned. */
static const uint8_t *read_static(const char *name, uint32_t *size) {
    int fd = sh_open(name, SH_MODE_RB);
    int n = fd < 0 ? -1 : sh_flen(fd);
    if (n < 0) {
        harness_finish(HARNESS_ERR_IO, 0);
    }
    uint8_t *buf = (uint8_t *)(((uintptr_t)static_next + 15) & ~(uintptr_t)15);
    if (buf > __static_end || (uint32_t)n > (uint32_t)(__static_end - buf)) {
        harness_finish(HARNESS_ERR_MEMORY, 0);
    }
    if (sh_read(fd, buf, (uint32_t)n) != n) {
        harness_finish(HARNESS_ERR_IO, 0);
    }
    sh_close(fd);
    static_next = buf + n;
    *size = (uint32_t)n;
    return buf;
}

static void write_file(const char *name, const uint8_t *data, uint32_t size) {
    int fd = sh_open(name, SH_MODE_WB);
    if (fd < 0 || (size && sh_write(fd, data, size) != (int)size)) {
        harness_finish(HARNESS_ERR_IO, 0);
    }
    sh_close(fd);
}

static char cmdline[1024];

int main(void) {
    char *argv[5];
    int argc = 0;
    if (sh_cmdline(cmdline, sizeof cmdline - 1) != 0) {
        harness_finish(HARNESS_ERR_ARGS, 0);
    }
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
        harness_finish(HARNESS_ERR_ARGS, 0);
    }
    uint32_t model_size, inputs_size;
    const uint8_t *model = read_static(argv[1], &model_size);
    const uint8_t *inputs = read_static(argv[2], &inputs_size);
    if (model_size < 64) {
        harness_finish(-1, 0);
    }
    uint32_t in_bytes = harness_io_bytes(model, 0), out_bytes = harness_io_bytes(model, 1);
    uint32_t arena_size = *(const uint32_t *)(const void *)(model + 24);
    if (in_bytes == 0 || inputs_size % in_bytes != 0) {
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
        write_file(argv[3], outputs, n * out_bytes);
    }
    harness_finish(status, status == 0 ? n : 0);
}

void fault(const uint32_t *frame, uint32_t exception) {
    harness_print("picoml-harness fault: exception ");
    harness_print_int((int32_t)exception);
    harness_print(" at pc ");
    harness_print_int((int32_t)frame[6]);
    harness_print("\n");
    harness_finish(HARNESS_FAULT, 0);
}
