/* The harness's report as text, for the images with a console (Arm semihosting, the Xtensa simulator's calls):
 * each supplies harness_write and harness_exit. */
#include "harness.h"

void harness_print(const char *s) {
    uint32_t n = 0;
    while (s[n]) {
        n++;
    }
    harness_write(s, n);
}

void harness_print_int(int32_t v) {
    char buf[12];
    int i = 11;
    uint32_t u = v < 0 ? -(uint32_t)v : (uint32_t)v;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        buf[--i] = '-';
    }
    harness_print(buf + i);
}

void harness_finish(int status, uint32_t samples) {
    harness_print("picoml-harness status=");
    harness_print_int(status);
    harness_print(" samples=");
    harness_print_int((int32_t)samples);
    harness_print("\n");
    harness_exit(status);
}
