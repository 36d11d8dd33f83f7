/* The portable CONV_2D kernel (conv.c) under the name a core-specific file falls back on: where conv_s8_simd32.c
 * defines pml_conv_2d_s8 (PML_SIMD32), the portable kernel is pml_conv_2d_s8_generic, called for the shapes that
 * file does not specialise. */
#ifndef PICOML_CONV_GENERIC_H
#define PICOML_CONV_GENERIC_H

#include "picoml.h"
#include "simd32.h"

/* A CONV_2D's geometry as its kernels read it, set up once per call from the operands and parameters (the portable
 * kernel and the Armv6-M one). Dilations as pml_dilation takes them: 1 along an axis with one tap. */
typedef struct {
    const int8_t *input;
    int32_t batches, in_h, in_w, in_c, out_c, out_h, out_w;
    int32_t kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t zero_point;     /* what the padding reads as: the input zero point */
} pml_conv_geometry_t;

static inline void pml_conv_geometry(pml_conv_geometry_t *g, const pml_conv_2d_params_t *p,
                                     const pml_operand_t *inputs, const pml_operand_t *output) {
    g->input = (const int8_t *)inputs[0].data;
    g->batches = pml_dim(&inputs[0], 0);
    g->in_h = pml_dim(&inputs[0], 1);
    g->in_w = pml_dim(&inputs[0], 2);
    g->in_c = pml_dim(&inputs[0], 3);
    g->out_c = pml_dim(&inputs[1], 0);
    g->kh = pml_dim(&inputs[1], 1);
    g->kw = pml_dim(&inputs[1], 2);
    g->out_h = pml_dim(output, 1);
    g->out_w = pml_dim(output, 2);
    g->stride_h = p->stride_h;
    g->stride_w = p->stride_w;
    g->dil_h = pml_dilation(p->dilation_h, g->kh);
    g->dil_w = pml_dilation(p->dilation_w, g->kw);
    g->pad_top = p->pad_top;
    g->pad_left = p->pad_left;
    g->zero_point = -p->input_offset;
}

/* The bytes of scratch pml_conv_2d_s8 takes for this op on this build's core, defined beside the kernel that uses
 * them (CMSIS-NN's buffer-size queries); pml_conv_2d_check reports it. */
uint32_t pml_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output);

#if PML_SIMD32
#define PML_CONV_2D_GENERIC pml_conv_2d_s8_generic
#define PML_CONV_2D_GENERIC_SCRATCH pml_conv_2d_s8_generic_scratch
void pml_conv_2d_s8_generic(const void *params, const pml_operand_t *inputs, int n_inputs,
                            const pml_operand_t *output, void *scratch);
uint32_t pml_conv_2d_s8_generic_scratch(const void *params, const pml_operand_t *inputs, const pml_operand_t *output);
#else
#define PML_CONV_2D_GENERIC pml_conv_2d_s8
#define PML_CONV_2D_GENERIC_SCRATCH pml_conv_2d_s8_scratch
#endif

#endif
