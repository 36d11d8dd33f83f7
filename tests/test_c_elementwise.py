"""The C kernels of the element-wise, non-linear and shape ops (native_module/{add,sub,mul,lut,softmax,mean,pad,
concatenation}.c), built with gcc and run through ctypes, give the numpy reference's bytes exactly.

Single-op models are built here with picoml's own lowering functions (so their params are the ones a converted
model carries) and planned by picoml's planner, which puts the output of an element-wise op on its input when it
can: those kernels then run in place. `keep_inputs=True` makes the inputs model outputs too, which forbids that.
The generated Keras models of tests/genmodels.py are checked op by op (whole, on every runtime:
test_runtimes.py)."""
import types

import numpy as np
import pytest

import models
from conftest import test_inputs
from picoml.runtimes import bare
from picoml.runtimes.c import VARIANTS, CRuntime, load
from picoml.runtimes.c import check as c_check
from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.format import Model, Op, Tensor
from picoml.ops import LOWER
from picoml.ops.mean import fold_count
from picoml.ops.nonlinear import softmax_params

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
PML_ERR_OPERANDS = -3
PML_ERR_MODEL = -1


@pytest.fixture(scope="module")
def lib():
    return load()


# ------------------------------------------------------------------------------------------------------------------
# building and comparing single-op models
# ------------------------------------------------------------------------------------------------------------------

class _Lowering:
    """The context picoml's lowering functions emit into (the importer's, reduced to what they use here)."""

    def __init__(self):
        self.model = Model()
        self.index = {}

    def activation(self, t):
        if id(t) not in self.index:
            self.index[id(t)] = self.model.add_tensor(t)
        return self.index[id(t)]

    def temporary(self, shape, scale, zero_point, name):
        return self.model.add_tensor(Tensor(shape, np.int8, scale, zero_point, name=name))

    def constant(self, array, name=""):
        return self.model.add_tensor(Tensor(array.shape, array.dtype, data=array, name=name))

    def fail(self, op, message):
        raise UnsupportedModelError(message)

    def emit(self, name, inputs, outputs, params, op):
        self.model.ops.append(Op(name, inputs, outputs, params, op.label))


def T(shape, scale=0.05, zero_point=0, data=None):
    """An int8 tensor; with `data` a constant in the weights."""
    if data is not None:
        data = np.asarray(data, np.int8).reshape(shape)
    return Tensor(shape, np.int8, scale, zero_point, data=data)


def lowered(tflite_name, inputs, output, keep_inputs=False, **options):
    """A planned model of the one TFLite op `tflite_name` lowered by picoml: its activation inputs are the model's
    inputs (in order, each once), its output the model's output."""
    ctx = _Lowering()
    op = types.SimpleNamespace(name=tflite_name, inputs=inputs, outputs=[output], options=options, label=tflite_name)
    LOWER[tflite_name](ctx, op)
    return models.with_io(ctx.model, [ctx.index[id(t)] for t in inputs if id(t) in ctx.index],
                   ctx.index[id(output)], keep_inputs)


def single(name, params, inputs, output, keep_inputs=False):
    """A planned model of the one .pml op `name` with the given params (for params no lowering produces)."""
    return models.single_op(name, inputs, output, params, keep_inputs)


def in_place(model):
    """Whether the planner put the (first) op's output on one of its inputs."""
    op = model.ops[0]
    out = model.tensors[op.outputs[0]]
    return any(not model.tensors[i].is_constant and model.tensors[i].offset == out.offset for i in op.inputs)


def check(lib, model, inputs):
    """Run `inputs` (one list of arrays per run) through the C kernels and the reference; compare bytes."""
    runtime = CRuntime(model, lib)
    for xs in inputs:
        xs = [np.asarray(x, model.tensors[e.tensor].dtype) for x, e in zip(xs, model.inputs)]
        want = reference.run(model, xs)
        got = runtime.run(xs)
        for w, g in zip(want, got):
            assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
            if not np.array_equal(g, w):
                bad = np.argwhere(g != w)[:8]
                raise AssertionError("%s params=%s: %d of %d differ; first at %s: C %s, reference %s" % (
                    [op.name for op in model.ops], model.ops[-1].params, int((g != w).sum()), g.size, bad.tolist(),
                    [int(g[tuple(i)]) for i in bad], [int(w[tuple(i)]) for i in bad]))


def random_int8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def all_values(shape, seed=0):
    """The 256 int8 values, each at least once, shuffled into `shape` (size a multiple of 256)."""
    size = int(np.prod(shape))
    assert size % 256 == 0
    x = np.tile(ALL_INT8, size // 256)
    np.random.default_rng(seed).shuffle(x)
    return x.reshape(shape)


def status(lib, model):
    """pml_check's status for the model."""
    return c_check(lib, format.write(model), max(model.arena_size, 4))[0]


# ------------------------------------------------------------------------------------------------------------------
# LUT: every element-wise function of one int8 value (its table is checked against TFLite Micro in
# tests/test_nonlinear_ops.py); every int8 value, in place and not
# ------------------------------------------------------------------------------------------------------------------

# (input scale, input zero point, output scale, output zero point)
QUANTIZATIONS = [(0.05, 0, 0.05, 0), (0.1, -128, 0.02, 127), (1e-3, -20, 1.0, 3), (0.5, 100, 0.3, -100)]


def _lut_model(tflite_name, q, shape=(1, 256), keep_inputs=False, **options):
    if tflite_name in ("LOGISTIC", "TANH"):
        q = q[:2] + ((1.0 / 256, -128) if tflite_name == "LOGISTIC" else (1.0 / 128, 0))
    model = lowered(tflite_name, [T(shape, q[0], q[1])], T(shape, q[2], q[3]), keep_inputs, **options)
    assert [op.name for op in model.ops] == ["LUT"] and in_place(model) != keep_inputs
    return model


@pytest.mark.parametrize("tflite_name", ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "QUANTIZE",
                                         "LOGISTIC", "TANH", "HARD_SWISH"])
@pytest.mark.parametrize("q", QUANTIZATIONS)
def test_lut_of_each_function(lib, tflite_name, q):
    check(lib, _lut_model(tflite_name, q), [[ALL_INT8.reshape(1, 256)]])


def test_lut_random_tables_shapes_and_placement(lib):
    """Any table, any shape, the output on the input or apart from it."""
    rng = np.random.default_rng(3)
    for k, shape in enumerate([(1,), (7,), (3, 256), (2, 3, 5, 256), (1, 13, 17, 3), (255,), (4096,)]):
        table = T((256,), data=random_int8(rng, 256))
        model = single("LUT", {}, [T(shape), table], T(shape), keep_inputs=k % 2 == 1)
        assert in_place(model) == (k % 2 == 0)
        size = int(np.prod(shape))
        xs = [all_values((size // 256 * 256 + 256,), seed=k)[:size].reshape(shape), random_int8(rng, shape)]
        check(lib, model, [[x] for x in xs])


# ------------------------------------------------------------------------------------------------------------------
# SOFTMAX
# ------------------------------------------------------------------------------------------------------------------

def _softmax_rows(rng, shape, count):
    out = [random_int8(rng, shape) for _ in range(count)]
    # narrow spreads, constants and extremes
    out += [np.clip(rng.integers(-6, 7, size=shape) + rng.integers(-120, 120), -128, 127) for _ in range(count)]
    out += [np.full(shape, v, dtype=np.int8) for v in (-128, 0, 127)]
    one_hot = np.full(shape, -128, dtype=np.int8)
    one_hot[..., 0] = 127
    return [[x] for x in out + [one_hot]]


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (1, 2), (4, 2), (1, 10), (2, 5, 10), (1, 3, 4, 33), (1, 1000),
                                   (2, 3000), (5,)])
@pytest.mark.parametrize("scale", [1.0 / 16, 0.1, 4.0, 300.0, 4e-7])
def test_softmax(lib, shape, scale):
    rng = np.random.default_rng(len(shape) + shape[-1])
    model = lowered("SOFTMAX", [T(shape, scale, 3)], T(shape, 1.0 / 256, -128), Beta=1.0)
    check(lib, model, _softmax_rows(rng, shape, 3))


def test_softmax_scale_and_beta_sweep(lib):
    rng = np.random.default_rng(13)
    shape = (1, 4, 25)
    inputs = _softmax_rows(rng, shape, 2)
    done = 0
    while done < 40:
        scale, beta = float(np.float32(2.0 ** rng.uniform(-20, 9))), float(2.0 ** rng.uniform(-4.3, 4.3))
        if softmax_params(beta, scale) is None:
            continue
        model = lowered("SOFTMAX", [T(shape, scale, int(rng.integers(-128, 128)))], T(shape, 1.0 / 256, -128),
                        Beta=beta)
        check(lib, model, inputs)
        done += 1


def test_softmax_sum_of_exponentials_near_512(lib):
    """k values at the row maximum, the others far below it: from k = 512 on TFLite Micro aborts on its exponent
    check and picoml gives 0.0 (-128) everywhere; from 256 to 511 the exponent is 31, its largest."""
    model = lowered("SOFTMAX", [T((6, 1000), 0.5, 0)], T((6, 1000), 1.0 / 256, -128), Beta=1.0)
    x = np.full((6, 1000), -128, np.int8)
    for row, k in enumerate((255, 256, 300, 511, 512, 1000)):
        x[row, :k] = 127
    rng = np.random.default_rng(2)
    check(lib, model, [[x], [rng.permuted(x, axis=1)]])
    assert np.all(CRuntime(model, lib).run([x])[0][4:] == -128)


def test_softmax_scalar(lib):
    params = dict(zip(("input_multiplier", "input_left_shift", "diff_min"), softmax_params(1.0, 0.1)))
    model = single("SOFTMAX", params, [T((), 0.1, 0)], T((), 1.0 / 256, -128))
    check(lib, model, [[np.int8(v)] for v in (-128, 0, 127)])


# ------------------------------------------------------------------------------------------------------------------
# MEAN
# ------------------------------------------------------------------------------------------------------------------

MEAN_CASES = [((1, 5, 6, 8), (1, 2), True), ((1, 5, 6, 8), (1, 2), False), ((1, 5, 6, 8), (2, 1), False),
              ((1, 7, 5), (1,), False), ((1, 7, 5), (-1,), True), ((1, 4, 3, 9), (3,), False),
              ((1, 4, 3, 9), (1, 3), False), ((1, 12), (1,), True), ((1, 30, 30, 2), (1, 2), False),
              ((1, 6, 2, 5), (0, 2), True), ((2, 3, 4, 5), (0, 1, 2, 3), True), ((2, 3, 4, 5), (1, 2, 3), False),
              ((2, 3, 4, 5), (0, 3), False), ((3, 5, 11), (0, 2), False), ((7,), (0,), False),
              ((4, 9), (0,), True), ((2, 3, 4, 5), (0,), False)]


def _mean(shape, axes, keep_dims, in_q, out_q):
    rank = len(shape)
    resolved = sorted(set(a % rank for a in axes))
    out_shape = tuple(1 if i in resolved else d for i, d in enumerate(shape) if keep_dims or i not in resolved)
    axes_t = Tensor((len(axes),), np.int32, data=np.array(axes, np.int32))
    return lowered("MEAN", [T(shape, *in_q), axes_t], T(out_shape, *out_q), KeepDims=keep_dims)


@pytest.mark.parametrize("shape,axes,keep_dims", MEAN_CASES)
@pytest.mark.parametrize("in_q,out_q", [((0.02, -3), (0.01, 5)), ((0.02, -3), (0.02, -3)), ((0.1, 127), (3.0, -128)),
                                        ((0.5, -128), (1e-3, 127))])
def test_mean(lib, shape, axes, keep_dims, in_q, out_q):
    rng = np.random.default_rng(3)
    model = _mean(shape, axes, keep_dims, in_q, out_q)
    inputs = [[random_int8(rng, shape)] for _ in range(3)] + [[np.full(shape, v, np.int8)] for v in (-128, 127)]
    check(lib, model, inputs)


def test_mean_quantization_sweep(lib):
    rng = np.random.default_rng(14)
    shape, axes = (1, 16, 16, 3), (1, 2)
    x = [[random_int8(rng, shape)], [np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)]]
    ratios = [float(2.0 ** rng.uniform(-10, 10)) for _ in range(12)] + [2.0 ** -29, 2.0 ** -25, 2.0 ** 12, 1.0]
    for ratio in ratios:
        model = _mean(shape, axes, False, (0.05, int(rng.integers(-128, 128))),
                      (0.05 / ratio, int(rng.integers(-128, 128))))
        check(lib, model, x)


def test_mean_folded_multipliers(lib):
    """The host's fold_count at its limits: counts that are powers of two, and counts above 2^31 + shift."""
    shape = (1, 4, 8, 2)
    for multiplier, shift in [(1 << 30, 1), ((1 << 31) - 1, -31), (1 << 30, -30), (1518500250, 12), (1 << 30, 31)]:
        m, s = fold_count(multiplier, shift, 32)
        params = {"axis_mask": 0b0110, "input_zero_point": -128, "output_zero_point": 127, "multiplier": m, "shift": s}
        model = single("MEAN", params, [T(shape, 0.1, -128)], T((1, 2), 0.1, 127))
        rng = np.random.default_rng(shift & 0xFF)
        check(lib, model, [[random_int8(rng, shape)], [np.full(shape, 127, np.int8)]])


# ------------------------------------------------------------------------------------------------------------------
# ADD and MUL
# ------------------------------------------------------------------------------------------------------------------

BROADCASTS = [((1, 4, 4, 3), (1, 4, 4, 3)), ((1, 4, 4, 3), (3,)), ((3,), (1, 4, 4, 3)), ((1, 4, 4, 3), (1, 1, 1, 1)),
              ((1, 1, 1, 1), (1, 4, 4, 3)), ((1, 4, 1, 3), (1, 1, 4, 1)), ((2, 3, 4, 5), (2, 1, 4, 1)),
              ((2, 1, 4, 1), (1, 3, 1, 5)), ((4, 1), (1, 5)), ((5,), (2, 5)), ((1,), (7,)), ((6,), ()),
              ((1, 8, 8, 4), (1, 1, 1, 4)), ((1, 8, 8, 4), (1, 8, 8, 1)), ((1, 8, 8, 4), (8, 1, 4)),
              ((3, 1, 1, 2), (3, 1, 1, 2)), ((1, 1, 1, 6), (1, 1, 1, 6))]


def _binary_inputs(rng, shapes, count=3):
    runs = [[random_int8(rng, s) for s in shapes] for _ in range(count)]
    runs += [[np.full(s, v, np.int8) for s in shapes] for v in (-128, 127)]
    return runs


@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("a,b", BROADCASTS)
def test_broadcast(lib, kind, a, b):
    out = tuple(np.broadcast_shapes(a, b))
    model = lowered(kind, [T(a, 0.05, 3), T(b, 0.03, -7)], T(out, 0.01 if kind == "MUL" else 0.07, -2))
    check(lib, model, _binary_inputs(np.random.default_rng(len(a) + len(b)), [a, b]))


# (input1 scale, zp, input2 scale, zp, output scale, zp)
BINARY_QUANTIZATIONS = [(0.05, 0, 0.05, 0, 0.1, 0), (0.1, -128, 0.001, 127, 0.05, 127),
                        (1.0, 127, 1.0, -128, 1e-3, -128), (1e-3, 5, 0.5, -5, 2.0, 0), (0.02, -20, 0.02, 20, 0.02, -20), (3.0, 0, 2.0, 1, 1e-5, 0),
                        (1e-4, -1, 1e-4, 1, 10.0, 100)]


@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("q", BINARY_QUANTIZATIONS)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_every_pair_of_values(lib, kind, q, activation):
    """[256, 1] op [1, 256]: every pair of int8 values, every fused activation."""
    model = lowered(kind, [T((256, 1), q[0], q[1]), T((1, 256), q[2], q[3])], T((256, 256), q[4], q[5]),
                    FusedActivationFunction=activation)
    check(lib, model, [[ALL_INT8.reshape(256, 1), ALL_INT8.reshape(1, 256)]])


@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("keep_inputs", [False, True])
def test_equal_shapes_in_place_or_not(core_lib, kind, keep_inputs):
    """On each core's build (the M0's ADD reads a run of 32 elements before it writes their outputs)"""
    shape = (2, 4, 4, 17)
    model = lowered(kind, [T(shape, 0.05, 3), T(shape, 0.03, -7)], T(shape, 0.06, 1), keep_inputs)
    assert in_place(model) != keep_inputs
    check(core_lib, model, _binary_inputs(np.random.default_rng(5), [shape, shape]))


@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL"])
def test_same_tensor_twice(core_lib, kind):
    x = T((3, 5, 7), 0.05, 4)
    model = lowered(kind, [x, x], T((3, 5, 7), 0.1, -3))
    assert model.ops[0].inputs[0] == model.ops[0].inputs[1] and in_place(model)
    check(core_lib, model, [[random_int8(np.random.default_rng(6), (3, 5, 7))], [np.full((3, 5, 7), -128, np.int8)]])


@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("a,b", [((1, 4, 4, 3), (3,)), ((1, 4, 4, 3), (1, 1, 1, 1)), ((1, 4, 4, 3), (1, 4, 4, 3)),
                                 ((3,), (1, 4, 4, 3)), ((2, 5), (2, 1))])
def test_constant_operand(lib, kind, a, b):
    rng = np.random.default_rng(7)
    const = T(b, 0.02, 9, data=random_int8(rng, b))
    out = tuple(np.broadcast_shapes(a, b))
    model = lowered(kind, [T(a, 0.05, -1), const], T(out, 0.04, 2))
    assert len(model.inputs) == 1 and model.tensors[model.ops[0].inputs[1]].is_constant
    check(lib, model, [[random_int8(rng, a)] for _ in range(3)])


@pytest.fixture(scope="module", params=[None, "m4", "m0"], ids=["portable", "m4", "m0"])
def core_lib(request):
    """The portable kernels, the M4's and the M0's (add_s8_simd32.c, add_s8_armv6m.c, mul.c's M4 path, in portable
    C): equal shapes take the M4's and the M0's own ADD and SUB, every MUL the M4's rescaling."""
    return load(VARIANTS[request.param])


EVERY_PAIR = [np.repeat(ALL_INT8, 256), np.tile(ALL_INT8, 256)]


@pytest.mark.parametrize("kind", ["ADD", "SUB"])
@pytest.mark.parametrize("q", BINARY_QUANTIZATIONS)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_every_pair_of_values_in_equal_shapes(core_lib, kind, q, activation):
    """[65536] op [65536]: every pair of int8 values, with no broadcasting (the M4's shortcut)."""
    model = lowered(kind, [T((65536,), q[0], q[1]), T((65536,), q[2], q[3])], T((65536,), q[4], q[5]),
                    keep_inputs=True, FusedActivationFunction=activation)
    check(core_lib, model, [EVERY_PAIR])


@pytest.mark.parametrize("kind", ["ADD", "SUB"])
@pytest.mark.parametrize("q", BINARY_QUANTIZATIONS)
def test_add_scalar_on_each_core(core_lib, kind, q):
    """[256] op a scalar and a scalar op [256] (the M0's kernel takes a scalar operand too), every int8 value
    against the extremes and a few between."""
    for first in (False, True):
        shapes = [(256,), (1,)][::-1 if first else 1]
        model = lowered(kind, [T(shapes[0], q[0], q[1]), T(shapes[1], q[2], q[3])], T((256,), q[4], q[5]),
                        keep_inputs=True)
        runs = [[ALL_INT8, np.array([v], np.int8)][::-1 if first else 1] for v in (-128, -1, 0, 5, 127)]
        check(core_lib, model, runs)


@pytest.mark.parametrize("q", BINARY_QUANTIZATIONS)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_mul_every_pair_of_values_on_each_core(core_lib, q, activation):
    """[65536] x [65536] and [256] x a scalar (the M4's path), [256, 1] x [1, 256] (broadcast: the portable one):
    every pair of int8 values on each core's build."""
    for shapes, runs in ((((65536,), (65536,)), [EVERY_PAIR]),
                         (((256,), (1,)), [[ALL_INT8, np.array([v], np.int8)] for v in (-128, -1, 0, 127)]),
                         (((256, 1), (1, 256)), [[ALL_INT8.reshape(256, 1), ALL_INT8.reshape(1, 256)]])):
        out = tuple(np.broadcast_shapes(*shapes))
        model = lowered("MUL", [T(shapes[0], q[0], q[1]), T(shapes[1], q[2], q[3])], T(out, q[4], q[5]),
                        keep_inputs=True, FusedActivationFunction=activation)
        check(core_lib, model, runs)


def test_mul_raw_params_on_each_core(core_lib):
    """Every pair again, with output constants from each side of the M4 rescaling's conditions: shifts from -26 to
    2, multipliers of 0 and near 2^31, activation ranges."""
    rng = np.random.default_rng(10)
    for k in range(30):
        params = {"input1_offset": int(rng.integers(-127, 129)), "input2_offset": int(rng.integers(-127, 129)),
                  "output_offset": int(rng.integers(-128, 128)),
                  "output_multiplier": int(rng.integers(1 << 30, 1 << 31)) if k % 7 else 0,
                  "output_shift": [-1, -22, -23, 0, 1][k] if k < 5 else int(rng.integers(-26, 3)),
                  "act_min": int(rng.integers(-128, 0)), "act_max": int(rng.integers(0, 128))}
        model = single("MUL", params, [T((65536,)), T((65536,))], T((65536,)), keep_inputs=k % 2 == 0)
        check(core_lib, model, [EVERY_PAIR])


@pytest.mark.parametrize("kind", ["ADD", "SUB"])
def test_add_raw_params_in_equal_shapes(core_lib, kind):
    """Every pair again, with constants from each side of the M4 shortcut's conditions: input shifts from 0 to -31
    and positive ones, left shifts 16-23, output shifts -1 to -26 and positive, multipliers of 0."""
    rng = np.random.default_rng(9)
    for k in range(40):
        params = {"input1_offset": int(rng.integers(-127, 129)), "input2_offset": int(rng.integers(-127, 129)),
                  "output_offset": int(rng.integers(-128, 128)), "left_shift": int(rng.integers(16, 24)),
                  "input1_multiplier": int(rng.integers(1 << 30, 1 << 31)) if k % 9 else 0,
                  "input1_shift": int(rng.integers(-31, 3)),
                  "input2_multiplier": int(rng.integers(1 << 30, 1 << 31)), "input2_shift": int(rng.integers(-31, 3)),
                  "output_multiplier": int(rng.integers(1 << 30, 1 << 31)), "output_shift": int(rng.integers(-26, 2)),
                  "act_min": int(rng.integers(-128, 0)), "act_max": int(rng.integers(0, 128))}
        model = single(kind, params, [T((65536,)), T((65536,))], T((65536,)), keep_inputs=k % 2 == 0)
        check(core_lib, model, [EVERY_PAIR])


@pytest.mark.parametrize("kind", ["ADD", "SUB"])
def test_add_input_rounding_on_each_core(core_lib, kind):
    """Every pair again, with input constants whose rescaled values land on rounding ties (multiplier 2^30 and a right
    shift of the left shift, or a multiplier of 2^(30 - left shift): half of each odd value) or at the int32 limits
    (multipliers near +-2^31, offsets of 128, left shifts 7-23), and an output rescaling of exactly 1, so that a
    rescaled input off by one shows."""
    rng = np.random.default_rng(11)
    unit = {"output_multiplier": 1 << 30, "output_shift": 1, "act_min": -128, "act_max": 127}
    for left in (7, 8, 12, 20, 21, 22, 23):
        for m1, s1, m2, s2 in (((1 << 30), -left, (1 << 30), -left + 1), ((1 << 31) - 1, -left - 1, -(1 << 31), -30),
                               (-(1 << 31), -left, (1 << 31) - 1, -31), (1 << (30 - left), 0, 3 << (29 - left), 0)):
            params = dict(unit, input1_offset=int(rng.choice([128, -127, int(rng.integers(-127, 129))])),
                          input2_offset=128, output_offset=int(rng.integers(-128, 128)), left_shift=left,
                          input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2, input2_shift=s2)
            model = single(kind, params, [T((65536,)), T((65536,))], T((65536,)), keep_inputs=True)
            check(core_lib, model, [EVERY_PAIR])


@pytest.mark.emulated
@pytest.mark.parametrize("kind", ["ADD", "SUB"])
def test_add_on_the_m0plus(kind):
    """The M0's ADD and SUB through its assembly (requantize_armv6m.c: the sums' exact rescaling), on rp2040js's
    Cortex-M0+: every pair of values, output scalings that keep most outputs inside the int8 range (and 0, 2^31 - 1
    with shift -31, negative and left-shifting multipliers: each side of the assembly's conditions), input
    constants at the ends of the kernel's."""
    rng = np.random.default_rng(12)
    for k in range(9):
        left = [20, 22, 8, 20, 16, 20, 23, 12, 21][k]
        m, shift = [(int(rng.integers(1 << 30, 1 << 31)), -left + int(rng.integers(-2, 3))), ((1 << 31) - 1, -31),
                    (0, -5), (-(1 << 30), -left), (1 << 30, 1)][k] if k < 5 else \
            (int(rng.integers(1 << 30, 1 << 31)), -left + int(rng.integers(-3, 3)))
        params = {"input1_offset": 128 if k % 2 else int(rng.integers(-127, 129)), "input2_offset": -127,
                  "output_offset": int(rng.integers(-128, 128)), "left_shift": left,
                  "input1_multiplier": int(rng.integers(1 << 30, 1 << 31)), "input1_shift": -(k % 3),
                  "input2_multiplier": (1 << 31) - 1 - k, "input2_shift": -(k % 2), "output_multiplier": m,
                  "output_shift": shift, "act_min": int(rng.integers(-128, -64)), "act_max": int(rng.integers(64, 128))}
        if k == 8:      # sums of a few units (products below 2^32) rescaled by a quarter: the rounding's sign
            params.update(input1_multiplier=1 << 30, input1_shift=-left, input2_multiplier=1 << 30,
                          input2_shift=-left, output_multiplier=1 << 30, output_shift=-1)
        model = single(kind, params, [T((16384,)), T((16384,))], T((16384,)))
        for part in range(0, 65536, 32768):     # the RP2040's RAM holds two quarters of the pairs at a time
            samples = [[x[i:i + 16384] for x in EVERY_PAIR] for i in (part, part + 16384)]
            got = bare.run("m0plus", format.write(model), samples, count_insns=False)
            for xs, out in zip(samples, got.outputs):
                np.testing.assert_array_equal(out[0], reference.run(model, xs)[0], err_msg=str(params))


@pytest.mark.parametrize("kind", ["ADD", "SUB"])
def test_add_raw_params_outside_what_the_host_makes(lib, kind):
    """Shifts that make the scaled inputs and their sum (difference) wrap in int32 (the reference shifts in int64,
    then wraps), with an output scaling that keeps the top bits of the sum in the int8 range."""
    rng = np.random.default_rng(8)
    for _ in range(20):
        params = {"input1_offset": int(rng.integers(-127, 129)), "input2_offset": int(rng.integers(-127, 129)),
                  "output_offset": int(rng.integers(-128, 128)), "left_shift": int(rng.integers(16, 24)),
                  "input1_multiplier": int(rng.integers(1 << 30, 1 << 31)), "input1_shift": int(rng.integers(0, 8)),
                  "input2_multiplier": int(rng.integers(1 << 30, 1 << 31)), "input2_shift": int(rng.integers(0, 8)),
                  "output_multiplier": int(rng.integers(1 << 30, 1 << 31)), "output_shift": int(rng.integers(-26, -22)),
                  "act_min": -128, "act_max": 127}
        model = single(kind, params, [T((256, 1)), T((1, 256))], T((256, 256)))
        check(lib, model, [[ALL_INT8.reshape(256, 1), ALL_INT8.reshape(1, 256)]])


# ------------------------------------------------------------------------------------------------------------------
# CONCATENATION and PAD
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("n_inputs", [1, 2, 3, 5])
def test_concatenation(lib, rank, n_inputs):
    rng = np.random.default_rng(rank * 10 + n_inputs)
    base = [2, 3, 4, 5][:rank]
    for axis in range(rank):
        shapes = []
        for k in range(n_inputs):
            s = list(base)
            s[axis] = int(rng.integers(1, 5))
            shapes.append(tuple(s))
        out = list(base)
        out[axis] = sum(s[axis] for s in shapes)
        model = lowered("CONCATENATION", [T(s, 0.05, 1) for s in shapes], T(tuple(out), 0.05, 1), Axis=axis - rank)
        assert [op.name for op in model.ops] == ["CONCATENATION"]
        check(lib, model, [[random_int8(rng, s) for s in shapes] for _ in range(2)])


def test_concatenation_with_requantized_inputs_and_repeats(lib):
    """Inputs with other quantizations are requantized (a LUT) first; one tensor may appear twice."""
    a, b, c = T((1, 4, 4, 3), 0.05, 1), T((1, 4, 4, 2), 0.1, -5), T((1, 4, 4, 1), 0.05, 1)
    model = lowered("CONCATENATION", [a, b, a, c], T((1, 4, 4, 9), 0.05, 1), Axis=3)
    assert [op.name for op in model.ops] == ["LUT", "CONCATENATION"]
    rng = np.random.default_rng(9)
    check(lib, model, [[random_int8(rng, t.shape) for t in (a, b, c)] for _ in range(3)])


@pytest.mark.parametrize("shape,paddings", [
    ((5,), [[2, 3]]), ((5,), [[0, 0]]), ((3, 4), [[1, 0], [0, 2]]), ((3, 4), [[2, 2], [3, 1]]),
    ((2, 3, 4), [[0, 1], [1, 1], [2, 0]]), ((1, 6, 6, 3), [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ((1, 5, 7, 2), [[0, 0], [0, 1], [2, 1], [0, 0]]), ((2, 3, 2, 3), [[1, 1], [0, 2], [1, 0], [2, 3]]),
    ((1, 1, 1, 1), [[0, 0], [0, 0], [0, 0], [0, 0]]), ((1, 2, 2, 1), [[3, 0], [0, 0], [0, 4], [0, 0]])])
@pytest.mark.parametrize("zero_point", [0, -128, 127, -3])
def test_pad(lib, shape, paddings, zero_point):
    rng = np.random.default_rng(len(shape))
    pads = Tensor((len(shape), 2), np.int32, data=np.array(paddings, np.int32))
    out = tuple(d + p[0] + p[1] for d, p in zip(shape, paddings))
    model = lowered("PAD", [T(shape, 0.05, zero_point), pads], T(out, 0.05, zero_point))
    check(lib, model, [[random_int8(rng, shape)] for _ in range(2)])


def test_padv2_pad_value(lib):
    pads = Tensor((2, 2), np.int32, data=np.array([[1, 2], [3, 0]], np.int32))
    value = T((1,), 0.05, 4, data=[-77])
    model = lowered("PADV2", [T((3, 3), 0.05, 4), pads, value], T((6, 6), 0.05, 4))
    assert model.ops[0].params["pad_value"] == -77
    check(lib, model, [[random_int8(np.random.default_rng(10), (3, 3))]])


# ------------------------------------------------------------------------------------------------------------------
# operands pml_check refuses
# ------------------------------------------------------------------------------------------------------------------

def test_kernels_refuse_operands_that_do_not_fit(lib):
    table = T((256,), data=np.arange(256))
    add = lowered("ADD", [T((2, 3)), T((2, 3))], T((2, 3))).ops[0].params
    mul = lowered("MUL", [T((2, 3)), T((2, 3))], T((2, 3))).ops[0].params
    pads = dict({"pad_before_%d" % i: 0 for i in range(4)}, **{"pad_after_%d" % i: 0 for i in range(4)}, pad_value=0)
    cases = [
        single("LUT", {}, [T((2, 3)), table], T((3, 3))),                                  # sizes differ
        single("LUT", {}, [Tensor((2, 3), np.int16, 0.1), table], T((2, 3))),             # not int8
        single("LUT", {}, [T((2, 3)), table], Tensor((2, 3), np.int32, 0.1)),
        single("LUT", {}, [T((2, 3)), T((255,), data=np.arange(255))], T((2, 3))),         # table size
        single("LUT", {}, [T((2, 3)), Tensor((256,), np.int16, data=np.arange(256))], T((2, 3))),
        single("ADD", add, [T((2, 3)), T((2, 2))], T((2, 3))),                              # no broadcast
        single("ADD", add, [T((2, 3)), T((3, 3))], T((2, 3))),
        single("CONCATENATION", {"axis": 1}, [T((2, 3)), T((2, 3))], T((2, 5))),           # sizes on the axis
        single("CONCATENATION", {"axis": 2}, [T((2, 3))], T((2, 3))),                      # axis out of range
        single("CONCATENATION", {"axis": 1}, [T((2, 3)), T((3, 3))], T((2, 6))),           # off-axis size
        single("MEAN", {"axis_mask": 1, "input_zero_point": 0, "output_zero_point": 0, "multiplier": 1 << 30,
                        "shift": 0}, [T((2, 3))], T((2,))),                                 # output count
        single("PAD", dict(pads, pad_after_3=1), [T((2, 3))], T((2, 5))),                  # pads do not fit
        single("PAD", dict(pads, pad_before_3=-1, pad_after_3=3), [T((2, 3))], T((2, 5))),  # negative pad
        single("SOFTMAX", {"input_multiplier": 1 << 30, "input_left_shift": 20, "diff_min": -100},
               [T((2, 3))], T((7,))),                                                 # sizes differ
    ]
    for model in cases:
        assert status(lib, model) == PML_ERR_OPERANDS, model.ops[0]
    for model in (single("MUL", mul, [T((2, 3)), T((2, 3)), T((2, 3))], T((2, 3))),       # three inputs
                  single("MUL", mul, [T((2, 3))], T((2, 3))),
                  single("LUT", {}, [T((2, 3))], T((2, 3)))):                                # no table
        assert status(lib, model) == PML_ERR_MODEL, model.ops[0]                       # the op table's count
    assert status(lib, single("LUT", {}, [T((2, 3)), table], T((3, 2)))) == 0    # same count, other shape


# ------------------------------------------------------------------------------------------------------------------
# real converted models
# ------------------------------------------------------------------------------------------------------------------

MINE = {"ADD", "MUL", "CONCATENATION", "LUT", "MEAN", "PAD", "SOFTMAX"}


@pytest.fixture(scope="module")
def genmodels():
    return {name: models.model(name)[0] for name in models.GENERATED}


def _extract(model, op):
    """A planned model of one op of `model`, with copies of its tensors."""
    tensors = {}
    for i in op.inputs + op.outputs:
        t = model.tensors[i]
        tensors.setdefault(i, Tensor(t.shape, t.dtype, t.scale, t.zero_point, data=t.data, name=t.name))
    indices = list(tensors)
    sub = Model([tensors[i] for i in indices], [Op(op.name, [indices.index(i) for i in op.inputs],
                                                     [indices.index(i) for i in op.outputs], op.params)])
    return models.with_io(sub, [indices.index(i) for i in op.inputs], indices.index(op.outputs[0]), False)


# single-op models TensorFlow converted, the ones tests/test_nonlinear_ops.py checks against TFLite Micro (cached)
CONVERTED = [("softmax", (1, 10), None, -10.0, 10.0), ("softmax", (1, 7, 12), None, -4.0, 4.0),
             ("softmax", (1, 1000), None, -30.0, 30.0), ("logistic", (1, 256), None, -8.0, 8.0),
             ("tanh", (1, 256), None, -1.0, 1.0), ("hard_swish", (1, 256), None, -3.0, 12.0),
             ("mean", (1, 5, 6, 8), ((1, 2), False), -2.0, 3.0), ("mean", (1, 6, 2, 5), ((0, 2), True), -2.0, 3.0),
             ("gap2d", (1, 7, 9, 6), True, -1.0, 2.0)]


@pytest.mark.parametrize("kind,shape,arg,low,high", CONVERTED)
def test_converted_single_op_models(lib, kind, shape, arg, low, high):
    import test_nonlinear_ops
    model = convert(test_nonlinear_ops.model(kind, shape, arg, low=low, high=high), kind, measure_tflm=False)
    assert len(model.ops) == 1
    t = model.tensors[model.inputs[0].tensor]
    inputs = test_inputs(t.shape, t.zero_point, 8, seed=1)
    if int(np.prod(shape)) % 256 == 0:
        inputs.append(all_values(shape))
    check(lib, model, [[x] for x in inputs])


def test_generated_models_op_by_op(lib, genmodels):
    seen = set()
    for name, model in sorted(genmodels.items()):
        for k, op in enumerate(model.ops):
            if op.name not in MINE:
                continue
            seen.add(op.name)
            sub = _extract(model, op)
            tensors = [sub.tensors[e.tensor] for e in sub.inputs]
            # int8 test values, in the input's dtype (the int32 indices arg_max joins)
            runs = zip(*[[x.astype(t.dtype) for x in test_inputs(t.shape, t.zero_point, 6, seed=k)] for t in tensors])
            check(lib, sub, [list(r) for r in runs])
    assert seen >= MINE, seen
