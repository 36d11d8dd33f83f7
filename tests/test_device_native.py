"""The device library with the C native module (_picoml.mpy, x64) in the unix port: every conformance and
generated model gives the reference's bytes through picoml.load(...).predict(...)."""
import pathlib

import numpy as np
import pytest

import genmodels
from conftest import CONFORMANCE, MLPERF, ROOT, test_inputs
from picoml import format, reference
from picoml.runtimes import unix
from picoml.convert import convert

MODELS = MLPERF + [CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite"]


def _check(tflite_bytes, name, count):
    model = convert(tflite_bytes, name, measure_tflm=False)
    blob = format.write(model)
    t = model.tensors[model.inputs[0].tensor]
    inputs = [[x] for x in test_inputs(t.shape, t.zero_point, count, seed=11)]
    for k, (got, x) in enumerate(zip(unix.UnixPort().run_batch(blob, inputs, "native").outputs, inputs)):
        for ours, want in zip(got, reference.run(model, x)):
            assert np.array_equal(ours, want), "%s input %d" % (name, k)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_conformance_model_native(path):
    _check(path.read_bytes(), path.name, 50)


@pytest.mark.parametrize("name", sorted(genmodels.MODELS))
def test_generated_model_native(name):
    _check(pathlib.Path(genmodels.build_tflite(name, ROOT / "build" / "genmodels")).read_bytes(), name, 20)


def test_native_is_chosen_automatically_and_reports_itself(tmp_path):
    path = tmp_path / "kws.pml"
    path.write_bytes(format.write(convert(MLPERF[1].read_bytes(), measure_tflm=False)))
    out = unix.run_script("import picoml\nm = picoml.load(%r)\nprint(m.backend, m.info()['backend'])\n" % str(path),
              natmod=True)
    assert out.split() == ["native", "native"]


def test_wrong_arch_module_is_refused_with_the_right_build_named(tmp_path):
    """An armv7emsp _picoml.mpy on the x64 unix port: forced native says which build is needed; auto falls back."""
    arm = ROOT / "build" / "natmod" / "armv7emsp" / "_picoml.mpy"
    assert arm.exists(), "run make natmod"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "_picoml.mpy").write_bytes(arm.read_bytes())
    path = tmp_path / "kws.pml"
    path.write_bytes(format.write(convert(MLPERF[1].read_bytes(), measure_tflm=False)))
    out = unix.run_script("import picoml\n"
              "try:\n    picoml.load(%r, backend='native')\nexcept Exception as e:\n    print('ERROR', e)\n"
              "m = picoml.load(%r)\nprint('FELLBACK', m.backend)\n" % (str(path), str(path)),
              natmod=tmp_path / "mods")
    error = out.split("ERROR", 1)[1].split("\n")[0]
    assert "x64" in error, error
    assert "FELLBACK viper" in out or "FELLBACK python" in out
