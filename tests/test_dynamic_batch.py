"""Keras models built the usual way, without a fixed batch size (keras.Input(shape=...)): the converter leaves the
batch open (-1 in the tensors' shape signatures, 1 in their shapes) and computes at run time the shapes that
Flatten, Reshape, Dense on 3-D inputs, Conv2DTranspose and unrolled recurrent layers need: SHAPE, STRIDED_SLICE,
GATHER, REDUCE_PROD, PACK and CONCATENATION into a RESHAPE's shape, a TRANSPOSE_CONV's output shape, a FILL's
dimensions. picoml folds that arithmetic at batch 1 and works out the sizes the file leaves open
(tflite_import.fold_shapes). Each model below (genmodels.py's, built without a fixed batch size) converts and gives
TFLite Micro's bytes in the reference and the C kernels. TFLite Micro runs a file with shape arithmetic only where
it needs no value of it (a RESHAPE's output shape is the file's): for the others the oracle is TFLite Micro on the
file with that arithmetic evaluated by TensorFlow Lite's interpreter at batch 1 (its results made constants, every
tensor given the shape the interpreter found), or, where TFLite Micro cannot run the model (TILE, SPACE_TO_BATCH_ND's
padding: test_generated.py), TensorFlow Lite's interpreter itself. What picoml cannot work out is refused."""
import contextlib
import hashlib
import inspect
import os

import numpy as np
import pytest

import genmodels
from models import GENERATED_CACHE
from picoml import format, reference
from picoml.cli import main
from picoml.convert import convert
from picoml.errors import UnsupportedModelError
from picoml.oracle import Oracle
from test_lowered_ops import Graph, same_as_tflite_micro, tflite_interpreter

pytestmark = pytest.mark.fast

CACHE = GENERATED_CACHE / "dynamic_batch"


@contextlib.contextmanager
def open_batch():
    """genmodels's builders make keras.Input(shape) without batch_size=1 while this lasts."""
    genmodels._import_tensorflow()
    fixed = genmodels._input
    genmodels._input = lambda shape: genmodels.keras.Input(shape=shape)
    try:
        yield
    finally:
        genmodels._input = fixed


def keras_model(name):
    with open_batch():
        return genmodels.make_model(name)


def dynamic_tflite(name):
    """genmodels's model `name` without a fixed batch size, quantized to int8 (cached by its builder's source)."""
    source = inspect.getsource(genmodels.MODELS[name]) + inspect.getsource(genmodels.convert)
    path = CACHE / ("%s-%s.tflite" % (name, hashlib.sha1(source.encode()).hexdigest()[:10]))
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        data = genmodels.convert(keras_model(name))
        tmp = path.with_suffix(".%d.tmp" % os.getpid())
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.read_bytes()


def open_signatures(data):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    graph = schema.ModelT.InitFromPackedBuf(bytearray(data), 0).subgraphs[0]
    return [t for t in graph.tensors if t.shapeSignature is not None and min(t.shapeSignature) < 0]


def shapes_evaluated(data):
    """The .tflite file `data` with its shape arithmetic evaluated by TensorFlow Lite's interpreter at batch 1: each
    SHAPE, and each op computing from their results and constants only, dropped, what they computed a constant,
    every tensor given the shape the interpreter found (TFLite Micro takes tensors' shapes from the file)."""
    import flatbuffers
    import tensorflow as tf
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    interpreter = tf.lite.Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    constant = {i for i, t in enumerate(graph.tensors) if model.buffers[t.buffer].data is not None}
    computed, kept = set(), []
    for op in graph.operators:
        ins = [i for i in op.inputs if i >= 0]
        if codes[op.opcodeIndex] == schema.BuiltinOperator.SHAPE or \
                (set(ins) & computed and set(ins) <= computed | constant):
            computed.update(op.outputs)
        else:
            kept.append(op)
    graph.operators = kept
    for i in computed & {i for op in kept for i in op.inputs}:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(interpreter.get_tensor(i).tobytes(), np.uint8)
        model.buffers.append(buffer)
        graph.tensors[i].buffer = len(model.buffers) - 1
    for i, t in enumerate(graph.tensors):
        t.shape, t.shapeSignature = list(interpreter.get_tensor(i).shape), None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


ORACLES = {"tflm": lambda data: Oracle(data).run, "tflm, shapes evaluated": lambda data: Oracle(
    shapes_evaluated(data)).run, "tflite": lambda data: tflite_interpreter(
    data, "BUILTIN_WITHOUT_DEFAULT_DELEGATES"), "tflite reference": tflite_interpreter}
# (genmodels name, oracle)
MODELS = [
    ("prelu", "tflm"),                              # Conv2D, Flatten: SHAPE, STRIDED_SLICE, PACK into RESHAPE
    ("reshape_flatten", "tflm, shapes evaluated"),  # Reshape; Dense on 3-D: [1, 16, 4] viewed as [16, 4] ([1, 1] in
                                                    # the file); Flatten
    ("dense_3d", "tflm, shapes evaluated"),         # Dense on 3-D: SHAPE, GATHER, REDUCE_PROD, CONCATENATION, PACK
    ("conv_transpose", "tflm"),                     # Conv2DTranspose: PACK into TRANSPOSE_CONV's output shape
    ("gru", "tflm, shapes evaluated"),              # unrolled GRU: its zero initial state a FILL of PACKed sizes
    ("lstm", "tflm, shapes evaluated"),             # unrolled LSTM and SimpleRNN
    ("conv2d_dilated", "tflite reference"),         # SPACE_TO_BATCH_ND: a batch of 4 where the file has 1
    ("upsampling", "tflite"),                       # UpSampling2D: 5-D views of open sizes, TILE
]


@pytest.mark.parametrize("name, oracle", MODELS, ids=[m[0] for m in MODELS])
def test_a_model_without_a_fixed_batch_size_gives_tflite_micros_bytes(name, oracle):
    data = dynamic_tflite(name)
    assert open_signatures(data)
    model = same_as_tflite_micro(data, 0, ORACLES[oracle](data))
    assert not any(op.name in ("SHAPE", "FILL", "REDUCE_PROD") for op in model.ops)
    assert all(t.dtype != np.int32 for t in model.tensors if not t.is_constant)


def test_flatten_converts_to_what_a_fixed_batch_size_gives():
    """With the shape arithmetic folded, Conv2D and Flatten lower to the ops and constants of the same model built
    with batch_size=1."""
    fixed = format.read(format.write(convert(genmodels.build_tflite("prelu", GENERATED_CACHE).read_bytes(), "m",
                                             measure_tflm=False)))
    folded = format.read(format.write(convert(dynamic_tflite("prelu"), "m", measure_tflm=False)))
    assert [(op.name, op.params) for op in folded.ops] == [(op.name, op.params) for op in fixed.ops]
    assert [(t.shape, t.dtype) for t in folded.tensors] == [(t.shape, t.dtype) for t in fixed.tensors]
    assert all(np.array_equal(a.data, b.data) for a, b in zip(folded.tensors, fixed.tensors) if a.is_constant)


def test_a_keras_file_without_a_fixed_batch_size_converts_with_calibration(tmp_path):
    """`picoml convert m.keras --calibration` of a model without a fixed batch size quantizes it at batch 1
    (quantize._batch_one_converter): the graph of a batch_size=1 model (the Dense's bias folded, no separate ADD),
    byte-exact with TFLite Micro on the .tflite it quantized."""
    from picoml.quantize import quantize_file
    model = keras_model("dense_3d")
    assert model.inputs[0].shape[0] is None
    model.save(tmp_path / "m.keras")
    samples = np.random.default_rng(0).normal(0, 1, (30, 4, 10)).astype(np.float32)
    np.save(tmp_path / "cal.npy", samples)
    assert main(["convert", str(tmp_path / "m.keras"), "--calibration", str(tmp_path / "cal.npy")]) == 0
    got = format.read((tmp_path / "m.pml").read_bytes())
    assert [op.name for op in got.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert got.tensors[got.inputs[0].tensor].shape == (1, 4, 10)
    oracle = Oracle(quantize_file(tmp_path / "m.keras", tmp_path / "cal.npy"))
    for seed in range(3):
        x = np.random.default_rng(seed).integers(-128, 128, (1, 4, 10)).astype(np.int8)
        assert np.array_equal(reference.run(got, [x])[0].reshape(-1), oracle.run([x])[0].reshape(-1))


def test_a_shape_the_file_leaves_open_is_refused():
    """A SHAPE of a tensor whose size picoml cannot work out (here an op it has no rule for writes it) is refused,
    naming the tensor."""
    g = Graph()
    x = g.tensor((1, 4, 6), model_input=True)
    g.graph.tensors[x].shapeSignature = [-1, 4, 6]
    y = g.tensor((1, 4, 6))
    g.graph.tensors[y].shapeSignature = [-1, -1, 6]
    g.op("LOCAL_RESPONSE_NORMALIZATION", [x], [y])
    s = g.tensor((3,), dtype="INT32")
    g.op("SHAPE", [y], [s])
    z = g.tensor((24,))
    g.op("RESHAPE", [y, s], [z])
    with pytest.raises(UnsupportedModelError, match=r"SHAPE .*leaves the shape of tensor 't1' open .*batch_size=1"):
        convert(g.bytes([z]), "m", measure_tflm=False)


def test_a_size_picoml_cannot_work_out_is_refused():
    """An op picoml has no shape rule for, on a tensor whose size it worked out anew, with an output the file leaves
    open: refused, naming the op and the output."""
    g = Graph()
    x = g.tensor((1, 4, 6), model_input=True)
    g.graph.tensors[x].shapeSignature = [-1, 4, 6]
    y = g.tensor((1, 1))
    g.graph.tensors[y].shapeSignature = [-1, -1]
    g.op("RESHAPE", [x, g.tensor((2,), np.array([4, 6], np.int32))], [y])
    z = g.tensor((1, 1))
    g.graph.tensors[z].shapeSignature = [-1, -1]
    g.op("LOCAL_RESPONSE_NORMALIZATION", [y], [z])
    with pytest.raises(UnsupportedModelError, match=r"LOCAL_RESPONSE_NORMALIZATION .*output 't3' open"):
        convert(g.bytes([z]), "m", measure_tflm=False)


def test_a_fixed_shape_is_still_required():
    """-1 in a tensor's shape itself (not only in its signature) is refused as before."""
    g = Graph()
    x = g.tensor((-1, 4), model_input=True)
    s = g.tensor((2,), dtype="INT32")
    g.op("SHAPE", [x], [s])
    with pytest.raises(UnsupportedModelError, match=r"shape \[-1, 4\]: picoml needs fixed"):
        convert(g.bytes([s]), "m", measure_tflm=False)


def _upsampled(pool, batch_size=None):
    """UpSampling2D (its output's height left open besides the batch) into windows: CONV_2D (SAME) and
    DEPTHWISE_CONV_2D (VALID), strided, or MAX_POOL_2D (SAME and VALID). (A dilated convolution of an open batch is
    a SPACE_TO_BATCH_ND, not the batch_size=1 model's dilated op.)"""
    genmodels._import_tensorflow()
    keras, layers = genmodels.keras, genmodels.layers
    keras.backend.clear_session()
    keras.utils.set_random_seed(5)
    x = inp = keras.Input((6, 5, 3), batch_size=batch_size)
    x = layers.UpSampling2D(2)(x)
    if pool:
        x = layers.MaxPooling2D(2, padding="valid")(layers.UpSampling2D((3, 1))(layers.MaxPooling2D(
            3, strides=2, padding="same")(x)))
    else:
        x = layers.DepthwiseConv2D(3, strides=(1, 2), padding="valid")(layers.Conv2D(4, 3, strides=(2, 1),
                                                                                   padding="same")(x))
    return genmodels.convert(genmodels._randomize_bias_and_batchnorm(keras.Model(inp, x), 5))


def test_windows_after_an_upsampling_convert():
    """Keras 3's UpSampling2D leaves its output's height open too (-1 in the shape signature, not only the batch);
    picoml works out the size of a convolution's or pooling's output from it as TFLite's Prepare does. Before, the
    window after it was refused ('the file leaves the shape of its output open'). TFLite Micro cannot run the TILEs:
    the pooling model's bytes are TFLite's (its MAX_POOL_2D exact); the convolutions convert to the ops and shapes
    of the model built with batch_size=1."""
    data = _upsampled(pool=True)
    assert [d for t in open_signatures(data) for d in t.shapeSignature[1:] if d < 0]
    same_as_tflite_micro(data, 0, ORACLES["tflite"](data))
    folded = format.read(format.write(convert(_upsampled(pool=False), "m", measure_tflm=False)))
    fixed = format.read(format.write(convert(_upsampled(pool=False, batch_size=1), "m", measure_tflm=False)))
    assert [(op.name, op.params) for op in folded.ops] == [(op.name, op.params) for op in fixed.ops]
    assert [t.shape for t in folded.tensors] == [t.shape for t in fixed.tensors]
