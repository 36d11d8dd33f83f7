"""Whole models through the C kernels and op-table walker (host gcc build) give the reference's bytes."""
import pathlib

import numpy as np
import pytest

import genmodels
from c_runtime import CRuntime
from conftest import CONFORMANCE, MLPERF, ROOT, test_inputs
from picoml import reference
from picoml.convert import convert

MODELS = MLPERF + [CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite"]


def _check(tflite_bytes, name, count):
    model = convert(tflite_bytes, name, measure_tflm=False)
    runtime = CRuntime(model)
    for i, e in enumerate(model.inputs):
        t = model.tensors[e.tensor]
        for x in test_inputs(t.shape, t.zero_point, count, seed=7):
            xs = [x] if len(model.inputs) == 1 else None
            assert xs is not None, "multi-input model: extend this test"
            for ours, want in zip(runtime.run(xs), reference.run(model, xs)):
                assert np.array_equal(ours, want), name


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_conformance_model_in_c(path):
    _check(path.read_bytes(), path.name, 50)


@pytest.mark.parametrize("name", sorted(genmodels.MODELS))
def test_generated_model_in_c(name):
    path = genmodels.build_tflite(name, ROOT / "build" / "genmodels")
    _check(pathlib.Path(path).read_bytes(), name, 20)


def test_check_refuses_bad_models():
    """pml_check's status and report (every rule has its own case in test_validation.py)."""
    from c_runtime import check, load
    from picoml import format, rules
    lib = load()
    blob = format.write(convert(MODELS[1].read_bytes(), measure_tflm=False))
    h = format.read_header(blob)
    assert check(lib, blob, h["arena_size"]) == (0, None)
    assert check(lib, blob, h["arena_size"] - 4) == (-1, (-1, -1, rules.RULE["ARENA"], -1, h["arena_size"] - 4))
    assert check(lib, blob[:-1], h["arena_size"])[0] == -1                                    # truncated
    bad = bytearray(blob)
    bad[h["ops_offset"]:h["ops_offset"] + 4] = (99).to_bytes(4, "little")
    assert check(lib, bad, h["arena_size"]) == (-2, (0, -1, rules.RULE["UNKNOWN_OP"], -1, 99))
    bad = bytearray(blob)
    bad[h["ops_offset"] + 12:h["ops_offset"] + 16] = (3).to_bytes(4, "little")
    assert check(lib, bad, h["arena_size"]) == (-1, (0, -1, rules.RULE["N_PARAMS"], -1, 3))
