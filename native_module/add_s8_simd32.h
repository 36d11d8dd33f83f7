/* ADD and SUB over inputs of the output's shape on a core with the DSP extension (add_s8_simd32.c). */
#ifndef PICOML_ADD_S8_SIMD32_H
#define PICOML_ADD_S8_SIMD32_H

#include "picoml.h"
#include "simd32.h"

#if PML_SIMD32
/* Runs ADD (subtract 0) or SUB (1) and returns 1 when the inputs have the output's shape and the constants suit
 * the shortcut; else returns 0 and the portable kernel runs the op. */
int pml_add_sub_s8_simd32(const pml_add_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output,
                          int subtract);
#endif

#endif
