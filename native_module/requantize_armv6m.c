/* pml_armv6m_requant (requantize_armv6m.h): a run of outputs requantized by the shortcut, for the Armv6-M
 * kernels; pml_armv6m_rq6_exact, the general case of one output; pml_armv6m_rq6_run, what the shortcut leaves. */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "requantize_armv6m.h"

int8_t pml_armv6m_rq6_exact(int32_t acc, int32_t multiplier, int32_t shift, const out_range_t *o) {
    rq6_t q;
    rq6_init(&q, multiplier, shift);
    return rq6_apply(acc, &q, o);
}

void pml_armv6m_rq6_run(const int32_t *acc, const rq6f_t *q, int fast, int8_t *out, int32_t n,
                        const out_range_t *range, const int32_t *multipliers, const int32_t *shifts, int32_t c0,
                        int32_t q_step) {
    int32_t i = 0;
    while (i < n) {
        if (fast) {
            i += pml_armv6m_requant(acc + i, q + i, out + i, n - i, range);
            if (i == n) {
                break;
            }
        }
        if (q[i].shift == 0 || pml_armv6m_requant(acc + i, q + i, out + i, 1, range) == 0) {
            const int32_t k = (c0 + i) * q_step;
            out[i] = pml_armv6m_rq6_exact(acc[i], multipliers[k], shifts[k], range);
        }
        i++;
    }
}

#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* r0 acc, r1 the constants, r2 out, r3 the accumulator, r4..r7 the constants and the pieces of the product;
 * the end of acc in r8, lo, hi, offset in r9, r10, r11, the start of acc in r12. About 40 cycles per output:
 * LDM (2), the range check (5), LDM (5), 3 MULS and the carries (12), LDM (2), ASRS, clamp and offset (~7),
 * STRB and the loop (6). */
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_requant\n"
    ".type pml_armv6m_requant, %function\n .thumb_func\n"
    "pml_armv6m_requant:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "ldr r4, [sp, #36]\n ldm r4!, {r5, r6, r7}\n mov r9, r5\n mov r10, r6\n mov r11, r7\n"
    "lsls r3, r3, #2\n adds r3, r0, r3\n mov r8, r3\n mov r12, r0\n cmp r0, r3\n beq 9f\n"
    "1:\n ldm r0!, {r3}\n"
    PML_ARMV6M_REQUANT_ASM("8f", "2", "3")
    "cmp r0, r8\n bne 1b\n b 9f\n"
    "8:\n subs r0, #4\n"
    "9:\n mov r1, r12\n subs r0, r0, r1\n asrs r0, r0, #2\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_requant, .-pml_armv6m_requant\n");
#else
/* the same in C (the host build checks it) */
int32_t pml_armv6m_requant(const int32_t *acc, const rq6f_t *q, int8_t *out, int32_t n, const out_range_t *range) {
    for (int32_t i = 0; i < n; i++) {
        if ((uint32_t)acc[i] + RQ6_FAST_LIMIT >= 2u * RQ6_FAST_LIMIT) {
            return i;
        }
        out[i] = clamp_offset(rq6f_apply(acc[i], &q[i]), range);
    }
    return n;
}
#endif

#endif
