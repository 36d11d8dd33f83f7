/* ADD and SUB over inputs of the output's shape or scalars on the Cortex-M0/M0+ (add_s8_armv6m.c). */
#ifndef PICOML_ADD_S8_ARMV6M_H
#define PICOML_ADD_S8_ARMV6M_H

#include "picoml.h"

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)
/* Runs ADD (subtract 0) or SUB (1) and returns 1 when its shapes and constants suit the kernel; else 0 and the
 * portable kernel runs it. */
int pml_add_sub_s8_armv6m(const pml_add_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output,
                          int subtract);
#endif

#endif
