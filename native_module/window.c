/* SignalWindow: the frame times a window, int16 (TFLite Micro's Signal library, micro_speech's front-end). */
#include "check.h"
#include "signal.h"
#include "simd32.h"

void pml_signal_window(const int16_t *x, const int16_t *w, int32_t n, int32_t shift, int16_t *y) {
    int32_t i = 0;
#if PML_SIMD32
    /* two values a word: SMULBB/SMULTT, each shifted and saturated (SSAT #16), packed (PKHBT); two words a step */
    for (; i + 4 <= n; i += 4) {
        uint32_t a, b, c, d;
        __builtin_memcpy(&a, x + i, 4);
        __builtin_memcpy(&c, x + i + 2, 4);
        __builtin_memcpy(&b, w + i, 4);
        __builtin_memcpy(&d, w + i + 2, 4);
        const uint32_t v = pml_pkhbt((uint32_t)pml_sat16(pml_smulbb(a, b) >> shift),
                                     (uint32_t)pml_sat16(pml_smultt(a, b) >> shift));
        const uint32_t u = pml_pkhbt((uint32_t)pml_sat16(pml_smulbb(c, d) >> shift),
                                     (uint32_t)pml_sat16(pml_smultt(c, d) >> shift));
        __builtin_memcpy(y + i, &v, 4);
        __builtin_memcpy(y + i + 2, &u, 4);
    }
#endif
    for (; i < n; i++) {
        const int32_t v = ((int32_t)x[i] * w[i]) >> shift;
        y[i] = (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
    }
}

/* The op SIGNAL_WINDOW: the window applied to each window-sized run of the input. Once at load, after the operand
 * types (int16, the window a constant) and the shift's range (0..31): the input's size a multiple of the window's,
 * the output the input's size. */
PML_COLD int pml_signal_window_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                     pml_check_t *c) {
    (void)params;
    const int32_t n = pml_count(&in[0]), w = pml_count(&in[1]);
    PML_NEED(c, pml_mul_s64((int32_t)pml_udiv((uint32_t)n, (uint32_t)w), w) == n, PML_R_WINDOW_SIZE, n);
    return pml_check_same_size(c, &in[0], out, 0);
}

void pml_signal_window_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const pml_signal_window_params_t *p = (const pml_signal_window_params_t *)params;
    const int32_t n = pml_count(&in[0]), w = pml_count(&in[1]);
    (void)n_in;
    for (int32_t i = 0; i < n; i += w) {
        pml_signal_window((const int16_t *)in[0].data + i, (const int16_t *)in[1].data, w, p->shift,
                          (int16_t *)out->data + i);
    }
}
