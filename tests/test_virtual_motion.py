"""The virtual board's IMU performs what it is told: `picoml capture --motion` records the generator's motion
through the emulated chip's registers and FIFO, sample for sample (within the chip's rounding of one count)."""
import numpy as np
import pytest

from picoml import motion, vibration
from picoml.cli import main


@pytest.mark.parametrize("what, rate, speed", [("circle", 104, 4), ("imbalance", 833, 1)])
def test_capture_records_the_performance(tmp_path, monkeypatch, what, rate, speed):
    monkeypatch.chdir(tmp_path)
    seconds = 2
    assert main(["capture", "--port", "virtual", "--imu", "virtual", "--rate", str(rate), "--seconds", str(seconds),
                 "--label", what, "--motion", what, "--performer", "2", "--speed", str(speed),
                 "--out", str(tmp_path / "data")]) == 0
    got = np.load(tmp_path / "data" / ("%s_0000.npz" % what))["samples"]
    assert got.shape == (seconds * rate, 6)
    if what in motion.GESTURES:
        expected = motion.perform(what, seconds * 1.5 + 5, rate, motion.people(3)[-1])
    else:
        expected = vibration.vibrate(what, seconds * 1.5 + 5, rate, vibration.machines(3)[-1])
    expected = motion.to_counts(expected)
    offsets = [k for k in range(64) if np.abs(expected[k:k + len(got)].astype(int) - got).max() <= 1]
    assert offsets, "the recording is not the performance at any start offset"


def test_motion_needs_the_virtual_board(tmp_path, capsys):
    assert main(["capture", "--port", "/dev/null", "--seconds", "1", "--label", "x", "--motion", "wave",
                 "--out", str(tmp_path)]) == 2
    assert "--port virtual --imu virtual" in capsys.readouterr().err
