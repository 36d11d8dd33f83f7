/* SignalWindow: the frame times a window, int16 (TFLite Micro's Signal library, micro_speech's front-end). */
#include "signal.h"

void pml_signal_window(const int16_t *x, const int16_t *w, int32_t n, int32_t shift, int16_t *y) {
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = ((int32_t)x[i] * w[i]) >> shift;
        y[i] = (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
    }
}
