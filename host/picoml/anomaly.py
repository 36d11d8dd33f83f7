"""Vibration anomaly detection trained on normal data only: `picoml train anomaly DATA -o anomaly.pml`.

Why this design: faults are rare and varied, so the model learns what normal looks like and scores how far a
window is from it (an autoencoder's reconstruction error), instead of classifying faults it has seen. The whole
score is computed inside the int8 model, so the board runs one predict() and compares one number:
  window [n, 3] m/s^2 -> fixed band-pass filter bank (a depthwise convolution of Hann-windowed cosine/sine
  pairs, zero mean so gravity does not leak in) -> |.| (relu(y) + relu(-y)) -> average over time -> per band
  amplitude, normalised by the normal data's spread (a fixed dense layer) -> autoencoder (dense 16-6-16-F) ->
  mean squared difference between features and reconstruction (a fixed dense layer) = the anomaly score.
Only ops picoml runs on every backend: DEPTHWISE_CONV_2D, RELU, MUL, ADD, AVERAGE_POOL_2D, FULLY_CONNECTED. The
threshold is calibrated on held-out normal windows (the 99th percentile of the int8 model's scores, dequantized)
and stored in the metadata with the window parameters.
"""
import json
import pathlib

import numpy as np

from . import convert, format, latency, reference, report
from .errors import PicomlError
from .train import check_labels, split_groups, windows

BANDS_HZ = (20, 25, 30, 40, 50, 60, 75, 90, 110, 140, 180, 230, 300, 380, 460, 540, 620, 700)


def filter_bank(rate, taps, bands=BANDS_HZ):
    """[taps, 1, 2 * len(bands)] cosine and sine pairs under a Hann window, zero mean, unit gain at their
    frequency."""
    n = np.arange(taps)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * (n + 0.5) / taps)
    kernels = []
    for f in bands:
        for wave in (np.cos, np.sin):
            k = hann * wave(2 * np.pi * f * n / rate)
            k -= hann * (k.sum() / hann.sum())
            kernels.append(k / (0.5 * np.abs(hann).sum()))
    return np.stack(kernels, -1)[:, None, :].astype(np.float32)


def _features_model(window, channels, rate, taps, stride):
    """Keras layers from the window to the normalised band amplitudes, with fixed weights; returns
    (input, features, layer that holds the normalisation)."""
    import keras
    from keras import layers
    bank = filter_bank(rate, taps)
    per_channel = bank.shape[-1]
    x = keras.Input((window, channels), batch_size=1)
    conv = layers.DepthwiseConv1D(taps, strides=stride, depth_multiplier=per_channel, use_bias=False,
                                  trainable=False, name="filter_bank")
    y = conv(x)
    conv.set_weights([np.repeat(bank, channels, axis=1)])
    magnitude = layers.Add(name="magnitude")([layers.ReLU(name="positive")(y),
                                             layers.ReLU(name="negative")(layers.Rescaling(-1.0, name="negate")(y))])
    positions = (window - taps) // stride + 1
    pooled = layers.Flatten(name="flatten")(layers.AveragePooling1D(positions, name="average")(magnitude))
    bands = per_channel // 2
    pair_sum = np.zeros((channels * per_channel, channels * bands), np.float32)
    for c in range(channels):
        for b in range(bands):
            for k in range(2):
                pair_sum[c * per_channel + 2 * b + k, c * bands + b] = 1.0
    normalise = layers.Dense(channels * bands, trainable=False, name="normalise")
    features = normalise(pooled)
    normalise.set_weights([pair_sum, np.zeros(channels * bands, np.float32)])
    return x, features, normalise, pair_sum


def calibration_windows(normal, seed, count=320):
    """Windows for int8 calibration: normal ones, and normal ones made louder and noisier (no fault data), so the
    quantized score keeps its resolution well above the normal range instead of saturating there."""
    rng = np.random.default_rng(seed)
    pick = normal[rng.permutation(len(normal))[:count]]
    out = []
    for i, w in enumerate(pick):
        kind = i % 4
        if kind == 0:
            out.append(w)
            continue
        mean = w.mean(0)
        gain = (1.0, 3.0, 8.0)[kind - 1]
        noise = rng.normal(0, 0.3 * kind, w.shape)
        out.append(mean + gain * (w - mean) + noise)
    return np.asarray(out, np.float32)


def roc_auc(normal_scores, fault_scores):
    """Area under the ROC curve: the probability a fault window scores above a normal one (ties count half)."""
    normal_scores = np.asarray(normal_scores, np.float64)
    fault_scores = np.asarray(fault_scores, np.float64)
    greater = (fault_scores[:, None] > normal_scores[None, :]).mean()
    ties = (fault_scores[:, None] == normal_scores[None, :]).mean()
    return float(greater + 0.5 * ties)


def train_anomaly(recordings, out, window=256, hop=128, taps=128, stride=32, epochs=60, seed=0, test_fraction=0.3,
                  log=print):
    """Train on the "normal" recordings of the training machines; calibrate the threshold and score every
    condition on held-out machines. Writes `out`, `<out>.report.json`, `<out>.scores.png`; returns the report."""
    import keras
    import tensorflow as tf
    from keras import layers

    from .quantize import quantize
    from .train import common_format
    say = log or (lambda *args: None)
    keras.backend.clear_session()      # layer-name counters: the same seed must give the same bytes
    rate, channels, scale = common_format(recordings)
    if window < taps:
        raise PicomlError("a window of %d frames is shorter than the filter bank's %d taps" % (window, taps))
    labels = sorted({r.label for r in recordings})
    if "normal" not in labels:
        raise PicomlError("anomaly training needs recordings labelled 'normal' (the machine running well); the "
                          "dataset's labels are %s" % ", ".join(repr(x) for x in labels))
    check_labels(labels)
    train_groups, test_groups = split_groups([r.group for r in recordings], test_fraction, seed,
                                             "machines (or, where none is named, recordings)")

    def cut(groups, label=None):
        xs = [windows(r.samples.astype(np.float32) * np.float32(scale), window, hop) for r in recordings
              if r.group in groups and (label is None or r.label == label)]
        xs = [x for x in xs if len(x)]
        return np.concatenate(xs) if xs else np.zeros((0, window, channels), np.float32)

    x_train = cut(train_groups, "normal")
    if not len(x_train):
        raise PicomlError("no normal window of %d frames in the training recordings" % window)
    normal_test = cut(test_groups, "normal")        # checked before the training, not after it
    if not len(normal_test):
        raise PicomlError("no normal window of %d frames in the recordings of the held-out machines %s, to calibrate "
                          "the threshold on (record them running normally, or try another --seed)"
                          % (window, ", ".join(sorted(test_groups))))
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    x_in, features, normalise, pair_sum = _features_model(window, channels, rate, taps, stride)
    feature_model = keras.Model(x_in, features)
    f_train = feature_model.predict(x_train, batch_size=1, verbose=0)
    spread = f_train.std(0) + 0.05 * f_train.std(0).mean() + 1e-6
    center = f_train.mean(0)
    normalise.set_weights([pair_sum / spread, -center / spread])
    f_train = feature_model.predict(x_train, batch_size=1, verbose=0)
    n_features = f_train.shape[1]

    encoder = [layers.Dense(16, activation="relu", name="encode1"), layers.Dense(6, activation="relu", name="code"),
               layers.Dense(16, activation="relu", name="decode1"), layers.Dense(n_features, name="reconstruct")]
    ae_in = keras.Input((n_features,))
    h = ae_in
    for layer in encoder:
        h = layer(h)
    autoencoder = keras.Model(ae_in, h, name="autoencoder")
    autoencoder.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    say("training the autoencoder on %d normal windows of %d machines" % (len(f_train), len(train_groups)))
    autoencoder.fit(f_train, f_train, epochs=epochs, batch_size=32, verbose=1 if log else 0,
                    shuffle=True)

    h = features
    for layer in encoder:
        h = layer(h)
    difference = layers.Add(name="difference")([features, layers.Rescaling(-1.0, name="negate_recon")(h)])
    squared = layers.Multiply(name="squared")([difference, difference])
    mean = layers.Dense(1, trainable=False, name="score")
    score = mean(squared)
    mean.set_weights([np.full((n_features, 1), 1.0 / n_features, np.float32), np.zeros(1, np.float32)])
    scorer = keras.Model(x_in, score, name="anomaly")
    tflite = quantize(scorer, calibration_windows(x_train, seed))

    def float_scores(x):
        return scorer.predict(x, batch_size=1, verbose=0)[:, 0] if len(x) else np.zeros(0)

    model = convert.convert(tflite, pathlib.Path(out).stem + ".tflite")
    interpreter = reference.Interpreter(model)
    out_t = model.tensors[model.outputs[0].tensor]

    def int8_scores(x):
        q = [int(interpreter.run([w[None]])[0].reshape(-1)[0]) for w in x]
        return (np.array(q, np.float64) - out_t.zero_point) * out_t.scale

    normal_int8 = int8_scores(normal_test)
    threshold = float(np.quantile(normal_int8, 0.99))
    model.metadata["labels"] = ["score"]
    model.metadata["input"] = {"kind": "anomaly", "window": window, "hop": hop, "channels": channels, "rate": rate,
                               "scale": list(scale), "units": list(recordings[0].units), "threshold": threshold}
    blob = format.write(model)
    pathlib.Path(out).write_bytes(blob)

    normal_float = float_scores(normal_test)
    faults = sorted({r.label for r in recordings} - {"normal"})
    per_fault = {}
    plot_scores = {"normal": normal_int8}
    for fault in faults:
        x = cut(test_groups, fault)
        if not len(x):
            continue
        s8 = int8_scores(x)
        plot_scores[fault] = s8
        per_fault[fault] = {"windows": int(len(x)), "roc_auc_float": roc_auc(normal_float, float_scores(x)),
                            "roc_auc_int8": roc_auc(normal_int8, s8),
                            "detected_at_threshold": float(np.mean(s8 > threshold))}
    summary = {"seed": seed, "window": window, "hop": hop, "rate": rate, "epochs": epochs,
               "train_machines": sorted(train_groups), "test_machines": sorted(test_groups),
               "train_windows": int(len(x_train)), "normal_test_windows": int(len(normal_test)),
               "threshold": threshold, "false_alarms_at_threshold": float(np.mean(normal_int8 > threshold)),
               "faults": per_fault, "pml_bytes": len(blob), "arena_bytes": model.arena_size,
               "weights_bytes": model.weights_size, "macs": int(sum(report.macs(model, op) for op in model.ops)),
               "scores_png": pathlib.Path(str(out) + ".scores.png").name, "latency": latency.measure(blob)}
    _plot_scores(plot_scores, threshold, str(out) + ".scores.png")
    pathlib.Path(str(out) + ".report.json").write_text(json.dumps(summary, indent=1) + "\n")
    say("ROC AUC on held-out machines (int8): %s; threshold %.4g; %s: %d bytes, arena %d bytes, %d MACs" % (
        ", ".join("%s %.3f" % (k, v["roc_auc_int8"]) for k, v in per_fault.items())
        or "not measured (no fault recording of them)", threshold, out, len(blob), model.arena_size, summary["macs"]))
    for line in latency.lines(summary["latency"]):
        say("  " + line)
    return summary


def _plot_scores(scores, threshold, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.boxplot(list(scores.values()), showfliers=True)
    ax.set_xticks(range(1, len(scores) + 1), list(scores))
    ax.axhline(threshold, color="red", linestyle="--", label="threshold")
    ax.set_yscale("symlog", linthresh=max(threshold, 1e-3))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("anomaly score (int8 model)")
    ax.set_title("held-out machines")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
