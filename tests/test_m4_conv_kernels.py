"""The Cortex-M4 CONV_2D and FULLY_CONNECTED kernels (native_module/*_simd32.c, their inner loops in assembly
there) on the emulated Cortex-M4 (bare-m4: QEMU mps2-an386): single-op models of the shapes around their block
sizes and special cases give the numpy reference's bytes. Their portable twins run the same cases on the host
(test_c_conv.py, library variant m4); the whole models: test_runtimes.py."""
import numpy as np
import pytest

from picoml import format, reference
from picoml.runtimes import bare
from test_c_conv import SAME, VALID, conv_case, fc_case, random_inputs

pytestmark = pytest.mark.emulated


@pytest.fixture(scope="module")
def images():
    missing = bare.missing_tools()
    if missing:
        pytest.fail("emulators missing (%s): run scripts/install-system-packages.sh" % ", ".join(missing))
    return bare.built_images()


def check_on_m4(images, model, zp, count=2, seed=0):
    rng = np.random.default_rng(seed)
    shape = model.tensors[model.inputs[0].tensor].shape
    xs = random_inputs(rng, shape, zp, count)
    result = bare.run("m4", format.write(model), xs, images, count_insns=False, model=model)
    for x, got in zip(xs, result.outputs):
        expected = reference.run(model, [x])[0]
        if not np.array_equal(got[0], expected):
            op = model.ops[0]
            bad = np.argwhere(got[0] != expected)
            raise AssertionError("%s %s %s: %d of %d values differ, first at %s"
                                 % (op.name, [model.tensors[i].shape for i in op.inputs[:2]], op.params, len(bad),
                                    expected.size, bad[0].tolist()))


# (hw, k, stride, dilation, padding, in channels, out channels): pointwise read in place (patch lengths with
# an odd or even number of 4-byte words, a 1..3-byte tail), pointwise through the gathered patch (strided),
# general windows with padding, strides and dilation, pixel counts that leave 1..3 pixels of the last block
CONV_SHAPES = [
    ((5, 5), (1, 1), (1, 1), (1, 1), VALID, 64, 64),
    ((5, 5), (1, 1), (1, 1), (1, 1), VALID, 4, 3),
    ((3, 3), (1, 1), (1, 1), (1, 1), SAME, 8, 5),
    ((2, 3), (1, 1), (1, 1), (1, 1), VALID, 12, 7),
    ((7, 1), (1, 1), (1, 1), (1, 1), VALID, 1, 2),
    ((3, 2), (1, 1), (1, 1), (1, 1), VALID, 3, 9),
    ((4, 4), (1, 1), (1, 1), (1, 1), VALID, 17, 33),
    ((1, 1), (1, 1), (1, 1), (1, 1), VALID, 40, 16),
    ((3, 5), (1, 1), (1, 1), (1, 1), VALID, 256, 3),
    ((6, 6), (1, 1), (2, 2), (1, 1), VALID, 16, 8),
    ((49, 10), (10, 4), (2, 2), (1, 1), SAME, 1, 64),
    ((7, 7), (3, 3), (1, 1), (1, 1), SAME, 3, 8),
    ((8, 7), (3, 2), (2, 2), (1, 1), SAME, 5, 7),
    ((9, 9), (3, 3), (1, 1), (2, 2), SAME, 2, 4),
    ((10, 9), (3, 2), (2, 1), (2, 3), SAME, 1, 3),
    ((3, 2), (5, 4), (1, 1), (1, 1), SAME, 2, 5),
    ((6, 6), (3, 3), (1, 1), (1, 1), VALID, 16, 16),
    ((5, 5), (3, 3), (1, 1), (1, 1), SAME, 32, 4),
    ((4, 4), (1, 1), (1, 1), (1, 1), VALID, 20, 6),     # patches of 5 and 9 words: the loop entered one k-step
    ((5, 5), (3, 3), (1, 1), (1, 1), SAME, 4, 6),       # before its first two-step (n4 % 4 == 1)
    ((3, 3), (1, 1), (1, 1), (1, 1), VALID, 24, 5),     # patches of 6 and 7 words: entered at the loop's second
    ((3, 3), (1, 1), (1, 1), (1, 1), VALID, 28, 5),     # two-step (n4 % 8 == 6, 7)
    ((16, 16), (3, 3), (1, 1), (1, 1), SAME, 16, 16),   # patches too long for the columns of 4 pixels in the
    ((6, 6), (1, 1), (1, 1), (1, 1), VALID, 256, 64),   # scratch: in the output ahead of their block, the last
    ((9, 9), (3, 3), (1, 1), (1, 1), SAME, 13, 24),     # blocks 2 pixels at a time (a 1-byte tail: 13 x 9)
    ((5, 4), (3, 3), (1, 1), (1, 1), SAME, 32, 7),      # no room ahead at all: 2 pixels at a time throughout
]


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "%dx%d_k%dx%d_s%d%d_d%d%d_%s_%d_%d" % (
    *s[0], *s[1], *s[2], *s[3], "same" if s[4] == SAME else "valid", s[5], s[6]))
def test_conv_on_m4(images, shape):
    hw, k, stride, dilation, padding, ic, oc = shape
    rng = np.random.default_rng(sum(hw + k + stride + dilation) + 7 * ic + oc)
    for per_channel, saturate in ((True, False), (False, False), (True, True)):
        model, zp = conv_case(rng, hw=hw, k=k, stride=stride, dilation=dilation, padding=padding, ic=ic, oc=oc,
                              per_channel=per_channel, saturate=saturate, n=1 + int(rng.integers(2)))
        check_on_m4(images, model, zp, seed=ic + oc)


@pytest.mark.parametrize("shape", [(1, 64), (1, 640), (2, 40), (3, 17), (1, 3), (1, 4000), (4, 8), (1, 1)])
def test_fully_connected_on_m4(images, shape):
    rng = np.random.default_rng(sum(shape))
    for units in (1, 3, 4, 12, 33):
        for per_channel in (False, True):
            model, zp = fc_case(rng, shape, units, per_channel)
            check_on_m4(images, model, zp, seed=units)
