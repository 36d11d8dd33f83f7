"""Helpers shared by the op lowerings: activation ranges, padding, the int8 limits."""
import numpy as np

from ..fixedpoint import round_half_away
from ..format import MAX_DIMS

INT8_MIN, INT8_MAX = -128, 127
FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def quantize_float32(value, scale, zero_point):
    """zero_point + round(value / scale) with the division in float32, as TFLite's Prepare code does. A scale so
    small that the quotient overflows float32 (TFLite's cast of it to int is undefined) is a ValueError."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = np.float32(value) / np.float32(scale)
    if not np.isfinite(q):
        raise ValueError("the output scale %g is too small: %g / scale overflows float32" % (scale, value))
    return zero_point + int(round_half_away(float(q)))


def activation_range(ctx, op, output, fused=None):
    """(act_min, act_max) of TFLite's CalculateActivationRangeQuantized for the op's fused activation."""
    if fused is None:
        fused = op.options.get("FusedActivationFunction", 0)
    kind = FUSED_ACTIVATIONS.get(fused, str(fused))
    if kind == "NONE":
        return INT8_MIN, INT8_MAX
    zero = quantize_float32(0.0, output.scale, output.zero_point)
    if kind == "RELU":
        return max(INT8_MIN, zero), INT8_MAX
    if kind == "RELU6":
        return max(INT8_MIN, zero), min(INT8_MAX, quantize_float32(6.0, output.scale, output.zero_point))
    if kind == "RELU_N1_TO_1":
        return (max(INT8_MIN, quantize_float32(-1.0, output.scale, output.zero_point)),
                min(INT8_MAX, quantize_float32(1.0, output.scale, output.zero_point)))
    ctx.fail(op, "fused activation %s is not supported" % kind)


def same_padding(in_size, filter_size, stride, dilation, out_size):
    """Padding before the first element, as TFLite's ComputePaddingHeightWidth."""
    effective = (filter_size - 1) * dilation + 1
    return max(0, ((out_size - 1) * stride + effective - in_size) // 2)


def output_size(padding, in_size, filter_size, stride, dilation):
    effective = (filter_size - 1) * dilation + 1
    if padding == 0:  # SAME
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def window_padding(ctx, op, in_hw, filter_hw, stride_hw, dilation_hw, out_hw):
    """(pad_top, pad_left) of a SAME or VALID window op, after checking the output shape TFLite recorded."""
    padding = op.options.get("Padding", 1)
    if min(tuple(filter_hw) + tuple(stride_hw) + tuple(dilation_hw)) < 1:
        ctx.fail(op, "filter %s, stride %s and dilation %s must be at least 1"
                 % (list(filter_hw), list(stride_hw), list(dilation_hw)))
    pads = []
    for i in range(2):
        expected = output_size(padding, in_hw[i], filter_hw[i], stride_hw[i], dilation_hw[i])
        if expected != out_hw[i]:
            ctx.fail(op, "output size %d does not follow from input %d, filter %d, stride %d, dilation %d"
                     % (out_hw[i], in_hw[i], filter_hw[i], stride_hw[i], dilation_hw[i]))
        pads.append(same_padding(in_hw[i], filter_hw[i], stride_hw[i], dilation_hw[i], out_hw[i])
                    if padding == 0 else 0)
    return pads


def clamp_int8(x, act_min=INT8_MIN, act_max=INT8_MAX):
    return np.clip(x, act_min, act_max).astype(np.int8)


def windows(x, filter_hw, stride_hw, dilation_hw, pad_tl, out_hw, fill):
    """Yield (ky, kx, view) for each filter tap of an NHWC window op: view[b, oy, ox, c] is the input element
    under tap (ky, kx) for output (oy, ox), `fill` where it falls into the padding."""
    n, h, w, c = x.shape
    need_h = (out_hw[0] - 1) * stride_hw[0] + (filter_hw[0] - 1) * dilation_hw[0] + 1
    need_w = (out_hw[1] - 1) * stride_hw[1] + (filter_hw[1] - 1) * dilation_hw[1] + 1
    bottom = max(0, need_h - h - pad_tl[0])
    right = max(0, need_w - w - pad_tl[1])
    padded = np.pad(x, ((0, 0), (pad_tl[0], bottom), (pad_tl[1], right), (0, 0)), constant_values=fill)
    for ky in range(filter_hw[0]):
        for kx in range(filter_hw[1]):
            y0, x0 = ky * dilation_hw[0], kx * dilation_hw[1]
            yield ky, kx, padded[:, y0:y0 + (out_hw[0] - 1) * stride_hw[0] + 1:stride_hw[0],
                                 x0:x0 + (out_hw[1] - 1) * stride_hw[1] + 1:stride_hw[1], :]


def broadcast(x, shape):
    """x broadcast to `shape` as the format broadcasts an element-wise op's inputs: both right-aligned to 4-D, then
    a dimension of 1 repeats (an input may have more leading 1s than the output: NumPy's broadcast_to refuses
    that, the kernels do not)."""
    x = np.asarray(x)
    x4 = x.reshape((1,) * (MAX_DIMS - x.ndim) + x.shape)
    return np.broadcast_to(x4, (1,) * (MAX_DIMS - len(shape)) + tuple(shape)).reshape(shape)
