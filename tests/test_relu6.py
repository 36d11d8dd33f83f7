"""A standalone int8 RELU6 whose input and output scales differ: picoml follows TFLite's semantics
(requantize, then clamp), where TensorFlow Lite Micro clamps in the input's scale (docs/format.md)."""
import numpy as np
import pytest

import genmodels
from oracle_compare import converted
from picoml import reference
from picoml.oracle import Oracle


@pytest.fixture(scope="module")
def relu6_model():
    import keras
    keras.backend.clear_session()
    x = keras.Input(shape=(256,), batch_size=1)
    model = keras.Model(x, keras.layers.ReLU(max_value=6.0)(x))
    return genmodels.convert(model)


def _tflite_reference_kernels(data, x):
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_content=data,
                                      experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_relu6_follows_tflite_not_tflite_micro(relu6_model):
    model, _, _ = converted(relu6_model)
    assert [op.name for op in model.ops] == ["LUT"]
    t_in, t_out = model.tensors[model.inputs[0].tensor], model.tensors[model.outputs[0].tensor]
    assert (t_in.scale, t_in.zero_point) != (t_out.scale, t_out.zero_point)

    every_value = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    ours = reference.run(model, [every_value])[0]
    assert np.array_equal(ours, _tflite_reference_kernels(relu6_model, every_value))

    # what the float model means: relu6 of the dequantized input, quantized to the output's scale
    real = np.clip((every_value.astype(np.float64) - t_in.zero_point) * t_in.scale, 0, 6)
    assert np.max(np.abs(reference.dequantize(ours, t_out.scale, t_out.zero_point) - real)) <= t_out.scale

    tflm = Oracle(relu6_model).run([every_value])[0]
    assert not np.array_equal(tflm, ours), "TFLite Micro now requantizes RELU6: revisit docs/format.md"
