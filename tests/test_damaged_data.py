"""Damaged datasets and audio files: every one is a PicomlError naming the file and what is wrong (the CLI prints it
and exits 2), never a traceback, and nothing of the dataset is changed."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from picoml import features, motion, speech, train
from picoml.cli import main
from picoml.errors import PicomlError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gestures")
    motion.write_dataset(out, persons=2, seconds=3, rate=52, gestures=("idle", "wave"), log=None)
    return out


def _rewrite(path, **changes):
    with np.load(path) as z:
        fields = dict(z)
    fields.update(changes)
    np.savez(path, **fields)


def _first(folder, label):
    return folder / next(r["file"] for r in json.loads((folder / "index.json").read_text())["recordings"]
                         if r["label"] == label)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:300])


DAMAGE = {
    # name: (what is done to the dataset's first 'wave' recording or its index, words the error must hold)
    "cut short": (lambda d, p: _truncate(p), "not a readable recording"),
    "not a zip": (lambda d, p: p.write_bytes(b"PK\x03\x04 garbage"), "not a readable recording"),
    "empty file": (lambda d, p: p.write_bytes(b""), "not a readable recording"),
    "missing": (lambda d, p: p.unlink(), "not a readable recording"),
    "no samples": (lambda d, p: _rewrite(p, samples=np.zeros(0)), "not [frames, channels]"),
    "one-dimensional samples": (lambda d, p: _rewrite(p, samples=np.zeros(50, np.int16)), "not [frames, channels]"),
    "text samples": (lambda d, p: _rewrite(p, samples=np.array([["a"] * 6] * 9)), "not [frames, channels]"),
    "no rate": (lambda d, p: _rewrite_without(p, "rate"), "not a readable recording"),
    "zero rate": (lambda d, p: _rewrite(p, rate=np.float64(0)), "a rate of 0"),
    "scales short": (lambda d, p: _rewrite(p, scale=np.ones(2)), "6 channels but 2 scales"),
    # (a NaN or an infinity reached TensorFlow's converter, which died of a segmentation fault)
    "a NaN sample": (lambda d, p: _rewrite(p, samples=_with(p, 3, 1, np.nan)), "frame 3, channel 1 is nan"),
    "an infinite sample": (lambda d, p: _rewrite(p, samples=_with(p, 0, 5, -np.inf)), "frame 0, channel 5 is -inf"),
    "infinite rate": (lambda d, p: _rewrite(p, rate=np.float64(np.inf)), "a rate of inf"),
    "NaN scale": (lambda d, p: _rewrite(p, scale=np.full(6, np.nan)), "a scale of"),
    "index cut short": (lambda d, p: (d / "index.json").write_text('{"recordings": [{"file": '),
                        "not a picoml dataset index"),
    "index entry without file": (lambda d, p: (d / "index.json").write_text('{"recordings": [{"label": "x"}]}'),
                                 "not a picoml dataset index"),
    "index not utf-8": (lambda d, p: (d / "index.json").write_bytes(b"\xff\xfe{"), "not a picoml dataset index"),
    # (these three trained silently: without the class, on a label the user had changed, or a recording twice)
    "empty label": (lambda d, p: _rewrite(p, label=np.str_("")), "an empty label"),
    "index relabelled": (lambda d, p: _edit_index(d, p, lambda e: e.update(label="idle")),
                         "index.json says label 'idle', the recording says 'wave'"),
    "index lists it twice": (lambda d, p: _edit_index(d, p, lambda e: None, twice=True), "is listed twice"),
}


def _edit_index(folder, path, change, twice=False):
    index = json.loads((folder / "index.json").read_text())
    entry = next(e for e in index["recordings"] if e["file"] == path.name)
    change(entry)
    if twice:
        index["recordings"].append(entry)
    (folder / "index.json").write_text(json.dumps(index))


def _with(path, frame, channel, value):
    """The recording's samples as float32 with one value replaced."""
    with np.load(path) as z:
        samples = z["samples"].astype(np.float32)
    samples[frame, channel] = value
    return samples


def _rewrite_without(path, key):
    with np.load(path) as z:
        fields = {k: z[k] for k in z.files if k != key}
    np.savez(path, **fields)


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_recording_or_index_is_a_clear_error(dataset, tmp_path, name):
    damage, words = DAMAGE[name]
    folder = tmp_path / "data"
    shutil.copytree(dataset, folder)
    victim = _first(folder, "wave")
    damage(folder, victim)
    with pytest.raises(PicomlError, match=words) as e:
        train.load_datasets([folder])
    if "index" not in name or "relabelled" in name or "twice" in name:
        assert victim.name in str(e.value)


def test_a_folder_given_twice_or_of_speech_is_refused(dataset, tmp_path):
    with pytest.raises(PicomlError, match="is listed twice"):
        train.load_datasets([dataset, dataset])
    (tmp_path / "index.json").write_text(json.dumps({"kind": "speech", "clips": []}))
    with pytest.raises(PicomlError, match="is a speech dataset .*: train it with picoml train kws"):
        train.load_datasets([tmp_path])


def _relabelled(dataset, tmp_path, change):
    """A copy of the dataset with change(index entry) applied to the index and each recording."""
    folder = tmp_path / "data"
    shutil.copytree(dataset, folder)
    index = json.loads((folder / "index.json").read_text())
    kept = []
    for e in index["recordings"]:
        if change(e) is False:
            (folder / e["file"]).unlink()
            continue
        _rewrite(folder / e["file"], label=np.str_(e["label"]))
        kept.append(e)
    index["recordings"] = kept
    (folder / "index.json").write_text(json.dumps(index))
    return train.load_datasets([folder])


def test_labels_that_differ_only_in_case_are_refused(dataset, tmp_path):
    recordings = _relabelled(dataset, tmp_path, lambda e: e.update(label="Wave") if e["label"] == "wave" and
                             e["person"] == "p00" else None)
    with pytest.raises(PicomlError, match="labels 'Wave' and 'wave' differ only in case"):
        train.train_gesture(recordings, tmp_path / "m.pml", epochs=1, log=None)
    assert not (tmp_path / "m.pml").exists()


def test_a_label_with_nothing_to_train_on_is_refused_before_training(dataset, tmp_path):
    """A label recorded only by the held-out person, or only in recordings shorter than a window, trained a model
    with a class it never saw (and silently)."""
    train_persons, test_persons = train.split_groups(["p00", "p01"], 0.25, 0)
    held_out = test_persons.pop()
    recordings = _relabelled(dataset, tmp_path, lambda e: e["label"] != "wave" or e["person"] == held_out)
    with pytest.raises(PicomlError, match="no training data for 'wave': every recording of it is shorter than a "
                                          "window .* or of the held-out persons %s" % held_out):
        train.train_gesture(recordings, tmp_path / "m.pml", epochs=1, log=None)
    recordings = train.load_datasets([dataset])
    short = [replace(r, samples=r.samples[:20]) if r.label == "wave" else r for r in recordings]
    with pytest.raises(PicomlError, match="no training data for 'wave'"):
        train.train_gesture(short, tmp_path / "m.pml", window=26, epochs=1, log=None)
    short = [replace(r, samples=r.samples[:20]) if r.group == held_out else r for r in recordings]
    with pytest.raises(PicomlError, match="nothing to test on: every recording of the held-out %s is shorter than "
                                          "a window" % held_out):
        train.train_gesture(short, tmp_path / "m.pml", window=26, epochs=1, log=None)
    assert not (tmp_path / "m.pml").exists()


def test_recordings_that_differ_are_named(dataset, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(dataset, folder)
    odd = _first(folder, "wave")
    with np.load(odd) as z:
        _rewrite(odd, samples=z["samples"][:, :3], scale=z["scale"][:3], units=z["units"][:3])
    with pytest.raises(PicomlError, match="%s is 52 Hz x 3 channels" % odd.name):
        train.common_format(train.load_datasets([folder]))


def test_one_label_is_refused_before_training(dataset, tmp_path):
    recordings = [r for r in train.load_datasets([dataset]) if r.label == "wave"]
    with pytest.raises(PicomlError, match="at least two labels"):
        train.train_gesture(recordings, tmp_path / "m.pml", log=None)
    assert not (tmp_path / "m.pml").exists()


def test_the_cli_prints_the_error_and_exits_2(dataset, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(dataset, folder)
    _truncate(_first(folder, "idle"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert main(["train", "gesture", str(folder), "-o", str(tmp_path / "m.pml")]) == 2
    assert "not a readable recording" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before      # nothing of the dataset changed


def test_damaged_wav_files_are_clear_errors(tmp_path):
    """Random damage to a WAV header and data: read_wav returns int16 samples or raises PicomlError."""
    good = tmp_path / "good.wav"
    speech.write_wav(good, (np.sin(np.arange(16000) / 5) * 3000).astype(np.int16))
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "x.wav"
    refused = 0
    for _ in range(1500):
        b = bytearray(data)
        if rng.integers(4) == 0:
            b = b[:rng.integers(0, 200)]
        else:
            for _ in range(rng.integers(1, 6)):
                b[rng.integers(0, 60)] = rng.integers(256)
        path.write_bytes(bytes(b))
        try:
            assert features.read_wav(path).dtype == np.int16
        except PicomlError as e:
            assert str(path) in str(e)
            refused += 1
    assert refused > 500        # most damage is refused, not silently read
    with pytest.raises(PicomlError, match="is a folder"):
        features.read_wav(tmp_path)


def test_a_speech_dataset_with_a_damaged_clip_names_it(tmp_path):
    speech.write_wav(tmp_path / "a.wav", np.zeros(16000, np.int16))
    (tmp_path / "b.wav").write_bytes(b"RIFF\x00\x00")
    clips = [{"file": "a.wav", "label": "yes", "group": "p1"}, {"file": "b.wav", "label": "no", "group": "p2"}]
    (tmp_path / "index.json").write_text(json.dumps({"kind": "speech", "clips": clips}))
    with pytest.raises(PicomlError, match="b.wav is not a PCM WAV file"):
        speech.load_dataset(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"kind": "speech", "clips": [{"label": "yes"}]}))
    with pytest.raises(PicomlError, match="not a speech dataset index"):
        speech.load_dataset(tmp_path)


def test_a_short_clip_is_padded_with_silence():
    from picoml import kws
    short = (np.sin(np.arange(12000) / 7) * 2000).astype(np.int16)
    padded = np.concatenate([short, np.zeros(4000, np.int16)])
    assert np.array_equal(kws.clip_features(short), kws.clip_features(padded))
    with pytest.raises(PicomlError, match="fewer than one frame"):
        kws.clip_features(np.zeros(100, np.int16))


def test_a_window_too_short_for_the_model_is_a_clear_error(dataset):
    """A gesture window too short for the model's convolutions (Keras raised its own error) or an anomaly window
    shorter than the filter bank's taps is a PicomlError saying so, before any training."""
    from picoml.anomaly import train_anomaly
    recordings = train.load_datasets([dataset])
    with pytest.raises(PicomlError, match="a window of 2 frames is too short for the gesture model"):
        train.train_gesture(recordings, "unused.pml", window=2, epochs=1, log=None)
    with pytest.raises(PicomlError, match="a window of 64 frames is shorter than the filter bank's 128 taps"):
        train_anomaly(recordings, "unused.pml", window=64, epochs=1, log=None)



def test_a_model_no_better_than_chance_is_reported_as_such(dataset, tmp_path):
    """Recordings of nothing (a dead sensor): the report gives the held-out set's chance level beside the accuracy
    and the log says the model is no better (it gave the accuracy alone: 0.5 for two classes looked like a model)."""
    recordings = [replace(r, samples=np.zeros_like(r.samples)) for r in train.load_datasets([dataset])]
    lines = []
    summary = train.train_gesture(recordings, tmp_path / "m.pml", window=26, epochs=1, log=lines.append)
    counts = np.sum(summary["confusion_int8"], axis=1)
    assert summary["chance"] == {"accuracy": counts.max() / counts.sum(),
                                 "label": summary["labels"][int(np.argmax(counts))]}
    assert summary["accuracy"]["int8"] <= summary["chance"]["accuracy"]
    assert any("NO BETTER THAN CHANCE" in line for line in lines if isinstance(line, str)), lines
    assert json.loads((tmp_path / "m.pml.report.json").read_text())["chance"] == summary["chance"]
