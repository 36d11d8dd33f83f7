"""The picoml command line: convert, inspect, run."""
import numpy as np

from conftest import CONFORMANCE
from picoml import format, reference
from picoml.cli import main

KWS = CONFORMANCE / "mlperf_tiny" / "kws_ref_model.tflite"


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
                 "--runtime", "reference"]) == 0
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
