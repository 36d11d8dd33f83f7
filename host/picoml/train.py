"""Train a gesture classifier on `picoml capture` / `picoml pull` datasets and pack it as an int8 .pml.

    from picoml import train
    data = train.load_datasets(["data/"])
    result = train.train_gesture(data, "gesture.pml", seed=0)     # also: picoml train gesture data/ -o gesture.pml

The windows are cut exactly as the device's picoml.stream.Window cuts them (window k = frames k*hop ..
k*hop + window - 1), and those parameters go into the model's metadata ("input": window, hop, channels, scale,
units), so a device script reads them instead of repeating constants. Recordings are split by person (or by
recording when no person is named), so no window of a held-out person is seen in training.
"""
import json
import pathlib
from dataclasses import dataclass

import numpy as np

from . import convert, format, latency, reference, report
from . import qat as qat_module
from .argtypes import positive_int, random_seed
from .errors import PicomlError
from .quantize import quantize


@dataclass
class Recording:
    samples: np.ndarray         # int16 [n, channels], raw counts
    rate: float
    label: str
    scale: tuple                # per channel: counts -> units
    units: tuple
    group: str                  # the person (or the recording) for the train/test split
    file: str


def load_datasets(folders, log=None):
    """Every recording of the dataset folders (index.json + .npz files), as Recording objects; PicomlError naming
    the folder or file for an index or a recording that cannot be read. log: told of .npz files the index does not
    list (not read: an index is how a recording is left out, but one copied in without its entry is lost)."""
    recordings, seen = [], set()
    for folder in folders:
        folder = pathlib.Path(folder)
        index_path = folder / "index.json"
        if not index_path.exists():
            raise PicomlError("%s is not a picoml dataset: it has no index.json (make one with picoml capture)"
                              % folder)
        try:
            index = json.loads(index_path.read_text())
            if isinstance(index, dict) and index.get("kind") == "speech":
                raise PicomlError("%s is a speech dataset (WAV clips): train it with picoml train kws" % folder)
            entries = [(str(entry["file"]), entry.get("label")) for entry in index["recordings"]]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
            raise PicomlError("%s: index.json is not a picoml dataset index (%s: %s)" % (folder, type(e).__name__, e))
        for name, label in entries:
            path = folder / name
            if path.resolve() in seen:      # it would weigh twice in training, or sit in both train and test
                raise PicomlError("%s is listed twice (in index.json, or its folder given twice): a recording must "
                                  "be read once" % path)
            seen.add(path.resolve())
            r = read_recording(path)
            if label is not None and str(label) != r.label:     # an index edited to relabel it: the file wins
                raise PicomlError("%s: index.json says label %r, the recording says %r; training reads the "
                                  "recording's: make them agree" % (path, str(label), r.label))
            recordings.append(r)
        unlisted = sorted(p.name for p in folder.glob("*.npz") if p.resolve() not in seen)
        if unlisted and log:
            log("note: %s: %d .npz file%s not in index.json, not used: %s%s" % (
                folder, len(unlisted), "s" if len(unlisted) > 1 else "", ", ".join(unlisted[:5]),
                " ..." if len(unlisted) > 5 else ""))
    if not recordings:
        raise PicomlError("no recordings in %s" % ", ".join(map(str, folders)))
    return recordings


def read_recording(path):
    """One .npz recording as a Recording; PicomlError naming the file when it is missing, damaged (not a zip, cut
    short) or not a recording (no samples of shape [frames, channels], no rate or label)."""
    try:
        with np.load(path) as z:
            samples = np.asarray(z["samples"])
            if samples.ndim != 2 or samples.shape[1] < 1 or samples.dtype.kind not in "iuf":
                raise ValueError("samples of shape %s and type %s, not [frames, channels] numbers"
                                 % (list(samples.shape), samples.dtype))
            if samples.dtype.kind == "f" and not np.isfinite(samples).all():
                frame, channel = np.argwhere(~np.isfinite(samples))[0]
                raise ValueError("frame %d, channel %d is %s, not a finite number"
                                 % (frame, channel, samples[frame, channel]))
            channels = samples.shape[1]
            scale = tuple(float(s) for s in z["scale"]) if "scale" in z else (1.0,) * channels
            units = tuple(str(u) for u in z["units"]) if "units" in z else ("counts",) * channels
            if len(scale) != channels or len(units) != channels:
                raise ValueError("%d channels but %d scales and %d units" % (channels, len(scale), len(units)))
            rate = float(z["rate"])
            if not 0 < rate < float("inf"):
                raise ValueError("a rate of %s Hz" % rate)
            if not all(abs(s) < float("inf") for s in scale):
                raise ValueError("a scale of %s" % list(scale))
            if not str(z["label"]).strip():
                raise ValueError("an empty label")
            group = str(z["person"]) if "person" in z and str(z["person"]) else str(path)
            return Recording(samples, rate, str(z["label"]), scale, units, group, str(path))
    except Exception as e:      # a missing or damaged file: whatever numpy or zipfile raises for it
        raise PicomlError("%s: not a readable recording (%s: %s)" % (path, type(e).__name__, e))


def common_format(recordings):
    """(rate, channels, scale) that every recording shares; PicomlError naming the recordings that differ from
    the most common one."""
    def key(r):
        return r.rate, r.samples.shape[1], r.scale
    counts = {}
    for r in recordings:
        counts[key(r)] = counts.get(key(r), 0) + 1
    usual = max(counts, key=counts.get)
    odd = [r for r in recordings if key(r) != usual]
    if odd:
        raise PicomlError("all recordings must share one rate, channel count and scale; most are %g Hz x %d "
                          "channels, but %s" % (usual[0], usual[1], "; ".join(
                              "%s is %g Hz x %d channels%s" % (r.file, key(r)[0], key(r)[1],
                                                                ", another scale" if key(r)[:2] == usual[:2] else "")
                              for r in odd[:5]) + (" (and %d more)" % (len(odd) - 5) if len(odd) > 5 else "")))
    return usual


def windows(samples, window, hop):
    """[k, window, channels]: window k holds frames k*hop .. k*hop + window - 1, as picoml.stream.Window."""
    n = (len(samples) - window) // hop + 1
    if n <= 0:
        return np.zeros((0, window, samples.shape[1]), samples.dtype)
    idx = np.arange(window)[None, :] + hop * np.arange(n)[:, None]
    return samples[idx]


def split_groups(groups, test_fraction, seed, what="persons (or, where none is named, recordings)"):
    """(train groups, test groups): a seeded shuffle of the distinct groups, at least one in each. what: the
    groups' name for the error when there is only one."""
    distinct = sorted(set(groups))
    if len(distinct) < 2:
        raise PicomlError("the dataset needs at least two %s to hold one out for testing; it has only %s"
                          % (what, ", ".join(repr(g) for g in distinct) or "none"))
    rng = np.random.default_rng(seed)
    order = [distinct[i] for i in rng.permutation(len(distinct))]
    n_test = min(len(distinct) - 1, max(1, int(round(len(distinct) * test_fraction))))
    return set(order[n_test:]), set(order[:n_test])


def check_labels(labels):
    """PicomlError for labels that differ only in case or surrounding spaces ("Wave", "wave "): one class that
    would be trained as two."""
    seen = {}
    for label in labels:
        key = label.strip().casefold()
        if key in seen:
            raise PicomlError("labels %r and %r differ only in case or spaces: they would be trained as two classes; "
                              "give them one spelling" % (seen[key], label))
        seen[key] = label


def untrained(labels, train_labels, reason):
    """PicomlError, before any training, naming the labels with nothing to learn from in the training set (the
    model would carry a class it never saw); reason: why, said of one of them."""
    missing = [lab for lab in labels if lab not in set(train_labels)]
    if missing:
        raise PicomlError("no training data for %s: %s" % (", ".join(repr(m) for m in missing), reason))


def chance(y_test, labels):
    """(the accuracy of always answering the held-out set's most common label, that label)."""
    counts = np.bincount(y_test, minlength=len(labels))
    return float(counts.max() / max(1, counts.sum())), labels[int(np.argmax(counts))]


def accuracy_note(summary):
    """What the report's int8 accuracy is worth, for the log: its chance level (a warning at or below it) and the
    labels it did not test."""
    note = "chance %.3f: always %r" % (summary["chance"]["accuracy"], summary["chance"]["label"])
    if summary["accuracy"]["int8"] <= summary["chance"]["accuracy"]:
        note += "; the int8 model is NO BETTER THAN CHANCE"
    untested = [lab for lab, v in summary["per_class"].items() if v["int8"] is None]
    if untested:
        note += "; not tested (no held-out data): %s" % ", ".join(untested)
    return note


def _rotations(rng, n, max_degrees):
    """n random rotation matrices of at most max_degrees about a random axis (Rodrigues)."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.radians(rng.uniform(-max_degrees, max_degrees, n))[:, None, None]
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - np.swapaxes(k, 1, 2)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def mirror(x):
    """The motion seen by a sensor mirrored across its x-z plane (the other hand): y and the rotation rates about
    x and z change sign, for each (ax, ay, az, gx, gy, gz) group of channels."""
    y = x.copy()
    for c in range(0, x.shape[-1] - x.shape[-1] % 6, 6):
        y[..., c + 1] *= -1
        y[..., c + 3] *= -1
        y[..., c + 5] *= -1
    return y


def augment(x, rng, copies=2, rotate_degrees=15.0, gain=0.1, noise=0.02):
    """x plus `copies` altered copies: half mirrored (the other hand, for 6-axis data), the board turned on the
    wrist (the same rotation of every 3-axis group), a gain change and white noise relative to each channel's
    spread."""
    out = [x]
    spread = x.reshape(-1, x.shape[-1]).std(0) + 1e-6
    for k in range(copies):
        y = mirror(x) if k % 2 == 0 and x.shape[-1] % 6 == 0 else x.copy()
        r = _rotations(rng, len(y), rotate_degrees)
        for c in range(0, y.shape[-1] - y.shape[-1] % 3, 3):
            y[..., c:c + 3] = np.einsum("nij,ntj->nti", r, y[..., c:c + 3])
        y *= rng.uniform(1 - gain, 1 + gain, (len(y), 1, 1))
        y += rng.normal(0, noise, y.shape) * spread
        out.append(y)
    return np.concatenate(out)


def gesture_model(window, channels, classes, keras=None, batch_size=1):
    """A small 1-D CNN: ~5 k parameters, ~0.2 M MACs for a 104-frame window; its arena is a few KB. keras: the
    module that builds it (Keras 3 by default; tf_keras for quantization-aware training)."""
    if keras is None:
        import keras
    layers = keras.layers
    return keras.Sequential([
        keras.Input((window, channels), batch_size=batch_size),
        layers.Conv1D(16, 5, strides=2, activation="relu", name="conv1"),
        layers.Conv1D(24, 3, activation="relu", name="conv2"),
        layers.MaxPooling1D(2, name="pool"),
        layers.Conv1D(32, 3, activation="relu", name="conv3"),
        layers.GlobalAveragePooling1D(name="average"),
        layers.Dense(32, activation="relu", name="dense"),
        layers.Dense(classes, activation="softmax", name="scores"),
    ], name="gesture")   # fixed names: layer names go into the .pml, and the same seed must give the same bytes


def evaluate_pml(pml_model, x):
    """Class indices predicted by the int8 .pml for float windows x (the numpy reference: the device's bytes)."""
    interpreter = reference.Interpreter(pml_model)
    return np.array([int(np.argmax(interpreter.run([w[None]])[0]))
                     for w in x])


def confusion(truth, predicted, n):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (truth, predicted), 1)
    return m


def plot_confusion(matrix, labels, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(labels), 1.0 + 0.8 * len(labels)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def class_results(y_test, float_pred, int8_pred, labels, out, held_out):
    """(per-class float/int8 accuracy, the int8 confusion matrix, the path of its PNG, written beside `out`)."""
    per_class = {lab: {"float": float(np.mean(float_pred[y_test == i] == i)) if np.any(y_test == i) else None,
                       "int8": float(np.mean(int8_pred[y_test == i] == i)) if np.any(y_test == i) else None}
                 for i, lab in enumerate(labels)}
    matrix = confusion(y_test, int8_pred, len(labels))
    png = str(out) + ".confusion.png"
    plot_confusion(matrix, labels, png, "int8 .pml, " + held_out)
    return per_class, matrix, png


def train_gesture(recordings, out, window=None, hop=None, epochs=30, seed=0, test_fraction=0.25, qat=False,
                  log=print):
    """Train, quantize, convert and evaluate; writes `out` (.pml), `<out>.report.json` and
    `<out>.confusion.png`; returns the report dict."""
    rate, channels, scale = common_format(recordings)
    window = window or int(round(rate))           # one second
    hop = hop or max(1, window // 4)
    labels = sorted({r.label for r in recordings})
    if len(labels) < 2:
        raise PicomlError("a gesture classifier needs recordings of at least two labels; the dataset has only %s"
                          % (", ".join(repr(x) for x in labels)))
    check_labels(labels)
    train_groups, test_groups = split_groups([r.group for r in recordings], test_fraction, seed)
    import keras
    import tensorflow as tf

    verbose = log is not None
    log = log or (lambda *args: None)
    keras.backend.clear_session()      # layer-name counters: the same seed must give the same bytes

    def cut(groups):
        xs, ys = [], []
        for r in recordings:
            if r.group in groups:
                w = windows(r.samples.astype(np.float32) * np.float32(scale), window, hop)
                xs.append(w)
                ys.append(np.full(len(w), labels.index(r.label)))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = cut(train_groups)
    untrained(labels, [labels[i] for i in set(y_train)], "every recording of it is shorter than a window (%d "
              "frames) or of the held-out persons %s (record it with more persons, or try another --seed)"
              % (window, ", ".join(sorted(test_groups))))
    x_test, y_test = cut(test_groups)
    if not len(x_test):
        raise PicomlError("nothing to test on: every recording of the held-out %s is shorter than a window (%d "
                          "frames)" % (", ".join(sorted(test_groups)), window))
    rng = np.random.default_rng(seed)
    copies = 2
    x_aug = augment(x_train, rng, copies)
    y_aug = np.tile(y_train, copies + 1)
    log("training on %d windows (%d before augmentation) of %d persons/recordings; testing on %d windows of %d "
        "held out" % (len(x_aug), len(x_train), len(train_groups), len(x_test), len(test_groups)))

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        model = gesture_model(window, channels, len(labels))
    except ValueError:          # Keras: a layer's output would have no frames
        raise PicomlError("a window of %d frames is too short for the gesture model's convolutions and pooling "
                          "(the default is one second: %d frames)" % (window, int(round(rate))))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fit = keras.Sequential(model.layers, name="gesture_training")   # same layers, free batch size
    fit.build((None, window, channels))
    fit.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    order = rng.permutation(len(x_aug))
    fit.fit(x_aug[order], y_aug[order], epochs=epochs, batch_size=64, verbose=1 if verbose else 0)
    float_pred = np.argmax(fit.predict(x_test, verbose=0), axis=1)

    representative = x_train[rng.permutation(len(x_train))[:300]]
    if qat:
        log("quantization-aware fine-tuning: %d epochs" % max(2, epochs // 4))
        model = qat_module.train(lambda module, batch: gesture_model(window, channels, len(labels), module, batch),
                                 fit, x_aug[order], y_aug[order], max(2, epochs // 4), seed, verbose)
    tflite = quantize(model, representative)
    info = {"kind": "gesture", "window": window, "hop": hop, "channels": channels, "rate": rate,
            "scale": list(scale), "units": list(recordings[0].units)}
    pml = convert.convert(tflite, pathlib.Path(out).stem + ".tflite", labels=labels, input_info=info)
    blob = format.write(pml)
    pathlib.Path(out).write_bytes(blob)
    int8_pred = evaluate_pml(format.read(blob), x_test)

    def accuracy(pred):
        return float(np.mean(pred == y_test))

    per_class, matrix, png = class_results(y_test, float_pred, int8_pred, labels, out, "held-out persons")
    summary = {
        "labels": labels, "seed": seed, "epochs": epochs, "window": window, "hop": hop, "rate": rate,
        "train_groups": sorted(train_groups), "test_groups": sorted(test_groups),
        "train_windows": int(len(x_train)), "test_windows": int(len(x_test)),
        "quantization": "quantization-aware training" if qat else "post-training",
        "accuracy": {"float": accuracy(float_pred), "int8": accuracy(int8_pred)}, "per_class": per_class,
        "chance": dict(zip(("accuracy", "label"), chance(y_test, labels))),
        "confusion_int8": matrix.tolist(), "confusion_png": pathlib.Path(png).name,
        "pml_bytes": len(blob), "arena_bytes": pml.arena_size, "weights_bytes": pml.weights_size,
        "macs": int(sum(report.macs(pml, op) for op in pml.ops)),
        "latency": latency.measure(blob),
    }
    pathlib.Path(str(out) + ".report.json").write_text(json.dumps(summary, indent=1) + "\n")
    log("accuracy on held-out persons: float %.3f, int8 %.3f (%s); %s: %d bytes, arena %d bytes, %d MACs"
        % (summary["accuracy"]["float"], summary["accuracy"]["int8"], accuracy_note(summary), out, len(blob),
           pml.arena_size, summary["macs"]))
    for line in latency.lines(summary["latency"]):
        log("  " + line)
    return summary


def cmd_train(args):
    from .paths import check_output_file
    check_output_file(args.output, "the model (-o)")      # before the training, not after it
    if args.kind == "kws":
        from . import kws, speech
        if len(args.data) != 1:
            raise PicomlError("train kws takes one dataset folder (picoml synth speech)")
        index, clips = speech.load_dataset(args.data[0])
        options = {"epochs": args.epochs} if args.epochs is not None else {}
        kws.train_kws(index, clips, args.output, seed=args.seed, size=args.size, **options)
        print("report: %s.report.json, confusion matrix: %s.confusion.png" % (args.output, args.output))
        return 0
    if args.size != "default":
        raise PicomlError("--size applies to kws models (gesture and anomaly models are a few hundred thousand MACs)")
    recordings = load_datasets(args.data, log=print)
    options = {k: getattr(args, k) for k in ("window", "hop", "epochs") if getattr(args, k) is not None}
    if args.kind == "gesture":
        train_gesture(recordings, args.output, seed=args.seed, qat=args.qat, **options)
        print("report: %s.report.json, confusion matrix: %s.confusion.png" % (args.output, args.output))
    else:
        if args.qat:
            raise PicomlError("--qat applies to gesture models (the anomaly model's error is computed in-model "
                              "from a fixed filter bank: post-training quantization keeps it within 0.01 of float)")
        from .anomaly import train_anomaly
        train_anomaly(recordings, args.output, seed=args.seed, **options)
        print("report: %s.report.json, scores: %s.scores.png" % (args.output, args.output))
    return 0


def add_commands(subparsers):
    t = subparsers.add_parser("train", help="train a model on datasets from picoml capture/pull, write an int8 .pml "
                                            "and its evaluation report")
    t.add_argument("kind", choices=["gesture", "anomaly", "kws"],
                   help="gesture: a classifier of the labels; anomaly: trained on 'normal' recordings only; kws: "
                        "keyword spotting on the micro_speech features of 1 s clips (picoml synth speech)")
    t.add_argument("data", nargs="+", help="dataset folders (index.json + .npz recordings, or + .wav clips for kws)")
    t.add_argument("-o", "--output", required=True, help="the .pml to write (report beside it)")
    t.add_argument("--window", type=positive_int, help="frames per window (gesture: one second; anomaly: 256)")
    t.add_argument("--hop", type=positive_int, help="frames between windows (gesture: a quarter window; anomaly: 128)")
    t.add_argument("--epochs", type=positive_int)
    t.add_argument("--seed", type=random_seed, default=0, help="the same seed gives the same model")
    t.add_argument("--qat", action="store_true", help="gesture: fine-tune with int8 fake quantization before "
                                                      "converting (default: post-training quantization)")
    from .kws import SIZES
    t.add_argument("--size", choices=sorted(SIZES), default="default",
                   help="kws: the DS-CNN's size (kws.SIZES): small is a third of default's MACs for the Cortex-M "
                        "boards, about 2 points less accurate (models/README.md)")
    t.set_defaults(func=cmd_train)
