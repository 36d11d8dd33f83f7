"""Small Keras models converted to fully-int8 TFLite, for op-coverage tests.

Every model has a fixed batch size of 1 (except ``conv1d_dynamic_batch``,
whose tensors are still batch 1 in the file) and a single input. Weights are
random but deterministic (seeded per model). Models whose name ends in ``_float_io``
keep float32 input/output, so QUANTIZE / DEQUANTIZE appear at the edges.

TensorFlow is imported when a model is first built, not when this module is imported: the names in MODELS and
the models already in the cache need none.

Usage:
    python tests/genmodels.py OUT_DIR   # build all, print ops and sizes
"""

import contextlib
import io
import os
import pathlib
import sys
import time
import warnings

import numpy as np

tf = keras = layers = ops = None    # set by _import_tensorflow()


def _import_tensorflow():
    global tf, keras, layers, ops
    if tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow
        import keras as keras_
        tf, keras, layers, ops = tensorflow, keras_, keras_.layers, keras_.ops

SEED = 1234
N_REPRESENTATIVE = 30

# Builtin ops the models are meant to produce; main() flags anything else.
EXPECTED_OPS = {
    "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
    "MAX_POOL_2D", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "SOFTMAX", "ADD", "MUL",
    "CONCATENATION", "LOGISTIC", "TANH", "RELU", "RELU6", "LEAKY_RELU",
    "HARD_SWISH", "MEAN", "PAD", "QUANTIZE", "DEQUANTIZE", "REDUCE_MAX", "SUB",
    "SPLIT", "SPLIT_V", "PACK", "UNPACK", "GATHER", "TRANSPOSE", "SUM", "TILE", "RESIZE_NEAREST_NEIGHBOR",
    "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "PRELU", "ABS", "RSQRT", "TRANSPOSE_CONV",
    "MIRROR_PAD", "ELU", "SLICE", "REDUCE_MIN", "BATCH_MATMUL", "RESIZE_BILINEAR", "SQUARED_DIFFERENCE", "NEG",
}


def _input(shape):
    return keras.Input(shape=shape, batch_size=1)


def _randomize_bias_and_batchnorm(model, seed):
    """Non-zero biases (zero biases are dropped by the converter) and
    non-trivial BatchNormalization gamma/beta/mean/variance."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(rng.uniform(-0.5, 0.5, bias.shape).astype(np.float32))
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, n).astype(np.float32),   # gamma
                rng.uniform(-0.5, 0.5, n).astype(np.float32),  # beta
                rng.uniform(-0.5, 0.5, n).astype(np.float32),  # moving mean
                rng.uniform(0.5, 2.0, n).astype(np.float32),   # moving var
            ])
    return model


# --------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------

def dense_fused_acts():
    x = inp = _input((64,))
    x = layers.Dense(16, activation="relu")(x)
    x = layers.Dense(12, activation="relu6")(x)
    x = layers.Dense(10, activation="tanh")(x)
    x = layers.Dense(8, activation="sigmoid")(x)
    x = layers.Dense(6, use_bias=False)(x)
    return keras.Model(inp, x)


def dense_separate_acts():
    x = inp = _input((32,))
    x = layers.Dense(16)(x)
    x = layers.ReLU()(x)
    x = layers.Dense(12, use_bias=False)(x)
    x = layers.Activation("tanh")(x)
    x = layers.Dense(10)(x)
    x = layers.Activation("sigmoid")(x)
    x = layers.Dense(8, use_bias=False, activation="relu")(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, x)


def dense_3d():
    """Dense on a (1, 4, 10) tensor -> FULLY_CONNECTED with keep_num_dims."""
    x = inp = _input((4, 10))
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dense(6, use_bias=False)(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Conv1D
# --------------------------------------------------------------------------

def conv1d_variants():
    x = inp = _input((32, 4))
    x = layers.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = layers.Conv1D(6, 3, padding="valid", strides=2)(x)
    x = layers.Conv1D(5, 3, padding="same", dilation_rate=2, activation="relu6")(x)
    x = layers.Conv1D(7, 2, padding="valid", use_bias=False)(x)
    return keras.Model(inp, x)


def imu_gap():
    x = inp = _input((128, 3))
    x = layers.Conv1D(8, 5, strides=2, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(16, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling1D(2)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.Dense(6, activation="softmax")(x)
    return keras.Model(inp, x)


def imu6_gap():
    """imu_gap on six channels (accelerometer + gyroscope frames, as the IMU drivers give them)."""
    x = inp = _input((128, 6))
    x = layers.Conv1D(8, 5, strides=2, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(16, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, x)


def imu_global_max():
    """GlobalMaxPooling1D: REDUCE_MAX over the 128 time steps (one MAX_POOL_2D window of 128 x 1)."""
    x = inp = _input((128, 6))
    x = layers.Conv1D(8, 5, padding="same", activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, x)


def reduce_max_variants():
    """REDUCE_MAX over H and W (GlobalMaxPooling2D, keep_dims), H only, W only (keep_dims), the channels, and H
    with the channels (two runs of axes: two pools), each made one output by a Dense and summed."""
    x = inp = _input((8, 6, 3))
    x = layers.Conv2D(4, 3, padding="same")(x)
    branches = [
        layers.GlobalMaxPooling2D(keepdims=True)(x),
        layers.Lambda(lambda t: ops.max(t, axis=1))(x),
        layers.Lambda(lambda t: ops.max(t, axis=2, keepdims=True))(x),
        layers.Lambda(lambda t: ops.max(t, axis=-1))(x),
        layers.Lambda(lambda t: ops.max(t, axis=(1, 3)))(x),
    ]
    out = None
    for b in branches:
        b = layers.Dense(6)(layers.Flatten()(b))
        out = b if out is None else layers.Add()([out, b])
    return keras.Model(inp, out)


def imu_flatten():
    x = inp = _input((128, 3))
    x = layers.Conv1D(8, 5, strides=2, activation="relu")(x)
    x = layers.Conv1D(8, 3, strides=2, activation="relu")(x)
    x = layers.AveragePooling1D(3, strides=2, padding="same")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12, activation="relu")(x)
    x = layers.Dense(4)(x)
    x = layers.Softmax()(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Conv2D
# --------------------------------------------------------------------------

def conv2d_variants():
    x = inp = _input((16, 16, 4))
    x = layers.Conv2D(5, 3, padding="valid", activation="relu")(x)
    x = layers.Conv2D(7, 3, padding="same", strides=(2, 2), activation="relu6")(x)
    x = layers.Conv2D(3, (5, 3), padding="same", strides=(1, 2), use_bias=False)(x)
    x = layers.Conv2D(6, 1)(x)
    return keras.Model(inp, x)


def conv2d_dilated():
    x = inp = _input((16, 16, 3))
    x = layers.Conv2D(5, 3, padding="same", dilation_rate=(2, 2), activation="relu")(x)
    x = layers.Conv2D(7, 3, padding="valid", dilation_rate=(2, 2))(x)
    x = layers.Conv2D(4, (3, 5), padding="valid", strides=(2, 1), use_bias=False,
                      activation="relu6")(x)
    return keras.Model(inp, x)


def conv2d_bn_folded():
    x = inp = _input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(5, 3, strides=2)(x)
    x = layers.BatchNormalization()(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Depthwise / separable
# --------------------------------------------------------------------------

def depthwise_variants():
    x = inp = _input((16, 16, 4))
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.DepthwiseConv2D(3, padding="valid", depth_multiplier=2)(x)
    x = layers.DepthwiseConv2D(3, padding="same", strides=(2, 2), activation="relu6")(x)
    x = layers.DepthwiseConv2D((3, 5), padding="valid", strides=(1, 2),
                               use_bias=False)(x)
    return keras.Model(inp, x)


def depthwise_dilated():
    x = inp = _input((16, 16, 3))
    x = layers.DepthwiseConv2D(3, padding="same", dilation_rate=(2, 2))(x)
    x = layers.DepthwiseConv2D(3, padding="valid", dilation_rate=(2, 2),
                               depth_multiplier=2, activation="relu")(x)
    return keras.Model(inp, x)


def depthwise_one_channel():
    """One input channel, as micro_speech's first layer: picoml runs these as CONV_2D (ops/conv.py)."""
    x = inp = _input((20, 16, 1))
    x = layers.DepthwiseConv2D((5, 4), padding="same", strides=(2, 2), depth_multiplier=8, activation="relu")(x)
    x = layers.Conv2D(1, 1)(x)
    x = layers.DepthwiseConv2D(3, padding="valid", dilation_rate=(2, 2), depth_multiplier=3, use_bias=False)(x)
    return keras.Model(inp, x)


def separable_conv():
    x = inp = _input((16, 16, 4))
    x = layers.SeparableConv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.SeparableConv2D(5, 3, strides=2, depth_multiplier=2)(x)
    return keras.Model(inp, x)


def behind_chain():
    """Depthwise and 1x1 convolutions the planner puts behind their inputs (planner.behind_gap), in the geometries
    whose kernels differ: 3x3 (the Cortex-M4's rings, the M0's band), 5x5 and dilated (3 rows back), 1x3 (1 row
    back), channels in groups of 4 and not (6: the kernels' remaining channels), 1x1 over 12 channels."""
    x = inp = _input((20, 16, 5))
    x = layers.Conv2D(12, 3, padding="same", activation="relu")(x)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Conv2D(12, 1)(x)
    x = layers.DepthwiseConv2D(5, padding="same")(x)
    x = layers.DepthwiseConv2D(3, padding="same", dilation_rate=(2, 2), activation="relu6")(x)
    x = layers.Conv2D(12, 1, activation="relu")(x)
    x = layers.DepthwiseConv2D((1, 3), padding="same")(x)
    x = layers.Conv2D(6, 1)(x)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(4)(x))


# --------------------------------------------------------------------------
# Pooling / padding / reshape
# --------------------------------------------------------------------------

def pool2d_variants():
    x = inp = _input((16, 16, 4))
    x = layers.MaxPooling2D((2, 3), strides=(1, 2), padding="valid")(x)
    x = layers.AveragePooling2D((3, 2), strides=(2, 1), padding="same")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.AveragePooling2D(2, padding="valid")(x)
    return keras.Model(inp, x)


def pad_gap():
    x = inp = _input((8, 8, 3))
    x = layers.ZeroPadding2D(((1, 2), (2, 1)))(x)
    x = layers.Conv2D(6, 3, activation="relu")(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(4)(x)
    return keras.Model(inp, x)


def reshape_flatten():
    x = inp = _input((8, 8, 3))
    x = layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = layers.Reshape((16, 4))(x)
    x = layers.Dense(5, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6)(x)
    return keras.Model(inp, x)


def squeeze():
    """A (1, 8, 1, C) conv output squeezed on axis 2. With static shapes the
    converter turns SQUEEZE into RESHAPE; kept as a RESHAPE case."""
    x = inp = _input((8, 1, 3))
    x = layers.Conv2D(5, (3, 1), padding="same")(x)
    x = layers.Lambda(lambda t: ops.squeeze(t, axis=2))(x)
    x = layers.Dense(4)(x)
    return keras.Model(inp, x)


def data_movement():
    """The ops lowered to others, on a conv's output (1, 4, 5, 6): SPLIT and SPLIT_V (tf.split), PACK (tf.stack),
    GATHER of scattered and evenly spaced indices, TRANSPOSE (two output axes taken an index at a time), SUM."""
    x = inp = _input((4, 5, 3))
    x = layers.Conv2D(6, 3, padding="same")(x)
    a, b = layers.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)                     # SPLIT
    c, d, e = layers.Lambda(lambda t: tf.split(t, [1, 3, 1], axis=2))(a)           # SPLIT_V
    c, e = layers.Reshape((4, 3))(c), layers.Reshape((4, 3))(e)
    p = layers.Lambda(lambda ts: tf.stack(ts, axis=1))([c, e, c])                  # PACK: (1, 3, 4, 3)
    g = layers.Lambda(lambda t: tf.gather(t, [4, 0, 0, 2, 3, 1], axis=3))(x)      # GATHER: (1, 4, 5, 6)
    h = layers.Lambda(lambda t: tf.gather(t, [1, 3], axis=1))(b)                   # evenly spaced: (1, 2, 5, 3)
    t = layers.Lambda(lambda t: tf.transpose(t, (0, 3, 2, 1)))(g)                 # TRANSPOSE: (1, 6, 5, 4)
    t = layers.Conv2D(3, 1)(t)
    d = layers.Permute((2, 1, 3))(d)                                               # (1, 3, 4, 3)
    s = layers.Lambda(lambda t: tf.reduce_sum(t, axis=(1, 2)))(x)                 # SUM: (1, 6)
    y = layers.Concatenate(axis=1)([layers.Flatten()(v) for v in (p, h, t, d, s)])
    return keras.Model(inp, layers.Dense(8)(y))


def resize_nearest():
    """RESIZE_NEAREST_NEIGHBOR (tf.image.resize, as tf.keras 2's UpSampling2D wrote it): to any size (GATHERs of
    rows and columns) and a whole upscale (a TILE of views)."""
    x = inp = _input((4, 5, 3))
    x = layers.Conv2D(4, 3, padding="same")(x)
    r = layers.Lambda(lambda t: tf.image.resize(t, (7, 9), method="nearest"))(x)
    u = layers.Lambda(lambda t: tf.image.resize(t, (8, 15), method="nearest"))(x)
    y = layers.Concatenate(axis=1)([layers.Flatten()(r), layers.Flatten()(u)])
    return keras.Model(inp, layers.Dense(5)(y))


def depth_to_space():
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH (tf.nn, blocks of 2): each one TRANSPOSE of views."""
    x = inp = _input((3, 4, 4))
    x = layers.Conv2D(8, 3, padding="same")(x)
    x = layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)                     # (1, 6, 8, 2)
    x = layers.Conv2D(3, 3, padding="same")(x)
    x = layers.Lambda(lambda t: tf.nn.space_to_depth(t, 2))(x)                     # (1, 3, 4, 12)
    return keras.Model(inp, layers.Dense(5)(layers.Flatten()(x)))


def prelu():
    """Keras PReLU, alpha per channel (shared over the image) and per position: PRELU, lowered to LUTs, MUL and
    ADD."""
    x = inp = _input((4, 5, 3))
    x = layers.Conv2D(6, 3, padding="same")(x)
    x = layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.8))(x)
    x = layers.Conv2D(4, 1)(x)
    x = layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.0, 0.3))(x)
    return keras.Model(inp, layers.Dense(5)(layers.Flatten()(x)))


def abs_rsqrt():
    """ABS and RSQRT (of a positive value), each a LUT."""
    x = inp = _input((12,))
    x = layers.Dense(10)(x)
    x = layers.Lambda(lambda t: tf.abs(t))(x)
    x = layers.Lambda(lambda t: tf.math.rsqrt(t + 0.5))(x)
    return keras.Model(inp, layers.Dense(4)(x))


def conv_transpose():
    """A small convolutional autoencoder: Conv2DTranspose (TRANSPOSE_CONV: a CONV_2D per phase of the stride,
    interleaved) with stride 2 and SAME padding and a fused ReLU, with stride (1, 2) and VALID padding, and a
    Conv1DTranspose (EXPAND_DIMS around it)."""
    x = inp = _input((8, 6, 2))
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)        # (4, 3, 4)
    x = layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(x)   # (8, 6, 3)
    x = layers.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="valid")(x)          # (9, 13, 2)
    x = layers.Reshape((9, 26))(x)
    x = layers.Conv1DTranspose(3, 3, strides=2, padding="same")(x)                     # (18, 3)
    return keras.Model(inp, x)


def mirror_slice_elu_min():
    """tf.pad REFLECT and SYMMETRIC (MIRROR_PAD: slices of stride -1 and CONCATENATIONs), ELU (a LUT), tf.slice
    (SLICE: a STRIDED_SLICE) and tf.reduce_min (REDUCE_MIN: MAX_POOL_2D between LUTs)."""
    x = inp = _input((12, 4))
    x = layers.Conv1D(6, 3)(x)                                                                 # (10, 6)
    x = layers.Lambda(lambda t: tf.pad(t, [[0, 0], [2, 1], [0, 0]], "REFLECT"))(x)             # (13, 6)
    x = layers.Conv1D(5, 3, activation="elu")(x)                                               # (11, 5)
    x = layers.Lambda(lambda t: tf.slice(t, [0, 1, 1], [1, 8, 4]))(x)                         # (8, 4)
    x = layers.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 2], [1, 0]], "SYMMETRIC"))(x)          # (11, 5)
    x = layers.Lambda(lambda t: tf.reduce_min(t, axis=1))(x)                                   # (5,)
    return keras.Model(inp, layers.Dense(3)(x))


def layer_norm():
    """Keras's LayerNormalization after a residual ADD, as in a transformer block (MEAN, SQUARED_DIFFERENCE, RSQRT,
    MUL, and a float NEG island), and after a Dense."""
    x = inp = _input((6, 8))
    x = layers.LayerNormalization()(layers.Add()([x, layers.Dense(8)(x)]))
    x = layers.LayerNormalization()(layers.Dense(8, activation="relu")(x))
    return keras.Model(inp, layers.Dense(3)(layers.Flatten()(x)))


def grouped_conv():
    """Conv2D and Conv1D with groups (the filter a G-th of the input's depth): per group a STRIDED_SLICE of the
    input's channels and a CONV_2D, joined by a CONCATENATION."""
    x = inp = _input((6, 6, 4))
    x = layers.Conv2D(6, 3, groups=2, padding="same", activation="relu")(x)
    x = layers.Reshape((36, 6))(x)
    x = layers.Conv1D(6, 3, groups=3, strides=2)(x)
    return keras.Model(inp, layers.Dense(3)(layers.Flatten()(x)))


def space_to_batch():
    """A dilated convolution written out as tf.nn.atrous_conv2d and older converters write it (SPACE_TO_BATCH_ND with
    padding, a VALID CONV_2D, BATCH_TO_SPACE_ND with crops; a RELU between keeps this converter from fusing them)
    and tf.space_to_batch_nd of a sequence (3-D) without padding; a tf.broadcast_to (BROADCAST_TO: a TILE); a
    tf.gather_nd of rows (GATHER_ND: a GATHER)."""
    x = inp = _input((9, 7, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    rng = np.random.default_rng(7)
    filters = tf.constant(rng.normal(0, 0.3, (3, 3, 4, 5)).astype(np.float32))
    x = layers.Lambda(lambda t: tf.space_to_batch_nd(t, [2, 2], [[1, 2], [1, 2]]))(x)          # (4, 6, 5, 4)
    x = layers.Lambda(lambda t: tf.nn.relu6(tf.nn.conv2d(tf.nn.relu(t), filters, 1, "VALID")))(x)  # (4, 4, 3, 5)
    x = layers.Lambda(lambda t: tf.batch_to_space(t, [2, 2], [[0, 1], [1, 0]]))(x)             # (7, 5, 5)
    x = layers.Reshape((35, 5))(x)
    x = layers.Lambda(lambda t: tf.space_to_batch_nd(t, [5], [[0, 0]]))(x)                      # (5, 7, 5)
    x = layers.Lambda(lambda t: tf.reduce_max(t, axis=0, keepdims=True))(x)                     # (1, 7, 5)
    y = layers.Lambda(lambda t: tf.broadcast_to(tf.reduce_max(t, axis=1, keepdims=True), [1, 7, 5]))(x)
    # a convolution keeps the converter from folding the BROADCAST_TO into the ADD; an ADD, not a CONCATENATION,
    # which TFLite rescales in float for inputs of two scales
    x = layers.Add()([x, layers.Conv1D(5, 1)(y)])
    x = layers.Lambda(lambda t: tf.gather_nd(t, [[0, 1], [0, 4], [0, 4], [0, 6]]))(x)             # (4, 5)
    return keras.Model(inp, layers.Dense(3)(x))


def arg_max():
    """tf.argmax and tf.argmin with int32 indices (ARG_MAX, min 0 and 1) at the end of a model, along the last axis
    and a middle one, the two joined (an int32 CONCATENATION)."""
    x = inp = _input((6, 8))
    x = layers.Conv1D(5, 3, activation="relu")(x)                                             # (4, 5): ties at 0
    best = layers.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(x)            # (4,)
    worst = layers.Lambda(lambda t: tf.argmin(t[:, :, :4], axis=1, output_type=tf.int32))(x)  # (4,)
    return keras.Model(inp, layers.Concatenate()([best, worst]))


def l2_norm():
    """tf.math.l2_normalize (L2_NORMALIZATION) of an embedding, as a metric-learning or speaker model ends, and of
    each step of a sequence."""
    x = inp = _input((6, 4))
    x = layers.Conv1D(8, 3, activation="relu")(x)                                             # (4, 8)
    x = layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(x)
    x = layers.Dense(6)(layers.Flatten()(x))
    return keras.Model(inp, layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(x))


def log_softmax():
    """tf.nn.log_softmax (LOG_SOFTMAX) at the end of a classifier, as a model trained with a log-likelihood loss
    ends, and over each step of a sequence."""
    x = inp = _input((8, 5))
    x = layers.Conv1D(6, 3, activation="relu")(x)                                             # (6, 6)
    x = layers.Lambda(lambda t: tf.nn.log_softmax(tf.reverse(t, [1]), axis=-1))(x)           # REVERSE_V2 too
    x = layers.Dense(4)(layers.Flatten()(x))
    return keras.Model(inp, layers.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1))(x))


def softsign():
    """Keras's softsign, x / (|x| + 1) (ABS, ADD, int8 DIV), and a division of two activations."""
    x = inp = _input((6, 4))
    x = layers.Conv1D(6, 3)(x)                                                                # (4, 6)
    x = layers.Activation("softsign")(x)
    y = layers.Dense(6, activation="relu")(x)
    x = layers.Lambda(lambda t: t[0] / (t[1] + 1.0))([x, y])
    return keras.Model(inp, layers.Dense(3)(layers.Flatten()(x)))


def resize_bilinear():
    """Keras's UpSampling2D with bilinear interpolation (RESIZE_BILINEAR, half pixel centers) and tf.image.resize to
    another size, up in one axis and down in the other."""
    x = inp = _input((5, 6, 3))
    x = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)                                  # (10, 12)
    x = layers.Lambda(lambda t: tf.image.resize(t, (13, 7)))(x)
    return keras.Model(inp, layers.Conv2D(2, 3)(x))


def attention():
    """Keras's MultiHeadAttention (2 heads), Attention and Dot over a sequence of 6 steps: BATCH_MATMUL of two
    activations (adj_y, and plain), with TRANSPOSE, SOFTMAX and FULLY_CONNECTED around them."""
    x = inp = _input((6, 4))
    x = layers.Dense(8)(x)
    a = layers.MultiHeadAttention(2, 4)(x, x)
    b = layers.Attention()([x, x])
    c = layers.Dot(axes=(2, 2))([a, b])                                                        # (6, 6)
    return keras.Model(inp, layers.Dense(3)(layers.Flatten()(c)))


def transpose_wide():
    """TRANSPOSEs of (1, 35, 33): 33 pieces, joined by CONCATENATIONs of at most 31 inputs; of a 4-D tensor whose
    axes of one entry move (one STRIDED_SLICE)."""
    x = inp = _input((35, 4))
    x = layers.Dense(33)(x)
    x = layers.Permute((2, 1))(x)                                                  # (1, 33, 35)
    x = layers.Dense(6)(x)
    x = layers.Lambda(lambda t: tf.reshape(t, (1, 33, 1, 6)))(x)
    x = layers.Lambda(lambda t: tf.transpose(t, (2, 1, 0, 3)))(x)                 # (1, 33, 1, 6): the same bytes
    return keras.Model(inp, layers.Dense(4)(layers.Flatten()(x)))


def gru():
    """A recurrent IMU classifier: Keras's GRU unrolled over 2 steps of 6 channels (UNPACK of the steps, SPLIT of
    the gates, FULLY_CONNECTED, LOGISTIC, TANH, MUL, SUB, ADD), then a Dense layer. Each step is some 20 ops of its
    own (constants and tables): 3 steps do not load in the emulated M0's 180 KB heap with the viper backend."""
    x = inp = _input((2, 6))
    x = layers.GRU(8, unroll=True)(x)
    return keras.Model(inp, layers.Dense(4)(x))


def lstm():
    """Keras LSTM unrolled over 2 steps with its sequence returned (UNPACK, SPLIT of the four gates, PACK of the
    outputs), then SimpleRNN over it: recurrent models as FULLY_CONNECTED, LUTs, MUL and ADD."""
    x = inp = _input((2, 5))
    x = layers.LSTM(6, unroll=True, return_sequences=True)(x)
    x = layers.SimpleRNN(4, unroll=True)(x)
    return keras.Model(inp, layers.Dense(3)(x))


def lstm_sequence():
    """Keras's LSTM layer as TensorFlow's converter fuses it (UNIDIRECTIONAL_SEQUENCE_LSTM: the .pml op LSTM,
    TFLite Micro's integer LSTM): a Bidirectional LSTM over 12 steps of 6 IMU channels (the backward one between
    two REVERSE_V2s, whose output the converter quantizes unlike its input), its sequences joined, then an LSTM's
    last hidden state into a Dense layer. Built with tf_keras (Keras 2): TensorFlow 2.21's converter crashes on
    Keras 3's LSTM."""
    import tf_keras
    x = inp = tf_keras.Input(shape=(12, 6), batch_size=1)
    x = tf_keras.layers.Bidirectional(tf_keras.layers.LSTM(10, return_sequences=True))(x)
    x = tf_keras.layers.LSTM(8)(x)
    return tf_keras.Model(inp, tf_keras.layers.Dense(4)(x))


def thresholds():
    """Comparisons with constants into SELECT_V2 (ops/select.py: one LUT each): Keras's ReLU(threshold=...)
    (GREATER, SELECT_V2) and a hard shrink, where(-0.5 < x < 0.5, 0, x) (GREATER, LESS, LOGICAL_AND, SELECT_V2)."""
    x = inp = _input((6, 5))
    x = layers.ReLU(threshold=0.2)(layers.Dense(8)(x))
    x = layers.Lambda(lambda t: ops.where(ops.logical_and(t > -0.5, t < 0.5), 0.0, t))(layers.Dense(8)(x))
    return keras.Model(inp, layers.Dense(3)(layers.Flatten()(x)))


def group_norm():
    """Keras 3's GroupNormalization: its [N, H, W, groups, C / groups] view (5-D, folded to 4 by rank_fold.py), a
    MEAN over it, the variance through float functions of one value, RSQRT, MUL and ADD."""
    x = inp = _input((6, 6, 4))
    x = layers.Conv2D(8, 3, padding="same")(x)
    x = layers.GroupNormalization(groups=2)(x)
    return keras.Model(inp, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))


def upsampling():
    """Keras UpSampling2D (nearest): RESHAPEs to 5-D around TILEs, which TFLite Micro does not run (5-D tensors)
    and picoml runs as CONCATENATIONs of 4-D views. Nothing but moved bytes, so TFLite's own kernels are an exact
    oracle (test_generated.py)."""
    x = inp = _input((4, 5, 3))
    x = layers.UpSampling2D(2)(x)
    x = layers.UpSampling2D((1, 3))(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Element-wise: Add / Multiply / Concatenate
# --------------------------------------------------------------------------

def residual_add():
    x = inp = _input((8, 8, 4))
    x = layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    a = layers.Conv2D(6, 3, padding="same")(x)
    b = layers.Conv2D(6, 1)(x)
    x = layers.Add()([a, b])
    skip = x
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Add()([x, skip])
    x = layers.ReLU()(x)          # fused into the ADD
    return keras.Model(inp, x)


def multiply():
    x = inp = _input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same")(x)
    b = layers.Conv2D(4, 1, activation="sigmoid")(x)
    x = layers.Multiply()([a, b])              # tensor * tensor
    x = layers.Add()([x, a])
    x = layers.Rescaling(0.25)(x)              # tensor * scalar constant
    scale = np.linspace(0.5, 2.0, 4).astype(np.float32)
    x = layers.Lambda(lambda t: t * scale)(x)  # tensor * per-channel constant
    x = layers.Flatten()(x)
    x = layers.Dense(5)(x)
    return keras.Model(inp, x)


def subtract():
    """SUB of two tensors, with a fused RELU (Subtract then ReLU) and a fused RELU6 after a per-channel constant, and
    of a scalar constant minus a tensor."""
    x = inp = _input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same")(x)
    b = layers.Conv2D(4, 1)(x)
    d = layers.Subtract()([a, b])
    e = layers.ReLU()(layers.Subtract()([b, a]))
    offsets = np.linspace(-1.0, 1.0, 4).astype(np.float32)
    f = layers.Lambda(lambda t: ops.relu6(t - offsets))(d)
    h = layers.Lambda(lambda t: 0.5 - t)(e)
    x = layers.Add()([layers.Add()([d, f]), h])
    return keras.Model(inp, x)


def normalization():
    """Keras Normalization on the input of an IMU model: SUB of a per-channel constant mean (broadcast), then MUL."""
    x = inp = _input((32, 6))
    x = layers.Normalization(axis=-1, mean=np.linspace(-0.5, 0.5, 6), variance=np.linspace(0.5, 2.0, 6))(x)
    x = layers.Conv1D(8, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(4)(x)
    return keras.Model(inp, x)


def concat():
    x = inp = _input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    b = layers.Conv2D(3, 1)(x)
    x = layers.Concatenate(axis=-1)([a, b])
    c = layers.Conv2D(7, 3, padding="same")(x)
    x = layers.Concatenate(axis=1)([x, c])     # (1, 16, 8, 7)
    x = layers.Concatenate(axis=2)([x, x])     # same tensor twice
    return keras.Model(inp, x)


def dense_concat():
    x = inp = _input((20,))
    a = layers.Dense(8, activation="relu")(x)
    b = layers.Dense(5, activation="tanh")(x)
    x = layers.Concatenate()([a, b, x])
    x = layers.Dense(4)(x)
    return keras.Model(inp, x)


def bn_unfolded():
    """BatchNorm on the input and after an Add, each followed by a
    non-linearity so it cannot be folded into a neighbouring Dense."""
    x = inp = _input((24,))
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    a = layers.Dense(12)(x)
    b = layers.Dense(12, activation="relu")(x)
    x = layers.Add()([a, b])
    x = layers.BatchNormalization()(x)
    x = layers.Activation("tanh")(x)
    return keras.Model(inp, x)


def bn_add_conv():
    x = inp = _input((8, 8, 4))
    a = layers.Conv2D(6, 3, padding="same")(x)
    b = layers.Conv2D(6, 1)(x)
    x = layers.Add()([a, b])
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Activations as separate layers
# --------------------------------------------------------------------------

def activations_2d():
    x = inp = _input((8, 8, 4))
    x = layers.Conv2D(6, 3, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Conv2D(6, 3, padding="same")(x)
    x = layers.Activation("hard_swish")(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Activation("tanh")(x)
    x = layers.Conv2D(5, 1)(x)
    x = layers.Activation("sigmoid")(x)
    return keras.Model(inp, x)


def activations_1d():
    x = inp = _input((48,))
    x = layers.Dense(32)(x)
    a = layers.ReLU()(x)
    b = layers.LeakyReLU(negative_slope=0.2)(x)
    c = layers.Activation("hard_swish")(x)
    d = layers.Dense(32)(x)
    d = layers.Lambda(lambda t: t * ops.relu6(t + 3.0) / 6.0)(d)  # manual h-swish
    x = layers.Add()([layers.Add()([a, b]), layers.Add()([c, d])])
    x = layers.Activation("tanh")(x)
    x = layers.Dense(10)(x)
    x = layers.Softmax()(x)
    return keras.Model(inp, x)


def softmax_3d():
    """Softmax over the last axis of a (1, 4, 10) tensor."""
    x = inp = _input((4, 10))
    x = layers.Dense(10)(x)
    x = layers.Softmax(axis=-1)(x)
    return keras.Model(inp, x)


def relu6_standalone():
    """RELU6 ops that are not fused and whose input/output scales differ.

    ADD/MUL/FULLY_CONNECTED/CONV/pooling would absorb a following ReLU6 as a
    fused activation, so each ReLU6 here follows an op without one: the model
    input, PAD, MEAN and TANH.
    """
    x = inp = _input((8, 8, 3))
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.Dense(8, activation="tanh")(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.Dense(4)(x)
    return keras.Model(inp, x)


def relu_standalone():
    """RELU ops on the input and after a CONCATENATION (different scales)."""
    x = inp = _input((16,))
    x = layers.ReLU()(x)
    a = layers.Dense(8, activation="tanh")(x)
    b = layers.Dense(8)(x)
    x = layers.Concatenate()([a, b])
    x = layers.ReLU()(x)
    return keras.Model(inp, x)


def conv1d_dynamic_batch():
    """EXPAND_DIMS only survives with a dynamic batch dimension (with static
    shapes the converter rewrites it to RESHAPE). Conv/pool/mean only: a Dense
    or Flatten here would add SHAPE/GATHER/PACK ops. Tensor shapes in the
    file are still batch 1 (shape_signature has -1)."""
    x = inp = keras.Input(shape=(16, 3))
    x = layers.Conv1D(4, 3, activation="relu")(x)
    x = layers.Conv1D(4, 3, strides=2, padding="same")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, x)


# --------------------------------------------------------------------------
# Float input / output (QUANTIZE / DEQUANTIZE at the edges)
# --------------------------------------------------------------------------

def imu_float_io():
    return imu_gap()


def conv_float_io():
    x = inp = _input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(3)(x)
    return keras.Model(inp, x)


MODELS = {
    f.__name__: f
    for f in [
        dense_fused_acts, dense_separate_acts, dense_3d,
        conv1d_variants, imu_gap, imu6_gap, imu_flatten, imu_global_max, reduce_max_variants,
        conv2d_variants, conv2d_dilated, conv2d_bn_folded,
        depthwise_variants, depthwise_dilated, depthwise_one_channel, separable_conv, behind_chain,
        pool2d_variants, pad_gap, reshape_flatten, squeeze, data_movement, resize_nearest, transpose_wide, upsampling,
        gru, lstm, depth_to_space, prelu, abs_rsqrt, conv_transpose, mirror_slice_elu_min, attention, resize_bilinear, grouped_conv, layer_norm,
        space_to_batch, arg_max, l2_norm, log_softmax, softsign, lstm_sequence, thresholds, group_norm,
        residual_add, multiply, subtract, normalization, concat, dense_concat, bn_unfolded, bn_add_conv,
        activations_2d, activations_1d, softmax_3d,
        relu6_standalone, relu_standalone, conv1d_dynamic_batch,
        imu_float_io, conv_float_io,
    ]
}


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------

def make_model(name):
    """Build the Keras model `name` with deterministic weights (and layer
    names, so the file does not depend on what was built before)."""
    _import_tensorflow()
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    model = MODELS[name]()
    return _randomize_bias_and_batchnorm(model, SEED)


def representative_data(model, n=N_REPRESENTATIVE, seed=SEED):
    rng = np.random.default_rng(seed)
    shape = tuple(1 if d is None else d for d in model.inputs[0].shape)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def convert(model, float_io=False, samples=None):
    """Full-integer quantization of `model` calibrated on `samples` (default: representative_data; a sample is an
    array, or a list of one array per input); returns the .tflite bytes."""
    _import_tensorflow()
    samples = representative_data(model) if samples is None else samples
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] if isinstance(s, np.ndarray) else list(s) for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # Keras export prints "Saved artifact at ..." to stdout; the converter warns
    # about missing input statistics. Keep both quiet.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


def build_tflite(name, cache_dir):
    """Build, convert and cache <cache_dir>/<name>.tflite; returns its path."""
    path = pathlib.Path(cache_dir) / f"{name}.tflite"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = convert(make_model(name), float_io=name.endswith("_float_io"))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def build_all(cache_dir):
    return {name: build_tflite(name, cache_dir) for name in MODELS}


# --------------------------------------------------------------------------
# Inspection
# --------------------------------------------------------------------------

def op_names(data):
    """Set of builtin op names used by a .tflite flatbuffer."""
    import tflite

    code_to_name = {
        v: k for k, v in vars(tflite.BuiltinOperator).items()
        if not k.startswith("_")
    }
    model = tflite.Model.GetRootAsModel(data, 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        names.add(code_to_name.get(code, str(code)))
    return names


def run_tflm(data, seed=0):
    """Run one random input through the tflite-micro interpreter."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data)
    details = interp.get_input_details(0)
    rng = np.random.default_rng(seed)
    if details["dtype"] == np.int8:
        x = rng.integers(-128, 128, details["shape"]).astype(np.int8)
    else:
        x = rng.standard_normal(details["shape"]).astype(np.float32)
    interp.set_input(x, 0)
    interp.invoke()
    return interp.get_output(0)


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} OUT_DIR")
    out = pathlib.Path(argv[1])
    total = time.perf_counter()
    seen = set()
    for name in MODELS:
        t = time.perf_counter()
        path = build_tflite(name, out)
        dt = time.perf_counter() - t
        data = path.read_bytes()
        names = op_names(data)
        seen |= names
        try:
            run_tflm(data)
            tflm = "tflm ok"
        except Exception as e:  # report, keep going
            tflm = f"tflm FAIL ({e})"
        print(f"{name:22s} {len(data):6d} B {dt:4.1f} s  {tflm}  "
              f"{' '.join(sorted(names))}")
    print(f"total {time.perf_counter() - total:.1f} s")
    print("expected ops not produced:", sorted(EXPECTED_OPS - seen) or "none")
    print("unexpected ops:", sorted(seen - EXPECTED_OPS) or "none")


if __name__ == "__main__":
    main(sys.argv)
