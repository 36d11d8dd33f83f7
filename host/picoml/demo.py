"""`picoml demo`: the whole gesture workflow on the virtual board, from a clone of the project alone.

1. record each gesture, performed by a few synthetic persons, from the virtual board's emulated IMU
   (`picoml capture --motion` for each);
2. train, quantize and convert (`picoml train gesture`);
3. deploy the library, the model and models/gesture/main.py to the virtual board (`picoml deploy`);
4. the virtual IMU performs a scripted sequence of gestures with idle stretches between them, by a person who
   was not recorded, while main.py runs on the board and prints each gesture it recognises;
5. compare what it printed with what was performed.
"""
import pathlib
import re
import time

import numpy as np

from . import motion, resources
from .argtypes import positive_int
from .capture import RawRepl, capture, imu_source, write_dataset
from .errors import PicomlError
from .virtual_board import VirtualBoard

RATE = 104
DETECTION = re.compile(r"gesture (\w+) confidence ([\d.]+) window (\d+) (\d+) us")


def gesture_script(performances, seed=0, gesture_seconds=3.0, idle_seconds=3.0):
    """(steps, names): idle, then `performances` gestures drawn at random (never idle), each followed by idle."""
    rng = np.random.default_rng(seed)
    names = [motion.GESTURES[1:][i] for i in rng.integers(0, len(motion.GESTURES) - 1, performances)]
    steps = [("idle", idle_seconds)]
    for name in names:
        steps += [(name, gesture_seconds), ("idle", idle_seconds)]
    return steps, names


def record(out, persons, seconds, speed, log):
    """One recording per person and gesture, captured from the virtual board performing it."""
    work = pathlib.Path(out).parent / "motion"
    work.mkdir(parents=True, exist_ok=True)
    for i, person in enumerate(motion.people(persons, seed=1)):
        for gesture in motion.GESTURES:
            path = motion.write_motion_file(work / "take.pmot", motion.perform(gesture, seconds + 5, RATE, person),
                                            RATE)
            with VirtualBoard(motion=path, time_scale=speed) as board:
                recordings, problems, lost, bad = capture(board.port, gesture, seconds, None,
                                                          imu_source("virtual", RATE), log=log, progress=False,
                                                          expected_rate=RATE)
            if problems or lost or bad or any(getattr(r, "overruns", 0) for r in recordings):
                raise PicomlError("recording %s of %s was damaged: %s" % (gesture, person.name, problems))
            for r in recordings:
                r.person = person.name
            write_dataset(out, recordings, "virtual board performing", log=lambda *a: None)
        log("  recorded %s performing %s" % (person.name, ", ".join(motion.GESTURES)))


def run_on_board(port, windows, log, call=None, detection=DETECTION):
    """Run main.py (on the board's flash) for `windows` windows (or run `call`, code that calls it); return its
    output lines, logging those that match `detection`."""
    repl = RawRepl(port)
    lines, text = [], bytearray()
    try:
        repl.start(call or "import main\nmain.main(windows=%d)\n" % windows)
        deadline = time.monotonic() + 600
        while not text.endswith(b"\x04>") and time.monotonic() < deadline:
            chunk = repl.read()
            text += chunk
            while b"\n" in text and not text.startswith(b"\x04"):
                line, _, rest = bytes(text).partition(b"\n")
                text = bytearray(rest)
                line = line.decode(errors="replace").strip().lstrip("OK")
                lines.append(line)
                if detection.match(line):
                    log("  board: " + line)
    finally:
        repl.close()
    errors = bytes(text).split(b"\x04")
    if len(errors) > 1 and errors[1].strip():
        raise PicomlError("main.py failed on the board:\n%s" % errors[1].decode(errors="replace"))
    return lines


def score(lines, spans, window, hop):
    """(recognised performances, false detections): a detection counts for a performed gesture of the same name
    when the window it came from ends inside the performance or within one window after it."""
    detections = []
    for line in lines:
        m = DETECTION.match(line)
        if m:
            end = (int(m.group(3)) - 1) * hop + window
            detections.append((m.group(1), end))
    performed = [(g, s, e) for g, s, e in spans if g != "idle"]
    matched = set()
    false = 0
    for label, end in detections:
        hit = [i for i, (g, s, e) in enumerate(performed) if g == label and s + hop <= end <= e + window]
        if hit:
            matched.add(hit[0])
        else:
            false += 1
    return len(matched), len(performed), false, detections


def gesture_demo(work="build/demo", persons=8, seconds=8, speed=4, performances=20, epochs=30, log=print):
    from .deploy import Mpremote, deploy
    from .train import load_datasets, train_gesture
    work = pathlib.Path(work)
    data = work / "data"
    if data.exists():
        for f in data.iterdir():
            f.unlink()
    started = time.monotonic()
    log("1/5 recording %d gestures x %d persons from the virtual board's IMU (%g s each, its clock x%d)"
        % (len(motion.GESTURES), persons, seconds, speed))
    with VirtualBoard() as board:        # the library on its flash first: recording runs picoml.record there
        deploy(None, board.port, log=lambda *a: None)
    record(data, persons, seconds, speed, log)
    log("2/5 training, quantizing to int8 and converting to .pml")
    model = work / "gesture.pml"
    summary = train_gesture(load_datasets([data]), model, epochs=epochs, seed=0, log=None)
    log("  held-out accuracy: float %.3f, int8 %.3f; %d bytes, arena %d bytes"
        % (summary["accuracy"]["float"], summary["accuracy"]["int8"], summary["pml_bytes"], summary["arena_bytes"]))
    steps, names = gesture_script(performances, seed=0)
    samples, spans = motion.sequence(steps, RATE, motion.people(persons + 1, seed=1)[-1])
    script = motion.write_motion_file(work / "script.pmot", samples, RATE)
    info = summary
    windows = (len(samples) - info["window"]) // info["hop"] + 1
    with VirtualBoard(motion=script, time_scale=speed) as board:
        log("3/5 deploying the library, the model and models/gesture/main.py to the virtual board")
        deploy(str(model), board.port, log=lambda *a: None)
        Mpremote(board.port).copy(resources.example_models() / "gesture" / "main.py", "main.py")
        log("4/5 the virtual board performs %d gestures (%s) with idle stretches; main.py recognises:"
            % (performances, " ".join(names)))
        lines = run_on_board(board.port, windows, log)
    found, total, false, detections = score(lines, spans, info["window"], info["hop"])
    log("5/5 recognised %d of %d performed gestures, %d false detections (%d s in all)"
        % (found, total, false, time.monotonic() - started))
    return found, total, false


def cmd_demo(args):
    gesture_demo(args.work, persons=args.persons, speed=args.speed, performances=args.gestures)
    return 0


def add_commands(subparsers):
    d = subparsers.add_parser("demo", help="the whole gesture workflow on the virtual board: record, train, deploy, "
                                           "recognise a scripted performance")
    d.add_argument("--work", default="build/demo", help="the folder for the dataset, model and motion files")
    d.add_argument("--persons", type=positive_int, default=8, help="synthetic persons recorded for training")
    d.add_argument("--gestures", type=positive_int, default=20, help="gestures in the scripted performance")
    d.add_argument("--speed", type=positive_int, default=4, help="the virtual IMU's clock, times real time")
    d.set_defaults(func=cmd_demo)
