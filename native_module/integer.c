/* Integer (not quantized) element-wise ops, as TFLite Micro runs them on the int16/int32 tensors around an audio
 * front-end: CAST (any integer dtype to any: C's conversion, the low bits), MINIMUM and MAXIMUM (any one dtype,
 * raw values compared), ADD_INT32, MUL_INT32, DIV_INT32 (int32 wrapping as C's unsigned arithmetic; DIV truncates
 * toward zero, x / 0 is 0 and -2^31 / -1 is -2^31), clamped to [act_min, act_max]; NumPy broadcasting to the
 * output's shape. Reference: host/picoml/ops/integer.py. May run in place on a full-shaped input. */
#include "broadcast.h"
#include "check.h"
#include "copy.h"
#include "picoml.h"

/* Value i of a tensor of `dtype` as 64 bits (signed dtypes sign-extended); uint64 values are uint32 word pairs,
 * low word first (arena offsets are 4-aligned only). Not inlined: one copy for the general paths (a native
 * module's code takes the board's RAM); the front-end's own cases have loops of their own. */
static __attribute__((noinline)) uint64_t load(const void *p, int32_t i, int dtype) {
    switch (dtype) {
        case PML_DTYPE_INT8: return (uint64_t)(int64_t)((const int8_t *)p)[i];
        case PML_DTYPE_INT16: return (uint64_t)(int64_t)((const int16_t *)p)[i];
        case PML_DTYPE_INT32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
        case PML_DTYPE_UINT32: return ((const uint32_t *)p)[i];
        default: return ((uint64_t)((const uint32_t *)p)[2 * i + 1] << 32) | ((const uint32_t *)p)[2 * i];
    }
}

static __attribute__((noinline)) void store(void *p, int32_t i, int dtype, uint64_t v) {
    switch (dtype) {
        case PML_DTYPE_INT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
        case PML_DTYPE_INT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
        case PML_DTYPE_INT32:
        case PML_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
        default:
            ((uint32_t *)p)[2 * i] = (uint32_t)v;
            ((uint32_t *)p)[2 * i + 1] = (uint32_t)(v >> 32);
            break;
    }
}

/* -- CAST ---------------------------------------------------------------------------------------------------- */

/* Once at load, after the operand types (any integer dtypes): the output the input's size. */
PML_COLD int pml_cast_check(const void *params, const pml_operand_t *in, const pml_operand_t *out, pml_check_t *c) {
    (void)params;
    return pml_check_same_size(c, &in[0], out, 0);
}

void pml_cast_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const int a = in[0].tensor->dtype, b = out->tensor->dtype;
    const int32_t n = pml_count(out);
    (void)params;
    (void)n_in;
    /* the front-end's casts without the per-value dtype switch: between the 32-bit dtypes (a copy), int16 to
     * int32, int32 to int8 */
    if ((a == PML_DTYPE_INT32 || a == PML_DTYPE_UINT32) && (b == PML_DTYPE_INT32 || b == PML_DTYPE_UINT32)) {
        pml_copy(out->data, in[0].data, 4 * n);
    } else if (a == PML_DTYPE_INT16 && b == PML_DTYPE_INT32) {
        const int16_t *x = (const int16_t *)in[0].data;
        int32_t *y = (int32_t *)out->data;
        for (int32_t i = 0; i < n; i++) {
            y[i] = x[i];
        }
    } else if (a == PML_DTYPE_INT32 && b == PML_DTYPE_INT8) {
        const uint32_t *x = (const uint32_t *)in[0].data;
        uint8_t *y = (uint8_t *)out->data;
        for (int32_t i = 0; i < n; i++) {
            y[i] = (uint8_t)x[i];
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            store(out->data, i, b, load(in[0].data, i, a));
        }
    }
}

/* -- the binary ops -------------------------------------------------------------------------------------------- */

/* x / y truncated toward zero, 0 for y = 0, -2^31 for -2^31 / -1; unsigned magnitudes, and bit by bit where the
 * core has no division (Cortex-M0; the native module has no libgcc). */
static inline int32_t div_int32(int32_t x, int32_t y) {
    if (y == 0) {
        return 0;
    }
    const uint32_t a = x < 0 ? 0u - (uint32_t)x : (uint32_t)x, b = y < 0 ? 0u - (uint32_t)y : (uint32_t)y;
#if defined(PML_NO_LIBGCC)
    uint32_t q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((a >> i) & 1u);
        if (r >= b) {
            r -= b;
            q |= (uint32_t)1 << i;
        }
    }
#else
    const uint32_t q = a / b;
#endif
    return (int32_t)((x < 0) != (y < 0) ? 0u - q : q);
}

/* MINIMUM / MAXIMUM of raw values: 64-bit keys ordered as the dtype's values (signed ones with the sign bit
 * flipped, so an unsigned comparison orders them). */
static inline uint64_t key(uint64_t v, int dtype) {
    return dtype == PML_DTYPE_UINT32 || dtype == PML_DTYPE_UINT64 ? v : v ^ ((uint64_t)1 << 63);
}

static inline uint64_t element(int32_t code, const int32_t *p, int dtype, uint64_t a, uint64_t b) {
    int32_t r;
    switch (code) {
        case PML_OP_MINIMUM: return key(a, dtype) <= key(b, dtype) ? a : b;
        case PML_OP_MAXIMUM: return key(a, dtype) >= key(b, dtype) ? a : b;
        case PML_OP_ADD_INT32: r = (int32_t)((uint32_t)a + (uint32_t)b); break;
        case PML_OP_MUL_INT32: r = (int32_t)((uint32_t)a * (uint32_t)b); break;
        default: r = div_int32((int32_t)a, (int32_t)b); break;
    }
    r = r > p[0] ? r : p[0];        /* act_min, act_max */
    r = r < p[1] ? r : p[1];
    return (uint64_t)(int64_t)r;
}

/* int32 operands of the output's size or a single value (the front-end's arithmetic), op by op: no dtype switch
 * per value. */
static inline int32_t clamp(int32_t r, int32_t lo, int32_t hi) {
    r = r > lo ? r : lo;
    return r < hi ? r : hi;
}

/* The front-end's commonest case: a tensor and one value (a constant), the arithmetic ops unclamped (act_min and
 * act_max int32's whole range). Returns 0 for any other case. */
static int scalar_int32(int32_t code, const int32_t *p, const int32_t *x, int32_t c, int32_t *y, int32_t n) {
    int32_t i = 0;
    switch (code) {
        case PML_OP_MINIMUM:
            for (; i < n; i++) {
                y[i] = x[i] <= c ? x[i] : c;
            }
            return 1;
        case PML_OP_MAXIMUM:
            for (; i < n; i++) {
                y[i] = x[i] >= c ? x[i] : c;
            }
            return 1;
        default:
            break;
    }
    if (p[0] != INT32_MIN || p[1] != INT32_MAX) {
        return 0;
    }
    switch (code) {
        case PML_OP_ADD_INT32:
            for (; i < n; i++) {
                y[i] = (int32_t)((uint32_t)x[i] + (uint32_t)c);
            }
            return 1;
        case PML_OP_MUL_INT32:
            for (; i < n; i++) {
                y[i] = (int32_t)((uint32_t)x[i] * (uint32_t)c);
            }
            return 1;
#if !defined(PML_NO_LIBGCC)
        default:
            /* by c outside 0 and -1, C's truncating division is div_int32's */
            if (c == 0 || c == -1) {
                return 0;
            }
            for (; i < n; i++) {
                y[i] = x[i] / c;
            }
            return 1;
#else
        default:
            return 0;
#endif
    }
}

static void flat_int32(int32_t code, const int32_t *p, const pml_operand_t *in, const pml_operand_t *out) {
    const int32_t n = pml_count(out);
    const int32_t *x = (const int32_t *)in[0].data, *w = (const int32_t *)in[1].data;
    const int32_t sx = pml_count(&in[0]) == n ? 1 : 0, sw = pml_count(&in[1]) == n ? 1 : 0;
    int32_t *y = (int32_t *)out->data;
    if (sx && !sw && scalar_int32(code, p, x, *w, y, n)) {
        return;
    }
    const int32_t lo = p ? p[0] : 0, hi = p ? p[1] : 0;
    /* one loop per op: the switch outside */
    switch (code) {
        case PML_OP_MINIMUM:
            for (int32_t i = 0; i < n; i++, x += sx, w += sw) {
                y[i] = *x <= *w ? *x : *w;
            }
            return;
        case PML_OP_MAXIMUM:
            for (int32_t i = 0; i < n; i++, x += sx, w += sw) {
                y[i] = *x >= *w ? *x : *w;
            }
            return;
        case PML_OP_ADD_INT32:
            for (int32_t i = 0; i < n; i++, x += sx, w += sw) {
                const int32_t r = (int32_t)((uint32_t)*x + (uint32_t)*w);
                y[i] = clamp(r, lo, hi);
            }
            return;
        case PML_OP_MUL_INT32:
            for (int32_t i = 0; i < n; i++, x += sx, w += sw) {
                const int32_t r = (int32_t)((uint32_t)*x * (uint32_t)*w);
                y[i] = clamp(r, lo, hi);
            }
            return;
        default:
            for (int32_t i = 0; i < n; i++, x += sx, w += sw) {
                const int32_t r = div_int32(*x, *w);
                y[i] = clamp(r, lo, hi);
            }
            return;
    }
}

static void binary(int32_t code, const int32_t *p, const pml_operand_t *in, const pml_operand_t *out) {
    int32_t s1[PML_MAX_DIMS], s2[PML_MAX_DIMS], shape[PML_MAX_DIMS];
    const int dtype = out->tensor->dtype;
    const int32_t n = pml_count(out), n1 = pml_count(&in[0]), n2 = pml_count(&in[1]);
    if (dtype == PML_DTYPE_INT32 && (n1 == n || n1 == 1) && (n2 == n || n2 == 1)) {
        flat_int32(code, p, in, out);
        return;
    }
    pml_broadcast_strides(&in[0], s1);
    pml_broadcast_strides(&in[1], s2);
    pml_dims4(out, shape);
    int32_t o = 0;
    for (int32_t i0 = 0; i0 < shape[0]; i0++) {
        for (int32_t i1 = 0; i1 < shape[1]; i1++) {
            for (int32_t i2 = 0; i2 < shape[2]; i2++) {
                int32_t a = i0 * s1[0] + i1 * s1[1] + i2 * s1[2], b = i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; i3++, a += s1[3], b += s2[3], o++) {
                    store(out->data, o, dtype,
                          element(code, p, dtype, load(in[0].data, a, dtype), load(in[1].data, b, dtype)));
                }
            }
        }
    }
}

/* Once at load, after the operand types (MINIMUM, MAXIMUM: one dtype for the three; the others int32) and the
 * parameters' ranges (act_min <= act_max): the shapes broadcast. */
static PML_COLD int check_binary(const int32_t *p, const pml_operand_t *in, const pml_operand_t *out,
                                 pml_check_t *c) {
    (void)p;
    return pml_check_broadcast(c, in, out);
}

PML_COLD int pml_minimum_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                               pml_check_t *c) {
    (void)params;
    return check_binary(0, in, out, c);
}

PML_COLD int pml_maximum_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                               pml_check_t *c) {
    (void)params;
    return check_binary(0, in, out, c);
}

PML_COLD int pml_add_int32_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                 pml_check_t *c) {
    return check_binary((const int32_t *)params, in, out, c);
}

PML_COLD int pml_mul_int32_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                 pml_check_t *c) {
    return check_binary((const int32_t *)params, in, out, c);
}

PML_COLD int pml_div_int32_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                 pml_check_t *c) {
    return check_binary((const int32_t *)params, in, out, c);
}

void pml_minimum_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)params;
    (void)n_in;
    binary(PML_OP_MINIMUM, 0, in, out);
}

void pml_maximum_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)params;
    (void)n_in;
    binary(PML_OP_MAXIMUM, 0, in, out);
}

void pml_add_int32_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)n_in;
    binary(PML_OP_ADD_INT32, (const int32_t *)params, in, out);
}

void pml_mul_int32_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)n_in;
    binary(PML_OP_MUL_INT32, (const int32_t *)params, in, out);
}

void pml_div_int32_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    (void)n_in;
    binary(PML_OP_DIV_INT32, (const int32_t *)params, in, out);
}

/* -- STRIDED_SLICE ---------------------------------------------------------------------------------------------- */

/* Once at load, after the operand types (the input of the output's dtype) and the parameters' ranges (begins 0
 * or more): the output's rank the input's, and on every axis (right-aligned to 4-D) a stride not 0, begin and
 * begin + stride * (count - 1) inside the input. */
PML_COLD int pml_strided_slice_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                     pml_check_t *c) {
    const int32_t *begin = (const int32_t *)params, *stride = begin + PML_MAX_DIMS;
    int32_t x[PML_MAX_DIMS], y[PML_MAX_DIMS];
    PML_NEED(c, in[0].tensor->ndim == out->tensor->ndim, PML_R_SLICE_RANK, out->tensor->ndim);
    pml_dims4(&in[0], x);
    pml_dims4(out, y);
    for (int d = 0; d < PML_MAX_DIMS; d++) {
        PML_NEED(c, stride[d] != 0, PML_R_SLICE_STRIDE, stride[d]);
        PML_NEED(c, begin[d] < x[d], PML_R_SLICE_BEGIN, begin[d]);
        const int64_t last = begin[d] + pml_mul_s64(stride[d], y[d] - 1);
        PML_NEED(c, last >= 0 && last < x[d], PML_R_SLICE_END, last);
    }
    c->work = pml_count(out);
    return PML_OK;
}

void pml_strided_slice_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const int32_t *begin = (const int32_t *)params, *stride = begin + PML_MAX_DIMS;
    const int32_t size = pml_dtype_size(out->tensor->dtype);
    int32_t x[PML_MAX_DIMS], y[PML_MAX_DIMS];
    (void)n_in;
    pml_dims4(&in[0], x);
    pml_dims4(out, y);
    /* element steps of the input along each axis of the output; 0 on an axis of one value, whose stride the check
     * leaves free (any product with it could overflow) */
    const int32_t s3 = y[3] > 1 ? stride[3] : 0, s2 = y[2] > 1 ? stride[2] * x[3] : 0,
                  s1 = y[1] > 1 ? stride[1] * x[2] * x[3] : 0, s0 = y[0] > 1 ? stride[0] * x[1] * x[2] * x[3] : 0;
    const int32_t first = ((begin[0] * x[1] + begin[1]) * x[2] + begin[2]) * x[3] + begin[3];
    const uint8_t *src = (const uint8_t *)in[0].data;
    uint8_t *dst = (uint8_t *)out->data;
    for (int32_t i0 = 0; i0 < y[0]; i0++) {
        for (int32_t i1 = 0; i1 < y[1]; i1++) {
            for (int32_t i2 = 0; i2 < y[2]; i2++) {
                const int32_t k = first + i0 * s0 + i1 * s1 + i2 * s2;
                if (s3 == 1 || y[3] == 1) {                             /* a contiguous run */
                    pml_copy(dst, src + k * size, y[3] * size);
                    dst += y[3] * size;
                    continue;
                }
                for (int32_t i3 = 0; i3 < y[3]; i3++) {
                    const uint8_t *v = src + (k + i3 * s3) * size;      /* one value's bytes */
                    for (int32_t b = 0; b < size; b++) {
                        *dst++ = v[b];
                    }
                }
            }
        }
    }
}
