/* The portable CONV_2D kernel (conv.c) under the name a core-specific file falls back on: where conv_s8_simd32.c
 * defines pml_conv_2d_s8 (PML_SIMD32), the portable kernel is pml_conv_2d_s8_generic, called for the shapes that
 * file does not specialise. */
#ifndef PICOML_CONV_GENERIC_H
#define PICOML_CONV_GENERIC_H

#include "picoml.h"
#include "simd32.h"

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
