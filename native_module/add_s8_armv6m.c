/* ADD and SUB, int8, over inputs of the output's shape, on the Cortex-M0/M0+ (Armv6-M: no 32 x 32 -> 64 multiply):
 * the bytes of add.c's portable kernel with its two input rescalings looked up. Each input's rescaled value
 * (TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp of (x + offset) << left_shift) depends on its int8 value
 * alone, so its 256 values are computed once per call into a table in the scratch (SUB's second table holds them
 * negated: TFLite subtracts after rounding), and each element then takes two loads and the output's rescaling
 * instead of three 64-bit emulations (ResNet-8's first ADD: 372 -> 171 cycles an element on rp2040js). */
#include "add_s8_armv6m.h"

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#include "fixedpoint.h"

/* elements from which an op takes the tables: they pay from about 300 (their 512 rescalings against about 250
 * cycles saved per element), but their 2 KB of scratch is then at most a sixth of the op's tensors */
#define TABLE_MIN 4096
#define TABLES_BYTES (2 * 256 * 4)

static int takes(const pml_operand_t *inputs, const pml_operand_t *output) {
    const int32_t n = pml_count(output);
    return pml_count(&inputs[0]) == n && pml_count(&inputs[1]) == n && n >= TABLE_MIN;
}

uint32_t pml_add_sub_s8_armv6m_scratch(const pml_operand_t *inputs, const pml_operand_t *output) {
    return takes(inputs, output) ? TABLES_BYTES : 0;
}

/* One rescaling, out of line: its 64-bit arithmetic in 32-bit pieces is long, and the tables and the loop share it. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t rescale(int32_t x, int32_t multiplier, int32_t shift) {
    return pml_mbqm(x, multiplier, shift);
}

static void table(int32_t *t, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift, int negate) {
    for (int32_t v = -128; v < 128; v++) {
        const int32_t r = rescale((int32_t)((uint32_t)(v + offset) << left_shift), multiplier, shift);
        t[v + 128] = negate ? (int32_t)(0u - (uint32_t)r) : r;
    }
}

int pml_add_sub_s8_armv6m(const pml_add_params_t *p, const pml_operand_t *inputs, const pml_operand_t *output,
                          int subtract, void *scratch) {
    if (!takes(inputs, output)) {
        return 0;
    }
    int32_t *const t1 = (int32_t *)scratch, *const t2 = t1 + 256;
    table(t1, p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift, 0);
    table(t2, p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift, subtract);
    const int8_t *x1 = (const int8_t *)inputs[0].data, *x2 = (const int8_t *)inputs[1].data;
    int8_t *out = (int8_t *)output->data;
    const int32_t lo = p->act_min - p->output_offset, hi = p->act_max - p->output_offset;
    const int32_t n = pml_count(output);
    for (int32_t i = 0; i < n; i++) {
        const uint32_t sum = (uint32_t)t1[x1[i] + 128] + (uint32_t)t2[x2[i] + 128];
        int32_t r = rescale((int32_t)sum, p->output_multiplier, p->output_shift);
        r = r > lo ? r : lo;
        r = r < hi ? r : hi;
        out[i] = (int8_t)(r + p->output_offset);
    }
    return 1;
}

#endif
