"""Post-training int8 quantization of a float model with TensorFlow Lite's converter and a representative set: for
`picoml train` and for `picoml convert model.keras --calibration samples.npy`."""
import os
import subprocess
import sys
import tempfile

import numpy as np

from .errors import PicomlError

FLOAT_MODEL_SUFFIXES = (".keras", ".h5")


def quantize(model, representative):
    """int8 .tflite bytes (int8 inputs and outputs) of a Keras model, calibrated on `representative`: per sample
    the model's input without the batch axis (a list of one per input for a model of several inputs)."""
    import tensorflow as tf
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise PicomlError("training gave weights that are not finite numbers (NaN or infinity): the data may hold "
                          "extreme values")
    return _convert(tf.lite.TFLiteConverter.from_keras_model(model), representative)


def _convert(converter, representative, dtypes=None, names=None):
    """(TensorFlow's converter dies of a segmentation fault on a NaN or an infinity among the samples: they are
    refused first.) dtypes: per input the dtype its samples are given in (float32 by default; an integer input,
    such as an Embedding's indices, takes integers). names: per input its name in the converter's signature, for
    a model of several inputs: TensorFlow's calibration takes a list of samples in the order of the converted
    graph's input tensors, which is not always the model's (a Keras model's inputs come out swapped for some
    names), and a dict by those names."""
    import tensorflow as tf
    representative = list(representative)
    for k, sample in enumerate(representative):
        if not all(np.isfinite(np.asarray(x, np.float64)).all() for x in
                   (sample if isinstance(sample, (list, tuple)) else [sample])):
            raise PicomlError("representative sample %d holds a value that is not a finite number (NaN or "
                              "infinity)" % k)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    dtypes = list(dtypes or [])

    def samples():
        for sample in representative:
            arrays = [np.asarray(x, dtypes[i] if i < len(dtypes) else np.float32)[None]
                      for i, x in enumerate(sample if isinstance(sample, (list, tuple)) else [sample])]
            yield dict(zip(names, arrays)) if names and len(names) > 1 else arrays
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def is_float_model(path):
    """A Keras model file or a SavedModel folder: what `picoml convert` quantizes before converting."""
    return str(path).lower().endswith(FLOAT_MODEL_SUFFIXES) or os.path.isdir(path)


# TensorFlow 2.21's converter dies of a segmentation fault on Keras 3's recurrent layers not unrolled (LSTM, GRU,
# SimpleRNN, ConvLSTM: the conversion audit of session 27; not on tf_keras's)
CRASHED = "TensorFlow's converter crashed (signal %d) quantizing %s. TensorFlow 2.21 does on Keras 3's recurrent " \
          "layers (LSTM, GRU, SimpleRNN, ConvLSTM): build the model with tf_keras (Keras 2, TF_USE_LEGACY_KERAS=1) " \
          "and quantize it there, or unroll the layers (unroll=True), then give picoml the .tflite"


def quantize_file(path, calibration):
    """int8 .tflite bytes of the Keras model file or SavedModel folder `path`, calibrated on the samples of
    `calibration` (.npy: [samples, ...the input's shape] for a model of one input; .npz: one such array per input,
    in the model's input order). TensorFlow runs in a child process (this module run as a program): its converter
    crashes on some models (CRASHED), which must not take picoml down with it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "quantized.tflite")
        child = subprocess.run([sys.executable, "-m", "picoml.quantize", str(path), str(calibration), out],
                               capture_output=True, text=True)
        if child.returncode == 0:
            with open(out, "rb") as f:
                return f.read()
    if child.returncode < 0:
        raise PicomlError(CRASHED % (-child.returncode, path))
    said = [line[len("picoml: "):] for line in child.stderr.splitlines() if line.startswith("picoml: ")]
    raise PicomlError(said[-1] if said else "quantizing %s failed:\n%s" % (path, child.stderr[-2000:]))


def _quantize_file_here(path, calibration):
    import tensorflow as tf
    from tensorflow import keras
    if os.path.isdir(path):
        converter = tf.lite.TFLiteConverter.from_saved_model(path)
        specs = tf.saved_model.load(path).signatures["serving_default"].structured_input_signature[1]
        names = list(specs)
        shapes, dtypes = [tuple(specs[n].shape) for n in names], [specs[n].dtype.as_numpy_dtype for n in names]
    else:
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as e:      # Keras raises what its file reader meets
            # (Keras's own advice, safe_mode=False, is no option of picoml's)
            if "safe_mode" in str(e) and "Lambda" in str(e):
                raise PicomlError("cannot load the Keras model %s: it holds a Lambda layer of Python code, which "
                                  "Keras loads only outside its safe mode, and picoml loads models in it: quantize "
                                  "the model in Python (tf.lite.TFLiteConverter with a representative dataset, int8 "
                                  "input and output) and give picoml the .tflite" % path)
            raise PicomlError("cannot load the Keras model %s: %s" % (path, e))
        converter = _batch_one_converter(model)
        shapes, dtypes = [tuple(t.shape) for t in model.inputs], [np.dtype(t.dtype) for t in model.inputs]
        names = [t.name for t in model.inputs]
    return _convert(converter, _calibration_samples(calibration, shapes), dtypes, names)


def _batch_one_converter(model):
    """TensorFlow's converter for a Keras model, its inputs' batch size fixed at 1 where the model leaves it open
    (keras.Input(shape=...)): the converter then folds the shape arithmetic such a model computes at run time
    (a dilated convolution: 3 ops instead of 30) rather than leaving it to picoml's importer."""
    import tensorflow as tf
    from tensorflow import keras
    if all(t.shape[0] is not None for t in model.inputs):
        return tf.lite.TFLiteConverter.from_keras_model(model)
    # (the new inputs keep the model's input names: the signature's, by which _convert gives the samples)
    inputs = [keras.Input(shape=tuple(t.shape[1:]), batch_size=1, dtype=t.dtype, name=t.name) for t in model.inputs]
    fixed = keras.Model(inputs, model(inputs if len(inputs) > 1 else inputs[0]))     # the same layers and weights
    return tf.lite.TFLiteConverter.from_keras_model(fixed)


def _calibration_samples(path, shapes):
    """The representative samples of `path` for inputs of `shapes` (with their batch axis), checked."""
    try:
        loaded = np.load(path)
    except (OSError, ValueError) as e:
        raise PicomlError("cannot read the calibration samples %s (a .npy or .npz file): %s" % (path, e))
    arrays = [loaded[k] for k in loaded.files] if isinstance(loaded, np.lib.npyio.NpzFile) else [loaded]
    if len(arrays) != len(shapes):
        raise PicomlError("%s holds %d arrays; the model has %d inputs (give an .npz of one array per input)"
                          % (path, len(arrays), len(shapes)))
    for a, shape in zip(arrays, shapes):
        want = shape[1:]
        if a.ndim != len(want) + 1 or any(w is not None and w != d for w, d in zip(want, a.shape[1:])) or \
                not len(a) or not np.issubdtype(a.dtype, np.number):
            raise PicomlError("calibration samples of shape %s: the model's input takes [samples, %s] numbers"
                              % (list(a.shape), ", ".join("any" if w is None else str(w) for w in want)))
    return [[a[i] for a in arrays] for i in range(min(len(a) for a in arrays))]


if __name__ == "__main__":     # quantize_file's child: MODEL CALIBRATION OUT.tflite
    try:
        data = _quantize_file_here(sys.argv[1], sys.argv[2])
    except PicomlError as e:
        sys.stderr.write("picoml: %s\n" % e)
        sys.exit(2)
    except Exception as e:      # TensorFlow's converter raises its own errors, many lines long
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        sys.stderr.write("picoml: TensorFlow could not quantize %s: %s\n" % (sys.argv[1], last))
        sys.exit(2)
    with open(sys.argv[3], "wb") as f:
        f.write(data)
