/* SignalPCAN (TFLite Micro's Signal library): per-channel energy normalisation, a gain from the channel's noise
 * estimate (a piecewise polynomial, one segment per octave) and a soft "shrink" of the resulting SNR. The SNR has
 * 12 fractional bits, the output 6. */
#include "signal.h"

/* TFLite Micro's WideDynamicFunction: lut[x] for x <= 2, else the quadratic of x's octave at the 10 bits below
 * its top bit; int32 arithmetic wrapping as there. */
static inline int16_t gain_of(uint32_t x, const int16_t *lut) {
    if (x <= 2) {
        return lut[x];
    }
    const int32_t octave = pml_msb32(x);
    const int16_t *c = lut + 4 * octave - 6;
    const uint32_t frac = (octave < 11 ? x << (11 - octave) : x >> (octave - 11)) & 0x3ffu;
    uint32_t r = (uint32_t)(((int32_t)c[2] * (int32_t)frac) >> 5);
    r += (uint32_t)(int32_t)c[1] << 5;
    r *= frac;
    const int32_t rounded = (int32_t)(r + (1u << 14)) >> 15;
    return (int16_t)(rounded + c[0]);
}

void pml_signal_pcan(const uint32_t *x, const uint32_t *noise, const int16_t *lut, int32_t n, int32_t snr_shift,
                     uint32_t *y) {
    for (int32_t i = 0; i < n; i++) {
        const uint32_t gain = (uint32_t)(int32_t)gain_of(noise[i], lut);
        const uint32_t snr = (uint32_t)pml_shr_u64(pml_mul_u64(x[i], gain), snr_shift);
        /* shrink(s) = s^2 / 4 below 2, s - 1 above, from 12 fractional bits to 6 */
        y[i] = snr < (2u << 12) ? (snr * snr) >> 20 : (snr >> 6) - (1u << 6);
    }
}
