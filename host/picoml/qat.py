"""Quantization-aware training (`picoml train ... --qat`): the trained float model fine-tuned with int8 fake
quantization by the TensorFlow Model Optimization Toolkit; quantize.quantize then converts it to int8 .tflite as it
converts a model for post-training quantization (same representative windows, int8 input and output).

tfmot works on tf_keras (Keras 2) only, so the model is built again in tf_keras by the same builder that made the
Keras 3 model (`build(keras_module, batch_size)`), given the trained weights, and wrapped layer by layer: tfmot's
defaults where it has them (Dense), weights and activations quantized per tensor for the 1-D convolutions it has
no default for, the output quantized for pooling."""
from .errors import PicomlError


def _tfmot():
    try:
        import tf_keras
        import tensorflow_model_optimization as tfmot
    except ImportError as e:
        raise PicomlError("--qat needs tf-keras and tensorflow-model-optimization (installed by `make setup`): %s"
                          % e)
    return tf_keras, tfmot


def _annotate(tf_keras, tfmot):
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs, default_8bit_quantize_registry as registry)
    annotate = tfmot.quantization.keras.quantize_annotate_layer

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, tf_keras.layers.Conv1D):
            return annotate(fresh, registry.Default8BitQuantizeConfig(["kernel"], ["activation"], False))
        if isinstance(layer, (tf_keras.layers.MaxPooling1D, tf_keras.layers.GlobalAveragePooling1D,
                              tf_keras.layers.AveragePooling1D)):
            return annotate(fresh, configs.Default8BitOutputQuantizeConfig())
        return annotate(fresh)
    scope = {"Default8BitQuantizeConfig": registry.Default8BitQuantizeConfig,
             "Default8BitOutputQuantizeConfig": configs.Default8BitOutputQuantizeConfig}
    return clone, scope


def _quantized(build, weights, batch_size):
    """The model as tf_keras builds it, given `weights`, with fake quantization applied."""
    tf_keras, tfmot = _tfmot()
    plain = build(tf_keras, batch_size)
    plain.set_weights(weights)
    clone, scope = _annotate(tf_keras, tfmot)
    annotated = tf_keras.models.clone_model(plain, clone_function=clone)
    annotated.set_weights(weights)
    with tfmot.quantization.keras.quantize_scope(scope):
        return tfmot.quantization.keras.quantize_apply(annotated)


def train(build, float_model, x, y, epochs, seed, verbose=False):
    """`float_model` (built by `build`) after `epochs` of quantization-aware fine-tuning on (x, y): a tf_keras model
    with a batch of one, as the board runs it, for quantize.quantize to convert."""
    tf_keras, _ = _tfmot()
    tf_keras.utils.set_random_seed(seed)
    model = _quantized(build, float_model.get_weights(), None)
    model.compile(optimizer=tf_keras.optimizers.Adam(5e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=1 if verbose else 0, shuffle=False)
    single = _quantized(build, float_model.get_weights(), 1)
    single.set_weights(model.get_weights())
    return single
