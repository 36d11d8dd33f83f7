/* The C library functions the Xtensa harness image needs (no C library is built for this target here): what the
 * compiler may call for struct copies, and what semihost.c calls. The port has the kit's shared/libc instead. */
#include <stddef.h>
#include <stdint.h>

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

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}
