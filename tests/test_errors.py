"""Bad .tflite input: a clear error naming the problem, never a traceback."""
import numpy as np
import pytest

from conftest import CONFORMANCE
from picoml.cli import main
from picoml.convert import convert
from picoml.errors import PicomlError, UnsupportedModelError

KWS = CONFORMANCE / "mlperf_tiny" / "kws_ref_model.tflite"


def test_not_a_tflite_file():
    with pytest.raises(UnsupportedModelError, match="not a .tflite file"):
        convert(b"hello world, not a model", measure_tflm=False)


@pytest.mark.conformance
@pytest.mark.parametrize("keep", [0.02, 0.1, 0.5, 0.9, 0.999])
def test_truncated_tflite(keep):
    data = KWS.read_bytes()
    with pytest.raises(PicomlError):
        convert(data[:int(len(data) * keep)], measure_tflm=False)


@pytest.mark.conformance
def test_corrupted_tflite_never_escapes_as_another_exception():
    data = bytearray(KWS.read_bytes())
    rng = np.random.default_rng(1)
    for _ in range(30):
        bad = bytearray(data)
        for where in rng.integers(8, 2000, 4):
            bad[where] = rng.integers(0, 256)
        try:
            convert(bytes(bad), measure_tflm=False)
        except PicomlError:
            pass


def test_float_model_is_refused():
    import keras
    import tensorflow as tf
    keras.backend.clear_session()
    x = keras.Input(shape=(4,), batch_size=1)
    data = tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, keras.layers.Dense(2)(x))).convert()
    with pytest.raises(UnsupportedModelError, match=r"FULLY_CONNECTED \(op 0, layer .*\): .* is FLOAT32; picoml runs fully int8"):
        convert(data, measure_tflm=False)


@pytest.mark.conformance
def test_unknown_op_names_op_and_layer():
    """A custom op picoml does not know (the front-end's SignalWindow renamed in the flatbuffer)."""
    data = (CONFORMANCE / "micro_speech" / "audio_preprocessor_int8.tflite").read_bytes()
    assert data.count(b"SignalWindow") == 1
    data = data.replace(b"SignalWindow", b"SignalWidget")
    with pytest.raises(UnsupportedModelError, match=r"CUSTOM\(SignalWidget\) \(op 0, layer 'signal_window'\): "
                                                    r"picoml does not support this op"):
        convert(data, measure_tflm=False)


@pytest.mark.conformance
def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(KWS.read_bytes()[:1000])
    assert main(["convert", str(bad), "-o", str(tmp_path / "x.pml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("picoml: error: ") and "Traceback" not in err
    assert not (tmp_path / "x.pml").exists()
    assert main(["inspect", str(tmp_path / "missing.pml")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), -1.0])
def test_non_finite_or_negative_scale_is_refused_naming_the_tensor(value):
    from picoml.fuzz_mutate import TfliteLayout
    data = bytearray(KWS.read_bytes())
    scale = next(f for f in TfliteLayout(bytes(data)).groups["scale"] if f.get(data) > 0)
    scale.set(data, value)
    with pytest.raises(UnsupportedModelError, match=r"tensor '.*' has a quantization scale of %s" % value):
        convert(bytes(data), measure_tflm=False)


def test_tflite_micro_crashing_in_its_child_loses_only_the_measurement(monkeypatch):
    """TFLite Micro does not verify a flatbuffer and can crash on a damaged one: convert measures its arena in
    a child process, so a crash there costs the measurement and nothing else."""
    import picoml.convert as C
    monkeypatch.setattr(C, "_MEASURE", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    model = C.convert(KWS.read_bytes(), "kws")
    assert "tflm_arena" not in model.metadata and model.ops
    monkeypatch.undo()
    from picoml.oracle import arena_bytes      # in this process: the file is a valid one
    total, head = arena_bytes(KWS.read_bytes())
    assert C.convert(KWS.read_bytes(), "kws").metadata["tflm_arena"] == {"total": total, "activations": head}


def test_unusable_multiplier_is_a_clear_error():
    """Scales a damaged model can lead to (float32 ratios overflow to inf): a ValueError saying so, which the
    importer turns into an error naming the op."""
    from picoml.fixedpoint import quantize_multiplier
    for bad in (float("nan"), float("inf"), -0.5):
        with pytest.raises(ValueError, match="requantization multiplier"):
            quantize_multiplier(bad)


@pytest.mark.parametrize("runtime", ["reference", "c", "unix"])
def test_a_nan_float_input_is_refused_as_on_the_device(runtime, tmp_path, capsys):
    """A float input holding a NaN is refused in the device library's words (picoml.values: "input 0 value k is
    NaN"), on every host runtime: the host quantized it silently before; an infinity clamps, on both."""
    import numpy as np
    from conftest import ROOT
    x = np.zeros((1, 104, 6), np.float32)
    x[0, 3, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    gesture = str(ROOT / "models" / "gesture" / "gesture.pml")
    assert main(["run", gesture, "--input", str(tmp_path / "x.npy"), "--on", runtime]) == 2
    assert "input 0 value 20 is NaN" in capsys.readouterr().err
    x[0, 3, 2] = np.inf
    np.save(tmp_path / "x.npy", x)
    assert main(["run", gesture, "--input", str(tmp_path / "x.npy"), "--on", runtime,
                 "--output", str(tmp_path / "y.npy")]) == 0


def test_repl_on_a_port_that_is_not_there_fails(capsys):
    """picoml repl passes mpremote's exit status on (it exited 0 whatever mpremote said)."""
    assert main(["repl", "--port", "/dev/picoml-no-such-port"]) != 0


def test_the_virtual_boards_microphone_takes_only_a_pcm_wav(tmp_path, capsys):
    """picoml virtual --mic with a file that is not 16 kHz mono 16-bit PCM is refused before the board starts (the
    board's front-end would have met it later, on the board)."""
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    assert main(["virtual", "--mic", str(tmp_path / "junk.wav")]) == 2
    assert "is not a PCM WAV file" in capsys.readouterr().err
    assert main(["virtual", "--mic", str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in capsys.readouterr().err
