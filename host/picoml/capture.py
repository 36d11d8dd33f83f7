"""`picoml capture` and `picoml pull`: labelled recordings from a board into a dataset folder.

capture: runs picoml.record(..., to="serial") on the board through the raw REPL (pyserial), parses the framed
stream (sync, sequence, CRC-32; a corrupted or truncated frame is reported and dropped, the rest kept; lost frames
counted from sequence gaps) and writes one .npz per recording plus index.json.
pull: copies the board's recording file (mpremote fs cp) and parses it into the same layout.
Both formats are specified in docs/recording.md, which tests/test_capture.py checks against this module."""
import datetime
import json
import os
import pathlib
import re
import struct
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from .argtypes import non_negative_int, positive_float, positive_int
from .errors import PicomlError

VERSION = 1
MAGIC = b"PMLR"
SYNC = b"\xa5\x5a"
START, DATA, END = 1, 2, 3
FRAME_TYPES = {START: "start", DATA: "data", END: "end"}
INT16_LE = 1
FLAG_INCOMPLETE = 1
MAX_PAYLOAD = 4096
DEFAULT_PATH = "recordings.pmr"
# docs/recording.md "Recording header": the file's per-recording header, also the start frame's payload
HEADER = struct.Struct("<4sHHIHBBBBHIII")
HEADER_FIELDS = ("magic", "version", "header_size", "rate_millihz", "channels", "sample_format", "label_len",
                 "board_len", "flags", "reserved", "n_samples", "late", "header_crc")
# docs/recording.md "Frame header"; a CRC-32 (u32) follows the payload
FRAME_HEADER = struct.Struct("<2sBBIH")
FRAME_FIELDS = ("sync", "type", "reserved", "seq", "length")
# docs/recording.md "Data payload" (then the samples) and "End payload"
DATA_PAYLOAD = struct.Struct("<I")
DATA_FIELDS = ("first_sample",)
END_PAYLOAD = struct.Struct("<IIII")
END_FIELDS = ("n_samples", "late", "data_crc", "data_frames")


@dataclass
class Recording:
    label: str
    rate: float
    channels: int
    board: str
    samples: np.ndarray                 # int16 [n, channels]
    late: int = 0
    gaps: list = field(default_factory=list)     # [first missing sample, count] in the board's numbering
    complete: bool = True


def synthetic(n, channels=3):
    """The first n samples of picoml.recording.Synthetic(channels) (the device's deterministic test source)."""
    out = np.zeros((n, channels), np.int16)
    for c in range(channels):
        x = 1000 * c + 1
        col = np.zeros(n, np.int64)
        for i in range(n):
            x = (x * 75 + 74) % 65537
            col[i] = (x & 0xFFFF) - 32768
        out[:, c] = col
    return out


# ---- the recording header (file and start frame) ----

def parse_header(data, offset=0):
    """(fields dict, label, board, header size) of the recording header at offset; ValueError if it is not one."""
    if len(data) - offset < HEADER.size:
        raise ValueError("truncated recording header (%d of %d bytes)" % (len(data) - offset, HEADER.size))
    h = dict(zip(HEADER_FIELDS, HEADER.unpack_from(data, offset)))
    if h["magic"] != MAGIC:
        raise ValueError("not a recording header (magic %r)" % h["magic"])
    if h["version"] != VERSION:
        raise ValueError("recording format version %d; this picoml reads version %d" % (h["version"], VERSION))
    size = h["header_size"]
    if size != HEADER.size + h["label_len"] + h["board_len"] or len(data) - offset < size:
        raise ValueError("bad or truncated recording header (size %d)" % size)
    raw = bytes(data[offset:offset + size])
    if zlib.crc32(raw[HEADER.size:], zlib.crc32(raw[:28])) != h["header_crc"]:
        raise ValueError("recording header CRC mismatch")
    if h["sample_format"] != INT16_LE or h["channels"] < 1 or h["rate_millihz"] < 1:
        raise ValueError("unsupported recording (format %d, %d channels)" % (h["sample_format"], h["channels"]))
    label = raw[HEADER.size:HEADER.size + h["label_len"]].decode("utf-8", "replace")
    board = raw[HEADER.size + h["label_len"]:].decode("utf-8", "replace")
    return h, label, board, size


def make_header(label, rate, channels, n_samples, board="", late=0, flags=0):
    """The recording header's bytes, as the device writes them (used by tests and tools)."""
    lab, brd = label.encode()[:255], board.encode()[:255]
    size = HEADER.size + len(lab) + len(brd)
    h = bytearray(HEADER.pack(MAGIC, VERSION, size, int(round(rate * 1000)), channels, INT16_LE, len(lab), len(brd),
                              flags, 0, n_samples, late, 0)) + lab + brd
    struct.pack_into("<I", h, 28, zlib.crc32(bytes(h[HEADER.size:]), zlib.crc32(bytes(h[:28]))))
    return bytes(h)


# ---- the on-board file ----

def read_file(data):
    """(recordings, problems) of a recording file's bytes. A damaged recording is reported and skipped; reading
    resumes at the next recording header found after its own header (not after the length it declares: bytes
    lost or inserted inside it would make that land inside the next recording)."""
    recordings, problems = [], []
    pos = 0
    while pos < len(data):
        try:
            h, label, board, size = parse_header(data, pos)
        except ValueError as e:
            nxt = data.find(MAGIC, pos + 1)
            problems.append("byte %d: %s; skipped %d bytes" % (pos, e, (nxt if nxt >= 0 else len(data)) - pos))
            if nxt < 0:
                break
            pos = nxt
            continue
        nbytes = 2 * h["n_samples"] * h["channels"]
        body = data[pos + size:pos + size + nbytes + 4]
        what = "recording %r at byte %d" % (label, pos)
        if h["flags"] & FLAG_INCOMPLETE or len(body) < nbytes + 4:
            problems.append("%s is incomplete (the board stopped while writing it); skipped" % what)
            nxt = data.find(MAGIC, pos + size)
            if nxt < 0:
                break
            pos = nxt
            continue
        samples, crc = body[:nbytes], struct.unpack_from("<I", body, nbytes)[0]
        if zlib.crc32(samples) != crc:
            problems.append("%s: sample CRC mismatch; skipped" % what)
            nxt = data.find(MAGIC, pos + size)
            if nxt < 0:
                break
            pos = nxt
            continue
        recordings.append(Recording(label, h["rate_millihz"] / 1000, h["channels"], board,
                                    np.frombuffer(samples, "<i2").reshape(-1, h["channels"]).copy(), h["late"]))
        pos += size + nbytes + 4
    return recordings, problems


# ---- the serial stream ----

class StreamParser:
    """Frames out of a byte stream fed in pieces. feed() returns the valid frames (type, seq, payload) completed
    by the new bytes; problems lists what was dropped (a damaged region counts once however many false syncs
    inside it fail); close() settles the end (a frame cut short is reported as truncated)."""

    def __init__(self):
        self.buf = bytearray()
        self.base = 0               # stream offset of buf[0]
        self.problems = []
        self.bad = 0                # damaged regions (corrupted or truncated frames)
        self.in_bad = False
        self.last_end = 0           # stream offset just after the last valid frame

    def _bad(self, offset, what):
        if not self.in_bad:
            self.bad += 1
            self.problems.append("byte %d: %s frame dropped" % (offset, what))
        self.in_bad = True

    def feed(self, data, final=False):
        self.buf += data
        frames = []
        pos = 0
        buf = self.buf
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                pos = max(pos, len(buf) - 1)
                break
            if len(buf) - i < FRAME_HEADER.size:
                if final:
                    self._bad(self.base + i, "truncated")
                    pos = len(buf)
                else:
                    pos = i
                break
            _, kind, _, seq, length = FRAME_HEADER.unpack_from(buf, i)
            if kind not in FRAME_TYPES or length > MAX_PAYLOAD:
                self._bad(self.base + i, "corrupted")
                pos = i + 1
                continue
            end = i + FRAME_HEADER.size + length + 4
            if len(buf) < end:
                if final:
                    self._bad(self.base + i, "truncated")
                    pos = i + 1
                    continue
                pos = i
                break
            crc = struct.unpack_from("<I", buf, end - 4)[0]
            if zlib.crc32(buf[i + 2:end - 4]) != crc:
                self._bad(self.base + i, "corrupted")
                pos = i + 1
                continue
            frames.append((kind, seq, bytes(buf[i + FRAME_HEADER.size:end - 4])))
            self.in_bad = False
            pos = end
            self.last_end = self.base + end
        del buf[:pos]
        self.base += pos
        return frames

    def close(self):
        return self.feed(b"", final=True)


class Assembler:
    """Recordings out of frames: checks the sequence (gaps = lost frames, repeats = duplicates dropped), places
    data by its first-sample index (gaps recorded), and checks the end frame's count and whole-data CRC.

    A frame whose CRC is right but whose content does not parse (a payload too short for its type, samples
    that are not whole) is damaged: dropped, reported and counted in `damaged`. Data whose start frame was lost
    or damaged is kept: the channel count is read from the data frames (two consecutive frames, or the last
    one and the end frame), the label and rate are the ones the host asked for (`label`, `rate`), and the
    recording is marked incomplete."""

    def __init__(self, label=None, rate=None):
        self.label = label
        self.rate = rate
        self.done = []
        self.problems = []
        self.lost = 0
        self.damaged = 0
        self.current = None
        self.expected = None

    def _damaged(self, kind, seq, why):
        self.damaged += 1
        self.problems.append("%s frame %d %s: dropped as damaged" % (FRAME_TYPES[kind], seq, why))

    def _start(self, h, label, board, channels, rate):
        self.current = {"h": h, "label": label, "board": board, "channels": channels, "rate": rate,
                        "chunks": [], "upto": 0, "gaps": [], "pending": [], "seen": {}}

    def add(self, kind, seq, payload):
        if kind == START:
            self._finish(None)
            try:
                h, label, board, _ = parse_header(payload)
            except ValueError as e:
                self._damaged(kind, seq, "(%s)" % e)
                self._start_headless(seq)       # counted lost too, as any frame that is not used
                return
            self._start(h, label, board, h["channels"], h["rate_millihz"] / 1000)
            self.expected = seq + 1
            return
        if kind == DATA:
            if len(payload) < DATA_PAYLOAD.size or (len(payload) - DATA_PAYLOAD.size) % 2:
                self._damaged(kind, seq, "has a %d-byte payload, not a sample index and whole int16 values"
                              % len(payload))
                return
            first = DATA_PAYLOAD.unpack_from(payload)[0]
            values = np.frombuffer(payload[DATA_PAYLOAD.size:], "<i2")
        else:
            if len(payload) != END_PAYLOAD.size:
                self._damaged(kind, seq, "has a %d-byte payload, not %d" % (len(payload), END_PAYLOAD.size))
                return
            end = dict(zip(END_FIELDS, END_PAYLOAD.unpack_from(payload)))
        if self.current is None:
            if kind == END:
                self.problems.append("end frame %d without a start frame: dropped" % seq)
                return
            self.problems.append("data frame %d without a start frame: the start frame was lost; the data is kept"
                                 % seq)
            self._start_headless(0)             # the start frame, seq 0, counts as lost
        if seq < self.expected:
            if self.current["seen"].get(seq) == zlib.crc32(payload):
                self.problems.append("frame %d repeated: dropped" % seq)
                return
            # not a repeat: the sequence started again, a new recording whose start frame was lost
            self._finish(None)
            self.problems.append("%s frame %d starts a new recording: its start frame was lost; the data is kept"
                                 % (FRAME_TYPES[kind], seq))
            self._start_headless(0)
        ch = self.current["channels"]
        if kind == DATA and ch is not None and len(values) % ch:
            self._damaged(kind, seq, "holds %d values, not whole samples of %d channels" % (len(values), ch))
            return
        self.current["seen"][seq] = zlib.crc32(payload)
        if seq > self.expected:
            n = seq - self.expected
            self.lost += n
            self.problems.append("%d frame%s lost before frame %d" % (n, "s" * (n > 1), seq))
        self.expected = seq + 1
        if kind == DATA:
            if self.current["channels"] is None:
                self.current["pending"].append((seq, first, values))
            else:
                self._place(seq, first, values)
        else:
            self._finish(end, seq)

    def _start_headless(self, expected):
        """A recording whose start frame is missing: its channel count is learned from its data."""
        self._start(None, self.label or "", "", None, self.rate or 0.0)
        self.expected = expected

    def _place(self, seq, first, values):
        cur = self.current
        ch = cur["channels"]
        if len(values) % ch:
            self._damaged(DATA, seq, "holds %d values, not whole samples of %d channels" % (len(values), ch))
            return
        if first < cur["upto"]:
            self.problems.append("data frame %d overlaps the samples before it: dropped" % seq)
            return
        if first > cur["upto"]:
            cur["gaps"].append([cur["upto"], first - cur["upto"]])
        cur["chunks"].append(values.reshape(-1, ch))
        cur["upto"] = first + len(values) // ch

    @staticmethod
    def _channels(pending, end, end_seq):
        """The channel count of a headless recording's data frames [(seq, first, values)], or None."""
        for (s1, f1, v1), (s2, f2, _) in zip(pending, pending[1:]):
            if s2 == s1 + 1 and f2 > f1 and len(v1) % (f2 - f1) == 0:
                return len(v1) // (f2 - f1)
        if end is not None and pending:
            s, f, v = pending[-1]
            if s + 1 == end_seq and end["n_samples"] > f and len(v) % (end["n_samples"] - f) == 0:
                return len(v) // (end["n_samples"] - f)
        return None

    def _finish(self, end, end_seq=None):
        cur, self.current = self.current, None
        if cur is None:
            return
        if cur["channels"] is None:
            ch = self._channels(cur["pending"], end, end_seq)
            if ch is None:
                if cur["pending"]:
                    self.problems.append("%d data frames of a recording whose start frame was lost: its channel "
                                         "count cannot be told from them; dropped" % len(cur["pending"]))
                return
            self.current, cur["channels"] = cur, ch
            for frame in cur["pending"]:
                self._place(*frame)
            self.current = None
            self.problems.append("recording without its start frame kept: %d channels (from the data), label %r "
                                 "and rate %g Hz (as asked), board unknown" % (ch, cur["label"], cur["rate"]))
        ch = cur["channels"]
        samples = np.concatenate(cur["chunks"]) if cur["chunks"] else np.zeros((0, ch), np.int16)
        total = end["n_samples"] if end else max(cur["upto"], cur["h"]["n_samples"] if cur["h"] else 0)
        if cur["upto"] < total:
            cur["gaps"].append([cur["upto"], total - cur["upto"]])
        if end is None:
            self.problems.append("recording %r has no end frame" % cur["label"])
        elif not cur["gaps"] and zlib.crc32(samples.astype("<i2").tobytes()) != end["data_crc"]:
            self.problems.append("recording %r: whole-data CRC mismatch" % cur["label"])
        self.done.append(Recording(cur["label"], cur["rate"], ch, cur["board"], samples,
                                   end["late"] if end else 0, cur["gaps"], end is not None and cur["h"] is not None))

    def close(self):
        self._finish(None)


def parse_stream(data, label=None, rate=None):
    """(recordings, problems, lost frames, damaged frames) of a captured byte stream; `label` and `rate` name a
    recording whose start frame was lost (what the host asked the board to record)."""
    parser, asm = StreamParser(), Assembler(label, rate)
    for frame in parser.feed(data) + parser.close():
        asm.add(*frame)
    asm.close()
    return asm.done, parser.problems + asm.problems, asm.lost, parser.bad + asm.damaged


# ---- the dataset folder ----

def read_index(out):
    """The index of the dataset folder `out` that write_dataset appends to (a new, empty one when the folder or its
    index.json does not exist yet); PicomlError when `out` cannot be a dataset folder (a file, under a file) or
    its index.json is not a picoml dataset index. The commands call it before recording or reading a board, so
    a dataset that cannot be written costs nothing: no recording made for nothing, no file removed from a board."""
    from .paths import check_output_folder
    out = pathlib.Path(out)
    check_output_folder(out, "the dataset (--out)")
    index_path = out / "index.json"
    if not index_path.exists():
        return {"format": "picoml-dataset", "version": 1, "recordings": []}
    try:
        index = json.loads(index_path.read_text())
        if not isinstance(index, dict) or not isinstance(index.get("recordings"), list):
            raise ValueError("no list of recordings")
    except (OSError, ValueError) as e:     # and JSONDecodeError, UnicodeDecodeError
        raise PicomlError("%s is not a picoml dataset index (%s), so nothing can be added to it: give another "
                          "--out folder, or repair or remove that file" % (index_path, e.strerror if isinstance(
                              e, OSError) else "%s: %s" % (type(e).__name__, e)))
    return index


def write_dataset(out, recordings, source, log=print):
    """One <label>_<NNNN>.npz per recording (samples int16 [n, channels], rate, label, board, gaps) and index.json
    listing them; an existing index is appended to (read_index: PicomlError, before anything is written, when it
    cannot be). Returns the file names."""
    out = pathlib.Path(out)
    index = read_index(out)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / "index.json"
    names = []
    for r in recordings:
        stem = re.sub(r"[^\w.-]+", "_", r.label) or "unlabelled"
        n = 0
        while (out / ("%s_%04d.npz" % (stem, n))).exists():
            n += 1
        name = "%s_%04d.npz" % (stem, n)
        extra = {k: getattr(r, k) for k in ("scale", "units", "axes", "full_scale", "sensor", "person")
                 if getattr(r, k, None) is not None}
        np.savez(out / name, samples=r.samples.astype(np.int16), rate=np.float64(r.rate), label=np.str_(r.label),
                 board=np.str_(r.board), gaps=np.array(r.gaps, np.int64).reshape(-1, 2), **extra)
        index["recordings"].append({
            "file": name, "label": r.label, "rate": r.rate, "channels": r.channels, "board": r.board,
            "samples": int(len(r.samples)), "late": r.late, "lost_samples": int(sum(c for _, c in r.gaps)),
            "complete": r.complete, "source": source, **{k: v if isinstance(v, str) else list(v)
                                                          for k, v in extra.items()},
            "recorded": datetime.datetime.now().isoformat(timespec="seconds")})
        names.append(name)
        log("wrote %s: %r, %d samples x %d channels at %g Hz%s" % (
            out / name, r.label, len(r.samples), r.channels, r.rate,
            ", %d samples lost" % sum(c for _, c in r.gaps) if r.gaps else ""))
    tmp = index_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, indent=1) + "\n")
    os.replace(tmp, index_path)
    return names


# ---- talking to the board ----

class RawRepl:
    """The board's raw REPL over pyserial: enter it without a soft reset (the unix port would exit on one), send
    code, then read whatever the code writes, as raw bytes."""

    def __init__(self, port, baud=115200):
        try:
            import serial
        except ImportError:
            raise PicomlError("capture needs pyserial: pip install pyserial")
        try:
            self.serial = serial.Serial(port, baud, timeout=0.05)
            self.pending = b""
        except (serial.SerialException, OSError) as e:
            raise PicomlError("cannot open %s: %s" % (port, e))

    def _read_until(self, ending, timeout):
        """Read up to `ending`; what came after it is kept for read()."""
        data = bytearray(self.pending)
        deadline = time.monotonic() + timeout
        while ending not in data:
            if time.monotonic() > deadline:
                raise PicomlError("the board did not answer (wanted %r, got %r)" % (ending, bytes(data[-200:])))
            data += self.serial.read(max(1, self.serial.in_waiting))
        i = data.index(ending) + len(ending)
        self.pending = bytes(data[i:])
        return bytes(data[:i])

    def start(self, code):
        s = self.serial
        s.write(b"\r\x03\x03")
        time.sleep(0.1)
        s.reset_input_buffer()
        self.pending = b""
        s.write(b"\r\x01")
        self._read_until(b"raw REPL; CTRL-B to exit\r\n>", 5)
        data = code.encode()
        for i in range(0, len(data), 256):
            s.write(data[i:i + 256])
            time.sleep(0.01)
        s.write(b"\x04")
        self._read_until(b"OK", 5)

    def exec(self, code, timeout=10):
        """Run code in the raw REPL and return what it printed; PicomlError with the board's error if it failed."""
        self.start(code)
        tail = self._read_until(b"\x04>", timeout)
        out, _, err = tail.partition(b"\x04")
        if err.strip(b"\x04> "):
            raise PicomlError("the board reported an error:\n%s" % err.decode(errors="replace"))
        return out.decode(errors="replace")

    def read(self):
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        return self.serial.read(max(1, self.serial.in_waiting))

    def interrupt(self):
        self.serial.write(b"\x03")

    def close(self):
        try:
            self.serial.write(b"\x02")      # leave the raw REPL (no reset)
        finally:
            self.serial.close()


def _stderr(tail):
    """The stderr text between the raw REPL's two \\x04 markers at the end of `tail` ('' if none)."""
    parts = bytes(tail).split(b"\x04")
    return parts[-2].decode("utf-8", "replace").strip() if len(parts) >= 3 and parts[-1] == b">" else ""


CAPTURE_CODE = ("from picoml.recording import record, Synthetic, SyntheticFifo\n"
                "_src = %s\n"
                "record(%r, %r, source=_src, rate=%r, to='serial')\n")
# After the recording, in the same session: what the source says of itself (an IMU driver: its real output data
# rate, counts -> m/s^2 and deg/s, its part and how often its FIFO overflowed).
DESCRIBE_CODE = ("import json\n"
                 "print(json.dumps({k: getattr(_src, k, None) for k in "
                 "('rate', 'accel_scale', 'gyro_scale', 'PART', 'overruns')}))\n")
IMU_AXES = ("ax", "ay", "az", "gx", "gy", "gz")
IMU_UNITS = ("m/s^2",) * 3 + ("deg/s",) * 3


def imu_source(board, rate):
    """The board-side expression opening a board definition's IMU at (the nearest output data rate to) `rate`."""
    return "__import__('picoml.boards').boards.open_imu(__import__('picoml.boards').boards.load(%r), odr=%r)" % (
        board, rate)


def describe(recordings, description, board_name=None):
    """Put what the source said of itself into the recordings: the real rate, scale, units, axes, full scale."""
    for r in recordings:
        if description.get("rate"):
            r.rate = float(description["rate"])
        if description.get("accel_scale") and r.channels == 6:
            r.scale = (description["accel_scale"],) * 3 + (description["gyro_scale"],) * 3
            r.units, r.axes = IMU_UNITS, IMU_AXES
            r.full_scale = tuple(32768 * k for k in r.scale)
        if description.get("PART"):
            r.sensor = description["PART"]
        if description.get("overruns"):
            r.overruns = description["overruns"]
        if board_name:
            r.board = board_name
    return recordings


class Progress:
    def __init__(self, total, rate, stream=None):
        # sys.stderr as it is now, not as it was when this module was imported (pytest swaps it)
        self.total, self.rate, self.stream, self.shown = total, rate, stream or sys.stderr, 0

    def show(self, n, lost, bad, force=False):
        now = time.monotonic()
        if not force and now - self.shown < 0.2:
            return
        self.shown = now
        width = 30
        filled = int(width * min(n, self.total) / max(1, self.total))
        self.stream.write("\r[%s%s] %6.1f / %.1f s  %d samples  lost frames %d  bad frames %d " % (
            "#" * filled, "." * (width - filled), n / self.rate, self.total / self.rate, n, lost, bad))
        self.stream.flush()

    def end(self):
        self.stream.write("\n")


class LivePlot:
    """A live matplotlib plot of the last few seconds of every channel."""

    def __init__(self, channels, rate, seconds=5):
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise PicomlError("--plot needs matplotlib, which is not installed: pip install matplotlib")
        self.plt = plt
        plt.ion()
        self.fig, self.ax = plt.subplots()
        self.span = max(2, int(rate * seconds))
        self.lines = [self.ax.plot([], [], lw=1, label="ch %d" % c)[0] for c in range(channels)]
        self.ax.set_xlabel("sample")
        self.ax.legend(loc="upper right")
        self.shown = 0

    def update(self, chunks, force=False):
        if not chunks or (not force and time.monotonic() - self.shown < 0.2):
            return
        self.shown = time.monotonic()
        data = np.concatenate(chunks[-(self.span // max(1, len(chunks[-1])) + 1):])[-self.span:]
        x = np.arange(len(data))
        for c, line in enumerate(self.lines):
            line.set_data(x, data[:, c])
        self.ax.relim()
        self.ax.autoscale_view()
        self.plt.pause(0.001)


    def finish(self, samples):
        """Show the whole recording and keep the window open until it is closed (interactive backends)."""
        x = np.arange(len(samples))
        for c, line in enumerate(self.lines):
            line.set_data(x, samples[:, c])
        self.ax.relim()
        self.ax.autoscale_view()
        self.plt.ioff()
        import matplotlib
        if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template"):
            print("close the plot window to finish", file=sys.stderr)
            self.plt.show()


def precheck_plot():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PicomlError("--plot needs matplotlib, which is not installed: pip install matplotlib")


def capture(port, label, seconds, rate=100, source="Synthetic(3)", plot=False, log=print, progress=True,
            expected_rate=None):
    """Record on the board at `port` and return (recordings, problems, lost frames, bad frames)."""
    if plot:
        precheck_plot()
    repl = RawRepl(port)
    parser, asm = StreamParser(), Assembler(label, rate)
    expected_rate = expected_rate or rate or 100   # rate None: the source's own (an IMU's output data rate)
    total = int(seconds * expected_rate + 0.5)
    bar = Progress(total, expected_rate) if progress else None
    live = None
    error = ""
    try:
        repl.start(CAPTURE_CODE % (source, label, seconds, rate))
        deadline = time.monotonic() + seconds * 2 + 10
        quiet_since = time.monotonic()
        raw = bytearray()
        while not asm.done or asm.current is not None:
            chunk = repl.read()
            now = time.monotonic()
            if chunk:
                quiet_since = now
                raw += chunk
            elif now - quiet_since > 5 or now > deadline:
                break
            for frame in parser.feed(chunk):
                asm.add(*frame)
            # a board-side error before the first frame: the raw REPL's \x04 <traceback> \x04>
            if asm.current is None and not asm.done and raw.endswith(b"\x04>"):
                error = _stderr(raw)
                break
            cur = asm.current
            if cur is not None:
                if plot and live is None and cur["channels"] is not None:
                    live = LivePlot(cur["channels"], cur["rate"])
                if live:
                    live.update(cur["chunks"])
                if bar:
                    bar.show(cur["upto"], asm.lost, parser.bad + asm.damaged)
        else:
            # the code's end: the raw REPL's \x04 <stderr> \x04> after the last frame
            tail = bytearray(raw[parser.last_end:])
            wait = time.monotonic() + 5
            while not tail.endswith(b"\x04>") and time.monotonic() < wait:
                tail += repl.read()
            error = _stderr(tail)
        for frame in parser.close():
            asm.add(*frame)
        asm.close()
        if bar and asm.done:
            bar.show(len(asm.done[-1].samples), asm.lost, parser.bad + asm.damaged, force=True)
            bar.end()
        if live and asm.done:
            live.finish(asm.done[-1].samples)
        if asm.done and not error:
            describe(asm.done, json.loads(repl.exec(DESCRIBE_CODE).strip().splitlines()[-1]))
    except KeyboardInterrupt:
        repl.interrupt()       # the board's record() sends its end frame from its finally clause
        raise
    finally:
        repl.close()
    if error:
        raise PicomlError("the board reported an error:\n%s" % error)
    if not asm.done:
        raise PicomlError("no recording arrived from the board (%d bytes of other output)" % parser.base)
    return asm.done, parser.problems + asm.problems, asm.lost, parser.bad + asm.damaged


def pull(port, remote=DEFAULT_PATH):
    """(recordings, problems, the file's bytes) of the recording file `remote` on the board (remove_remote
    deletes it there: `picoml pull --remove` once the dataset is written)."""
    from .deploy import Mpremote, _run
    board = Mpremote(port)
    with tempfile.TemporaryDirectory() as tmp:
        local = pathlib.Path(tmp) / "recordings.pmr"
        _run(board.base + ["fs", "cp", ":" + remote, str(local)], "copying %s from the board" % remote)
        data = local.read_bytes()
    recordings, problems = read_file(data)
    return recordings, problems, data


def remove_remote(port, remote=DEFAULT_PATH):
    """Delete the recording file `remote` on the board."""
    from .deploy import Mpremote, _run
    _run(Mpremote(port).base + ["fs", "rm", ":" + remote], "removing %s on the board" % remote)


# ---- the command line ----

def _ensure_library(port, log):
    from .deploy import Mpremote, deploy
    try:
        Mpremote(port).exec("import picoml.recording")
        return
    except PicomlError:
        pass
    log("the board has no picoml.recording: deploying the library")
    deploy(None, port, log=log)
    try:
        Mpremote(port).exec("import picoml.recording")
    except PicomlError:
        raise PicomlError("the board's picoml has no record module after deploying")


def _with_port(args, work, **board_options):
    if args.port == "virtual":
        from .virtual_board import VirtualBoard
        with VirtualBoard(**board_options) as board:
            print("virtual board: flash in %s, port %s" % (board.flash, board.port))
            _ensure_library(board.port, print)
            return work(board.port)
    return work(args.port)


def _report(problems, lost=0, bad=0):
    for p in problems:
        print("picoml: warning: %s" % p, file=sys.stderr)
    if lost or bad:
        print("picoml: %d frames lost, %d damaged frames dropped; the rest is kept" % (lost, bad), file=sys.stderr)


def cmd_capture(args):
    if not args.label.strip():
        raise PicomlError("--label is empty: give the recording's class name (e.g. wave)")
    if args.plot:
        precheck_plot()
    read_index(args.out)        # a dataset that cannot be written: said before recording, not after

    source = args.source
    rate = args.rate
    board_name = None
    if args.imu:    # the board's IMU through its FIFO, at the nearest output data rate it has
        source = imu_source(args.imu, args.rate)
        rate = None     # record() takes the IMU's own rate
        board_name = _board_name(args.imu)

    board_options = {}
    if args.motion:
        board_options = _virtual_performance(args)

    def work(port):
        recordings, problems, lost, bad = capture(port, args.label, args.seconds, rate, source, args.plot,
                                                  expected_rate=args.rate)
        describe(recordings, {}, board_name)
        for r in recordings:
            if getattr(r, "overruns", 0):
                print("warning: the IMU's FIFO overflowed %d times during %r: samples were lost there (read it "
                      "more often, or lower --rate)" % (r.overruns, r.label))
            if args.imu and r.rate != args.rate:
                print("the IMU runs at %g Hz, the output data rate it has nearest to the %g Hz asked" % (r.rate,
                                                                                                      args.rate))
        _report(problems, lost, bad)
        write_dataset(args.out, recordings, "capture:%s" % args.port)
        if args.plot:       # a picture even where no window can open (headless, over ssh)
            from .plot import plot_dataset
            path, _ = plot_dataset(args.out)
            print("plot of the dataset: %s" % path)
    print("source on the board: %s%s" % (source, " (a synthetic test signal; --imu BOARD or --source picks a "
                                                 "sensor)" if source.startswith("Synthetic") else ""))
    try:
        _with_port(args, work, **board_options)
    finally:
        if "motion" in board_options:
            shutil.rmtree(board_options["motion"].parent, ignore_errors=True)


def _board_name(board):
    """The board definition's name (boards/<board>.json on the host), else the name given."""
    from . import boards
    try:
        return boards.load(board)["name"]
    except Exception:
        return board


def _virtual_performance(args):
    """The virtual board's IMU performs args.motion (a gesture, or a machine condition) as performer
    args.performer: a motion file in a temporary folder, and the board's options to play it."""
    from . import motion, vibration
    if args.port != "virtual" or not args.imu:
        raise PicomlError("--motion makes the virtual board's IMU perform: use it with --port virtual --imu virtual")
    seconds = args.seconds * 1.5 + 5          # the performance outlasts the recording
    if args.motion in motion.GESTURES:
        samples = motion.perform(args.motion, seconds, args.rate, motion.people(args.performer + 1)[-1])
    elif args.motion in vibration.CONDITIONS:
        samples = vibration.vibrate(args.motion, seconds, args.rate, vibration.machines(args.performer + 1)[-1])
    else:
        raise PicomlError("unknown --motion %r: a gesture (%s) or a machine condition (%s)" % (
            args.motion, ", ".join(motion.GESTURES), ", ".join(vibration.CONDITIONS)))
    path = pathlib.Path(tempfile.mkdtemp(prefix="picoml-motion-")) / "motion.pmot"
    motion.write_motion_file(path, samples, args.rate)
    print("virtual board: its IMU performs %r as performer %d, clock x%d" % (args.motion, args.performer, args.speed))
    return {"motion": path, "time_scale": args.speed}


def cmd_pull(args):
    read_index(args.out)        # a dataset that cannot be written: said before the board is touched

    def work(port):
        recordings, problems, data = pull(port, args.path)
        print("read %d bytes of %s: %d recordings" % (len(data), args.path, len(recordings)))
        _report(problems)
        write_dataset(args.out, recordings, "pull:%s:%s" % (args.port, args.path))
        if args.remove and problems:    # what was skipped is only on the board: it stays there
            print("picoml: kept %s on the board: %d damaged parts were skipped (copy it off with `mpremote fs cp "
                  ":%s .` before removing it)" % (args.path, len(problems), args.path), file=sys.stderr)
        elif args.remove:       # only once the recordings are safe in the dataset
            remove_remote(port, args.path)
            print("removed %s on the board" % args.path)
    _with_port(args, work)


def add_commands(subparsers):
    """Register `capture` and `pull` on the CLI's subparsers."""
    c = subparsers.add_parser("capture", help="record labelled samples on a board and stream them into a dataset")
    c.add_argument("--port", default="/dev/ttyACM0", help="the board's serial port, or 'virtual'")
    c.add_argument("--label", required=True, help="the recording's label (class name)")
    c.add_argument("--seconds", type=positive_float, required=True, help="how long to record")
    c.add_argument("--out", default="data", help="the dataset folder (created; index.json appended to)")
    c.add_argument("--rate", type=positive_float, default=100, help="samples per second (default 100)")
    c.add_argument("--source", default="Synthetic(3)",
                   help="Python expression evaluated on the board giving the sample source: a callable returning "
                        "one sample tuple, or an object with read_into(buf) (default: the synthetic test signal)")
    c.add_argument("--imu", metavar="BOARD",
                   help="record the IMU of this board definition (boards/BOARD.json on the board, e.g. 'virtual'), "
                        "through its FIFO at --rate (an output data rate the chip has)")
    c.add_argument("--motion", help="the virtual board's IMU performs this gesture (idle, wave, circle, punch, shake) "
                                    "or machine condition (normal, imbalance, misalignment, bearing, looseness)")
    c.add_argument("--performer", type=non_negative_int, default=0, help="with --motion: which synthetic person or machine")
    c.add_argument("--speed", type=positive_int, default=1, help="with --motion: the virtual IMU's clock runs this many "
                                                        "times faster than real time")
    c.add_argument("--plot", action="store_true", help="live plot while recording where a display is, and the "
                                                       "dataset drawn to OUT/plot.png")
    c.set_defaults(func=cmd_capture)

    p = subparsers.add_parser("pull", help="copy recordings stored on a board into a dataset")
    p.add_argument("--port", default="/dev/ttyACM0", help="the board's serial port, or 'virtual'")
    p.add_argument("--out", default="data", help="the dataset folder (created; index.json appended to)")
    p.add_argument("--path", default=DEFAULT_PATH, help="the recording file on the board (default %s)" % DEFAULT_PATH)
    p.add_argument("--remove", action="store_true", help="delete the file on the board once its recordings are in the dataset (kept when a damaged part had to be skipped)")
    p.set_defaults(func=cmd_pull)
