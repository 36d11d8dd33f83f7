/* The Armv6-M convolution driver (conv_s8_armv6m.c) that CONV_2D and DEPTHWISE_CONV_2D's depth multipliers > 1
 * (depthwise_conv_s8_armv6m.c: per input channel, a convolution of one input channel into its M output channels)
 * both run. */
#ifndef PICOML_CONV_S8_ARMV6M_H
#define PICOML_CONV_S8_ARMV6M_H

#include "conv_generic.h"
#include "picoml.h"
#include "requantize_channels.h"

#if defined(__ARM_ARCH_6M__) || defined(PML_ARMV6M_PORTABLE)

#define PML_ARMV6M_PATCH_MAX 576    /* patch elements (kh * kw * in_c) of the driver: up to 3x3x64 */
#define PML_ARMV6M_LANE_PATCH 256   /* patches the driver takes with any weights (longer: sum |w| at most 32,767 per
                                     * output channel) */

/* Where the driver reads its constants and writes its outputs (g->out_c channels) */
typedef struct {
    const int8_t *filter;       /* output channel oc's patch element e at filter[oc * f_chan + e * f_elem] */
    int32_t f_chan, f_elem;
    const int32_t *bias;        /* bias[oc] (the input offset folded in: the padding reads as the zero point) */
    const int32_t *multipliers, *shifts;    /* at oc * q_step */
    int32_t q_step;
    int8_t *out;                /* output pixel pix's channel oc at out[pix * out_px + oc] */
    int32_t out_px;
    int32_t whole;              /* every output channel in one block: the outputs may lie behind the input */
} pml_armv6m_conv_t;

/* Bytes of scratch the driver takes for a patch of `patch` elements (at most PML_ARMV6M_PATCH_MAX) and out_c
 * output channels (all in one block when `whole`); a multiple of 4 */
uint32_t pml_armv6m_conv_scratch(int32_t patch, int32_t out_c, int whole);

/* The convolution of g (its patch at most PML_ARMV6M_PATCH_MAX elements) with c's constants into c's outputs; the
 * outputs do not overlap the input, or (c->whole) lie behind it (check.c's behind_gap: each pixel pair's input
 * is read before its outputs are written); scratch word-aligned, pml_armv6m_conv_scratch's bytes. Returns 0, or 1
 * (some outputs written or not; never with c->whole over a patch of at most PML_ARMV6M_LANE_PATCH) for a patch
 * over PML_ARMV6M_LANE_PATCH whose weights are too large. In _picoml_core
 * (PML_WITHOUT_FRONTEND: no depth multipliers, left to _picoml) CONV_2D's alone, static: inlined into its one
 * caller. */
#ifndef PML_WITHOUT_FRONTEND
#define PML_ARMV6M_CONV_LINKAGE
int pml_armv6m_conv(const pml_conv_geometry_t *g, const pml_armv6m_conv_t *c, const out_range_t *range,
                     void *scratch);
#else
#define PML_ARMV6M_CONV_LINKAGE static
#endif

#endif

#endif
