"""picoml train gesture on a small synthetic dataset: it learns, it is reproducible, its report is true."""
import json

import numpy as np
import pytest

from picoml import format, motion, reference, train
from picoml.errors import PicomlError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gestures")
    motion.write_dataset(out, persons=4, seconds=6, rate=52, gestures=("idle", "wave", "shake"), log=None)
    return out


def test_windows_are_cut_as_the_device_window_cuts_them():
    x = np.arange(20)[:, None]
    w = train.windows(x, 8, 3)
    assert [list(v[:, 0]) for v in w] == [list(range(k * 3, k * 3 + 8)) for k in range(5)]


def test_split_keeps_persons_apart():
    tr, te = train.split_groups(["a", "a", "b", "c", "d"], 0.25, seed=0)
    assert tr.isdisjoint(te) and tr | te == {"a", "b", "c", "d"} and len(te) == 1


@pytest.mark.slow
def test_train_gesture_learns_reproducibly_and_reports_the_truth(dataset, tmp_path):
    recordings = train.load_datasets([dataset])
    summary = train.train_gesture(recordings, tmp_path / "g.pml", window=52, hop=13, epochs=8, seed=1, log=None)
    blob = (tmp_path / "g.pml").read_bytes()
    model = format.read(blob)
    meta = model.metadata
    assert meta["labels"] == ["idle", "shake", "wave"]
    assert meta["input"]["window"] == 52 and meta["input"]["hop"] == 13 and meta["input"]["channels"] == 6
    assert len(meta["input"]["scale"]) == 6
    report = json.loads((tmp_path / "g.pml.report.json").read_text())
    assert report == json.loads(json.dumps(summary))
    assert (tmp_path / "g.pml.confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert set(report["train_groups"]).isdisjoint(report["test_groups"])
    assert np.sum(report["confusion_int8"]) == report["test_windows"]
    assert report["accuracy"]["int8"] > 0.8, report        # 3 classes: chance is 0.33
    # latency measured, then projected per board from the emulated cores' estimated cycles
    timing = report["latency"]
    assert timing["notes"] == [] and timing["unix_us"] > 0
    m4 = timing["instructions"]["qemu-m4"]
    assert m4 > report["macs"] and timing["instructions"]["qemu-m0"] > m4
    xiao = timing["boards"]["Seeed Studio XIAO nRF52840 Sense"]
    assert xiao["projected_ms"] == round(timing["cycles_estimate"]["qemu-m4"] / 64e6 * 1000, 2)
    assert timing["cycles_estimate"]["qemu-m4"] > m4
    assert timing["boards"]["M5Stack M5StickC PLUS (ESP32-PICO-D4, MPU-6886)"]["projected_ms"] is None
    # the reported int8 accuracy is the .pml's own: recompute it from the held-out recordings
    test = [r for r in recordings if r.group in report["test_groups"]]
    hits = total = 0
    for r in test:
        for w in train.windows(r.samples.astype(np.float32) * np.float32(r.scale), 52, 13):
            y = reference.run(model, [w[None]])[0]
            hits += int(np.argmax(y)) == meta["labels"].index(r.label)
            total += 1
    assert hits / total == pytest.approx(report["accuracy"]["int8"])
    # the same seed gives the same model
    (tmp_path / "again").mkdir()
    train.train_gesture(recordings, tmp_path / "again" / "g.pml", window=52, hop=13, epochs=8, seed=1, log=None)
    assert (tmp_path / "again" / "g.pml").read_bytes() == blob


@pytest.mark.slow
def test_quantization_aware_training_gives_a_model_as_good(dataset, tmp_path):
    recordings = train.load_datasets([dataset])
    summary = train.train_gesture(recordings, tmp_path / "q.pml", window=52, hop=13, epochs=8, seed=1, qat=True,
                                  log=None)
    assert summary["quantization"] == "quantization-aware training"
    assert summary["accuracy"]["int8"] > 0.8, summary
    model = format.read((tmp_path / "q.pml").read_bytes())
    assert model.metadata["labels"] == ["idle", "shake", "wave"] and model.ops[0].name == "CONV_2D"


def test_bad_datasets_are_clear_errors(tmp_path):
    with pytest.raises(PicomlError, match="no index.json"):
        train.load_datasets([tmp_path])
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(PicomlError, match="not a picoml dataset index"):
        train.load_datasets([tmp_path])


def test_recordings_the_index_does_not_list_are_said_to_be_left_out(dataset, tmp_path):
    """A recording copied into a dataset folder without its index entry was left out of training silently."""
    import shutil
    shutil.copytree(dataset, tmp_path / "data")
    shutil.copy(tmp_path / "data" / "wave_0000.npz", tmp_path / "data" / "mine.npz")
    lines = []
    assert len(train.load_datasets([tmp_path / "data"], log=lines.append)) == len(train.load_datasets([dataset]))
    assert lines == ["note: %s: 1 .npz file not in index.json, not used: mine.npz" % (tmp_path / "data")]


def test_plot_writes_a_png_of_every_recording(dataset, tmp_path):
    from picoml.cli import main
    assert main(["plot", str(dataset), "-o", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
