/* Copies of contiguous runs for the shape ops (CONCATENATION, STRIDED_SLICE, CAST between 32-bit dtypes): a word at
 * a time where both ends allow it. In copy.c, built at the kernels' optimisation level (the shape ops' own files
 * are built for size: native_module/opt.mk). */
#ifndef PICOML_COPY_H
#define PICOML_COPY_H

#include <stdint.h>

/* dst[0..n) = src[0..n), n bytes; the ranges do not overlap, or dst == src (nothing to do). */
void pml_copy(void *dst, const void *src, int32_t n);

#endif
