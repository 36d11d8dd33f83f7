"""CONV_2D and DEPTHWISE_CONV_2D: lowering (requantization constants per output channel) and numpy reference."""
import copy

import numpy as np

from ..fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32
from .common import activation_range, clamp_int8, output_size, same_padding, window_padding, windows


def channel_multipliers(ctx, op, input_t, filter_t, output_t, channels):
    """(multipliers, shifts) constants of input_scale * filter_scale[c] / output_scale, one pair per channel,
    computed in double as TFLite's PopulateConvolutionQuantizationParams does."""
    scales = filter_t.scales
    if len(scales) not in (1, channels):
        ctx.fail(op, "filter %r has %d scales for %d output channels" % (filter_t.name, len(scales), channels))
    if np.any(filter_t.zero_points != 0):
        ctx.fail(op, "filter %r has a non-zero zero point; int8 filters must be symmetric" % filter_t.name)
    # A per-tensor quantized filter keeps one pair; kernels use pair [c] when there are `channels` of them.
    pairs = [quantize_multiplier(float(input_t.scale) * float(s) / float(output_t.scale)) for s in scales]
    multipliers = np.array([m for m, _ in pairs], np.int32)
    shifts = np.array([s for _, s in pairs], np.int32)
    return ctx.constant(multipliers, filter_t.name + "/multipliers"), ctx.constant(shifts, filter_t.name + "/shifts")


def constant_operands(ctx, op, filter_t, bias_t, output_t, channel_axis, input_t=None):
    """[input, filter, folded bias, multipliers, shifts] of a convolution-like op (its input op.inputs[0] unless
    given)."""
    input_t = op.inputs[0] if input_t is None else input_t
    if filter_t.data is None:
        ctx.fail(op, "the filter is not a constant; picoml needs constant weights")
    if filter_t.dtype != np.int8:
        ctx.fail(op, "filter %r is %s; picoml supports int8 weights" % (filter_t.name, filter_t.type_name))
    channels = filter_t.shape[channel_axis]
    if bias_t is not None and (bias_t.data is None or bias_t.dtype != np.int32 or bias_t.data.size != channels):
        ctx.fail(op, "bias %r must be a constant int32 vector of %d values" % (bias_t.name, channels))
    multipliers, shifts = channel_multipliers(ctx, op, input_t, filter_t, output_t, channels)
    # sum_k f[k] * (x[k] + input_offset) + bias == sum_k f[k] * x[k] + folded_bias, where padding reads as the
    # input's zero point; the same identity holds modulo 2**32, so wrapping int32 sums agree too.
    other_axes = tuple(a for a in range(filter_t.data.ndim) if a != channel_axis)
    folded = filter_t.data.astype(np.int64).sum(axis=other_axes) * -input_t.zero_point
    if bias_t is not None:
        folded += bias_t.data.reshape(-1)
    bias = ctx.constant(wrap_int32(folded).astype(np.int32), (bias_t.name if bias_t else filter_t.name) + "/folded")
    return [ctx.activation(input_t), ctx.activation(filter_t), bias, multipliers, shifts]


def _window_params(ctx, op, input_t, filter_hw, output_t):
    stride = (op.options.get("StrideH", 1), op.options.get("StrideW", 1))
    dilation = (op.options.get("DilationHFactor", 1), op.options.get("DilationWFactor", 1))
    pad_top, pad_left = window_padding(ctx, op, input_t.shape[1:3], filter_hw, stride, dilation, output_t.shape[1:3])
    act_min, act_max = activation_range(ctx, op, output_t)
    return {"stride_h": stride[0], "stride_w": stride[1], "dilation_h": dilation[0], "dilation_w": dilation[1],
            "pad_top": pad_top, "pad_left": pad_left, "input_offset": -input_t.zero_point,
            "output_offset": output_t.zero_point, "act_min": act_min, "act_max": act_max}


def _operands(op):
    return op.inputs[0], op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else None, op.outputs[0]


def _check_4d(ctx, op, *tensors):
    for t in tensors:
        if len(t.shape) != 4:
            ctx.fail(op, "tensor %r has shape %s; this op needs 4-D NHWC tensors" % (t.name, list(t.shape)))


def lower_conv_2d(ctx, op):
    input_t, filter_t, bias_t, output_t = _operands(op)
    _check_4d(ctx, op, input_t, filter_t, output_t)
    if filter_t.shape[3] != input_t.shape[3]:
        ctx.fail(op, "grouped convolution (filter depth %d, input depth %d) is not supported"
                 % (filter_t.shape[3], input_t.shape[3]))
    inputs = constant_operands(ctx, op, filter_t, bias_t, output_t, channel_axis=0)
    params = _window_params(ctx, op, input_t, filter_t.shape[1:3], output_t)
    ctx.emit("CONV_2D", inputs, [ctx.activation(output_t)], params, op)


def lower_depthwise_conv_2d(ctx, op):
    input_t, filter_t, bias_t, output_t = _operands(op)
    _check_4d(ctx, op, input_t, filter_t, output_t)
    channels = filter_t.shape[3]
    if filter_t.shape[0] != 1 or channels % input_t.shape[3] or output_t.shape[3] != channels:
        ctx.fail(op, "filter shape %s does not fit input depth %d" % (list(filter_t.shape), input_t.shape[3]))
    params = _window_params(ctx, op, input_t, filter_t.shape[1:3], output_t)
    if input_t.shape[3] == 1 and filter_t.data is not None:
        # One input channel (micro_speech's first layer): output channel c convolves it with filter[0, :, :, c],
        # which is CONV_2D with the filter laid out [channels, kh, kw, 1]: the same sums, CONV_2D's faster kernels.
        as_conv = copy.copy(filter_t)
        as_conv.index, as_conv.shape = None, (channels,) + filter_t.shape[1:3] + (1,)
        as_conv.data = np.ascontiguousarray(filter_t.data.transpose(3, 1, 2, 0))
        inputs = constant_operands(ctx, op, as_conv, bias_t, output_t, channel_axis=0)
        ctx.emit("CONV_2D", inputs, [ctx.activation(output_t)], params, op)
        return
    inputs = constant_operands(ctx, op, filter_t, bias_t, output_t, channel_axis=3)
    params["depth_multiplier"] = channels // input_t.shape[3]
    ctx.emit("DEPTHWISE_CONV_2D", inputs, [ctx.activation(output_t)], params, op)


def lower_transpose_conv(ctx, op):
    """TRANSPOSE_CONV as TFLite Micro computes it (each input pixel times the filter added into the output at stride
    steps, then TFLite's padding cut off) is a VALID stride-1 CONV_2D, with the filter flipped in height and width,
    over the input spread out: s - 1 positions reading as its zero point after each input pixel (PADs of views),
    then k - 1 - pad of them before the first and what the output's size needs after the last (a PAD, or a
    STRIDED_SLICE where fewer are needed). The same sums, so the same bytes; the spread input is an activation of
    its own, and the convolution's MACs count the positions between the pixels."""
    from .shape import emit_slice, new_tensor, new_view
    if len(op.inputs) < 3:
        ctx.fail(op, "TRANSPOSE_CONV needs the output shape, filter and input")
    filter_t, input_t, output_t = op.inputs[1], op.inputs[2], op.outputs[0]
    bias_t = op.inputs[3] if len(op.inputs) > 3 else None
    _check_4d(ctx, op, input_t, filter_t, output_t)
    if input_t.data is not None:
        ctx.fail(op, "a constant input (the converter folds these)")
    if filter_t.shape[3] != input_t.shape[3] or filter_t.shape[0] != output_t.shape[3] or \
            input_t.shape[0] != output_t.shape[0]:
        ctx.fail(op, "filter %s does not take input %s to output %s"
                 % (list(filter_t.shape), list(input_t.shape), list(output_t.shape)))
    stride = (op.options.get("StrideH", 1), op.options.get("StrideW", 1))
    if min(stride) < 1:
        ctx.fail(op, "stride %s must be at least 1" % list(stride))
    padding = op.options.get("Padding", 1)
    n, h, w, c = input_t.shape
    x = ctx.activation(input_t)
    # spread: s - 1 zero points after each pixel along W, then along H (pads of views: [N H, W, 1, C] and
    # [N, H, 1, W' C])
    if stride[1] > 1:
        spread = new_tensor(ctx, x, (n * h, w, stride[1], c), input_t.name + "/spread_w")
        _emit_pad(ctx, op, new_view(ctx, x, (n * h, w, 1, c), input_t.name + "/columns"), spread, 2, stride[1] - 1)
        w *= stride[1]
        x = new_view(ctx, spread, (n, h, w, c), input_t.name + "/spread_w")
    if stride[0] > 1:
        spread = new_tensor(ctx, x, (n, h, stride[0], w * c), input_t.name + "/spread_h")
        _emit_pad(ctx, op, new_view(ctx, x, (n, h, 1, w * c), input_t.name + "/rows"), spread, 2, stride[0] - 1)
        h *= stride[0]
        x = new_view(ctx, spread, (n, h, w, c), input_t.name + "/spread_h")
    # the window's reach on each side: before, k - 1 - TFLite's padding (computed on the output); after, the rest
    before, after = [], []
    for axis, size in ((0, h), (1, w)):
        k, out = filter_t.shape[1 + axis], output_t.shape[1 + axis]
        pad = same_padding(out, k, stride[axis], 1, output_size(padding, out, k, stride[axis], 1))
        before.append(k - 1 - pad)
        after.append(out + pad - size)
    if min(after) < 0:
        cropped = new_tensor(ctx, x, (n, h + min(after[0], 0), w + min(after[1], 0), c), input_t.name + "/cropped")
        emit_slice(ctx, op, x, [0, 0, 0, 0], [1, 1, 1, 1], cropped)
        x, after = cropped, [max(a, 0) for a in after]
    if max(before + after) > 0:
        shape = ctx.model.tensors[x].shape
        padded = new_tensor(ctx, x, (n, shape[1] + before[0] + after[0], shape[2] + before[1] + after[1], c),
                            input_t.name + "/padded")
        _emit_pad(ctx, op, x, padded, 1, after[0], before[0], (2, before[1], after[1]))
        x = padded
    flipped = copy.copy(filter_t)
    flipped.index, flipped.data = None, None if filter_t.data is None else np.ascontiguousarray(
        filter_t.data[:, ::-1, ::-1, :])
    inputs = constant_operands(ctx, op, flipped, bias_t, output_t, channel_axis=0, input_t=input_t)
    act_min, act_max = activation_range(ctx, op, output_t)
    params = {"stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": 0, "pad_left": 0,
              "input_offset": -input_t.zero_point, "output_offset": output_t.zero_point, "act_min": act_min,
              "act_max": act_max}
    ctx.emit("CONV_2D", [x] + inputs[1:], [ctx.activation(output_t)], params, op)


def _emit_pad(ctx, op, x, target, axis, after, before=0, more=None):
    """PAD of 4-D tensor x into target on `axis` (and more = (axis, before, after)) with x's zero point."""
    params = {"pad_%s_%d" % (side, i): 0 for side in ("before", "after") for i in range(4)}
    params["pad_before_%d" % axis], params["pad_after_%d" % axis] = before, after
    if more is not None:
        params["pad_before_%d" % more[0]], params["pad_after_%d" % more[0]] = more[1], more[2]
    params["pad_value"] = ctx.model.tensors[x].zero_point
    ctx.emit("PAD", [x], [target], params, op)


def requantize_channels(acc, bias, multipliers, shifts, p):
    acc = wrap_int32(acc + bias.astype(np.int64))
    out = multiply_by_quantized_multiplier(acc, multipliers.astype(np.int64), shifts.astype(np.int64))
    return clamp_int8(out + p["output_offset"], p["act_min"], p["act_max"])


def _taps(p, x, filter_hw, out_shape):
    """Raw int8 inputs under each filter tap; padding holds the input's zero point (-input_offset)."""
    return windows(x.astype(np.int64), filter_hw, (p["stride_h"], p["stride_w"]),
                   (p["dilation_h"], p["dilation_w"]), (p["pad_top"], p["pad_left"]), out_shape[1:3],
                   -p["input_offset"])


def reference_conv_2d(op, inputs, outputs):
    x, filters, bias, multipliers, shifts = inputs
    out_shape = outputs[0].shape
    acc = np.zeros(out_shape, np.int64)
    for ky, kx, tap in _taps(op.params, x, filters.shape[1:3], out_shape):
        acc += tap @ filters[:, ky, kx, :].astype(np.int64).T
    return [requantize_channels(acc, bias, multipliers, shifts, op.params)]


def reference_depthwise_conv_2d(op, inputs, outputs):
    x, filters, bias, multipliers, shifts = inputs
    out_shape = outputs[0].shape
    multiplier = op.params["depth_multiplier"]
    acc = np.zeros(out_shape, np.int64)
    for ky, kx, tap in _taps(op.params, x, filters.shape[1:3], out_shape):
        acc += np.repeat(tap, multiplier, axis=3) * filters[0, ky, kx, :].astype(np.int64)
    return [requantize_channels(acc, bias, multipliers, shifts, op.params)]


LOWER = {"CONV_2D": lower_conv_2d, "DEPTHWISE_CONV_2D": lower_depthwise_conv_2d,
         "TRANSPOSE_CONV": lower_transpose_conv}
REFERENCE = {"CONV_2D": reference_conv_2d, "DEPTHWISE_CONV_2D": reference_depthwise_conv_2d}
