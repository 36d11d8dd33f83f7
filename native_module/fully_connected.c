/* FULLY_CONNECTED, int8 (TFLite Micro's reference arithmetic).
 *
 * The input is read as [batches, depth], the weights are [units, depth]. Each input row is widened to int16 in a
 * buffer on the stack (in chunks of ROW_MAX when it is longer), then four units at a time are dot products of
 * that row with the units' contiguous weight rows: the int8 x int16 products map onto multiply-add instructions
 * (pmaddwd on x86) when the compiler vectorizes them. */

#include "check.h"
#include "picoml.h"
#include "simd32.h"
#include "requantize_channels.h"

#define ROW_MAX 256     /* int16 elements of the widened input row chunk */
#define UNIT_BLOCK 32   /* units accumulated at once when the row is chunked */

/* gcc -O2 vectorizes the dot product's loop only when it is compiled on its own, not inlined */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#if !PML_SIMD32 && !(defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE))   /* M4, M0: fully_connected_s8_*.c */
/* acc[u] += a . w_u for the four weight rows w_u, over n elements. The first loop runs a multiple of 16 times,
 * which lets gcc vectorize it at -O2 too (its cheap cost model refuses loops that need a scalar epilogue). The
 * sums wrap as int32 (added as unsigned: no undefined overflow). Rows may repeat; acc[u] is then written once
 * per repeat with the same value. */
static NOINLINE void dot_1x4(const int16_t *a, const int8_t *const w[4], int32_t n, int32_t *const acc[4]) {
    const int8_t *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const uint32_t n16 = (uint32_t)n & ~15u;
    uint32_t i = 0;
    for (; i < n16; i++) {
        const int16_t x = a[i];
        s0 += x * (int16_t)w0[i];
        s1 += x * (int16_t)w1[i];
        s2 += x * (int16_t)w2[i];
        s3 += x * (int16_t)w3[i];
    }
    for (; i < (uint32_t)n; i++) {
        const int16_t x = a[i];
        s0 += x * (int16_t)w0[i];
        s1 += x * (int16_t)w1[i];
        s2 += x * (int16_t)w2[i];
        s3 += x * (int16_t)w3[i];
    }
    const int32_t a0 = *acc[0], a1 = *acc[1], a2 = *acc[2], a3 = *acc[3];
    *acc[3] = (int32_t)((uint32_t)a3 + (uint32_t)s3);
    *acc[2] = (int32_t)((uint32_t)a2 + (uint32_t)s2);
    *acc[1] = (int32_t)((uint32_t)a1 + (uint32_t)s1);
    *acc[0] = (int32_t)((uint32_t)a0 + (uint32_t)s0);
}

static void widen(const int8_t *restrict src, int32_t n, int16_t *restrict dst) {
    const uint32_t n16 = (uint32_t)n & ~15u;
    uint32_t i = 0;
    for (; i < n16; i++) {
        dst[i] = src[i];
    }
    for (; i < (uint32_t)n; i++) {
        dst[i] = src[i];
    }
}
#endif

/* Once at load, after the operand types and parameter ranges (check.c): the shapes and constants the kernel
 * below relies on. */
PML_COLD int pml_fully_connected_check(const void *params, const pml_operand_t *inputs,
                   const pml_operand_t *output, pml_check_t *c) {
    const int32_t units = pml_dim(&inputs[1], 0), depth = pml_dim(&inputs[1], 1), size = pml_count(&inputs[0]);
    const int32_t batches = (int32_t)pml_udiv((uint32_t)size, (uint32_t)depth);
    (void)params;
    PML_NEED(c, pml_mul_s64(batches, depth) == size, PML_R_FC_DEPTH, size);
    PML_NEED(c, pml_mul_s64(batches, units) == pml_count(output), PML_R_FC_OUTPUT, pml_count(output));
    if (pml_check_requantization(c, inputs, units) != PML_OK) {
        return PML_ERR_OPERANDS;
    }
    /* a multiply-accumulate per output value and input value of its batch; the sums are taken in chunks of at
     * most ROW_MAX products (dot_1x4), then added as unsigned: no accumulator overflows */
    c->work = pml_work_mul(pml_count(output), depth);
    return PML_OK;
}

#if !PML_SIMD32 && !(defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE))   /* M4, M0: fully_connected_s8_*.c */
void pml_fully_connected_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                            const pml_operand_t *output, void *scratch) {
    const pml_fully_connected_params_t *p = (const pml_fully_connected_params_t *)params;
    (void)n_inputs;
    const int32_t units = pml_dim(&inputs[1], 0), depth = pml_dim(&inputs[1], 1);
    const int32_t size = pml_count(&inputs[0]), n_quant = pml_count(&inputs[3]);
    /* batches = size / depth, without a division (a libgcc call on armv6m) */
    int32_t batches = 0;
    for (int32_t n = 0; n < size; n += depth) {
        batches++;
    }
    const int8_t *input = (const int8_t *)inputs[0].data;
    const int8_t *weights = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const int32_t q_step = n_quant == units ? 1 : 0;
    const int chunked = depth > ROW_MAX;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out = (int8_t *)output->data;
    int16_t row[ROW_MAX];
    int32_t acc[UNIT_BLOCK];
    for (int32_t b = 0; b < batches; b++, input += depth, out += units) {
        for (int32_t u0 = 0; u0 < units; u0 += UNIT_BLOCK) {
            const int32_t block = units - u0 < UNIT_BLOCK ? units - u0 : UNIT_BLOCK;
            for (int32_t k = 0; k < block; k++) {
                acc[k] = 0;
            }
            for (int32_t d0 = 0; d0 < depth; d0 += ROW_MAX) {
                const int32_t len = depth - d0 < ROW_MAX ? depth - d0 : ROW_MAX;
                if (chunked || u0 == 0) {
                    widen(input + d0, len, row);
                }
                for (int32_t k = 0; k < block; k += 4) {
                    /* past the block's end the last unit repeats; its sum is the same each time */
                    const int8_t *w[4];
                    int32_t *a[4];
                    for (int32_t i = 0; i < 4; i++) {
                        const int32_t u = k + i < block ? k + i : block - 1;
                        w[i] = weights + (u0 + u) * depth + d0;
                        a[i] = &acc[u];
                    }
                    dot_1x4(row, w, len, a);
                }
            }
            for (int32_t k = 0; k < block; k++) {
                const int32_t u = u0 + k, q = u * q_step;
                requant_t rq;
                requant_init(&rq, multipliers[q], shifts[q]);
                out[u] = requantize((int32_t)((uint32_t)acc[k] + (uint32_t)bias[u]), &rq, &range);
            }
        }
    }
}
#endif
