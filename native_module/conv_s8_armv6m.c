/* CONV_2D, int8, for the Cortex-M0/M0+ (Armv6-M: 8 low registers, a single-cycle 32 x 32 -> 32 MULS, 2-cycle
 * loads, no multiply-accumulate, no SIMD). Same results as TFLite Micro's reference arithmetic.
 *
 * The loads decide the speed on this core, so every value the inner loop reads is one LDRB with an immediate
 * offset (no index register, no sign extension): the inner loop works on bytes biased by 128 (u = v ^ 0x80,
 * 0..255) in two buffers on the stack, laid out so that one pointer reaches all operands of a step:
 *   wbuf  the weights of a block of output channels, three channels at a time, in groups of four patch elements
 *         [w0 e..e+3][w1 e..e+3][w2 e..e+3] (rebuilt per block: once per layer when the block holds all)
 *   cols  the patches of two output pixels, in groups of four [xa e..e+3][xb e..e+3] (the padding reads as the
 *         input zero point), rebuilt per pixel pair (and block)
 * dot_2x3 then takes 2 pixels x 3 channels = 6 multiply-accumulates per patch element from 5 loads, its 6 sums in
 * the high registers (ADD hi, lo): 24 cycles per element, about 4.2 cycles per MAC with the loop.
 * The host folded the input offset into the bias (the kernel sums w x, the padding reading as the zero point);
 * the biases are undone exactly (everything modulo 2^32, as the int32 sums of TFLite Micro):
 *   sum w x = sum wu xu - 128 sum xu - 128 sum w,
 * with sum w per channel (prepared with the weights, bias included) and sum xu per pixel (with the patch).
 * Patches longer than PATCH_MAX (a 3x3 convolution over more than 42 channels) take a plain loop instead. */

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "check.h"
#include "conv_generic.h"
#include "picoml.h"
#include "requantize_armv6m.h"

#define PATCH_MAX 256           /* patch elements (kh * kw * in_c) of the fast path */
#define WBUF 1536               /* bytes of weights: at least one triple of channels */
#define OC_BLOCK 24             /* output channels per block (a multiple of 3) */

/* acc[p * 3 + j] = sum over the groups of cols[pixel p] . wbuf[channel j] (biased bytes), p < 2, j < 3 */
#if defined(__ARM_ARCH_6M__) && !defined(PML_ARMV6M_PORTABLE)
/* In assembly: the step below needs all 8 low registers and 6 high ones, which gcc does not give inline assembly.
 * r0 cols, r1 weights, r2..r7 = xa xb f0 f1 f2 t, sums in r8 r9 r10 (pixel a) r11 r12 lr (pixel b); the end
 * of cols on the stack. 24 cycles per patch element (5 LDRB, 2 MOVS, 6 MULS, 6 ADD), 5 per group of 4. */
void pml_armv6m_dot_2x3(const uint8_t *cols, const uint8_t *w, uint32_t groups, uint32_t acc[6]);
#define PML_STEP(k) \
    "ldrb r2, [r0, #" #k "]\n ldrb r3, [r0, #4+" #k "]\n ldrb r4, [r1, #" #k "]\n ldrb r5, [r1, #4+" #k "]\n" \
    "ldrb r6, [r1, #8+" #k "]\n" \
    "movs r7, r2\n muls r7, r4, r7\n add r8, r7\n muls r4, r3, r4\n add r11, r4\n" \
    "movs r7, r2\n muls r7, r5, r7\n add r9, r7\n muls r5, r3, r5\n add r12, r5\n" \
    "muls r2, r6, r2\n add r10, r2\n muls r3, r6, r3\n add lr, r3\n"
__asm__(
    ".text\n .syntax unified\n .thumb\n .align 2\n .global pml_armv6m_dot_2x3\n"
    ".type pml_armv6m_dot_2x3, %function\n .thumb_func\n"
    "pml_armv6m_dot_2x3:\n"
    "push {r4, r5, r6, r7, lr}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n push {r4, r5, r6, r7}\n"
    "lsls r2, r2, #3\n adds r2, r0, r2\n push {r2, r3}\n"
    "movs r4, #0\n mov r8, r4\n mov r9, r4\n mov r10, r4\n mov r11, r4\n mov r12, r4\n mov lr, r4\n"
    "1:\n" PML_STEP(0) PML_STEP(1) PML_STEP(2) PML_STEP(3)
    "adds r0, #8\n adds r1, #12\n ldr r7, [sp]\n cmp r0, r7\n bne 1b\n"
    "pop {r2, r3}\n mov r4, r8\n mov r5, r9\n mov r6, r10\n mov r7, r11\n stmia r3!, {r4, r5, r6, r7}\n"
    "mov r4, r12\n mov r5, lr\n stmia r3!, {r4, r5}\n"
    "pop {r4, r5, r6, r7}\n mov r8, r4\n mov r9, r5\n mov r10, r6\n mov r11, r7\n pop {r4, r5, r6, r7, pc}\n"
    ".size pml_armv6m_dot_2x3, .-pml_armv6m_dot_2x3\n");
#undef PML_STEP
#define dot_2x3 pml_armv6m_dot_2x3
#else
/* the same algorithm in C (the host build checks it) */
static void dot_2x3(const uint8_t *cols, const uint8_t *w, uint32_t groups, uint32_t acc[6]) {
    for (uint32_t j = 0; j < 6; j++) {
        acc[j] = 0;
    }
    for (uint32_t g = 0; g < groups; g++, cols += 8, w += 12) {
        for (uint32_t k = 0; k < 4; k++) {
            const uint32_t xa = cols[k], xb = cols[4 + k];
            for (uint32_t j = 0; j < 3; j++) {
                acc[j] += xa * w[4 * j + k];
                acc[3 + j] += xb * w[4 * j + k];
            }
        }
    }
}
#endif

typedef struct {
    const int8_t *input;
    int32_t in_h, in_w, in_c, out_h, out_w;
    int32_t kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    uint8_t pad_u;          /* what the padding reads as, biased: the input zero point ^ 0x80 */
} geometry_t;

/* n biased bytes of src (or n times `pad` when src is NULL) at patch element e of a column (every 8th group of
 * four bytes of dst); returns their sum. Whole words where src, e and n allow. */
static uint32_t put_run(const int8_t *src, uint8_t pad, int32_t n, uint32_t e, uint8_t *dst) {
    uint32_t sum = 0;
    uint8_t *q = dst + (e >> 2) * 8 + (e & 3);
    if (src != NULL && (e & 3) == 0 && ((uintptr_t)src & 3) == 0) {
        for (; n >= 4; n -= 4, src += 4, q += 8) {
            const uint32_t u = *(const uint32_t *)(const void *)src ^ 0x80808080u;
            *(uint32_t *)(void *)q = u;
            const uint32_t s2 = (u & 0x00ff00ffu) + ((u >> 8) & 0x00ff00ffu);
            sum += (s2 & 0xffffu) + (s2 >> 16);
        }
    }
    for (uint32_t r = (uint32_t)(q - dst) & 3; n > 0; n--) {
        const uint8_t u = src != NULL ? (uint8_t)((uint8_t)*src++ ^ 0x80u) : pad;
        *q++ = u;
        sum += u;
        if (++r == 4) {
            r = 0;
            q += 4;
        }
    }
    return sum;
}

/* The patch of output pixel (b, oy, ox) as biased bytes at every 8th group of four of dst, zeros up to a
 * multiple of 4; returns the sum of its bytes. */
static uint32_t build_column(const geometry_t *g, int32_t b, int32_t oy, int32_t ox, uint8_t *dst) {
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left, in_c = g->in_c;
    const int8_t *image = g->input + b * g->in_h * g->in_w * in_c;
    uint32_t sum = 0, e = 0;
    for (int32_t ky = 0, iy = iy0; ky < g->kh; ky++, iy += g->dil_h) {
        for (int32_t kx = 0, ix = ix0; kx < g->kw; kx++, ix += g->dil_w, e += (uint32_t)in_c) {
            const int inside = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w;
            sum += put_run(inside ? image + (iy * g->in_w + ix) * in_c : NULL, g->pad_u, in_c, e, dst);
        }
    }
    for (; (e & 3) != 0; e++) {
        dst[(e >> 2) * 8 + (e & 3)] = 0;
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
static void conv_plain(const geometry_t *g, int32_t batches, int32_t out_c, int32_t zp, const int8_t *filter,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int32_t q_step,
                       const out_range_t *range, int8_t *out) {
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

/* This kernel's buffers are on the stack. */
uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output) {
    return 0;
}

void pml_conv_2d_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output, void *scratch) {
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)params;
    (void)n_inputs;
    geometry_t g;
    const int32_t batches = pml_dim(&inputs[0], 0);
    g.input = (const int8_t *)inputs[0].data;
    g.in_h = pml_dim(&inputs[0], 1);
    g.in_w = pml_dim(&inputs[0], 2);
    g.in_c = pml_dim(&inputs[0], 3);
    const int32_t out_c = pml_dim(&inputs[1], 0);
    g.kh = pml_dim(&inputs[1], 1);
    g.kw = pml_dim(&inputs[1], 2);
    g.out_h = pml_dim(output, 1);
    g.out_w = pml_dim(output, 2);
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.dil_h = pml_dilation(p->dilation_h, g.kh);
    g.dil_w = pml_dilation(p->dilation_w, g.kw);
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    const int32_t zp = -p->input_offset;
    g.pad_u = (uint8_t)((uint8_t)(int8_t)zp ^ 0x80u);
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
        conv_plain(&g, batches, out_c, zp, filter, bias, multipliers, shifts, q_step, &range, out_data);
        return;
    }
    const int32_t patch4 = (patch + 3) & ~3, groups = patch4 >> 2;
    /* channels per block: whole triples, as many as wbuf holds, at most OC_BLOCK */
    int32_t block_max = 3;
    while (block_max + 3 <= OC_BLOCK && (block_max + 3) * patch4 <= WBUF) {
        block_max += 3;
    }
    uint8_t wbuf[WBUF];
    uint8_t cols[2 * PATCH_MAX];
    uint32_t cw[OC_BLOCK];      /* bias - 128 sum w, per channel of the block */
    rq6_t rq[OC_BLOCK];
    const int32_t pixels = batches * g.out_h * g.out_w;
    for (int32_t oc0 = 0; oc0 < out_c; oc0 += block_max) {
        const int32_t block = out_c - oc0 < block_max ? out_c - oc0 : block_max;
        int32_t triples = 0;
        while (triples * 3 < block) {
            triples++;
        }
        /* the block's weights, biased; a missing last channel repeats the block's last, its sums unused */
        for (int32_t k = 0, j = 0, base = 0; k < triples * 3; k++) {
            const int32_t oc = oc0 + (k < block ? k : block - 1);
            const int8_t *f = filter + oc * patch;
            uint8_t *dst = wbuf + base + j * 4;
            if (++j == 3) {
                j = 0;
                base += 3 * patch4;
            }
            int32_t sum = 0, e = 0;
            for (; e < patch; e++) {
                dst[(e >> 2) * 12 + (e & 3)] = (uint8_t)((uint8_t)f[e] ^ 0x80u);
                sum += f[e];
            }
            for (; e < patch4; e++) {
                dst[(e >> 2) * 12 + (e & 3)] = 0x80;    /* a zero weight */
            }
            if (k < block) {
                cw[k] = (uint32_t)bias[oc] - ((uint32_t)sum << 7);
                const int32_t q = oc * q_step;
                rq6_init(&rq[k], multipliers[q], shifts[q]);
            }
        }
        int32_t b = 0, oy = 0, ox = 0;
        for (int32_t pix = 0; pix < pixels; pix += 2) {
            const int two = pix + 1 < pixels;
            uint32_t xsum[2];
            xsum[0] = build_column(&g, b, oy, ox, cols);
            next_pixel(&g, &b, &oy, &ox);
            if (two) {
                xsum[1] = build_column(&g, b, oy, ox, cols + 4);
                next_pixel(&g, &b, &oy, &ox);
            } else {
                xsum[1] = xsum[0];
                for (int32_t i = 0; i < groups; i++) {
                    for (int32_t k = 0; k < 4; k++) {
                        cols[8 * i + 4 + k] = cols[8 * i + k];
                    }
                }
            }
            for (int32_t t = 0; t < triples; t++) {
                uint32_t acc[6];
                dot_2x3(cols, wbuf + t * 3 * patch4, (uint32_t)groups, acc);
                for (int32_t q = 0; q < 2 && (q == 0 || two); q++) {
                    int8_t *out = out_data + (pix + q) * out_c + oc0 + t * 3;
                    const uint32_t xs = xsum[q] << 7;
                    for (int32_t j = 0; j < 3 && t * 3 + j < block; j++) {
                        const int32_t k = t * 3 + j;
                        out[j] = rq6_apply((int32_t)(acc[q * 3 + j] - xs + cw[k]), &rq[k], &range);
                    }
                }
            }
        }
    }
}

#endif
