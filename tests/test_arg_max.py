"""ARG_MAX (op code 33, format version 6; TFLite's ARG_MAX and ARG_MIN): single-op models of random shapes and axes,
against TFLite Micro in the reference and the C kernels (portable, M4 and M0 code paths), inputs full of ties; the
generated arg_max model runs it on every runtime (test_runtimes.py); refusals and the load-time rule."""
import numpy as np
import pytest

from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from picoml.runtimes.c import CKernels
from test_lowered_ops import Graph

pytestmark = pytest.mark.fast


def arg_model(name, shape, axis, out_dtype="INT32"):
    g = Graph()
    x = g.tensor(shape, model_input=True)
    out_shape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    y = g.tensor(out_shape, dtype=out_dtype)
    y_type = 2 if out_dtype == "INT32" else 4
    options = ("ArgMaxOptions", {"outputType": y_type}) if name == "ARG_MAX" else ("ArgMinOptions", {"outputType": y_type})
    g.op(name, [x, g.tensor((1,), np.array([axis]))], [y], options)
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_arg_max_and_arg_min(seed):
    """Random shapes (rank 1 to 4), axes (negative too), values from a narrow range (many ties: the first index)
    or the whole of int8."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 7, int(rng.integers(1, 5))))
    axis = int(rng.integers(-len(shape), len(shape)))
    name = "ARG_MIN" if seed % 2 else "ARG_MAX"
    data = arg_model(name, shape, axis)
    model = format.read(format.write(convert(data, "op", measure_tflm=False)))
    assert [op.name for op in model.ops] == ["ARG_MAX"] and model.ops[0].params["min"] == seed % 2
    low, high = [(-128, 128), (-2, 2), (127, 128), (-128, -127)][seed % 4]
    inputs = [[rng.integers(low, high, shape).astype(np.int8)] for _ in range(4)]
    oracle = Oracle(data)
    want = [np.asarray(oracle.run(x)[0]).reshape(-1) for x in inputs]
    for x, w in zip(inputs, want):
        got = reference.run(model, x)[0]
        assert got.dtype == np.int32 and np.array_equal(w, got.reshape(-1))
    blob = format.write(model)
    for variant in (None, "m4", "m0"):
        batch = CKernels(variant).run_batch(blob, inputs)
        for w, got in zip(want, batch.outputs):
            assert np.array_equal(w, np.asarray(got[0]).reshape(-1)), variant


def test_int64_indices_are_refused_with_what_to_do():
    with pytest.raises(UnsupportedModelError, match="output_type=tf.int32"):
        convert(arg_model("ARG_MAX", (1, 5), 1, "INT64"), "op", measure_tflm=False)


def test_an_output_of_the_wrong_shape_is_refused():
    g = Graph()
    x = g.tensor((2, 5), model_input=True)
    y = g.tensor((5,), dtype="INT32")
    g.op("ARG_MAX", [x, g.tensor((1,), np.array([1]))], [y], ("ArgMaxOptions", {"outputType": 2}))
    with pytest.raises(UnsupportedModelError, match="is not input"):
        convert(g.bytes([y]), "op", measure_tflm=False)


@pytest.mark.parametrize("name", ["ARG_MAX", "ARG_MIN"])
def test_of_dequantized_values(name):
    """The converter sometimes leaves the arg max in float after a DEQUANTIZE (random_models case 336:9): the int8
    values' arg max, the same indices."""
    g = Graph()
    x = g.tensor((2, 3, 7), model_input=True, scale=0.37, zero_point=-9)
    f = g.tensor((2, 3, 7), dtype="FLOAT32")
    y = g.tensor((2, 3), dtype="INT32")
    g.op("DEQUANTIZE", [x], [f])
    options = ("ArgMaxOptions" if name == "ARG_MAX" else "ArgMinOptions", {"outputType": 2})
    g.op(name, [f, g.tensor((1,), np.array([2]))], [y], options)
    data = g.bytes([y])
    model = convert(data, "op", measure_tflm=False)
    assert [op.name for op in model.ops] == ["ARG_MAX"]
    rng = np.random.default_rng(3)
    oracle = Oracle(data)
    for low, high in ((-128, 128), (-2, 2)):
        x = rng.integers(low, high, (2, 3, 7)).astype(np.int8)
        assert np.array_equal(np.asarray(oracle.run([x])[0]).reshape(-1), reference.run(model, [x])[0].reshape(-1))


def test_of_a_float_function_is_refused():
    """After a float function (here ReLU: ties where the int8 values differ) the int8 arg max need not be it."""
    g = Graph()
    x = g.tensor((1, 7), model_input=True)
    f, r = g.tensor((1, 7), dtype="FLOAT32"), g.tensor((1, 7), dtype="FLOAT32")
    y = g.tensor((1,), dtype="INT32")
    g.op("DEQUANTIZE", [x], [f])
    g.op("RELU", [f], [r])
    g.op("ARG_MAX", [r, g.tensor((1,), np.array([1]))], [y], ("ArgMaxOptions", {"outputType": 2}))
    with pytest.raises(UnsupportedModelError, match="a float ARG_MAX"):
        convert(g.bytes([y]), "op", measure_tflm=False)
