/* pml_copy (copy.h): no libc in a native module, and a byte loop costs about five instructions a byte. */
#include "copy.h"

void pml_copy(void *dst, const void *src, int32_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d == s) {
        return;
    }
    if ((((uintptr_t)d | (uintptr_t)s) & 3u) == 0) {
        uint32_t *dw = (uint32_t *)(void *)d;
        const uint32_t *sw = (const uint32_t *)(const void *)s;
        for (; n >= 32; n -= 32, dw += 8, sw += 8) {
            const uint32_t a = sw[0], b = sw[1], c = sw[2], e = sw[3], f = sw[4], g = sw[5], h = sw[6], k = sw[7];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
            dw[4] = f;
            dw[5] = g;
            dw[6] = h;
            dw[7] = k;
        }
        for (; n >= 16; n -= 16, dw += 4, sw += 4) {
            const uint32_t a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
        }
        for (; n >= 4; n -= 4) {
            *dw++ = *sw++;
        }
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    for (; n > 0; n--) {
        *d++ = *s++;
    }
}
