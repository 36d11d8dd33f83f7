// What the Xtensa port of picoml's MicroPython needs beyond the kit's shared/libc (no C library, libgcc or
// compiler-rt is built for this target here): strrchr, and the run-time helpers clang calls for 64-bit arithmetic
// on a core without MUL32_HIGH (the clock's 64-bit divisions and the integer code's 64-bit products; only 32-bit
// operations inside, so that nothing calls back into these).
#include <stddef.h>
#include <stdint.h>

char *strrchr(const char *s, int c) {
    const char *last = NULL;
    do {
        if (*s == (char)c) {
            last = s;
        }
    } while (*s++);
    return (char *)last;
}

// the 64-bit product of two 32-bit words, from their 16-bit halves
static uint64_t mul32x32(uint32_t a, uint32_t b) {
    uint32_t al = a & 0xffff, ah = a >> 16, bl = b & 0xffff, bh = b >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint32_t mid = (ll >> 16) + (lh & 0xffff) + (hl & 0xffff);
    uint32_t lo = (mid << 16) | (ll & 0xffff);
    uint32_t hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16);
    return (uint64_t)hi << 32 | lo;
}

uint64_t __muldi3(uint64_t a, uint64_t b) {
    uint32_t al = (uint32_t)a, ah = (uint32_t)(a >> 32), bl = (uint32_t)b, bh = (uint32_t)(b >> 32);
    uint64_t p = mul32x32(al, bl);
    return p + ((uint64_t)(al * bh + ah * bl) << 32);
}

// shift and subtract, one quotient bit a step (the callers divide a clock reading by a constant)
uint64_t __udivdi3(uint64_t n, uint64_t d) {
    uint64_t q = 0, r = 0;
    if (d == 0) {
        return 0;
    }
    for (int i = 63; i >= 0; i--) {
        r = r << 1 | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    return q;
}
