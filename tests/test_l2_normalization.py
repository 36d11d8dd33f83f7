"""L2_NORMALIZATION (op code 34, format version 6; tf.math.l2_normalize): single-op models of random shapes and zero
points, rows of zeros, of one value and of the extremes, against TFLite Micro in the reference and the C kernels
(portable, M4 and M0 code paths); its inverse square root against TFLite Micro's over every sum of squares a row of
up to 4 values can have; the generated l2_norm model runs it on every runtime (test_runtimes.py); refusals."""
import numpy as np
import pytest

from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from picoml.ops.nonlinear import inv_sqrt_multiplier
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def l2_model(shape, zero_point, out_quant=(1 / 128, 0), activation=0):
    g = Graph()
    x = g.tensor(shape, scale=0.05, zero_point=zero_point, model_input=True)
    y = g.tensor(shape, scale=out_quant[0], zero_point=out_quant[1])
    g.op("L2_NORMALIZATION", [x], [y], ("L2NormOptions", {"fusedActivationFunction": activation}))
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_l2_normalization(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 9, int(rng.integers(1, 5))))
    zero_point = int(rng.integers(-128, 128))
    model = same_as_tflite_micro(l2_model(shape, zero_point), seed)
    assert [op.name for op in model.ops] == ["L2_NORMALIZATION"]


def test_rows_of_zeros_ones_and_extremes():
    """Sums of squares 0 and 1 (TFLite Micro's special case), one value, the largest a row of 300 can have."""
    data = l2_model((6, 300), -128)
    oracle = Oracle(data)
    x = np.full((6, 300), -128, np.int8)       # row 0: all at the zero point (sum 0)
    x[1, 7] = -127                             # sum 1
    x[2, 0] = 100                              # one value
    x[3] = 127                                 # every value 255 from the zero point
    x[4, ::2] = 127                            # every other
    x[5] = np.arange(300) % 256 - 128
    want = np.asarray(oracle.run([x])[0]).reshape(-1)
    same_as_tflite_micro(data, 0, lambda inputs: oracle.run(inputs))
    from picoml import reference
    got = reference.run(convert(data, "l2", measure_tflm=False), [x])[0].reshape(-1)
    assert np.array_equal(want, got)


def test_inverse_square_root_of_every_small_sum():
    """A row [a, b] with a zero point of 0 has sum a^2 + b^2: every sum up to 2 * 128^2 that two int8 values make,
    through TFLite Micro (one model, 128 x 129 rows), against inv_sqrt_multiplier's outputs via the reference."""
    a, b = np.meshgrid(np.arange(-128, 0), np.arange(-128, 1), indexing="ij")
    x = np.stack([a.reshape(-1), b.reshape(-1)], axis=1).astype(np.int8)
    data = l2_model(x.shape, 0)
    want = np.asarray(Oracle(data).run([x])[0]).reshape(x.shape)
    from picoml import reference
    got = reference.run(convert(data, "l2", measure_tflm=False), [x])[0].reshape(x.shape)
    assert np.array_equal(want, got)
    assert inv_sqrt_multiplier(0) == inv_sqrt_multiplier(1) == ((1 << 31) - 1, 0)
    multiplier, shift = inv_sqrt_multiplier(4)                 # 1/2 = multiplier 2^(shift - 31)
    assert abs(multiplier * 2.0 ** (shift - 31) - 0.5) < 1e-6


@pytest.mark.parametrize("out_quant, activation, message", [
    ((0.01, 0), 0, "scale 0.0078125 and zero point 0"),
    ((1 / 128, 0), 1, "a fused activation"),
])
def test_refusals(out_quant, activation, message):
    with pytest.raises(UnsupportedModelError, match=message):
        convert(l2_model((1, 4), 0, out_quant, activation), "l2", measure_tflm=False)
