"""DIV (op code 36, format version 6; int8 division: Keras's softsign, a division of two activations): single-op
models of random shapes (broadcast too), scales and fused activations, divisors of 0 among them, against TFLite
Micro in the reference and the C kernels (portable, M4 and M0 code paths); the generated softsign model runs it on
every runtime (test_runtimes.py); scales whose shift TFLite Micro's arithmetic leaves undefined are refused."""
import numpy as np
import pytest

from picoml import reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def div_model(shape1, shape2, out_shape, scales, zero_points, activation=0):
    g = Graph()
    a = g.tensor(shape1, scale=scales[0], zero_point=zero_points[0], model_input=True)
    b = g.tensor(shape2, scale=scales[1], zero_point=zero_points[1], model_input=True)
    y = g.tensor(out_shape, scale=scales[2], zero_point=zero_points[2])
    g.op("DIV", [a, b], [y], ("DivOptions", {"fusedActivationFunction": activation}))
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_div(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 4))))
    other = shape if seed % 3 else tuple(1 if rng.random() < 0.5 else d for d in shape)
    s1, s2 = (float(v) for v in rng.uniform(0.005, 0.3, 2))
    # quotients of typical values in range (shifts 7..10), or most of them saturated (shifts up to 21)
    scales = (s1, s2, s1 / s2 / float(rng.uniform(2 ** 6.5, 2 ** 9) if seed % 4 else rng.uniform(2 ** 9, 2 ** 21)))
    zero_points = tuple(int(v) for v in rng.integers(-128, 128, 3))
    data = div_model(shape, other, shape, scales, zero_points, seed % 3)
    model = same_as_tflite_micro(data, seed)
    assert [op.name for op in model.ops] == ["DIV"]


def test_every_pair_of_values():
    """Every int8 dividend over every int8 divisor (the divisor's zero point among them: TFLite Micro's
    reciprocal of 0), one model of 256 x 256 values."""
    x1 = np.repeat(np.arange(-128, 128), 256).astype(np.int8).reshape(1, 65536)
    x2 = np.tile(np.arange(-128, 128), 256).astype(np.int8).reshape(1, 65536)
    data = div_model((1, 65536), (1, 65536), (1, 65536), (0.02, 0.05, 0.4 / 256), (5, -7, 11))
    want = np.asarray(Oracle(data).run([x1, x2])[0]).reshape(-1)
    got = reference.run(convert(data, "div", measure_tflm=False), [x1, x2])[0].reshape(-1)
    assert np.array_equal(want, got)
    same_as_tflite_micro(data, 1, lambda inputs: Oracle(data).run(inputs))


@pytest.mark.parametrize("scales", [(0.1, 0.1, 0.1), (1.0, 0.001, 1e-6)])
def test_scales_whose_shift_leaves_7_to_22_are_refused(scales):
    with pytest.raises(UnsupportedModelError, match="outside 7..22"):
        convert(div_model((1, 4), (1, 4), (1, 4), scales, (0, 0, 0)), "div", measure_tflm=False)
