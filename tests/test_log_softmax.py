"""LOG_SOFTMAX (op code 35, format version 6; tf.nn.log_softmax): single-op models of random shapes and input scales,
against TFLite Micro in the reference and the C kernels (portable, M4 and M0 code paths), rows of ties, one hot and
spread over the whole range; the generated log_softmax model runs it on every runtime (test_runtimes.py);
refusals."""
import numpy as np
import pytest

from picoml import reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def log_softmax_model(shape, scale, zero_point=3, out_quant=(16 / 256, 127)):
    g = Graph()
    x = g.tensor(shape, scale=scale, zero_point=zero_point, model_input=True)
    y = g.tensor(shape, scale=out_quant[0], zero_point=out_quant[1])
    g.op("LOG_SOFTMAX", [x], [y], ("LogSoftmaxOptions", {}))
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_log_softmax(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 12, int(rng.integers(1, 4))))
    scale = float([rng.uniform(0.002, 0.05), rng.uniform(0.05, 0.5), rng.uniform(0.5, 4)][seed % 3])
    model = same_as_tflite_micro(log_softmax_model(shape, scale, int(rng.integers(-128, 128))), seed)
    assert [op.name for op in model.ops] == ["LOG_SOFTMAX"]


@pytest.mark.parametrize("scale", [0.003, 0.1, 1.7])
def test_rows_of_ties_one_hot_and_every_value(scale):
    """Rows all equal (the largest sum of exponentials a row of 256 has), one value above the rest, and every
    int8 value once: each difference to the maximum, each log of a sum."""
    data = log_softmax_model((4, 256), scale)
    x = np.zeros((4, 256), np.int8)
    x[1] = -128
    x[1, 77] = 127
    x[2] = np.arange(256) - 128
    x[3] = np.random.default_rng(1).permutation(256) - 128
    want = np.asarray(Oracle(data).run([x])[0]).reshape(-1)
    got = reference.run(convert(data, "log_softmax", measure_tflm=False), [x])[0].reshape(-1)
    assert np.array_equal(want, got)
    same_as_tflite_micro(data, 2)


def test_an_output_quantization_other_than_tflite_micros_is_refused():
    with pytest.raises(UnsupportedModelError, match="scale 0.0625 and zero point 127"):
        convert(log_softmax_model((1, 8), 0.1, out_quant=(0.1, 0)), "log_softmax", measure_tflm=False)
