/* FULLY_CONNECTED, int8, on a core with the Armv7E-M DSP extension (Cortex-M4/M7: PML_SIMD32, simd32.h).
 *
 * Four units (weight rows) at a time against one input row: each 4 input bytes are sign-extended once by
 * SXTB16 into (x0, x2) and (x1, x3), each unit's 4 weight bytes the same way (no reordering of the weights),
 * and (x0, x2).(w0, w2) + (x1, x3).(w1, w3) is two SMLADs: per 4 input bytes one input load and two SXTB16
 * serve the four units, each of which takes a load, two SXTB16 and two SMLADs. No buffer: the input row is
 * read in place. The last 1..3 bytes of a row are read byte by byte (no load past a row). Requantization:
 * requantize_channels.h's requantize_fast where the constants allow it, requantize() otherwise. */

#include "simd32.h"

#if PML_SIMD32

#include "check.h"
#include "conv_generic.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "requantize_channels.h"

#define UNITS 4     /* weight rows per pass */

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* acc[u] += x . w_u over the whole row of `depth` bytes, for the four rows w_0..w_3 (rows may repeat). In a
 * function of its own without a frame pointer: the assembly takes 14 registers. */
static NOINLINE void dot_1x4(const int8_t *x, const int8_t *const w[UNITS], int32_t depth, int32_t acc[UNITS]) {
    const int8_t *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *const end = x + (depth & ~3);
#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
    /* in assembly: gcc spills the accumulators of this loop (15 registers); here 14, 23 instructions per 16
     * multiply-accumulates and the loop's CMP and BNE */
    if (x != end) {
        uint32_t xa, xb, f, g;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[xb], [%[x]], #4\n\t"
            "ldr %[f], [%[w0]], #4\n\t"
            "sxtb16 %[xa], %[xb]\n\t"
            "sxtb16 %[xb], %[xb], ror #8\n\t"
            "sxtb16 %[g], %[f]\n\t"
            "sxtb16 %[f], %[f], ror #8\n\t"
            "smlad %[a0], %[xa], %[g], %[a0]\n\t"
            "smlad %[a0], %[xb], %[f], %[a0]\n\t"
            "ldr %[f], [%[w1]], #4\n\t"
            "sxtb16 %[g], %[f]\n\t"
            "sxtb16 %[f], %[f], ror #8\n\t"
            "smlad %[a1], %[xa], %[g], %[a1]\n\t"
            "smlad %[a1], %[xb], %[f], %[a1]\n\t"
            "ldr %[f], [%[w2]], #4\n\t"
            "sxtb16 %[g], %[f]\n\t"
            "sxtb16 %[f], %[f], ror #8\n\t"
            "smlad %[a2], %[xa], %[g], %[a2]\n\t"
            "smlad %[a2], %[xb], %[f], %[a2]\n\t"
            "ldr %[f], [%[w3]], #4\n\t"
            "sxtb16 %[g], %[f]\n\t"
            "sxtb16 %[f], %[f], ror #8\n\t"
            "smlad %[a3], %[xa], %[g], %[a3]\n\t"
            "smlad %[a3], %[xb], %[f], %[a3]\n\t"
            "cmp %[x], %[end]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w0] "+r"(w0),
              [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [xa] "=&r"(xa), [xb] "=&r"(xb), [f] "=&r"(f),
              [g] "=&r"(g)
            : [end] "r"(end)
            : "cc", "memory");
    }
#endif
    for (; x != end; x += 4, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
        const uint32_t v = pml_load32(x), xa = pml_sxtb16(v), xb = pml_sxtb16_ror8(v);
        uint32_t f = pml_load32(w0);
        a0 = pml_smlad(xa, pml_sxtb16(f), a0);
        a0 = pml_smlad(xb, pml_sxtb16_ror8(f), a0);
        f = pml_load32(w1);
        a1 = pml_smlad(xa, pml_sxtb16(f), a1);
        a1 = pml_smlad(xb, pml_sxtb16_ror8(f), a1);
        f = pml_load32(w2);
        a2 = pml_smlad(xa, pml_sxtb16(f), a2);
        a2 = pml_smlad(xb, pml_sxtb16_ror8(f), a2);
        f = pml_load32(w3);
        a3 = pml_smlad(xa, pml_sxtb16(f), a3);
        a3 = pml_smlad(xb, pml_sxtb16_ror8(f), a3);
    }
    const int32_t tail = depth & 3;
    if (tail) {
        const uint32_t v = pml_load_tail(x, tail), xa = pml_sxtb16(v), xb = pml_sxtb16_ror8(v);
        uint32_t f = pml_load_tail(w0, tail);
        a0 = pml_smlad(xa, pml_sxtb16(f), a0);
        a0 = pml_smlad(xb, pml_sxtb16_ror8(f), a0);
        f = pml_load_tail(w1, tail);
        a1 = pml_smlad(xa, pml_sxtb16(f), a1);
        a1 = pml_smlad(xb, pml_sxtb16_ror8(f), a1);
        f = pml_load_tail(w2, tail);
        a2 = pml_smlad(xa, pml_sxtb16(f), a2);
        a2 = pml_smlad(xb, pml_sxtb16_ror8(f), a2);
        f = pml_load_tail(w3, tail);
        a3 = pml_smlad(xa, pml_sxtb16(f), a3);
        a3 = pml_smlad(xb, pml_sxtb16_ror8(f), a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void pml_fully_connected_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                            const pml_operand_t *output, void *scratch) {
    const pml_fully_connected_params_t *p = (const pml_fully_connected_params_t *)params;
    (void)n_inputs;
    const int32_t units = pml_dim(&inputs[1], 0), depth = pml_dim(&inputs[1], 1);
    const int32_t size = pml_count(&inputs[0]), n_quant = pml_count(&inputs[3]);
    const int8_t *input = (const int8_t *)inputs[0].data;
    const int8_t *weights = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const int32_t q_step = n_quant == units ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out = (int8_t *)output->data;
    /* batches = size / depth, without a division */
    for (int32_t n = 0; n < size; n += depth, input += depth, out += units) {
        for (int32_t u0 = 0; u0 < units; u0 += UNITS) {
            /* past the last unit the last one repeats, its result dropped */
            const int8_t *w[UNITS];
            int32_t acc[UNITS];
            for (int32_t i = 0; i < UNITS; i++) {
                const int32_t u = u0 + i < units ? u0 + i : units - 1;
                w[i] = weights + u * depth;
                acc[i] = bias[u];       /* the sums wrap as TFLite Micro's int32 sums do */
            }
            dot_1x4(input, w, depth, acc);
            for (int32_t i = 0; i < UNITS && u0 + i < units; i++) {
                const int32_t q = (u0 + i) * q_step;
                requant_fast_t f;
                requant_fast_init(&f, multipliers[q], shifts[q], range.offset);
                if (f.right >= 0) {
                    out[u0 + i] = pml_clamp_s8(pml_ssat8(requantize_fast(acc[i], &f)), p->act_min, p->act_max);
                } else {
                    requant_t rq;
                    requant_init(&rq, multipliers[q], shifts[q]);
                    out[u0 + i] = requantize(acc[i], &rq, &range);
                }
            }
        }
    }
}

#endif
