/* RESIZE_BILINEAR, int8 (TFLite Micro's ResizeBilinearInteger): per output row and column the two nearest input
 * positions and the distance past the first in 1/1024ths (the scales in 1/1024ths, rounded), the four products
 * summed in 1/2^20ths and rounded half away from zero, on the raw int8 values. Sizes up to 32767 (the check) keep
 * every value inside int32: a scaled position below 2^25, a product of a value and two weights within 2^29. Only
 * in the full module (native_module/Makefile's PML_FULL_ONLY_FILES). */
#include "check.h"
#include "picoml.h"

PML_COLD int pml_resize_bilinear_check(const void *params, const pml_operand_t *inputs, const pml_operand_t *output,
                                       pml_check_t *c) {
    const pml_operand_t *x = &inputs[0];
    (void)params;
    PML_NEED(c, pml_dim(output, 0) == pml_dim(x, 0), PML_R_BATCH, pml_dim(output, 0));
    PML_NEED(c, pml_dim(output, 3) == pml_dim(x, 3), PML_R_POOL_CHANNELS, pml_dim(output, 3));
    const int32_t sizes[4] = {pml_dim(x, 1), pml_dim(x, 2), pml_dim(output, 1), pml_dim(output, 2)};
    for (int i = 0; i < 4; i++) {
        PML_NEED(c, sizes[i] <= 32767, PML_R_RESIZE_SIZE, sizes[i]);
    }
    c->work = pml_work_mul(pml_count(output), 4);
    return PML_OK;
}

/* C's a / 2^shift, truncating toward zero */
static int32_t toward_zero(int32_t a, int shift) {
    return a < 0 ? -(-a >> shift) : a >> shift;
}

typedef struct {
    int32_t scale, half;    /* the step between output positions in 1/1024ths of an input position; half pixels */
    int32_t last;           /* the input's last position */
} axis_t;

static void axis_init(axis_t *a, int32_t out, int32_t in, int32_t align, int32_t half) {
    a->scale = (int32_t)pml_udiv((uint32_t)((in << 10) + (out >> 1)), (uint32_t)out);
    if (align && out > 1) {
        a->scale = (int32_t)pml_udiv((uint32_t)(((in - 1) << 10) + ((out - 1) >> 1)), (uint32_t)(out - 1));
    }
    a->half = half;
    a->last = in - 1;
}

/* Output position v's first and second input positions and its distance past the first, in 1/1024ths (the first
 * kept inside the input: TFLite Micro reads past it for some sizes, which the converter refuses) */
static int32_t axis_at(const axis_t *a, int32_t v, int32_t *first, int32_t *second) {
    const int32_t scaled = v * a->scale + (a->half ? (a->scale >> 1) - (1 << 9) : 0);
    int32_t f = toward_zero(scaled, 10), s = toward_zero(scaled + (1 << 10) - 1, 10);
    f = f < 0 ? 0 : (f > a->last ? a->last : f);
    *first = f;
    *second = s > a->last ? a->last : s;
    return scaled - (f << 10);
}

void pml_resize_bilinear_s8(const void *params, const pml_operand_t *inputs, int n_inputs,
                            const pml_operand_t *output, void *scratch) {
    const pml_resize_bilinear_params_t *p = (const pml_resize_bilinear_params_t *)params;
    (void)n_inputs;
    (void)scratch;
    const int32_t batches = pml_dim(output, 0), oh = pml_dim(output, 1), ow = pml_dim(output, 2);
    const int32_t h = pml_dim(&inputs[0], 1), w = pml_dim(&inputs[0], 2), depth = pml_dim(output, 3);
    axis_t ay, ax;
    axis_init(&ay, oh, h, p->align_corners, p->half_pixel_centers);
    axis_init(&ax, ow, w, p->align_corners, p->half_pixel_centers);
    const int8_t *image = (const int8_t *)inputs[0].data;
    int8_t *out = (int8_t *)output->data;
    for (int32_t b = 0; b < batches; b++, image += h * w * depth) {
        for (int32_t y = 0; y < oh; y++) {
            int32_t y0, y1;
            const int32_t fy = axis_at(&ay, y, &y0, &y1);
            const int8_t *row0 = image + y0 * w * depth, *row1 = image + y1 * w * depth;
            for (int32_t x = 0; x < ow; x++) {
                int32_t x0, x1;
                const int32_t fx = axis_at(&ax, x, &x0, &x1);
                const int32_t w00 = ((1 << 10) - fy) * ((1 << 10) - fx), w10 = fy * ((1 << 10) - fx);
                const int32_t w01 = ((1 << 10) - fy) * fx, w11 = fy * fx;
                const int8_t *p00 = row0 + x0 * depth, *p10 = row1 + x0 * depth;
                const int8_t *p01 = row0 + x1 * depth, *p11 = row1 + x1 * depth;
                for (int32_t c = 0; c < depth; c++) {
                    int32_t total = p00[c] * w00 + p10[c] * w10 + p01[c] * w01 + p11[c] * w11;
                    total += total > 0 ? (1 << 19) : -(1 << 19);
                    *out++ = (int8_t)toward_zero(total, 20);
                }
            }
        }
    }
}
