"""RESIZE_BILINEAR (op code 31, format version 5): single-op models of random sizes (up and down), align_corners or
half_pixel_centers, against TFLite Micro in the reference and the C kernels (portable, M4 and M0 code paths); the
generated resize_bilinear model runs it on every runtime (test_runtimes.py); refusals and the load-time rule."""
import numpy as np
import pytest

from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from test_lowered_ops import Graph, same_as_tflite_micro

pytestmark = pytest.mark.fast


def resize_model(shape, size, align, half, out_quant=(0.5, 3)):
    g = Graph()
    x = g.tensor(shape, model_input=True)
    y = g.tensor((shape[0],) + tuple(size) + (shape[3],), scale=out_quant[0], zero_point=out_quant[1])
    g.op("RESIZE_BILINEAR", [x, g.tensor((2,), np.array(size))], [y],
         ("ResizeBilinearOptions", {"alignCorners": align, "halfPixelCenters": half}))
    return g.bytes([y])


@pytest.mark.parametrize("seed", range(24))
def test_resize_bilinear(seed):
    rng = np.random.default_rng(seed)
    shape = (1 + seed % 2, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 5)))
    size = [int(rng.integers(1, 20)), int(rng.integers(1, 20))]
    align, half = [(False, False), (True, False), (False, True)][seed % 3]
    model = same_as_tflite_micro(resize_model(shape, size, align, half), seed)
    assert [op.name for op in model.ops] == ["RESIZE_BILINEAR"]


def test_every_value_between_the_extremes():
    """A 2x2 image of -128 and 127 upscaled to 61x67 (half pixels): every weight's rounding, either sign."""
    data = resize_model((1, 2, 2, 2), (61, 67), False, True)
    x = np.array([[-128, 127], [127, -128]], np.int8)
    model = convert(data, "resize", measure_tflm=False)
    inputs = [np.stack([x, -1 - x], axis=-1).reshape(1, 2, 2, 2)]
    want = np.asarray(Oracle(data).run(inputs)[0]).reshape(-1)
    assert np.array_equal(want, reference.run(model, inputs)[0].reshape(-1))
    same_as_tflite_micro(data, 1)


def test_both_flags_and_a_wrong_size_are_refused():
    with pytest.raises(UnsupportedModelError, match="align_corners and half_pixel_centers together"):
        convert(resize_model((1, 3, 3, 1), (5, 5), True, True), "resize", measure_tflm=False)
    g = Graph()
    x = g.tensor((1, 3, 3, 1), model_input=True)
    y = g.tensor((1, 5, 4, 1))
    g.op("RESIZE_BILINEAR", [x, g.tensor((2,), np.array([5, 5]))], [y], ("ResizeBilinearOptions", {}))
    with pytest.raises(UnsupportedModelError, match="is not input"):
        convert(g.bytes([y]), "resize", measure_tflm=False)


@pytest.mark.parametrize("shape, size, rows", [((1, 1, 1, 1), (55, 1), True), ((1, 3, 199, 1), (3, 650), False)])
def test_sizes_where_tflite_micro_reads_past_the_input_are_refused(shape, size, rows):
    """1 row to 55 or 199 columns to 650: TFLite Micro's last position lies past the input, and it reads beyond
    the tensor (its last output row came out 0 there, not the input's value)."""
    with pytest.raises(UnsupportedModelError, match="%s resized to" % ("rows" if rows else "columns")):
        convert(resize_model(shape, size, False, False), "resize", measure_tflm=False)


def test_sizes_beyond_32767_are_refused_at_load():
    model = convert(resize_model((1, 3, 3, 1), (5, 5), False, False), "resize", measure_tflm=False)
    model.tensors[model.ops[0].outputs[0]].shape = (1, 1, 40000, 1)
    model.arena_size = 1 << 20
    with pytest.raises(format.FormatError, match="height and width must be 32767 or less"):
        format.validate(format.write(model))
