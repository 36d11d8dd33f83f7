"""BATCH_MATMUL (op code 30, format version 5): single-op models of random shapes, adj_x / adj_y, broadcast batch
axes, scales and zero points against TFLite Micro, in the reference and the C kernels (portable, M4 and M0 code
paths); the generated attention model runs it on every runtime (test_runtimes.py); refusals and the load-time
rules."""
import numpy as np
import pytest

from picoml import format
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast

# (lhs batch axes, rhs batch axes): none, the same, broadcast either way, rank 3 against 4
BATCHES = [((), ()), ((3,), (3,)), ((3,), ()), ((), (2,)), ((2, 3), (2, 3)), ((2, 1), (1, 3)), ((1, 3), (3,)),
           ((2, 3), (1, 3))]


def matmul_model(rng, lhs_batch, rhs_batch, adj_x, adj_y, m, k, n, constant_rhs=False):
    g = Graph()
    lshape = tuple(lhs_batch) + ((k, m) if adj_x else (m, k))
    rshape = tuple(rhs_batch) + ((n, k) if adj_y else (k, n))
    a = g.tensor(lshape, scale=float(rng.uniform(0.005, 0.2)), zero_point=int(rng.integers(-128, 128)),
                 model_input=True)
    if constant_rhs:
        b = g.tensor(rshape, rng.integers(-128, 128, rshape).astype(np.int8), scale=float(rng.uniform(0.005, 0.2)),
                     zero_point=int(rng.integers(-128, 128)))
    else:
        b = g.tensor(rshape, scale=float(rng.uniform(0.005, 0.2)), zero_point=int(rng.integers(-128, 128)),
                     model_input=True)
    batch = np.broadcast_shapes(tuple(lhs_batch), tuple(rhs_batch))
    y = g.tensor(batch + (m, n), scale=float(rng.uniform(0.02, 2)), zero_point=int(rng.integers(-128, 128)))
    g.op("BATCH_MATMUL", [a, b], [y], ("BatchMatMulOptions", {"adjX": adj_x, "adjY": adj_y}))
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_batch_matmul(seed):
    rng = np.random.default_rng(seed)
    lhs_batch, rhs_batch = BATCHES[seed % len(BATCHES)]
    m, k, n = (int(v) for v in rng.integers(1, 9, 3))
    data = matmul_model(rng, lhs_batch, rhs_batch, bool(seed % 2), bool(seed // 2 % 2), m, k, n,
                        constant_rhs=seed % 7 == 3)
    model = same_as_tflite_micro(data, seed)
    assert [op.name for op in model.ops] == ["BATCH_MATMUL"]


def test_long_sums_wrap_as_tflite_micro():
    """Depth 4096, zero points 127: sums of products up to 255 x 255 reach about 2^26."""
    g = Graph()
    a = g.tensor((2, 4096), scale=0.001, zero_point=127, model_input=True)
    b = g.tensor((4096, 3), scale=0.001, zero_point=127, model_input=True)
    y = g.tensor((2, 3), scale=1.0, zero_point=-128)
    g.op("BATCH_MATMUL", [a, b], [y], ("BatchMatMulOptions", {"adjX": False, "adjY": False}))
    same_as_tflite_micro(g.bytes([y]), 7)


@pytest.mark.parametrize("lshape, rshape, oshape, message", [
    ((2, 3, 4), (2, 5, 6), (2, 3, 6), "does not give"),
    ((2, 3, 4), (3, 4, 6), (3, 3, 6), "does not give"),
    ((1, 1, 2, 3, 4), (4, 5), (1, 1, 2, 3, 5), "2 to 4 dimensions"),
])
def test_shapes_that_do_not_multiply_are_refused(lshape, rshape, oshape, message):
    g = Graph()
    a, b = g.tensor(lshape, model_input=True), g.tensor(rshape, model_input=True)
    y = g.tensor(oshape)
    g.op("BATCH_MATMUL", [a, b], [y], ("BatchMatMulOptions", {"adjX": False, "adjY": False}))
    with pytest.raises(UnsupportedModelError, match=message):
        convert(g.bytes([y]), "bmm", measure_tflm=False)


@pytest.mark.parametrize("field, value, message", [
    ("adj_x", 2, "adj_x must be 0 or 1"),
    ("output_multiplier", -2147483648, "output_multiplier must not be -2147483648"),
    ("rhs_offset", 129, "rhs_offset must be -127..128"),
])
def test_out_of_range_params_are_refused_at_load(field, value, message):
    rng = np.random.default_rng(1)
    model = convert(matmul_model(rng, (2,), (), False, False, 3, 4, 5), "bmm", measure_tflm=False)
    model.ops[0].params[field] = value
    with pytest.raises(format.FormatError, match=message):
        format.validate(format.write(model))
