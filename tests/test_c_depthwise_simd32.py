"""DEPTHWISE_CONV_2D's Cortex-M4 kernel (native_module/depthwise_conv_s8_simd32.c) gives the numpy reference's
bytes: its C twin in the host library of the M4 code paths (libpicoml_m4.so, -DPML_SIMD32_PORTABLE) on the
shapes that take each of its paths (3x3 stride-1 pairs along rows or columns with their single pixels, a ring of
lines, any other filter one pixel at a time, windows in the padding) and on those it leaves to the generic kernel
(channels past a multiple of 4, more than 25 taps, shifts >= 0 or < -22, biases near 2^30), and depth
multipliers > 1 (their own path);
its assembly on the emulated Cortex-M4 (bare-metal kernels) on a selection of the same models.

tests/test_c_conv.py checks the generic kernel the same way; bench: tests/bench (picoml bench --on bare-m4)."""
import numpy as np
import pytest

import test_c_conv as t
from picoml import format
from picoml.runtimes import c as c_runtime

SAME, VALID = t.SAME, t.VALID


@pytest.fixture(scope="module")
def lib():
    return c_runtime.load("libpicoml_m4.so")


def typical_quantization(rng, sumsq, per_channel, saturate=False):
    """Multipliers in [2^30, 2^31) and shifts as a trained layer has them: every group takes the fast
    requantization (test_c_conv.quantization's wild shifts send most groups of 64 channels to the generic
    kernel)."""
    n = len(sumsq) if per_channel else 1
    std = 50 * np.sqrt(np.maximum(sumsq if per_channel else [np.mean(sumsq)], 1))
    shifts = np.clip(np.floor(np.log2(48 / std)).astype(np.int64) + rng.integers(-1, 2, n), -22, -1)
    if saturate:
        shifts = np.minimum(shifts + rng.integers(3, 13, n), -1)
    return rng.integers(1 << 30, 1 << 31, n).astype(np.int32), shifts.astype(np.int32)


def case(rng, typical=True, **fixed):
    """A random depthwise model (test_c_conv.conv_case), with typical quantization unless `typical` is False;
    its bias is drawn again when conv_case gave it wrapping values (1 time in 20) and `typical`."""
    saved = t.quantization
    if typical:
        t.quantization = typical_quantization
    try:
        while True:
            model, zp = t.conv_case(rng, depthwise=True, **fixed)
            bias = model.tensors[model.ops[0].inputs[2]].data
            if not typical or np.abs(bias.astype(np.int64)).max() < 1 << 29:
                return model, zp
    finally:
        t.quantization = saved


def check(lib, model, zp, rng, count=3):
    t.check(lib, model, t.random_inputs(rng, model.tensors[0].shape, zp, count))


# (hw, k, stride, dilation, padding): 3x3 stride-1 pairs along rows (even width) or columns (DS-CNN's 25x5),
# single pixels at the end of odd lines, lines longer than the buffer (strips; one pixel at a time when
# neither rows nor columns fit), other filters, strides and dilations one pixel at a time
SHAPES = [
    ((25, 5), (3, 3), (1, 1), (1, 1), SAME),
    ((5, 25), (3, 3), (1, 1), (1, 1), SAME),
    ((6, 8), (3, 3), (1, 1), (1, 1), SAME),
    ((7, 7), (3, 3), (1, 1), (1, 1), SAME),
    ((9, 6), (3, 3), (1, 1), (1, 1), VALID),
    ((3, 3), (3, 3), (1, 1), (1, 1), VALID),
    ((1, 1), (3, 3), (1, 1), (1, 1), SAME),
    ((2, 1), (3, 3), (1, 1), (1, 1), SAME),
    ((40, 30), (3, 3), (1, 1), (1, 1), SAME),
    ((4, 100), (3, 3), (1, 1), (1, 1), SAME),
    ((90, 90), (3, 3), (1, 1), (1, 1), SAME),
    ((12, 12), (3, 3), (2, 2), (1, 1), SAME),
    ((11, 9), (3, 3), (1, 1), (2, 2), SAME),
    ((10, 9), (3, 2), (2, 1), (2, 3), SAME),
    ((12, 12), (5, 5), (1, 1), (1, 1), SAME),
    ((8, 8), (4, 4), (1, 1), (1, 1), SAME),
    ((5, 5), (1, 1), (1, 1), (1, 1), VALID),
    ((3, 2), (5, 4), (1, 1), (1, 1), SAME),
    ((9, 9), (6, 6), (1, 1), (1, 1), SAME),      # 36 taps: the generic kernel
    ((50, 9), (3, 3), (1, 1), (1, 1), SAME),     # lines of 50: rings of 1,296 bytes
    ((100, 70), (3, 3), (1, 1), (1, 1), SAME),   # lines of 70 to 130: rings of two channels
    ((134, 133), (3, 3), (1, 1), (1, 1), VALID),  # lines of 131 to 264: rings of one channel
    ((30, 1), (5, 1), (1, 1), (1, 1), VALID),     # filters of one column (str_ww): the taps in one loop
    ((24, 1), (10, 1), (1, 1), (1, 1), SAME),
    ((15, 1), (15, 1), (1, 1), (1, 1), VALID),
    ((20, 3), (3, 1), (2, 1), (2, 1), SAME),
]


def shape_id(s):
    return "%dx%d_k%dx%d_s%d%d_d%d%d_%s" % (*s[0], *s[1], *s[2], *s[3], "same" if s[4] == SAME else "valid")


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_shapes(lib, shape):
    hw, k, stride, dilation, padding = shape
    rng = np.random.default_rng(sum(hw + k + stride + dilation) + padding)
    for ic in (4, 8, 64, 1, 6, 17):
        for per_channel in (True, False):
            for in_zp in (-128, 0, int(rng.integers(-100, 100)), 127):
                model, zp = case(rng, hw=hw, k=k, stride=stride, dilation=dilation, padding=padding, ic=ic,
                                 multiplier=1, per_channel=per_channel, in_zp=in_zp, n=int(rng.choice([1, 2])))
                check(lib, model, zp, rng, 2)


@pytest.mark.parametrize("seed", range(4))
def test_random(lib, seed):
    """Random shapes, multipliers, activations and zero points, typical and test_c_conv's wild quantization."""
    rng = np.random.default_rng(1300 + seed)
    for i in range(60):
        model, zp = case(rng, typical=i % 3 != 0, n=int(rng.choice([1, 1, 2])))
        check(lib, model, zp, rng)


@pytest.mark.parametrize("saturate", [False, True])
def test_activation_ranges(lib, saturate):
    """[-128, 127] (SSAT), ReLU and narrow ranges, outputs driven to the limits."""
    rng = np.random.default_rng(1400 + saturate)
    for i in range(30):
        model, zp = case(rng, hw=(6, 5), k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME,
                         ic=int(rng.choice([4, 8, 12])), multiplier=1, saturate=saturate)
        check(lib, model, zp, rng)


def single(rng, ic, bias=None, multipliers=None, shifts=None, in_zp=-128, out_zp=-128, hw=(5, 4)):
    """A 3x3 SAME depthwise model with the given constants (the rest random)."""
    model, zp = case(rng, hw=hw, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME, ic=ic, multiplier=1,
                     per_channel=True, in_zp=in_zp, out_zp=out_zp)
    op = model.ops[0]
    for index, values in ((2, bias), (3, multipliers), (4, shifts)):
        if values is not None:
            model.tensors[op.inputs[index]].data[:] = values
    return model, zp


def test_requantization_limits(lib):
    """Each channel of a group on either side of the fast requantization's conditions: shifts -1, -22 (fast)
    and -23, -31, 0, 5 (generic), zero multipliers, biases at +-(2^30 - 2^19) and past them, int32's limits."""
    rng = np.random.default_rng(1500)
    shifts = [-1, -22, -23, -31, 0, 5, -8, -1]
    for lo_shift in range(0, 8, 4):
        s = np.array((shifts * 2)[lo_shift:lo_shift + 8] * 2, np.int32)
        model, zp = single(rng, 16, shifts=s)
        check(lib, model, zp, rng)
    edge = (1 << 30) - (1 << 19)
    bias = np.array([edge - 1, -edge + 1, edge, -edge, 1 << 30, -(1 << 30), 2 ** 31 - 1, -2 ** 31], np.int64)
    model, zp = single(rng, 8, bias=bias.astype(np.int32), shifts=np.full(8, -28, np.int32))
    check(lib, model, zp, rng)
    model, zp = single(rng, 8, bias=bias.astype(np.int32))
    check(lib, model, zp, rng)
    model, zp = single(rng, 8, multipliers=np.array([0, 1 << 30, 0, 2 ** 31 - 1] * 2, np.int32))
    check(lib, model, zp, rng)


# depth multiplier > 1 (one pixel at a time, one input value or the group's gathered input bytes per tap):
# multipliers whose groups of four output channels read one, two or four input channels, output channels past a
# multiple of 4, strides, dilations, windows in the padding (copied to the scratch) or not, any number of taps
# (the anomaly model's 1x128 filter, stride 32), per-tensor quantization
MULTIPLIER_SHAPES = [
    ((6, 5), (3, 3), (1, 1), (1, 1), SAME),
    ((7, 8), (3, 2), (2, 1), (1, 1), VALID),
    ((9, 7), (3, 3), (2, 2), (2, 1), SAME),
    ((5, 5), (5, 5), (1, 1), (1, 1), SAME),
    ((4, 4), (1, 1), (1, 1), (1, 1), VALID),
    ((8, 8), (6, 6), (1, 1), (1, 1), SAME),
    ((1, 256), (1, 128), (1, 32), (1, 1), VALID),
]


@pytest.mark.parametrize("multiplier", [2, 3, 4, 36])
@pytest.mark.parametrize("ic", [1, 3, 4, 5])
def test_multipliers(lib, multiplier, ic):
    rng = np.random.default_rng(1600 + 10 * multiplier + ic)
    for s in MULTIPLIER_SHAPES:
        model, zp = case(rng, hw=s[0], k=s[1], stride=s[2], dilation=s[3], padding=s[4], ic=ic,
                         multiplier=multiplier, per_channel=bool(rng.integers(0, 2)), n=int(rng.choice([1, 2])))
        check(lib, model, zp, rng)
    model, zp = case(rng, typical=False, ic=ic, multiplier=multiplier)
    check(lib, model, zp, rng)


def test_multiplier_large_window_falls_back(lib):
    """Windows in the padding whose copy would exceed PATCH_BYTES (9x9 taps of 32 channels) take the generic
    kernel; so do constants the requantization does not take."""
    rng = np.random.default_rng(1690)
    model, zp = case(rng, hw=(4, 4), k=(9, 9), stride=(1, 1), dilation=(1, 1), padding=SAME, ic=32, multiplier=2)
    check(lib, model, zp, rng)
    model, zp = case(rng, typical=False, hw=(4, 4), k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME, ic=4,
                     multiplier=3)
    check(lib, model, zp, rng)


# ---- the assembly on the emulated Cortex-M4 -------------------------------------------------------------------

@pytest.mark.emulated
def test_emulated_m4():
    """The bare-metal kernels (armv7emsp, inline assembly) on models that take every path of the kernel."""
    from picoml import reference
    from picoml.runtimes import bare
    bare.require_tools()
    rng = np.random.default_rng(1700)
    made = [case(rng, hw=s[0], k=s[1], stride=s[2], dilation=s[3], padding=s[4], ic=ic, multiplier=1,
                 per_channel=pc, n=n)
            for s, ic, pc, n in ((SHAPES[0], 64, True, 1), (SHAPES[1], 12, False, 1), (SHAPES[2], 8, True, 2),
                                 (SHAPES[3], 20, True, 1), (SHAPES[4], 6, True, 1), (SHAPES[7], 4, False, 1),
                                 (SHAPES[9], 8, True, 1), (SHAPES[10], 4, True, 1), (SHAPES[11], 8, True, 1),
                                 (SHAPES[13], 5, True, 1), (SHAPES[14], 16, True, 1),
                                 (SHAPES[22], 8, True, 1), (SHAPES[23], 12, False, 1), (SHAPES[25], 4, True, 2))]
    made += [case(rng, hw=(7, 6), k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME, ic=8, multiplier=1,
                  saturate=True) for _ in range(3)]
    # rings of two channels (the last group one channel) and of one
    made += [case(rng, hw=hw, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=p, ic=ic, multiplier=1,
                  per_channel=True) for hw, p, ic in (((90, 70), SAME, 5), ((140, 135), VALID, 2))]
    # lines of 10 (two outputs past the blocks of four) and 7 (three), a group of 4 channels and one of 2 or 3
    made += [case(rng, hw=hw, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME, ic=ic, multiplier=1,
                  per_channel=True) for hw, ic in (((10, 6), 6), ((7, 9), 7))]
    made += [case(rng, hw=s[0], k=s[1], stride=s[2], dilation=s[3], padding=s[4], ic=ic, multiplier=m,
                  per_channel=pc) for s, ic, m, pc in ((MULTIPLIER_SHAPES[0], 1, 36, True),
                                                       (MULTIPLIER_SHAPES[1], 3, 2, True),
                                                       (MULTIPLIER_SHAPES[2], 5, 3, False),
                                                       (MULTIPLIER_SHAPES[3], 4, 2, True),
                                                       (MULTIPLIER_SHAPES[6], 6, 36, True))]
    made += [single(rng, 16, shifts=np.array([-1, -22, -23, 0] * 4, np.int32)), case(rng, typical=False, ic=17)]
    for model, zp in made:
        xs = t.random_inputs(rng, model.tensors[0].shape, zp, 3)
        got = bare.run("m4", format.write(model), xs, count_insns=False)
        for x, out in zip(xs, got.outputs):
            np.testing.assert_array_equal(out[0], reference.run(model, [x])[0], err_msg=str(model.ops[0].params))
