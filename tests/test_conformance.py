"""Every real model in ../shared/conformance gives TFLite Micro's output byte for byte."""
import numpy as np
import pytest

import models
from conftest import CONFORMANCE, test_inputs
from oracle_compare import check_model
from picoml import reference
from picoml.convert import convert
from picoml.oracle import arena_bytes

N_INPUTS = 50
pytestmark = pytest.mark.conformance


@pytest.mark.parametrize("name", models.MLPERF)
def test_mlperf_model_matches_tflite_micro(name):
    path = models.tflite(name)
    def inputs_for(t, n):
        return test_inputs(t.shape, t.zero_point, n, seed=hash(path.stem) % 1000)
    check_model(path.read_bytes(), inputs_for, N_INPUTS, path.name)


def _micro_speech_features():
    return {p.name.split(".")[0]: np.load(p) for p in sorted((CONFORMANCE / "micro_speech").glob("*_1000ms.features_int8.npy"))}


def test_micro_speech_model_on_real_features():
    """The keyword model on TFLite Micro's own front-end features of real recordings, plus random inputs."""
    tflite = (CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite").read_bytes()
    features = _micro_speech_features()
    assert len(features) == 4

    def inputs_for(t, n):
        real = [f.reshape(t.shape).astype(np.int8) for f in features.values()]
        return real + test_inputs(t.shape, t.zero_point, n - len(real))
    model = check_model(tflite, inputs_for, N_INPUTS, "micro_speech")
    labels = ["silence", "unknown", "yes", "no"]
    for clip, x in features.items():
        expected = np.load(CONFORMANCE / "micro_speech" / (clip + ".micro_speech_output.npy"))
        got = reference.run(model, [x.reshape(1, -1)])[0]
        assert np.array_equal(got.reshape(-1), expected.reshape(-1)), clip
        word = clip.split("_")[0]
        assert labels[int(np.argmax(got))] == {"noise": "silence"}.get(word, word)


@pytest.mark.parametrize("name", models.MLPERF)
def test_arena_not_larger_than_tflite_micro(name):
    path = models.tflite(name)
    data = path.read_bytes()
    model = convert(data, path.name, measure_tflm=False)
    total, activations = arena_bytes(data)
    assert model.arena_size <= total
    assert model.arena_size <= activations, "planned %d bytes, TFLite Micro's planner %d" % (model.arena_size, activations)


def test_convolutions_behind_their_inputs_shrink_the_arena(monkeypatch):
    """DS-CNN's depthwise and 1x1 convolutions each write their output behind their input (planner.behind_gap),
    exactly the rule's gap, which takes its arena from two 8,000-byte activations to one plus the gaps (the model's
    input in the bytes its first gaps leave free until then)."""
    from picoml import planner
    data = models.tflite("kws_ref_model").read_bytes()
    model = convert(data, "kws_ref_model", measure_tflm=False)
    gaps = []
    for op in model.ops[1:9]:
        x, y = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        gaps.append(x.offset - y.offset)
        assert 0 < x.offset - y.offset < y.nbytes, op.name
    assert gaps == [640, 256] * 4       # 2 rows of 5 x 64, 4 pixels of 64
    assert model.arena_size == 8000 + sum(gaps)     # one activation and the gaps (the input in the gaps' bytes)
    monkeypatch.setattr(planner, "_plan_behind", lambda *args: {})
    assert convert(data, "kws_ref_model", measure_tflm=False).arena_size == 16000


@pytest.mark.parametrize("steps", [1, 3])
def test_outputs_further_behind_give_the_same_bytes(monkeypatch, steps):
    """Any output the rule lets lie behind its input, not only the planner's: DS-CNN planned with every gap `steps`
    rows or pixels longer gives the reference's bytes on the C kernels (portable, Cortex-M4 with its default and its
    300-byte scratch, Cortex-M0) and in the unix port (native, viper, pure Python)."""
    from picoml import format, planner, runtimes
    rule = planner.behind_gap
    monkeypatch.setattr(planner, "behind_gap", lambda op, tensors: (lambda r: r and (r[0] + steps * r[1], r[1]))(
        rule(op, tensors)))
    model = convert(models.tflite("kws_ref_model").read_bytes(), "kws_ref_model", measure_tflm=False)
    behind = []
    for i, op in enumerate(model.ops[1:9]):
        x, y = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        if 0 < x.offset - y.offset < y.nbytes:
            behind.append(x.offset - y.offset)
            assert x.offset - y.offset == [640 + steps * 320, 256 + steps * 64][i % 2]
    assert len(behind) >= 4     # (the planner leaves out the links that no longer make the arena smaller)
    blob = format.write(model)
    batch = [[x] for x in test_inputs((1, 49, 10, 1), model.tensors[model.inputs[0].tensor].zero_point, 3)]
    want = runtimes.get("reference").run_batch(blob, batch).outputs
    for name, options, backend, count in [("c", {}, None, 3), ("c", {"variant": "m4"}, None, 3),
                                          ("c", {"variant": "m4-300"}, None, 3), ("c", {"variant": "m0"}, None, 3),
                                          ("unix", {}, "native", 3), ("unix", {}, "viper", 1),
                                          ("unix", {}, "python", 1)]:
        got = runtimes.get(name, **options).run_batch(blob, batch[:count], backend).outputs
        for w, g in zip(want, got):
            assert all(np.array_equal(a, b) for a, b in zip(w, g)), (name, options, backend)
