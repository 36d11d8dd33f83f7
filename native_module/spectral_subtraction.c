/* SignalFilterBankSpectralSubtraction (TFLite Micro's Signal library): each channel less a slowly following
 * estimate of its noise, the estimate the state carried from frame to frame. */
#include "check.h"
#include "signal.h"

/* One channel with its coefficients. */
static inline void channel(const pml_spectral_subtraction_t *o, uint32_t smoothing, uint32_t one_minus, uint32_t x,
                           uint32_t *noise, uint32_t *y) {
    const uint32_t signal = x << o->smoothing_bits;
    uint32_t estimate = (uint32_t)pml_shr_u64(pml_mul_u64(signal, smoothing) + pml_mul_u64(*noise, one_minus),
                                              o->spectral_subtraction_bits);
    *noise = estimate;
    if (estimate > signal) {
        estimate = signal;
        if (o->clamping) {
            *noise = estimate;
        }
    }
    const uint32_t floor = (uint32_t)pml_shr_u64(pml_mul_u64(x, o->min_signal_remaining),
                                                 o->spectral_subtraction_bits);
    const uint32_t subtracted = (signal - estimate) >> o->smoothing_bits;
    *y = subtracted > floor ? subtracted : floor;
}

void pml_signal_spectral_subtraction(const pml_spectral_subtraction_t *o, const uint32_t *x, int32_t n,
                                     uint32_t *noise, uint32_t *y) {
    /* even channels use the coefficients, odd ones the alternate coefficients: a pair a step */
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        channel(o, o->smoothing, o->one_minus_smoothing, x[i], noise + i, y + i);
        channel(o, o->alternate_smoothing, o->alternate_one_minus_smoothing, x[i + 1], noise + i + 1, y + i + 1);
    }
    if (i < n) {
        channel(o, o->smoothing, o->one_minus_smoothing, x[i], noise + i, y + i);
    }
}

/* The op SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: input and state (the noise estimate, a state tensor kept from
 * run to run, zero after load and reset) in, the output and a copy of the new estimate out. Once at load, after
 * the operand types (uint32 all, the state in state storage) and the parameters' ranges (smoothing_bits 0..31,
 * spectral_subtraction_bits 0..63, clamping 0 or 1; the coefficients any 32 bits, read unsigned): all four of the input's size. */
PML_COLD int pml_signal_filter_bank_spectral_subtraction_check(const void *params, const pml_operand_t *in,
                                                               const pml_operand_t *out, pml_check_t *c) {
    (void)params;
    const int32_t n = pml_count(&in[0]);
    PML_NEED(c, pml_count(&in[1]) == n, PML_R_SIZE, pml_count(&in[1]));
    PML_NEED(c, pml_count(&out[1]) == n, PML_R_SIZE, pml_count(&out[1]));
    return pml_check_same_size(c, &in[0], &out[0], 0);
}

void pml_signal_filter_bank_spectral_subtraction_s8(const void *params, const pml_operand_t *in, int n_in,
                                                    const pml_operand_t *out, void *scratch) {
    const pml_signal_filter_bank_spectral_subtraction_params_t *p =
        (const pml_signal_filter_bank_spectral_subtraction_params_t *)params;
    const pml_spectral_subtraction_t o = {(uint32_t)p->smoothing, (uint32_t)p->one_minus_smoothing,
                                          (uint32_t)p->alternate_smoothing,
                                          (uint32_t)p->alternate_one_minus_smoothing,
                                          (uint32_t)p->min_signal_remaining, p->smoothing_bits,
                                          p->spectral_subtraction_bits, p->clamping};
    const int32_t n = pml_count(&in[0]);
    uint32_t *noise = (uint32_t *)in[1].data, *copy = (uint32_t *)out[1].data;
    (void)n_in;
    pml_signal_spectral_subtraction(&o, (const uint32_t *)in[0].data, n, noise, (uint32_t *)out[0].data);
    for (int32_t i = 0; i < n; i++) {
        copy[i] = noise[i];
    }
}
