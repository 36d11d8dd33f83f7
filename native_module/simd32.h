/* The Armv7E-M DSP extension's SIMD32 instructions the Cortex-M4 kernels use (ACLE intrinsics; inline assembly
 * for the forms gcc 12's arm_acle.h lacks).
 *
 * PML_SIMD32 is 1 where the kernels built on these instructions are compiled: on a core with the DSP extension
 * (__ARM_FEATURE_DSP: the armv7emsp native module), or anywhere with -DPML_SIMD32_PORTABLE, where each
 * instruction is the plain C below with the same results; the host build of that variant lets the tests check
 * the Cortex-M4 code paths byte for byte against the reference without an emulator. */
#ifndef PICOML_SIMD32_H
#define PICOML_SIMD32_H

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP) && !defined(PML_SIMD32_PORTABLE)
#include <arm_acle.h>
#define PML_SIMD32 1

/* (int16)(int8)x[0], (int16)(int8)x[2] in the low and high halves */
static inline uint32_t pml_sxtb16(uint32_t x) { return __sxtb16(x); }
/* (int16)(int8)x[1], (int16)(int8)x[3] */
static inline uint32_t pml_sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* acc + lo(a) * lo(b) + hi(a) * hi(b), the halves signed 16-bit */
static inline int32_t pml_smlad(uint32_t a, uint32_t b, int32_t acc) { return __smlad(a, b, acc); }
/* acc + lo(a) * lo(b) and acc + hi(a) * hi(b) */
static inline int32_t pml_smlabb(uint32_t a, uint32_t b, int32_t acc) { return __smlabb(a, b, acc); }
static inline int32_t pml_smlatt(uint32_t a, uint32_t b, int32_t acc) { return __smlatt(a, b, acc); }
/* acc + lo(a) * hi(b), acc + hi(a) * lo(b) */
static inline int32_t pml_smlabt(uint32_t a, uint32_t b, int32_t acc) { return __smlabt(a, b, acc); }
static inline int32_t pml_smlatb(uint32_t a, uint32_t b, int32_t acc) { return __smlatb(a, b, acc); }
/* PKHBT a, b, LSL #16: lo(a) with lo(b) above it; PKHTB a, b, ASR #16: hi(b) with hi(a) above it */
static inline uint32_t pml_pkhbt(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t pml_pkhtb(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* x clamped to [-128, 127] (SSAT #8) */
static inline int32_t pml_ssat8(int32_t x) { return __ssat(x, 8); }
/* products of halves: SMUSD lo*lo - hi*hi, SMUADX lo(a)*hi(b) + hi(a)*lo(b), SMULBB lo*lo, SMULTB hi(a)*lo(b) */
static inline int32_t pml_smusd(uint32_t a, uint32_t b) { return __smusd(a, b); }
static inline int32_t pml_smuadx(uint32_t a, uint32_t b) { return __smuadx(a, b); }
static inline int32_t pml_smulbb(uint32_t a, uint32_t b) {
    int32_t r;
    __asm__("smulbb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline int32_t pml_smultb(uint32_t a, uint32_t b) {
    int32_t r;
    __asm__("smultb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* halfwise modulo 2^16: SADD16 a + b, SSUB16 a - b, SASX [lo(a) - hi(b), hi(a) + lo(b)],
 * SSAX [lo(a) + hi(b), hi(a) - lo(b)] */
static inline uint32_t pml_sadd16(uint32_t a, uint32_t b) { return (uint32_t)__sadd16(a, b); }
static inline uint32_t pml_ssub16(uint32_t a, uint32_t b) { return (uint32_t)__ssub16(a, b); }
static inline uint32_t pml_sasx(uint32_t a, uint32_t b) { return (uint32_t)__sasx(a, b); }
static inline uint32_t pml_ssax(uint32_t a, uint32_t b) { return (uint32_t)__ssax(a, b); }
/* SMMLAR: acc + the high word of a * b rounded (a * b + 2^31, shifted right by 32) */
static inline int32_t pml_smmlar(int32_t a, int32_t b, int32_t acc) {
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* added for the audio front-end (fft.c, window.c, energy.c):
 * SMUAD lo*lo + hi*hi (a sum of 2^31 wraps to 0x80000000), SMULTT hi*hi, SMLSD acc + lo*lo - hi*hi,
 * SMLADX acc + lo(a)*hi(b) + hi(a)*lo(b) (each modulo 2^32) */
static inline int32_t pml_smuad(uint32_t a, uint32_t b) { return __smuad(a, b); }
static inline int32_t pml_smultt(uint32_t a, uint32_t b) {
    int32_t r;
    __asm__("smultt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline int32_t pml_smlsd(uint32_t a, uint32_t b, int32_t acc) { return __smlsd(a, b, acc); }
static inline int32_t pml_smladx(uint32_t a, uint32_t b, int32_t acc) { return __smladx(a, b, acc); }
/* halving halfwise sums: SHADD16 (a + b) >> 1, SHSUB16 (a - b) >> 1, each half without overflow */
static inline uint32_t pml_shadd16(uint32_t a, uint32_t b) { return (uint32_t)__shadd16(a, b); }
static inline uint32_t pml_shsub16(uint32_t a, uint32_t b) { return (uint32_t)__shsub16(a, b); }
/* PKHTB a, b, ASR #15: hi(a) with bits 15..30 of b below it */
static inline uint32_t pml_pkhtb15(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #15" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* x clamped to [-32768, 32767] (SSAT #16) */
static inline int32_t pml_sat16(int32_t x) { return __ssat(x, 16); }
/* PKHBT a, b (no shift): lo(a) with hi(b) above it */
static inline uint32_t pml_pkhbt0(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* SXTAB16: acc + (int8)x[0], (int8)x[2] halfwise (modulo 2^16); _ror8: + x[1], x[3] */
static inline uint32_t pml_sxtab16(uint32_t acc, uint32_t x) { return __sxtab16(acc, x); }
static inline uint32_t pml_sxtab16_ror8(uint32_t acc, uint32_t x) {
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
/* halfwise signed maximum and minimum (SSUB16 then SEL on its GE flags, one asm statement) */
static inline uint32_t pml_max16x2(uint32_t a, uint32_t b) {
    uint32_t r, t;
    __asm__("ssub16 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t pml_min16x2(uint32_t a, uint32_t b) {
    uint32_t r, t;
    __asm__("ssub16 %1, %2, %3\n\tsel %0, %3, %2" : "=r"(r), "=&r"(t) : "r"(a), "r"(b));
    return r;
}

#elif defined(PML_SIMD32_PORTABLE)
#define PML_SIMD32 1

static inline int32_t pml_lo16(uint32_t x) { return (int16_t)(x & 0xffffu); }
static inline int32_t pml_hi16(uint32_t x) { return (int16_t)(x >> 16); }
static inline uint32_t pml_pack16(int32_t lo, int32_t hi) { return ((uint32_t)hi << 16) | ((uint32_t)lo & 0xffffu); }

static inline uint32_t pml_sxtb16(uint32_t x) { return pml_pack16((int8_t)(x & 0xffu), (int8_t)((x >> 16) & 0xffu)); }
static inline uint32_t pml_sxtb16_ror8(uint32_t x) { return pml_sxtb16((x >> 8) | (x << 24)); }
/* the sum wraps modulo 2^32 (SMLAD sets the Q flag instead of failing) */
static inline int32_t pml_smlad(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_lo16(a) * pml_lo16(b)) + (uint32_t)(pml_hi16(a) * pml_hi16(b)));
}
static inline int32_t pml_smlabb(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_lo16(a) * pml_lo16(b)));
}
static inline int32_t pml_smlatt(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_hi16(a) * pml_hi16(b)));
}
static inline int32_t pml_smlabt(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_lo16(a) * pml_hi16(b)));
}
static inline int32_t pml_smlatb(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_hi16(a) * pml_lo16(b)));
}
static inline uint32_t pml_pkhbt(uint32_t a, uint32_t b) { return (a & 0xffffu) | (b << 16); }
static inline uint32_t pml_pkhtb(uint32_t a, uint32_t b) { return (a & 0xffff0000u) | (b >> 16); }
static inline int32_t pml_ssat8(int32_t x) { return x < -128 ? -128 : x > 127 ? 127 : x; }
static inline int32_t pml_smmlar(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)a * b + 0x80000000) >> 32));
}
static inline int32_t pml_smusd(uint32_t a, uint32_t b) {
    return (int32_t)((uint32_t)(pml_lo16(a) * pml_lo16(b)) - (uint32_t)(pml_hi16(a) * pml_hi16(b)));
}
static inline int32_t pml_smuadx(uint32_t a, uint32_t b) {
    return (int32_t)((uint32_t)(pml_lo16(a) * pml_hi16(b)) + (uint32_t)(pml_hi16(a) * pml_lo16(b)));
}
static inline int32_t pml_smulbb(uint32_t a, uint32_t b) { return pml_lo16(a) * pml_lo16(b); }
static inline int32_t pml_smultb(uint32_t a, uint32_t b) { return pml_hi16(a) * pml_lo16(b); }
static inline uint32_t pml_sadd16(uint32_t a, uint32_t b) { return pml_pack16(pml_lo16(a) + pml_lo16(b), pml_hi16(a) + pml_hi16(b)); }
static inline uint32_t pml_ssub16(uint32_t a, uint32_t b) { return pml_pack16(pml_lo16(a) - pml_lo16(b), pml_hi16(a) - pml_hi16(b)); }
static inline uint32_t pml_sasx(uint32_t a, uint32_t b) { return pml_pack16(pml_lo16(a) - pml_hi16(b), pml_hi16(a) + pml_lo16(b)); }
static inline uint32_t pml_ssax(uint32_t a, uint32_t b) { return pml_pack16(pml_lo16(a) + pml_hi16(b), pml_hi16(a) - pml_lo16(b)); }
static inline int32_t pml_smuad(uint32_t a, uint32_t b) {
    return (int32_t)((uint32_t)(pml_lo16(a) * pml_lo16(b)) + (uint32_t)(pml_hi16(a) * pml_hi16(b)));
}
static inline int32_t pml_smultt(uint32_t a, uint32_t b) { return pml_hi16(a) * pml_hi16(b); }
static inline int32_t pml_smlsd(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_lo16(a) * pml_lo16(b)) - (uint32_t)(pml_hi16(a) * pml_hi16(b)));
}
static inline int32_t pml_smladx(uint32_t a, uint32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(pml_lo16(a) * pml_hi16(b)) + (uint32_t)(pml_hi16(a) * pml_lo16(b)));
}
static inline uint32_t pml_shadd16(uint32_t a, uint32_t b) { return pml_pack16((pml_lo16(a) + pml_lo16(b)) >> 1, (pml_hi16(a) + pml_hi16(b)) >> 1); }
static inline uint32_t pml_shsub16(uint32_t a, uint32_t b) { return pml_pack16((pml_lo16(a) - pml_lo16(b)) >> 1, (pml_hi16(a) - pml_hi16(b)) >> 1); }
static inline uint32_t pml_pkhtb15(uint32_t a, uint32_t b) { return (a & 0xffff0000u) | (((uint32_t)((int32_t)b >> 15)) & 0xffffu); }
static inline int32_t pml_sat16(int32_t x) { return x < -32768 ? -32768 : x > 32767 ? 32767 : x; }
static inline uint32_t pml_pkhbt0(uint32_t a, uint32_t b) { return (a & 0xffffu) | (b & 0xffff0000u); }
static inline uint32_t pml_sxtab16(uint32_t acc, uint32_t x) { return pml_sadd16(acc, pml_sxtb16(x)); }
static inline uint32_t pml_sxtab16_ror8(uint32_t acc, uint32_t x) { return pml_sadd16(acc, pml_sxtb16_ror8(x)); }
static inline uint32_t pml_max16x2(uint32_t a, uint32_t b) {
    return pml_pack16(pml_lo16(a) > pml_lo16(b) ? pml_lo16(a) : pml_lo16(b), pml_hi16(a) > pml_hi16(b) ? pml_hi16(a) : pml_hi16(b));
}
static inline uint32_t pml_min16x2(uint32_t a, uint32_t b) {
    return pml_pack16(pml_lo16(a) < pml_lo16(b) ? pml_lo16(a) : pml_lo16(b), pml_hi16(a) < pml_hi16(b) ? pml_hi16(a) : pml_hi16(b));
}

#else
#define PML_SIMD32 0
#endif

#if PML_SIMD32
/* four int8 at p, any alignment (one LDR on the Cortex-M4) */
static inline uint32_t pml_load32(const int8_t *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* the last n (1..3) bytes of a row at p, zeros above: no read past the row */
static inline uint32_t pml_load_tail(const int8_t *p, int32_t n) {
    uint32_t v = 0;
    for (int32_t i = n - 1; i >= 0; i--) {
        v = (v << 8) | (uint8_t)p[i];
    }
    return v;
}
#endif

#endif
