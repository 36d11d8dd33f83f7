"""The motion generator: physical invariants, any output data rate, person variation, datasets."""
import json

import numpy as np
import pytest

from picoml import motion
from picoml.train import load_datasets


def test_at_rest_the_accelerometer_reads_gravity_and_the_gyroscope_zero():
    x = motion.perform("idle", 3.5, 104, motion.Person(), noise=False, phase=0.0)   # before the arm is raised
    assert np.allclose(np.linalg.norm(x[:, :3], axis=1), motion.G, atol=0.05)
    assert np.abs(x[:, 3:]).max() < 5           # slow posture drift only, deg/s


@pytest.mark.parametrize("gesture", motion.GESTURES)
def test_any_rate_samples_the_same_motion(gesture):
    person = motion.people(1, seed=3)[0]
    fast = motion.perform(gesture, 2, 208, person, noise=False, phase=0.4)
    slow = motion.perform(gesture, 2, 52, person, noise=False, phase=0.4)
    assert np.allclose(fast[::4], slow, atol=1e-6)


def test_gyroscope_integrates_to_the_rotation_of_gravity():
    """Rotating the measured gravity direction by the integrated gyro rates reproduces the next measurement."""
    person = motion.Person(mount=(0.2, -0.1, 0.3), posture=(0.1, 0.05, 0.0))
    rate = 1000.0
    x = motion.perform("wave", 1, rate, person, noise=False, phase=0.0)
    # with little linear acceleration at the turning points the accelerometer is dominated by gravity; instead
    # check d(R^T z)/dt = -omega x (R^T z) on the gravity direction computed from the generator's own pose
    p, r = motion._pose([("wave", 0.0, 1.0, 0.0)], np.arange(len(x)) / rate, person)
    up = r[:, 2, :]                               # world z in the sensor frame: rows of R^T z
    d_up = np.gradient(up, 1 / rate, axis=0)
    omega = np.radians(x[:, 3:])
    assert np.allclose(d_up[1:-1], -np.cross(omega, up)[1:-1], atol=0.02)


def test_left_handed_is_the_mirror_image():
    right = motion.Person()
    left = motion.Person(left_handed=True)
    a = motion.perform("circle", 2, 104, right, noise=False, phase=1.0)
    b = motion.perform("circle", 2, 104, left, noise=False, phase=1.0)
    assert np.allclose(a[:, [0, 2]], b[:, [0, 2]], atol=1e-6)
    assert np.allclose(a[:, 1], -b[:, 1], atol=1e-6)
    assert np.allclose(a[:, [3, 5]], -b[:, [3, 5]], atol=1e-6) and np.allclose(a[:, 4], b[:, 4], atol=1e-6)


def test_gestures_differ_and_people_differ():
    p = motion.people(2, seed=1)
    spreads = {g: motion.perform(g, 3, 104, p[0]).std(0) for g in motion.GESTURES}
    assert spreads["idle"][:3].max() < 0.3 < min(s[:3].max() for g, s in spreads.items() if g != "idle")
    assert not np.allclose(motion.perform("wave", 3, 104, p[0]), motion.perform("wave", 3, 104, p[1]))


def test_unknown_gesture_is_refused():
    with pytest.raises(ValueError, match="unknown gesture 'jump'"):
        motion.perform("jump", 1, 100)


def test_dataset_has_counts_scale_units_and_persons(tmp_path):
    motion.write_dataset(tmp_path, persons=2, seconds=1, rate=52, gestures=("idle", "wave"), log=None)
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["recordings"]) == 4 and {e["person"] for e in index["recordings"]} == {"p00", "p01"}
    recordings = load_datasets([tmp_path])
    r = recordings[0]
    assert r.samples.dtype == np.int16 and r.samples.shape == (52, 6) and r.units[0] == "m/s^2"
    person = motion.people(2)[0]
    expected = motion.perform(r.label, 1, 52, person)
    assert r.group == person.name
    assert np.allclose(r.samples * np.array(r.scale), expected, atol=np.array(r.scale) / 2 + 1e-9)


def test_a_sequence_moves_smoothly_from_one_gesture_into_the_next():
    x, spans = motion.sequence([("idle", 2), ("punch", 2), ("idle", 2)], 208, motion.Person(), noise=False)
    assert [s[1:] for s in spans] == [(0, 416), (416, 832), (832, 1248)]
    jerk = np.abs(np.diff(x[:, :3], axis=0)).max(1) * 208            # m/s^3 between samples
    inside = motion.perform("punch", 2, 208, motion.Person(), noise=False, start=2).std(0)
    assert x[500:750, :3].std(0).max() > 0.5 * inside[:3].max()       # the punches are there
    assert jerk[:300].max() < 20 and jerk[-200:].max() < 20           # and the idle ends are still
