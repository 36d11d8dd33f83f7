/* DEPTHWISE_CONV_2D's kernels: the generic one (depthwise_conv.c), which the specialised ones (one per arch, each
 * defining pml_depthwise_conv_2d_s8) call for the output channels they do not take. */
#ifndef PICOML_DEPTHWISE_CONV_H
#define PICOML_DEPTHWISE_CONV_H

#include "picoml.h"
#include "simd32.h"

/* Output channels [oc_begin, oc_end) of the op (any depth multiplier). */
void pml_depthwise_channels(const pml_depthwise_conv_2d_params_t *p, const pml_operand_t *inputs,
                            const pml_operand_t *output, int32_t oc_begin, int32_t oc_end);

#endif
