# picoml.fast: copies between buffers at any offsets in MicroPython's viper emitter -- what a memoryview slice
# cannot do without allocating (each slice is a new heap object). MicroPython only (CircuitPython has no viper:
# there the callers copy value by value in Python). dist precompiles it for each arch.
import micropython


@micropython.viper
def _words(a: uint, b: uint, e: uint):
    """The 32-bit words from address b on to address a on, until a reaches e (e - a a multiple of 8). Three
    arguments: viper keeps them in registers, the loop's only variables."""
    while a < e:
        ptr32(a)[0] = ptr32(b)[0]
        ptr32(a)[1] = ptr32(b)[1]
        a += 8
        b += 8


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
    if not (a & 3) and not (b & 3):
        if n & 2:                   # an odd number of words: one first, then pairs
            ptr32(a)[0] = ptr32(b)[0]
            a += 4
            b += 4
        m = (n >> 2) << 3           # the bytes of the pairs of words
        _words(a, b, a + m)
        a += m
        b += m
        n &= 1
    ha = ptr16(a)
    hb = ptr16(b)
    i = 0
    while i < n:
        ha[i] = hb[i]
        i += 1
