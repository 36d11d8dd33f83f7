"""Models generated with Keras covering every supported op and option give TFLite Micro's bytes."""
import pathlib

import numpy as np
import pytest

import genmodels
from conftest import ROOT, test_inputs
from oracle_compare import check_model, converted, op_by_op_differences, rescaling_relus
from picoml import reference
from picoml.oracle import Oracle

CACHE = ROOT / "build" / "genmodels"
N_INPUTS = 50
# The one known departure: TFLite Micro's int8 RELU6 ignores the output scale; picoml follows TFLite
# (docs/format.md, tests/test_relu6.py).
TFLM_DIFFERS = {"relu6_standalone"}
# Models TFLite Micro cannot run (5-D tensors) or runs on memory it never set (SPACE_TO_BATCH_ND's padding,
# ops/shape.py): compared with TFLite's interpreter instead
TFLM_CANNOT_RUN = {"upsampling", "space_to_batch"}


@pytest.fixture(scope="session")
def models():
    return genmodels.build_all(CACHE)


def _inputs_for(name):
    def inputs_for(t, n):
        return test_inputs(t.shape, t.zero_point, n, seed=sum(map(ord, name)))
    return inputs_for


@pytest.mark.parametrize("name", sorted(set(genmodels.MODELS) - TFLM_DIFFERS - TFLM_CANNOT_RUN))
def test_generated_model_matches_tflite_micro(models, name):
    check_model(pathlib.Path(models[name]).read_bytes(), _inputs_for(name), N_INPUTS, name)


@pytest.mark.parametrize("name", sorted(TFLM_DIFFERS))
def test_model_with_rescaling_relu6_matches_elsewhere(models, name):
    """Every op but the rescaling RELU6s, fed TFLite Micro's own inputs, gives its outputs."""
    data = pathlib.Path(models[name]).read_bytes()
    model, _, sources = converted(data, name)
    departures = [model.ops[i] for i in rescaling_relus(data, model)]
    assert departures, "the model lost its rescaling RELU6"
    oracle = Oracle(data, keep_all_tensors=True)
    t = model.tensors[model.inputs[0].tensor]
    for x in test_inputs(t.shape, t.zero_point, 20):
        oracle.run([x])
        assert op_by_op_differences(model, sources, oracle, lambda op: any(op is d for d in departures)) == []


@pytest.mark.parametrize("name", sorted(TFLM_CANNOT_RUN))
def test_model_tflite_micro_cannot_run_matches_tflite(models, name):
    import tensorflow as tf
    data = pathlib.Path(models[name]).read_bytes()
    model, _, _ = converted(data, name)
    interpreter = tf.lite.Interpreter(model_content=data, experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    t = model.tensors[model.inputs[0].tensor]
    for x in test_inputs(t.shape, t.zero_point, 20):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        want = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert np.array_equal(want.reshape(-1), reference.run(model, [x])[0].reshape(-1))


def test_every_supported_op_is_covered(models):
    from picoml.ops import LOWER
    seen = set()
    for path in models.values():
        seen |= set(genmodels.op_names(pathlib.Path(path).read_bytes()))
    # the audio front-end's ops (the Signal library's, CAST, STRIDED_SLICE, MINIMUM, MAXIMUM, DIV): its model and
    # variants of it, against TFLite Micro in test_signal.py
    from picoml.tflite_import import parse
    ops, _, _ = parse((ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite").read_bytes())
    seen |= {op.name for op in ops}
    # SQUEEZE: the converter turns it into RESHAPE with fixed shapes; PADV2, RELU_N1_TO_1 and RELU_0_TO_1
    # are not produced by Keras layers. They share their lowering and kernel with PAD, RELU and RESHAPE. The
    # comparisons and logical ops the thresholds model leaves out share its lowering (one LUT): single-op graphs of
    # each against TFLite Micro in test_select.py (SELECT, TensorFlow 1's, which TFLite Micro does not run, too).
    assert set(LOWER) - seen <= {"SQUEEZE", "PADV2", "RELU_N1_TO_1", "RELU_0_TO_1", "EQUAL", "NOT_EQUAL",
                                 "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_NOT", "LOGICAL_OR", "SELECT"}
    assert {"QUANTIZE", "DEQUANTIZE"} <= seen
