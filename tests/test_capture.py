"""Recording on the board (device/picoml/recording.py) and reading it on the host (picoml.capture): the end-to-end
capture over the virtual board's serial link, the stream parser on damaged bytes, the on-board file through
`pull`, and docs/recording.md's tables against the code."""
import argparse
import ast
import json
import re
import shutil
import sys
import struct
import subprocess
import zlib

import numpy as np
import pytest

from conftest import ROOT
from picoml import capture as C
from picoml import format
from picoml.deploy import Mpremote
from picoml.errors import PicomlError
from picoml.runtimes.unix import micropython
from picoml.virtual_board import VirtualBoard

DEVICE = ROOT / "device" / "picoml"
SPEC = (ROOT / "docs" / "recording.md").read_text()
TYPES = {"u8": "B", "u16": "H", "u32": "I", "char[2]": "2s", "char[4]": "4s"}


def spec_table(heading):
    section = SPEC.split("\n" + heading, 1)[1].split("\n## ", 1)[0]
    return [(int(m.group(1)), m.group(2), m.group(3))
            for m in re.finditer(r"^\| (\d+) \| ([\w\[\]]+) \| (\w+) \|", section, re.M)]


def device_record():
    """device/picoml/recording.py imported into CPython (it only needs what both Pythons have)."""
    return format.device_module("recording")


def test_clock_without_ticks_us():
    """picoml.clock where time has no ticks_us (CircuitPython; here CPython): MicroPython's semantics over
    monotonic_ns, ticks wrapping at 2^30 us."""
    clock = format.device_module("clock")
    import time
    assert not hasattr(time, "ticks_us") and clock.ticks_us.__module__ == "device_picoml.clock"
    top = (1 << 30) - 1
    assert clock.ticks_add(top, 1) == 0 and clock.ticks_add(5, -10) == top - 4
    assert clock.ticks_diff(3, top - 2) == 6 and clock.ticks_diff(top - 2, 3) == -6
    assert clock.ticks_diff(1 << 29, 0) == -(1 << 29)      # half a period: as MicroPython's
    t0 = clock.ticks_us()
    clock.sleep_us(20000)
    assert 15000 <= clock.ticks_diff(clock.ticks_us(), t0) < 2000000


@pytest.mark.parametrize("heading, struct_, names", [
    ("## Recording header", C.HEADER, C.HEADER_FIELDS),
    ("## Frame header", C.FRAME_HEADER, C.FRAME_FIELDS),
    ("## Data payload", C.DATA_PAYLOAD, C.DATA_FIELDS),
    ("## End payload", C.END_PAYLOAD, C.END_FIELDS),
])
def test_spec_tables_match_code(heading, struct_, names):
    rows = spec_table(heading)
    fmt = "<" + "".join(TYPES[t] for _, t, _ in rows)
    assert fmt == struct_.format
    assert [o for o, _, _ in rows] == [struct.calcsize("<" + "".join(TYPES[t] for _, t, _ in rows[:i]))
                                       for i in range(len(rows))]
    assert tuple(f for _, _, f in rows) == names
    assert "(%d bytes" % struct_.size in heading + SPEC.split(heading, 1)[1].split("\n", 1)[0]


def test_device_constants_match_host():
    dev = device_record()
    assert dev.HEADER == C.HEADER.format and dev.HEADER_SIZE == C.HEADER.size
    assert dev.FRAME_HEADER_SIZE == C.FRAME_HEADER.size and dev.END_PAYLOAD == C.END_PAYLOAD.format
    assert (dev.MAGIC, dev.SYNC, dev.VERSION, dev.MAX_PAYLOAD) == (C.MAGIC, C.SYNC, C.VERSION, C.MAX_PAYLOAD)
    assert (dev.START, dev.DATA, dev.END, dev.INT16_LE, dev.FLAG_INCOMPLETE) == \
        (C.START, C.DATA, C.END, C.INT16_LE, C.FLAG_INCOMPLETE)
    assert bytes(dev._header("wave", "pico", 104500, 3, 10, 2, 1)) == \
        C.make_header("wave", 104.5, 3, 10, "pico", late=2, flags=1)
    source = dev.Synthetic(4)
    assert np.array_equal([source() for _ in range(300)], C.synthetic(300, 4))
    dev.crc32 = None    # the pure-Python CRC-32 fallback
    data = bytes(range(256)) * 3
    assert dev._crc32(data) == zlib.crc32(data)
    samples = np.array([-32768, -1, 0, 1, 32767, 1234], np.int16)
    assert dev._crc32(memoryview(samples), 0, True) == zlib.crc32(samples.tobytes())


# ---- a stream captured from the unix port (stdout of `record(..., to="serial")`) ----

N, RATE, CH, BLOCK = 400, 4000, 3, 20     # 20 data frames of 20 samples


@pytest.fixture(scope="module")
def stream():
    code = ("import sys\nsys.path.insert(0, %r)\nfrom picoml.recording import record, Synthetic\n"
            "record('wave', %r, source=Synthetic(%d), rate=%d, to='serial', block=%d, board='unix')\n"
            % (str(DEVICE.parent), N / RATE, CH, RATE, BLOCK))
    done = subprocess.run([micropython(), "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def frame_offsets(data):
    """Offsets of the frames of an undamaged stream."""
    offsets, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 2] == C.SYNC
        offsets.append(pos)
        pos += C.FRAME_HEADER.size + C.FRAME_HEADER.unpack_from(data, pos)[4] + 4
    return offsets


def test_clean_stream(stream):
    recordings, problems, lost, bad = C.parse_stream(b"OK" + stream + b"\x04\x04>")
    assert (problems, lost, bad) == ([], 0, 0)
    (r,) = recordings
    assert (r.label, r.rate, r.channels, r.board, r.gaps, r.complete) == ("wave", RATE, CH, "unix", [], True)
    assert np.array_equal(r.samples, C.synthetic(N, CH))
    assert len(frame_offsets(stream)) == N // BLOCK + 2


def test_fed_in_pieces_is_the_same(stream):
    parser, asm = C.StreamParser(), C.Assembler()
    rng = np.random.default_rng(1)
    cuts = sorted(rng.integers(0, len(stream), 60))
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        for frame in parser.feed(stream[a:b]):
            asm.add(*frame)
    for frame in parser.close():
        asm.add(*frame)
    asm.close()
    assert np.array_equal(asm.done[0].samples, C.synthetic(N, CH)) and parser.problems == asm.problems == []


@pytest.mark.parametrize("where", ["payload", "length", "seq", "crc"])
def test_corrupted_frame_is_dropped_and_the_rest_kept(stream, where):
    offsets = frame_offsets(stream)
    k = 5                                           # the 5th data frame: samples 80..99
    at = offsets[k] + {"payload": 30, "length": 9, "seq": 5, "crc": offsets[k + 1] - offsets[k] - 1}[where]
    data = bytearray(stream)
    data[at] ^= 0x40 if where == "length" else 0xFF
    recordings, problems, lost, bad = C.parse_stream(bytes(data))
    assert (lost, bad) == (1, 1), problems
    assert any("corrupted frame dropped" in p for p in problems) and any("1 frame lost" in p for p in problems)
    (r,) = recordings
    first = (k - 1) * BLOCK
    assert r.gaps == [[first, BLOCK]] and r.complete
    expected = np.delete(C.synthetic(N, CH), np.s_[first:first + BLOCK], axis=0)
    assert np.array_equal(r.samples, expected)


def test_truncated_stream_keeps_what_arrived(stream):
    offsets = frame_offsets(stream)
    cut = offsets[-2] + 17                          # inside the last data frame; the end frame never comes
    recordings, problems, lost, bad = C.parse_stream(stream[:cut])
    assert bad == 1 and any("truncated frame dropped" in p for p in problems)
    assert any("no end frame" in p for p in problems)
    (r,) = recordings
    assert not r.complete and len(r.samples) == N - BLOCK
    assert np.array_equal(r.samples, C.synthetic(N - BLOCK, CH))


def test_truncated_frame_in_the_middle_and_duplicates(stream):
    offsets = frame_offsets(stream)
    data = stream[:offsets[3] + 12] + stream[offsets[4]:offsets[8]] + stream[offsets[7]:]   # frame 3 cut short,
    recordings, problems, lost, bad = C.parse_stream(data)                                   # frame 7 repeated
    assert (lost, bad) == (1, 1)
    assert any("frame 7 repeated" in p for p in problems)
    (r,) = recordings
    assert r.gaps == [[2 * BLOCK, BLOCK]] and len(r.samples) == N - BLOCK


# ---- the virtual board ----

@pytest.fixture(scope="module")
def board(tmp_path_factory):
    flash = tmp_path_factory.mktemp("board") / "flash"
    (flash / "lib").mkdir(parents=True)
    shutil.copytree(DEVICE, flash / "lib" / "picoml", ignore=shutil.ignore_patterns("__pycache__"))
    with VirtualBoard(flash, imu_log=True) as b:
        yield b


def test_capture_end_to_end(board, tmp_path):
    seconds, rate = 1.5, 1000
    recordings, problems, lost, bad = C.capture(board.port, "wave", seconds, rate, "Synthetic(3)", progress=False)
    assert (problems, lost, bad) == ([], 0, 0)
    out = tmp_path / "data"
    C.write_dataset(out, recordings, "capture:test", log=lambda *a: None)
    # a FIFO-paced source, appended to the same dataset
    recordings, problems, lost, bad = C.capture(board.port, "idle", 0.5, 400, "SyntheticFifo(2, 400)",
                                                progress=False)
    assert (problems, lost, bad) == ([], 0, 0)
    C.write_dataset(out, recordings, "capture:test", log=lambda *a: None)
    index = json.loads((out / "index.json").read_text())["recordings"]
    assert [(e["file"], e["label"], e["rate"], e["channels"], e["samples"], e["lost_samples"]) for e in index] == \
        [("wave_0000.npz", "wave", 1000.0, 3, 1500, 0), ("idle_0000.npz", "idle", 400.0, 2, 200, 0)]
    with np.load(out / "wave_0000.npz", allow_pickle=False) as z:
        assert z["samples"].dtype == np.int16 and float(z["rate"]) == rate and str(z["label"]) == "wave"
        assert np.array_equal(z["samples"], C.synthetic(int(seconds * rate), 3))   # exact: none lost or repeated
    with np.load(out / "idle_0000.npz", allow_pickle=False) as z:
        assert np.array_equal(z["samples"], C.synthetic(200, 2))


def test_capture_from_the_emulated_imu(board, tmp_path):
    """The virtual board's IMU (an LSM6DS3TR-C emulation in real time) read through its FIFO by the driver:
    the dataset holds exactly the samples the emulated chip produced, in order, none lost or repeated."""
    from picoml.deploy import Mpremote
    Mpremote(board.port).exec("import picoml.boards as B\n")
    # the IMU is made as the recording starts (its FIFO holds ~0.8 s at 104 Hz), and kept as `imu`
    source = "(imu := B.open_imu(B.load('virtual'), odr=104))"
    recordings, problems, lost, bad = C.capture(board.port, "shake", 2, 104, source, progress=False)
    assert (problems, lost, bad) == ([], 0, 0)
    C.write_dataset(tmp_path / "data", recordings, "virtual", log=lambda *a: None)
    (entry,) = json.loads((tmp_path / "data" / "index.json").read_text())["recordings"]
    samples = np.load(tmp_path / "data" / entry["file"])["samples"]
    assert samples.shape == (208, 6)
    out = Mpremote(board.port).exec(
        "g = imu.bus.i2c.chips[0x6A].generated\nfor i in range(0, %d, 50):\n    print(repr(g[i:min(i + 50, %d)]))\n"
        % (len(samples), len(samples)))     # the chip goes on making samples after the recording's end
    generated = [s for line in out.strip().splitlines() for s in ast.literal_eval(line)]
    assert np.array_equal(samples, np.array(generated, np.int16))


def test_capture_reports_a_board_error(board):
    with pytest.raises(PicomlError, match="NameError"):
        C.capture(board.port, "x", 0.1, 100, "NoSuchSource()", progress=False)


def test_file_round_trip_through_pull(board, tmp_path):
    Mpremote(board.port).exec(
        "from picoml.recording import record, Synthetic\n"
        "record('up', 0.25, source=Synthetic(3), rate=800, path='rt.pmr')\n"
        "record('down', 0.1, source=Synthetic(1), rate=500, path='rt.pmr', board='mine')\n")
    recordings, problems, data = C.pull(board.port, "rt.pmr")
    C.remove_remote(board.port, "rt.pmr")
    assert problems == [] and not (board.flash / "rt.pmr").exists()
    assert [(r.label, r.rate, r.channels, len(r.samples)) for r in recordings] == [("up", 800, 3, 200),
                                                                                   ("down", 500, 1, 50)]
    assert recordings[1].board == "mine"
    assert np.array_equal(recordings[0].samples, C.synthetic(200, 3))
    assert np.array_equal(recordings[1].samples, C.synthetic(50, 1))
    out = tmp_path / "data"
    names = C.write_dataset(out, recordings, "pull:test", log=lambda *a: None)
    with np.load(out / names[0]) as z:
        assert np.array_equal(z["samples"], recordings[0].samples)
    # the file's damage cases: a bad sample CRC, an incomplete last recording
    first = C.HEADER.size + len("up") + len(recordings[0].board) + 200 * 3 * 2 + 4
    bad = bytearray(data)
    bad[first - 10] ^= 1
    got, problems = C.read_file(bytes(bad))
    assert [r.label for r in got] == ["down"] and "sample CRC mismatch" in problems[0]
    got, problems = C.read_file(data[:-7])
    assert [r.label for r in got] == ["up"] and "incomplete" in problems[0]


def test_cli_registers_capture_and_pull(monkeypatch):
    p = argparse.ArgumentParser()
    C.add_commands(p.add_subparsers(dest="command"))
    args = p.parse_args(["capture", "--port", "virtual", "--label", "wave", "--seconds", "30", "--out", "d"])
    assert (args.rate, args.plot, args.func) == (100, False, C.cmd_capture)
    args = p.parse_args(["pull", "--port", "virtual", "--out", "d"])
    assert (args.path, args.func) == ("recordings.pmr", C.cmd_pull)
    with monkeypatch.context() as m:   # as on a machine without matplotlib
        m.setitem(sys.modules, "matplotlib", None)
        with pytest.raises(PicomlError, match="pip install matplotlib"):
            C.precheck_plot()


# ---- damaged streams and files: every intact recording and sample is kept, nothing raises ----

def make_frame(kind, seq, payload):
    body = C.FRAME_HEADER.pack(C.SYNC, kind, 0, seq, len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body[2:]))


def make_recording_frames(label, channels, n, block, rate=100):
    """[(kind, first sample or None, frame bytes)] of one streamed recording, as docs/recording.md specifies."""
    samples = C.synthetic(n, channels)
    frames = [(C.START, None, make_frame(C.START, 0, C.make_header(label, rate, channels, n, "host", flags=1)))]
    for k, first in enumerate(range(0, n, block)):
        payload = C.DATA_PAYLOAD.pack(first) + samples[first:first + block].astype("<i2").tobytes()
        frames.append((C.DATA, first, make_frame(C.DATA, k + 1, payload)))
    end = C.END_PAYLOAD.pack(n, 0, zlib.crc32(samples.astype("<i2").tobytes()), len(frames) - 1)
    frames.append((C.END, None, make_frame(C.END, len(frames), end)))
    return samples, frames


RECORDINGS = [("one", 3, 60, 10), ("two", 2, 48, 12), ("three", 1, 40, 8)]


def damage(data, rng):
    """(damaged bytes, (lo, hi)): bit flips, a deletion, an insertion or a repeated range, all within 40 bytes;
    an original byte range [start, end) is touched when lo < end and start < hi."""
    data = bytearray(data)
    at = int(rng.integers(1, len(data)))
    n = int(rng.integers(1, 41))
    kind = rng.integers(0, 4)
    if kind == 0:
        flipped = [i for i in range(at, min(len(data), at + n)) if rng.random() < 0.3] or [at]
        for i in flipped:
            data[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(data), (flipped[0], flipped[-1] + 1)
    if kind == 1:
        del data[at:at + n]
        return bytes(data), (at, at + n)
    if kind == 2:           # inserted bytes damage the frame they fall inside, none at a boundary
        data[at:at] = bytes(rng.integers(0, 256, n).astype(np.uint8)) if rng.random() < 0.7 else C.SYNC * (n // 2 + 1)
    else:                   # a repeated range: duplicates, and the frame it falls inside
        data[at:at] = data[max(0, at - n):at]
    return bytes(data), (at, at)


def test_frame_with_a_valid_crc_but_content_that_does_not_parse_is_damaged():
    samples, frames = make_recording_frames("wave", 3, 30, 10)
    for bad in (make_frame(C.DATA, 2, b"\x01\x02"), make_frame(C.DATA, 2, C.DATA_PAYLOAD.pack(10) + b"\x01\x02\x03"),
                make_frame(C.DATA, 2, C.DATA_PAYLOAD.pack(10) + b"\x01\x00" * 4)):     # 4 values of 3 channels
        data = frames[0][2] + frames[1][2] + bad + b"".join(f for _, _, f in frames[3:])
        recordings, problems, lost, bad_frames = C.parse_stream(data)
        assert (lost, bad_frames) == (1, 1), problems
        assert any("dropped as damaged" in p for p in problems)
        (r,) = recordings
        assert r.gaps == [[10, 10]] and np.array_equal(r.samples, np.delete(samples, np.s_[10:20], axis=0))
    # an end frame too short, a start frame whose recording header does not parse
    data = b"".join(f for _, _, f in frames[:-1]) + make_frame(C.END, 4, b"\x00" * 8)
    recordings, problems, lost, bad_frames = C.parse_stream(data)
    assert bad_frames == 1 and np.array_equal(recordings[0].samples, samples) and not recordings[0].complete
    data = make_frame(C.START, 0, b"PMLR" + bytes(40)) + b"".join(f for _, _, f in frames[1:])
    recordings, problems, lost, bad_frames = C.parse_stream(data, label="wave", rate=100)
    assert bad_frames == 1 and len(recordings) == 1 and np.array_equal(recordings[0].samples, samples)


@pytest.mark.parametrize("how", ["corrupted", "deleted", "unparsable"])
def test_a_damaged_start_frame_keeps_the_recording(how):
    samples, frames = make_recording_frames("wave", 3, 50, 10, rate=250)
    start = {"corrupted": frames[0][2][:-1] + b"\x00", "deleted": b"",
             "unparsable": make_frame(C.START, 0, b"junk")}[how]
    data = start + b"".join(f for _, _, f in frames[1:])
    recordings, problems, lost, bad = C.parse_stream(data, label="wave", rate=250)
    (r,) = recordings
    assert (r.label, r.rate, r.channels, r.complete) == ("wave", 250, 3, False)
    assert np.array_equal(r.samples, samples) and r.gaps == []
    assert any("start frame" in p for p in problems)


def keeps(recording, samples, firsts, block):
    """Whether the recording holds samples[first:first + block] at their place for every first in firsts (its
    samples fill, in order, the indices its gaps leave)."""
    missing = set()
    for first, count in recording.gaps:
        missing.update(range(first, first + count))
    placed = [i for i in range(len(samples) + len(missing)) if i not in missing][:len(recording.samples)]
    where = dict(zip(placed, range(len(placed))))
    return all(i in where and np.array_equal(recording.samples[where[i]], samples[i])
               for first in firsts for i in range(first, min(first + block, len(samples))))


def test_damaged_streams_keep_every_intact_recording_and_frame():
    """1000 streams of three recordings, each damaged once: the recordings the damage did not touch come out
    exact and complete, the damaged one keeps the samples of every data frame it did not touch, in place."""
    streams = [make_recording_frames(*r) for r in RECORDINGS]
    data, spans = b"", []
    for samples, frames in streams:
        spans.append([])
        for kind, first, frame in frames:
            spans[-1].append((kind, first, len(data), len(data) + len(frame)))
            data += frame
    rng = np.random.default_rng(7)
    for _ in range(1000):
        bad, (lo, hi) = damage(data, rng)
        recordings, problems, lost, n_bad = C.parse_stream(bad, label="?", rate=100)
        for (label, ch, n, block), (samples, _), frames in zip(RECORDINGS, streams, spans):
            touched = [lo < end and start < hi for _, _, start, end in frames]
            got = [r for r in recordings if r.label in (label, "?") and r.channels == ch]
            if not any(touched):
                assert [(len(r.samples), r.complete) for r in got if r.label == label] == [(n, True)], problems
                assert np.array_equal(got[0].samples, samples)
                continue
            intact = [first for (kind, first, _, _), t in zip(frames, touched) if kind == C.DATA and not t]
            assert any(keeps(r, samples, intact, block) for r in got), (lo, hi, problems)


def test_damaged_files_keep_every_intact_recording():
    """1000 recording files of three recordings, each damaged once: the recordings whose bytes the damage did
    not touch come out exact (the reader resynchronises on the next header, not the damaged one's length)."""
    data, spans = b"", []
    for label, ch, n, _ in RECORDINGS:
        samples = C.synthetic(n, ch).astype("<i2").tobytes()
        rec = C.make_header(label, 100, ch, n, "host") + samples + struct.pack("<I", zlib.crc32(samples))
        spans.append((len(data), len(data) + len(rec)))
        data += rec
    rng = np.random.default_rng(8)
    for _ in range(1000):
        bad, (lo, hi) = damage(data, rng)
        recordings, problems = C.read_file(bad)
        for (label, ch, n, _), (start, end) in zip(RECORDINGS, spans):
            if lo < end and start < hi:
                continue
            (r,) = [r for r in recordings if r.label == label]
            assert np.array_equal(r.samples, C.synthetic(n, ch)), problems


def test_record_refuses_misuse_by_name(tmp_path):
    """picoml.record's mistakes at the REPL (a new-user audit), in the unix port: a label that is not a str raised
    AttributeError 'encode'; a source returning a number, "object of type 'int' has no len()" (with channels=1,
    "'int' object isn't subscriptable"); a sample shorter than channels, IndexError from inside record; floats,
    "can't convert float to int"; block=-1 recorded nothing, silently. Each now names what record takes."""
    from picoml.runtimes.unix import run_script
    out = run_script(r"""
import json, picoml
from picoml.recording import Synthetic
got = {}
for name, args, options in (("label", (3, 0.05, Synthetic(3)), {}), ("number", ("a", 0.05, lambda: 5), {}),
                             ("number_one_channel", ("a", 0.05, lambda: 5), {"channels": 1}),
                             ("short", ("a", 0.05, lambda: (1, 2)), {"channels": 3}),
                             ("floats", ("a", 0.05, lambda: (0.5, 2.0)), {}),
                             ("block", ("a", 0.05, Synthetic(3)), {"block": -1}),
                             ("good", ("a", 0.05, Synthetic(3)), {})):
    try:
        got[name] = list(picoml.record(*args, rate=100, path="r.pmr", **options))
    except Exception as e:
        got[name] = [type(e).__name__, str(e)]
print(json.dumps(got))
""", heapsize="1M", cwd=str(tmp_path))
    r = json.loads(out.strip().splitlines()[-1])
    assert r["label"] == ["TypeError", "picoml.record: label is a str (the class of the recording), not 3"]
    assert r["number"] == ["ValueError", "picoml.record: each sample is a tuple of ints (int16 range), not 5: a "
                                         "source of one value returns (v,)"]
    assert r["number_one_channel"] == ["ValueError", "picoml.record: each sample is a tuple of 1 ints (int16 range), "
                                                     "not 5"]
    assert r["short"] == ["ValueError", "picoml.record: each sample is a tuple of 3 ints (int16 range), not (1, 2)"]
    assert r["floats"] == ["ValueError", "picoml.record: each sample is a tuple of 2 ints (int16 range), not "
                                         "(0.5, 2.0)"]
    assert r["block"] == ["ValueError", "picoml.record: block is a number of samples >= 1, not -1"]
    assert r["good"] == [5, 0]
