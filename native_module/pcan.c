/* SignalPCAN (TFLite Micro's Signal library): per-channel energy normalisation, a gain from the channel's noise
 * estimate (a piecewise polynomial, one segment per octave) and a soft "shrink" of the resulting SNR. The SNR has
 * 12 fractional bits, the output 6. */
#include "check.h"
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

/* The op SIGNAL_PCAN. Once at load, after the operand types (uint32 in, noise estimate and out; the gain table an
 * int16 constant) and snr_shift's range (0..63): the noise estimate and the output the input's size, a gain table
 * of 125 values (WideDynamicFunction reads up to lut[4 * 32 - 6 + 2]). May run in place. */
PML_COLD int pml_signal_pcan_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                   pml_check_t *c) {
    (void)params;
    PML_NEED(c, pml_count(&in[1]) == pml_count(&in[0]), PML_R_SIZE, pml_count(&in[1]));
    PML_NEED(c, pml_count(&in[2]) == 125, PML_R_PCAN_LUT, pml_count(&in[2]));
    return pml_check_same_size(c, &in[0], out, 0);
}

void pml_signal_pcan_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const pml_signal_pcan_params_t *p = (const pml_signal_pcan_params_t *)params;
    (void)n_in;
    pml_signal_pcan((const uint32_t *)in[0].data, (const uint32_t *)in[1].data, (const int16_t *)in[2].data,
                    pml_count(out), p->snr_shift, (uint32_t *)out->data);
}
