"""Read a fully-int8 .tflite flatbuffer (with the `tflite` schema package, no TensorFlow) and lower it to a
.pml `Model` graph: the op lowerings live beside their reference kernels in `picoml.ops`."""
import numpy as np
import tflite
from flatbuffers import flexbuffers

from .errors import UnsupportedModelError
from .format import DTYPE_CODES, IO, Model, Op, Tensor
from . import ops as op_families
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
    def __init__(self, index, name, shape, type_code, scales, zero_points, quant_dim, data):
        self.index = index
        self.name = name
        self.shape = tuple(int(d) for d in shape)
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
    return TfliteTensor(index, name, shape, t.Type(), scales, np.asarray(zero_points, np.int64), quant_dim, data)


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
    lowering.fail(op, "picoml does not support this op (docs/format.md lists the op set)" + ("; " + hint if hint else ""))


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
    fold_high_ranks(ops, inputs, outputs)
    model = lower(ops, inputs, outputs)
    model.metadata["source"] = name
    return model
