/* ADD and SUB, int8, over inputs of the output's shape or scalars, on the Cortex-M0/M0+ (Armv6-M: no 32 x 32 -> 64 multiply):
 * the bytes of add.c's portable kernel, its two input rescalings in two 32-bit multiplies each instead of four
 * 16 x 16 products and their carries.
 *
 * An input's rescaling is TFLite's MultiplyByQuantizedMultiplier((x + offset) << L, M, shift): with the shift's
 * left part folded into L (L' = L + max(shift, 0)) and e = max(-shift, 0), it is
 *     RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(v 2^L', M), e),    v = x + offset, |v| <= 255
 * (check.c keeps the offsets in -127..128). The doubling high multiply is floor((v 2^L' M + 2^30) / 2^31)
 * (fixedpoint.h's pml_srdhm), which with s = 31 - L' and M = Mh 2^s + Ml (Mh = M >> s, 0 <= Ml < 2^s) is
 *     r = v Mh + ((v Ml + 2^(s-1)) >> s),
 * every term inside int32 for 8 <= L' <= 22 (|v Mh| <= 255 2^L', |v Ml| < 255 2^s). |r| < 2^30 (|v 2^L'| is), so
 * the rounding division is (r + 2^(e-1) - [r < 0]) >> e for any e in [1, 31], and the sum (difference) of two such
 * values does not wrap. The sums of a run of elements are then rescaled to the output by
 * requantize_armv6m.c's exact run (in assembly on the core: a sum of up to 2^30 needs the whole 64-bit product).
 * A scalar operand is rescaled once. Other left shifts take the portable kernel. On rp2040js, cycles an element:
 * ResNet-8's first ADD (16,384 elements) 151 -> 124, the anomaly model's (1,080) 344 -> 125, 2,048 elements plus a
 * scalar 344 -> 92 (before: the input rescalings looked up in two 256-entry tables built per call in 2 KB of
 * scratch, from 4,096 elements of equal shapes; anything else three 64-bit rescalings). */
#include "add_s8_armv6m.h"

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "requantize_armv6m.h"

typedef struct {
    int32_t offset, high, low, s, round, e;    /* offset, Mh, Ml, s, 2^(e-1) (0 for e = 0), e */
} input_t;

static int input_init(input_t *q, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift) {
    const int32_t left = left_shift + (shift > 0 ? shift : 0);
    if (left < 8 || left > 22) {
        return 0;
    }
    q->offset = offset;
    q->s = 31 - left;
    q->high = multiplier >> q->s;
    q->low = (int32_t)((uint32_t)multiplier & ((1u << q->s) - 1u));
    q->e = shift < 0 ? -shift : 0;
    q->round = q->e ? (int32_t)(1u << (q->e - 1)) : 0;
    return 1;
}

/* sums[i] = the rescaled x[i] (add 0), or sums[i] plus it (add 1) or minus it (add -1), i < n. Out of line, one
 * input at a time: its loop keeps most constants in registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void rescale_run(const int8_t *x, const input_t *q, int32_t *sums, int32_t n, int add) {
    const int32_t offset = q->offset, high = q->high, low = q->low, s = q->s, half = (int32_t)(1u << (s - 1));
    const int32_t round = q->round, e = q->e;
    for (int32_t *const end = sums + n; sums != end; sums++, x++) {
        const int32_t v = *x + offset;
        int32_t r = v * high + ((v * low + half) >> s);
        if (e) {
            r = (r + round - (int32_t)((uint32_t)r >> 31)) >> e;
        }
        *sums = add == 0 ? r : add > 0 ? *sums + r : *sums - r;
    }
}

/* elements per pass: the rescaled inputs of a run summed first, then the sums rescaled, so that no loop runs out of
 * registers */
#define RUN 32

int pml_add_sub_s8_armv6m(const pml_add_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output,
                          int subtract) {
    const int32_t n = pml_count(output), n1 = pml_count(&inputs[0]), n2 = pml_count(&inputs[1]);
    input_t q1, q2;
    if (!((n1 == n || n1 == 1) && (n2 == n || n2 == 1))
        || !input_init(&q1, p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift)
        || !input_init(&q2, p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift)) {
        return 0;
    }
    rq6_t q;
    pml_armv6m_rq6_init(&q, p->output_multiplier, p->output_shift);
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    const int8_t *x1 = (const int8_t *)inputs[0].data, *x2 = (const int8_t *)inputs[1].data;
    int8_t *out = (int8_t *)output->data;
    /* a scalar operand's rescaled value, once */
    int32_t c1 = 0, c2 = 0;
    if (n1 != n) {
        rescale_run(x1, &q1, &c1, 1, 0);
    }
    if (n2 != n) {
        rescale_run(x2, &q2, &c2, 1, 0);
        c2 = subtract ? -c2 : c2;
    }
    int32_t sums[RUN];
    for (int32_t i0 = 0; i0 < n; i0 += RUN) {
        const int32_t m = n - i0 < RUN ? n - i0 : RUN;
        if (n1 == n) {
            rescale_run(x1 + i0, &q1, sums, m, 0);
        } else {
            for (int32_t i = 0; i < m; i++) {
                sums[i] = c1;
            }
        }
        if (n2 == n) {
            rescale_run(x2 + i0, &q2, sums, m, subtract ? -1 : 1);
        } else {
            for (int32_t i = 0; i < m; i++) {
                sums[i] += c2;
            }
        }
        pml_armv6m_rq6_exact_run(sums, &q, out + i0, m, &range);
    }
    return 1;
}

#endif
