/* DEPTHWISE_CONV_2D's kernels: the generic one (depthwise_conv.c), which the specialised ones (one per arch, each
 * defining pml_depthwise_conv_2d_s8) call for the output channels they do not take. */
#ifndef PICOML_DEPTHWISE_CONV_H
#define PICOML_DEPTHWISE_CONV_H

#include "picoml.h"
#include "simd32.h"

/* Output channels [oc_begin, oc_end) of the op (any depth multiplier). */
void pml_depthwise_channels(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                            const pml_operand_t *output, int32_t oc_begin, int32_t oc_end);

/* The bytes of scratch pml_depthwise_conv_2d_s8 takes for this op on this build's core (pml_depthwise_conv_2d_check
 * reports it): the Armv6-M kernel's query (depthwise_conv_s8_armv6m.c), the Cortex-M4 one's
 * (depthwise_conv_s8_simd32.c), none for the portable kernel. */
#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE) || PML_SIMD32
uint32_t pml_depthwise_conv_2d_s8_scratch(const void *params, const pml_operand_t *inputs,
                                          const pml_operand_t *output);
#define PML_DEPTHWISE_SCRATCH(params, inputs, output) pml_depthwise_conv_2d_s8_scratch(params, inputs, output)
#else
#define PML_DEPTHWISE_SCRATCH(params, inputs, output) 0u
#endif

#endif
