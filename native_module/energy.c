/* SignalEnergy: the power of each complex spectrum value in a band (TFLite Micro's Signal library). */
#include "signal.h"

void pml_signal_energy(const int16_t *spectrum, int32_t n, int32_t start, int32_t end, uint32_t *y) {
    for (int32_t i = 0; i < n; i++) {
        if (i < start || i >= end) {
            y[i] = 0;
        } else {
            const int32_t re = spectrum[2 * i], im = spectrum[2 * i + 1];
            /* each square is at most 2^30; their sum may reach 2^31, so it is taken unsigned */
            y[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
        }
    }
}
