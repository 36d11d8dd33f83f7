# picoml.kernels_viper_depthwise: DEPTHWISE_CONV_2D in viper code, imported by picoml.kernels_viper.kernel() for a
# model with one (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython

from .kernels_viper import _EXT, _conv_operands, _fallback, _folded_bias, _kp, _run, _runs


# ---------------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D: per output pixel the taps inside the input form a rectangle [ky0, ky1) x [kx0, kx1);
# acc = bias + zp * sum(filter[:, oc]) + sum over those taps of (x - zp) * filter, so the padding costs nothing.
# g = (x_off, N, H, W, C, f_off, KH, KW, OC, out_off, OH, OW, stride_h, stride_w, dilation_h, dilation_w,
#      pad_top, pad_left, zp + 128, output_offset, lo, hi, act_min, act_max, q_step, depth_multiplier)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _depthwise_core(S):
    acc = 0
    xr = 0
    fr = 0
    x = ptr8(S[0])
    f = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    bz = ptr32(S[4])
    q = ptr32(S[5])
    #: conv_geometry
    dm = int(g[25])
    ext = int(_EXT)
    imax = 0x3FFFFFFF
    imax = imax + imax + 1
    row = W * C
    xstep = dw * C
    xstep2 = xstep + xstep
    oc2 = OC + OC
    xrow = dh * row
    fstep = KW * OC
    xa = int(x)             # the input's address
    fa = int(f) + fo        # the filter's
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            ky0 = 0
            if iy0 < 0:
                ky0 = (dh - 1 - iy0) // dh
            ky1 = H - 1 - iy0
            if ky1 < 0:
                ky1 = 0
            else:
                ky1 = ky1 // dh + 1
                if ky1 > KH:
                    ky1 = KH
            for ox in range(OW):
                ix0 = ox * sw - pl
                kx0 = 0
                if ix0 < 0:
                    kx0 = (dw - 1 - ix0) // dw
                kx1 = W - 1 - ix0
                if kx1 < 0:
                    kx1 = 0
                else:
                    kx1 = kx1 // dw + 1
                    if kx1 > KW:
                        kx1 = KW
                # addresses of the first tap inside the input, in the input and in the filter
                x00 = xa + xn + (iy0 + ky0 * dh) * row + (ix0 + kx0 * dw) * C
                f00 = fa + ky0 * fstep + kx0 * OC
                nkx = kx1 - kx0
                oc = 0
                r = 0
                for c in range(C):
                    for mm in range(dm):
                        acc = bz[oc]
                        xr = x00 + c
                        fr = f00 + oc
                        for ky in range(ky0, ky1):
                            if nkx == 3:    # the usual 3-wide window, unrolled
                                xw = ptr8(xr)
                                fw = ptr8(fr)
                                acc += (((xw[0] ^ 0x80) - zq) * ((fw[0] ^ 0x80) - 0x80)
                                        + ((xw[xstep] ^ 0x80) - zq) * ((fw[OC] ^ 0x80) - 0x80)
                                        + ((xw[xstep2] ^ 0x80) - zq) * ((fw[oc2] ^ 0x80) - 0x80))
                            else:
                                xi = xr
                                fi = fr
                                for kx in range(nkx):
                                    acc += ((ptr8(xi)[0] ^ 0x80) - zq) * ((ptr8(fi)[0] ^ 0x80) - 0x80)
                                    xi += xstep
                                    fi += OC
                            xr += xrow
                            fr += fstep
                        #: requantize
                        #: clamp
                        out += 1
                        oc += 1
                        r += qstep


def prepare_depthwise_conv_2d(p, inputs, outputs, ctx):
    st, run = _kp().prepare_depthwise_conv_2d(p, inputs, outputs, ctx), _runs().run_depthwise_conv_2d
    KH, KW, OC = inputs[1].shape[1], inputs[1].shape[2], inputs[1].shape[3]
    x, f, out, zp, q, qstep, lo, hi, ok = _conv_operands(p, inputs, outputs, OC)
    if not ok:
        return _fallback(run, st)
    N, H, W, C = x.shape
    bz = _folded_bias(f.buf, f.off, OC, 1, OC, KH * KW, inputs[2].ints(), zp)
    g = (x.off, N, H, W, C, f.off, KH, KW, OC, out.off, out.shape[1], out.shape[2]) + tuple(p[:6]) + (
        zp + 128, p[7], lo, hi, p[8], p[9], qstep, p[10])
    return (_depthwise_core, (x.buf, f.buf, out.buf, g, bz, q))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_DEPTHWISE_CONV_2D: (prepare_depthwise_conv_2d, _run),
}
del _ops
