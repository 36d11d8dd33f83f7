"""Bit-exactness of the lowerings and numpy references against TensorFlow Lite Micro (the `tflite-micro` PyPI
interpreter), on single-op int8 models converted by TensorFlow: SOFTMAX, MEAN, REDUCE_MAX (lowered onto
MAX_POOL_2D, through the whole importer), SUB, and the element-wise functions of one value that become a LUT
(LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, LEAKY_RELU, int8 QUANTIZE), whose table is checked on all 256 inputs.

Models are converted once and cached under the system temp dir. Some configurations the converter never produces
(other input scales, softmax beta, equal input/output quantization for MEAN, an int8 -> int8 QUANTIZE) are made by
patching the converted flatbuffer in place (same-size scalar edits)."""
import hashlib
import os
import pathlib
import tempfile

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from picoml import format as pml_format
from picoml import reference as pml_reference
from picoml.convert import convert
from picoml.runtimes.c import CRuntime
from picoml.errors import UnsupportedModelError
from picoml.fixedpoint import quantize_multiplier
from picoml.optable import BY_NAME
from picoml.ops import LOWER, REFERENCE, elementwise, lut, mean, nonlinear

import tflite
from tflite_micro import runtime

CACHE = pathlib.Path(tempfile.gettempdir()) / "picoml_nonlinear_models"
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


# ------------------------------------------------------------------------------------------------------------------
# model conversion (cached)
# ------------------------------------------------------------------------------------------------------------------

def _graph(kind, shape, arg):
    import tensorflow as tf
    if kind == "softmax":
        return lambda x: tf.nn.softmax(x)
    if kind == "logistic":
        return lambda x: tf.math.sigmoid(x)
    if kind == "tanh":
        return lambda x: tf.math.tanh(x)
    if kind == "hard_swish":
        return lambda x: x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)
    if kind == "relu":
        return lambda x: tf.nn.relu(x)
    if kind == "relu6":
        return lambda x: tf.nn.relu6(x)
    if kind == "leaky_relu":
        return lambda x: tf.nn.leaky_relu(x, alpha=arg)
    if kind == "mean":
        axes, keep_dims = arg
        return lambda x: tf.reduce_mean(x, axis=list(axes), keepdims=keep_dims)
    if kind == "reduce_max":
        axes, keep_dims = arg
        return lambda x: tf.reduce_max(x, axis=list(axes), keepdims=keep_dims)
    if kind in ("sub", "rsub"):     # a tensor minus a constant of shape arg, and the constant minus the tensor
        c = np.linspace(-1.5, 2.5, int(np.prod(arg))).astype(np.float32).reshape(arg)
        return (lambda x: x - c) if kind == "sub" else (lambda x: c - x)
    raise ValueError(kind)


def _convert(kind, shape, arg, low, high, seed):
    import tensorflow as tf
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(16):
            yield [rng.uniform(low, high, size=shape).astype(np.float32)]

    if kind == "gap2d":
        import keras
        inp = keras.Input(shape=shape[1:], batch_size=1)
        model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(keepdims=arg)(inp))
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        fn = tf.function(_graph(kind, shape, arg), input_signature=[tf.TensorSpec(shape, tf.float32)],
                         autograph=False)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def model(kind, shape, arg=None, low=-1.0, high=1.0, seed=0):
    key = repr((kind, tuple(shape), arg, low, high, seed))
    path = CACHE / (kind + "_" + hashlib.sha1(key.encode()).hexdigest()[:16] + ".tflite")
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        data = _convert(kind, list(shape), arg, low, high, seed)
        tmp = path.with_suffix(".tmp%d" % os.getpid())
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------------------------
# a minimal stand-in for the importer: the single op of a model, its tensors and options
# ------------------------------------------------------------------------------------------------------------------

OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
TYPES = {tflite.TensorType.INT8: np.int8, tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32}


class Tensor:
    def __init__(self, model, subgraph, index):
        t = subgraph.Tensors(index)
        self.index = index
        self.shape = tuple(int(d) for d in t.ShapeAsNumpy())
        self.dtype = np.dtype(TYPES[t.Type()])
        q = t.Quantization()
        scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
        zero_points = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        self.scales = np.array(scales, dtype=np.float32)
        self.zero_points = np.array(zero_points, dtype=np.int64)
        self.scale = float(self.scales[0]) if len(self.scales) else 0.0
        self.zero_point = int(self.zero_points[0]) if len(self.zero_points) else 0
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        self.data = None if isinstance(raw, int) or len(raw) == 0 else \
            np.frombuffer(raw.tobytes(), dtype=self.dtype).reshape(self.shape)


class Op:
    def __init__(self, name, inputs, outputs, options, label):
        self.name, self.inputs, self.outputs, self.options, self.label = name, inputs, outputs, options, label
        self.params = None


def _options(name, op):
    table = op.BuiltinOptions()
    if name == "SOFTMAX":
        o = tflite.SoftmaxOptions()
        o.Init(table.Bytes, table.Pos)
        return {"Beta": o.Beta()}
    if name == "MEAN":
        o = tflite.ReducerOptions()
        o.Init(table.Bytes, table.Pos)
        return {"KeepDims": bool(o.KeepDims())}
    if name == "LEAKY_RELU":
        o = tflite.LeakyReluOptions()
        o.Init(table.Bytes, table.Pos)
        return {"Alpha": o.Alpha()}
    return {}


def read_single_op(data):
    m = tflite.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    assert sg.OperatorsLength() == 1, "expected a single-op model"
    op = sg.Operators(0)
    code = m.OperatorCodes(op.OpcodeIndex())
    name = OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
    inputs = [Tensor(m, sg, int(i)) for i in op.InputsAsNumpy()]
    outputs = [Tensor(m, sg, int(i)) for i in op.OutputsAsNumpy()]
    return Op(name, inputs, outputs, _options(name, op), "op0"), m, sg, op


class Ctx:
    def __init__(self):
        self.emitted = []
        self.constants = []

    def activation(self, t):
        return t.index

    def constant(self, array, name=""):
        self.constants.append(array)
        return "constant %d" % (len(self.constants) - 1)

    def fail(self, op, message):
        raise UnsupportedModelError("%s (%s): %s" % (op.name, op.label, message))

    def emit(self, name, inputs, outputs, params, op):
        spec = BY_NAME[name]
        assert set(params) == set(spec.params), (name, sorted(params), spec.params)
        for k, v in params.items():
            assert isinstance(v, (int, np.integer)) and -(1 << 31) <= int(v) < (1 << 31), (k, v)
        self.emitted.append((name, inputs, outputs, {k: int(v) for k, v in params.items()}))


def lower(data):
    """(name of the one .pml op the model's op lowers to, the op with .params and .constants: its constant
    operands, in order)."""
    op, *_ = read_single_op(data)
    ctx = Ctx()
    LOWER[op.name](ctx, op)
    assert len(ctx.emitted) == 1
    name, inputs, _, params = ctx.emitted[0]
    op.params = params
    op.constants = [ctx.constants[int(i.split()[1])] for i in inputs if isinstance(i, str)]
    if name == "LUT":
        assert len(op.constants) == 1 and op.constants[0].dtype == np.int8 and op.constants[0].shape == (256,)
    return name, op


def reference(name, op, x):
    out = op.outputs[0]
    outputs = [pml_format.Tensor(out.shape, np.int8, out.scale, out.zero_point)]
    return REFERENCE[name](op, [x] + op.constants, outputs)[0]


# ------------------------------------------------------------------------------------------------------------------
# in-place flatbuffer edits
# ------------------------------------------------------------------------------------------------------------------

def patched(data, tensor=None, scale=None, zero_point=None, beta=None, opcode=None):
    """A copy of the single-op model with tensor 'input'/'output' re-quantized, softmax beta changed, or the op
    turned into another builtin op with the same operands (opcode: a tflite.BuiltinOperator value below 127)."""
    buf = bytearray(data)
    op_, m, sg, op = read_single_op(buf)
    if opcode is not None:
        code = m.OperatorCodes(op.OpcodeIndex())
        for field, dtype in ((4, np.int8), (10, np.int32)):     # deprecated_builtin_code, builtin_code
            offset = code._tab.Offset(field)
            assert offset, "op code field not stored in the flatbuffer"
            np.frombuffer(buf, dtype=dtype, count=1, offset=code._tab.Pos + offset)[0] = opcode
    if tensor is not None:
        index = (op_.inputs if tensor == "input" else op_.outputs)[0].index
        q = sg.Tensors(index).Quantization()
        if scale is not None:
            q.ScaleAsNumpy()[0] = np.float32(scale)
        if zero_point is not None:
            q.ZeroPointAsNumpy()[0] = zero_point
    if beta is not None:
        table = op.BuiltinOptions()
        o = tflite.SoftmaxOptions()
        o.Init(table.Bytes, table.Pos)
        field = o._tab.Offset(4)
        assert field, "beta not stored in the flatbuffer"
        np.frombuffer(buf, dtype=np.float32, count=1, offset=o._tab.Pos + field)[0] = beta
    return bytes(buf)


# ------------------------------------------------------------------------------------------------------------------
# the comparison
# ------------------------------------------------------------------------------------------------------------------

def check(data, inputs):
    """Lower the model's op, run each input through TFLite Micro and the reference, compare bytes."""
    name, op = lower(data)
    arena = 4 * int(np.prod(op.inputs[0].shape)) + 4 * int(np.prod(op.outputs[0].shape)) + 64 * 1024
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena)
    shape = op.inputs[0].shape
    for x in inputs:
        x = np.asarray(x, dtype=np.int8).reshape(shape)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        expected = interpreter.get_output(0)
        got = reference(name, op, x)
        assert got.dtype == np.int8 and got.shape == expected.shape, (got.dtype, got.shape, expected.shape)
        if not np.array_equal(got, expected):
            bad = np.argwhere(got != expected)[:8]
            raise AssertionError("%s params=%s: %d mismatches, first at %s: input %s got %s expected %s"
                                 % (name, op.params, int((got != expected).sum()), bad.tolist(),
                                    [int(x[tuple(i)]) for i in bad], [int(got[tuple(i)]) for i in bad],
                                    [int(expected[tuple(i)]) for i in bad]))
    return op


def random_inputs(shape, count, seed):
    rng = np.random.default_rng(seed)
    out = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]
    # narrow spreads (softmax saturates less), constants and extremes
    out += [np.clip(rng.integers(-6, 7, size=shape) + rng.integers(-120, 120), -128, 127) for _ in range(count)]
    out += [np.full(shape, v, dtype=np.int8) for v in (-128, 0, 127)]
    return out


# ------------------------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------------------------

ELEMENTWISE_RANGES = [(-1.0, 1.0), (-8.0, 8.0), (-0.1, 0.3), (-3.0, 12.0), (-40.0, 25.0), (0.5, 2.0)]


@pytest.mark.parametrize("kind", ["logistic", "tanh", "hard_swish", "relu"])
@pytest.mark.parametrize("low,high", ELEMENTWISE_RANGES)
def test_elementwise_all_int8_values(kind, low, high):
    assert lower(model(kind, (1, 256), low=low, high=high))[0] == "LUT"
    check(model(kind, (1, 256), low=low, high=high), [ALL_INT8])


@pytest.mark.parametrize("alpha", [0.2, 0.01, 0.5, 1.5, -0.3, 0.0])
def test_leaky_relu_all_int8_values(alpha):
    check(model("leaky_relu", (1, 256), alpha, low=-5.0, high=3.0), [ALL_INT8])


def quantize_model():
    """A single int8 -> int8 QUANTIZE: the RELU model with its op code changed (RELU and QUANTIZE take the same
    operands and no options)."""
    return patched(model("relu", (1, 256)), opcode=tflite.BuiltinOperator.QUANTIZE)


def test_quantize_int8_to_int8_all_values():
    data = quantize_model()
    assert read_single_op(data)[0].name == "QUANTIZE"
    check(patched(data, "output", 0.02, -3), [ALL_INT8])


@pytest.mark.parametrize("kind", ["logistic", "tanh"])
@pytest.mark.parametrize("scale,zero_point", [(20.0, 0), (8.0, -3), (1e-3, 17), (0.0625, 100), (0.3, -128),
                                              (1.0 / 3, 5)])
def test_sigmoid_like_patched_input_quantization(kind, scale, zero_point):
    data = patched(model(kind, (1, 256)), "input", scale, zero_point)
    check(data, [ALL_INT8])


@pytest.mark.parametrize("in_scale,out_scale,out_zp", [(0.02, 0.5, 3), (0.001, 0.5, 0), (0.5, 0.01, -100),
                                                       (0.2, 0.19, 7), (0.0003, 0.0001, -20),
                                                       (0.001, 1.0, 0), (1e-4, 1.0, 5), (1e-4, 8.0, -3)])
def test_hard_swish_patched_quantization(in_scale, out_scale, out_zp):
    """The last three give output_multiplier_exponent -16, -20, -23: gemmlowp's int16 RoundingDivideByPOT then
    computes its mask in int16 and returns +1 for x >= 0, -1 for x < 0 (TFLite Micro does that too)."""
    data = patched(model("hard_swish", (1, 256), low=-4.0, high=4.0), "input", in_scale, -9)
    data = patched(data, "output", out_scale, out_zp)
    check(data, [ALL_INT8])


def test_hard_swish_output_exponent_positive_fails():
    data = patched(model("hard_swish", (1, 256), low=-4.0, high=4.0), "output", 1e-5, 0)
    with pytest.raises(UnsupportedModelError):
        lower(data)


TABLE_FUNCTIONS = [elementwise.relu, elementwise.leaky_relu, elementwise.requantize, nonlinear.logistic,
                   nonlinear.tanh, nonlinear.hard_swish]


def _random_params(rng, fn):
    """Params for fn as the lowerings make them, from random quantizations (drawn again where the lowering would
    refuse them)."""
    params = None
    while params is None:
        params = _params_or_none(rng, fn)
    return params


def _params_or_none(rng, fn):
    s_in, s_out = float(np.float32(2.0 ** rng.uniform(-12, 3))), float(np.float32(2.0 ** rng.uniform(-12, 3)))
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    if fn is nonlinear.hard_swish:
        params = nonlinear.hard_swish_params(s_in, zp_in, s_out, zp_out)
        return params if params["output_multiplier_exponent"] <= 0 else None
    if fn in (nonlinear.logistic, nonlinear.tanh):
        return nonlinear.sigmoid_like_params(s_in, zp_in)
    multiplier, shift = quantize_multiplier(s_in / s_out)
    a_multiplier, a_shift = quantize_multiplier(s_in * rng.uniform(-1, 1) / s_out, signed=True)
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
    return {"input_offset": -zp_in, "output_offset": zp_out, "output_multiplier": multiplier,
            "output_shift": shift, "multiplier": multiplier, "shift": shift, "act_min": lo, "act_max": hi,
            "identity_multiplier": multiplier, "identity_shift": shift, "alpha_multiplier": a_multiplier,
            "alpha_shift": a_shift}


@pytest.mark.parametrize("fn", TABLE_FUNCTIONS, ids=lambda f: f.__name__)
def test_lut_gives_the_function_it_was_made_from(fn):
    """On every int8 value, in any order and shape, a LUT gives what its function gives."""
    rng = np.random.default_rng(21)
    for _ in range(20):
        params = _random_params(rng, fn)
        table = lut.table(fn, params)
        x = rng.permutation(np.tile(ALL_INT8, 3)).reshape(3, 16, 16)
        out = pml_format.Tensor(x.shape, np.int8)
        got = lut.reference_lut(None, [x, table], [out])[0]
        assert got.dtype == np.int8 and got.shape == x.shape
        assert np.array_equal(got, fn(params, x))


@pytest.mark.parametrize("shape,low,high", [((1, 10), -1.0, 1.0), ((1, 10), -10.0, 10.0), ((1, 7, 12), -4.0, 4.0),
                                            ((1, 3, 4, 33), -0.2, 0.2), ((1, 1000), -30.0, 30.0)])
def test_softmax(shape, low, high):
    inputs = random_inputs(shape, 6, seed=len(shape))
    if shape[-1] >= 512:
        inputs = inputs[:6]     # near-uniform rows this wide make TFLite Micro abort (see the next test)
    check(model("softmax", shape, low=low, high=high), inputs)


def test_softmax_wide_uniform_row_gives_zeros():
    """512+ values at the row maximum: TFLite Micro aborts on its exponent check; picoml outputs all 0.0."""
    name, op = lower(model("softmax", (1, 1000), low=-30.0, high=30.0))
    x = np.zeros((1, 1000), dtype=np.int8)
    x[0, ::2] = 3
    assert np.all(reference(name, op, x) == -128)


@pytest.mark.parametrize("scale,beta", [(10.0, None), (300.0, None), (4e-7, None), (0.05, 0.3), (0.05, 7.5),
                                        (2.0 ** -8, 1.0)])
def test_softmax_patched(scale, beta):
    data = patched(model("softmax", (1, 3, 20)), "input", scale, None, beta=beta)
    check(data, random_inputs((1, 3, 20), 4, seed=1))


def test_softmax_unsupported_quantization_fails():
    with pytest.raises(UnsupportedModelError):
        lower(patched(model("softmax", (1, 10)), "input", 1e-9))
    with pytest.raises(UnsupportedModelError):
        lower(patched(model("softmax", (1, 10)), "output", 1.0 / 255))


MEAN_CASES = [((1, 5, 6, 8), (1, 2), True), ((1, 5, 6, 8), (1, 2), False), ((1, 5, 6, 8), (2, 1), True),
              ((1, 7, 5), (1,), False), ((1, 7, 5), (-1,), True), ((1, 4, 3, 9), (3,), False),
              ((1, 4, 3, 9), (1, 3), False), ((1, 12), (1,), True), ((1, 30, 30, 2), (1, 2), False),
              ((1, 6, 2, 5), (0, 2), True)]


@pytest.mark.parametrize("shape,axes,keep_dims", MEAN_CASES)
def test_mean(shape, axes, keep_dims):
    data = model("mean", shape, (axes, keep_dims), low=-2.0, high=3.0)
    check(data, random_inputs(shape, 5, seed=3))


@pytest.mark.parametrize("keep_dims", [False, True])
def test_mean_global_average_pooling(keep_dims):
    shape = (1, 7, 9, 6)
    check(model("gap2d", shape, keep_dims, low=-1.0, high=2.0), random_inputs(shape, 5, seed=4))


@pytest.mark.parametrize("shape,axes,keep_dims", MEAN_CASES[:4] + MEAN_CASES[6:8])
def test_mean_same_quantization(shape, axes, keep_dims):
    """Older TFLite Micro divided the raw sum with truncation here; the current one requantizes as usual."""
    data = model("mean", shape, (axes, keep_dims), low=-2.0, high=3.0)
    op, *_ = read_single_op(data)
    data = patched(data, "output", op.inputs[0].scale, op.inputs[0].zero_point)
    _, lowered = lower(data)
    count = int(np.prod([shape[a] for a in axes]))
    assert (lowered.params["multiplier"], lowered.params["shift"]) == mean.fold_count(1 << 30, 1, count)
    check(data, random_inputs(shape, 5, seed=5))


@pytest.mark.parametrize("out_scale,out_zp", [(1e-3, 4), (0.5, -70), (3.0, 0), (0.0123, 127)])
def test_mean_patched_output_quantization(out_scale, out_zp):
    shape = (1, 5, 6, 8)
    data = patched(model("mean", shape, ((1, 2), False), low=-2.0, high=3.0), "output", out_scale, out_zp)
    check(data, random_inputs(shape, 5, seed=6))


@pytest.mark.parametrize("axes,keep_dims", [((1, 2, 3), False), ((0, 1, 2, 3), True), ((-1, 0, 1), True)])
def test_mean_over_more_than_two_axes(axes, keep_dims):
    """TFLite Micro overruns its two-entry resolved-axis array here, yet computes the same result."""
    shape = (1, 4, 5, 3)
    check(model("mean", shape, (axes, keep_dims), low=-2.0, high=3.0), random_inputs(shape, 5, seed=7))


def test_mean_rank_above_four_fails():
    with pytest.raises(UnsupportedModelError):
        lower(model("mean", (1, 2, 3, 4, 5), ((2, 3), False)))


# REDUCE_MAX: one MAX_POOL_2D per run of neighbouring reduced axes (axes of size 1 left out), over views
REDUCE_MAX_CASES = [((1, 128, 8), (1,), False, 1), ((1, 1000, 2), (1,), True, 1), ((1, 7, 9, 6), (1, 2), True, 1),
                    ((1, 7, 9, 6), (2, 1), False, 1), ((1, 7, 9, 6), (1,), True, 1), ((1, 7, 9, 6), (2,), False, 1),
                    ((1, 7, 9, 6), (-1,), False, 1), ((1, 7, 9, 6), (1, 3), False, 2),
                    ((2, 3, 4, 5), (0, 2), True, 2), ((2, 3, 4, 5), (0, 1, 2, 3), False, 1), ((3, 5), (0,), False, 1),
                    ((1, 6, 1, 4), (1, 3), True, 1), ((1, 6, 1, 4), (0, 2), False, 0), ((4, 1, 3), (0, 1), True, 1)]


@pytest.mark.parametrize("shape,axes,keep_dims,pools", REDUCE_MAX_CASES)
def test_reduce_max(shape, axes, keep_dims, pools):
    data = model("reduce_max", shape, (axes, keep_dims), low=-2.0, high=3.0)
    assert read_single_op(data)[0].name == "REDUCE_MAX"
    converted = convert(data, measure_tflm=False)
    assert [op.name for op in converted.ops] == ["MAX_POOL_2D"] * pools
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=8 * int(np.prod(shape)) + 64 * 1024)
    c = CRuntime(converted)     # and the C kernels: the windows of the whole reduced extent, the views
    for x in random_inputs(shape, 5, seed=8):
        x = np.asarray(x, np.int8).reshape(shape)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        expected = interpreter.get_output(0)
        got, = pml_reference.run(converted, [x])
        assert got.shape == expected.shape and np.array_equal(got, expected), (got, expected)
        assert np.array_equal(c.run([x])[0], expected)


def test_reduce_max_of_other_output_quantization_fails():
    """TFLite Micro's int8 REDUCE_MAX refuses a scale that differs; a zero point that differs would need a
    requantization it does not do."""
    data = model("reduce_max", (1, 7, 9, 6), ((1, 2), False), low=-2.0, high=3.0)
    op, *_ = read_single_op(data)
    for scale, zero_point in ((op.inputs[0].scale * 2, None), (None, op.inputs[0].zero_point + 1)):
        with pytest.raises(UnsupportedModelError, match="quantization differ"):
            convert(patched(data, "output", scale, zero_point), measure_tflm=False)


# SUB: ADD's arithmetic with the second rescaled input subtracted; TFLite Micro's CalculateOpDataSub computes the
# real multipliers in float32 where CalculateOpDataAdd uses double, so the quantized multipliers differ

def _tflm_outputs(data, xs):
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=64 * 1024)
    outputs = []
    for x in xs:
        interpreter.set_input(x, 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0))
    return outputs


def _float32_prepare(params, a, b, out):
    """params with the multipliers computed in float32, as tflite-micro's sub_common.cc did in 2025 (ADD's in
    double)."""
    f32 = np.float32
    twice = f32(2) * max(f32(a.scale), f32(b.scale))
    params = dict(params)
    for k, real in (("input1", f32(a.scale) / twice), ("input2", f32(b.scale) / twice),
                    ("output", twice / (f32(1 << elementwise.ADD_LEFT_SHIFT) * f32(out.scale)))):
        params[k + "_multiplier"], params[k + "_shift"] = quantize_multiplier(float(real))
    return params


SUB_SWEEP = [(None, None, None)] + [(float(np.float32(2.0 ** np.random.default_rng(i).uniform(-8, 1))),
                                     float(np.float32(2.0 ** np.random.default_rng(100 + i).uniform(-8, 1))),
                                     int(np.random.default_rng(200 + i).integers(-128, 128))) for i in range(12)]


def _check_sub(kind, shape, arg, sweep, xs):
    """Each (input scale, output scale, output zero point) of `sweep` patched into the model (None: as converted):
    the reference's bytes are TFLite Micro's; returns how many outputs multipliers computed in float32 would have
    got wrong."""
    base = model(kind, shape, arg, low=-2.0, high=3.0)
    op, *_ = read_single_op(base)
    assert op.name == "SUB" and op.inputs[0 if kind == "sub" else 1].data is None
    activation = op.inputs[0 if kind == "sub" else 1].index
    float32_misses = 0
    for in_scale, out_scale, out_zp in sweep:
        data = base if in_scale is None else _patch_scale(patched(base, "output", out_scale, out_zp), activation,
                                                          in_scale)
        converted = convert(data, measure_tflm=False)
        sub, = converted.ops
        assert sub.name == "SUB"
        want = _tflm_outputs(data, xs)
        for x, w in zip(xs, want):
            got, = pml_reference.run(converted, [x])
            assert np.array_equal(got, w), (in_scale, out_scale, out_zp, sub.params)
        a, b, out = (converted.tensors[i] for i in sub.inputs + sub.outputs)
        alternative = pml_format.Op("SUB", sub.inputs, sub.outputs, _float32_prepare(sub.params, a, b, out))
        for x, w in zip(xs, want):
            operands = [x, b.data] if b.is_constant else [a.data, x]
            float32_misses += not np.array_equal(REFERENCE["SUB"](alternative, operands, [out])[0], w)
    return float32_misses


@pytest.mark.parametrize("kind,shape,arg", [("sub", (4, 64), (64,)), ("sub", (1, 256), ()), ("rsub", (4, 64), (64,)),
                                            ("sub", (2, 8, 16), (1, 8, 1))])
def test_sub(kind, shape, arg):
    """Every int8 value against a per-channel (or scalar, or middle-axis) constant, as Keras Normalization makes,
    and random inputs, the input's and output's quantization swept: TFLite Micro's bytes."""
    xs = [np.resize(ALL_INT8, shape)] + [np.asarray(x, np.int8) for x in random_inputs(shape, 3, seed=9)]
    _check_sub(kind, shape, arg, SUB_SWEEP, xs)


def test_sub_multipliers_are_computed_in_double():
    """Quantizations (found by a search over random ones) where multipliers computed in float32, as tflite-micro's
    sub_common.cc did in 2025, give other bytes than ADD's double-precision ones in one of the 16384 pairs of each
    int8 value with each of 64 channel constants: picoml gives the bytes of the TFLite Micro it is held to (the
    tflite-micro package), which computes them in double."""
    sweep = [(0.023231279104948044, 0.005468558520078659, 3), (0.02625841088593006, 0.013431494124233723, 91),
             (0.6490203738212585, 0.45987075567245483, 44), (0.40037140250205994, 0.46544143557548523, 78)]
    xs = [np.repeat(ALL_INT8, 64).reshape(256, 64)]
    assert _check_sub("sub", (256, 64), (64,), sweep, xs) == len(sweep)


def _patch_scale(data, index, scale):
    """The model with tensor `index`'s (first) scale set."""
    buf = bytearray(data)
    m = tflite.Model.GetRootAsModel(buf, 0)
    m.Subgraphs(0).Tensors(index).Quantization().ScaleAsNumpy()[0] = np.float32(scale)
    return bytes(buf)


# ------------------------------------------------------------------------------------------------------------------
# sweeps over patched quantization parameters
# ------------------------------------------------------------------------------------------------------------------

def _log_uniform(rng, low, high):
    return float(np.float32(2.0 ** rng.uniform(np.log2(low), np.log2(high))))


def test_sigmoid_like_scale_sweep():
    rng = np.random.default_rng(11)
    for kind in ("logistic", "tanh"):
        base = model(kind, (1, 256))
        scales = [_log_uniform(rng, 1e-4, 40.0) for _ in range(40)] + [2.0 ** -k for k in range(-5, 12)] + \
            [float(np.nextafter(np.float32(16.0), np.float32(0))), 16.0, 8.0 + 2 ** -20]
        for scale in scales:
            check(patched(base, "input", scale, int(rng.integers(-128, 128))), [ALL_INT8])


def test_hard_swish_quantization_sweep():
    rng = np.random.default_rng(12)
    base = model("hard_swish", (1, 256), low=-4.0, high=4.0)
    done = 0
    while done < 60:
        in_scale = _log_uniform(rng, 1e-4, 2.0)
        out_scale = in_scale * _log_uniform(rng, 1.0 / 64, 64.0)
        data = patched(patched(base, "input", in_scale, int(rng.integers(-128, 128))),
                       "output", out_scale, int(rng.integers(-128, 128)))
        try:
            lower(data)
        except UnsupportedModelError:
            continue
        check(data, [ALL_INT8])
        done += 1


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "quantize", "relu6"])
def test_requantizing_elementwise_quantization_sweep(kind):
    """Random input and output quantizations (RELU6: equal ones, where TFLite Micro's clamp-only RELU6 agrees
    with TFLite, docs/format.md)."""
    rng = np.random.default_rng(15)
    base = quantize_model() if kind == "quantize" else model(kind, (1, 256), 0.3 if kind == "leaky_relu" else None)
    for _ in range(30):
        in_scale = _log_uniform(rng, 1e-4, 4.0)
        out_scale = in_scale if kind == "relu6" else in_scale * _log_uniform(rng, 1.0 / 64, 64.0)
        in_zp = int(rng.integers(-128, 128))
        out_zp = in_zp if kind == "relu6" else int(rng.integers(-128, 128))
        check(patched(patched(base, "input", in_scale, in_zp), "output", out_scale, out_zp), [ALL_INT8])


def test_softmax_scale_and_beta_sweep():
    rng = np.random.default_rng(13)
    shape = (1, 4, 25)
    base = model("softmax", shape)
    inputs = random_inputs(shape, 2, seed=13)
    for _ in range(40):
        scale, beta = _log_uniform(rng, 1e-6, 500.0), _log_uniform(rng, 0.05, 20.0)
        data = patched(base, "input", scale, int(rng.integers(-128, 128)), beta=beta)
        try:
            lower(data)
        except UnsupportedModelError:
            continue
        check(data, inputs)


@pytest.mark.parametrize("shape,axes", [((1, 64, 64, 3), (1, 2)), ((1, 30, 30, 2), (1, 2)), ((1, 7, 5), (1,)),
                                        ((3, 5, 11), (0, 2))])
def test_mean_quantization_sweep(shape, axes):
    rng = np.random.default_rng(14)
    base = model("mean", shape, (axes, False), low=-2.0, high=3.0)
    in_scale = read_single_op(base)[0].inputs[0].scale
    inputs = random_inputs(shape, 1, seed=14)
    ratios = [_log_uniform(rng, 1e-3, 1e3) for _ in range(12)] + [2.0 ** -29, 2.0 ** -25, 2.0 ** 12, 1.0]
    for ratio in ratios:
        data = patched(base, "input", None, int(rng.integers(-128, 128)))
        data = patched(data, "output", in_scale / ratio, int(rng.integers(-128, 128)))
        check(data, inputs)
