"""TFLite ops with no .pml op of their own: SPLIT, SPLIT_V, UNPACK, PACK, GATHER and TRANSPOSE (lowered to
STRIDED_SLICE and CONCATENATION, ops/shape.py) and SUM (MEAN's kernel, ops/mean.py). Single-op TFLite models of
random shapes, axes, sizes, indices, permutations and scales give TFLite Micro's bytes in the reference and in the
C kernels, and what cannot be lowered is refused with a message. The generated model data_movement
(genmodels.py) runs them on every runtime (test_runtimes.py)."""
import re

import numpy as np
import pytest

from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from picoml.runtimes.c import CKernels

pytestmark = pytest.mark.fast


def tflite_op(op, inputs, outputs, options=None):
    """A .tflite model of one builtin op. inputs: int8 activations as shapes (tuples; the model's inputs, scale
    0.5, zero point 3) or constants as numpy arrays (int32); outputs: shapes (scale 0.5, zero point 3, or
    (shape, scale, zero point))."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    model, graph = schema.ModelT(), schema.SubGraphT()
    model.version, model.buffers, model.subgraphs = 3, [schema.BufferT()], [graph]
    graph.tensors, graph.inputs, graph.outputs = [], [], []

    def tensor(shape, data=None, scale=0.5, zero_point=3):
        t = schema.TensorT()
        t.shape, t.name = list(shape), ("t%d" % len(graph.tensors)).encode()
        t.type, t.buffer = schema.TensorType.INT32 if data is not None else schema.TensorType.INT8, 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = list(np.asarray(data, np.int32).tobytes())
            model.buffers.append(buffer)
            t.buffer = len(model.buffers) - 1
        else:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    ins = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            ins.append(tensor(x.shape, x))
        else:
            ins.append(tensor(x))
            graph.inputs.append(ins[-1])
    outs = [tensor(o[0], scale=o[1], zero_point=o[2]) if isinstance(o[0], (tuple, list)) else tensor(o)
            for o in outputs]
    graph.outputs = outs
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, op)
    code.version = 1
    model.operatorCodes = [code]
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, ins, outs
    if options is not None:
        kind, values = options
        operator.builtinOptionsType = getattr(schema.BuiltinOptions, kind)
        operator.builtinOptions = getattr(schema, kind + "T")()
        for k, v in values.items():
            setattr(operator.builtinOptions, k, v)
    graph.operators = [operator]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def same_as_tflite_micro(data, seed):
    """Convert, then run random inputs through TFLite Micro, the reference and the C kernels (portable, M4 and M0
    code paths): every output byte the same."""
    model = format.read(format.write(convert(data, "op", measure_tflm=False)))
    blob = format.write(model)
    oracle = Oracle(data)
    rng = np.random.default_rng(seed)
    inputs = [[rng.integers(-128, 128, model.tensors[e.tensor].shape).astype(np.int8) for e in model.inputs]
              for _ in range(3)]
    want = [oracle.run(x) for x in inputs]
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
