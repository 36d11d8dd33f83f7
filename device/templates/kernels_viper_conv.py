# picoml.kernels_viper_conv: CONV_2D and FULLY_CONNECTED in viper code, imported by picoml.kernels_viper.kernel() for
# a model with one of them (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython

from .kernels_viper import (_EXT, _conv_operands, _fallback, _folded_bias, _in_int32, _kp, _out_range, _quant, _run,
                            _runs, _scratch_bytes, _words)


# ---------------------------------------------------------------------------------------------------------
# CONV_2D: per output pixel, the window is gathered into `patch` as offset-binary bytes p = x + 128 (the
# padding as the input zero point + 128), so the MAC loop is one flat loop over kh*kw*c, unrolled by 8, of
# p * (filter byte ^ 0x80) = (x + 128) * (w + 128): sum(x * w) = that - 128 * sum(p) - 128 * sum(w), the first
# taken once per pixel (psum), the second folded into the bias (bz) at load.
# g = (x_off, N, H, W, C, f_off, KH, KW, OC, out_off, OH, OW, stride_h, stride_w, dilation_h, dilation_w,
#      pad_top, pad_left, pad_byte, output_offset, lo, hi, act_min, act_max, q_step)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _conv_core(fk: int):
    pp = 0
    acc = 0
    g = ptr32(fk)                # _words: the geometry, then the buffers' addresses
    #: conv_geometry
    wb = 25
    #: conv_buffers
    p = ptr8(scr)
    K = KH * KW * C
    pa = int(p)                 # the patch's address
    pe8 = pa + K - (K & 7)
    pe = pa + K
    fa = int(f) + fo            # the filter's
    row = W * C
    kwc = KW * C
    for b in range(N):
        xn = xo + b * H * row
        for oy in range(OH):
            iy0 = oy * sh - pt
            for ox in range(OW):
                ix0 = ox * sw - pl
                j = 0
                psum = 0
                iy = iy0
                for ky in range(KH):
                    if iy >= 0 and iy < H:
                        rb = xn + iy * row
                        ix = ix0
                        for kx in range(KW):
                            if ix >= 0 and ix < W:
                                s = rb + ix * C
                                for c in range(C):
                                    u = x[s + c] ^ 0x80
                                    p[j] = u
                                    psum += u
                                    j += 1
                            else:
                                for c in range(C):
                                    p[j] = zq
                                    j += 1
                                psum += zq * C
                            ix += dw
                    else:
                        for c in range(kwc):
                            p[j] = zq
                            j += 1
                        psum += zq * kwc
                    iy += dh
                psum = psum << 7
                fk = fa
                r = int(q)
                for oc in range(OC):
                    # sum of patch * (filter + 128), unrolled by 8, walking addresses (pp in the patch, fk
                    # in the filter: constant offsets from a pointer are the cheapest loads viper emits);
                    # bz and psum take the two offsets out
                    acc = bz[oc] - psum
                    #: patch_dot
                    #: requantize
                    #: clamp
                    out += 1
                    r += qstep


def prepare_conv_2d(p, inputs, outputs, ctx):
    OC, KH, KW = inputs[1].shape[0], inputs[1].shape[1], inputs[1].shape[2]
    x, f, out, zp, q, qstep, lo, hi, ok = _conv_operands(p, inputs, outputs, OC)
    if not ok:
        return _fallback(_runs().run_conv_2d, _kp("conv").prepare_conv_2d(p, inputs, outputs, ctx))
    N, H, W, C = x.shape
    K = KH * KW * C
    bz = _folded_bias(f.buf, f.off, OC, K, 1, K, inputs[2].ints(), -128)
    g = (x.off, N, H, W, C, f.off, KH, KW, OC, out.off, out.shape[1], out.shape[2]) + tuple(p[:6]) + (
        zp + 128, p[7], lo, hi, p[8], p[9], qstep)
    return (_conv_core,) + _words(g, (x.buf, f.buf, out.buf, bz, q, _scratch_bytes(ctx, K)))


# ---------------------------------------------------------------------------------------------------------
# FULLY_CONNECTED: CONV_2D's core, each input row a 1x1 image of `depth` channels (no padding, so the pad byte is
# never read), each unit a 1x1 filter.
# ---------------------------------------------------------------------------------------------------------

def prepare_fully_connected(p, inputs, outputs, ctx):
    x, w, out = inputs[0], inputs[1], outputs[0]
    U, D = w.shape
    ooff, amin, amax = p
    q, qstep = _quant(inputs, U)
    lo, hi = _out_range(ooff, amin, amax)
    if q is None or not _in_int32(lo, hi):
        return _fallback(_runs().run_fully_connected, _kp("conv").prepare_fully_connected(p, inputs, outputs, ctx))
    bz = _folded_bias(w.buf, w.off, U, D, 1, D, inputs[2].ints(), -128)
    g = (x.off, x.size // D, 1, 1, D, w.off, 1, 1, U, out.off, 1, 1, 1, 1, 1, 1, 0, 0, 128, ooff, lo, hi, amin,
         amax, qstep)
    return (_conv_core,) + _words(g, (x.buf, w.buf, out.buf, bz, q, _scratch_bytes(ctx, D)))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_CONV_2D: (prepare_conv_2d, _run),
    _ops.OP_FULLY_CONNECTED: (prepare_fully_connected, _run),
}
del _ops
