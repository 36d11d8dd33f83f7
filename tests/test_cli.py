"""The picoml command line: convert, inspect, run."""
import numpy as np
import pytest

from conftest import CONFORMANCE
from picoml import format, reference
from picoml.cli import main

KWS = CONFORMANCE / "mlperf_tiny" / "kws_ref_model.tflite"
pytestmark = pytest.mark.conformance    # every test converts KWS


def test_convert_inspect_run(tmp_path, capsys):
    pml = tmp_path / "kws.pml"
    assert main(["convert", str(KWS), "-o", str(pml), "--labels", "a,b,c,d,e,f,g,h,i,j,k,l",
                 "--input-info", '{"sample_rate": 16000, "window": 49}']) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "TFLite Micro" in out

    assert main(["inspect", str(pml), "--tensors"]) == 0
    out = capsys.readouterr().out
    for word in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX", "MACs",
                 "arena", "weights", "ratio", "1x49x10x1", "labels      a, b", "input info  sample_rate=16000, window=49"):
        assert word in out, word

    model = format.load(pml)
    assert model.metadata["input"] == {"sample_rate": 16000, "window": 49}
    x = np.random.default_rng(3).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    np.save(tmp_path / "in.npy", x)
    assert main(["run", str(pml), "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.npy"),
                 "--on", "reference"]) == 0
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == np.int8 and got.shape == (1, 12)
    assert np.array_equal(got, reference.run(model, [x])[0])

    # float32 input is quantized with the model's input parameters
    t = model.tensors[model.inputs[0].tensor]
    np.save(tmp_path / "in_float.npy", reference.dequantize(x, t.scale, t.zero_point))
    assert main(["run", str(pml), "--input", str(tmp_path / "in_float.npy"), "--output", str(tmp_path / "out2.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "out2.npy"), got)


def test_inspect_accepts_tflite(capsys):
    assert main(["inspect", str(KWS)]) == 0
    assert "DEPTHWISE_CONV_2D" in capsys.readouterr().out


def test_run_rejects_wrong_input(tmp_path, capsys):
    pml = tmp_path / "kws.pml"
    main(["convert", str(KWS), "-o", str(pml)])
    np.save(tmp_path / "short.npy", np.zeros(10, np.int8))
    assert main(["run", str(pml), "--input", str(tmp_path / "short.npy")]) == 2
    assert "has 10 values; the model takes [1, 49, 10, 1]" in capsys.readouterr().err
    np.save(tmp_path / "int32.npy", np.zeros((1, 49, 10, 1), np.int32))
    assert main(["run", str(pml), "--input", str(tmp_path / "int32.npy")]) == 2
    assert "give int8 values or floats" in capsys.readouterr().err
    (tmp_path / "junk.npy").write_bytes(b"junk")
    assert main(["run", str(pml), "--input", str(tmp_path / "junk.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err


def _kws(tmp_path):
    pml = tmp_path / "kws.pml"
    main(["convert", str(KWS), "-o", str(pml)])
    x = np.random.default_rng(4).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    np.save(tmp_path / "in.npy", x)
    return pml, reference.run(format.load(pml), [x])[0]


def test_run_on_the_unix_port_and_the_old_spelling(tmp_path, capsys):
    pml, want = _kws(tmp_path)
    for where in (["--on", "unix"], ["--on", "unix", "--backend", "viper"], ["--runtime", "micropython"]):
        assert main(["run", str(pml), "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.npy"),
                     *where]) == 0, where
        assert np.array_equal(np.load(tmp_path / "out.npy"), want), where


@pytest.mark.emulated
def test_run_on_an_emulated_board_places_a_large_model_in_flash(tmp_path, capsys):
    """ad01's file (274 KB) is larger than the Cortex-M4's heap: `run` puts it in flash, as bench does."""
    ad01 = CONFORMANCE / "mlperf_tiny" / "ad01_int8.tflite"
    pml = tmp_path / "ad01.pml"
    main(["convert", str(ad01), "-o", str(pml)])
    x = np.random.default_rng(5).integers(-128, 128, (1, 640)).astype(np.int8)
    np.save(tmp_path / "in.npy", x)
    capsys.readouterr()
    assert main(["run", str(pml), "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.npy"),
                 "--on", "qemu-m4"]) == 0
    err = capsys.readouterr().err
    assert "does not fit in RAM" in err and "needs %d bytes" % pml.stat().st_size in err and "flash" in err
    assert np.array_equal(np.load(tmp_path / "out.npy"), reference.run(format.load(pml), [x])[0])


def test_backend_and_target_options_are_checked(tmp_path, capsys):
    pml, _ = _kws(tmp_path)
    assert main(["run", str(pml), "--input", str(tmp_path / "in.npy"), "--on", "c", "--backend", "viper"]) == 2
    assert "the c runtime has no device backends" in capsys.readouterr().err
    assert main(["bench", str(pml), "--on", "reference", "--heapsize", "100k"]) == 2
    assert "--heapsize applies to" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", str(pml), "--input", str(tmp_path / "in.npy"), "--on", "unix", "--port", "virtual"])


def test_bench_on_the_unix_port(tmp_path, capsys):
    pml, _ = _kws(tmp_path)
    capsys.readouterr()
    assert main(["bench", str(pml), "--on", "unix", "--backends", "native", "--count", "3"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] + " " + line.split()[1]: line.split()[2:] for line in out.splitlines()
            if line.startswith(("reference", "unix"))}
    assert float(rows["unix native"][0]) > 0 and rows["unix native"][3] == "0"    # µs; no heap per inference
    assert float(rows["reference (numpy)"][0]) > 0


@pytest.mark.emulated
def test_bench_on_an_emulated_core(tmp_path, capsys):
    pml, _ = _kws(tmp_path)
    capsys.readouterr()
    assert main(["bench", str(pml), "--on", "bare-m4"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("bare-m4"))
    assert 10 ** 6 < int(line.split()[1]) < 10 ** 8         # instructions per inference


def test_bench_on_the_virtual_board(tmp_path, capsys):
    """bench --port: the board's own timing and heap figures, through mpremote (the library deployed first)."""
    pml, _ = _kws(tmp_path)
    capsys.readouterr()
    assert main(["bench", str(pml), "--port", "virtual", "--backends", "native", "--count", "3"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("board at virtual "))
    fields = line.split()
    assert fields[3] == "native" and float(fields[4]) > 0, line                 # µs on the board
    assert fields[7] == "0" and int(fields[8]) > 0, line                        # heap per inference, after load


@pytest.mark.parametrize("argv, words", [
    (["synth", "gesture", "--out", "D", "--count", "0"], "argument --count: must be 1 or more (got 0)"),
    (["synth", "vibration", "--out", "D", "--rate", "-5"], "argument --rate: must be a positive number (got -5)"),
    (["synth", "gesture", "--out", "D", "--seconds", "nan"], "argument --seconds: must be a positive number"),
    (["train", "gesture", "D", "-o", "m.pml", "--epochs", "0"], "argument --epochs: must be 1 or more"),
    (["train", "gesture", "D", "-o", "m.pml", "--hop", "-3"], "argument --hop: must be 1 or more"),
    (["bench", "m.pml", "--count", "0"], "argument --count: must be 1 or more"),
    (["plot", "D", "--seconds", "-1"], "argument --seconds: must be a positive number"),
    (["fuzz", "--target", "c", "--cases", "x"], "argument --cases: 'x' is not an integer"),
    (["fuzz", "--target", "c", "--first", "-1"], "argument --first: must be 0 or more"),
    (["virtual", "--snr", "inf"], "argument --snr: must be a finite number"),
    (["capture", "--port", "virtual", "--imu", "virtual", "--label", "x", "--seconds", "0", "--out", "D"],
     "argument --seconds: must be a positive number"),
    (["demo", "--persons", "0"], "argument --persons: must be 1 or more"),
])
def test_numeric_options_out_of_range_are_one_line_errors(argv, words, capsys):
    """A count of 0, a negative rate or a NaN is argparse's one-line error naming the option (exit status 2),
    before anything runs: they were a traceback (synth --seconds 0, bench --count 0) or taken silently (train
    --epochs 0 wrote an untrained model, synth --count 0 the default count)."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert words in capsys.readouterr().err
