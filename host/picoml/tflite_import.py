"""Read a fully-int8 .tflite flatbuffer (with the `tflite` schema package, no TensorFlow) and lower it to a
.pml `Model` graph: the op lowerings live beside their reference kernels in `picoml.ops`."""
import numpy as np
import tflite
from flatbuffers import flexbuffers

from .errors import UnsupportedModelError
from .format import DTYPE_CODES, IO, Model, Op, Tensor
from . import ops as op_families
from .ops.common import output_size
from .rank_fold import fold_high_ranks

_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTION_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_NUMPY_TYPES = {tflite.TensorType.INT8: np.int8, tflite.TensorType.INT16: np.int16,
                tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32,
                tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT64: np.int64,
                tflite.TensorType.BOOL: np.bool_, tflite.TensorType.UINT32: np.uint32,
                tflite.TensorType.UINT64: np.uint64}
# Ops that only rename a buffer: the output aliases the input's bytes.
VIEW_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


class TfliteTensor:
    def __init__(self, index, name, shape, type_code, scales, zero_points, quant_dim, data, signature=None):
        self.index = index
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        # the converter's shape_signature: -1 where the size is left open (a model without a fixed batch size),
        # `shape` holding 1 there
        self.signature = None if signature is None else tuple(int(d) for d in signature)
        self.type_name = _TYPE_NAMES.get(type_code, str(type_code))
        self.dtype = np.dtype(_NUMPY_TYPES[type_code]) if type_code in _NUMPY_TYPES else None
        self.scales = scales
        self.zero_points = zero_points
        self.quant_dim = quant_dim
        self.data = data
        self.float_functions = ()   # a float island's functions of the int8 values this tensor holds

    def hold_int8(self, source, function=None):
        """Take this float tensor as an int8 one quantized as `source` (a float island: _float_island), its values
        source's float functions of those (and then `function`, a (name, options) pair)."""
        self.dtype, self.type_name = np.dtype(np.int8), "INT8"
        self.scales, self.zero_points = source.scales, source.zero_points
        self.float_functions = source.float_functions + ((function,) if function else ())

    @property
    def scale(self):
        return float(self.scales[0]) if len(self.scales) else 0.0

    @property
    def zero_point(self):
        return int(self.zero_points[0]) if len(self.zero_points) else 0

    @property
    def is_quantized(self):
        return len(self.scales) > 0

    @property
    def open_size(self):
        """Whether the file leaves a size of this tensor open (a -1 in its shape signature): its `shape` holds 1
        there, which is its size at batch 1 only for a batch axis (_inferred_shapes works it out)."""
        return self.signature is not None and any(d < 0 for d in self.signature)


class TfliteOp:
    def __init__(self, index, name, inputs, outputs, options, label):
        self.index = index
        self.name = name
        self.inputs = inputs        # TfliteTensor or None for an omitted optional operand
        self.outputs = outputs
        self.options = options
        self.label = label


def _options(op):
    if op.CustomOptionsLength():
        return _custom_options(op)
    kind = _OPTION_NAMES.get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if kind in (None, "NONE") or table is None or not hasattr(tflite, kind):
        return {}
    obj = getattr(tflite, kind)()
    obj.Init(table.Bytes, table.Pos)
    values = {}
    for name in dir(obj):
        if name[0].isupper() and not name.startswith(("Init", "GetRootAs")) and not name.endswith(("AsNumpy", "Length", "IsNone")):
            try:
                values[name] = getattr(obj, name)()
            except TypeError:
                pass
    return values


def _custom_options(op):
    """A custom op's options: the flexbuffer map TFLite Micro's custom ops read (the Signal library's)."""
    if op.CustomOptionsFormat() != tflite.CustomOptionsFormat.FLEXBUFFERS:
        raise UnsupportedModelError("a custom op's options are not a flexbuffer")
    values = flexbuffers.Loads(op.CustomOptionsAsNumpy().tobytes())
    if not isinstance(values, dict):
        raise UnsupportedModelError("a custom op's options are a flexbuffer %s, not a map" % type(values).__name__)
    return values


def _read_tensor(model, graph, index):
    t = graph.Tensors(index)
    q = t.Quantization()
    scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
    zero_points = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
    quant_dim = q.QuantizedDimension() if q is not None else 0
    shape = t.ShapeAsNumpy() if t.ShapeLength() else np.zeros(0, np.int32)
    signature = t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() else None
    data = None
    buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    if buffer is not None and buffer.DataLength() and t.Type() in _NUMPY_TYPES:
        dtype = np.dtype(_NUMPY_TYPES[t.Type()]).newbyteorder("<")
        data = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype).reshape(tuple(shape)).astype(dtype.newbyteorder("="))
    elif buffer is not None and buffer.Offset() > 1:
        raise UnsupportedModelError("tensor %r keeps its data outside the flatbuffer (models over 2 GB); "
                                    "picoml does not read those" % t.Name().decode(errors="replace"))
    name = (t.Name() or b"").decode(errors="replace")
    scales = np.asarray(scales, np.float32)
    if not np.all(np.isfinite(scales)) or np.any(scales < 0):
        raise UnsupportedModelError("tensor %r has a quantization scale of %s: scales must be finite and not "
                                    "negative" % (name, scales[~(np.isfinite(scales) & (scales >= 0))][0]))
    if np.any(np.asarray(shape) < 0):
        raise UnsupportedModelError("tensor %r has shape %s: picoml needs fixed, non-negative dimensions"
                                    % (name, [int(d) for d in shape]))
    return TfliteTensor(index, name, shape, t.Type(), scales, np.asarray(zero_points, np.int64), quant_dim, data,
                        signature if signature is not None and len(signature) == len(shape) else None)


def _tensor(tensors, index, what, optional=False):
    """tensors[index], or None for -1 where an operand is optional; anything else out of range is refused."""
    if optional and index == -1:
        return None
    if not 0 <= index < len(tensors):
        raise UnsupportedModelError("malformed .tflite file: %s names tensor %d of %d" % (what, index, len(tensors)))
    return tensors[index]


def parse(data):
    """The ops of a .tflite file's main subgraph as TfliteOp objects, plus its input and output tensors."""
    data = bytes(data)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UnsupportedModelError("not a .tflite file: it does not carry the 'TFL3' flatbuffer identifier")
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise UnsupportedModelError("the .tflite file has no subgraph")
        if model.SubgraphsLength() > 1:
            raise UnsupportedModelError("the .tflite file has %d subgraphs (control flow); picoml runs one"
                                        % model.SubgraphsLength())
        graph = model.Subgraphs(0)
        tensors = [_read_tensor(model, graph, i) for i in range(graph.TensorsLength())]
        ops = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = _OP_NAMES.get(number, "builtin op %d" % number)
            if name == "CUSTOM":
                name = "CUSTOM(%s)" % (code.CustomCode() or b"").decode(errors="replace")
            inputs = [_tensor(tensors, j, "op %d input" % i, True) for j in op.InputsAsNumpy().tolist()] \
                if op.InputsLength() else []
            outputs = [_tensor(tensors, j, "op %d output" % i) for j in op.OutputsAsNumpy().tolist()] \
                if op.OutputsLength() else []
            label = outputs[0].name.split(";")[0] if outputs else ""
            ops.append(TfliteOp(i, name, inputs, outputs, _options(op), label))
        inputs = [_tensor(tensors, j, "model input") for j in graph.InputsAsNumpy().tolist()] \
            if graph.InputsLength() else []
        outputs = [_tensor(tensors, j, "model output") for j in graph.OutputsAsNumpy().tolist()] \
            if graph.OutputsLength() else []
    except UnsupportedModelError:
        raise
    except Exception as e:  # the flatbuffer library raises whatever a bad offset happens to trigger
        raise UnsupportedModelError("malformed or truncated .tflite file (%s: %s)" % (type(e).__name__, e))
    return ops, inputs, outputs


# ---------------------------------------------------------------------------------------------------------------
# Shape arithmetic folded at convert time
# ---------------------------------------------------------------------------------------------------------------
# A Keras model built without a fixed batch size (keras.Input(shape=...)) converts to a file whose tensors hold 1
# where their shape signature holds -1, and whose Flatten, Reshape, Dense on 3-D inputs, Conv2DTranspose and
# unrolled recurrent layers compute at run time the shapes they need: SHAPE of an activation, then STRIDED_SLICE,
# GATHER, REDUCE_PROD, PACK and CONCATENATION of int32 values into a RESHAPE's shape, a TRANSPOSE_CONV's output
# shape or a FILL's dimensions (a recurrent layer's zero initial state). picoml runs batch 1, every shape known:
# fold_shapes gives each SHAPE its input's shape as a constant and computes every op of constants that _FOLD
# evaluates, dropping it (its outputs are constants from then on), and works out the shape of each tensor the file
# leaves open from its op's inputs as TFLite does at batch 1 (_inferred_shapes): a Dense on a [1, T, C] input is a
# RESHAPE to [T, C] (given as [1, 1] in the file), FULLY_CONNECTED and a RESHAPE back.

_ARITHMETIC = frozenset(("ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "MINIMUM", "MAXIMUM", "REDUCE_PROD", "CAST"))


def _ints(values):
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _axis(axis, rank):
    """An axis of a rank-`rank` tensor counted from the end when negative; None when out of range."""
    axis = int(axis)
    return axis + rank if -rank <= axis < 0 else axis if 0 <= axis < rank else None


def _slice_counts(op, shape, begin, end, strides):
    """[(start, count, shrunk)] per axis of a STRIDED_SLICE of a tensor of `shape` (TFLite's strided_slice_logic,
    ops/integer.py); None for masks or vectors picoml does not take."""
    o = op.options
    if o.get("EllipsisMask", 0) or o.get("NewAxisMask", 0) or not len(begin) == len(end) == len(strides) == len(shape) \
            or 0 in strides:
        return None
    axes = []
    for i, dim in enumerate(shape):
        shrink = o.get("ShrinkAxisMask", 0) >> i & 1
        start, count = op_families.integer._slice_axis(
            dim, begin[i], end[i], strides[i], o.get("BeginMask", 0) >> i & 1, o.get("EndMask", 0) >> i & 1, shrink,
            o.get("Offset", False))
        if shrink and not 0 <= start < dim:
            return None
        axes.append((start, count, shrink))
    return axes


def _fold_strided_slice(op, v, shapes):
    axes = _slice_counts(op, v[0].shape, _ints(v[1]), _ints(v[2]), _ints(v[3]))
    if axes is None:
        return None
    strides = _ints(v[3])
    index = np.ix_(*[start + stride * np.arange(count) for (start, count, _), stride in zip(axes, strides)])
    return [v[0][index].reshape([count for _, count, shrink in axes if not shrink])]


def _fold_slice(op, v, shapes):
    x, begin, size = v[0], _ints(v[1]), _ints(v[2])
    if not len(begin) == len(size) == x.ndim:
        return None
    size = [d - b if n == -1 else n for d, b, n in zip(x.shape, begin, size)]
    if any(b < 0 or n < 0 or b + n > d for d, b, n in zip(x.shape, begin, size)):
        return None
    return [x[tuple(slice(b, b + n) for b, n in zip(begin, size))]]


def _fold_gather(op, v, shapes):
    x, indices = v[0], np.asarray(v[1])
    axis = _axis(op.options.get("Axis", 0), x.ndim)
    if op.options.get("BatchDims", 0) or axis is None or np.any((indices < 0) | (indices >= x.shape[axis])):
        return None
    return [np.take(x, indices.astype(np.int64), axis=axis)]


def _fold_unpack(op, v, shapes):
    axis = _axis(op.options.get("Axis", 0), v[0].ndim)
    return None if axis is None else [np.take(v[0], i, axis=axis) for i in range(v[0].shape[axis])]


def _fold_concatenation(op, v, shapes):
    if op.options.get("FusedActivationFunction", 0):
        return None
    return [np.concatenate(v, axis=op.options.get("Axis", 0))]


def _fold_fill(op, v, shapes):
    dims, value = _ints(v[0]), np.asarray(v[1])
    if value.size != 1 or min(dims, default=0) < 0:
        return None
    return [np.full(dims, value.reshape(()), value.dtype)]     # (the value's bytes, whatever the quantization)


def _fold_reduce_prod(op, v, shapes):
    axes = op_families.mean.resolve_axes(v[1], v[0].ndim)
    if axes is None:
        return None     # (int64 products wrap modulo 2^64, their int32 values modulo 2^32, as C's int32 arithmetic)
    return [np.prod(v[0].astype(np.int64), axis=tuple(axes), keepdims=bool(op.options.get("KeepDims", False)))]


def _int32_arithmetic(function):
    def fold(op, v, shapes):
        kind = op_families.common.FUSED_ACTIVATIONS.get(op.options.get("FusedActivationFunction", 0), "?")
        ranges = {"NONE": (-2 ** 31, 2 ** 31 - 1), "RELU": (0, 2 ** 31 - 1), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}
        a, b = (np.asarray(x, np.int64) for x in v)
        if kind not in ranges or (op.name in ("DIV", "FLOOR_DIV") and np.any(b == 0)):
            return None
        return [np.clip(function(a, b).astype(np.int32), *ranges[kind])]
    return fold


def _truncated_division(a, b):
    return np.abs(a) // np.abs(b) * np.sign(a) * np.sign(b)


def _fold_view(op, v, shapes):
    out = op.outputs[0]     # (a shape the file fixes is the view's, as for TFLite Micro's RESHAPE)
    return [v[0].reshape(shapes[0] if shapes and out.open_size else out.shape)]


# op name -> (op, its inputs' values, the outputs' shapes as _inferred_shapes works them out or None) -> the
# outputs' values, or None where they are not worked out here (the op is left to its lowering)
_FOLD = {
    "STRIDED_SLICE": _fold_strided_slice, "SLICE": _fold_slice, "GATHER": _fold_gather,
    "PACK": lambda op, v, shapes: [np.stack(v, axis=op.options.get("Axis", 0))], "UNPACK": _fold_unpack,
    "CONCATENATION": _fold_concatenation, "RESHAPE": _fold_view, "SQUEEZE": _fold_view, "EXPAND_DIMS": _fold_view,
    "TRANSPOSE": lambda op, v, shapes: [np.transpose(v[0], _ints(v[1]))],
    "TILE": lambda op, v, shapes: [np.tile(v[0], _ints(v[1]))] if len(_ints(v[1])) == v[0].ndim else None,
    "FILL": _fold_fill, "REDUCE_PROD": _fold_reduce_prod,
    "CAST": lambda op, v, shapes: [v[0]],
    "ADD": _int32_arithmetic(np.add), "SUB": _int32_arithmetic(np.subtract), "MUL": _int32_arithmetic(np.multiply),
    "DIV": _int32_arithmetic(_truncated_division), "FLOOR_DIV": _int32_arithmetic(np.floor_divide),
    "MINIMUM": _int32_arithmetic(np.minimum), "MAXIMUM": _int32_arithmetic(np.maximum),
}


def _folded_values(op, shapes, known):
    """The values of op's outputs when it computes them from constants alone (SHAPE: from its input's shape, which
    must be known), else None."""
    if any(t is None or t.dtype is None or t.dtype.kind not in "iu" or t.data is not None for t in op.outputs):
        return None
    if op.name == "SHAPE":
        x = op.inputs[0] if len(op.inputs) == 1 else None
        if x is None:
            return None
        if x.open_size and x.index not in known:
            raise UnsupportedModelError(
                "SHAPE (op %d, layer %r): the file leaves the shape of tensor %r open (%s) and picoml cannot work it "
                "out; give the model a fixed batch size (keras.Input(shape, batch_size=1))"
                % (op.index, op.label, x.name, list(x.signature)))
        return [np.array(x.shape, np.int64)]
    fold = _FOLD.get(op.name)
    operands = [t for t in op.inputs if t is not None]
    if fold is None or not op.inputs or not op.outputs or any(t is None for t in op.inputs + op.outputs) \
            or any(t.data is None or t.dtype.kind not in "iu" for t in operands):
        return None     # (an input or output missing: the lowering refuses what it needs)
    if op.name in _ARITHMETIC:
        tensors = operands + op.outputs
        if any(t.is_quantized for t in tensors) or (op.name != "CAST" and any(t.dtype != np.int32 for t in tensors)):
            return None     # int32 shape arithmetic only: quantized arithmetic is the lowering's
    elif op.name != "FILL":     # ops that move values: they keep the quantization
        quantized = {(tuple(t.scales), tuple(t.zero_points)) for t in operands + op.outputs if t.is_quantized}
        if len(quantized) > 1 or op.inputs[0].is_quantized != op.outputs[0].is_quantized:
            return None
    try:
        with np.errstate(all="ignore"):
            values = fold(op, [t.data for t in op.inputs], shapes)
    except (ArithmeticError, IndexError, TypeError, ValueError):
        return None     # operands these ops cannot take: left to the lowering, which refuses them by name
    if values is None or any(np.asarray(v).dtype.kind not in "iub" for v in values):
        return None
    return values


def _resolved_shape(shape, size):
    """A RESHAPE's `shape` with its -1 (at most one) worked out for `size` elements; None if it cannot hold them."""
    shape = [int(d) for d in shape]
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if shape.count(-1) > 1 or min(shape, default=0) < -1:
        return None
    if -1 in shape:
        if known == 0 or size % known:
            return None
        shape[shape.index(-1)] = size // known
    return tuple(shape) if int(np.prod(shape, dtype=np.int64)) == size else None


# ops whose output has its (first) input's shape
_SAME_SHAPE = frozenset(("SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION", "CAST", "QUANTIZE", "DEQUANTIZE", "LOGISTIC",
                         "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "HARD_SWISH", "ABS",
                         "RSQRT", "ELU", "NEG", "EXP", "LOG", "SQRT", "SQUARE", "GELU", "SIN", "COS", "FLOOR", "CEIL",
                         "ROUND", "SIGN", "REVERSE_V2"))
# element-wise ops of two inputs broadcast against each other
_BROADCAST = frozenset(("ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "PRELU",
                        "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND",
                        "LOGICAL_OR", "POW"))
# ops whose output's batch is their input's, their other sizes fixed by the file (a window's, a resize's)
_BATCH_KEPT = frozenset(("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESIZE_BILINEAR",
                         "RESIZE_NEAREST_NEIGHBOR", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"))
_WINDOWED = frozenset(("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"))
_REDUCTIONS = frozenset(("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"))


def _inferred_shapes(op):
    """The shapes of op's outputs at batch 1, worked out from its inputs' shapes and constant operands as TFLite's
    Prepare does (for the ops a model without a fixed batch size puts where the file leaves sizes open); None for
    other ops, or operands that do not fit."""
    ins, outs = op.inputs, op.outputs
    if not ins or ins[0] is None or not outs or any(t is None for t in outs):
        return None
    name, x, out = op.name, ins[0], outs[0]
    shape, rank = tuple(x.shape), len(x.shape)

    def values(i):
        t = ins[i] if i < len(ins) else None
        return None if t is None or t.data is None else _ints(t.data)

    size = int(np.prod(shape, dtype=np.int64))
    if name in _SAME_SHAPE and len(outs) == 1:
        return [shape]
    if name in _BROADCAST and len(ins) == 2 and ins[1] is not None:
        return [tuple(np.broadcast_shapes(shape, tuple(ins[1].shape)))]
    if name == "SELECT_V2" and len(ins) == 3 and None not in ins:
        return [tuple(np.broadcast_shapes(*(tuple(t.shape) for t in ins)))]
    if name == "RESHAPE" and values(1) is not None:
        resolved = _resolved_shape(values(1), size)
        return None if resolved is None else [resolved]
    if name == "EXPAND_DIMS" and values(1) is not None and len(values(1)) == 1:
        axis = _axis(values(1)[0], rank + 1)
        return None if axis is None else [shape[:axis] + (1,) + shape[axis:]]
    if name == "SQUEEZE":
        kept = tuple(d for d in shape if d != 1)
        return [kept] if len(kept) == len(out.shape) else None     # (which axes of 1, the file does not say here)
    if name == "FULLY_CONNECTED" and len(ins) > 1 and ins[1] is not None and len(ins[1].shape) == 2:
        units, depth = ins[1].shape
        if not depth or size % depth:
            return None
        if op.options.get("KeepNumDims", False):
            return [shape[:-1] + (units,)] if shape and shape[-1] == depth else None
        return [(size // depth, units)]
    if name == "BATCH_MATMUL" and len(ins) == 2 and ins[1] is not None and min(rank, len(ins[1].shape)) >= 2:
        y = tuple(ins[1].shape)
        m, k = shape[-1:-3:-1] if op.options.get("AdjX", False) else shape[-2:]
        k2, n = y[-1:-3:-1] if op.options.get("AdjY", False) else y[-2:]
        return [tuple(np.broadcast_shapes(shape[:-2], y[:-2])) + (m, n)] if k == k2 else None
    if name in _WINDOWED and rank == 4 == len(out.shape) and (name.endswith("POOL_2D") or (
            len(ins) > 1 and ins[1] is not None and len(ins[1].shape) == 4)):
        # (a window's output size as TFLite's Prepare computes it: an UpSampling2D's open height before a Conv2D)
        o = op.options
        if name.endswith("POOL_2D"):
            kernel, dilation, depth = (o.get("FilterHeight", 1), o.get("FilterWidth", 1)), (1, 1), shape[3]
        else:
            kernel = tuple(ins[1].shape[1:3])
            dilation = (o.get("DilationHFactor", 1), o.get("DilationWFactor", 1))
            depth = ins[1].shape[0] if name == "CONV_2D" else ins[1].shape[3]
        stride = (o.get("StrideH", 1), o.get("StrideW", 1))
        if min(kernel + dilation + stride) < 1:
            return None
        hw = tuple(output_size(o.get("Padding", 1), d, k, s, r)
                   for d, k, s, r in zip(shape[1:3], kernel, stride, dilation))
        return [(shape[0],) + hw + (depth,)] if min(hw) > 0 else None
    if name in _BATCH_KEPT and rank == len(out.shape) and rank and out.signature is not None and \
            all(d >= 0 for d in out.signature[1:]):
        return [(shape[0],) + tuple(out.shape[1:])]
    if name == "TRANSPOSE_CONV" and values(0) is not None:
        return [tuple(values(0))] if min(values(0), default=-1) >= 0 else None
    if name in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND") and values(1) is not None and values(2) is not None:
        block, edges = values(1), values(2)
        m = len(block)
        if len(edges) != 2 * m or rank < m + 1 or min(block, default=0) < 1:
            return None
        blocks = int(np.prod(block))
        if name == "SPACE_TO_BATCH_ND":
            padded = [d + edges[2 * i] + edges[2 * i + 1] for i, d in enumerate(shape[1:m + 1])]
            if any(p % b for p, b in zip(padded, block)):
                return None
            return [(shape[0] * blocks,) + tuple(p // b for p, b in zip(padded, block)) + shape[m + 1:]]
        if shape[0] % blocks:
            return None
        return [(shape[0] // blocks,) + tuple(d * b - edges[2 * i] - edges[2 * i + 1] for i, (d, b) in
                                              enumerate(zip(shape[1:m + 1], block))) + shape[m + 1:]]
    if name in ("PAD", "PADV2", "MIRROR_PAD") and values(1) is not None and len(values(1)) == 2 * rank:
        pads = values(1)
        return [tuple(d + pads[2 * i] + pads[2 * i + 1] for i, d in enumerate(shape))]
    if name == "TILE" and values(1) is not None and len(values(1)) == rank:
        return [tuple(d * k for d, k in zip(shape, values(1)))]
    if name == "TRANSPOSE" and values(1) is not None and sorted(values(1)) == list(range(rank)):
        return [tuple(shape[p] for p in values(1))]
    if name == "CONCATENATION":
        axis = _axis(op.options.get("Axis", 0), rank)
        if axis is None or any(t is None or len(t.shape) != rank for t in ins):
            return None
        return [shape[:axis] + (sum(t.shape[axis] for t in ins),) + shape[axis + 1:]]
    if name == "PACK":
        axis = _axis(op.options.get("Axis", 0), rank + 1)
        return None if axis is None else [shape[:axis] + (len(ins),) + shape[axis:]]
    if name == "UNPACK":
        axis = _axis(op.options.get("Axis", 0), rank)
        if axis is None or shape[axis] != len(outs):
            return None
        return [shape[:axis] + shape[axis + 1:]] * len(outs)
    if name == "SPLIT" and len(ins) == 2 and ins[1] is not None and values(0) is not None:
        shape, rank = tuple(ins[1].shape), len(ins[1].shape)
        axis = _axis(values(0)[0], rank)
        if axis is None or shape[axis] % len(outs):
            return None
        return [shape[:axis] + (shape[axis] // len(outs),) + shape[axis + 1:]] * len(outs)
    if name == "SPLIT_V" and values(1) is not None and values(2) is not None and len(values(1)) == len(outs):
        axis, sizes = _axis(values(2)[0], rank), values(1)
        if axis is None or sizes.count(-1) > 1:
            return None
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[axis] - (sum(sizes) + 1)
        return [shape[:axis] + (n,) + shape[axis + 1:] for n in sizes] if sum(sizes) == shape[axis] else None
    if name == "BROADCAST_TO" and values(1) is not None:
        return [tuple(values(1))]
    if name in _REDUCTIONS and values(1) is not None:
        axes = op_families.mean.resolve_axes(values(1), rank)
        if axes is None:
            return None
        keep = bool(op.options.get("KeepDims", False))
        return [tuple(1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes)]
    if name in ("ARG_MAX", "ARG_MIN") and values(1) is not None and len(values(1)) == 1:
        axis = _axis(values(1)[0], rank)
        return None if axis is None else [shape[:axis] + shape[axis + 1:]]
    if name == "GATHER" and len(ins) > 1 and ins[1] is not None and not op.options.get("BatchDims", 0):
        axis = _axis(op.options.get("Axis", 0), rank)
        return None if axis is None else [shape[:axis] + tuple(ins[1].shape) + shape[axis + 1:]]
    if name == "STRIDED_SLICE" and all(values(i) is not None for i in (1, 2, 3)):
        axes = _slice_counts(op, shape, values(1), values(2), values(3))
        return None if axes is None else [tuple(count for _, count, shrink in axes if not shrink)]
    if name == "SLICE" and values(1) is not None and values(2) is not None and len(values(2)) == rank:
        return [tuple(d - b if n == -1 else n for d, b, n in zip(shape, values(1), values(2)))]
    if name == "FILL" and values(0) is not None:
        return [tuple(values(0))]
    if name == "SHAPE":
        return [(rank,)]
    return None


def fold_shapes(ops, inputs, outputs):
    """The ops of a parsed graph left to lower once its shape arithmetic is folded and the sizes the file leaves
    open are worked out (the section's comment); the TfliteTensor objects are updated in place."""
    model_outputs = {t.index for t in outputs}
    known = {t.index for t in inputs}   # open-size tensors whose shape is known: the inputs (batch 1), those worked out
    changed = set()     # tensors whose shape differs from the file's
    kept = []
    for op in ops:
        shapes = None
        try:
            with np.errstate(all="ignore"):
                shapes = _inferred_shapes(op)
        except (ArithmeticError, IndexError, TypeError, ValueError):
            pass        # operands that do not fit: the lowering refuses them
        if shapes is not None and len(shapes) != len(op.outputs):
            shapes = None
        values = _folded_values(op, shapes, known) if not any(
            t is not None and t.index in model_outputs for t in op.outputs) else None
        if values is not None and len(values) == len(op.outputs):
            for t, value in zip(op.outputs, values):
                value = np.asarray(value)
                if tuple(value.shape) != t.shape and not (t.open_size and value.ndim == len(t.shape)):
                    raise UnsupportedModelError("%s (op %d, layer %r): its constant output %r is %s; the file gives "
                                                "it shape %s" % (op.name, op.index, op.label, t.name,
                                                                 list(value.shape), list(t.shape)))
                if tuple(value.shape) != t.shape:
                    changed.add(t.index)
                t.shape, t.data = tuple(value.shape), np.array(value, t.dtype)     # (a copy, C-ordered)
                known.add(t.index)
            continue
        open_outputs = [t for t in op.outputs if t is not None and t.open_size]
        if open_outputs and shapes is None and any(t is not None and t.index in changed for t in op.inputs):
            t = open_outputs[0]
            raise UnsupportedModelError(
                "%s (op %d, layer %r): the file leaves the shape of its output %r open (%s: a model without a fixed "
                "batch size) and picoml does not work it out for this op; give the model a fixed batch size "
                "(keras.Input(shape, batch_size=1))" % (op.name, op.index, op.label, t.name, list(t.signature)))
        if shapes is not None:
            for t, shape in zip(op.outputs, shapes):
                if t.open_size and len(shape) == len(t.shape) and all(
                        s == d or want < 0 for s, d, want in zip(shape, t.shape, t.signature)):
                    if tuple(shape) != t.shape:
                        changed.add(t.index)
                    t.shape = tuple(int(d) for d in shape)
                    known.add(t.index)
        kept.append(op)
    return kept


class Lowering:
    """The state shared by the op lowerings while one model is imported."""

    def __init__(self):
        self.model = Model()
        self._pml_index = {}   # TfliteTensor.index -> .pml tensor index
        self.float_held = set()     # float TFLite tensors taken as int8 ones (_float_island)
        # bool TFLite tensors a comparison wrote, as (compared int8 tensor, its 256 values' results): ops/select.py
        self.predicates = {}

    def fail(self, op, message):
        raise UnsupportedModelError("%s (op %d, layer %r): %s" % (op.name, op.index, op.label, message))

    def activation(self, t, op=None):
        """The .pml tensor for a non-constant int8 TFLite tensor."""
        if t.index in self.predicates:
            raise UnsupportedModelError("tensor %r, a comparison's bool result, is used by an op or as an output; "
                                        "%s" % (t.name, op_families.select.HINT))
        if t.index not in self._pml_index:
            if t.data is not None:
                return self.constant(t.data, t.name, t.scale, t.zero_point, key=t.index)
            self._pml_index[t.index] = self.model.add_tensor(
                Tensor(t.shape, t.dtype, t.scale, t.zero_point, name=t.name))
        return self._pml_index[t.index]

    def constant(self, array, name="", scale=0.0, zero_point=0, key=None):
        array = np.ascontiguousarray(array)
        index = self.model.add_tensor(Tensor(array.shape, array.dtype, scale, zero_point, data=array, name=name))
        if key is not None:
            self._pml_index[key] = index
        return index

    def temporary(self, shape, scale, zero_point, name):
        """A new int8 activation tensor that no TFLite tensor stands for."""
        return self.model.add_tensor(Tensor(shape, np.int8, scale, zero_point, name=name))

    def alias(self, output, input_tensor):
        """Make the .pml tensor of `output` a view of `input_tensor`'s bytes with output's shape."""
        self.model.views[self.activation(output)] = self.activation(input_tensor)

    def emit(self, name, inputs, outputs, params, op):
        self.model.ops.append(Op(name, inputs, outputs, params, op.label))


def _check_dtypes(op, lowering):
    if not op.outputs or any(t is None for t in op.outputs):
        lowering.fail(op, "an output tensor is missing")
    for t in op.inputs + op.outputs:
        if t is None or t.data is not None:
            continue
        if t.dtype != np.int8:
            lowering.fail(op, "tensor %r is %s; picoml runs fully int8-quantized models (quantize the model "
                              "with a representative dataset and int8 input/output, or give picoml convert the "
                              "Keras model with --calibration samples.npy)" % (t.name, t.type_name))
        if not t.is_quantized:
            lowering.fail(op, "tensor %r has no quantization parameters" % t.name)
        if not t.scale > 0 or not -128 <= t.zero_point <= 127:
            lowering.fail(op, "tensor %r is quantized with scale %g and zero point %d; int8 needs a positive "
                              "scale and a zero point in [-128, 127]" % (t.name, t.scale, t.zero_point))


def _check_integer_dtypes(op, lowering):
    """An op whose lowering takes integer tensors of several dtypes (it checks which itself): every tensor an
    integer dtype of the format, and an int8 tensor that is quantized quantized as int8 can be."""
    if any(t is None for t in op.outputs):
        lowering.fail(op, "an output tensor is missing")
    for t in op.inputs + op.outputs:
        if t is None:
            continue
        if t.dtype not in DTYPE_CODES:
            lowering.fail(op, "tensor %r is %s; picoml runs integer tensors (int8, int16, int32, uint32, uint64)%s"
                          % (t.name, t.type_name, "; " + op_families.pooling.INT32_INDICES
                             if op.name in op_families.pooling.INTEGER_OPS else ""))
        if t.dtype == np.int8 and t.is_quantized and t.data is None and \
                (not t.scale > 0 or not -128 <= t.zero_point <= 127):
            lowering.fail(op, "tensor %r is quantized with scale %g and zero point %d; int8 needs a positive "
                              "scale and a zero point in [-128, 127]" % (t.name, t.scale, t.zero_point))


# What to do instead, for ops users meet that picoml (and mostly TFLite Micro's int8 kernels) cannot run
_UNROLL = "a recurrent layer run as a loop: build Keras's LSTM, GRU or SimpleRNN with unroll=True (a fixed number of " \
          "steps), which converts"
UNSUPPORTED_HINTS = dict.fromkeys(
    ("BIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN",
     "BIDIRECTIONAL_SEQUENCE_RNN", "WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"), _UNROLL)
UNSUPPORTED_HINTS.update(dict.fromkeys(
    ("EXP", "LOG", "SQRT", "SQUARE", "NEG"),
    "TFLite Micro has no int8 kernel for it: an activation built from it (softplus, selu, mish, exponential, "
    "hard_shrink, ...) cannot run quantized; relu, relu6, elu, tanh, sigmoid, swish, hard_swish or leaky_relu can"))
UNSUPPORTED_HINTS["GELU"] = "TFLite Micro has no GELU: swish or hard_swish are close and convert"


def _refuse_unsupported(lowering, op):
    hint = UNSUPPORTED_HINTS.get(op.name)
    lowering.fail(op, "picoml does not support this op (docs/architecture.md#what-converts lists what converts)" + ("; " + hint if hint else ""))


# Ops that only move values, which the converter sometimes runs in float between a DEQUANTIZE and a QUANTIZE (to
# give their outputs a quantization of their own: a GRU's SPLIT of its gates)
MOVING_OPS = frozenset(("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SPLIT", "SPLIT_V", "UNPACK", "PACK", "CONCATENATION",
                        "TRANSPOSE", "GATHER", "STRIDED_SLICE", "TILE"))


def _float_island(lowering, op):
    """A float island (ops/float_island.py): DEQUANTIZE of an int8 activation, ops in MOVING_OPS and element-wise
    functions of one value (float_island.FUNCTIONS) on its float values, QUANTIZE back to int8. The float tensors are
    taken as int8 ones holding the values they were computed from (in the DEQUANTIZE's input's quantization: moving
    values keeps it), each with the functions applied since, and the QUANTIZE as a LUT doing TFLite Micro's float
    arithmetic. True when this handled the op (lowered it, or left it to the ordinary lowering on int8 tensors)."""
    held = lowering.float_held
    if op.name == "DEQUANTIZE":
        x, out = op.inputs[0], op.outputs[0]
        if x.data is not None or x.dtype != np.int8 or not x.is_quantized or out.dtype != np.float32:
            return False
        out.hold_int8(x)
        held.add(out.index)
        lowering.alias(out, x)
        return True
    floats = [t for t in op.inputs if t is not None and t.index in held]
    if not floats:
        return False
    if op.name == "QUANTIZE":
        x, out = op.inputs[0], op.outputs[0]
        if out.dtype != np.int8 or not out.is_quantized:
            lowering.fail(op, "QUANTIZE to %s: picoml runs int8 models" % out.type_name)
        op_families.float_island.emit_float_requantize(lowering, op, x, out)
        return True
    if op.name in op_families.float_island.FUNCTIONS and len(op.inputs) == 1 and len(op.outputs) == 1:
        x, out = op.inputs[0], op.outputs[0]
        if out.dtype != np.float32 or tuple(out.shape) != tuple(x.shape):
            lowering.fail(op, "a float %s from %s to %s %s" % (op.name, list(x.shape), out.type_name, list(out.shape)))
        options = tuple(sorted((k, v) for k, v in op.options.items() if isinstance(v, (int, float))))
        out.hold_int8(x, (op.name, options))
        held.add(out.index)
        lowering.alias(out, x)
        return True
    if op.name in ("ARG_MAX", "ARG_MIN") and not any(t.float_functions for t in floats):
        return False    # of dequantized values: the int8 values' arg max (a positive scale keeps their order)
    if op.name not in MOVING_OPS:
        lowering.fail(op, "a float %s between a DEQUANTIZE and a QUANTIZE: picoml runs int8 ops (in float only ops "
                          "that move values and functions of one value)" % op.name)
    if len({(t.scale, t.zero_point, t.float_functions) for t in floats}) != 1 or \
            any(t.dtype == np.float32 and t.index not in held for t in op.inputs if t is not None and t.data is None):
        lowering.fail(op, "float inputs from DEQUANTIZEs of different quantizations or through different functions: "
                          "picoml moves int8 values")
    for out in op.outputs:
        if out is not None and out.dtype == np.float32:
            out.hold_int8(floats[0])
            held.add(out.index)
    return False


def _check_dataflow(lowering, op, input_indices, written):
    """Each activation an op reads is a model input or written by an earlier op, and each it writes is written
    once, by this op alone: a damaged file's graph otherwise loops (an op writing its own input, two ops writing
    each other's inputs) or reads bytes nothing wrote."""
    state_inputs = op_families.STATE_INPUTS.get(op.name, ())
    for k, t in enumerate(op.inputs):
        if t is not None and t.data is None and t.index not in input_indices and t.index not in written and \
                k not in state_inputs:
            lowering.fail(op, "it reads tensor %r before any op writes it (the ops are out of order)" % t.name)
    for t in op.outputs:
        if t is None:
            continue
        if t.data is not None:
            lowering.fail(op, "it writes tensor %r, which holds constant data in the file" % t.name)
        if t.index in input_indices or t.index in written or any(u is t for u in op.inputs):
            lowering.fail(op, "it writes tensor %r, which is %s" % (
                t.name, "a model input" if t.index in input_indices else
                "written by an earlier op" if t.index in written else "also its input"))
        written.add(t.index)


def lower(ops, inputs, outputs):
    """The .pml graph (unplanned) of a parsed .tflite model."""
    lowering = Lowering()
    edge_quantize = {}      # float model input -> the int8 tensor its QUANTIZE op produces
    edge_dequantize = {}    # float model output -> the int8 tensor its DEQUANTIZE op reads
    input_indices = {t.index for t in inputs}
    output_indices = {t.index for t in outputs}
    written = set()         # the tensors the ops so far write
    for op in ops:
        lower_op = op_families.LOWER.get(op.name)
        if lower_op is None and op.name not in ("QUANTIZE", "DEQUANTIZE") and \
                op.name not in op_families.float_island.FUNCTIONS:
            _refuse_unsupported(lowering, op)
        n_outputs = op_families.N_OUTPUTS.get(op.name, 1)
        if len(op.inputs) < 1 or op.inputs[0] is None or not op.outputs or \
                len(op.outputs) != (n_outputs or len(op.outputs)):
            lowering.fail(op, "it has %d inputs and %d outputs" % (len(op.inputs), len(op.outputs)))
        _check_dataflow(lowering, op, input_indices, written)
        if op.name == "QUANTIZE" and op.inputs[0].index in input_indices and op.inputs[0].dtype == np.float32:
            edge_quantize[op.inputs[0].index] = op.outputs[0]
            continue
        if op.name == "DEQUANTIZE" and op.outputs[0].index in output_indices and op.inputs[0].data is None:
            edge_dequantize[op.outputs[0].index] = op.inputs[0]
            continue
        if _float_island(lowering, op):
            continue
        if lower_op is None and op.name not in ("QUANTIZE", "DEQUANTIZE"):
            _refuse_unsupported(lowering, op)       # a float function of one value outside a float island
        if lower_op is None:
            lowering.fail(op, "picoml does not support this op here (only at the model's float input/output)")
        if op.name in ("GATHER", "GATHER_ND") and len(op.inputs) > 1 and op.inputs[1] is not None and \
                op.inputs[1].data is None:      # (before the dtype checks: the indices are int32)
            lowering.fail(op, "its indices %r are not constant; %s" % (op.inputs[1].name,
                                                                        op_families.shape.RUN_TIME_INDICES))
        if op.name in op_families.INTEGER_OPS or (op.name in op_families.INT32_OPS and op.outputs[0] is not None
                                                   and op.outputs[0].dtype != np.int8):
            _check_integer_dtypes(op, lowering)
        elif op.name not in op_families.SELF_CHECKED_OPS:
            _check_dtypes(op, lowering)
        try:
            # a damaged file's scales can overflow float32 arithmetic: the value, not numpy's warning, is what the
            # lowering checks (quantize_multiplier refuses a non-finite multiplier, naming the op)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
                lower_op(lowering, op)
        except UnsupportedModelError:
            raise
        except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            # a damaged file can give an op operands or options its lowering cannot even read
            lowering.fail(op, "malformed operands or options (%s: %s)" % (type(e).__name__, e))

    model = lowering.model
    # (a float tensor taken as int8 stands for no TFLite tensor of the same bytes)
    model.source_tensors = {pml: tfl for tfl, pml in lowering._pml_index.items() if tfl not in lowering.float_held}
    for t in inputs:
        inner = edge_quantize.get(t.index, t)
        if inner.dtype not in DTYPE_CODES:
            raise UnsupportedModelError("model input %r is %s; picoml needs integer input (int8, int16, ...), or "
                                        "float32 input followed by a QUANTIZE op" % (t.name, t.type_name))
        model.inputs.append(IO(lowering.activation(inner), float_edge=t.index in edge_quantize))
    for t in outputs:
        inner = edge_dequantize.get(t.index, t)
        if inner.dtype not in DTYPE_CODES:
            raise UnsupportedModelError("model output %r is %s; picoml needs integer output (int8, int16, ...), "
                                        "or a DEQUANTIZE op to float32" % (t.name, t.type_name))
        if inner.float_functions:
            raise UnsupportedModelError("model output %r is float computed by %s in float: picoml gives float "
                                        "outputs only as int8 values dequantized" % (
                                            t.name, ", ".join(name for name, _ in inner.float_functions)))
        model.outputs.append(IO(lowering.activation(inner),
                                float_edge=t.index in edge_dequantize or t.index in lowering.float_held))
    return model


def import_tflite(data, name=""):
    ops, inputs, outputs = parse(data)
    ops = fold_shapes(ops, inputs, outputs)
    fold_high_ranks(ops, inputs, outputs)
    model = lower(ops, inputs, outputs)
    model.metadata["source"] = name
    return model
