"""Comparisons of an int8 activation with a constant, the logical ops on them and SELECT_V2 (ops/select.py: one
LUT, no op of their own; Keras's ReLU(threshold=...), tf.where(x > t, x, c)): random single-activation graphs
against TFLite Micro in the reference and the C kernels, and the refusals of what picoml does not fold."""
import numpy as np
import pytest

from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.ops.select import COMPARISONS
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def _constant(g, rng, value=None):
    value = int(rng.integers(-128, 128)) if value is None else value
    return g.tensor((), np.array(value, np.int8), scale=float(rng.uniform(0.005, 0.9)),
                    zero_point=int(rng.integers(-128, 128)))


def _comparison(g, rng, x, shape):
    cond = g.tensor(shape, dtype="BOOL")
    c = _constant(g, rng)
    name = sorted(COMPARISONS)[int(rng.integers(len(COMPARISONS)))]
    g.op(name, [x, c] if rng.random() < 0.5 else [c, x], [cond])
    return cond


def select_model(seed, select="SELECT_V2"):
    """x -> comparisons with constants (a LOGICAL_NOT, AND or OR of two sometimes) -> SELECT_V2 between x and
    constants; the output quantized as x or otherwise (the values move as they are)."""
    rng = np.random.default_rng(seed)
    g = Graph()
    shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 5))))
    x = g.tensor(shape, scale=float(rng.uniform(0.005, 0.5)), zero_point=int(rng.integers(-128, 128)),
                 model_input=True)
    cond = _comparison(g, rng, x, shape)
    kind = seed % 4
    if kind == 1:
        negated = g.tensor(shape, dtype="BOOL")
        g.op("LOGICAL_NOT", [cond], [negated])
        cond = negated
    elif kind >= 2:
        both = g.tensor(shape, dtype="BOOL")
        g.op("LOGICAL_AND" if kind == 2 else "LOGICAL_OR", [cond, _comparison(g, rng, x, shape)], [both])
        cond = both
    values = [x, _constant(g, rng)] if seed % 3 else [_constant(g, rng), x]
    if seed % 5 == 4:
        values = [_constant(g, rng), _constant(g, rng)]
    quantization = g.graph.tensors[x].quantization
    y = g.tensor(shape, scale=0.05, zero_point=9) if seed % 2 else \
        g.tensor(shape, scale=quantization.scale[0], zero_point=quantization.zeroPoint[0])
    g.op(select, [cond] + values, [y])
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_select_of_comparisons(seed):
    model = same_as_tflite_micro(select_model(seed), seed)
    assert [op.name for op in model.ops] == ["LUT"]


def test_select_v1_is_select_v2():
    """TFLite's SELECT (tf.where of TensorFlow 1; TFLite Micro has no kernel for it) converts as SELECT_V2."""
    for seed in range(4):
        v1, v2 = (convert(select_model(seed, name), "s", measure_tflm=False) for name in ("SELECT", "SELECT_V2"))
        assert np.array_equal(v1.tensors[v1.ops[0].inputs[1]].data, v2.tensors[v2.ops[0].inputs[1]].data)


def _refused_model(case):
    """x [2, 3] compared and selected from in a way picoml does not fold (`case`)."""
    g = Graph()
    x = g.tensor((2, 3), scale=0.1, zero_point=0, model_input=True)
    other = g.tensor((2, 3), scale=0.1, zero_point=0, model_input=True) if case in ("two", "other") else None
    constant = g.tensor((), np.array(3, np.int8), scale=2.0 if case == "scale" else 0.1, zero_point=0)
    cond = g.tensor((2, 3), dtype="BOOL")
    g.op("GREATER", [x, other if case == "two" else constant], [cond])
    if case == "output":
        return g.bytes([cond])
    y = g.tensor((2, 3), scale=0.1, zero_point=0)
    g.op("SELECT_V2", [cond, other if case == "other" else x, x], [y])
    return g.bytes([y])


@pytest.mark.parametrize("case, words", [
    ("two", "comparison of an int8 activation with a constant"),     # two activations compared
    ("output", "is BOOL"),                                           # the bool result as the model's output
    ("other", "neither the compared activation"),                    # a SELECT_V2 from another activation
    ("scale", "between 0 and 1"),       # TFLite Micro's QuantizeMultiplierSmallerThanOneExp takes scales below 1
])
def test_what_picoml_does_not_fold_is_refused(case, words):
    with pytest.raises(UnsupportedModelError, match=words):
        convert(_refused_model(case), "s", measure_tflm=False)
