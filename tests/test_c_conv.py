"""The C kernels of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D and MAX_POOL_2D give the numpy
reference's bytes: on single-op models with random but valid shapes and parameters and on the edge cases, on
every such layer of the real conformance models and on the whole models; the kernels' requantization shortcut
equals fixedpoint.h's pml_mbqm; nothing reads or writes out of bounds under AddressSanitizer.

tests/bench_c_kernels.py times the kernels on the DS-CNN keyword-spotting model."""
import pathlib

import numpy as np
import pytest

import models
from conftest import test_inputs
from picoml.runtimes import bare, c as c_runtime
from picoml import format, planner, reference
from picoml.convert import convert
from picoml.ops.common import output_size, same_padding

MY_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D")
SAME, VALID = 0, 1


@pytest.fixture(scope="module", params=["libpicoml.so", "libpicoml_m0.so", "libpicoml_m4.so"],
                ids=["c", "c-m0", "c-m4"])
def lib(request):
    """The kernels as built for this machine, and their Cortex-M0 (Armv6-M) and Cortex-M4 (SIMD32) code paths in
    portable C."""
    return c_runtime.load(request.param)


def single_op_model(name, input_shape, constants, output_shape, params, in_zp=0, out_zp=0):
    """A planned model of one op: an int8 input, the op's constants, an int8 output."""
    return models.single_op(name, [(input_shape, in_zp), *constants], (output_shape, out_zp), params)


def check(lib, model, inputs):
    runtime = c_runtime.CRuntime(model, lib)
    for x in inputs:
        expected = reference.run(model, [x])[0]
        got = runtime.run([x])[0]
        if not np.array_equal(got, expected):
            op = model.ops[0]
            bad = np.argwhere(got != expected)
            raise AssertionError("%s %s %s: %d of %d values differ, first at %s: C %d, reference %d"
                                 % (op.name, [model.tensors[i].shape for i in op.inputs[:2]], op.params, len(bad),
                                    got.size, bad[0].tolist(), got[tuple(bad[0])], expected[tuple(bad[0])]))


def random_inputs(rng, shape, zero_point, count=3):
    """Uniform values, values near the zero point, and the extremes once."""
    xs = [rng.integers(-128, 128, shape).astype(np.int8),
          np.clip(np.rint(rng.normal(zero_point, 20, shape)), -128, 127).astype(np.int8)]
    xs.append(np.full(shape, rng.choice([-128, 127]), np.int8))
    return xs[:count]


def quantization(rng, sumsq, per_channel, saturate=False):
    """(multipliers, shifts) that scale typical accumulators to the int8 range, as a trained model's do: for inputs
    spread around the zero point an accumulator's standard deviation is about 50 * sqrt(sum of the channel's
    squared weights). Multipliers in [2^30, 2^31) as quantize_multiplier gives them, shifts jittered by one; now
    and then a zero multiplier or a wild shift of either sign; shifts 3 to 12 larger when `saturate`."""
    n = len(sumsq) if per_channel else 1
    std = 50 * np.sqrt(np.maximum(sumsq if per_channel else [np.mean(sumsq)], 1))
    shifts = np.floor(np.log2(48 / std)).astype(np.int64) + rng.integers(-1, 2, n)
    if saturate:
        shifts += rng.integers(3, 13, n)
    wild = rng.random(n) < 0.1
    shifts[wild] = rng.integers(-20, 4, int(wild.sum()))
    multipliers = rng.integers(1 << 30, (1 << 31) - 1, n, endpoint=True)
    if rng.random() < 0.1:
        multipliers[rng.integers(n)] = 0
    return multipliers.astype(np.int32), np.clip(shifts, -31, 31).astype(np.int32)


def weights(rng, shape):
    """int8 weights over the whole range, or (one time in five) small ones, as in layers with a wide scale."""
    limit = 127 if rng.random() < 0.8 else int(rng.integers(1, 8))
    return rng.integers(-limit, limit + 1, shape).astype(np.int8)


def activation(rng, out_zp):
    """No activation, a RELU (clamped at the zero point) or a random range at least 30 wide."""
    kind = rng.random()
    if kind < 0.5:
        return -128, 127
    if kind < 0.75:
        return max(-128, out_zp), 127
    lo = int(rng.integers(-128, 98))
    return lo, int(rng.integers(lo + 30, 128))


def zero_point(rng, extremes=0.45):
    """The int8 extremes with probability `extremes`, else a value in the middle."""
    if rng.random() < extremes:
        return int(rng.choice([-128, 127]))
    return int(rng.integers(-60, 61))


def window(in_hw, k_hw, stride, dilation, padding):
    out = [output_size(padding, in_hw[i], k_hw[i], stride[i], dilation[i]) for i in range(2)]
    pads = [same_padding(in_hw[i], k_hw[i], stride[i], dilation[i], out[i]) if padding == SAME else 0 for i in range(2)]
    return out, pads


def conv_case(rng, depthwise=False, n=1, hw=None, ic=None, oc=None, k=None, stride=None, dilation=None,
              padding=None, multiplier=None, per_channel=None, saturate=False, in_zp=None, out_zp=None, filters=None):
    """A random CONV_2D (or DEPTHWISE_CONV_2D) single-op model; any argument given is fixed (filters: the
    CONV_2D's weights, whose shape then gives oc, k and ic)."""
    if filters is not None:     # (CONV_2D's)
        oc, k, ic = filters.shape[0], filters.shape[1:3], filters.shape[3]
    hw = hw or tuple(int(v) for v in rng.integers(1, 12, 2))
    k = k or tuple(int(v) for v in rng.integers(1, 6, 2))
    stride = stride or tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2))
    dilation = dilation or ((1, 1) if rng.random() < 0.7 else tuple(int(v) for v in rng.integers(1, 4, 2)))
    padding = padding if padding is not None else int(rng.integers(2))
    if padding == VALID:  # VALID needs the dilated filter inside the input
        hw = tuple(max(hw[i], (k[i] - 1) * dilation[i] + 1) for i in range(2))
    ic = ic or int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 17, 32, 64]))
    if depthwise:
        multiplier = multiplier or int(rng.choice([1, 1, 2, 3]))
        oc = ic * multiplier
    else:
        oc = oc or int(rng.choice([1, 2, 3, 5, 7, 8, 16, 33, 64]))
    per_channel = bool(rng.integers(2)) if per_channel is None else per_channel
    in_zp = zero_point(rng) if in_zp is None else in_zp
    out_zp = zero_point(rng, 0.15) if out_zp is None else out_zp
    out_hw, pads = window(hw, k, stride, dilation, padding)
    if filters is None:
        filters = weights(rng, (1, k[0], k[1], oc) if depthwise else (oc, k[0], k[1], ic))
    channel_axes = (0, 1, 2) if depthwise else (1, 2, 3)
    folded_sum = filters.astype(np.int64).sum(axis=channel_axes) * -in_zp
    bias = (rng.integers(-5000, 5000, oc) + folded_sum).astype(np.int32)
    if rng.random() < 0.05:
        bias = rng.integers(-(1 << 31), 1 << 31, oc).astype(np.int32)   # accumulations that wrap
    sumsq = (filters.astype(np.int64) ** 2).sum(axis=channel_axes)
    multipliers, shifts = quantization(rng, sumsq, per_channel, saturate)
    act_min, act_max = activation(rng, out_zp)
    params = {"stride_h": stride[0], "stride_w": stride[1], "dilation_h": dilation[0], "dilation_w": dilation[1],
              "pad_top": pads[0], "pad_left": pads[1], "input_offset": -in_zp, "output_offset": out_zp,
              "act_min": act_min, "act_max": act_max}
    if depthwise:
        params["depth_multiplier"] = multiplier
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    return single_op_model(name, (n, hw[0], hw[1], ic), [filters, bias, multipliers, shifts],
                           (n, out_hw[0], out_hw[1], oc), params, in_zp, out_zp), in_zp


def fc_case(rng, input_shape=None, units=None, per_channel=None, saturate=False, keep_num_dims=False):
    if input_shape is None:
        depth = int(rng.choice([1, 3, 8, 16, 17, 40, 64, 100, 256, 300, 640]))
        batches = int(rng.choice([1, 1, 2, 3]))
        input_shape = (batches, depth)
    depth = input_shape[-1]
    units = units or int(rng.choice([1, 2, 3, 5, 10, 12, 16, 33, 64]))
    in_zp, out_zp = zero_point(rng), zero_point(rng, 0.15)
    w = weights(rng, (units, depth))
    bias = (rng.integers(-5000, 5000, units) + w.astype(np.int64).sum(axis=1) * -in_zp).astype(np.int32)
    per_channel = bool(rng.integers(2)) if per_channel is None else per_channel
    multipliers, shifts = quantization(rng, (w.astype(np.int64) ** 2).sum(axis=1), per_channel, saturate)
    act_min, act_max = activation(rng, out_zp)
    if keep_num_dims:
        output_shape = tuple(input_shape[:-1]) + (units,)
    else:
        output_shape = (int(np.prod(input_shape)) // depth, units)
    params = {"output_offset": out_zp, "act_min": act_min, "act_max": act_max}
    return single_op_model("FULLY_CONNECTED", input_shape, [w, bias, multipliers, shifts], output_shape,
                           params, in_zp, out_zp), in_zp


def pool_case(rng, name, n=1, hw=None, c=None, k=None, stride=None, padding=None):
    hw = hw or tuple(int(v) for v in rng.integers(1, 12, 2))
    k = k or tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = stride or tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = padding if padding is not None else int(rng.integers(2))
    if padding == VALID:
        hw = tuple(max(hw[i], k[i]) for i in range(2))
    c = c or int(rng.choice([1, 2, 3, 5, 7, 8, 16, 17, 64]))
    out_hw, pads = window(hw, k, stride, (1, 1), padding)
    zp = zero_point(rng)
    act_min, act_max = activation(rng, zp)
    params = {"stride_h": stride[0], "stride_w": stride[1], "filter_h": k[0], "filter_w": k[1],
              "pad_top": pads[0], "pad_left": pads[1], "act_min": act_min, "act_max": act_max}
    return single_op_model(name, (n, hw[0], hw[1], c), [], (n, out_hw[0], out_hw[1], c), params, zp, zp), zp


def run_cases(lib, seed, count, make):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        model, zp = make(rng)
        shape = model.tensors[model.inputs[0].tensor].shape
        check(lib, model, random_inputs(rng, shape, zp))


# ---- random cases ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_conv_random(lib, seed):
    run_cases(lib, 100 + seed, 50, lambda rng: conv_case(rng, n=int(rng.choice([1, 1, 2]))))


@pytest.mark.parametrize("seed", range(6))
def test_depthwise_random(lib, seed):
    run_cases(lib, 200 + seed, 50, lambda rng: conv_case(rng, depthwise=True, n=int(rng.choice([1, 1, 2]))))


@pytest.mark.parametrize("seed", range(4))
def test_fully_connected_random(lib, seed):
    run_cases(lib, 300 + seed, 50, fc_case)


@pytest.mark.parametrize("name", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pool_random(lib, name):
    run_cases(lib, 400 + len(name), 150, lambda rng: pool_case(rng, name, n=int(rng.choice([1, 1, 2]))))


# ---- edge cases -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_saturation(lib, depthwise):
    """Large multipliers and left shifts drive most outputs to the activation limits."""
    run_cases(lib, 500 + depthwise, 20, lambda rng: conv_case(rng, depthwise=depthwise, saturate=True))


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("zps", [(-128, -128), (127, 127), (-128, 127), (127, -128)])
def test_conv_extreme_zero_points(lib, depthwise, zps):
    run_cases(lib, 600 + zps[0] + 2 * zps[1] + depthwise, 6,
              lambda rng: conv_case(rng, depthwise=depthwise, in_zp=zps[0], out_zp=zps[1], padding=SAME))


GEOMETRIES = [
    # (hw, k, stride, dilation, padding)
    ((7, 7), (3, 3), (1, 1), (1, 1), SAME),      # even total padding
    ((8, 8), (4, 4), (1, 1), (1, 1), SAME),      # odd total padding: the extra row/column goes after
    ((8, 7), (3, 2), (2, 2), (1, 1), SAME),
    ((9, 9), (3, 3), (2, 2), (1, 1), VALID),
    ((6, 9), (3, 3), (1, 2), (1, 1), SAME),
    ((9, 6), (2, 3), (1, 2), (1, 1), VALID),
    ((9, 9), (3, 3), (1, 1), (2, 2), SAME),      # dilation 2
    ((10, 9), (3, 2), (2, 1), (2, 3), SAME),
    ((9, 9), (3, 3), (1, 1), (2, 2), VALID),
    ((5, 5), (1, 1), (1, 1), (1, 1), VALID),     # pointwise
    ((6, 6), (1, 1), (2, 2), (1, 1), VALID),     # strided pointwise
    ((3, 2), (5, 4), (1, 1), (1, 1), SAME),      # filter larger than the input
    ((2, 3), (7, 7), (2, 2), (1, 1), SAME),
    ((1, 1), (3, 3), (1, 1), (1, 1), SAME),
    ((49, 10), (10, 4), (2, 2), (1, 1), SAME),   # the KWS model's first layer
    ((12, 12), (5, 5), (3, 3), (1, 1), SAME),    # filter bigger than stride
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "%dx%d_k%dx%d_s%d%d_d%d%d_%s" % (
    *g[0], *g[1], *g[2], *g[3], "same" if g[4] == SAME else "valid"))
def test_conv_geometries(lib, geometry):
    hw, k, stride, dilation, padding = geometry
    rng = np.random.default_rng(sum(hw + k + stride + dilation) + padding)
    for depthwise in (False, True):
        for ic in (1, 3, 5, 8, 16, 64):
            for per_channel in (False, True):
                model, zp = conv_case(rng, depthwise, hw=hw, k=k, stride=stride, dilation=dilation,
                                      padding=padding, ic=ic, per_channel=per_channel)
                check(lib, model, random_inputs(rng, model.tensors[0].shape, zp, 2))


@pytest.mark.parametrize("multiplier", [1, 2, 3, 8])
def test_depthwise_multipliers(lib, multiplier):
    rng = np.random.default_rng(700 + multiplier)
    for ic in (1, 2, 3, 5, 7, 16, 17, 32):
        model, zp = conv_case(rng, depthwise=True, ic=ic, multiplier=multiplier)
        check(lib, model, random_inputs(rng, model.tensors[0].shape, zp))


DEPTH_MULTIPLIER_CASES = [
    # (n, hw, k, stride, dilation, padding, ic, multiplier)
    (1, (1, 256), (1, 128), (1, 32), (1, 1), VALID, 6, 36),   # the anomaly model's first layer
    (1, (1, 256), (1, 128), (1, 32), (1, 1), SAME, 3, 36),
    (2, (1, 60), (1, 17), (1, 3), (1, 1), SAME, 2, 13),
    (1, (9, 9), (3, 3), (2, 2), (1, 1), SAME, 5, 7),
    (1, (12, 10), (5, 5), (1, 2), (1, 1), SAME, 3, 2),
    (1, (10, 9), (3, 2), (2, 1), (2, 3), SAME, 4, 5),
    (2, (30, 1), (24, 1), (3, 1), (1, 1), VALID, 3, 4),
    (1, (1, 40), (1, 9), (1, 1), (1, 4), SAME, 1, 16),
    (1, (7, 7), (7, 7), (1, 1), (1, 1), SAME, 2, 3),
    (1, (40, 40), (3, 3), (1, 1), (1, 1), SAME, 2, 3),        # one channel over 1 KB: the portable kernel
    (1, (1, 700), (1, 600), (1, 50), (1, 1), VALID, 2, 3),    # a patch over 576 taps: the portable kernel
]


@pytest.mark.parametrize("case", DEPTH_MULTIPLIER_CASES, ids=lambda c: "n%d_%dx%d_k%dx%d_s%d%d_d%d%d_%s_c%d_m%d" % (
    c[0], *c[1], *c[2], *c[3], *c[4], "same" if c[5] == SAME else "valid", c[6], c[7]))
def test_depthwise_multiplier_long_kernels(lib, case):
    """Depth multipliers > 1 (on the Cortex-M0 a convolution per input channel: conv_s8_armv6m.c's driver, its
    filter rows strided, its outputs C * M apart) with long kernels, strides, dilations and padding, per-tensor and
    per-channel quantization, saturation and the int8 extremes as zero points."""
    n, hw, k, stride, dilation, padding, ic, multiplier = case
    rng = np.random.default_rng(1000 + sum(hw + k) + ic * multiplier)
    for per_channel in (False, True):
        for saturate, in_zp in ((False, None), (True, None), (False, -128), (False, 127)):
            model, zp = conv_case(rng, True, n=n, hw=hw, k=k, stride=stride, dilation=dilation, padding=padding,
                                  ic=ic, multiplier=multiplier, per_channel=per_channel, saturate=saturate,
                                  in_zp=in_zp)
            check(lib, model, random_inputs(rng, model.tensors[0].shape, zp, 2))


def test_conv_long_patches(lib):
    """Patches longer than the C kernel's im2col column: split by taps, or by channels when one tap is longer."""
    rng = np.random.default_rng(800)
    for ic, k in ((64, (3, 3)), (300, (1, 1)), (300, (2, 2)), (129, (2, 1)), (40, (3, 3)), (257, (1, 1)),
                  (1, (17, 17)), (3, (11, 11))):
        for oc in (1, 3, 33, 70):
            model, zp = conv_case(rng, ic=ic, oc=oc, k=k, hw=(5, 3), dilation=(1, 1))
            check(lib, model, random_inputs(rng, model.tensors[0].shape, zp, 2))
    # outputs large enough for the Cortex-M4 kernel's columns of 4 pixels to go to the output ahead of their block
    # (the patch too long for them in its scratch), the last blocks 2 pixels at a time
    for ic, k, hw, oc in ((16, (3, 3), (16, 16), 16), (256, (1, 1), (6, 6), 64), (13, (3, 3), (9, 9), 24),
                          (40, (3, 3), (12, 10), 33)):
        for saturate in (False, True):
            model, zp = conv_case(rng, ic=ic, oc=oc, k=k, hw=hw, stride=(1, 1), dilation=(1, 1), saturate=saturate)
            check(lib, model, random_inputs(rng, model.tensors[0].shape, zp, 1))


def _rows_of_abs_sum(total, length, sign):
    """int8 filter rows of `length` weights whose |w| sum to `total` (-128s, or 127s when sign > 0, then one
    smaller weight, then zeros)"""
    big = 127 if sign > 0 else 128
    row = np.zeros(length, np.int64)
    row[:total // big] = sign * big
    row[total // big] = sign * (total % big)
    return row


def lane_bound_cases():
    """(model, inputs) of CONV_2D at the ends of the Armv6-M kernel's range (conv_s8_armv6m.c keeps its sums modulo
    2^23): every weight and input at the int8 extremes, a patch of 256 elements (any weights) and longer patches
    whose rows have sum |w| up to 32,767 (taken) or 32,768 and more (the op run by the plain loop)."""
    rng = np.random.default_rng(950)
    full = np.stack([np.full(256, -128), np.full(256, 127), np.resize([-128, 127], 256), np.full(256, -127)])
    cases = [full.reshape(4, 1, 1, 256)]
    for total in (32767, 32768, 40000):     # (a row of 32,768 -128s sums within the bound as well)
        rows = np.stack([_rows_of_abs_sum(total, 576, -1), _rows_of_abs_sum(total, 576, 1),
                         np.resize([-128, 127, 0], 576) * (np.arange(576) < 170)])
        cases.append(rows.reshape(3, 3, 3, 64))
    for filters in cases:
        for in_zp in (-128, 0, 127):
            model, zp = conv_case(rng, filters=filters.astype(np.int8), hw=(3, 4), stride=(1, 1),
                                  dilation=(1, 1), padding=SAME, in_zp=in_zp)
            shape = model.tensors[0].shape
            yield model, [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
                          rng.choice(np.array([-128, 127], np.int8), shape)]


def dead_channel_cases():
    """(model, inputs) of CONV_2D whose channels are, at random, as trained (the model's own constants), dead as
    TFLite writes them (a bias near +-2^30, a multiplier with a shift of -23 to -31 or 0), saturated (a bias of
    +-2^24 to 2^29 with the usual multiplier) or between (a bias of +-2^19 to 2^23 that requantizes to about 60:
    outputs that still vary),
    per-channel quantization: the Armv6-M kernel gives the channels whose every accumulator requantizes alike one
    constant output (conv_s8_armv6m.c, constant_channel)."""
    rng = np.random.default_rng(970)
    for case in range(12):
        model, zp = conv_case(rng, hw=(5, 4), ic=int(rng.choice([3, 8, 16, 64])), oc=int(rng.choice([7, 16, 33])),
                              per_channel=True, dilation=(1, 1))
        op = model.ops[0]
        bias = np.array(model.tensors[op.inputs[2]].data, np.int64)
        multipliers = np.array(model.tensors[op.inputs[3]].data, np.int64)
        shifts = np.array(model.tensors[op.inputs[4]].data, np.int64)
        for c in range(len(bias)):
            mode = rng.integers(4)
            sign = rng.choice([-1, 1])
            if mode == 1:
                bias[c] = sign * ((1 << 30) + int(rng.integers(0, 1 << 12)))
                shifts[c] = -int(rng.integers(23, 32)) if rng.random() < 0.8 else 0
                multipliers[c] = int(rng.integers(1, 1 << 31)) if shifts[c] else 0
            elif mode == 2:
                bias[c] = sign * int(rng.integers(1 << 24, 1 << 29))
            elif mode == 3:     # the output of the bias about 60 from the offset: the sums' spread still shows
                bias[c] = sign * int(rng.integers(1 << 19, 1 << 23))
                shifts[c] = -int(np.clip(np.log2(abs(bias[c]) * multipliers[c] / 2.0 ** 31 / 60), 1, 31))
        _replace_constant(model, 2, bias.astype(np.int32))
        _replace_constant(model, 3, multipliers.astype(np.int32))
        _replace_constant(model, 4, shifts.astype(np.int32))
        yield model, random_inputs(rng, model.tensors[0].shape, zp)


def window_cases():
    """(model, inputs) of CONV_2D whose windows inside the image the Armv6-M kernel reads from the input, a call per
    row (rows of kw in_c bytes, whole groups of 8, every row on a word: in_c a multiple of 4), beside the windows at
    the edges it stages: 1x1, 3x3, 2x4 and 3x1 filters, strides 1 and 2, row dilation 2, SAME and VALID padding, one
    block of channels and several; and in_c 2 and 6, whose rows of 8 and 24 bytes may start between words (staged)."""
    rng = np.random.default_rng(990)
    for k, ic, stride, dilation, oc in (((3, 3), 8, (1, 1), (1, 1), 16), ((3, 3), 16, (2, 2), (1, 1), 33),
                                        ((1, 1), 24, (1, 1), (1, 1), 7), ((2, 4), 4, (1, 2), (2, 1), 5),
                                        ((3, 1), 8, (2, 1), (2, 1), 64), ((3, 3), 64, (1, 1), (1, 1), 64),
                                        ((3, 4), 2, (1, 1), (1, 1), 9), ((2, 4), 6, (1, 1), (1, 1), 8)):
        for padding in (SAME, VALID):
            model, zp = conv_case(rng, hw=(6, 7), ic=ic, oc=oc, k=k, stride=stride, dilation=dilation,
                                  padding=padding)
            yield model, random_inputs(rng, model.tensors[0].shape, zp, 2)


ARMV6M_CASES = {"sums_at_the_lane_bounds": lane_bound_cases, "dead_channels": dead_channel_cases,
                "windows_read_in_place": window_cases}


@pytest.mark.parametrize("cases", ARMV6M_CASES)
def test_conv_armv6m_edges(lib, cases):
    for model, inputs in ARMV6M_CASES[cases]():
        check(lib, model, inputs)


@pytest.mark.emulated
@pytest.mark.parametrize("cases", ARMV6M_CASES)
def test_conv_armv6m_edges_on_the_m0plus(cases):
    """The same cases through the Armv6-M assembly, on rp2040js's Cortex-M0+"""
    for model, inputs in ARMV6M_CASES[cases]():
        got = bare.run("m0plus", format.write(model), inputs, count_insns=False)
        for x, out in zip(inputs, got.outputs):
            np.testing.assert_array_equal(out[0], reference.run(model, [x])[0], err_msg=str(model.ops[0].params))


def test_conv_channel_counts(lib):
    """Odd input and output channel counts around the kernel's block sizes."""
    rng = np.random.default_rng(900)
    for ic in (1, 3, 5, 7, 15, 16, 17, 31, 33):
        for oc in (1, 2, 3, 5, 7, 31, 32, 33, 65):
            model, zp = conv_case(rng, ic=ic, oc=oc, hw=(4, 3))
            check(lib, model, random_inputs(rng, model.tensors[0].shape, zp, 1))


@pytest.mark.parametrize("shape", [(3, 40), (1, 640), (2, 5, 8), (1, 3, 4, 7), (4, 1)])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_shapes(lib, shape, per_channel):
    """Batches > 1, keep_num_dims outputs, inputs of any rank read as [batches, depth]."""
    rng = np.random.default_rng(sum(shape) + per_channel)
    for keep in (False, True):
        for units in (1, 7, 12, 64):
            model, zp = fc_case(rng, shape, units, per_channel, keep_num_dims=keep)
            check(lib, model, random_inputs(rng, shape, zp))
            model, zp = fc_case(rng, shape, units, per_channel, saturate=True, keep_num_dims=keep)
            check(lib, model, random_inputs(rng, shape, zp))


def test_fully_connected_flattened_input(lib):
    """micro_speech's FULLY_CONNECTED: a [1, 25, 20, 8] input read as [1, 4000]."""
    rng = np.random.default_rng(1000)
    model, zp = fc_case(rng, (1, 25, 20, 8), 4)
    check(lib, model, random_inputs(rng, (1, 25, 20, 8), zp))


@pytest.mark.parametrize("name", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("geometry", [((7, 7), (3, 3), (2, 2), SAME), ((8, 8), (2, 2), (2, 2), VALID),
                                      ((5, 6), (4, 4), (1, 1), SAME), ((2, 2), (5, 5), (1, 1), SAME),
                                      ((25, 5), (25, 5), (25, 5), VALID), ((9, 9), (3, 3), (1, 2), SAME),
                                      ((6, 7), (3, 5), (3, 2), SAME), ((1, 1), (1, 1), (1, 1), VALID),
                                      ((20, 17), (20, 17), (1, 1), VALID), ((30, 30), (17, 17), (13, 13), SAME)])
def test_pool_geometries(lib, name, geometry):
    """Windows partly in the padding (the average divides by the positions inside), filters bigger than the
    stride, global pooling; windows of more than 256 positions (the Cortex-M4's halfword sums are added to the
    int32 sums every 256: the extreme inputs would wrap them)."""
    hw, k, stride, padding = geometry
    rng = np.random.default_rng(sum(hw + k + stride) + len(name))
    for c in (1, 3, 8, 17, 64):
        model, zp = pool_case(rng, name, hw=hw, c=c, k=k, stride=stride, padding=padding)
        check(lib, model, random_inputs(rng, model.tensors[0].shape, zp))


# ---- refusals -------------------------------------------------------------------------------------------------

def _replace_constant(model, operand, data):
    t = model.tensors[model.ops[0].inputs[operand]]
    t.shape, t.dtype, t.data = data.shape, data.dtype, data


def _filter_depth(model):      # a filter whose depth does not fit the input
    f = model.tensors[model.ops[0].inputs[1]].data
    _replace_constant(model, 1, f[..., :2].copy())


def _bias_length(model):
    _replace_constant(model, 2, model.tensors[model.ops[0].inputs[2]].data[:-1].copy())


def _two_shifts(model):        # neither one pair per channel nor one per tensor
    _replace_constant(model, 3, np.full(2, 1 << 30, np.int32))
    _replace_constant(model, 4, np.full(2, -3, np.int32))


def _shift_out_of_range(model):
    _replace_constant(model, 4, np.full(model.tensors[model.ops[0].inputs[4]].shape, 40, np.int32))


def _int32_min_multiplier(model):
    _replace_constant(model, 3, np.full(model.tensors[model.ops[0].inputs[3]].shape, -(1 << 31), np.int32))


def _depth_multiplier(model):  # the param does not fit the filter
    model.ops[0].params["depth_multiplier"] = 3


def _output_channels(model):
    y = model.tensors[model.ops[0].outputs[0]]
    y.shape = y.shape[:3] + (y.shape[3] + 1,)


def _fc_depth(model):          # an input of 10 values read with depth 3
    x = model.tensors[model.ops[0].inputs[0]]
    x.shape = (1, 10)


REFUSALS = [
    ("CONV_2D", _filter_depth), ("CONV_2D", _bias_length), ("CONV_2D", _two_shifts),
    ("CONV_2D", _shift_out_of_range), ("CONV_2D", _int32_min_multiplier), ("CONV_2D", _output_channels),
    ("DEPTHWISE_CONV_2D", _depth_multiplier), ("DEPTHWISE_CONV_2D", _bias_length),
    ("DEPTHWISE_CONV_2D", _output_channels), ("FULLY_CONNECTED", _fc_depth), ("FULLY_CONNECTED", _two_shifts),
    ("AVERAGE_POOL_2D", _output_channels), ("MAX_POOL_2D", _output_channels),
]


@pytest.mark.parametrize("name, corrupt", REFUSALS, ids=lambda v: v if isinstance(v, str) else v.__name__[1:])
def test_kernels_refuse_operands_that_do_not_fit(lib, name, corrupt):
    """Operands whose shapes or constants do not fit the op are refused by pml_check with PML_ERR_OPERANDS (-3),
    naming the op, before anything runs."""
    rng = np.random.default_rng(1100)
    if name == "FULLY_CONNECTED":
        model, _ = fc_case(rng, (2, 3), 4, per_channel=True)
    elif name.endswith("POOL_2D"):
        model, _ = pool_case(rng, name, hw=(5, 5), c=4)
    else:
        model, _ = conv_case(rng, name == "DEPTHWISE_CONV_2D", ic=4, oc=8, k=(3, 3), hw=(5, 5), multiplier=2,
                             per_channel=True)
    corrupt(model)
    planner.plan(model)
    blob = format.write(model)
    status, error = c_runtime.check(lib, blob, max(model.arena_size, 4))
    assert status == -3 and error[0] == 0, (status, error)


# ---- the conformance models -----------------------------------------------------------------------------------

def _layers(path):
    """Every CONV/DW/FC/POOL op of a converted model as a single-op model with the same constants and params."""
    model = convert(path.read_bytes(), path.name, measure_tflm=False)
    for op in model.ops:
        if op.name not in MY_OPS:
            continue
        x, y = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        consts = [model.tensors[i].data for i in op.inputs[1:]]
        yield op.name, single_op_model(op.name, x.shape, consts, y.shape, op.params, x.zero_point, y.zero_point), x


@pytest.mark.parametrize("name", models.REAL)
def test_conformance_model_layers(lib, name):
    n = 0
    for i, (op_name, model, x) in enumerate(_layers(models.tflite(name))):
        check(lib, model, test_inputs(x.shape, x.zero_point, 4, seed=i))
        n += 1
    assert n > 0


def test_check_refuses_bad_models(lib):
    """pml_check's status and report (every rule has its own case in test_validation.py)."""
    from picoml import rules
    blob = models.pml("kws_ref_model")
    h = format.read_header(blob)
    assert c_runtime.check(lib, blob, h["arena_size"])[0] == 0
    assert c_runtime.check(lib, blob, h["arena_size"] - 4) == (-1, (-1, -1, rules.RULE["ARENA"], -1, h["arena_size"] - 4))
    assert c_runtime.check(lib, blob[:-1], h["arena_size"])[0] == -1                                    # truncated
    bad = bytearray(blob)
    bad[h["ops_offset"]:h["ops_offset"] + 4] = (99).to_bytes(4, "little")
    assert c_runtime.check(lib, bad, h["arena_size"]) == (-2, (0, -1, rules.RULE["UNKNOWN_OP"], -1, 99))
    bad = bytearray(blob)
    bad[h["ops_offset"] + 12:h["ops_offset"] + 16] = (3).to_bytes(4, "little")
    assert c_runtime.check(lib, bad, h["arena_size"]) == (-1, (0, -1, rules.RULE["N_PARAMS"], -1, 3))


# ---- the requantization shortcut ------------------------------------------------------------------------------

REQUANT_CHECK = r"""
#include "%(source)s"
#include <stdio.h>
#ifndef RQ_T    /* the Armv6-M kernels' requantization (requantize_armv6m.h) is checked through these names */
#define RQ_T requant_t
#define RQ_INIT requant_init
#define RQ_APPLY requantize
#endif
/* requantize() of the kernel file against fixedpoint.h's pml_mbqm, offset and clamp done in int64 */
int main(void) {
    long bad = 0, n = 0, nfast = 0;
    uint32_t h = 12345;
    for (long i = 0; i < 3000000; i++) {
        h ^= h << 13; h ^= h >> 17; h ^= h << 5;
        const uint32_t g = h * 2654435761u;
        int32_t x = (int32_t)h, m = (int32_t)((g >> 1) | 0x40000000u);
        int32_t s = (int32_t)(g %% 63) - 31, lo = -128, hi = 127;
        const int32_t offset = (int32_t)((g >> 8) %% 256) - 128;
        switch (i %% 5) {
        case 0: x = (int32_t)h >> (g %% 31); break;
        case 1: x = (int32_t)(g %% 64) - 32; break;
        default: break;
        }
        if (i %% 3 == 0) { s = -(int32_t)(g %% 14); }
        if (i %% 4 == 0) { lo = (int32_t)((g >> 16) %% 128) - 128; hi = lo + (int32_t)((g >> 20) %% 100); }
        if (i %% 7 == 0) { m = (int32_t)g; }
        if (i %% 97 == 0) { x = INT32_MIN; }
        if (i %% 89 == 0) { x = INT32_MAX; }
        if (i %% 101 == 0) { m = 0; }
        if (i %% 103 == 0) { m = INT32_MAX; }
        if (i %% 6 == 5) {
            /* ties: multipliers with many trailing zero bits, small or power-of-two-scaled accumulators */
            static const int32_t round_multipliers[6] = {1 << 30, 3 << 29, 5 << 28, 1 << 29, 0x40000001, 0x7fffffff};
            m = round_multipliers[g %% 6];
            x = ((int32_t)(h %% 8192) - 4096) * (1 << ((h >> 13) %% 17));
        }
        if (i %% 6 == 4) {
            /* the rounding constants exactly: tiny multipliers, accumulators near multiples of 2^29 */
            m = 1 + 2 * (int32_t)(g %% 8);
            x = ((int32_t)((h >> 4) %% 8) - 4) * (1 << 29) + (int32_t)(h %% 9) - 4;
            s = -(int32_t)((h >> 8) %% 4);
        }
        if (m == INT32_MIN) { continue; }
        RQ_T q;
        out_range_t o;
        RQ_INIT(&q, m, s);
        out_range_init(&o, offset, lo, hi > 127 ? 127 : hi);
        const int64_t v = (int64_t)pml_mbqm(x, m, s) + offset;
        const int8_t expected = (int8_t)(v < o.lo + offset ? o.lo + offset : v > o.hi + offset ? o.hi + offset : v);
        n++;
        requant_fast_t f;
        requant_fast_init(&f, m, s, offset);
        if (f.right >= 0) {
            /* the shortcut of the usual constants (the Cortex-M4 kernels): the same value before the clamp */
            const int32_t y = requantize_fast(x, &f);
            const int8_t got = (int8_t)(y < o.lo + offset ? o.lo + offset : y > o.hi + offset ? o.hi + offset : y);
            nfast++;
            if (y != v || got != expected) {
                if (bad++ < 5) {
                    printf("fast: x=%%d m=%%d shift=%%d offset=%%d: %%d, expected %%d\n", x, m, s, offset, y, (int)v);
                }
            }
        }
        if (RQ_APPLY(x, &q, &o) != expected) {
            if (bad++ < 5) {
                printf("x=%%d m=%%d shift=%%d offset=%%d: %%d, expected %%d\n", x, m, s, offset,
                       RQ_APPLY(x, &q, &o), expected);
            }
        }
    }
    printf("%%ld checked (%%ld by the shortcut of the usual constants too), %%ld wrong\n", n, nfast, bad);
    return bad != 0 || nfast < n / 10;
}
"""


def compile_and_run(tmp_path, text, source, flags=()):
    """Build a C program that #includes a kernel file (linked with the runtime's other files: the checks the file
    calls), run it: (exit status, output)."""
    import subprocess
    check = tmp_path / "program.c"
    check.write_text(text)
    exe = tmp_path / "program"
    others = [str(p) for p in c_runtime.kernel_sources() if p.name != source]
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wno-unused-function", *flags, "-I", str(c_runtime.SOURCES),
                    "-o", str(exe), str(check), *others], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    return out.returncode, out.stdout


# Cortex-M0 builds (PML_NO_LIBGCC) multiply and divide without libgcc; the host can build that arithmetic too.
ARITHMETIC = [(), ("-DPML_NO_LIBGCC",)]


@pytest.mark.parametrize("flags", ARITHMETIC, ids=["native", "no_libgcc"])
@pytest.mark.parametrize("source", ["conv.c", "depthwise_conv.c", "fully_connected.c"])
def test_requantization_equals_multiply_by_quantized_multiplier(tmp_path, source, flags):
    """Each kernel's requantization shortcut against fixedpoint.h's pml_mbqm on 3 million values: random and
    extreme accumulators, multipliers and shifts, both signs of shift, rounding ties, clamps."""
    status, out = compile_and_run(tmp_path, REQUANT_CHECK % {"source": c_runtime.SOURCES / source}, source, flags)
    assert status == 0, out


def test_armv6m_requantization_equals_multiply_by_quantized_multiplier(tmp_path):
    """The Armv6-M kernels' requantization (32-bit operations only) on the same 3 million values."""
    flags = ("-DPML_NO_LIBGCC", "-DPML_ARMV6M_PORTABLE", "-DRQ_T=rq6_t", "-DRQ_INIT=pml_armv6m_rq6_init",
             "-DRQ_APPLY=rq6_apply")
    source = "requantize_armv6m.h"
    status, out = compile_and_run(tmp_path, REQUANT_CHECK % {"source": c_runtime.SOURCES / source}, source, flags)
    assert status == 0, out


AVERAGE_CHECK = r"""
#include "%(source)s"
#include <stdio.h>
/* rounded_average() against C's division, for every sum a window of `count` int8 values can have, and for
 * windows around 2^25 values (where the no-libgcc division changes method) at sums near whole and half multiples
 * of count, up to the int32 limits */
static long bad = 0;

static void one(int32_t sum, int32_t count) {
    const int32_t expected = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    if (rounded_average(sum, count) != expected && bad++ < 5) {
        printf("sum %%d count %%d: %%d, expected %%d\n", sum, count, rounded_average(sum, count), expected);
    }
}

int main(void) {
    for (int32_t count = 1; count <= 1100; count += count < 80 ? 1 : 37) {
        for (int32_t sum = -128 * count; sum <= 127 * count; sum++) {
            one(sum, count);
        }
    }
    const int32_t large[] = {(1 << 24) + 1, (1 << 25) - 1, 1 << 25, (1 << 25) + 1, 3 << 25, 1 << 30};
    for (int k = 0; k < 6; k++) {
        const int32_t count = large[k];
        for (int64_t m = -128; m <= 127; m++) {
            for (int32_t d = -2; d <= 2; d++) {
                for (int h = 0; h < 2; h++) {
                    const int64_t sum = m * count + h * (count / 2) + d;
                    if ((sum < 0 ? -sum : sum) + count / 2 <= 2147483647) {     /* C's division's own range */
                        one((int32_t)sum, count);
                    }
                }
            }
        }
    }
    return bad != 0;
}
"""


@pytest.mark.parametrize("flags", ARITHMETIC, ids=["native", "no_libgcc"])
def test_rounded_average(tmp_path, flags):
    status, out = compile_and_run(tmp_path, AVERAGE_CHECK % {"source": c_runtime.SOURCES / "pooling.c"}, "pooling.c",
                                  flags)
    assert status == 0, out


# ---- memory safety --------------------------------------------------------------------------------------------

SANITIZED_RUN = r"""
import sys
sys.path.insert(0, %(tests)r)
from picoml.runtimes import bare, c as c_runtime
import test_c_conv as t
lib = c_runtime.load("libpicoml_asan.so")
t.run_cases(lib, 1, 60, lambda rng: t.conv_case(rng, n=int(rng.choice([1, 2]))))
t.run_cases(lib, 2, 60, lambda rng: t.conv_case(rng, depthwise=True, n=int(rng.choice([1, 2]))))
t.run_cases(lib, 3, 40, t.fc_case)
t.run_cases(lib, 4, 40, lambda rng: t.pool_case(rng, "AVERAGE_POOL_2D"))
t.run_cases(lib, 5, 40, lambda rng: t.pool_case(rng, "MAX_POOL_2D"))
t.test_conv_long_patches(lib)
print("ok")
"""


@pytest.mark.slow
def test_kernels_under_address_sanitizer(tmp_path):
    """Random cases with the library built with AddressSanitizer and UBSan: no read or write outside the
    arena's and the model's buffers (numpy and bytes objects, allocated by the sanitizer's malloc), no
    undefined behaviour. This build also takes the Cortex-M0 arithmetic (PML_NO_LIBGCC): the results are
    compared with the reference as everywhere else."""
    import os
    import subprocess
    import sys
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    libubsan = subprocess.run(["gcc", "-print-file-name=libubsan.so"], capture_output=True, text=True).stdout.strip()
    if not (os.path.isabs(libasan) and os.path.isabs(libubsan)):
        pytest.skip("gcc has no AddressSanitizer runtime here")
    script = tmp_path / "run.py"
    script.write_text(SANITIZED_RUN % {"tests": str(pathlib.Path(__file__).parent)})
    env = dict(os.environ, LD_PRELOAD="%s %s" % (libasan, libubsan), ASAN_OPTIONS="detect_leaks=0",
               PYTHONMALLOC="malloc")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
