/* LSTM, int8 [batch, time, features] (time_major: [time, batch, features]) -> int8 [.., .., units]: Keras's LSTM
 * layer as TFLite Micro's integer LSTM runs it (kernels/lstm_eval.h, int8 activations and weights, int16 gates and
 * cell state). Per batch row and time step, for each unit: the four gates' two FCs (the input's, its zero point in
 * the folded bias, and the hidden state's) each requantized into Q3.12 int16, added with saturation, through
 * TFLite's int16 sigmoid (tanh for the cell gate) interpolating the op's 256-entry table;
 * then the cell state's update and the hidden state, written to the output. The new hidden state becomes the
 * state (int16, less its zero point) after the step's last unit: every unit's gates read the step's old one, as
 * TFLite Micro's do. The sums wrap modulo 2^32 as int32 ones do on every target, and each sigmoid and tanh result
 * is stored as an int16, as TFLite's are. Reference: host/picoml/ops/recurrent.py. Only in the full module
 * (native_module/Makefile's PML_FULL_ONLY_FILES). */
#include "check.h"
#include "fixedpoint.h"
#include "picoml.h"
#include "simd32.h"

PML_COLD int pml_lstm_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                            pml_check_t *c) {
    const pml_lstm_params_t *p = (const pml_lstm_params_t *)params;
    const pml_operand_t *x = &inputs[0];
    const int32_t units = pml_dim(output, 2), features = pml_dim(x, 2);
    const int64_t gate_rows = pml_mul_s64(4, units);
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0) && pml_dim(output, 1) == pml_dim(x, 1), PML_R_LSTM_OUTPUT,
             pml_dim(output, 1));
    PML_NEED(c, pml_dim(&inputs[1], 0) == gate_rows && pml_dim(&inputs[1], 1) == features, PML_R_LSTM_WEIGHTS,
             pml_dim(&inputs[1], 1));
    PML_NEED(c, pml_dim(&inputs[2], 0) == gate_rows && pml_dim(&inputs[2], 1) == units, PML_R_LSTM_WEIGHTS,
             pml_dim(&inputs[2], 1));
    PML_NEED(c, pml_count(&inputs[3]) == gate_rows, PML_R_LSTM_CONSTANTS, pml_count(&inputs[3]));
    PML_NEED(c, pml_count(&inputs[4]) == 8 && pml_count(&inputs[5]) == 8, PML_R_LSTM_CONSTANTS,
             pml_count(&inputs[5]));
    PML_NEED(c, pml_count(&inputs[6]) == 256, PML_R_LSTM_CONSTANTS, pml_count(&inputs[6]));
    const int32_t *shifts = (const int32_t *)inputs[5].data;
    for (int i = 0; i < 8; i++) {
        PML_NEED(c, shifts[i] >= -31 && shifts[i] <= 31, PML_R_SHIFTS_RANGE, shifts[i]);
    }
    const int64_t rows = pml_mul_s64(units, pml_dim(x, p->time_major ? 1 : 0));
    PML_NEED(c, pml_count(&inputs[7]) == rows && pml_count(&inputs[8]) == rows, PML_R_LSTM_STATE,
             pml_count(&inputs[7]));
    c->work = pml_work_mul(pml_work_mul(pml_mul_s64(pml_dim(x, 0), pml_dim(x, 1)), gate_rows),
                           features + units + 4);
    return PML_OK;
}

static int32_t sat16(int32_t v) {
    return v < -32768 ? -32768 : (v > 32767 ? 32767 : v);
}

/* The table (the op's: sigmoid less 32768) interpolated at a >= 0, 2^bits steps per entry; `saturated` from the
 * last entry on. */
static int32_t interpolate(const int16_t *table, uint32_t a, int bits, int32_t saturated) {
    const uint32_t entry = a >> bits;
    if (entry >= 255) {
        return saturated;
    }
    const int32_t low = table[entry] + 32768, high = table[entry + 1] + 32768;
    return (low << bits) + (int32_t)(a & ((1u << bits) - 1u)) * (high - low);
}

/* TFLite's int16 Logistic as the LSTM calls it (input multiplier 3, no shift): Q3.12 -> Q0.15 */
static int16_t sigmoid16(int32_t x, const int16_t *table) {
    const int32_t v = x * 3;
    const int32_t r = interpolate(table, (uint32_t)(v < 0 ? -v : v), 9, 0x7fff << 10);
    return (int16_t)((v >= 0 ? r + (1 << 9) : (1 << 25) - r + (1 << 9) - 1) >> 10);
}

/* TFLite's int16 Tanh after its input scaling, (x * multiplier + rounding) >> shift (the rules keep it an int32) */
static int16_t tanh16(int32_t x, const int16_t *table, int32_t multiplier, int32_t shift) {
    const int32_t v = (x * multiplier + (int32_t)((1u << shift) >> 1)) >> shift;
    const int32_t r = interpolate(table, (uint32_t)(v < 0 ? -v : v), 8, 0xffff << 8);
    return (int16_t)((v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1) >> 8);
}

/* sum_i a[i] b[i] + start, wrapping modulo 2^32; on the Cortex-M4 four products per two SMLADs (an int16 pair of
 * the hidden state takes its weights' pair from SXTB16's halves, repacked) */
static int32_t dot_s8(const int8_t *a, const int8_t *b, int32_t n, uint32_t start) {
    int32_t i = 0;
#if PML_SIMD32
    int32_t acc = (int32_t)start;
    for (; i + 4 <= n; i += 4) {
        const uint32_t x = pml_load32(a + i), w = pml_load32(b + i);
        acc = pml_smlad(pml_sxtb16(x), pml_sxtb16(w), acc);
        acc = pml_smlad(pml_sxtb16_ror8(x), pml_sxtb16_ror8(w), acc);
    }
    start = (uint32_t)acc;
#endif
    for (; i < n; i++) {
        start += (uint32_t)(a[i] * b[i]);
    }
    return (int32_t)start;
}

static int32_t dot_s16_s8(const int16_t *a, const int8_t *b, int32_t n) {
    uint32_t sum = 0;
    int32_t i = 0;
#if PML_SIMD32
    int32_t acc = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t h01, h23;
        __builtin_memcpy(&h01, a + i, 4);
        __builtin_memcpy(&h23, a + i + 2, 4);
        const uint32_t w = pml_load32(b + i), w02 = pml_sxtb16(w), w13 = pml_sxtb16_ror8(w);
        acc = pml_smlad(h01, pml_pkhbt(w02, w13), acc);
        acc = pml_smlad(h23, pml_pkhtb(w13, w02), acc);
    }
    sum = (uint32_t)acc;
#endif
    for (; i < n; i++) {
        sum += (uint32_t)(a[i] * b[i]);
    }
    return (int32_t)sum;
}

/* One time step of one batch row: x [features], h [units] (hidden state less its zero point), c [units] */
static void step(const pml_lstm_params_t *p, const pml_operand_t *in, const int8_t *x, int16_t *h, int16_t *c,
                 int8_t *out, int32_t features, int32_t units) {
    const int8_t *weights = (const int8_t *)in[1].data, *recurrent = (const int8_t *)in[2].data;
    const int32_t *bias = (const int32_t *)in[3].data, *multipliers = (const int32_t *)in[4].data,
                  *shifts = (const int32_t *)in[5].data;
    const int16_t *table = (const int16_t *)in[6].data;
    for (int32_t u = 0; u < units; u++) {
        int16_t gate[4];        /* input, forget, cell, output */
        for (int g = 0; g < 4; g++) {
            const int32_t row = g * units + u;
            const int32_t a = pml_mbqm(dot_s8(x, weights + row * features, features, (uint32_t)bias[row]),
                                       multipliers[g], shifts[g]);
            const int32_t b = pml_mbqm(dot_s16_s8(h, recurrent + row * units, units), multipliers[4 + g],
                                       shifts[4 + g]);
            const int32_t sum = sat16(sat16(a) + sat16(b));
            gate[g] = g == 2 ? tanh16(sum, table, 3, 0) : sigmoid16(sum, table);
        }
        const int32_t kept = sat16(pml_mbqm(gate[1] * c[u], p->forget_multiplier, p->forget_shift));
        const int32_t added = sat16(pml_mbqm(gate[0] * gate[2], p->input_multiplier, p->input_shift));
        int32_t cell = sat16(kept + added);
        if (p->cell_clip > 0) {
            cell = cell > p->cell_clip ? p->cell_clip : (cell < -p->cell_clip ? -p->cell_clip : cell);
        }
        c[u] = (int16_t)cell;
        const int32_t t = tanh16(cell, table, p->tanh_multiplier, p->tanh_shift);
        out[u] = pml_clamp_s8(pml_mbqm(t * gate[3], p->hidden_multiplier, p->hidden_shift) + p->hidden_zero_point,
                              -128, 127);
    }
    for (int32_t u = 0; u < units; u++) {
        h[u] = (int16_t)(out[u] - p->hidden_zero_point);
    }
}

void pml_lstm_s8(const void *params, const pml_operand_t *inputs, int n_inputs, const pml_operand_t *output,
                 void *scratch) {
    const pml_lstm_params_t *p = (const pml_lstm_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    const int32_t features = pml_dim(&inputs[0], 2), units = pml_dim(output, 2);
    const int32_t steps = pml_dim(&inputs[0], p->time_major ? 0 : 1);
    const int32_t batches = pml_dim(&inputs[0], p->time_major ? 1 : 0);
    const int8_t *x = (const int8_t *)inputs[0].data;
    int8_t *out = (int8_t *)output->data;
    int16_t *h = (int16_t *)inputs[7].data, *c = (int16_t *)inputs[8].data;
    for (int32_t b = 0; b < batches; b++) {
        for (int32_t t = 0; t < steps; t++) {
            const int32_t at = p->time_major ? t * batches + b : b * steps + t;   /* the row of x and out */
            step(p, inputs, x + at * features, h + b * units, c + b * units, out + at * units, features, units);
        }
    }
}
