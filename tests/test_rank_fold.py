"""Five-dimensional tensors inside a model (host/picoml/rank_fold.py): Keras 3's GroupNormalization (the generated
group_norm model, on every runtime in test_runtimes.py) and single graphs of a reshape to 5-D, a MEAN and
element-wise ops against TFLite Micro; what no merge of two axes serves is refused as before."""
import numpy as np
import pytest

from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def five_d_model(shape5, axes, keep_dims=True, op="SUB"):
    """x (4-D) -> RESHAPE to shape5 -> MEAN over axes -> `op` of the 5-D view and the mean -> RESHAPE back."""
    g = Graph()
    shape4 = (shape5[0], shape5[1], shape5[2], shape5[3] * shape5[4])
    x = g.tensor(shape4, scale=0.05, zero_point=3, model_input=True)
    v = g.tensor(shape5, scale=0.05, zero_point=3)
    g.op("RESHAPE", [x, g.tensor((5,), np.array(shape5, np.int32))], [v])
    reduced = tuple(1 if a in axes else d for a, d in enumerate(shape5))
    m = g.tensor(reduced if keep_dims else tuple(d for a, d in enumerate(shape5) if a not in axes), scale=0.04,
                 zero_point=-2)
    g.op("MEAN", [v, g.tensor((len(axes),), np.array(axes, np.int32))], [m], ("ReducerOptions", {"keepDims": keep_dims}))
    d = g.tensor(shape5, scale=0.06, zero_point=1)
    g.op(op, [v, m], [d], ("SubOptions" if op == "SUB" else "MulOptions", {"fusedActivationFunction": 0}))
    y = g.tensor(shape4, scale=0.06, zero_point=1)
    g.op("RESHAPE", [d, g.tensor((4,), np.array(shape4, np.int32))], [y])
    return g.bytes([y])


@pytest.mark.parametrize("shape5, axes, op", [
    ((1, 4, 3, 2, 3), (1, 2, 4), "SUB"),        # GroupNormalization's: groups of 3 channels
    ((1, 3, 2, 4, 2), (1, 2, 4), "MUL"),
    ((2, 3, 4, 2, 2), (3, 4), "SUB"),           # the last two axes merged
    ((1, 5, 2, 3, 2), (0, 1), "SUB"),
])
def test_a_mean_of_a_5d_view_against_tflite_micro(shape5, axes, op):
    model = same_as_tflite_micro(five_d_model(shape5, axes, op=op), 1)
    assert all(len(t.shape) <= 4 for t in model.tensors)


def test_no_mergeable_pair_is_refused_as_before():
    """MEAN over axes 0, 2 and 4: every pair of neighbouring axes has one reduced and one kept."""
    with pytest.raises(UnsupportedModelError, match="input has 5 dimensions"):
        convert(five_d_model((2, 3, 4, 2, 3), (0, 2, 4)), "m", measure_tflm=False)
