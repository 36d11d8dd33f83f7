/* What the load-time checks share. pml_check (check.c) validates a model's tables and, for every op, the types of
 * its operands and the ranges of its parameters (from the tables of rules.h); then the op's own rules, in
 * pml_<op>_check next to its kernel. A check accepts the op, setting c->work to the op's work (its kernel's
 * inner-loop iterations), or names the rule it broke (a PML_R_ code of rules.h) and the offending value.
 *
 * The checks run once per model and stay in the board's RAM with the kernels (a native module's code lives on
 * the heap): they are compiled for size (PML_COLD) and carry no text. */
#ifndef PICOML_CHECK_H
#define PICOML_CHECK_H

#include "fixedpoint.h"
#include "picoml.h"
#include "rules.h"

#if defined(__GNUC__)
#define PML_COLD __attribute__((cold, optimize("Os")))
#else
#define PML_COLD
#endif

/* Values a window op's index arithmetic may reach: stride * (out - 1) + dilation * (filter - 1) and the padding
 * stay below 2^30, so sums and differences of them are int32. */
#define PML_MAX_SPAN (1 << 30)

/* Return from the check with rule `rule` and `value` when cond is false. */
#define PML_NEED(c, cond, rule, value) \
    do { \
        if (!(cond)) { \
            return pml_fail((c), (rule), (value)); \
        } \
    } while (0)

/* scratch.c, for pml_check: fills scratch_at (each op's scratch bytes on entry) with where each op's scratch
 * goes in an arena of arena_size bytes; returns the bytes of the buffer apart. On a model pml_check accepted. */
PML_COLD uint32_t pml_place_scratch(const uint8_t *model, uint32_t arena_size, uint32_t *scratch_at);

PML_COLD int pml_fail(pml_check_t *c, int rule, int64_t value);

/* min(a * b, PML_MAX_WORK + 1) for a, b in [0, 2^31): an op's work, saturated. */
PML_COLD int64_t pml_work_mul(int64_t a, int64_t b);

/* n / d for n >= 0, d > 0, bit by bit: no division instruction (Cortex-M0 has none, the native module no libgcc). */
PML_COLD uint32_t pml_udiv(uint32_t n, uint32_t d);

/* The bias, multipliers and shifts operands (inputs 2, 3, 4; their types checked already) of an op with `channels`
 * output channels: one bias per channel, one multiplier/shift pair per channel or one for all, shifts in
 * [-31, 31], no INT32_MIN multiplier (the only one that saturates the doubling high multiply:
 * requantize_channels.h leaves it out). */
PML_COLD int pml_check_requantization(pml_check_t *c, const pml_operand_t *in, int32_t channels);

/* An element-wise op: the output has the input's number of values (any shape); its work is that number plus
 * `extra`. */
PML_COLD int pml_check_same_size(pml_check_t *c, const pml_operand_t *input, const pml_operand_t *output,
                                 int32_t extra);

/* ADD and MUL: each input's shape, right-aligned to 4-D, equal to the output's or 1 on every axis. */
PML_COLD int pml_check_broadcast(pml_check_t *c, const pml_operand_t *inputs, const pml_operand_t *output);

/* One spatial axis of a window op (convolution, pooling): an input of `size` positions, `out` outputs, a filter of
 * `taps` taps `dilation` apart, `stride` and `pad` (before the first position), all params already in range. The
 * output size and the padding are TFLite's for VALID (no padding, every window inside) or SAME
 * (out = ceil(size / stride), the padding split with the smaller half before), and the positions the kernels
 * compute stay far inside int32. `axis` 0 is the height, 1 the width (the rules' codes). */
PML_COLD int pml_check_window(pml_check_t *c, int32_t size, int32_t out, int32_t taps, int32_t stride,
                              int32_t dilation, int32_t pad, int axis);

#endif
