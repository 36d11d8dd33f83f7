# picoml.kernels_viper_depthwise: DEPTHWISE_CONV_2D in viper code, imported by picoml.kernels_viper.kernel() for a
# model with one (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython

from .kernels_viper import _EXT, _conv_operands, _fallback, _folded_bias, _kp, _run, _runs, _scratch_bytes, _words


# ---------------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D: one output pixel at a time, its OC sums side by side in `sums` (int32, in the scratch),
# each filter tap added to all of them in one pass over the channels (4 a step when the depth multiplier is 1:
# each input byte and weight at a constant offset from walking addresses). The file's bias already holds
# -zp * sum w (the host folds the input offset in), so TFLite's sum is bias + sum x * w with every tap in the
# padding read as x = zp: such a tap reads `pad`, C bytes of the zero point after the sums. With X = x + 128 (the
# input byte ^ 0x80) that is (bias - 128 * sum w) + sum X * w, the first term made at load (bz). A DS-CNN
# depthwise layer (25x5x64, 3x3) on qemu-xtensa: 6,524,132 -> 4,863,503 instructions against a loop per output
# channel over its taps.
# g = (x_off, N, H, W, C, f_off, KH, KW, OC, out_off, OH, OW, stride_h, stride_w, dilation_h, dilation_w,
#      pad_top, pad_left, zp + 128, output_offset, lo, hi, act_min, act_max, q_step, depth_multiplier)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _depthwise_core(ap: int):
    xp = 0
    fp = 0
    acc = 0
    g = ptr32(ap)                # _words: the geometry, the depth multiplier, then the buffers' addresses
    #: conv_geometry
    dm = int(g[25])
    dm4 = 16 * (dm >> 2)           # the sums of an input channel's depth multiplier taken 4 a step
    wb = 26
    #: conv_buffers
    sums = ptr32(scr)
    pad = ptr8(int(sums) + 4 * OC)
    for c in range(C):
        pad[c] = zq ^ 0x80
    row = W * C
    xa = int(x) + xo        # the input's address
    fa = int(f) + fo        # the filter's
    pada = int(pad)
    sa = int(sums)
    se = sa + 4 * OC
    se4 = sa + 16 * (OC >> 2)
    for b in range(N):
        xn = xa + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            for ox in range(OW):
                ix0 = ox * sw - pl
                for oc in range(OC):
                    sums[oc] = bz[oc]
                fp = fa
                iy = iy0
                for ky in range(KH):
                    ix = ix0
                    for kx in range(KW):
                        if iy >= 0 and iy < H and ix >= 0 and ix < W:
                            xp = xn + (iy * W + ix) * C
                        else:
                            xp = pada
                        ap = sa
                        if dm == 1:
                            while ap != se4:
                                ptr32(ap)[0] = ((ptr8(fp)[0] ^ 0x80) - 0x80) * (ptr8(xp)[0] ^ 0x80) + ptr32(ap)[0]
                                ptr32(ap)[1] = ((ptr8(fp)[1] ^ 0x80) - 0x80) * (ptr8(xp)[1] ^ 0x80) + ptr32(ap)[1]
                                ptr32(ap)[2] = ((ptr8(fp)[2] ^ 0x80) - 0x80) * (ptr8(xp)[2] ^ 0x80) + ptr32(ap)[2]
                                ptr32(ap)[3] = ((ptr8(fp)[3] ^ 0x80) - 0x80) * (ptr8(xp)[3] ^ 0x80) + ptr32(ap)[3]
                                ap += 16
                                xp += 4
                                fp += 4
                            while ap != se:
                                ptr32(ap)[0] = ((ptr8(fp)[0] ^ 0x80) - 0x80) * (ptr8(xp)[0] ^ 0x80) + ptr32(ap)[0]
                                ap += 4
                                xp += 1
                                fp += 1
                        else:
                            # output channel c * dm + m reads input channel c: its dm sums and weights side by
                            # side, 4 a step
                            while ap != se:
                                u = ptr8(xp)[0] ^ 0x80
                                ae = ap + dm4
                                while ap != ae:
                                    ptr32(ap)[0] = ((ptr8(fp)[0] ^ 0x80) - 0x80) * u + ptr32(ap)[0]
                                    ptr32(ap)[1] = ((ptr8(fp)[1] ^ 0x80) - 0x80) * u + ptr32(ap)[1]
                                    ptr32(ap)[2] = ((ptr8(fp)[2] ^ 0x80) - 0x80) * u + ptr32(ap)[2]
                                    ptr32(ap)[3] = ((ptr8(fp)[3] ^ 0x80) - 0x80) * u + ptr32(ap)[3]
                                    ap += 16
                                    fp += 4
                                ae += 4 * (dm & 3)
                                while ap != ae:
                                    ptr32(ap)[0] = ((ptr8(fp)[0] ^ 0x80) - 0x80) * u + ptr32(ap)[0]
                                    ap += 4
                                    fp += 1
                                xp += 1
                        ix += dw
                    iy += dh
                r = int(q)
                for oc in range(OC):
                    acc = sums[oc]
                    #: requantize
                    #: clamp
                    out += 1
                    r += qstep


def prepare_depthwise_conv_2d(p, inputs, outputs, ctx):
    KH, KW, OC = inputs[1].shape[1], inputs[1].shape[2], inputs[1].shape[3]
    x, f, out, zp, q, qstep, lo, hi, ok = _conv_operands(p, inputs, outputs, OC)
    if not ok:
        return _fallback(_runs().run_depthwise_conv_2d, _kp("conv").prepare_depthwise_conv_2d(p, inputs, outputs, ctx))
    N, H, W, C = x.shape
    bz = _folded_bias(f.buf, f.off, OC, 1, OC, KH * KW, inputs[2].ints(), -128)
    g = (x.off, N, H, W, C, f.off, KH, KW, OC, out.off, out.shape[1], out.shape[2]) + tuple(p[:6]) + (
        zp + 128, p[7], lo, hi, p[8], p[9], qstep, p[10])
    return (_depthwise_core,) + _words(g, (x.buf, f.buf, out.buf, bz, q, _scratch_bytes(ctx, 4 * OC + C)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_DEPTHWISE_CONV_2D: (prepare_depthwise_conv_2d, _run),
}
del _ops
