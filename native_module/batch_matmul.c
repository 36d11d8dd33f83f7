/* BATCH_MATMUL, int8 (TFLite Micro's reference arithmetic): output [b0, b1, M, N] holds the sums over k of
 * (lhs[m][k] + lhs_offset) (rhs[k][n] + rhs_offset) of each pair of matrices, requantized per tensor
 * (requantize_channels.h). lhs is read as [K, M] with adj_x, rhs as [N, K] with adj_y; the batch axes (the first
 * two of the shapes right-aligned to 4) broadcast. Only in the full module (native_module/Makefile's
 * PML_FULL_ONLY_FILES): attention is rare on these boards, and the module's code takes their heap. */
#include "check.h"
#include "picoml.h"
#include "requantize_channels.h"

/* Once at load, after the operand types and parameter ranges (check.c): the depths agree, the output is
 * [batches, lhs rows, rhs columns], each batch axis of an input 1 or the output's. A multiply-accumulate per output
 * value and k; each product is within +-2^16 and the sums wrap as unsigned. */
PML_COLD int pml_batch_matmul_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                                    pml_check_t *c) {
    const pml_batch_matmul_params_t *p = (const pml_batch_matmul_params_t *)params;
    int32_t a[PML_MAX_DIMS], b[PML_MAX_DIMS], o[PML_MAX_DIMS];
    pml_dims4(&inputs[0], a);
    pml_dims4(&inputs[1], b);
    pml_dims4(output, o);
    const int32_t depth = p->adj_x ? a[2] : a[3];
    PML_NEED(c, (p->adj_y ? b[3] : b[2]) == depth, PML_R_MATMUL_DEPTH, depth);
    int ok = o[2] == (p->adj_x ? a[3] : a[2]) && o[3] == (p->adj_y ? b[2] : b[3]);
    for (int d = 0; d < 2; d++) {
        ok = ok && (a[d] == 1 || a[d] == o[d]) && (b[d] == 1 || b[d] == o[d]);
    }
    PML_NEED(c, ok, PML_R_MATMUL_OUTPUT, pml_count(output));
    c->work = pml_work_mul(pml_count(output), depth);
    return PML_OK;
}

void pml_batch_matmul_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                         void *scratch) {
    const pml_batch_matmul_params_t *p = (const pml_batch_matmul_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    int32_t a[PML_MAX_DIMS], b[PML_MAX_DIMS], o[PML_MAX_DIMS];
    pml_dims4(&inputs[0], a);
    pml_dims4(&inputs[1], b);
    pml_dims4(output, o);
    const int32_t rows = o[2], cols = o[3], depth = p->adj_x ? a[2] : a[3];
    /* element steps inside a matrix: to lhs's next row and next k, to rhs's next column and next k */
    const int32_t a_row = p->adj_x ? 1 : depth, a_k = p->adj_x ? rows : 1;
    const int32_t b_col = p->adj_y ? depth : 1, b_k = p->adj_y ? 1 : cols;
    const int32_t lo = p->lhs_offset, ro = p->rhs_offset;
    requant_t q;
    out_range_t range;
    requant_init(&q, p->output_multiplier, p->output_shift);
    out_range_init(&range, p->output_offset, p->act_min, p->act_max);
    int8_t *out = (int8_t *)output->data;
    for (int32_t b0 = 0; b0 < o[0]; b0++) {
        for (int32_t b1 = 0; b1 < o[1]; b1++) {
            const int8_t *lhs = (const int8_t *)inputs[0].data
                                + ((a[0] == 1 ? 0 : b0) * a[1] + (a[1] == 1 ? 0 : b1)) * rows * depth;
            const int8_t *rhs = (const int8_t *)inputs[1].data
                                + ((b[0] == 1 ? 0 : b0) * b[1] + (b[1] == 1 ? 0 : b1)) * depth * cols;
            for (int32_t m = 0; m < rows; m++) {
                for (int32_t n = 0; n < cols; n++) {
                    const int8_t *x = lhs + m * a_row, *y = rhs + n * b_col;
                    uint32_t acc = 0;
                    for (int32_t k = 0; k < depth; k++) {
                        acc += (uint32_t)((x[k * a_k] + lo) * (y[k * b_k] + ro));
                    }
                    *out++ = requantize((int32_t)acc, &q, &range);
                }
            }
        }
    }
}
