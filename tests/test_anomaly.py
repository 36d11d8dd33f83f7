"""Vibration generator and picoml train anomaly: faults look as physics says, the int8 model separates them."""
import json

import numpy as np
import pytest

from picoml import anomaly, format, reference, train, vibration


def _spectrum_peak(x, rate):
    f = np.abs(np.fft.rfft(x - x.mean()))
    return np.argmax(f) * rate / len(x)


def test_fault_signatures():
    m = vibration.Machine()
    rate = 1666.0
    normal = vibration.vibrate("normal", 2, rate, m, speed_hz=25)
    assert np.allclose(np.linalg.norm(normal.mean(0)), 9.80665, atol=0.05)
    imbalance = vibration.vibrate("imbalance", 2, rate, m, speed_hz=25)
    assert abs(_spectrum_peak(imbalance[:, 0], rate) - 25) < 1 and imbalance[:, 0].std() > 4 * normal[:, 0].std()
    misalignment = vibration.vibrate("misalignment", 2, rate, m, speed_hz=25)
    assert abs(_spectrum_peak(misalignment[:, 2], rate) - 50) < 1
    bearing = vibration.vibrate("bearing", 2, rate, m, speed_hz=25)
    assert abs(_spectrum_peak(bearing[:, 0], rate) - m.resonance_hz) < 0.2 * m.resonance_hz
    with pytest.raises(ValueError, match="unknown condition"):
        vibration.vibrate("rust", 1, rate)


def test_roc_auc():
    assert anomaly.roc_auc([0, 1, 2], [3, 4]) == 1.0
    assert anomaly.roc_auc([3, 4], [0, 1]) == 0.0
    assert anomaly.roc_auc([1, 1], [1, 1]) == 0.5


@pytest.mark.slow
def test_train_anomaly_on_normal_only_separates_faults(tmp_path):
    vibration.write_dataset(tmp_path / "data", n_machines=4, seconds=1.0, speeds=(25.0,), log=None)
    recordings = train.load_datasets([tmp_path / "data"])
    summary = anomaly.train_anomaly(recordings, tmp_path / "a.pml", epochs=15, seed=2, test_fraction=0.25, log=None)
    report = json.loads((tmp_path / "a.pml.report.json").read_text())
    assert report == json.loads(json.dumps(summary))
    assert set(report["faults"]) == set(vibration.FAULTS)
    assert report["latency"]["instructions"]["qemu-m4"] > report["macs"] and report["latency"]["unix_us"] > 0
    for fault, r in report["faults"].items():
        assert r["roc_auc_int8"] > 0.9, (fault, r)
        assert abs(r["roc_auc_int8"] - r["roc_auc_float"]) < 0.05, (fault, r)
    model = format.read((tmp_path / "a.pml").read_bytes())
    meta = model.metadata["input"]
    assert meta["kind"] == "anomaly" and meta["threshold"] == report["threshold"] and meta["window"] == 256
    # a held-out normal window scores low, a held-out imbalance window above the threshold, on the .pml itself
    test = [r for r in recordings if r.group in report["test_machines"]]
    out = model.tensors[model.outputs[0].tensor]

    def score(label):
        r = next(r for r in test if r.label == label)
        w = train.windows(r.samples.astype(np.float32) * np.float32(r.scale), 256, 128)[0]
        q = int(reference.run(model, [w[None]])[0].reshape(-1)[0])
        return (q - out.zero_point) * out.scale
    assert score("imbalance") > meta["threshold"] > score("normal") - 1e-9


def test_a_dataset_anomaly_training_cannot_use_is_refused_before_training(tmp_path, monkeypatch):
    """Held-out machines with no normal recording were found after the training (the threshold is calibrated on
    them); a dataset without 'normal' now says which labels it has."""
    from dataclasses import replace

    from picoml.errors import PicomlError
    vibration.write_dataset(tmp_path / "data", n_machines=3, seconds=0.5, speeds=(25.0,), log=None)
    recordings = train.load_datasets([tmp_path / "data"])

    def no_training(*args):
        raise AssertionError("trained on a dataset that cannot be calibrated")
    monkeypatch.setattr(anomaly, "_features_model", no_training)
    _, test = train.split_groups([r.group for r in recordings], 0.3, 0)
    kept = [r for r in recordings if not (r.group in test and r.label == "normal")]
    with pytest.raises(PicomlError, match="no normal window of 256 frames in the recordings of the held-out "
                                          "machines %s" % test.pop()):
        anomaly.train_anomaly(kept, tmp_path / "a.pml", log=None)
    renamed = [replace(r, label="fine") if r.label == "normal" else r for r in recordings]
    with pytest.raises(PicomlError, match="labelled 'normal' .*; the dataset's labels are 'bearing', 'fine'"):
        anomaly.train_anomaly(renamed, tmp_path / "a.pml", log=None)
    assert not (tmp_path / "a.pml").exists()
