# picoml.fast: copies between buffers at any offsets in MicroPython's viper emitter -- what a memoryview slice
# cannot do without allocating (each slice is a new heap object). MicroPython only (CircuitPython has no viper:
# there the callers copy value by value in Python). dist precompiles it for each arch.
import micropython


@micropython.viper
def copy16(dst, d: int, src, s: int, n: int):
    """dst[d:d + n] = src[s:s + n] in 16-bit values (dst, src: any buffers; indices in 16-bit units), two values
    at a time where both addresses are 4-byte aligned. Not for overlapping ranges."""
    a = uint(ptr16(dst)) + 2 * d
    b = uint(ptr16(src)) + 2 * s
    if n > 0 and (a & 2) and (b & 2):
        ptr16(a)[0] = ptr16(b)[0]
        a += 2
        b += 2
        n -= 1
    i = 0
    if not (a & 3) and not (b & 3):
        wa = ptr32(a)
        wb = ptr32(b)
        m = n >> 1
        while i < m:
            wa[i] = wb[i]
            i += 1
        i = m << 1
    ha = ptr16(a)
    hb = ptr16(b)
    while i < n:
        ha[i] = hb[i]
        i += 1
