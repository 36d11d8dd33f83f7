"""Keyword spotting trained on synthetic speech: `picoml train kws DATA -o kws.pml`.

    from picoml import kws, speech
    index, clips = speech.load_dataset("data/kws")
    summary = kws.train_kws(index, clips, "kws.pml", seed=0)

Input: the micro_speech front-end's features of a 1 s clip, 49 frames x 40 int8 (frames of 480 samples every 320),
fed to the model as they are: its input is quantized with scale 1 and zero point 0, so the board's front-end
writes its int8 rows straight into the model's input. Each clip is seen twice in training: with the front-end's
state reset at the clip's start (as `picoml features` computes them) and with it warmed up on the clip first (as
a board streaming audio sees a word: the noise estimate and PCAN gain already adapted; on reset-only features a
model hears little on the board). The model is a small DS-CNN (a strided convolution, then depthwise-separable
blocks, a global average and a dense layer), 4 M MACs; `size="small"` (`--size small`) is one of 1.3 M MACs,
which (by the emulated cores' estimated cycles) keeps up with an inference every 60 ms on the nRF52840 and
nearly on the RP2040, for about 2 points of
held-out accuracy (models/README.md). Clips are split by speaker (espeak-ng variant): the test set's voices are
never heard in training.
"""
import json
import pathlib

import numpy as np

from . import convert, format, latency, report
from .errors import PicomlError
from .train import (accuracy_note, chance, check_labels, class_results, evaluate_pml, split_groups,
                    untrained)

FRAMES = 49
FEATURES = 40
FRAME_SAMPLES = 480
HOP_SAMPLES = 320
CLIP_SAMPLES = 16000


class _TflmFrontend:
    """TFLite Micro's runtime running the micro_speech front-end model frame by frame, its state reset per call.
    picoml.features.features gives the same bytes (tests/test_kws.py checks it; picoml's own front-end is tested
    against TFLite Micro on every runtime) but runs in the numpy reference, about a thousand times slower: far too
    slow for thousands of training clips, so training takes TFLite Micro's compiled kernels."""

    def __init__(self, path=None):
        from tflite_micro.python.tflite_micro import runtime
        from .resources import frontend_model
        path = path or frontend_model("audio_preprocessor_int8.tflite")
        self.interpreter = runtime.Interpreter.from_file(str(path))

    def __call__(self, samples):
        it = self.interpreter
        it.reset()
        samples = np.asarray(samples, np.int16)
        n = (len(samples) - FRAME_SAMPLES) // HOP_SAMPLES + 1
        out = np.zeros((max(n, 0), FEATURES), np.int8)
        for k in range(n):
            it.set_input(samples[None, k * HOP_SAMPLES:k * HOP_SAMPLES + FRAME_SAMPLES], 0)
            it.invoke()
            out[k] = it.get_output(0)
        return out


_frontend = None


def features(samples):
    """int8 [frames, 40] micro_speech features of int16 samples, the front-end's state reset first: the bytes of
    picoml.features.features(samples), computed by TFLite Micro's runtime (fast)."""
    global _frontend
    if _frontend is None:
        _frontend = _TflmFrontend()
    return _frontend(samples)


# the DS-CNN's sizes: the first convolution's filters, then (filters, stride) of each depthwise-separable block
SIZES = {
    "default": (48, ((48, 1), (64, 2), (64, 1), (64, 1))),                   # 4.0 M MACs
    "small": (24, ((32, 2), (48, 1), (64, 2), (64, 1), (64, 1))),            # 1.3 M MACs
}


def kws_model(classes, batch_size=None, momentum=0.99, size="default"):
    """DS-CNN: conv 10x4/2 -> depthwise-separable blocks (SIZES) -> global average -> dense."""
    import keras
    from keras import layers
    first, blocks = SIZES[size]
    x = inp = keras.Input((FRAMES, FEATURES, 1), batch_size=batch_size)
    x = layers.Conv2D(first, (10, 4), strides=2, padding="same", use_bias=False, name="conv")(x)
    x = layers.BatchNormalization(momentum=momentum, name="conv_bn")(x)
    x = layers.ReLU(name="conv_relu")(x)
    for i, (filters, stride) in enumerate(blocks):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name="dw%d" % i)(x)
        x = layers.BatchNormalization(momentum=momentum, name="dw%d_bn" % i)(x)
        x = layers.ReLU(name="dw%d_relu" % i)(x)
        x = layers.Conv2D(filters, 1, use_bias=False, name="pw%d" % i)(x)
        x = layers.BatchNormalization(momentum=momentum, name="pw%d_bn" % i)(x)
        x = layers.ReLU(name="pw%d_relu" % i)(x)
    x = layers.GlobalAveragePooling2D(name="average")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Dense(classes, activation="softmax", name="scores")(x)
    return keras.Model(inp, x, name="kws")


def augment(x, rng, max_frames=4, max_mask=5):
    """Each clip's features moved by up to max_frames frames earlier or later (the edge row repeated: the word a
    little earlier or later in the second), and a band of up to max_mask features and of up to max_mask frames
    set to the clip's floor (SpecAugment's masks: the model must not hang on one detail)."""
    out = np.empty_like(x)
    frames, width = x.shape[1], x.shape[2]
    for i, f in enumerate(x):
        s = int(rng.integers(-max_frames, max_frames + 1))
        out[i] = np.roll(f, s, axis=0)
        if s > 0:
            out[i, :s] = f[0]
        elif s < 0:
            out[i, s:] = f[-1]
        floor = f.min()
        a, n = int(rng.integers(width)), int(rng.integers(max_mask + 1))
        out[i, :, a:a + n] = floor
        a, n = int(rng.integers(frames)), int(rng.integers(max_mask + 1))
        out[i, a:a + n] = floor
    return out


def quantize(model, representative):
    """int8 .tflite with int8 input (scale 1, zero point 0: the front-end's own values) and int8 output."""
    from .quantize import quantize as quantize_model
    edges = np.zeros((FRAMES, FEATURES, 1), np.float32)
    edges[0, 0], edges[0, 1] = -128, 127            # the calibrated input range is int8's own: scale 1, zero 0
    return quantize_model(model, [edges, *representative])


def clip_features(samples, warm=False):
    """int8 [49, 40]: the features of a 1 s clip (longer: its first second; shorter, but at least one frame: padded
    with silence), the front-end's state reset at its start (as `picoml features` gives them); warm: as a board
    streaming them sees them, the front-end's state (noise estimate, PCAN gain) already adapted -- the clip played
    twice from a reset, the second pass kept."""
    samples = np.asarray(samples, np.int16)[:CLIP_SAMPLES]
    if len(samples) < FRAME_SAMPLES:
        raise PicomlError("%d samples, fewer than one frame of %d (30 ms at 16 kHz): no sound to learn from"
                          % (len(samples), FRAME_SAMPLES))
    # a shorter clip (as many of Speech Commands' are) is padded with silence to 1 s, as TensorFlow's
    # speech_commands input pipeline pads it
    samples = np.concatenate([samples, np.zeros(CLIP_SAMPLES - len(samples), np.int16)])
    if not warm:
        return features(samples)[:FRAMES]
    skip = CLIP_SAMPLES // HOP_SAMPLES
    return features(np.concatenate([samples, samples]))[skip:skip + FRAMES]


def dataset_features(clips, warm=False):
    """int8 [n, 49, 40] features of every clip (clip_features)."""
    x = np.zeros((len(clips), FRAMES, FEATURES), np.int8)
    for i, c in enumerate(clips):
        try:
            x[i] = clip_features(c["samples"], warm)
        except PicomlError as e:
            raise PicomlError("%s: %s" % (c.get("file"), e))
    return x


def train_kws(index, clips, out, epochs=20, seed=0, test_fraction=0.25, log=print, size="default"):
    """Train, quantize, convert and evaluate; writes `out` (.pml), `<out>.report.json` and `<out>.confusion.png`;
    returns the report dict. size: a key of SIZES."""
    import keras
    import tensorflow as tf

    verbose = log is not None
    log = log or (lambda *args: None)
    keras.backend.clear_session()
    labels = list(index["labels"])
    if len(labels) < 2:
        raise PicomlError("a keyword model needs clips of at least two labels; the dataset has only %s"
                          % ", ".join(repr(x) for x in labels))
    check_labels(labels)
    groups = [c["group"] for c in clips]
    train_groups, test_groups = split_groups(groups, test_fraction, seed, "speakers (groups)")
    untrained(labels, [c["label"] for c in clips if c["group"] in train_groups], "it has no clip, or only clips "
              "of the held-out speakers %s (add clips of it by more speakers, or try another --seed)"
              % ", ".join(sorted(test_groups)))
    log("computing the micro_speech features of %d clips, from a reset front-end and warmed up" % len(clips))
    x_all = dataset_features(clips).astype(np.float32)[..., None]
    x_warm = dataset_features(clips, warm=True).astype(np.float32)[..., None]
    y_all = np.array([labels.index(c["label"]) for c in clips])
    is_test = np.array([g in test_groups for g in groups])
    x_train, y_train = x_all[~is_test], y_all[~is_test]
    x_test, y_test = x_all[is_test], y_all[is_test]
    x_test_warm = x_warm[is_test]
    rng = np.random.default_rng(seed)
    both = np.concatenate([x_train, x_warm[~is_test]])
    pick = rng.permutation(len(both))[:len(x_train)]
    x_aug = np.concatenate([both, augment(both[pick], rng)])
    y_aug = np.concatenate([y_train, y_train, np.tile(y_train, 2)[pick]])
    log("training on %d clips (%d before augmentation) of speakers %s; testing on %d clips of speakers %s, held out"
        % (len(x_aug), len(x_train), " ".join(sorted(train_groups)), len(x_test), " ".join(sorted(test_groups))))

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    batch = int(min(64, max(16, len(x_aug) // 50)))      # small datasets: enough steps
    steps = -(-len(x_aug) // batch) * epochs
    # batch normalisation's moving statistics must settle within the run (a short run with the usual 0.99 leaves
    # them far from the weights' last state, and the model predicts one class): an average over >= 20 steps, or
    # (a run of fewer steps) the last batch's statistics -- a negative momentum made them diverge
    fit = kws_model(len(labels), momentum=min(0.99, max(0.0, 1 - 20 / steps)), size=size)
    fit.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    order = rng.permutation(len(x_aug))
    schedule = keras.callbacks.LearningRateScheduler(lambda e, lr: 3e-3 * (0.5 ** (e // max(1, epochs // 4))))
    fit.fit(x_aug[order], y_aug[order], epochs=epochs, batch_size=batch, verbose=2 if verbose else 0,
            callbacks=[schedule])
    float_pred = np.argmax(fit.predict(x_test, verbose=0), axis=1)
    float_warm = np.argmax(fit.predict(x_test_warm, verbose=0), axis=1)
    model = kws_model(len(labels), batch_size=1, size=size)
    model.set_weights(fit.get_weights())

    tflite = quantize(model, both[rng.permutation(len(both))[:300]])
    info = {"kind": "kws", "frontend": "micro_speech", "frames": FRAMES, "features": FEATURES, "rate": 16000,
            "frame_samples": FRAME_SAMPLES, "hop_samples": HOP_SAMPLES,
            "keywords": [k for k in labels if k in index["keywords"]]}
    pml = convert.convert(tflite, pathlib.Path(out).stem + ".tflite", labels=labels, input_info=info)
    q = pml.tensors[pml.inputs[0].tensor]
    if (float(q.scale), int(q.zero_point)) != (1.0, 0):
        raise PicomlError("the model's input quantization came out as scale %r, zero point %r, not the front-end's "
                          "(1, 0)" % (q.scale, q.zero_point))
    blob = format.write(pml)
    pathlib.Path(out).write_bytes(blob)
    int8_pred = evaluate_pml(format.read(blob), x_test)
    int8_warm = evaluate_pml(format.read(blob), x_test_warm)

    def accuracy(pred):
        return float(np.mean(pred == y_test))

    warm = {"float": accuracy(float_warm), "int8": accuracy(int8_warm),
            "note": "the same held-out clips, the front-end warmed up on each first (as a streaming board)"}
    per_class, matrix, png = class_results(y_test, float_pred, int8_pred, labels, out, "held-out voices")
    summary = {
        "labels": labels, "seed": seed, "epochs": epochs, "size": size, "frames": FRAMES, "features": FEATURES,
        "frontend": "micro_speech (models/frontend/audio_preprocessor_int8.tflite), state reset per clip",
        "dataset": index.get("generator"),
        "train_groups": sorted(train_groups), "test_groups": sorted(test_groups),
        "test_voices": sorted({c["voice"] for c, t in zip(clips, is_test) if t and "voice" in c}),
        "train_clips": int(len(x_train)), "test_clips": int(len(x_test)),
        "accuracy": {"float": accuracy(float_pred), "int8": accuracy(int8_pred)}, "accuracy_streaming": warm,
        "per_class": per_class, "chance": dict(zip(("accuracy", "label"), chance(y_test, labels))),
        "confusion_int8": matrix.tolist(), "confusion_png": pathlib.Path(png).name,
        "pml_bytes": len(blob), "arena_bytes": pml.arena_size, "weights_bytes": pml.weights_size,
        "macs": int(sum(report.macs(pml, op) for op in pml.ops)),
        "latency": latency.measure(blob),
    }
    pathlib.Path(str(out) + ".report.json").write_text(json.dumps(summary, indent=1) + "\n")
    log("accuracy on held-out voices: float %.3f, int8 %.3f (%s; front-end warmed up: float %.3f, int8 %.3f); %s: "
        "%d bytes, arena %d bytes, %d MACs" % (summary["accuracy"]["float"], summary["accuracy"]["int8"],
                                               accuracy_note(summary), warm["float"], warm["int8"], out, len(blob),
                                               pml.arena_size, summary["macs"]))
    for line in latency.lines(summary["latency"]):
        log("  " + line)
    return summary


def device_script(path=None):
    """models/kws/main.py as a module (its Detector and constants: the host runs the board's detection logic)."""
    import importlib.util
    path = path or pathlib.Path(__file__).resolve().parents[2] / "models" / "kws" / "main.py"
    spec = importlib.util.spec_from_file_location("kws_main", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stream_detections(samples, pml_model, script=None):
    """What models/kws/main.py prints for this audio, computed on the host: the front-end's features of the whole
    stream (its state carried from the start, as on the board), a ring of the model's frames (zeros before the
    first rows, as picoml.audio.Frontend), the model (the numpy reference: the board's bytes) every EVERY hops
    and main.py's Detector. Returns [(label, confidence, hop)]. Inference happens after each microphone block of
    BLOCK samples that completes EVERY hops or more, as on the board."""
    from . import reference
    script = script or device_script()
    info = pml_model.metadata["input"]
    labels = pml_model.metadata["labels"]
    q = pml_model.tensors[pml_model.outputs[0].tensor]
    detector = script.Detector(labels, info["keywords"], q.scale, q.zero_point, script.SMOOTHING, script.THRESHOLD,
                               script.HOLDOFF)
    rows = features(samples)
    interpreter = reference.Interpreter(pml_model)
    frames, hop_samples, frame_samples = info["frames"], info["hop_samples"], info["frame_samples"]
    ring = np.zeros((frames, info["features"]), np.int8)
    out, due, hops = [], script.EVERY, 0
    for end in range(script.BLOCK, len(samples) + script.BLOCK, script.BLOCK):
        end = min(end, len(samples))
        hops = max(0, (end - frame_samples) // hop_samples + 1)     # rows complete after `end` samples
        if hops < due:
            continue
        due = hops + script.EVERY
        n = min(hops, frames)
        ring[:] = 0
        ring[frames - n:] = rows[hops - n:hops]
        x = ring.astype(np.float32)[None, ..., None]
        y = interpreter.run([x])[0].reshape(-1)
        c = detector.update([int(v) for v in y], hops)
        if c >= 0:
            out.append((labels[c], detector.confidence, hops))
    return out


def score(detections, spans, hop_samples=HOP_SAMPLES, window_samples=16000):
    """(words heard in order, false detections): detections [(label, confidence, hop)] in time order are matched
    to the spoken words [(word, first sample, last sample + 1)] in order; a detection counts for a word of the
    same name when it comes after the word starts and at most a window (1 s) after it ends. Any other detection
    is false."""
    heard, false, i = 0, 0, 0
    for label, _, hop in detections:
        t = hop * hop_samples
        j = i
        while j < len(spans) and spans[j][2] + window_samples < t:
            j += 1              # words whose time has passed unheard
        if j < len(spans) and spans[j][0] == label and spans[j][1] <= t:
            heard += 1
            i = j + 1
        else:
            false += 1
    return heard, false
