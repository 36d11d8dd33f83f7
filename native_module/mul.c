/* MUL, int8, NumPy broadcasting to the output's shape: TFLite's quantized mul (the product of the offset inputs
 * rescaled to the output). Reference: reference_mul in host/picoml/ops/elementwise.py. May run in place on a
 * full-shaped input. */
#include "broadcast.h"
#include "check.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "rescale_simd32.h"
#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)
#include "requantize_armv6m.h"
#endif

static inline int8_t mul_one(const void *params, int32_t lo, int32_t hi, int32_t x1, int32_t x2) {
    const pml_mul_params_t *p = (const pml_mul_params_t *)params;
    int32_t r = pml_mbqm((x1 + p->input1_offset) * (x2 + p->input2_offset), p->output_multiplier, p->output_shift);
    /* clamp(r + offset) as clamp(r, lo - offset, hi - offset) + offset: no int32 overflow near the limits */
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    return (int8_t)(r + p->output_offset);
}

/* Once at load, after the operand types and parameter ranges (check.c, which keeps every shift below 32 and the
 * offsets int8, so nothing overflows int32): the shapes broadcast. */
PML_COLD int pml_mul_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                  pml_check_t *c) {
    (void)params;
    return pml_check_broadcast(c, inputs, output);
}

/* The output's rescaling of a product |(x1 + offset1)(x2 + offset2)| <= 255 * 255 without 64-bit arithmetic, the
 * output offset added, where the core has one and the constants suit it (mul_rescale_init returns 0 otherwise):
 * on a core with the DSP extension rescale2 (rescale_simd32.h: multiplier >= 0, shift in [-22, -1]; twice the
 * product fits int32), on the Cortex-M0 the requantization shortcut of requantize_armv6m.h (the product is below
 * its 2^19). */
#if PML_SIMD32
#define MUL_FAST 1
typedef rescale_t mul_rescale_t;

static int mul_rescale_init(mul_rescale_t *q, const pml_mul_params_t *p) {
    return rescale_init(q, p->output_multiplier, p->output_shift, p->output_offset, 22) && q->e != 0;
}

static inline int32_t mul_rescale(int32_t product, const mul_rescale_t *q) {
    return rescale2(product * 2, q);
}
#elif defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)
#define MUL_FAST 1
typedef struct {
    rq6f_t f;
    int32_t offset;
} mul_rescale_t;

static int mul_rescale_init(mul_rescale_t *q, const pml_mul_params_t *p) {
    rq6f_init(&q->f, p->output_multiplier, p->output_shift);
    q->offset = p->output_offset;
    return q->f.shift != 0;
}

static inline int32_t mul_rescale(int32_t product, const mul_rescale_t *q) {
    return rq6f_apply(product, &q->f) + q->offset;
}
#else
#define MUL_FAST 0
#endif

#if MUL_FAST
/* Equal shapes or a scalar operand, when mul_rescale takes the constants. Returns 0 when the portable kernel runs
 * the op. Out of line: its loop keeps its values in registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int mul_s8_fast(const pml_mul_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output) {
    const int32_t n = pml_count(output), n1 = pml_count(&inputs[0]), n2 = pml_count(&inputs[1]);
    mul_rescale_t q;
    if (!((n1 == n || n1 == 1) && (n2 == n || n2 == 1)) || !mul_rescale_init(&q, p)) {
        return 0;
    }
    /* x: an operand of the output's shape (the first when both are), b: the other's offset, or the other's value
     * plus its offset when it is a scalar */
    const int8_t *x = (const int8_t *)inputs[0].data, *z = (const int8_t *)inputs[1].data;
    int32_t a = p->input1_offset, b = p->input2_offset;
    if (n1 != n) {
        const int8_t *t = x;
        x = z;
        z = t;
        a = p->input2_offset;
        b = p->input1_offset;
    }
    const int32_t lo = p->act_min, hi = p->act_max;
    int8_t *y = (int8_t *)output->data, *const end = y + n;
    if (n1 == n && n2 == n) {
        for (; y != end; y++, x++, z++) {
            const int32_t t = mul_rescale((*x + a) * (*z + b), &q);
            *y = (int8_t)(t < lo ? lo : t > hi ? hi : t);
        }
    } else {
        b = *z + b;
        for (; y != end; y++, x++) {
            const int32_t t = mul_rescale((*x + a) * b, &q);
            *y = (int8_t)(t < lo ? lo : t > hi ? hi : t);
        }
    }
    return 1;
}
#endif

void pml_mul_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_mul_params_t *p = (const pml_mul_params_t *)params;
    (void)n_inputs;
#if MUL_FAST
    if (mul_s8_fast(p, inputs, output)) {
        return;
    }
#endif
    pml_broadcast_binary_s8(p, p->act_min - p->output_offset, p->act_max - p->output_offset, inputs, output,
                            mul_one);
}
