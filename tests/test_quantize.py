"""`picoml convert model.keras --calibration samples.npy`: a float Keras model quantized to int8 with the samples,
then converted; the same bytes as quantizing in Python; the refusals."""
import numpy as np
import pytest

import genmodels
from picoml import format, reference
from picoml.cli import main
from picoml.convert import convert
from picoml.oracle import Oracle
from picoml.quantize import quantize


def _model():
    genmodels._import_tensorflow()
    keras = genmodels.keras
    keras.utils.set_random_seed(3)
    inp = keras.Input((16, 3), batch_size=1)
    x = keras.layers.Conv1D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))


def test_a_keras_model_is_quantized_with_the_samples(tmp_path, capsys):
    model = _model()
    model.save(tmp_path / "m.keras")
    samples = np.random.default_rng(0).normal(0, 1, (50, 16, 3)).astype(np.float32)
    np.save(tmp_path / "cal.npy", samples)
    assert main(["convert", str(tmp_path / "m.keras"), "--calibration", str(tmp_path / "cal.npy"),
                 "--labels", "a,b"]) == 0
    assert "wrote" in capsys.readouterr().out
    blob = (tmp_path / "m.pml").read_bytes()
    tflite = quantize(model, samples)
    expected = convert(tflite, "m.keras", ["a", "b"], measure_tflm=False)
    got = format.read(blob)
    assert [op.name for op in got.ops] == [op.name for op in expected.ops]
    x = np.random.default_rng(1).integers(-128, 128, (1, 16, 3)).astype(np.int8)
    assert np.array_equal(reference.run(got, [x])[0].reshape(-1), np.asarray(Oracle(tflite).run([x])[0]).reshape(-1))
    assert got.metadata["labels"] == ["a", "b"]


@pytest.mark.parametrize("args, message", [
    ([], "is a float model: give --calibration"),
    (["--calibration", "wrong.npy"], "the model's input takes [samples, 16, 3] numbers"),
    (["--calibration", "missing.npy"], "cannot read the calibration samples"),
])
def test_what_a_float_model_needs_is_said(tmp_path, capsys, args, message):
    _model().save(tmp_path / "m.keras")
    np.save(tmp_path / "wrong.npy", np.zeros((5, 3, 16), np.float32))
    args = [a if not a.endswith(".npy") else str(tmp_path / a) for a in args]
    assert main(["convert", str(tmp_path / "m.keras")] + args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.pml").exists()


def test_a_saved_model_folder_too(tmp_path):
    _model().export(str(tmp_path / "saved"))
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).normal(0, 1, (20, 16, 3)).astype(np.float32))
    assert main(["convert", str(tmp_path / "saved"), "--calibration", str(tmp_path / "cal.npy")]) == 0
    assert [op.name for op in format.read((tmp_path / "saved.pml").read_bytes()).ops][-1] == "SOFTMAX"


def test_a_converter_crash_is_an_error_not_a_dead_process(tmp_path, capsys):
    """TensorFlow 2.21's converter dies of a segmentation fault on Keras 3's LSTM layer; it runs in a child process,
    so `picoml convert` says so and exits 2 (or, with a TensorFlow that has it fixed, converts the LSTM: exit 0)."""
    genmodels._import_tensorflow()
    keras = genmodels.keras
    inp = keras.Input((8, 3), batch_size=1)
    keras.Model(inp, keras.layers.Dense(2)(keras.layers.LSTM(4)(inp))).save(tmp_path / "lstm.keras")
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).normal(0, 1, (20, 8, 3)).astype(np.float32))
    status = main(["convert", str(tmp_path / "lstm.keras"), "--calibration", str(tmp_path / "cal.npy")])
    err = capsys.readouterr().err
    assert status == 0 and (tmp_path / "lstm.pml").exists() or \
        status == 2 and "TensorFlow's converter crashed" in err and "tf_keras" in err


def test_non_finite_samples_or_weights_are_refused_before_tensorflow(tmp_path, capsys):
    """A NaN or an infinity among the calibration samples (TensorFlow's converter died of a segmentation fault on
    them) or in the trained weights is a clear error, in picoml train's path and in convert's."""
    from picoml.errors import PicomlError
    model = _model()
    samples = np.random.default_rng(0).normal(0, 1, (20, 16, 3)).astype(np.float32)
    samples[7, 2, 1] = np.nan
    with pytest.raises(PicomlError, match="representative sample 7 holds a value that is not a finite number"):
        quantize(model, samples)
    weights = model.get_weights()
    weights[0][0, 0, 0] = np.inf
    model.set_weights(weights)
    with pytest.raises(PicomlError, match="weights that are not finite numbers"):
        quantize(model, samples[:5])
    model = _model()
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "cal.npy", samples)
    assert main(["convert", str(tmp_path / "m.keras"), "--calibration", str(tmp_path / "cal.npy")]) == 2
    assert "representative sample 7 holds a value that is not a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("second", [(8,), (16, 6)])
def test_a_model_of_two_inputs_takes_each_inputs_samples(tmp_path, second):
    """Each array of the .npz calibrates its own input, in the model's input order. TensorFlow's calibration takes a
    list of samples in the order of the converted graph's inputs, which for this model (its inputs named as Keras
    names them after others were made; any name when the batch is left open, the batch-1 copy's inputs then being
    keras_tensor_9 and keras_tensor_10) is the reverse: the (16, 6) input was fed the (8,) samples ('RESHAPE failed
    to prepare'), or, of the same shape, each input calibrated silently on the other's samples."""
    genmodels._import_tensorflow()
    keras, layers = genmodels.keras, genmodels.layers
    keras.utils.set_random_seed(3)
    a, b = keras.Input((16, 6), name="input_layer_20"), keras.Input(second, name="input_layer_21")
    x = layers.Flatten()(layers.Conv1D(2, 3)(a))
    keras.Model([a, b], layers.Dense(3)(layers.Concatenate()([x, layers.Flatten()(b)]))).save(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cal.npz", rng.normal(0, 1, (20, 16, 6)).astype(np.float32),
             rng.normal(0, 100, (20,) + second).astype(np.float32))
    import tflite
    from picoml.quantize import quantize_file
    graph = tflite.Model.GetRootAsModel(quantize_file(tmp_path / "m.keras", tmp_path / "cal.npz"), 0).Subgraphs(0)
    scales = {}     # by input name (the converted file's inputs are in this model's order reversed)
    for i in range(graph.InputsLength()):
        t = graph.Tensors(graph.Inputs(i))
        scales[t.Name().decode().split("_input_layer_")[-1][:2]] = t.Quantization().Scale(0)
    assert scales["21"] > 20 * scales["20"]     # each quantized for its own samples' range


def test_an_integer_input_is_calibrated_with_integers(tmp_path, capsys):
    """A model of an integer input (Keras's Embedding of token indices) was given its calibration samples as float32,
    which TensorFlow refused ('Got value of type FLOAT32 but expected type INT32'); they go in the input's dtype, and
    picoml then says what of the model does not convert."""
    genmodels._import_tensorflow()
    keras, layers = genmodels.keras, genmodels.layers
    inp = keras.Input((10,), dtype="int32")
    x = layers.GlobalAveragePooling1D()(layers.Embedding(20, 8)(inp))
    keras.Model(inp, layers.Dense(3)(x)).save(tmp_path / "m.keras")
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).integers(0, 20, (20, 10)).astype(np.int32))
    assert main(["convert", str(tmp_path / "m.keras"), "--calibration", str(tmp_path / "cal.npy")]) == 2
    err = capsys.readouterr().err
    assert "TensorFlow could not quantize" not in err and "Keras's Embedding" in err, err


def test_a_lambda_layer_says_how_to_convert_the_model(tmp_path, capsys):
    """Keras refuses to load a Lambda layer's Python code in its safe mode, advising safe_mode=False, which picoml
    gives no way to pass: picoml says what to do instead, in one line."""
    genmodels._import_tensorflow()
    keras = genmodels.keras
    inp = keras.Input((16, 3))
    keras.Model(inp, keras.layers.Lambda(lambda t: genmodels.tf.reduce_mean(t, axis=1))(inp)).save(tmp_path / "m.keras")
    np.save(tmp_path / "cal.npy", np.zeros((5, 16, 3), np.float32))
    assert main(["convert", str(tmp_path / "m.keras"), "--calibration", str(tmp_path / "cal.npy")]) == 2
    err = capsys.readouterr().err
    assert "Lambda layer" in err and "give picoml the .tflite" in err and "safe_mode=False" not in err, err
    assert len(err.strip().splitlines()) == 1, err
