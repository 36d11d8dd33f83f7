/* FULLY_CONNECTED, int8, for the Cortex-M0/M0+ (Armv6-M). Same results as TFLite Micro's reference arithmetic.
 *
 * Each weight is used once per batch, so the weights are read where they are (no copy): two units at a time,
 * one word load of four inputs and one of four weights per unit, each input byte extracted once for both units,
 * the sums in registers, requantized in 32-bit operations (requantize_armv6m.h). Depths that are not a multiple
 * of 4 (or operands not word-aligned) take a plain byte loop. */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "check.h"
#include "picoml.h"
#include "requantize_armv6m.h"

static inline int32_t byte0(uint32_t w) { return (int8_t)w; }
static inline int32_t byte1(uint32_t w) { return (int8_t)(w >> 8); }
static inline int32_t byte2(uint32_t w) { return (int8_t)(w >> 16); }
static inline int32_t byte3(uint32_t w) { return (int32_t)w >> 24; }

/* sums[0] += x . wa, sums[1] += x . wb over `words` (> 0) words of four int8 */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly (gcc spills the sums): r0 x, r1 wa, r2 wb, r4 r5 r6 their words, r7 the input byte, r3 a weight
 * byte and product, sums in r8 r9, the end of x on the stack. 40 cycles per word (8 MACs) and 5 per loop. */
void pml_armv6m_dot_words_1x2(const uint32_t *x, const uint32_t *wa, const uint32_t *wb, int32_t words,
                              uint32_t sums[2]);
#define PML_BYTE(ex, ea, eb) ex ea "muls r3, r7, r3\n add r8, r3\n" eb "muls r3, r7, r3\n add r9, r3\n"
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_dot_words_1x2\n"
    ".type pml_armv6m_dot_words_1x2, %function\n .thumb_func\n"
    "pml_armv6m_dot_words_1x2:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n push {r4, r5}\n"
    "ldr r4, [sp, #28]\n ldm r4!, {r5, r6}\n mov r8, r5\n mov r9, r6\n"
    "lsls r3, r3, #2\n adds r3, r0, r3\n push {r3}\n"
    "1:\n ldm r0!, {r4}\n ldm r1!, {r5}\n ldm r2!, {r6}\n"
    PML_BYTE("asrs r7, r4, #24\n", "asrs r3, r5, #24\n", "asrs r3, r6, #24\n")
    PML_BYTE("sxtb r7, r4\n", "sxtb r3, r5\n", "sxtb r3, r6\n")
    PML_BYTE("lsls r7, r4, #16\n asrs r7, r7, #24\n", "lsls r3, r5, #16\n asrs r3, r3, #24\n",
             "lsls r3, r6, #16\n asrs r3, r3, #24\n")
    PML_BYTE("lsls r7, r4, #8\n asrs r7, r7, #24\n", "lsls r3, r5, #8\n asrs r3, r3, #24\n",
             "lsls r3, r6, #8\n asrs r3, r3, #24\n")
    "ldr r3, [sp]\n cmp r0, r3\n bne 1b\n"
    "add sp, #4\n ldr r4, [sp, #28]\n mov r5, r8\n mov r6, r9\n stm r4!, {r5, r6}\n"
    "pop {r4, r5}\n mov r8, r4\n mov r9, r5\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_dot_words_1x2, .-pml_armv6m_dot_words_1x2\n");
#undef PML_BYTE
#define dot_words_1x2 pml_armv6m_dot_words_1x2
#else
static void dot_words_1x2(const uint32_t *x, const uint32_t *wa, const uint32_t *wb, int32_t words,
                          uint32_t sums[2]) {
    uint32_t s0 = sums[0], s1 = sums[1];
    for (const uint32_t *end = x + words; x != end; x++, wa++, wb++) {
        const uint32_t xw = *x, aw = *wa, bw = *wb;
        int32_t v = byte0(xw);
        s0 += (uint32_t)(v * byte0(aw));
        s1 += (uint32_t)(v * byte0(bw));
        v = byte1(xw);
        s0 += (uint32_t)(v * byte1(aw));
        s1 += (uint32_t)(v * byte1(bw));
        v = byte2(xw);
        s0 += (uint32_t)(v * byte2(aw));
        s1 += (uint32_t)(v * byte2(bw));
        v = byte3(xw);
        s0 += (uint32_t)(v * byte3(aw));
        s1 += (uint32_t)(v * byte3(bw));
    }
    sums[0] = s0;
    sums[1] = s1;
}
#endif

static uint32_t dot_bytes(const int8_t *x, const int8_t *w, int32_t n) {
    uint32_t s = 0;
    for (int32_t i = 0; i < n; i++) {
        s += (uint32_t)(x[i] * w[i]);
    }
    return s;
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
    const int words = (depth & 3) == 0 && ((uintptr_t)input & 3) == 0 && ((uintptr_t)weights & 3) == 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out = (int8_t *)output->data;
    rq6_t rq;           /* the constants of multipliers[ready], shifts[ready]: once per op for a per-tensor pair */
    int32_t ready = -1;
    /* batches = size / depth, without a division (a libgcc call on armv6m) */
    for (int32_t n = 0; n < size; n += depth, input += depth, out += units) {
        for (int32_t u = 0; u < units; u += 2) {
            const int32_t u1 = u + 1 < units ? u + 1 : u;
            uint32_t sums[2] = {(uint32_t)bias[u], (uint32_t)bias[u1]};
            if (words && depth > 0) {
                dot_words_1x2((const uint32_t *)(const void *)input,
                              (const uint32_t *)(const void *)(weights + u * depth),
                              (const uint32_t *)(const void *)(weights + u1 * depth), depth >> 2, sums);
            } else {
                sums[0] += dot_bytes(input, weights + u * depth, depth);
                sums[1] += dot_bytes(input, weights + u1 * depth, depth);
            }
            for (int32_t k = 0; k < 2 && u + k < units; k++) {
                const int32_t q = (u + k) * q_step;
                if (q != ready) {
                    pml_armv6m_rq6_init(&rq, multipliers[q], shifts[q]);
                    ready = q;
                }
                out[u + k] = rq6_apply((int32_t)sums[k], &rq, &range);
            }
        }
    }
}

#endif
