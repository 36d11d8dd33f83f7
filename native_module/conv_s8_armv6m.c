/* CONV_2D, int8, for the Cortex-M0/M0+ (Armv6-M: 8 low registers, a single-cycle 32 x 32 -> 32 MULS, 2-cycle
 * loads, no multiply-accumulate, no SIMD). Same results as TFLite Micro's reference arithmetic.
 *
 * The loads decide the speed on this core, so every value the inner loop reads is one LDRB with an immediate
 * offset (no index register, no sign extension): the inner loop works on bytes biased by 128 (u = v ^ 0x80,
 * 0..255) in two buffers in the scratch, laid out so that one pointer reaches all operands of a step:
 *   wbuf  the weights of a block of output channels (as many triples as WBUF holds), three channels at a time, in
 *         groups of eight patch elements [w0 e..e+7][w1 e..e+7][w2 e..e+7], prepared once per block
 *   cols  the patches of two output pixels, in groups of eight [xa e..e+7][xb e..e+7] (the padding reads as the
 *         input zero point), rebuilt per pixel pair and block
 * conv_2x3 then takes 2 pixels x 3 channels = 6 multiply-accumulates per patch element from 5 loads, its 6 sums in
 * the high registers (ADD hi, lo): 24 cycles per element, 4.15 cycles per MAC with the loop, then requantizes the
 * 6 sums in the same call (requantize_armv6m.h's shortcut, about 35 cycles each).
 * The host folded the input offset into the bias (the kernel sums w x, the padding reading as the zero point);
 * the biases are undone exactly (everything modulo 2^32, as the int32 sums of TFLite Micro):
 *   sum w x = sum wu xu - 128 sum xu - 128 sum w,
 * with sum w per channel (prepared with the weights, bias included) and sum xu per pixel (with the patch): the
 * sums start at bias - 128 sum w - 128 sum xu.
 * Patches longer than PATCH_MAX (a 3x3 convolution over more than 42 channels) take a plain loop instead. */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "check.h"
#include "conv_generic.h"
#include "picoml.h"
#include "requantize_armv6m.h"

#define PATCH_MAX 256           /* patch elements (kh * kw * in_c) of the fast path */
#define WBUF 1536               /* bytes of weights: at least one triple of channels */

/* The step of the convolution that the inner loop takes: 2 output pixels x 3 output channels (the offsets are
 * those the assembly reads). */
typedef struct {
    const uint8_t *cols_end;    /*  0: the end of the columns (16 bytes per group of 8 patch elements) */
    const uint32_t *cw;         /*  4: the 3 channels' bias - 128 sum w */
    uint32_t xs[2];             /*  8: the 2 pixels' 128 sum xu */
    const rq6f_t *q;            /* 16: the 3 channels' requantization */
    int8_t *out_a, *out_b;      /* 20, 24: the pixels' outputs */
    int32_t n;                  /* 28: channels of the triple that exist (1..3) */
    int32_t two;                /* 32: pixel b exists */
    const out_range_t *range;   /* 36 */
    uint32_t acc[6];            /* 40: the sums (pixel a's 3 channels, then b's) */
    int32_t fast;               /* 64: every channel takes the shortcut */
} step_t;

/* acc[p * 3 + j] = cw[j] - xs[p] + sum over the groups of cols[pixel p] . w[channel j] (biased bytes), p < 2, j < 3,
 * then requantized into out_a / out_b; returns 0, or 1 when the sums are left in s->acc for the caller to
 * requantize (a sum out of the shortcut's range, or s->fast == 0). */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly: the step below needs all 8 low registers and 6 high ones, which gcc does not give inline assembly.
 * r0 cols, r1 weights, r2..r7 = xa xb f0 f1 f2 t, sums in r8 r9 r10 (pixel a) r11 r12 lr (pixel b); the end of
 * cols, then s, on the stack. 24 cycles per patch element (5 LDRB, 2 MOVS, 6 MULS, 6 ADD), 8 per group of 8
 * (the loop's branch back is out of BNE's reach).
 * Requantization as in pml_armv6m_requant (requantize_armv6m.c), a subroutine called once per pixel. */
int32_t pml_armv6m_conv_2x3(const uint8_t *cols, const uint8_t *w, step_t *s);
#define PML_STEP(k) \
    "ldrb r2, [r0, #" #k "]\n ldrb r3, [r0, #8+" #k "]\n ldrb r4, [r1, #" #k "]\n ldrb r5, [r1, #8+" #k "]\n" \
    "ldrb r6, [r1, #16+" #k "]\n" \
    "movs r7, r2\n muls r7, r4, r7\n add r8, r7\n muls r4, r3, r4\n add r11, r4\n" \
    "movs r7, r2\n muls r7, r5, r7\n add r9, r7\n muls r5, r3, r5\n add r12, r5\n" \
    "muls r2, r6, r2\n add r10, r2\n muls r3, r6, r3\n add lr, r3\n"
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_conv_2x3\n"
    ".type pml_armv6m_conv_2x3, %function\n .thumb_func\n"
    "pml_armv6m_conv_2x3:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "ldr r7, [r2, #0]\n push {r2}\n push {r7}\n"
    /* the sums start at cw[j] - xs[p] */
    "ldr r3, [r2, #4]\n ldm r3!, {r4, r5, r6}\n ldr r3, [r2, #8]\n ldr r7, [r2, #12]\n"
    "subs r2, r4, r7\n mov r11, r2\n subs r2, r5, r7\n mov r12, r2\n subs r2, r6, r7\n mov lr, r2\n"
    "subs r4, r4, r3\n mov r8, r4\n subs r5, r5, r3\n mov r9, r5\n subs r6, r6, r3\n mov r10, r6\n"
    "1:\n" PML_STEP(0) PML_STEP(1) PML_STEP(2) PML_STEP(3) PML_STEP(4) PML_STEP(5) PML_STEP(6) PML_STEP(7)
    "adds r0, #16\n adds r1, #24\n ldr r7, [sp]\n cmp r0, r7\n beq 4f\n b 1b\n"
    "4:\n"
    /* the sums to s->acc */
    "add sp, #4\n ldr r7, [sp]\n movs r0, #40\n adds r0, r7, r0\n"
    "mov r1, r8\n mov r2, r9\n mov r3, r10\n mov r4, r11\n mov r5, r12\n mov r6, lr\n stm r0!, {r1, r2, r3, r4, r5, r6}\n"
    "ldr r1, [r7, #64]\n cmp r1, #0\n beq 8f\n"
    "ldr r3, [r7, #36]\n ldm r3!, {r4, r5, r6}\n mov r9, r4\n mov r10, r5\n mov r11, r6\n"
    /* pixel a */
    "movs r0, #40\n adds r0, r7, r0\n ldr r3, [r7, #28]\n lsls r3, r3, #2\n adds r3, r0, r3\n mov r8, r3\n"
    "ldr r1, [r7, #16]\n ldr r2, [r7, #20]\n bl 5f\n"
    /* pixel b */
    "ldr r7, [sp]\n ldr r3, [r7, #32]\n cmp r3, #0\n beq 7f\n"
    "movs r0, #52\n adds r0, r7, r0\n ldr r3, [r7, #28]\n lsls r3, r3, #2\n adds r3, r0, r3\n mov r8, r3\n"
    "ldr r1, [r7, #16]\n ldr r2, [r7, #24]\n bl 5f\n"
    "7:\n movs r0, #0\n b 9f\n"
    "8:\n movs r0, #1\n"
    "9:\n add sp, #4\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    /* requantize acc r0 .. r8 with the constants r1 into r2 (lo, hi, offset in r9, r10, r11); an accumulator out
     * of the shortcut's range leaves for 8 (the stack as at 7) */
    "5:\n ldm r0!, {r3}\n"
    "movs r4, #1\n lsls r4, r4, #19\n adds r4, r3, r4\n lsrs r4, r4, #20\n bne 8b\n"
    "ldm r1!, {r4, r5, r6, r7}\n"
    "muls r4, r3, r4\n asrs r4, r4, #11\n"
    "muls r5, r3, r5\n adds r5, r5, r4\n asrs r5, r5, #11\n"
    "muls r6, r3, r6\n adds r6, r6, r5\n adds r6, r6, r7\n"
    "asrs r3, r3, #31\n lsls r3, r3, #9\n adds r6, r6, r3\n"
    "ldm r1!, {r4}\n asrs r6, r6, r4\n"
    "cmp r6, r9\n bge 2f\n mov r6, r9\n"
    "2:\n cmp r6, r10\n ble 3f\n mov r6, r10\n"
    "3:\n add r6, r11\n strb r6, [r2]\n adds r2, #1\n"
    "cmp r0, r8\n bne 5b\n bx lr\n"
    ".size pml_armv6m_conv_2x3, .-pml_armv6m_conv_2x3\n");
#undef PML_STEP
#define conv_2x3 pml_armv6m_conv_2x3
#else
/* the same algorithm in C (the host build checks it) */
static int32_t conv_2x3(const uint8_t *cols, const uint8_t *w, step_t *s) {
    for (uint32_t p = 0; p < 2; p++) {
        for (uint32_t j = 0; j < 3; j++) {
            s->acc[p * 3 + j] = s->cw[j] - s->xs[p];
        }
    }
    for (; cols != s->cols_end; cols += 16, w += 24) {
        for (uint32_t k = 0; k < 8; k++) {
            const uint32_t xa = cols[k], xb = cols[8 + k];
            for (uint32_t j = 0; j < 3; j++) {
                s->acc[j] += xa * w[8 * j + k];
                s->acc[3 + j] += xb * w[8 * j + k];
            }
        }
    }
    if (!s->fast || pml_armv6m_requant((const int32_t *)s->acc, s->q, s->out_a, s->n, s->range) != s->n) {
        return 1;
    }
    if (s->two && pml_armv6m_requant((const int32_t *)s->acc + 3, s->q, s->out_b, s->n, s->range) != s->n) {
        return 1;
    }
    return 0;
}
#endif

typedef pml_conv_geometry_t geometry_t;     /* conv_generic.h */

/* Column layout: the patch elements of pixel a in the first 8 bytes of each 16, pixel b's in the last 8. */
#define COL_AT(e) (((e) >> 3) * 16 + ((e) & 7))

/* The patch of output pixel (b, oy, ox) as biased bytes at dst (pixel a's or b's place in the columns), zeros up
 * to a multiple of 8; returns the sum of its bytes. A filter row's taps inside the image are one run of the
 * input when dil_w is 1 (copied a word at a time where it is aligned), the others read the zero point. */
static uint32_t build_column(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, uint8_t *dst) {
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left, in_c = g->in_c;
    const int32_t run = g->kw * in_c;
    const int8_t *image = g->input + b * g->in_h * g->in_w * in_c;
    const uint32_t pad = (uint8_t)g->zero_point ^ 0x80u;   /* what the padding reads as, biased */
    uint32_t sum = 0, e = 0;
    /* taps [kx0, kx1) of a row lie inside the image */
    int32_t kx0 = 0, kx1 = g->kw;
    while (kx0 < g->kw && ix0 + kx0 * g->dil_w < 0) {
        kx0++;
    }
    while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dil_w >= g->in_w) {
        kx1--;
    }
    for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h) {
        if (iy < 0 || iy >= g->in_h || kx0 == kx1) {
            for (const uint32_t end = e + (uint32_t)run; e < end; e++) {
                dst[COL_AT(e)] = (uint8_t)pad;
                sum += pad;
            }
            continue;
        }
        for (const uint32_t end = e + (uint32_t)(kx0 * in_c); e < end; e++) {
            dst[COL_AT(e)] = (uint8_t)pad;
            sum += pad;
        }
        const int8_t *row = image + iy * g->in_w * in_c;
        for (int32_t kx = kx0; kx < kx1; kx++) {
            /* the taps' channels, or the whole run of taps when dil_w is 1 */
            const int32_t n = g->dil_w == 1 ? (kx1 - kx0) * in_c : in_c;
            const int8_t *src = row + (ix0 + kx * g->dil_w) * in_c;
            const uint32_t end = e + (uint32_t)n;
            if (((uintptr_t)src & 3) == (e & 3)) {
                for (; (e & 3) != 0 && e < end; e++) {
                    const uint32_t u = (uint8_t)*src++ ^ 0x80u;
                    dst[COL_AT(e)] = (uint8_t)u;
                    sum += u;
                }
                for (; e + 4 <= end; e += 4, src += 4) {
                    const uint32_t u = *(const uint32_t *)(const void *)src ^ 0x80808080u;
                    *(uint32_t *)(void *)(dst + COL_AT(e)) = u;
                    const uint32_t s2 = (u & 0x00ff00ffu) + ((u >> 8) & 0x00ff00ffu);
                    sum += (s2 & 0xffffu) + (s2 >> 16);
                }
            }
            for (; e < end; e++) {
                const uint32_t u = (uint8_t)*src++ ^ 0x80u;
                dst[COL_AT(e)] = (uint8_t)u;
                sum += u;
            }
            if (g->dil_w == 1) {
                break;
            }
        }
        for (const uint32_t end = e + (uint32_t)((g->kw - kx1) * in_c); e < end; e++) {
            dst[COL_AT(e)] = (uint8_t)pad;
            sum += pad;
        }
    }
    for (; (e & 7) != 0; e++) {
        dst[COL_AT(e)] = 0;
    }
    return sum;
}

static void next_pixel(const geometry_t *g, int32_t *b, int32_t *oy, int32_t *ox) {
    if (++*ox == g->out_w) {
        *ox = 0;
        if (++*oy == g->out_h) {
            *oy = 0;
            ++*b;
        }
    }
}

/* Patches longer than PATCH_MAX: one output at a time. */
static void conv_plain(const geometry_t *g, const int8_t *filter,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int32_t q_step,
                       const out_range_t *range, int8_t *out) {
    const int32_t batches = g->batches, out_c = g->out_c, zp = g->zero_point;
    const int32_t in_c = g->in_c, patch = g->kh * g->kw * in_c;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *image = g->input + b * g->in_h * g->in_w * in_c;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
                for (int32_t oc = 0; oc < out_c; oc++, out++) {
                    uint32_t acc = (uint32_t)bias[oc];
                    const int8_t *f = filter + oc * patch;
                    for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h) {
                        for (int32_t kx = 0, ix = ix0; kx < g->kw; kx++, ix += g->dil_w, f += in_c) {
                            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
                                for (int32_t c = 0; c < in_c; c++) {
                                    acc += (uint32_t)(f[c] * zp);
                                }
                                continue;
                            }
                            const int8_t *x = image + (iy * g->in_w + ix) * in_c;
                            for (int32_t c = 0; c < in_c; c++) {
                                acc += (uint32_t)(f[c] * x[c]);
                            }
                        }
                    }
                    const int32_t q = oc * q_step;
                    rq6_t rq;
                    rq6_init(&rq, multipliers[q], shifts[q]);
                    *out = rq6_apply((int32_t)acc, &rq, range);
                }
            }
        }
    }
}

/* Output channels per block: whole triples whose weights fit WBUF bytes, no more than the op has (rounded up to a
 * triple). */
static int32_t block_channels(int32_t out_c, int32_t patch8) {
    int32_t block = 3;
    while (block < out_c && (block + 3) * patch8 <= WBUF) {
        block += 3;
    }
    return block;
}

/* The scratch: the block's weights (block * patch8), the 2 columns (2 * patch8), bias - 128 sum w and the
 * requantization constants per channel of the block; none for the patches of conv_plain. */
uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    (void)params;
    (void)output;
    const int32_t patch = pml_dim(&inputs[1], 1) * pml_dim(&inputs[1], 2) * pml_dim(&inputs[0], 3);
    if (patch > PATCH_MAX) {
        return 0;
    }
    const int32_t patch8 = (patch + 7) & ~7, block = block_channels(pml_dim(&inputs[1], 0), patch8);
    return (uint32_t)((block + 2) * patch8 + block * (int32_t)(sizeof(uint32_t) + sizeof(rq6f_t)));
}

void pml_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                    void *scratch) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    (void)n_inputs;
    geometry_t g;
    pml_conv_geometry(&g, p, inputs, output);
    const int32_t batches = g.batches, out_c = g.out_c;
    const int32_t n_quant = pml_count(&inputs[3]);
    const int8_t *filter = (const int8_t *)inputs[1].data;
    const int32_t *bias = (const int32_t *)inputs[2].data;
    const int32_t *multipliers = (const int32_t *)inputs[3].data;
    const int32_t *shifts = (const int32_t *)inputs[4].data;
    const int32_t q_step = n_quant == out_c ? 1 : 0;
    out_range_t range;
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out_data = (int8_t *)output->data;
    const int32_t patch = g.kh * g.kw * g.in_c;
    if (patch > PATCH_MAX) {
        conv_plain(&g, filter, bias, multipliers, shifts, q_step, &range, out_data);
        return;
    }
    const int32_t patch8 = (patch + 7) & ~7, groups = patch8 >> 3, block_max = block_channels(out_c, patch8);
    uint8_t *const wbuf = (uint8_t *)scratch;               /* [triple][group][3 channels][8 elements] */
    uint8_t *const cols = wbuf + block_max * patch8;        /* [group][2 pixels][8 elements] */
    uint32_t *const cw = (uint32_t *)(void *)(cols + 2 * patch8);   /* bias - 128 sum w, per channel */
    rq6f_t *const qf = (rq6f_t *)(void *)(cw + block_max);
    const int32_t pixels = batches * g.out_h * g.out_w;
    step_t s;
    s.cols_end = cols + groups * 16;
    s.range = &range;
    for (int32_t oc0 = 0; oc0 < out_c; oc0 += block_max) {
        const int32_t block = out_c - oc0 < block_max ? out_c - oc0 : block_max;
        int32_t triples = 0;
        while (triples * 3 < block) {
            triples++;
        }
        /* the block's weights, biased; a missing last channel repeats the block's last, its sums unused */
        s.fast = 1;
        for (int32_t k = 0; k < triples * 3; k++) {
            const int32_t oc = oc0 + (k < block ? k : block - 1);
            const int8_t *f = filter + oc * patch;
            int32_t t = 0, j = k;
            while (j >= 3) {
                j -= 3;
                t++;
            }
            uint8_t *dst = wbuf + t * 3 * patch8 + j * 8;   /* element e at dst + (e >> 3) * 24 + (e & 7) */
            uint32_t sum = 0;
            int32_t e = 0;
            if (((uintptr_t)f & 3) == 0) {
                for (; e + 4 <= patch; e += 4) {
                    const uint32_t u = *(const uint32_t *)(const void *)(f + e) ^ 0x80808080u;
                    *(uint32_t *)(void *)(dst + (e >> 3) * 24 + (e & 7)) = u;
                    const uint32_t s2 = (u & 0x00ff00ffu) + ((u >> 8) & 0x00ff00ffu);
                    sum += (s2 & 0xffffu) + (s2 >> 16);
                }
            }
            for (; e < patch; e++) {
                const uint32_t u = (uint8_t)f[e] ^ 0x80u;
                dst[(e >> 3) * 24 + (e & 7)] = (uint8_t)u;
                sum += u;
            }
            for (; e < patch8; e++) {
                dst[(e >> 3) * 24 + (e & 7)] = 0x80;        /* a zero weight */
            }
            if (k < block) {
                /* sum w = sum wu - 128 patch */
                cw[k] = (uint32_t)bias[oc] - ((sum - ((uint32_t)patch << 7)) << 7);
                const int32_t q = oc * q_step;
                rq6f_init(&qf[k], multipliers[q], shifts[q]);
                s.fast &= qf[k].shift != 0;
            }
        }
        int32_t b = 0, oy = 0, ox = 0;
        for (int32_t pix = 0; pix < pixels; pix += 2) {
            const int two = pix + 1 < pixels;
            s.xs[0] = build_column(&g, b, oy, ox, cols) << 7;
            next_pixel(&g, &b, &oy, &ox);
            if (two) {
                s.xs[1] = build_column(&g, b, oy, ox, cols + 8) << 7;
                next_pixel(&g, &b, &oy, &ox);
            } else {
                s.xs[1] = s.xs[0];
                for (int32_t i = 0; i < groups; i++) {
                    uint32_t *c = (uint32_t *)(void *)(cols + 16 * i);
                    c[2] = c[0];
                    c[3] = c[1];
                }
            }
            s.two = two;
            for (int32_t t = 0; t < triples; t++) {
                s.cw = cw + 3 * t;
                s.q = qf + 3 * t;
                s.out_a = out_data + pix * out_c + oc0 + 3 * t;
                s.out_b = two ? s.out_a + out_c : s.out_a;
                s.n = block - 3 * t < 3 ? block - 3 * t : 3;
                if (conv_2x3(cols, wbuf + t * 3 * patch8, &s)) {
                    rq6_run((const int32_t *)s.acc, s.q, s.fast, s.out_a, s.n, &range, multipliers, shifts,
                            oc0 + 3 * t, q_step);
                    if (two) {
                        rq6_run((const int32_t *)s.acc + 3, s.q, s.fast, s.out_b, s.n, &range, multipliers, shifts,
                                oc0 + 3 * t, q_step);
                    }
                }
            }
        }
    }
}

#endif
