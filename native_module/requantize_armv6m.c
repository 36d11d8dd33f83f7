/* The Armv6-M kernels' requantization (requantize_armv6m.h): pml_armv6m_requant, a run of outputs by the shortcut;
 * pml_armv6m_rq6_init, the general case's constants; pml_armv6m_rq6_exact, the general case of one output;
 * pml_armv6m_rq6_run, what the shortcut leaves; pml_armv6m_rq6_exact_run, a run of any accumulators with one
 * operand's constants. */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include <stddef.h>

#include "requantize_armv6m.h"

void pml_armv6m_rq6_init(rq6_t *q, int32_t multiplier, int32_t shift) {
    requant_t r;
    requant_init(&r, multiplier, shift);
    rq6f_init(&q->f, multiplier, shift);
    q->multiplier = multiplier;
    q->left = r.left;
    q->right1 = r.right1;
    const uint64_t round = (uint64_t)r.round;
    const uint64_t neg = r.right1 >= 0 ? round - ((uint64_t)1 << 31) : round;
    q->round[0].lo = (uint32_t)round;
    q->round[0].hi = (int32_t)(uint32_t)(round >> 32);
    q->round[1].lo = (uint32_t)neg;
    q->round[1].hi = (int32_t)(uint32_t)(neg >> 32);
}

int8_t pml_armv6m_rq6_exact(int32_t acc, int32_t multiplier, int32_t shift, const out_range_t *o) {
    rq6_t q;
    pml_armv6m_rq6_init(&q, multiplier, shift);
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
/* In assembly for a multiplier >= 0 (so its high half is below 2^15), no left shift and a right one (the usual
 * constants of an element-wise op's output); rq6_apply one at a time for any other. The product of acc = xh 2^16 +
 * xl and M = mh 2^16 + ml (xl, ml, mh >= 0) from four MULS as hi:lo = xh mh 2^32 + xl ml + (xl mh + xh ml) 2^16,
 * the middle terms' halves added with ADCS; then rq6_apply_slow's rounding and shift. About 50 cycles per output.
 * r0 acc, r1 out, r2 q or range, r3-r7 the accumulator and the product; q in r8, the end of acc in r9, range in
 * r10, the right shift in r11. */
void pml_armv6m_rq6_exact_asm(const int32_t *acc, const rq6_t *q, int8_t *out, int32_t n, const out_range_t *range);
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_rq6_exact_asm\n"
    ".type pml_armv6m_rq6_exact_asm, %function\n .thumb_func\n"
    "pml_armv6m_rq6_exact_asm:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "mov r8, r1\n mov r1, r2\n lsls r3, r3, #2\n adds r3, r0, r3\n mov r9, r3\n"
    "ldr r4, [sp, #36]\n mov r10, r4\n mov r2, r8\n ldr r4, [r2, #44]\n mov r11, r4\n"
    "cmp r0, r9\n beq 9f\n"
    "1:\n ldm r0!, {r3}\n mov r2, r8\n ldr r5, [r2, #20]\n lsrs r4, r5, #16\n uxth r5, r5\n"
    "uxth r6, r3\n asrs r3, r3, #16\n mov r7, r6\n"
    "muls r7, r5\n muls r6, r4\n muls r5, r3\n muls r4, r3\n"
    "lsls r3, r6, #16\n lsrs r6, r6, #16\n adds r7, r7, r3\n adcs r4, r6\n"
    "lsls r3, r5, #16\n asrs r5, r5, #16\n adds r7, r7, r3\n adcs r4, r5\n"
    "adds r2, #24\n cmp r4, #0\n bge 2f\n adds r2, #8\n"
    "2:\n ldm r2!, {r3, r5}\n adds r7, r7, r3\n adcs r4, r5\n mov r3, r11\n asrs r4, r3\n"
    "mov r2, r10\n ldm r2!, {r3, r5, r6}\n"
    "cmp r4, r3\n bge 3f\n mov r4, r3\n"
    "3:\n cmp r4, r5\n ble 4f\n mov r4, r5\n"
    "4:\n adds r4, r4, r6\n strb r4, [r1]\n adds r1, #1\n cmp r0, r9\n bne 1b\n"
    "9:\n pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_rq6_exact_asm, .-pml_armv6m_rq6_exact_asm\n");
/* the offsets the assembly reads */
typedef char pml_rq6_t_layout_as_the_assembly_reads_it[
    offsetof(rq6_t, multiplier) == 20 && offsetof(rq6_t, round) == 24 && offsetof(rq6_t, right1) == 44 ? 1 : -1];

void pml_armv6m_rq6_exact_run(const int32_t *acc, const rq6_t *q, int8_t *out, int32_t n, const out_range_t *range) {
    if (q->multiplier >= 0 && q->left == 0 && q->right1 >= 0) {
        pml_armv6m_rq6_exact_asm(acc, q, out, n, range);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i] = rq6_apply(acc[i], q, range);
    }
}

/* r0 acc, r1 the constants, r2 out, r3 the accumulator, r4..r7 the constants and the pieces of the product;
 * the end of acc in r8, lo, hi, offset in r9, r10, r11, the start of acc in r12. About 40 cycles per output:
 * LDM (2), the range check (5), LDM (5), 3 MULS and the carries (12), LDM (2), ASRS, clamp and offset (~7),
 * STRB and the loop (6). With lo 0 (at 10): a negative accumulator's output is the offset (at 13, 13 cycles), a
 * positive one is checked against 2^19 alone and clamped at hi alone (about 32). */
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_requant\n"
    ".type pml_armv6m_requant, %function\n .thumb_func\n"
    "pml_armv6m_requant:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "ldr r4, [sp, #36]\n ldm r4!, {r5, r6, r7}\n mov r9, r5\n mov r10, r6\n mov r11, r7\n"
    "lsls r3, r3, #2\n adds r3, r0, r3\n mov r8, r3\n mov r12, r0\n cmp r0, r3\n beq 9f\n"
    "cmp r5, #0\n bne 1f\n"
    "10:\n ldm r0!, {r3}\n cmp r3, #0\n blt 13f\n lsrs r4, r3, #19\n bne 8f\n ldm r1!, {r4, r5, r6, r7}\n"
    PML_ARMV6M_PIECES_ASM "ldm r1!, {r4}\n asrs r6, r4\n"
    "cmp r6, r10\n ble 12f\n mov r6, r10\n"
    "12:\n add r6, r11\n strb r6, [r2]\n adds r2, #1\n cmp r0, r8\n bne 10b\n b 9f\n"
    "13:\n adds r1, #20\n mov r6, r11\n strb r6, [r2]\n adds r2, #1\n cmp r0, r8\n bne 10b\n b 9f\n"
    "1:\n ldm r0!, {r3}\n"
    PML_ARMV6M_REQUANT_ASM("8f", "2", "3")
    "cmp r0, r8\n bne 1b\n b 9f\n"
    "8:\n subs r0, #4\n"
    "9:\n mov r1, r12\n subs r0, r0, r1\n asrs r0, r0, #2\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_requant, .-pml_armv6m_requant\n");
#else
/* the same in C (the host build checks it) */
void pml_armv6m_rq6_exact_run(const int32_t *acc, const rq6_t *q, int8_t *out, int32_t n, const out_range_t *range) {
    for (int32_t i = 0; i < n; i++) {
        out[i] = rq6_apply_slow(acc[i], q, range);
    }
}

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
