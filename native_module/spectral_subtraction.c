/* SignalFilterBankSpectralSubtraction (TFLite Micro's Signal library): each channel less a slowly following
 * estimate of its noise, the estimate the state carried from frame to frame. */
#include "signal.h"

void pml_signal_spectral_subtraction(const pml_spectral_subtraction_t *o, const uint32_t *x, int32_t n,
                                     uint32_t *noise, uint32_t *y) {
    for (int32_t i = 0; i < n; i++) {
        /* odd channels use the alternate coefficients */
        const uint32_t smoothing = (i & 1) ? o->alternate_smoothing : o->smoothing;
        const uint32_t one_minus = (i & 1) ? o->alternate_one_minus_smoothing : o->one_minus_smoothing;
        const uint32_t signal = x[i] << o->smoothing_bits;
        noise[i] = (uint32_t)pml_shr_u64(pml_mul_u64(signal, smoothing) + pml_mul_u64(noise[i], one_minus),
                                         o->spectral_subtraction_bits);
        uint32_t estimate = noise[i];
        if (estimate > signal) {
            estimate = signal;
            if (o->clamping) {
                noise[i] = estimate;
            }
        }
        const uint32_t floor = (uint32_t)pml_shr_u64(pml_mul_u64(x[i], o->min_signal_remaining),
                                                     o->spectral_subtraction_bits);
        const uint32_t subtracted = (signal - estimate) >> o->smoothing_bits;
        y[i] = subtracted > floor ? subtracted : floor;
    }
}
