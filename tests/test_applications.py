"""The example applications' device scripts (models/*/main.py) on the virtual board, its IMU performing a known
script: the expected detections, nothing during the quiet stretches."""
import pathlib

import pytest

from picoml import demo, format, motion, vibration
from picoml.deploy import Mpremote, deploy
from picoml.virtual_board import VirtualBoard

MODELS = pathlib.Path(__file__).resolve().parents[1] / "models"


def _run_app(tmp_path, app, samples, rate, windows, speed):
    script = motion.write_motion_file(tmp_path / "script.pmot", samples, rate)
    with VirtualBoard(flash=tmp_path / "board.img", motion=script, time_scale=speed) as board:
        deploy(str(MODELS / app / ("%s.pml" % app)), board.port, log=lambda *a: None)
        Mpremote(board.port).copy(MODELS / app / "main.py", "main.py")
        return demo.run_on_board(board.port, windows, lambda *a: None)


@pytest.mark.slow
def test_gesture_main_recognises_a_scripted_performance(tmp_path):
    meta = format.read((MODELS / "gesture" / "gesture.pml").read_bytes()).metadata["input"]
    steps = [("idle", 3), ("wave", 3), ("idle", 3), ("punch", 3), ("idle", 3), ("circle", 3), ("idle", 3),
             ("shake", 3), ("idle", 3)]
    samples, spans = motion.sequence(steps, meta["rate"], motion.people(1, seed=99)[0])
    windows = (len(samples) - meta["window"]) // meta["hop"] + 1
    lines = _run_app(tmp_path, "gesture", samples, meta["rate"], windows, speed=4)
    found, total, false, detections = demo.score(lines, spans, meta["window"], meta["hop"])
    assert (found, total, false) == (4, 4, 0), (detections, lines)
    assert lines[-1] == "picoml gesture: %d windows" % windows


@pytest.mark.slow
def test_anomaly_main_reports_a_fault_and_its_end(tmp_path):
    meta = format.read((MODELS / "anomaly" / "anomaly.pml").read_bytes()).metadata["input"]
    rate = meta["rate"]
    machine = vibration.machines(1, seed=99)[0]
    parts = [vibration.vibrate(c, 3, rate, machine, start=3 * i)
             for i, c in enumerate(("normal", "imbalance", "normal"))]
    import numpy as np
    samples = np.concatenate(parts)
    windows = (len(samples) - meta["window"]) // meta["hop"] + 1
    lines = _run_app(tmp_path, "anomaly", samples, rate, windows, speed=1)
    events = [line.split()[0] for line in lines if line.startswith(("ANOMALY", "normal"))]
    assert events == ["ANOMALY", "normal"], lines
    first = int(next(line for line in lines if line.startswith("ANOMALY")).split()[4])
    assert 3 * rate <= (first - 1) * meta["hop"] + meta["window"] <= 4 * rate, lines
