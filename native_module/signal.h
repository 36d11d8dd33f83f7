/* The audio front-end's signal processing (TFLite Micro's Signal library, micro_speech) as plain C functions over
 * pointers, sizes and explicit options: what the .pml ops SIGNAL_* run (one family per file: window.c, fft.c,
 * energy.c, filter_bank.c, spectral_subtraction.c, pcan.c). No MicroPython and no .pml format here. The
 * fixed-point arithmetic is TFLite Micro's, wraparounds included, so the outputs are its bytes.
 *
 * 64-bit arithmetic stays inline on every target: Cortex-M0 has no 32 x 32 -> 64 multiply and gcc calls libgcc
 * for it and for variable 64-bit shifts, which a native module cannot link (fixedpoint.h, PML_NO_LIBGCC). */
#ifndef PICOML_SIGNAL_H
#define PICOML_SIGNAL_H

#include <stdint.h>

#include "fixedpoint.h"

/* The number of significant bits of x (1 for 1, 32 for 2^31), and 32 for 0: TFLite Micro's MostSignificantBit32
 * as gcc builds it (a count-leading-zeros that is 32 for 0). */
static inline int32_t pml_msb32(uint32_t x) {
    if (x == 0) {
        return 32;
    }
#if (defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__) || defined(__x86_64__)) && !defined(PML_NO_LIBGCC)
    return 32 - __builtin_clz(x);       /* CLZ (Armv7-M), BSR/LZCNT (x64): no library call */
#else
    int32_t n = 0;
    if (x >= 0x10000u) { n += 16; x >>= 16; }
    if (x >= 0x100u) { n += 8; x >>= 8; }
    if (x >= 0x10u) { n += 4; x >>= 4; }
    if (x >= 0x4u) { n += 2; x >>= 2; }
    if (x >= 0x2u) { n += 1; x >>= 1; }
    return n + (int32_t)x;
#endif
}

/* The unsigned 64-bit product of two uint32 (from four 16 x 16 -> 32 products without libgcc). */
static inline uint64_t pml_mul_u64(uint32_t a, uint32_t b) {
#if defined(PML_NO_LIBGCC)
    const uint32_t ah = a >> 16, bh = b >> 16, al = a & 0xffffu, bl = b & 0xffffu;
    return ((uint64_t)(ah * bh) << 32) + ((uint64_t)(ah * bl) << 16) + ((uint64_t)(al * bh) << 16)
        + (uint64_t)(al * bl);
#else
    return (uint64_t)a * b;
#endif
}

/* x >> n for n in [0, 63], from 32-bit halves without libgcc. */
static inline uint64_t pml_shr_u64(uint64_t x, int32_t n) {
#if defined(PML_NO_LIBGCC)
    uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32);
    if (n >= 32) {
        lo = hi >> (n - 32);
        hi = 0;
    } else if (n > 0) {
        lo = (lo >> n) | (hi << (32 - n));
        hi >>= n;
    }
    return ((uint64_t)hi << 32) | lo;
#else
    return x >> n;
#endif
}

/* 1 << n for n in [0, 63], without libgcc. */
static inline uint64_t pml_bit_u64(int32_t n) {
    return n >= 32 ? (uint64_t)((uint32_t)1 << (n - 32)) << 32 : (uint64_t)((uint32_t)1 << n);
}

/* SignalWindow: y[i] = x[i] * w[i] >> shift, saturated to int16 (shift in [0, 31]). */
void pml_signal_window(const int16_t *x, const int16_t *w, int32_t n, int32_t shift, int16_t *y);

/* SignalFftAutoScale: y = x shifted left by the bits that bring its largest magnitude to the top of int16
 * (TFLite Micro's MaxAbs16 and its int16 wraparounds kept); returns the shift. y may be x. */
int32_t pml_signal_fft_auto_scale(const int16_t *x, int32_t n, int16_t *y);

/* SignalRfft, int16: the real FFT of fft_length points of x (n_in <= fft_length values, zero-padded) as KISS FFT
 * computes it in 16-bit fixed point (a complex FFT of half the length in radix-4 stages and a last radix-2 stage
 * when needed, every stage scaled down by its radix, then the real-FFT split), into y: fft_length / 2 + 1
 * complex values as (real, imaginary) int16 pairs. fft_length a power of two >= 4. twiddles: fft_length / 2
 * complex int16, round(32767 * e^(-2 pi i k / (fft_length / 2))); super_twiddles: fft_length / 4 complex int16,
 * round(32767 * e^(-i pi ((k + 1) / (fft_length / 2) + 1 / 2))) (rounded as floor(x + 0.5), computed on the host
 * in double precision, as KISS FFT's setup does). y is also the work area: it must not overlap x. */
void pml_signal_rfft_q15(const int16_t *x, int32_t n_in, int32_t fft_length, const int16_t *twiddles,
                         const int16_t *super_twiddles, int16_t *y);

/* SignalEnergy: y[i] = re^2 + im^2 of the complex spectrum value i (int16 pairs), for start <= i < end; the
 * other values of y (n of them in all) are set to 0. */
void pml_signal_energy(const int16_t *spectrum, int32_t n, int32_t start, int32_t end, uint32_t *y);

/* SignalFilterBank: the triangular filter bank of n_channels channels over the power spectrum x. Channel c
 * (0 <= c <= n_channels; c = 0 only feeds the next) adds weights[weight_starts[c] + j] * x[freq_starts[c] + j]
 * for j < widths[c], and passes the same sum with unweights to channel c + 1; y[c - 1] is channel c's sum, in
 * 64 bits with TFLite Micro's wraparound. uint64 values are pairs of uint32 words, low word first (an arena
 * offset is 4-aligned only). */
void pml_signal_filter_bank(const uint32_t *x, const int16_t *weights, const int16_t *unweights,
                            const int16_t *freq_starts, const int16_t *weight_starts, const int16_t *widths,
                            int32_t n_channels, uint32_t *y);

/* SignalFilterBankSquareRoot: y[i] = isqrt(x[i]) (TFLite Micro's rounding) >> shift, x uint64 as word pairs;
 * shift (a value computed at run time, FFT auto-scale's) is clamped to [0, 31]. */
void pml_signal_filter_bank_sqrt(const uint32_t *x, int32_t n, int32_t shift, uint32_t *y);

/* SignalFilterBankSpectralSubtraction's options (TFLite Micro's SpectralSubtractionConfig). */
typedef struct {
    uint32_t smoothing, one_minus_smoothing, alternate_smoothing, alternate_one_minus_smoothing;
    uint32_t min_signal_remaining;
    int32_t smoothing_bits, spectral_subtraction_bits;  /* in [0, 31] and [0, 63] */
    int32_t clamping;
} pml_spectral_subtraction_t;

/* SignalFilterBankSpectralSubtraction: y = x less its running noise estimate (kept in `noise`, n values, the
 * state carried from call to call; 0 after a reset), at least x * min_signal_remaining. */
void pml_signal_spectral_subtraction(const pml_spectral_subtraction_t *o, const uint32_t *x, int32_t n,
                                     uint32_t *noise, uint32_t *y);

/* SignalPCAN: per-channel automatic gain control, y[i] = shrink(x[i] * gain(noise[i]) >> snr_shift), the gain
 * from the piecewise-polynomial table lut (4 int16 per octave of the noise, after 3 values for 0, 1, 2). y may
 * be x. */
void pml_signal_pcan(const uint32_t *x, const uint32_t *noise, const int16_t *lut, int32_t n, int32_t snr_shift,
                     uint32_t *y);

/* SignalFilterBankLog: y[i] = output_scale * ln(x[i] << correction_bits) in TFLite Micro's fixed point,
 * saturated to int16 (0 where the shifted input is 0 or 1). */
void pml_signal_filter_bank_log(const uint32_t *x, int32_t n, int32_t output_scale, int32_t correction_bits,
                                int16_t *y);

#endif
