"""SQUARED_DIFFERENCE (op code 32, format version 5; Keras's LayerNormalization): single-op models of random shapes,
broadcasts and quantizations against TFLite Micro in the reference and the C kernels (portable, M4 and M0 code
paths), every pair of input values once; the generated layer_norm model runs it on every runtime
(test_runtimes.py)."""
import numpy as np
import pytest

from picoml import reference
from picoml.convert import convert
from picoml.oracle import Oracle
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast

SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (1, 1, 4)), ((1, 5), (5,)), ((4, 1, 3), (1, 2, 3)), ((3,), (1,))]


def model(rng, shape1, shape2, same_scales=False):
    g = Graph()
    scale = float(10 ** rng.uniform(-2.5, 0))
    a = g.tensor(shape1, scale=scale, zero_point=int(rng.integers(-128, 128)), model_input=True)
    b = g.tensor(shape2, scale=scale if same_scales else float(10 ** rng.uniform(-2.5, 0)),
                 zero_point=int(rng.integers(-128, 128)), model_input=True)
    out_shape = np.broadcast_shapes(shape1, shape2)
    y = g.tensor(out_shape, scale=float(10 ** rng.uniform(-3, 1)), zero_point=int(rng.integers(-128, 128)))
    g.op("SQUARED_DIFFERENCE", [a, b], [y])
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(20))
def test_squared_difference(seed):
    rng = np.random.default_rng(seed)
    shape1, shape2 = SHAPES[seed % len(SHAPES)]
    model_ = same_as_tflite_micro(model(rng, shape1, shape2, same_scales=seed % 4 == 0), seed)
    assert [op.name for op in model_.ops] == ["SQUARED_DIFFERENCE"]


@pytest.mark.parametrize("seed", range(4))
def test_every_pair_of_values(seed):
    rng = np.random.default_rng(100 + seed)
    data = model(rng, (256, 256), (256, 256))
    every = np.arange(256, dtype=np.uint8).view(np.int8)
    x = [np.repeat(every[:, None], 256, 1), np.repeat(every[None, :], 256, 0)]
    got = reference.run(convert(data, "sd", measure_tflm=False), x)[0]
    assert np.array_equal(np.asarray(Oracle(data).run(x)[0]), got)
    same_as_tflite_micro(data, seed)
