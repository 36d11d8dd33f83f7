# picoml.prepare_conv: the load-time half of the Python backends (viper and pure Python) for CONV_2D,
# DEPTHWISE_CONV_2D and FULLY_CONNECTED: their prepares, imported by picoml.prepare.family() for a model with one of
# these ops (the kernel interface and the helpers every family shares: picoml.prepare).
from array import array

from .prepare import int32s


# ---------------------------------------------------------------------------------------------------------
# Convolutions and FULLY_CONNECTED. The bias has the input zero point folded in, so the kernels accumulate raw
# int8 products; taps in the padding read as the input zero point (-input_offset).
# ---------------------------------------------------------------------------------------------------------

def _requant_channels(inputs, channels):
    """(bias, multipliers, shifts) as arrays of `channels` values (a per-tensor pair is repeated)."""
    bias_t, mult_t, shift_t = inputs[2], inputs[3], inputs[4]
    wide = int32s(shift_t, channels)
    shifts = array("b", bytes(channels))
    for i in range(channels):
        shifts[i] = wide[i]
    return int32s(bias_t, channels), int32s(mult_t, channels), shifts


def _window_geometry(x, out):
    n, h, w, c = x.shape
    oh, ow, oc = out.shape[1:]
    return n, h, w, c, oh, ow, oc


def prepare_conv_2d(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, filter_buf, filter_off, KH, KW, OC, out_buf, out_off, OH, OW,
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, input_zero_point, bias,
    (multipliers, shifts), act_min, act_max, out_offset, patch): bias and multipliers are array('i'), shifts
    array('b'), one value per output channel; patch is a scratch list of KH * KW * C ints."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    n, h, w, c, oh, ow, oc = _window_geometry(x, out)
    kh, kw = f.shape[1], f.shape[2]
    bias, mults, shifts = _requant_channels(inputs, oc)
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, in_off, out_off, act_min, act_max = p
    patch = ctx.scratch("patch", kh * kw * c)
    return (x.buf, x.off, n, h, w, c, f.buf, f.off, kh, kw, oc, out.buf, out.off, oh, ow,
            stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, -in_off, bias, (mults, shifts),
            act_min, act_max, out_off, patch)


def prepare_depthwise_conv_2d(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, filter_buf, filter_off, KH, KW, OC, out_buf, out_off, OH, OW,
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, input_zero_point, bias,
    (multipliers, shifts), act_min, act_max, out_offset, depth_multiplier, acc): as CONV_2D; acc is a scratch
    list of OC ints."""
    x, f, out = inputs[0], inputs[1], outputs[0]
    n, h, w, c, oh, ow, oc = _window_geometry(x, out)
    dm = p[10]
    kh, kw = f.shape[1], f.shape[2]
    bias, mults, shifts = _requant_channels(inputs, oc)
    stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, in_off, out_off, act_min, act_max = p[:10]
    acc = ctx.scratch("acc", oc)
    return (x.buf, x.off, n, h, w, c, f.buf, f.off, kh, kw, oc, out.buf, out.off, oh, ow,
            stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, -in_off, bias, (mults, shifts),
            act_min, act_max, out_off, dm, acc)


def prepare_fully_connected(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, batches, depth, weights_buf, weights_off, units, out_buf, out_off, bias,
    (multipliers, shifts), output_offset, act_min, act_max, row): as CONV_2D; row is a scratch list of depth
    ints."""
    x, wt, out = inputs[0], inputs[1], outputs[0]
    units, depth = wt.shape
    bias, mults, shifts = _requant_channels(inputs, units)
    out_off, act_min, act_max = p
    row = ctx.scratch("patch", depth)
    return (x.buf, x.off, x.size // depth, depth, wt.buf, wt.off, units, out.buf, out.off, bias, (mults, shifts),
            out_off, act_min, act_max, row)


from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_CONV_2D: prepare_conv_2d,
    _ops.OP_DEPTHWISE_CONV_2D: prepare_depthwise_conv_2d,
    _ops.OP_FULLY_CONNECTED: prepare_fully_connected,
}
del _ops
