"""Keyword spotting: the synthetic speech (picoml.speech), `picoml train kws` on a small dataset (it learns, it is
reproducible, its report is true), and models/kws: its detection logic on a stream of keywords in noise by a
voice it never heard."""
import json
import re

import numpy as np
import pytest

from picoml import format, kws, reference, speech
from picoml.errors import PicomlError

from test_applications import MODELS


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("speech")
    speech.write_dataset(out, per_voice=4, keywords=("yes", "no"), accents=("en-us", "en"),
                         speakers=("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"), accents_per_speaker=1, seed=0,
                         log=None)
    return out


def test_clips_are_one_second_of_16_bit_audio_with_what_the_index_says(dataset):
    index, clips = speech.load_dataset(dataset)
    assert index["labels"] == ["yes", "no", "unknown", "silence"]
    assert len(clips) == 8 * 4 * 4
    for c in clips:
        assert c["samples"].dtype == np.int16 and len(c["samples"]) == speech.CLIP
        assert c["group"] == c["voice"].split("+")[1]
        if c["label"] == "silence":
            assert "word" not in c
        else:
            assert c["word"] == c["label"] or (c["label"] == "unknown" and c["word"] not in ("yes", "no"))
            # the word is where the index says: louder there than in the rest of the clip (noise only)
            s = c["samples"].astype(np.float64)
            inside = s[c["offset"]:c["offset"] + c["length"]]
            outside = np.concatenate([s[:c["offset"]], s[c["offset"] + c["length"]:]])
            if len(outside) > 1600:
                assert np.sqrt(np.mean(inside ** 2)) > np.sqrt(np.mean(outside ** 2)), c["file"]


def test_training_features_are_picoml_features(dataset):
    """kws.features (TFLite Micro's runtime, fast) gives picoml.features.features' bytes, from a reset front-end and
    warmed up (a clip played twice, as training's streaming copy)."""
    from picoml.features import features
    _, clips = speech.load_dataset(dataset)
    for c in clips[::40]:
        x = c["samples"]
        assert np.array_equal(kws.features(x), features(x))
        assert np.array_equal(kws.clip_features(x, warm=True), features(np.concatenate([x, x]))[50:99])


def test_the_same_seed_gives_the_same_clip():
    pool = [speech.say("cat", "en+m2")]
    a = speech.clip("yes", "en-us+f3", np.random.default_rng(5), pool)
    b = speech.clip("yes", "en-us+f3", np.random.default_rng(5), pool)
    assert a[1] == b[1] and np.array_equal(a[0], b[0])


def test_noises_have_the_spectrum_they_claim():
    rng = np.random.default_rng(0)
    n = 4 * speech.RATE
    f = np.fft.rfftfreq(n, 1 / speech.RATE)

    def slope(x):    # power per octave band, 200 Hz..6.4 kHz: its trend in dB per octave
        p = np.abs(np.fft.rfft(x)) ** 2
        bands = [p[(f >= 200 * 2 ** k) & (f < 400 * 2 ** k)].mean() for k in range(5)]
        return np.polyfit(range(5), 10 * np.log10(bands), 1)[0]

    assert abs(slope(speech.noise("white", n, rng))) < 0.5
    assert abs(slope(speech.noise("pink", n, rng)) + 3) < 0.5
    assert abs(slope(speech.noise("brown", n, rng)) + 6) < 0.5
    hum = np.abs(np.fft.rfft(speech.noise("hum", n, rng))) ** 2
    peak = f[np.argmax(hum)]         # a harmonic (1..7) of 50 or 60 Hz mains
    assert any(1 <= round(peak / b) <= 7 and abs(peak / b - round(peak / b)) < 0.05 for b in (50, 60)), peak
    for kind in speech.NOISES:
        x = speech.noise(kind, n, rng, [speech.say("dog", "en+f1")])
        assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="unknown noise"):
        speech.noise("rain", n, rng)


def test_a_sequence_places_each_word_where_its_span_says():
    samples, spans = speech.sequence(["yes", "no", "left"], "en-gb-x-rp+m4", seed=3, snr_db=None)
    assert [w for w, _, _ in spans] == ["yes", "no", "left"]
    assert spans[0][1] == speech.RATE       # a second of noise first
    for (_, a, b), (_, c, _) in zip(spans, spans[1:]):
        assert b + 0.8 * speech.RATE <= c and not samples[b:c].any()      # silent pauses (no noise asked)
    assert all(samples[a:b].any() for _, a, b in spans)


def test_train_kws_learns_reproducibly_and_reports_the_truth(dataset, tmp_path):
    index, clips = speech.load_dataset(dataset)
    summary = kws.train_kws(index, clips, tmp_path / "k.pml", epochs=20, seed=1, log=None)
    blob = (tmp_path / "k.pml").read_bytes()
    model = format.read(blob)
    meta = model.metadata
    assert meta["labels"] == ["yes", "no", "unknown", "silence"]
    assert meta["input"]["keywords"] == ["yes", "no"]
    assert (meta["input"]["frames"], meta["input"]["features"]) == (49, 40)
    q = model.tensors[model.inputs[0].tensor]
    assert (q.scale, q.zero_point, q.dtype) == (1.0, 0, np.int8)      # the front-end's int8 rows go in as they are
    report = json.loads((tmp_path / "k.pml.report.json").read_text())
    assert report == json.loads(json.dumps(summary))
    assert (tmp_path / "k.pml.confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert set(report["train_groups"]).isdisjoint(report["test_groups"])
    assert all(v.split("+")[1] in report["test_groups"] for v in report["test_voices"])
    assert np.sum(report["confusion_int8"]) == report["test_clips"]
    assert report["accuracy"]["int8"] > 0.6, report           # 4 classes: chance is 0.25
    # the reported int8 accuracy is the .pml's own: recompute it from the held-out clips' WAV files
    hits = total = 0
    for c in clips:
        if c["group"] in report["test_groups"]:
            x = speech.read_wav(dataset / c["file"])
            y = reference.run(model, [kws.features(x)[None, :49, :, None].astype(np.float32)])[0]
            hits += int(np.argmax(y)) == meta["labels"].index(c["label"])
            total += 1
    assert total == report["test_clips"] and hits / total == pytest.approx(report["accuracy"]["int8"])
    (tmp_path / "again").mkdir()
    kws.train_kws(index, clips, tmp_path / "again" / "k.pml", epochs=20, seed=1, log=None)
    assert (tmp_path / "again" / "k.pml").read_bytes() == blob


def tone_dataset(folder, classes=("yes", "no"), speakers=("a", "b", "c"), per=2, seconds=1.0, **index):
    """A speech dataset without espeak-ng, fast: per speaker and class `per` clips of a tone (its pitch the
    class's) in noise; index.json's fields can be replaced or (None) left out."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    clips = []
    for s in speakers:
        for k, label in enumerate(classes):
            for i in range(per):
                t = np.arange(int(seconds * speech.RATE)) / speech.RATE
                x = 3000 * np.sin(2 * np.pi * 300 * (k + 1) * t) + rng.normal(0, 300, len(t))
                name = "%s_%s_%d.wav" % (label, s, i)
                speech.write_wav(folder / name, x.astype(np.int16))
                clips.append({"file": name, "label": label, "voice": "en+" + s, "group": s})
    fields = {"kind": "speech", "labels": list(classes), "keywords": list(classes), "clips": clips}
    fields.update(index)
    (folder / "index.json").write_text(json.dumps({k: v for k, v in fields.items() if v is not None}))
    return folder


def test_a_short_run_on_few_clips_gives_an_int8_model(tmp_path):
    """Batch normalisation's momentum for a run of few steps (1 - 20 / steps) came out negative: the moving
    statistics diverged and the converter left a convolution in float (an error after the training)."""
    index, clips = speech.load_dataset(tone_dataset(tmp_path))
    summary = kws.train_kws(index, clips, tmp_path / "k.pml", epochs=1, seed=0, log=None)
    assert summary["test_clips"] == 4 and {op.name for op in format.read((tmp_path / "k.pml").read_bytes()).ops} \
        >= {"DEPTHWISE_CONV_2D"}
    assert summary["chance"] == {"accuracy": 0.5, "label": "yes"}      # 2 clips each of the held-out speaker


@pytest.mark.parametrize("index, words", [
    ({"labels": ["yes"]}, "clip no_a_0.wav is labelled 'no', which is not one of its labels (yes)"),
    ({"keywords": ["yes", "maybe"]}, "its keywords (yes, maybe) must be some of its labels (yes, no)"),
    ({"keywords": []}, "its keywords (none) must be some"),
    ({"labels": "yes no"}, "must be lists"),
])
def test_a_speech_index_that_would_crash_or_mislead_training_is_refused(tmp_path, index, words):
    """A label missing from the index's labels was a ValueError traceback in training; a keyword that is no label
    was dropped silently."""
    with pytest.raises(PicomlError, match=re.escape(words)):
        speech.load_dataset(tone_dataset(tmp_path, **index))


def test_a_speech_index_without_labels_keywords_or_voices_is_filled_in(tmp_path):
    """An index made by hand (recorded clips, no generator): labels are the clips' in order, keywords every label
    but unknown and silence (they were every label: a board 'heard' silence), voices optional (their absence was a
    KeyError after the training)."""
    folder = tone_dataset(tmp_path, classes=("yes", "silence"), keywords=None)
    index = json.loads((folder / "index.json").read_text())
    del index["labels"]
    for c in index["clips"]:
        del c["voice"]
    (folder / "index.json").write_text(json.dumps(index))
    index, clips = speech.load_dataset(folder)
    assert (index["labels"], index["keywords"]) == (["yes", "silence"], ["yes"])
    summary = kws.train_kws(index, clips, tmp_path / "k.pml", epochs=1, seed=0, log=None)
    assert summary["test_voices"] == []
    assert format.read((tmp_path / "k.pml").read_bytes()).metadata["input"]["keywords"] == ["yes"]


def test_clips_a_split_by_speaker_cannot_use_are_refused_before_training(tmp_path):
    """No group (a KeyError traceback), a clip listed twice, a clip longer than 1 s (its first second taken
    silently), labels that differ in case, a label no training speaker has: PicomlErrors before any training."""
    folder = tone_dataset(tmp_path / "a", speakers=("a", "b"), per=1)
    index = json.loads((folder / "index.json").read_text())
    del index["clips"][1]["group"]
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(PicomlError, match="clip no_a_0.wav has no group"):
        speech.load_dataset(folder)
    index["clips"][1]["group"] = "a"
    index["clips"].append(index["clips"][0])
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(PicomlError, match="lists yes_a_0.wav twice"):
        speech.load_dataset(folder)
    folder = tone_dataset(tmp_path / "b", speakers=("a", "b"), per=1, seconds=1.5)
    with pytest.raises(PicomlError, match=r"yes_a_0.wav is 1.50 s long; a clip is at most 1 s"):
        speech.load_dataset(folder)
    index, clips = speech.load_dataset(tone_dataset(tmp_path / "c", classes=("yes", "Yes "), per=1))
    with pytest.raises(PicomlError, match="labels 'yes' and 'Yes ' differ only in case"):
        kws.train_kws(index, clips, tmp_path / "k.pml", epochs=1, log=None)
    index, clips = speech.load_dataset(tone_dataset(tmp_path / "d", per=1))
    index["labels"].append("left")
    with pytest.raises(PicomlError, match="no training data for 'left': it has no clip"):
        kws.train_kws(index, clips, tmp_path / "k.pml", epochs=1, log=None)
    assert not (tmp_path / "k.pml").exists()


def test_train_kws_small_is_the_smaller_ds_cnn(dataset, tmp_path, capsys):
    """--size small: the DS-CNN of kws.SIZES["small"] (a third of the default's MACs), recorded in the report;
    --size for another kind of model is refused."""
    from picoml.cli import main
    index, clips = speech.load_dataset(dataset)
    report = kws.train_kws(index, clips, tmp_path / "s.pml", epochs=2, seed=1, log=None, size="small")
    model = format.read((tmp_path / "s.pml").read_bytes())
    first, blocks = kws.SIZES["small"]
    assert report["size"] == "small"
    assert [op.name for op in model.ops].count("DEPTHWISE_CONV_2D") == len(blocks)
    assert model.tensors[model.ops[0].outputs[0]].shape[-1] == first
    assert 1.2e6 < report["macs"] < 1.4e6
    assert main(["train", "gesture", str(dataset), "-o", str(tmp_path / "g.pml"), "--size", "small"]) == 2
    assert "--size applies to kws models" in capsys.readouterr().err


def test_bad_speech_datasets_are_clear_errors(tmp_path):
    with pytest.raises(PicomlError, match="no index.json"):
        speech.load_dataset(tmp_path)
    (tmp_path / "index.json").write_text('{"recordings": []}')
    with pytest.raises(PicomlError, match="is a dataset of sensor recordings .*: train it with picoml train gesture"):
        speech.load_dataset(tmp_path)
    (tmp_path / "index.json").write_text('{"clips": []}')
    with pytest.raises(PicomlError, match="not a speech dataset index"):
        speech.load_dataset(tmp_path)
    speech.write_wav(tmp_path / "x.wav", np.zeros(100, np.int16), rate=8000)
    with pytest.raises(PicomlError, match="8000 Hz, not 16000"):
        speech.read_wav(tmp_path / "x.wav")


def test_score_matches_detections_to_words_in_order():
    spans = [("yes", 16000, 20000), ("no", 40000, 44000), ("left", 64000, 68000)]
    hop = kws.HOP_SAMPLES
    assert kws.score([("yes", 0.9, 70), ("no", 0.9, 140), ("left", 0.9, 215)], spans) == (3, 0)
    assert kws.score([("yes", 0.9, 70), ("yes", 0.9, 80), ("left", 0.9, 215)], spans) == (2, 1)
    assert kws.score([("no", 0.9, 70)], spans) == (0, 1)
    assert kws.score([("yes", 0.9, 40000 // hop)], spans) == (0, 1)          # more than 1 s after the word


def keyword_script(report, count=10, seed=0):
    """count keywords drawn at random, and a voice of a speaker held out of the model's training."""
    rng = np.random.default_rng(seed)
    keywords = [k for k in report["labels"] if k not in ("unknown", "silence")]
    return [keywords[i] for i in rng.integers(0, len(keywords), count)], report["test_voices"][seed]


def test_kws_main_detection_on_host_features_hears_a_held_out_voice():
    """models/kws/main.py's Detector, on features and inferences computed on the host (the numpy reference and the
    micro_speech front-end), as the board streams them: 10 keywords in pink noise at 15 dB."""
    report = json.loads((MODELS / "kws" / "kws.pml.report.json").read_text())
    model = format.read((MODELS / "kws" / "kws.pml").read_bytes())
    words, voice = keyword_script(report)
    samples, spans = speech.sequence(words, voice, seed=0)
    detections = kws.stream_detections(samples, model)
    heard, false = kws.score(detections, spans)
    assert heard >= 8 and false <= 1, (words, voice, detections)


HEARD = re.compile(r"heard (\w+) confidence ([\d.]+) at ([\d.]+) s latency (\d+) us inference (\d+) us")


NO_NATIVE = """
import os, sys
lib = [p for p in sys.path if p.endswith('/lib')][0]
for name in os.listdir(lib):
    if name.startswith('_picoml'):
        os.remove(lib + '/' + name)
import picoml
print(picoml.load('kws.pml').backend)
"""


@pytest.mark.parametrize("backend", ["native", "viper"])
def test_kws_main_on_the_virtual_board_hears_a_held_out_voice(tmp_path, backend):
    """models/kws/main.py unchanged on the virtual board, its microphone playing 10 keywords in pink noise at 15 dB
    by a voice the model never heard, in real time: the microphone, picoml.audio.Frontend and the model on the
    board; with the native module, and without it (the viper backend an ESP32 board runs: the front-end's ops and
    the model's in viper code)."""
    from picoml.demo import run_on_board
    from picoml.deploy import Mpremote, deploy
    from picoml.virtual_board import VirtualBoard
    report = json.loads((MODELS / "kws" / "kws.pml.report.json").read_text())
    words, voice = keyword_script(report)
    samples, spans = speech.sequence(words, voice, seed=0)
    wav = speech.write_wav(tmp_path / "words.wav", samples)
    with VirtualBoard(flash=tmp_path / "flash", mic_wav=wav) as board:      # a host folder: mic.wav copied at once
        deploy(str(MODELS / "kws" / "kws.pml"), board.port, log=lambda *a: None)
        tool = Mpremote(board.port)
        tool.copy(MODELS / "kws" / "main.py", "main.py")
        if backend == "viper":
            assert tool.exec(NO_NATIVE).split()[-1] == "viper"
        lines = run_on_board(board.port, 0, lambda *a: None, call="import main\nmain.main()\n", detection=HEARD)
    detections = [(m.group(1), float(m.group(2)), round(float(m.group(3)) * speech.RATE / kws.HOP_SAMPLES))
                  for m in map(HEARD.match, lines) if m]
    heard, false = kws.score(detections, spans)
    print("%s: %s; %s" % (backend, lines[-1], " / ".join(line for line in lines if HEARD.match(line))[:300]))
    assert heard >= 8 and false <= 1, (words, voice, lines)
    assert lines[-1].startswith("picoml kws: %d hops" % ((len(samples) - 480) // 320 + 1)), lines
