"""LSTM (op code 37, format version 7; Keras's LSTM layer as the converter fuses it into UNIDIRECTIONAL_SEQUENCE_LSTM):
single-op models of random sizes, scales, zero points, cell state scales, cell clips, batch and time-major layouts
against TFLite Micro in the reference and the C kernels (portable, M4 and M0 code paths), several runs in a row
(the hidden and cell states are kept from one run to the next, as TFLite Micro keeps its variable tensors, until a
reset); TFLite's int16 sigmoid and tanh over every int16 value; the refusals of the LSTM variants TFLite Micro
does not run. The generated lstm_sequence model runs it on every runtime (test_runtimes.py)."""
import subprocess

import numpy as np
import pytest

from conftest import device
from picoml import format, reference
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.ops import recurrent
from picoml.oracle import Oracle
from picoml.runtimes.c import CKernels
from test_lowered_ops import Graph

pytestmark = pytest.mark.fast

TANH = 4


def lstm_model(rng, batches, steps, features, units, time_major=False, cell_power=-14, activation=TANH,
               cell_clip=0.0, variant=None):
    """A .tflite model of one UNIDIRECTIONAL_SEQUENCE_LSTM with random int8 weights and scales. variant: an input
    TFLite Micro's kernel does not take (peephole, projection, layer_norm, cifg)."""
    g = Graph()
    x_shape = (steps, batches, features) if time_major else (batches, steps, features)
    x = g.tensor(x_shape, scale=float(rng.uniform(0.005, 0.1)), zero_point=int(rng.integers(-128, 128)),
                 model_input=True)
    h_scale, h_zp = float(rng.uniform(1 / 256, 1 / 64)), int(rng.integers(-20, 21))

    def weights(shape):
        return g.tensor(shape, rng.integers(-127, 128, shape).astype(np.int8), scale=float(rng.uniform(0.001, 0.02)),
                        zero_point=0)

    inputs = [x] + [weights((units, features)) for _ in range(4)] + [weights((units, units)) for _ in range(4)]
    inputs += [-1, -1, -1]      # peepholes
    inputs += [g.tensor((units,), rng.integers(-20000, 20000, units)) for _ in range(4)]
    inputs += [-1, -1]          # projection
    inputs += [g.tensor((batches, units), scale=h_scale, zero_point=h_zp, variable=True),
               g.tensor((batches, units), scale=2.0 ** cell_power, zero_point=0, dtype="INT16", variable=True)]
    inputs += [-1, -1, -1, -1]  # layer normalization
    if variant == "peephole":
        inputs[10] = g.tensor((units,), rng.integers(-100, 100, units).astype(np.int8), scale=0.01, zero_point=0)
    elif variant == "projection":
        inputs[16] = weights((units, units))
    elif variant == "layer_norm":
        inputs[20] = g.tensor((units,), rng.integers(-100, 100, units))
    elif variant == "cifg":
        inputs[1] = inputs[5] = inputs[12] = -1
    y = g.tensor(x_shape[:2] + (units,), scale=h_scale, zero_point=h_zp)
    g.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y],
         ("UnidirectionalSequenceLSTMOptions", {"fusedActivationFunction": activation, "cellClip": cell_clip,
                                                "projClip": 0.0, "timeMajor": time_major}))
    return g.bytes([y])


def runs_as_tflite_micro(data, seed, runs=3):
    """Convert; `runs` random inputs in a row through TFLite Micro, the reference and the C kernels (portable, M4,
    M0), each keeping its state from run to run: every output byte the same."""
    model = format.read(format.write(convert(data, "lstm", measure_tflm=False)))
    assert [op.name for op in model.ops] == ["LSTM"]
    rng = np.random.default_rng(seed)
    shape = model.tensors[model.inputs[0].tensor].shape
    inputs = [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(runs)]
    oracle = Oracle(data)
    want = [np.asarray(oracle.run(x)[0]).reshape(-1) for x in inputs]
    interpreter = reference.Interpreter(model)
    for x, w in zip(inputs, want):
        assert np.array_equal(interpreter.run(x)[0].reshape(-1), w)
    for variant in (None, "m4", "m0"):
        batch = CKernels(variant).run_batch(format.write(model), inputs)
        for w, got in zip(want, batch.outputs):
            assert np.array_equal(got[0].reshape(-1), w), variant
    return model


@pytest.mark.parametrize("seed", range(16))
def test_lstm(seed):
    rng = np.random.default_rng(seed)
    batches = 1 if seed % 3 else int(rng.integers(2, 4))
    steps, features, units = int(rng.integers(1, 9)), int(rng.integers(1, 10)), int(rng.integers(1, 20))
    cell_power = int(rng.integers(-16, -9)) if seed % 5 else int(rng.integers(-20, 2))
    clip = float(rng.uniform(0.5, 3.0)) if seed % 4 == 1 else 0.0
    data = lstm_model(rng, batches, steps, features, units, time_major=seed % 2 == 1, cell_power=cell_power,
                      cell_clip=clip)
    runs_as_tflite_micro(data, seed)


def test_state_is_kept_until_a_reset():
    """The second run of the same input gives other bytes (the state moved on), as in TFLite Micro; a reset gives
    the first run's bytes again."""
    data = lstm_model(np.random.default_rng(99), 1, 2, 3, 8)
    model = convert(data, "lstm", measure_tflm=False)
    x = [np.random.default_rng(1).integers(-128, 128, (1, 2, 3)).astype(np.int8)]
    interpreter = reference.Interpreter(model)
    first, second = interpreter.run(x)[0], interpreter.run(x)[0]
    assert not np.array_equal(first, second)
    interpreter.reset()
    assert np.array_equal(interpreter.run(x)[0], first)


@pytest.mark.parametrize("function", ["sigmoid", "tanh"])
def test_int16_sigmoid_and_tanh_over_every_value(function):
    """TFLite's int16 LOGISTIC and TANH of input scale 2^-12 run exactly the LSTM's gate functions (input
    multiplier 3, no shift): every int16 value through TFLite Micro against recurrent.sigmoid16 / tanh16 and the
    table the LSTM op carries."""
    g = Graph()
    x = g.tensor((1, 65536), scale=2.0 ** -12, zero_point=0, dtype="INT16", model_input=True)
    y = g.tensor((1, 65536), scale=2.0 ** -15, zero_point=0, dtype="INT16")
    g.op("LOGISTIC" if function == "sigmoid" else "TANH", [x], [y])
    values = np.arange(-32768, 32768, dtype=np.int16).reshape(1, -1)
    want = np.asarray(Oracle(g.bytes([y])).run([values])[0]).reshape(-1)
    table = recurrent.SIGMOID_TABLE - 32768
    got = recurrent.sigmoid16(values, table) if function == "sigmoid" else recurrent.tanh16(values, table)
    assert np.array_equal(got.reshape(-1), want)


@pytest.mark.parametrize("variant, words", [("peephole", "peephole"), ("projection", "projection"),
                                            ("layer_norm", "layer normalization"), ("cifg", "CIFG")])
def test_variants_tflite_micro_does_not_run_are_refused(variant, words):
    data = lstm_model(np.random.default_rng(5), 1, 2, 3, 4, variant=variant)
    with pytest.raises(UnsupportedModelError, match=words):
        convert(data, "lstm", measure_tflm=False)


@pytest.mark.parametrize("activation", [0, 1, 6])
def test_a_cell_gate_activation_other_than_tanh_is_refused(activation):
    data = lstm_model(np.random.default_rng(6), 1, 2, 3, 4, activation=activation)
    with pytest.raises(UnsupportedModelError, match="must be tanh"):
        convert(data, "lstm", measure_tflm=False)


def test_a_cell_state_scale_beyond_the_integer_tanh_is_refused():
    data = lstm_model(np.random.default_rng(7), 1, 2, 3, 4, cell_power=3)
    with pytest.raises(UnsupportedModelError, match="integer tanh"):
        convert(data, "lstm", measure_tflm=False)


DEVICE_RUNS = r"""
import picoml
m = picoml.load("lstm.pml", backend=%r)
x = bytes.fromhex(%r)
first = bytes(m.predict(x))
second = bytes(m.predict(x))
m.reset()
print(m.backend, first.hex(), second.hex(), bytes(m.predict(x)).hex())
"""


@pytest.mark.parametrize("backend", ["native", "viper", "python"])
def test_the_device_keeps_the_state_until_a_reset(tmp_path, backend):
    """On the unix port (every backend): two predicts of the same input give TFLite Micro's two runs, reset()
    starts afresh."""
    from picoml.runtimes import unix
    data = lstm_model(np.random.default_rng(11), 1, 3, 4, 6)
    model = convert(data, "lstm", measure_tflm=False)
    (tmp_path / "lstm.pml").write_bytes(format.write(model))
    x = np.random.default_rng(2).integers(-128, 128, (1, 3, 4)).astype(np.int8)
    oracle = Oracle(data)
    want = [np.asarray(oracle.run([x])[0]).astype(np.int8).tobytes().hex() for _ in range(2)]
    assert want[0] != want[1]       # the state moved on
    out = unix.run_script(DEVICE_RUNS % (backend, x.tobytes().hex()), natmod=True, cwd=str(tmp_path))
    assert out.split() == [backend, want[0], want[1], want[0]]


@pytest.mark.parametrize("seed", [21, 22])
def test_every_backend_over_a_long_sweep(seed):
    """64 steps of one feature into 16 units, three runs in a row: some 9,000 gate values across the int16 range
    through each backend's own sigmoid and tanh (native, viper, pure Python on the unix port) against the
    reference, whose functions test_int16_sigmoid_and_tanh_over_every_value holds to TFLite Micro's."""
    from picoml.runtimes import unix
    rng = np.random.default_rng(seed)
    model = convert(lstm_model(rng, 1, 64, 1, 16), "lstm", measure_tflm=False)
    runs = [[rng.integers(-128, 128, (1, 64, 1)).astype(np.int8)] for _ in range(3)]
    interpreter = reference.Interpreter(model)
    want = [interpreter.run(x)[0].reshape(-1) for x in runs]
    for backend in ("native", "viper", "python"):
        batch = unix.UnixPort().run_batch(format.write(model), runs, backend=backend)
        for w, got in zip(want, batch.outputs):
            assert np.array_equal(np.asarray(got[0]).reshape(-1), w), backend


# tanh input scalings of cell scales from 2^-20 to 2^1 (tanh_scaling: multiplier 3 and a shift, or 3 << k)
TANH_SCALINGS = sorted({recurrent.tanh_scaling(p) for p in (-20, -14, -12, -11, 1)})

# lstm.c's sigmoid16 and tanh16 of every int16 value, one line each ("sigmoid tanh"); argv: the table file,
# the tanh multiplier and shift
C_ACTIVATIONS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "%(source)s"
int main(int argc, char **argv) {
    int16_t table[256];
    FILE *f = fopen(argv[1], "rb");
    if (argc != 4 || !f || fread(table, 2, 256, f) != 256) {
        return 2;
    }
    fclose(f);
    const int32_t m = atoi(argv[2]), s = atoi(argv[3]);
    for (int32_t x = -32768; x < 32768; x++) {
        printf("%%d %%d\n", sigmoid16(x, table), tanh16(x, table, m, s));
    }
    return 0;
}
"""


@pytest.mark.parametrize("multiplier, shift", TANH_SCALINGS)
def test_the_kernels_sigmoid_and_tanh_over_every_value(tmp_path, multiplier, shift):
    """lstm.c's and the pure-Python backend's own int16 sigmoid and tanh (with each tanh input scaling) on every
    int16 value give the reference's, which TFLite Micro's are (above): an LSTM's outputs rarely show a gate that
    is off by one."""
    from picoml.runtimes.c import SOURCES
    from test_c_conv import compile_and_run
    table = tmp_path / "table.bin"
    table.write_bytes((recurrent.SIGMOID_TABLE - 32768).astype("<i2").tobytes())
    values = np.arange(-32768, 32768)
    sigmoid = recurrent.sigmoid16(values, recurrent.SIGMOID_TABLE - 32768)
    tanh = recurrent.tanh16(values, recurrent.SIGMOID_TABLE - 32768, multiplier, shift)
    compile_and_run(tmp_path, C_ACTIVATIONS % {"source": SOURCES / "lstm.c"}, "lstm.c")
    done = subprocess.run([str(tmp_path / "program"), str(table), str(multiplier), str(shift)], capture_output=True,
                          text=True, check=True)
    got = np.array(done.stdout.split(), np.int64).reshape(-1, 2)
    assert np.array_equal(got[:, 0], sigmoid) and np.array_equal(got[:, 1], tanh), "lstm.c"
    python = device("lstm_activations", table, multiplier, shift)
    for name, want in (("sigmoid", sigmoid), ("tanh", tanh)):
        assert np.array_equal(np.frombuffer(bytes.fromhex(python[name]), "<i2"), want), "kernels_audio " + name
