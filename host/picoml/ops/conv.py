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
    params = _window_params(ctx, op, input_t, filter_t.shape[1:3], output_t)
    if filter_t.shape[3] != input_t.shape[3]:
        _lower_grouped_conv(ctx, op, params)
        return
    inputs = constant_operands(ctx, op, filter_t, bias_t, output_t, channel_axis=0)
    ctx.emit("CONV_2D", inputs, [ctx.activation(output_t)], params, op)


def _lower_grouped_conv(ctx, op, params):
    """A grouped convolution (Keras's Conv2D groups=G: the filter's depth the input's / G, each G-th of the output
    channels reading its G-th of the input channels): per group a STRIDED_SLICE of its input channels and a CONV_2D
    of its filters, the groups' outputs joined by a CONCATENATION, as TFLite Micro's ConvPerChannel computes it."""
    from .shape import MAX_PIECES, emit_concatenation, emit_slice, new_tensor
    input_t, filter_t, bias_t, output_t = _operands(op)
    depth, channels, out_channels = filter_t.shape[3], input_t.shape[3], filter_t.shape[0]
    groups = channels // depth if depth else 0
    if not groups or channels % depth or out_channels % groups or groups > MAX_PIECES or filter_t.data is None:
        ctx.fail(op, "filter depth %d does not divide input depth %d into groups of %d output channels (a constant "
                 "filter, at most %d groups)" % (depth, channels, out_channels, MAX_PIECES))
    per_group = out_channels // groups
    x, out = ctx.activation(input_t), ctx.activation(output_t)
    n, h, w = input_t.shape[:3]
    parts = []
    for g in range(groups):
        rows = slice(g * per_group, (g + 1) * per_group)
        part_filter = copy.copy(filter_t)
        part_filter.index, part_filter.data = None, np.ascontiguousarray(filter_t.data[rows])
        part_filter.shape = part_filter.data.shape
        if len(filter_t.scales) > 1:
            part_filter.scales, part_filter.zero_points = filter_t.scales[rows], filter_t.zero_points[rows]
        part_bias = None
        if bias_t is not None:
            part_bias = copy.copy(bias_t)
            part_bias.index = None
            part_bias.data = None if bias_t.data is None else np.ascontiguousarray(bias_t.data.reshape(-1)[rows])
        part_input = new_tensor(ctx, x, (n, h, w, depth), "%s/group%d" % (input_t.name, g))
        emit_slice(ctx, op, x, [0, 0, 0, g * depth], [1, 1, 1, 1], part_input)
        inputs = constant_operands(ctx, op, part_filter, part_bias, output_t, channel_axis=0, input_t=input_t)
        parts.append(new_tensor(ctx, out, tuple(output_t.shape[:3]) + (per_group,),
                                "%s/group%d" % (output_t.name, g)))
        ctx.emit("CONV_2D", [part_input] + inputs[1:], [parts[-1]], params, op)
    emit_concatenation(ctx, op, parts, 3, out)


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
    """TRANSPOSE_CONV as TFLite Micro computes it: each input pixel times the filter added into the output at stride
    steps, then TFLite's padding `pad` cut off. Along an axis of stride s, the outputs o with (o + pad) % s == r (a
    phase) take only the filter taps r, r + s, ...: output o = q s + r - pad is sum over m of input[q - m] times
    tap r + m s, a stride-1 convolution of the input with those taps reversed. So per pair of phases one VALID
    CONV_2D of M = ceil(k / s) taps per axis (a phase with fewer gets zero taps) over the input with M - 1 - q0
    zero points before it (a PAD; q0 = pad // s, the first q), CONCATENATIONs of views interleave the phases'
    outputs, and a STRIDED_SLICE cuts the first pad % s and what lies beyond the output. The same sums, so the same
    bytes, with about the MACs TFLite Micro does."""
    from .shape import MAX_PIECES, emit_slice, interleave, new_tensor
    if len(op.inputs) < 3:
        ctx.fail(op, "TRANSPOSE_CONV needs the output shape, filter and input")
    filter_t, input_t, output_t = op.inputs[1], op.inputs[2], op.outputs[0]
    bias_t = op.inputs[3] if len(op.inputs) > 3 else None
    _check_4d(ctx, op, input_t, filter_t, output_t)
    if input_t.data is not None or filter_t.data is None:
        ctx.fail(op, "the input must be an activation and the filter a constant")
    n, _, _, c = input_t.shape
    oc = output_t.shape[3]
    if filter_t.shape[3] != c or filter_t.shape[0] != oc or n != output_t.shape[0]:
        ctx.fail(op, "filter %s does not take input %s to output %s"
                 % (list(filter_t.shape), list(input_t.shape), list(output_t.shape)))
    stride = (op.options.get("StrideH", 1), op.options.get("StrideW", 1))
    if min(stride) < 1:
        ctx.fail(op, "stride %s must be at least 1" % list(stride))
    if stride[0] * stride[1] > MAX_PIECES:
        ctx.fail(op, "stride %s: more than %d phases (a CONV_2D each)" % (list(stride), MAX_PIECES))
    axes = []       # per axis: (stride, taps per phase M, first q, count of q, offset of the output in the phases')
    for axis in range(2):
        s, k, size, out = stride[axis], filter_t.shape[1 + axis], input_t.shape[1 + axis], output_t.shape[1 + axis]
        pad = same_padding(out, k, s, 1, output_size(op.options.get("Padding", 1), out, k, s, 1))
        taps, q0, q1 = -(-k // s), pad // s, -(-(pad + out) // s)
        axes.append((s, taps, q0, q1 - q0, pad - q0 * s, size))
    # the input between taps - 1 - q0 zero points before and what the last q needs after (cut where it needs less)
    x = ctx.activation(input_t)
    after = [q0 + q - size for _, _, q0, q, _, size in axes]
    if min(after) < 0:
        h, w = (size + min(a, 0) for a, (*_, size) in zip(after, axes))
        cropped = new_tensor(ctx, x, (n, h, w, c), input_t.name + "/cropped")
        emit_slice(ctx, op, x, [0, 0, 0, 0], [1, 1, 1, 1], cropped)
        x, after = cropped, [max(a, 0) for a in after]
    before = [taps - 1 - q0 for _, taps, q0, *_ in axes]
    if max(before + after) > 0:
        shape = ctx.model.tensors[x].shape
        padded = new_tensor(ctx, x, (n, shape[1] + before[0] + after[0], shape[2] + before[1] + after[1], c),
                            input_t.name + "/padded")
        params = {"pad_%s_%d" % (side, i): 0 for side in ("before", "after") for i in range(4)}
        params.update(pad_before_1=before[0], pad_after_1=after[0], pad_before_2=before[1], pad_after_2=after[1],
                      pad_value=input_t.zero_point)
        ctx.emit("PAD", [x], [padded], params, op)
        x = padded
    act_min, act_max = activation_range(ctx, op, output_t)
    params = {"stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": 0, "pad_left": 0,
              "input_offset": -input_t.zero_point, "output_offset": output_t.zero_point, "act_min": act_min,
              "act_max": act_max}
    (sh, mh, _, qh, off_h, _), (sw, mw, _, qw, off_w, _) = axes
    out = ctx.activation(output_t)
    rows, shared = [], None
    for rh in range(sh):
        phases = []
        for rw in range(sw):
            taps = np.zeros((oc, mh, mw, c), np.int8)     # tap r + m s of the filter at index M - 1 - m
            for j in range(mh):
                for i in range(mw):
                    fy, fx = rh + (mh - 1 - j) * sh, rw + (mw - 1 - i) * sw
                    if fy < filter_t.shape[1] and fx < filter_t.shape[2]:
                        taps[:, j, i, :] = filter_t.data[:, fy, fx, :]
            phase_filter = copy.copy(filter_t)
            phase_filter.index, phase_filter.shape, phase_filter.data = None, taps.shape, taps
            inputs = constant_operands(ctx, op, phase_filter, bias_t, output_t, channel_axis=0, input_t=input_t)
            shared = shared or inputs[3:]      # one multiplier and shift per channel for every phase
            inputs[3:] = shared
            phases.append(new_tensor(ctx, out, (n, qh, qw, oc), "%s/phase%d_%d" % (output_t.name, rh, rw)))
            ctx.emit("CONV_2D", [x] + inputs[1:], [phases[-1]], params, op)
        rows.append(interleave(ctx, op, phases, (n * qh, qw, oc), (n, qh, qw * sw, oc), output_t.name + "/row"))
    merged = interleave(ctx, op, rows, (n, qh, qw * sw * oc), (n, qh * sh, qw * sw, oc), output_t.name + "/phases")
    if (off_h, off_w) == (0, 0) and ctx.model.tensors[merged].shape == tuple(output_t.shape):
        ctx.model.views[out] = merged
    else:
        emit_slice(ctx, op, merged, [0, off_h, off_w, 0], [1, 1, 1, 1], out)


def requantize_channels(acc, bias, multipliers, shifts, p):
    # the format checks only these constants' element counts (any rank), and the kernels read them flat
    bias, multipliers, shifts = (np.ravel(v).astype(np.int64) for v in (bias, multipliers, shifts))
    acc = wrap_int32(acc + bias)
    out = multiply_by_quantized_multiplier(acc, multipliers, shifts)
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
