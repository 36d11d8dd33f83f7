/* SignalEnergy: the power of each complex spectrum value in a band (TFLite Micro's Signal library). */
#include "check.h"
#include "signal.h"
#include "simd32.h"

void pml_signal_energy(const int16_t *spectrum, int32_t n, int32_t start, int32_t end, uint32_t *y) {
    int32_t i = 0;
    for (; i < start; i++) {
        y[i] = 0;
    }
#if PML_SIMD32
    if ((((uintptr_t)spectrum | (uintptr_t)y) & 3u) == 0) {
        /* four complex values a step, one word each (the arena's tensors are word aligned) */
        const uint32_t *s = (const uint32_t *)(const void *)spectrum;
        for (; i + 4 <= end; i += 4) {
            const uint32_t a = s[i], b = s[i + 1], c = s[i + 2], d = s[i + 3];
            y[i] = (uint32_t)pml_smuad(a, a);
            y[i + 1] = (uint32_t)pml_smuad(b, b);
            y[i + 2] = (uint32_t)pml_smuad(c, c);
            y[i + 3] = (uint32_t)pml_smuad(d, d);
        }
    }
    for (; i + 2 <= end; i += 2) {
        uint32_t c, d;
        __builtin_memcpy(&c, spectrum + 2 * i, 4);
        __builtin_memcpy(&d, spectrum + 2 * i + 2, 4);
        y[i] = (uint32_t)pml_smuad(c, c);
        y[i + 1] = (uint32_t)pml_smuad(d, d);
    }
#endif
    for (; i < end; i++) {
#if PML_SIMD32
        /* SMUAD: re * re + im * im, a sum of 2^31 (both -32768) wrapping to 0x80000000 as the unsigned sum */
        uint32_t c;
        __builtin_memcpy(&c, spectrum + 2 * i, 4);
        y[i] = (uint32_t)pml_smuad(c, c);
#else
        const int32_t re = spectrum[2 * i], im = spectrum[2 * i + 1];
        /* each square is at most 2^30; their sum may reach 2^31, so it is taken unsigned */
        y[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
#endif
    }
    for (; i < n; i++) {
        y[i] = 0;
    }
}

/* The op SIGNAL_ENERGY. Once at load, after the operand types (int16 in, uint32 out) and the indices' ranges (0
 * or more): start_index <= end_index <= the output's size, two input values (one complex) per output value. */
PML_COLD int pml_signal_energy_check(const void *params, const pml_operand_t *in, const pml_operand_t *out,
                                     pml_check_t *c) {
    const pml_signal_energy_params_t *p = (const pml_signal_energy_params_t *)params;
    const int32_t n = pml_count(out);
    PML_NEED(c, p->start_index <= p->end_index && p->end_index <= n, PML_R_ENERGY_RANGE, p->end_index);
    PML_NEED(c, pml_count(&in[0]) == 2 * (int64_t)n, PML_R_ENERGY_SIZE, pml_count(&in[0]));
    c->work = n;
    return PML_OK;
}

void pml_signal_energy_s8(const void *params, const pml_operand_t *in, int n_in, const pml_operand_t *out, void *scratch) {
    const pml_signal_energy_params_t *p = (const pml_signal_energy_params_t *)params;
    (void)n_in;
    pml_signal_energy((const int16_t *)in[0].data, pml_count(out), p->start_index, p->end_index,
                      (uint32_t *)out->data);
}
