"""The models the tests run, found, built and converted in one place.

    CONFORMANCE     the folder of the real models no one here wrote: ../shared/conformance beside the checkout,
                    or $PICOML_CONFORMANCE
    MLPERF          names of the MLPerf Tiny models in it (ad01_int8, kws_ref_model, ...)
    REAL            MLPERF + micro_speech_quantized
    GENERATED       names of the models genmodels.py builds with Keras (every supported op and option)
    tflite(name)    the model's .tflite file: a generated one is built (TensorFlow imported) on first use and
                    cached in build/genmodels
    model(name)     (Model as read back from its .pml, .pml bytes), converted once per session
    inputs(name)    the model's test inputs: a list of input sets (one int8 array per model input), the same
                    for every runtime: 50 for a real model, 20 for a generated one (see test_inputs)
    expected(name, i)  the numpy reference's outputs for inputs(name)[i] after inputs 0..i-1, computed once

When the conformance folder is absent, MLPERF and REAL hold one placeholder name and every test that needs a
real model skips with a message naming the folder -- or fails, when $PICOML_REQUIRE_CONFORMANCE=1 (CI sets it:
the folder is always there).
"""
import functools
import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFORMANCE = pathlib.Path(os.environ.get("PICOML_CONFORMANCE") or ROOT.parent / "shared" / "conformance")
GENERATED_CACHE = ROOT / "build" / "genmodels"
MISSING = "conformance-models-missing"
MICRO_SPEECH = "micro_speech_quantized"

_MLPERF_PATHS = {p.stem: p for p in sorted((CONFORMANCE / "mlperf_tiny").glob("*.tflite"))}
MLPERF = sorted(_MLPERF_PATHS) or [MISSING]
REAL = MLPERF + [MICRO_SPEECH] if _MLPERF_PATHS else [MISSING]


def _generated_names():
    import genmodels        # light: TensorFlow is imported when a model is built
    return sorted(genmodels.MODELS)


GENERATED = _generated_names()
# the real models whose file and arena fit in the heap the emulated boards leave (200,000 / 180,000 bytes); the
# others meet a MemoryError there and run from flash (test_qemu_micropython.py)
FITS_BOARD_HEAP = ("kws_ref_model", "str_ww_ref_model", "micro_speech_quantized")
INPUTS = {"real": 50, "generated": 20}
SEED = 7


def require_conformance():
    """Skip the calling test (fail it under $PICOML_REQUIRE_CONFORMANCE=1) when the conformance folder is absent."""
    if not (CONFORMANCE / "mlperf_tiny").is_dir():
        message = ("the conformance models are missing: expected the folder %s (../shared/conformance beside the "
                   "checkout, or set $PICOML_CONFORMANCE)" % CONFORMANCE)
        if os.environ.get("PICOML_REQUIRE_CONFORMANCE") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CONFORMANCE


def is_real(name):
    return name not in GENERATED


def tflite(name):
    """The .tflite path of a real or generated model."""
    if name in GENERATED:
        import genmodels
        return genmodels.build_tflite(name, GENERATED_CACHE)
    require_conformance()
    if name == MICRO_SPEECH:
        return CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite"
    if name not in _MLPERF_PATHS:
        raise KeyError("no model called %r" % name)
    return _MLPERF_PATHS[name]


@functools.lru_cache(maxsize=None)
def model(name):
    """(Model read back from its .pml bytes, the .pml bytes)."""
    from picoml import format
    from picoml.convert import convert
    path = tflite(name)
    blob = format.write(convert(path.read_bytes(), path.name, measure_tflm=False))
    return format.read(blob), blob


def pml(name):
    return model(name)[1]


def test_inputs(shape, zero_point, count, seed=0):
    """`count` int8 inputs: the extremes (-128, 127, the zero point) first, then in turn uniform random, values
    clustered around the zero point as real data is, and smooth low-frequency fields. The first k of a longer
    list are the list of k."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    inputs = [np.full(shape, v, np.int8) for v in (-128, 127, zero_point)]
    while len(inputs) < count:
        kind = len(inputs) % 3
        if kind == 0:
            x = rng.integers(-128, 128, size)
        elif kind == 1:
            x = np.rint(rng.normal(zero_point, rng.uniform(2, 40), size))
        else:
            x = np.cumsum(rng.normal(0, 4, size)) + rng.integers(-100, 100)
        inputs.append(np.clip(x, -128, 127).astype(np.int8).reshape(shape))
    return inputs[:count]


test_inputs.__test__ = False


@functools.lru_cache(maxsize=None)
def inputs(name):
    """The model's test input sets (each a list with one array per model input)."""
    m = model(name)[0]
    count = INPUTS["generated" if name in GENERATED else "real"]
    per_input = [test_inputs(m.tensors[e.tensor].shape, m.tensors[e.tensor].zero_point, count, SEED + i)
                 for i, e in enumerate(m.inputs)]
    return [list(xs) for xs in zip(*per_input)]


def pick(count):
    """Which of a model's inputs a runtime that runs `count` of them takes: the first `count` (the three
    extremes, then varied data), or with fewer than 4 only varied ones."""
    return list(range(count)) if count >= 4 else list(range(3, 3 + count))


_runs = {}


def expected(name, index, first=0):
    """The numpy reference's outputs for input set `index` on the model loaded afresh and run on input sets first,
    first + 1, ..., index in turn, as a runtime runs a batch: a stateful op (an LSTM's states, an audio front-end's
    noise estimate) carries its state from one run to the next. Computed once."""
    from picoml import reference
    if (name, first) not in _runs:
        _runs[name, first] = (reference.Interpreter(model(name)[0]), [])
    interpreter, outputs = _runs[name, first]
    while len(outputs) <= index - first:
        outputs.append(interpreter.run(inputs(name)[first + len(outputs)]))
    return outputs[index - first]


def single_op(name, operands, output, params, keep_inputs=False):
    """A planned model of the one .pml op `name` with `params` (as the op table lists them). operands: the op's
    inputs in order, each a format.Tensor (a constant when it has data), a numpy array (a constant) or a
    (shape, zero_point) pair (an int8 activation of scale 0.5); output: a Tensor or a (shape, zero_point) pair
    (int8, scale 0.25). The model's inputs are the activation operands, in order; its output is the
    op's, followed by the activation inputs with keep_inputs (so the planner cannot work in place)."""
    from picoml import format
    model = format.Model()
    indices = []
    for k, operand in enumerate(operands):
        if isinstance(operand, format.Tensor):
            indices.append(model.add_tensor(operand))
        elif isinstance(operand, np.ndarray):
            indices.append(model.add_tensor(format.Tensor(operand.shape, operand.dtype, data=operand, name="c%d" % k)))
        else:
            shape, zero_point = operand
            indices.append(model.add_tensor(format.Tensor(shape, np.int8, 0.5, zero_point, name="x%d" % k)))
    if not isinstance(output, format.Tensor):
        output = format.Tensor(output[0], np.int8, 0.25, output[1], name="y")
    y = model.add_tensor(output)
    model.ops.append(format.Op(name, indices, [y], params))
    return with_io(model, indices, y, keep_inputs)


def with_io(model, operands, output, keep_inputs=False):
    """`model` planned, its inputs the activation tensors among `operands` (each once), its outputs `output`
    (and those inputs, with keep_inputs)."""
    from picoml import format, planner
    activations = []
    for i in operands:
        if not model.tensors[i].is_constant and i not in activations:
            activations.append(i)
    model.inputs = [format.IO(i) for i in activations]
    model.outputs = [format.IO(output)] + ([format.IO(i) for i in activations] if keep_inputs else [])
    return planner.plan(model)
