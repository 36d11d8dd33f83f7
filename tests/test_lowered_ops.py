"""TFLite ops with no .pml op of their own: SPLIT, SPLIT_V, UNPACK, PACK, GATHER, GATHER_ND, REVERSE_V2, TRANSPOSE,
TILE, BROADCAST_TO, RESIZE_NEAREST_NEIGHBOR, DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND and MIRROR_PAD
(lowered to STRIDED_SLICE, CONCATENATION and PAD, ops/shape.py), SLICE (ops/integer.py), SUM (MEAN's kernel, ops/mean.py), REDUCE_MIN (ops/pooling.py), PRELU
(ops/elementwise.py), ABS, RSQRT and ELU (LUTs, ops/nonlinear.py), TRANSPOSE_CONV (CONV_2Ds per phase, ops/conv.py),
grouped CONV_2D (ops/conv.py) and float islands (ops/float_island.py). Single-op TFLite models of random shapes,
axes, sizes, indices, permutations and scales give TFLite Micro's bytes in the reference and in the C kernels, and
what cannot be lowered is refused with a message. The generated models data_movement, resize_nearest,
transpose_wide, upsampling (TILE), gru, lstm, depth_to_space, prelu, conv_transpose, mirror_slice_elu_min,
grouped_conv and space_to_batch (genmodels.py) run them on every runtime (test_runtimes.py)."""
import re

import numpy as np
import pytest

from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.ops.float_island import FUNCTIONS as FLOAT_FUNCTIONS
from picoml.oracle import Oracle
from picoml.runtimes.c import CKernels

pytestmark = pytest.mark.fast


class Graph:
    """A .tflite model built op by op: tensors (int8 activations, float32 ones, int32 constants), then ops on them."""

    def __init__(self):
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
        self.schema = schema
        self.model, self.graph = schema.ModelT(), schema.SubGraphT()
        self.model.version, self.model.buffers, self.model.subgraphs = 3, [schema.BufferT()], [self.graph]
        self.model.operatorCodes = []
        self.graph.tensors, self.graph.inputs, self.graph.outputs, self.graph.operators = [], [], [], []

    def tensor(self, shape, data=None, scale=0.5, zero_point=3, dtype="INT8", model_input=False, variable=False):
        """A tensor: an activation (dtype INT8 or INT16, quantized, or FLOAT32), or a constant (data: int32, or an
        int8 array, quantized); variable: a variable tensor (an op's state, e.g. the LSTM's)."""
        t = self.schema.TensorT()
        t.shape, t.name = list(shape), ("t%d" % len(self.graph.tensors)).encode()
        constant_int8 = data is not None and np.asarray(data).dtype == np.int8
        t.type, t.buffer = getattr(self.schema.TensorType, "INT32" if data is not None and not constant_int8
                                   else dtype), 0
        if data is not None:
            buffer = self.schema.BufferT()
            buffer.data = list(np.asarray(data, np.int8 if constant_int8 else np.int32).tobytes())
            self.model.buffers.append(buffer)
            t.buffer = len(self.model.buffers) - 1
        t.isVariable = variable
        if (data is None or constant_int8) and dtype in ("INT8", "INT16"):
            t.quantization = self.schema.QuantizationParametersT()
            scales = list(np.atleast_1d(scale).astype(float))   # several: per channel, along axis 0
            t.quantization.scale, t.quantization.zeroPoint = scales, [zero_point] * len(scales)
        self.graph.tensors.append(t)
        if model_input:
            self.graph.inputs.append(len(self.graph.tensors) - 1)
        return len(self.graph.tensors) - 1

    def op(self, name, inputs, outputs, options=None):
        code = self.schema.OperatorCodeT()
        code.builtinCode = getattr(self.schema.BuiltinOperator, name)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)     # 127: a code above 127, in builtinCode
        code.version = 1
        self.model.operatorCodes.append(code)
        operator = self.schema.OperatorT()
        operator.opcodeIndex = len(self.model.operatorCodes) - 1
        operator.inputs, operator.outputs = list(inputs), list(outputs)
        if options is not None:
            kind, values = options
            operator.builtinOptionsType = getattr(self.schema.BuiltinOptions, kind)
            operator.builtinOptions = getattr(self.schema, kind + "T")()
            for k, v in values.items():
                setattr(operator.builtinOptions, k, v)
        self.graph.operators.append(operator)

    def bytes(self, outputs):
        import flatbuffers
        self.graph.outputs = list(outputs)
        builder = flatbuffers.Builder(1024)
        builder.Finish(self.model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def tflite_op(op, inputs, outputs, options=None):
    """A .tflite model of one builtin op. inputs: int8 activations as shapes (tuples; the model's inputs, scale
    0.5, zero point 3) or constants as numpy arrays (int32); outputs: shapes (scale 0.5, zero point 3, or
    (shape, scale, zero point))."""
    g = Graph()
    ins = [g.tensor(x.shape, x) if isinstance(x, np.ndarray) else g.tensor(x, model_input=True) for x in inputs]
    outs = [g.tensor(o[0], scale=o[1], zero_point=o[2]) if isinstance(o[0], (tuple, list)) else g.tensor(o)
            for o in outputs]
    g.op(op, ins, outs, options)
    return g.bytes(outs)


def same_as_tflite_micro(data, seed, oracle=None):
    """Convert, then run random inputs through TFLite Micro (or `oracle`: inputs -> outputs), the reference and the
    C kernels (portable, M4 and M0 code paths): every output byte the same."""
    model = format.read(format.write(convert(data, "op", measure_tflm=False)))
    blob = format.write(model)
    oracle = oracle or Oracle(data).run
    rng = np.random.default_rng(seed)
    inputs = [[rng.integers(-128, 128, model.tensors[e.tensor].shape).astype(np.int8) for e in model.inputs]
              for _ in range(3)]
    want = [oracle(x) for x in inputs]
    for x, w in zip(inputs, want):
        got = reference.run(model, x)
        assert all(np.array_equal(np.asarray(a).reshape(-1), b.reshape(-1)) for a, b in zip(w, got))
    for variant in (None, "m4", "m0"):
        batch = CKernels(variant).run_batch(blob, inputs)
        for w, got in zip(want, batch.outputs):
            assert all(np.array_equal(np.asarray(a).reshape(-1), b.reshape(-1)) for a, b in zip(w, got)), variant
    return model


def random_shape(rng, rank):
    return tuple(int(d) for d in rng.integers(1, 6, rank))


@pytest.mark.parametrize("seed", range(12))
def test_split_and_split_v(seed):
    rng = np.random.default_rng(seed)
    shape = list(random_shape(rng, int(rng.integers(1, 5))))
    axis = int(rng.integers(len(shape)))
    shape[axis] = int(rng.integers(2, 9))
    cuts = sorted(rng.choice(np.arange(1, shape[axis]), int(rng.integers(1, shape[axis])), replace=False).tolist())
    sizes = np.diff([0] + cuts + [shape[axis]]).tolist()
    outs = [tuple(shape[:axis] + [n] + shape[axis + 1:]) for n in sizes]
    written_axis = axis - len(shape) if rng.random() < 0.5 else axis
    if len(set(sizes)) == 1 and rng.random() < 0.5:
        data = tflite_op("SPLIT", [np.array(written_axis), tuple(shape)], outs,
                         ("SplitOptions", {"numSplits": len(outs)}))
    else:
        data = tflite_op("SPLIT_V", [tuple(shape), np.array(sizes), np.array(written_axis)], outs,
                         ("SplitVOptions", {"numSplits": len(outs)}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(8))
def test_unpack_and_pack(seed):
    rng = np.random.default_rng(seed)
    shape = list(random_shape(rng, int(rng.integers(2, 5))))
    axis = int(rng.integers(len(shape)))
    rest = shape[:axis] + shape[axis + 1:]
    data = tflite_op("UNPACK", [tuple(shape)], [tuple(rest)] * shape[axis],
                     ("UnpackOptions", {"num": shape[axis], "axis": axis}))
    same_as_tflite_micro(data, seed)
    data = tflite_op("PACK", [tuple(rest)] * shape[axis], [tuple(shape)],
                     ("PackOptions", {"valuesCount": shape[axis], "axis": axis}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(10))
def test_gather(seed):
    rng = np.random.default_rng(seed)
    shape = list(random_shape(rng, int(rng.integers(1, 4))))
    axis = int(rng.integers(len(shape)))
    shape[axis] = int(rng.integers(2, 9))
    index_shape = [int(rng.integers(1, 7))] if rng.random() < 0.7 else [2, int(rng.integers(1, 4))]
    if len(shape) - 1 + len(index_shape) > 4:
        index_shape = index_shape[-1:]
    indices = rng.integers(0, shape[axis], index_shape)
    if seed % 3 == 0:       # evenly spaced runs, of step 1 or 2
        indices = (np.arange(indices.size) * (1 + seed % 2) % shape[axis]).reshape(index_shape)
    out = tuple(shape[:axis] + index_shape + shape[axis + 1:])
    data = tflite_op("GATHER", [tuple(shape), indices], [out], ("GatherOptions", {"axis": axis}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(12))
def test_transpose(seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(2, 5))
    shape = random_shape(rng, rank)
    perm = rng.permutation(rank).tolist()
    out = tuple(shape[p] for p in perm)
    data = tflite_op("TRANSPOSE", [shape, np.array(perm)], [(out, 0.25, -7)], ("TransposeOptions", {}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("op, inputs, outputs, options, message", [
    ("TRANSPOSE", [(2, 3), np.array([0, 0])], [(2, 3)], ("TransposeOptions", {}), "is not a permutation"),
    ("TRANSPOSE", [(2, 3), np.array([1, 0])], [(2, 3)], ("TransposeOptions", {}), "is not input"),
    ("TRANSPOSE", [(40, 40, 40), np.array([2, 1, 0])], [(40, 40, 40)], ("TransposeOptions", {}), "at most 1024"),
    ("TRANSPOSE", [(1, 2, 1, 2, 3), np.array([0, 1, 2, 4, 3])], [(1, 2, 1, 3, 2)], ("TransposeOptions", {}),
     "at most 4 dimensions"),
    ("GATHER", [(4, 3), np.array([0, 4])], [(2, 3)], ("GatherOptions", {"axis": 0}), "are not in [0, 4)"),
    ("GATHER", [(4, 3), np.array([[0, 1]])], [(1, 2, 3)], ("GatherOptions", {"axis": 0, "batchDims": 1}),
     "batch_dims"),
    ("SPLIT", [np.array(3), (4, 2)], [(2, 2), (2, 2)], ("SplitOptions", {"numSplits": 2}), "axis 3 is out of range"),
    ("SPLIT_V", [(5, 2), np.array([2, 2]), np.array(0)], [(2, 2), (2, 2)], ("SplitVOptions", {"numSplits": 2}),
     "add up to 4, not the input's 5"),
    ("UNPACK", [(3, 2)], [(2,), (2,)], ("UnpackOptions", {"num": 2, "axis": 0}), "2 outputs for 3 entries"),
    ("PACK", [(2,), (3,)], [(2, 2)], ("PackOptions", {"valuesCount": 2, "axis": 0}), "do not stack"),
    ("PACK", [(1, 2, 2, 2), (1, 2, 2, 2)], [(1, 2, 2, 2, 2)], ("PackOptions", {"valuesCount": 2, "axis": 1}),
     "at most 4 dimensions"),
    ("TILE", [(2, 3), np.array([2, 0], np.int32)], [(4, 0)], None, "do not fit"),
    ("TILE", [(2, 3), np.array([2, 2], np.int32)], [(4, 5)], None, "is not input"),
    ("TILE", [(2, 1, 2, 1, 2), np.array([2, 2, 2, 2, 2], np.int32)], [(4, 2, 4, 2, 4)], None, "needs 5 dimensions"),
    ("TILE", [(2, 3), np.array([2000, 1], np.int32)], [(4000, 3)], None, "more than 1024 copies"),
    ("TRANSPOSE_CONV", [np.array([1, 4, 4, 2]), np.zeros((2, 3, 3, 5), np.int8), (1, 2, 2, 3)], [(1, 4, 4, 2)],
     ("TransposeConvOptions", {"padding": 0, "strideH": 2, "strideW": 2}), "does not take input"),
    ("TRANSPOSE_CONV", [np.array([1, 4, 4, 2]), np.zeros((2, 3, 3, 3), np.int8), (1, 2, 2, 3)], [(1, 4, 4, 2)],
     ("TransposeConvOptions", {"padding": 0, "strideH": 0, "strideW": 2}), "must be at least 1"),
    ("TRANSPOSE_CONV", [np.array([1, 4, 4, 2]), np.zeros((2, 3, 3, 3), np.int8), (1, 2, 2, 3)], [(1, 4, 4, 2)],
     ("TransposeConvOptions", {"padding": 0, "strideH": 2, "strideW": 65535}), "more than 1024 phases"),
    ("SPACE_TO_BATCH_ND", [(1, 4, 4, 2), np.array([2]), np.array([[0, 0]])], [(2, 2, 4, 2)], None,
     "a 4-D one with two"),
    ("SPACE_TO_BATCH_ND", [(1, 4, 4, 2), np.array([2, 2]), np.array([[0, 1], [0, 0]])], [(4, 2, 2, 2)], None,
     "is not input [1, 4, 4, 2] padded"),
    ("BATCH_TO_SPACE_ND", [(4, 2, 2, 2), np.array([2, 2]), np.array([[0, 0], [0, 0]])], [(2, 4, 4, 2)], None,
     "is not input [4, 2, 2, 2] in blocks"),
    ("BATCH_TO_SPACE_ND", [(4, 2, 2), np.array([0]), np.array([[0, 0]])], [(1, 4, 2)], None, "do not fit"),
    ("BROADCAST_TO", [(2, 3), np.array([4, 3])], [(4, 3)], None, "does not broadcast to [4, 3]"),
    ("GATHER_ND", [(2, 3), np.array([[0, 3]])], [(1,)], None, "an index lies outside input [2, 3]"),
])
def test_what_cannot_be_lowered_is_refused_with_a_message(op, inputs, outputs, options, message):
    with pytest.raises(UnsupportedModelError, match=re.escape(message)):
        convert(tflite_op(op, inputs, outputs, options), "op", measure_tflm=False)


@pytest.mark.parametrize("seed", range(16))
def test_sum(seed):
    """SUM: MEAN's kernel with the input / output scale ratio undivided (any axes, keep_dims or not)."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    axes = sorted(rng.choice(len(shape), int(rng.integers(1, len(shape) + 1)), replace=False).tolist())
    keep = bool(rng.random() < 0.5)
    out = tuple(1 if d in axes else n for d, n in enumerate(shape) if keep or d not in axes) or (1,)
    scale = float(rng.uniform(0.02, 4.0))
    data = tflite_op("SUM", [shape, np.array(axes, np.int32)], [(out, scale, int(rng.integers(-128, 128)))],
                     ("ReducerOptions", {"keepDims": keep}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(10))
def test_tile(seed):
    """TILE against numpy's tile, which is TFLite's TILE (TFLite Micro has none; the generated upsampling model
    runs against TFLite's interpreter in test_generated.py)."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    multiples = [int(m) for m in rng.integers(1, 4, len(shape))]
    out = tuple(n * m for n, m in zip(shape, multiples))
    data = tflite_op("TILE", [shape, np.array(multiples, np.int32)], [out])
    same_as_tflite_micro(data, seed, lambda x: [np.tile(x[0], multiples)])      # TFLite Micro has no TILE


@pytest.mark.parametrize("seed", range(12))
def test_float_island_of_moving_ops(seed):
    """DEQUANTIZE, then SPLIT / RESHAPE / TRANSPOSE in float, then QUANTIZEs to other scales (what the converter
    writes for a GRU's gates): int8 tensors and a LUT with TFLite Micro's float rounding, every one of the 256 input
    values through it."""
    rng = np.random.default_rng(seed)
    in_scale, in_zp = float(rng.uniform(0.001, 2)), int(rng.integers(-128, 128))
    g = Graph()
    x = g.tensor((1, 16, 16), scale=in_scale, zero_point=in_zp, model_input=True)
    f = g.tensor((1, 16, 16), dtype="FLOAT32")
    g.op("DEQUANTIZE", [x], [f])
    halves = [g.tensor((1, 16, 8), dtype="FLOAT32") for _ in range(2)]
    g.op("SPLIT", [g.tensor((), np.array(2)), f], halves, ("SplitOptions", {"numSplits": 2}))
    moved = g.tensor((1, 8, 16), dtype="FLOAT32")
    g.op("TRANSPOSE", [halves[1], g.tensor((3,), np.array([0, 2, 1]))], [moved], ("TransposeOptions", {}))
    outs = []
    for t, shape in ((halves[0], (1, 16, 8)), (moved, (1, 8, 16))):
        scale = in_scale * float(rng.choice([0.3, 1.0, 1.7, 4.0])) * float(rng.uniform(0.9, 1.1))
        outs.append(g.tensor(shape, scale=scale, zero_point=int(rng.integers(-128, 128))))
        g.op("QUANTIZE", [t], [outs[-1]])
    data = g.bytes(outs)
    model = same_as_tflite_micro(data, seed)
    assert [op.name for op in model.ops].count("LUT") == 2
    oracle = Oracle(data)
    every = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 16, 16)
    assert all(np.array_equal(a.reshape(-1), b.reshape(-1))
               for a, b in zip(oracle.run([every]), reference.run(model, [every])))


def test_float_island_with_arithmetic_is_refused():
    g = Graph()
    x = g.tensor((1, 4), model_input=True)
    f, y = g.tensor((1, 4), dtype="FLOAT32"), g.tensor((1, 4), dtype="FLOAT32")
    out = g.tensor((1, 4))
    g.op("DEQUANTIZE", [x], [f])
    g.op("ADD", [f, f], [y], ("AddOptions", {}))
    g.op("QUANTIZE", [y], [out])
    with pytest.raises(UnsupportedModelError, match="a float ADD between a DEQUANTIZE and a QUANTIZE"):
        convert(g.bytes([out]), "island", measure_tflm=False)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("name", sorted(FLOAT_FUNCTIONS))
def test_float_island_functions(name, seed):
    """Each float function of one value between a DEQUANTIZE and a QUANTIZE (then a second one after a RESHAPE,
    sometimes): one LUT of TFLite Micro's float arithmetic, every input value, random scales and zero points."""
    rng = np.random.default_rng([seed, len(name)])
    g = Graph()
    x = g.tensor((1, 256), scale=float(10 ** rng.uniform(-4, 0)), zero_point=int(rng.integers(-100, 100)),
                 model_input=True)
    f = g.tensor((1, 256), dtype="FLOAT32")
    g.op("DEQUANTIZE", [x], [f])
    options = ("LeakyReluOptions", {"alpha": float(rng.uniform(0.05, 0.5))}) if name == "LEAKY_RELU" else None
    y = g.tensor((1, 256), dtype="FLOAT32")
    g.op(name, [f], [y], options)
    if seed % 2:
        r, z = g.tensor((256,), dtype="FLOAT32"), g.tensor((256,), dtype="FLOAT32")
        g.op("RESHAPE", [y, g.tensor((1,), np.array([256]))], [r])
        g.op("TANH", [r], [z])
        y = z
    out = g.tensor(g.graph.tensors[y].shape, scale=float(10 ** rng.uniform(-5, 0)),
                   zero_point=int(rng.integers(-100, 100)))
    g.op("QUANTIZE", [y], [out])
    data = g.bytes([out])
    model = convert(data, "island", measure_tflm=False)
    assert [op.name for op in model.ops] == ["LUT"]
    every = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256)
    want = np.asarray(Oracle(data).run([every])[0]).reshape(-1)
    assert np.array_equal(want, reference.run(model, [every])[0].reshape(-1))


def test_float_elu_is_expm1():
    """A float ELU is expm1(x) below 0 (TFLite Micro's int8 ELU table uses exp(x) - 1): scales this small tell
    them apart (exp(x) - 1 differs in 48 of the 256 values)."""
    g = Graph()
    x = g.tensor((1, 256), scale=1e-6, zero_point=100, model_input=True)
    f, y = g.tensor((1, 256), dtype="FLOAT32"), g.tensor((1, 256), dtype="FLOAT32")
    out = g.tensor((1, 256), scale=2e-6, zero_point=0)
    g.op("DEQUANTIZE", [x], [f])
    g.op("ELU", [f], [y])
    g.op("QUANTIZE", [y], [out])
    data = g.bytes([out])
    every = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256)
    got = reference.run(convert(data, "island", measure_tflm=False), [every])[0]
    assert np.array_equal(np.asarray(Oracle(data).run([every])[0]).reshape(-1), got.reshape(-1))


def test_float_output_through_a_function_is_refused():
    g = Graph()
    x = g.tensor((1, 4), model_input=True)
    f, y = g.tensor((1, 4), dtype="FLOAT32"), g.tensor((1, 4), dtype="FLOAT32")
    g.op("DEQUANTIZE", [x], [f])
    g.op("EXP", [f], [y])
    with pytest.raises(UnsupportedModelError, match="computed by EXP in float"):
        convert(g.bytes([y]), "island", measure_tflm=False)


@pytest.mark.parametrize("in_scale, out_scale, in_zp", [
    (0.25, 0.5, 0),                                       # ties: halves round away from zero
    (0.31093162298202515, 0.6218632459640503, 56),       # near ties: the division in double, not in float
    (0.7579711079597473, 1.5159422159194946, -21),
    (0.3813897371292114, 0.7627794742584229, -48),
])
def test_float_island_rounds_as_tflite_micro(in_scale, out_scale, in_zp):
    g = Graph()
    x = g.tensor((1, 256), scale=in_scale, zero_point=in_zp, model_input=True)
    f, moved, out = g.tensor((1, 256), dtype="FLOAT32"), g.tensor((256,), dtype="FLOAT32"), \
        g.tensor((256,), scale=out_scale, zero_point=-5)
    g.op("DEQUANTIZE", [x], [f])
    g.op("RESHAPE", [f, g.tensor((1,), np.array([256]))], [moved])
    g.op("QUANTIZE", [moved], [out])
    data = g.bytes([out])
    model = format.read(format.write(convert(data, "island", measure_tflm=False)))
    every = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256)
    assert np.array_equal(Oracle(data).run([every])[0], reference.run(model, [every])[0])


@pytest.mark.parametrize("seed", range(16))
def test_resize_nearest_neighbor(seed):
    """Whole upscales (a TILE of views) and any other sizes (GATHERs), with every align_corners / half_pixel_centers."""
    rng = np.random.default_rng(seed)
    n, h, w, c = 1 + seed % 2, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
    if seed % 2:
        size = [h * int(rng.integers(1, 4)), w * int(rng.integers(1, 4))]
    else:
        size = [int(rng.integers(1, 10)), int(rng.integers(1, 10))]
    flags = {"alignCorners": bool(seed % 4 == 2), "halfPixelCenters": bool(seed % 4 == 3 or seed % 8 == 0)}
    data = tflite_op("RESIZE_NEAREST_NEIGHBOR", [(n, h, w, c), np.array(size, np.int32)], [(n, *size, c)],
                     ("ResizeNearestNeighborOptions", flags))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(8))
def test_depth_to_space_and_back(seed):
    rng = np.random.default_rng(seed)
    n, h, w, c, b = 1 + seed % 2, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4)), \
        int(rng.integers(1, 4))
    data = tflite_op("DEPTH_TO_SPACE", [(n, h, w, b * b * c)], [(n, h * b, w * b, c)],
                     ("DepthToSpaceOptions", {"blockSize": b}))
    same_as_tflite_micro(data, seed)
    data = tflite_op("SPACE_TO_DEPTH", [(n, h * b, w * b, c)], [(n, h, w, b * b * c)],
                     ("SpaceToDepthOptions", {"blockSize": b}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(12))
def test_prelu(seed):
    """PRELU with alpha per channel, per position or one value, random scales and zero points: every one of the 256
    input values in each channel through it."""
    rng = np.random.default_rng(seed)
    channels = int(rng.integers(1, 5))
    alpha_shape = [(1, 1, channels), (channels,), (1,), (4, 16, channels)][seed % 4]
    g = Graph()
    x = g.tensor((1, 4, 16, channels), scale=float(rng.uniform(0.01, 1)), zero_point=int(rng.integers(-128, 128)),
                 model_input=True)
    alpha = g.tensor(alpha_shape, rng.integers(-128, 128, alpha_shape).astype(np.int8),
                     scale=float(rng.uniform(0.001, 0.05)), zero_point=int(rng.integers(-20, 20)))
    out = g.tensor((1, 4, 16, channels), scale=float(rng.uniform(0.01, 1)), zero_point=int(rng.integers(-128, 128)))
    g.op("PRELU", [x, alpha], [out])
    data = g.bytes([out])
    model = same_as_tflite_micro(data, seed)
    every = np.repeat(np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 4, 16, 4)[..., :1], channels, 3)
    assert np.array_equal(Oracle(data).run([every])[0], reference.run(model, [every])[0])


@pytest.mark.parametrize("seed", range(12))
def test_abs_and_rsqrt(seed):
    """ABS and RSQRT as LUTs, every input value (RSQRT: those at or above the zero point, where TFLite Micro runs
    it), random scales and zero points, the output's the same as the input's sometimes."""
    rng = np.random.default_rng(seed)
    in_scale, in_zp = float(rng.uniform(0.001, 2)), int(rng.integers(-128, 100))
    same = seed % 4 == 0
    out_scale = in_scale if same else float(rng.uniform(0.001, 2))
    out_zp = in_zp if same else int(rng.integers(-128, 128))
    every = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for op, x in (("ABS", every), ("RSQRT", np.maximum(every, in_zp).astype(np.int8))):
        g = Graph()
        a = g.tensor((1, 256), scale=in_scale, zero_point=in_zp, model_input=True)
        b = g.tensor((1, 256), scale=out_scale, zero_point=out_zp)
        g.op(op, [a], [b])
        data = g.bytes([b])
        model = format.read(format.write(convert(data, op, measure_tflm=False)))
        assert [o.name for o in model.ops] == ["LUT"]
        assert np.array_equal(Oracle(data).run([x])[0], reference.run(model, [x])[0]), op


@pytest.mark.parametrize("seed", range(16))
def test_transpose_conv(seed):
    """TRANSPOSE_CONV (Keras's Conv2DTranspose) of random sizes, filters, strides, SAME or VALID padding, output sizes
    (output_padding), filters quantized per channel or per tensor, with and without a bias and a fused activation."""
    rng = np.random.default_rng(seed)
    n, h, w, c, oc = 1 + seed % 2, *(int(v) for v in rng.integers(1, 6, 3)), int(rng.integers(1, 5))
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    sh, sw = (int(v) for v in rng.integers(1, 4, 2))
    same = bool(seed % 3)
    # Keras's output size, plus output_padding (less than the stride)
    out_h, out_w = [(size * s if same else (size - 1) * s + k) + int(rng.integers(0, s))
                    for size, s, k in ((h, sh, kh), (w, sw, kw))]
    g = Graph()
    shape = g.tensor((4,), np.array([n, out_h, out_w, oc], np.int32))
    scales = rng.uniform(0.002, 0.02, oc if seed % 4 else 1)
    filt = g.tensor((oc, kh, kw, c), rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8), scale=scales,
                    zero_point=0)
    x = g.tensor((n, h, w, c), scale=float(rng.uniform(0.01, 0.1)), zero_point=int(rng.integers(-128, 128)),
                 model_input=True)
    ins = [shape, filt, x]
    if seed % 5:
        ins.append(g.tensor((oc,), rng.integers(-3000, 3000, oc).astype(np.int32)))
    out = g.tensor((n, out_h, out_w, oc), scale=float(rng.uniform(0.05, 0.5)), zero_point=int(rng.integers(-20, 20)))
    g.op("TRANSPOSE_CONV", ins, [out], ("TransposeConvOptions", {"padding": 0 if same else 1, "strideH": sh,
                                                                 "strideW": sw, "fusedActivationFunction": seed % 4}))
    for op in g.model.operatorCodes:
        op.version = 4      # fused activations
    same_as_tflite_micro(g.bytes([out]), seed)


@pytest.mark.parametrize("seed", range(16))
def test_elu(seed):
    """ELU as a LUT: every input value, random scales and zero points (the output's the same as the input's
    sometimes; or twice it, a power of two, where half the positive values round a tie)."""
    rng = np.random.default_rng(seed)
    scale, zero_point = float(10 ** rng.uniform(-3, 0.5)), int(rng.integers(-128, 128))
    out = (scale, zero_point) if seed % 3 == 0 else (float(10 ** rng.uniform(-3, 0.5)), int(rng.integers(-128, 128)))
    if seed % 4 == 1:
        scale = 2.0 ** -int(rng.integers(2, 8))
        out = (2 * scale, int(rng.integers(-20, 20)))
    g = Graph()
    x = g.tensor((1, 256), scale=scale, zero_point=zero_point, model_input=True)
    y = g.tensor((1, 256), scale=out[0], zero_point=out[1])
    g.op("ELU", [x], [y])
    data = g.bytes([y])
    model = same_as_tflite_micro(data, seed)
    every = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256)
    assert np.array_equal(Oracle(data).run([every])[0], reference.run(model, [every])[0])


@pytest.mark.parametrize("seed", range(12))
def test_slice(seed):
    """SLICE of random begins and sizes (-1: to the end), int8 and int32."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    begin = [int(rng.integers(0, d)) for d in shape]
    size = [-1 if rng.random() < 0.3 else int(rng.integers(1, d - b + 1)) for d, b in zip(shape, begin)]
    out = tuple(d - b if n == -1 else n for d, b, n in zip(shape, begin, size))
    dtype = "INT32" if seed % 4 == 3 else "INT8"
    g = Graph()
    x = g.tensor(shape, dtype=dtype, model_input=True)
    y = g.tensor(out, dtype=dtype)
    g.op("SLICE", [x, g.tensor((len(shape),), np.array(begin)), g.tensor((len(shape),), np.array(size))], [y])
    if dtype == "INT8":
        same_as_tflite_micro(g.bytes([y]), seed)
    else:
        data = g.bytes([y])
        model = convert(data, "op", measure_tflm=False)
        x = rng.integers(-2 ** 31, 2 ** 31, shape).astype(np.int32)
        assert np.array_equal(reference.run(model, [x])[0], Oracle(data).run([x])[0])


@pytest.mark.parametrize("seed", range(16))
def test_mirror_pad(seed):
    """MIRROR_PAD, REFLECT and SYMMETRIC, of random ranks and paddings up to what each mode allows."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(2, 6, int(rng.integers(1, 5))))
    mode = seed % 2
    pads = [[int(rng.integers(0, d - (1 - mode) + 1)) for _ in range(2)] for d in shape]
    out = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    data = tflite_op("MIRROR_PAD", [shape, np.array(pads)], [out], ("MirrorPadOptions", {"mode": mode}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("seed", range(12))
def test_reduce_min(seed):
    """REDUCE_MIN over random axes, with and without keep_dims: REDUCE_MAX's pools between LUTs of ~x."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    axes = sorted(set(int(a) for a in rng.integers(0, len(shape), int(rng.integers(1, len(shape) + 1)))))
    keep = bool(seed % 2)
    out = tuple(1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes) or (1,)
    data = tflite_op("REDUCE_MIN", [shape, np.array(axes)], [out], ("ReducerOptions", {"keepDims": keep}))
    same_as_tflite_micro(data, seed)


@pytest.mark.parametrize("op, inputs, outputs, options, hint", [
    ("EXP", [(1, 4)], [(1, 4)], None, "TFLite Micro has no int8 kernel for it"),
    ("WHILE", [(1, 4)], [(1, 4)], None, "unroll=True"),
])
def test_unsupported_ops_are_refused_with_what_to_do(op, inputs, outputs, options, hint):
    with pytest.raises(UnsupportedModelError, match="picoml does not support this op.*" + re.escape(hint)):
        convert(tflite_op(op, inputs, outputs, options), "op", measure_tflm=False)


@pytest.mark.parametrize("op", ["LESS", "GATHER"])
def test_a_table_looked_up_at_run_time_indices_is_refused_naming_the_embedding(op):
    """Keras's Embedding on an integer input: LESS of the indices with 0 (Keras 3, which adds the table's size to a
    negative index), or the GATHER of a constant table at them. Before, the LESS was refused as if it were a
    comparison of an int8 activation gone wrong, and the GATHER as having 'a constant input (the converter folds
    these)'."""
    g = Graph()
    indices = g.tensor((1, 10), dtype="INT32", model_input=True)
    if op == "LESS":
        out = g.tensor((1, 10), dtype="BOOL")
        g.op("LESS", [indices, g.tensor((), np.array(0))], [out])
    else:
        out = g.tensor((1, 10, 4))
        table = g.tensor((20, 4), np.random.default_rng(0).integers(-128, 128, (20, 4)).astype(np.int8))
        g.op("GATHER", [table, indices], [out], ("GatherOptions", {"axis": 0}))
    with pytest.raises(UnsupportedModelError, match=r"^%s \(op 0, .*Keras's Embedding.*constant indices only$" % op):
        convert(g.bytes([out]), "op", measure_tflm=False)


@pytest.mark.parametrize("seed", range(12))
def test_grouped_conv_2d(seed):
    """CONV_2D whose filter is a G-th of the input's depth (Keras's groups=G): per group a slice of the input's
    channels and a CONV_2D, joined; random groups, filters, strides, padding, per-channel or per-tensor scales."""
    rng = np.random.default_rng(seed)
    groups, depth, per_group = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    n, h, w = 1, int(rng.integers(3, 8)), int(rng.integers(3, 8))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride, same = int(rng.integers(1, 3)), bool(seed % 2)
    oh, ow = [(d + stride - 1) // stride if same else (d - k + stride) // stride for d, k in ((h, kh), (w, kw))]
    oc = groups * per_group
    g = Graph()
    x = g.tensor((n, h, w, groups * depth), scale=0.05, zero_point=int(rng.integers(-50, 50)), model_input=True)
    filt = g.tensor((oc, kh, kw, depth), rng.integers(-127, 128, (oc, kh, kw, depth)).astype(np.int8),
                    scale=rng.uniform(0.002, 0.02, oc if seed % 3 else 1), zero_point=0)
    bias = g.tensor((oc,), rng.integers(-2000, 2000, oc).astype(np.int32))
    y = g.tensor((n, oh, ow, oc), scale=float(rng.uniform(0.05, 0.3)), zero_point=int(rng.integers(-20, 20)))
    g.op("CONV_2D", [x, filt, bias], [y], ("Conv2DOptions", {"padding": 0 if same else 1, "strideH": stride,
                                                           "strideW": stride, "fusedActivationFunction": seed % 2}))
    model = same_as_tflite_micro(g.bytes([y]), seed)
    assert [op.name for op in model.ops].count("CONV_2D") == groups


def tflite_interpreter(data, kernels="BUILTIN_REF"):
    """TFLite's interpreter as an oracle (inputs -> outputs), for what TFLite Micro leaves undefined or cannot run;
    kernels: its op resolver (BUILTIN_REF: its reference kernels, whose CONV_2D rounds as TFLite Micro's)."""
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(
        model_content=data, experimental_op_resolver_type=getattr(tf.lite.experimental.OpResolverType, kernels))
    interpreter.allocate_tensors()

    def run(inputs):
        for detail, x in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]
    return run


@pytest.mark.parametrize("seed", range(24))
def test_space_to_batch_and_back(seed):
    """SPACE_TO_BATCH_ND (PAD, a STRIDED_SLICE per block position, a CONCATENATION) and BATCH_TO_SPACE_ND (a slice per
    block, interleaving CONCATENATIONs of views, a cropping slice), 3-D and 4-D, random blocks, paddings and crops.
    Unpadded, against TFLite Micro; padded, against TFLite, which pads with the zero point where TFLite Micro pads
    with memory its Prepare never sets."""
    rng = np.random.default_rng(seed)
    rank = 3 + seed % 2
    shape = [int(rng.integers(1, 3))] + [int(v) for v in rng.integers(1, 7, rank - 1)]
    block = [int(v) for v in rng.integers(1, 4, rank - 2)]
    padded = seed % 3 != 0
    pads = []
    for d in range(rank - 2):
        before = int(rng.integers(0, 3)) if padded else 0
        after = (-(shape[1 + d] + before)) % block[d] + (block[d] * int(rng.integers(0, 2)) if padded else 0)
        if not padded and after:       # unpadded: a size the block divides
            shape[1 + d] += after
            after = 0
        pads.append([before, after])
    spaced = [shape[0] * int(np.prod(block))] + [(shape[1 + d] + sum(pads[d])) // block[d] for d in range(rank - 2)]
    spaced += shape[rank - 1:]
    zero_point = int(rng.integers(-100, 100))

    def single_op(name, in_shape, out_shape):
        g = Graph()
        x = g.tensor(in_shape, zero_point=zero_point, model_input=True)
        y = g.tensor(out_shape, zero_point=zero_point)
        g.op(name, [x, g.tensor((len(block),), np.array(block)), g.tensor((len(block), 2), np.array(pads))], [y])
        return g.bytes([y])
    data = single_op("SPACE_TO_BATCH_ND", shape, spaced)
    model = same_as_tflite_micro(data, seed, tflite_interpreter(data) if padded else None)
    assert "PAD" in [op.name for op in model.ops] or not any(map(sum, pads))
    same_as_tflite_micro(single_op("BATCH_TO_SPACE_ND", spaced, shape), seed)


@pytest.mark.parametrize("blocks", [[3], [2, 2], [1, 3]])
def test_batch_to_space_read_by_another_op(blocks):
    """BATCH_TO_SPACE_ND without crops whose output another op reads (as Keras's dilated Conv1D writes it): its
    output must be the interleaving CONCATENATION's bytes. The lowering once left that link out, so the reader read
    bytes no op wrote, right only where the planner happened to put them (a random model, case 1411:9, agreed on
    its first input and not after); the planner now refuses such a graph (test_planner_refuses_unwritten_reads)."""
    rank = 2 + len(blocks)
    spaced = [int(np.prod(blocks))] + [2] * len(blocks) + [3]
    shape = [1] + [2 * b for b in blocks] + [3]
    g = Graph()
    x = g.tensor(spaced, zero_point=-5, model_input=True)
    y = g.tensor(shape, zero_point=-5)
    z = g.tensor(shape, scale=1.0 / 256, zero_point=-128)
    g.op("BATCH_TO_SPACE_ND", [x, g.tensor((len(blocks),), np.array(blocks)),
                               g.tensor((len(blocks), 2), np.zeros((len(blocks), 2), np.int64))], [y])
    g.op("LOGISTIC", [y], [z])
    assert rank == len(shape)
    same_as_tflite_micro(g.bytes([z]), len(blocks))


def test_planner_refuses_unwritten_reads():
    """A lowered graph with an op reading an activation that no op before it writes (and that is no model input
    or state) is refused at planning, naming the op and the tensor, not planned into bytes that happen to hold
    something."""
    from picoml import planner
    m = format.Model()
    x, y, orphan, z = (m.add_tensor(format.Tensor((1, 4), np.int8, 0.5, 0)) for _ in range(4))
    table = m.add_tensor(format.Tensor((256,), np.int8, 0.5, 0, data=np.arange(-128, 128, dtype=np.int8)))
    m.inputs, m.outputs = [format.IO(x)], [format.IO(z)]
    m.ops = [format.Op("LUT", [x, table], [y], {}), format.Op("CONCATENATION", [y, orphan], [z], {"axis": 0})]
    with pytest.raises(UnsupportedModelError,
                       match="op 1 \\(CONCATENATION\\) reads tensor 2, which no op before it writes"):
        planner.plan(m)
    m.ops = [format.Op("LUT", [x, table], [y], {})]
    with pytest.raises(UnsupportedModelError, match="output tensor 3 is written by no op"):
        planner.plan(m)


@pytest.mark.parametrize("seed", range(10))
def test_broadcast_to(seed):
    """BROADCAST_TO: a TILE along the input's axes of 1, leading axes added."""
    rng = np.random.default_rng(seed)
    target = random_shape(rng, int(rng.integers(1, 5)))
    shape = tuple(1 if rng.random() < 0.5 else n for n in target[int(rng.integers(0, len(target))):]) or (1,)
    data = tflite_op("BROADCAST_TO", [shape, np.array(target)], [target])
    same_as_tflite_micro(data, seed)


def test_a_graph_that_loops_or_reads_unwritten_tensors_is_refused():
    """A damaged file's graph: an op writing the model's input (a RESHAPE onto itself: the planner looped), two ops
    reading each other's outputs (out of order), a tensor written twice."""
    def model(edit):
        g = Graph()
        x = g.tensor((1, 4), model_input=True)
        a, b = g.tensor((4,)), g.tensor((1, 4))
        g.op("RESHAPE", [x, g.tensor((1,), np.array([4]))], [a])
        g.op("RESHAPE", [a, g.tensor((2,), np.array([1, 4]))], [b])
        edit(g.graph.operators, x, a, b)
        return g.bytes([b])

    def onto_input(ops, x, a, b):
        ops[0].outputs = [x]

    def out_of_order(ops, x, a, b):
        ops.reverse()

    def twice(ops, x, a, b):
        ops[1].outputs = [a]
    for edit, words in ((onto_input, "which is a model input"), (out_of_order, "before any op writes it"),
                        (twice, "which is written by an earlier op")):
        with pytest.raises(UnsupportedModelError, match=words):
            convert(model(edit), "op", measure_tflm=False)


@pytest.mark.parametrize("seed", range(12))
def test_gather_nd(seed):
    """GATHER_ND of constant indices: a GATHER of the input viewed as [the indexed axes, the rest]."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    k = int(rng.integers(1, len(shape) + 1))
    lead = tuple(int(d) for d in rng.integers(1, 4, int(rng.integers(1, 3))))
    indices = np.stack([rng.integers(0, shape[d], lead) for d in range(k)], axis=-1)
    out = lead + shape[k:]
    same_as_tflite_micro(tflite_op("GATHER_ND", [shape, indices], [out]), seed)


@pytest.mark.parametrize("seed", range(10))
def test_reverse(seed):
    """REVERSE_V2 (tf.reverse): one STRIDED_SLICE of stride -1 along the reversed axes (negative axes too), against
    TFLite Micro on neighbouring axes (it refuses others) and against numpy's flip on any."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 5)))
    first = int(rng.integers(0, len(shape)))
    axes = [a - (len(shape) if seed % 2 else 0) for a in range(first, int(rng.integers(first + 1, len(shape) + 1)))]
    # (every third: the output quantized otherwise, as Keras's Bidirectional layer has it: the values move as
    # they are, TFLite Micro rescales nothing)
    out = (shape, 0.25, -7) if seed % 3 == 0 else shape
    model = same_as_tflite_micro(tflite_op("REVERSE_V2", [shape, np.array(axes)], [out]), seed)
    assert [op.name for op in model.ops] == ["STRIDED_SLICE"]
    if len(shape) >= 3:
        axes = [0, len(shape) - 1]
        same_as_tflite_micro(tflite_op("REVERSE_V2", [shape, np.array(axes)], [shape]), seed,
                             lambda x: [np.flip(x[0], axis=tuple(axes))])
