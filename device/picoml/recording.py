# picoml.recording: record labelled sample windows on the board, into a file or over the USB serial link.
#
#   picoml.record(...) (the package exposes this module's record), or from picoml.recording import record
#   record("wave", 2, source=imu.read, rate=100)                  # appends one recording to recordings.pmr
#   record("wave", 2, source=imu.read, rate=100, to="serial")     # framed binary on stdout, for `picoml capture`
#
# The file format and the serial framing are specified byte for byte in docs/recording.md (host side:
# host/picoml/capture.py). Everything is allocated before the first sample: one int16 block buffer and the
# frame/header buffers. Per sample nothing is allocated here (the source may allocate its own tuple).
import sys
import struct

try:
    from binascii import crc32
except ImportError:         # some CircuitPython builds
    crc32 = None
from .clock import ticks_us, ticks_add, ticks_diff

VERSION = 1
MAGIC = b"PMLR"
SYNC = b"\xa5\x5a"          # u16 0x5AA5, little-endian
START, DATA, END = 1, 2, 3
INT16_LE = 1
FLAG_INCOMPLETE = 1
HEADER = "<4sHHIHBBBBHIII"  # 32 bytes, docs/recording.md "Recording header"
HEADER_SIZE = 32
FRAME_HEADER_SIZE = 10
END_PAYLOAD = "<IIII"       # n_samples, late, data_crc, data_frames
DEFAULT_PATH = "recordings.pmr"
BLOCK_BYTES = 240           # samples per block/frame: as many whole samples as fit in this
MAX_PAYLOAD = 4096          # the largest frame payload a reader must accept


_table = None


def _crc32(data, crc=0, wide=False):
    """binascii.crc32 where the port has it, else a table-driven pure-Python CRC-32 (IEEE, as zlib's).
    wide: data is int16 items (a memoryview of the sample array), taken as their little-endian bytes."""
    if crc32 is not None:
        return crc32(data, crc)
    global _table
    if _table is None:
        from array import array
        _table = array("I", [0] * 256)
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            _table[i] = c
    crc ^= 0xFFFFFFFF
    t = _table
    if wide:
        for v in data:
            crc = t[(crc ^ v) & 0xFF] ^ (crc >> 8)
            crc = t[(crc ^ (v >> 8)) & 0xFF] ^ (crc >> 8)
    else:
        for b in data:
            crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _put32(buf, off, v):
    buf[off] = v & 0xFF
    buf[off + 1] = (v >> 8) & 0xFF
    buf[off + 2] = (v >> 16) & 0xFF
    buf[off + 3] = (v >> 24) & 0xFF


def board_name():
    try:
        return sys.implementation._machine
    except AttributeError:
        import os
        return os.uname().machine


class Synthetic:
    """A deterministic test source, a callable returning `channels` int16 values per call: channel c is an LCG
    x <- (75 x + 74) mod 65537 started at 1000 c + 1, value (x & 0xFFFF) - 32768. The host reproduces it
    (picoml.capture.synthetic)."""

    def __init__(self, channels=3):
        self.channels = channels
        self.state = [1000 * c + 1 for c in range(channels)]

    def _next(self, c):
        x = (self.state[c] * 75 + 74) % 65537
        self.state[c] = x
        return (x & 0xFFFF) - 32768

    def __call__(self):
        return tuple(self._next(c) for c in range(self.channels))


class SyntheticFifo(Synthetic):
    """The same values as a FIFO-style source paced by itself: read_into(buf) hands over the samples that came
    due at `rate` since the first call (at most `burst` per call), like a sensor's FIFO."""

    def __init__(self, channels=3, rate=100, burst=16):
        Synthetic.__init__(self, channels)
        self.rate = rate
        self.burst = burst
        self.t0 = None
        self.given = 0

    def read_into(self, buf):
        now = ticks_us()
        if self.t0 is None:
            self.t0 = now
        due = int(ticks_diff(now, self.t0) * self.rate // 1000000) + 1
        n = min(len(buf) // self.channels, self.burst, due - self.given)
        k = 0
        for _ in range(n):
            for c in range(self.channels):
                buf[k] = self._next(c)
                k += 1
        self.given += n
        return n


def _header(label, board, rate_millihz, channels, n_samples, late, flags):
    lab = label.encode()[:255]
    brd = board.encode()[:255]
    size = HEADER_SIZE + len(lab) + len(brd)
    h = bytearray(size)
    struct.pack_into(HEADER, h, 0, MAGIC, VERSION, size, rate_millihz, channels, INT16_LE, len(lab), len(brd),
                     flags, 0, n_samples, late, 0)
    h[HEADER_SIZE:HEADER_SIZE + len(lab)] = lab
    h[HEADER_SIZE + len(lab):] = brd
    crc = _crc32(memoryview(h)[:28])
    crc = _crc32(memoryview(h)[HEADER_SIZE:], crc)
    _put32(h, 28, crc)
    return h


class _Serial:
    """Frames on the USB serial link: sync, type, reserved, seq, length, payload, CRC-32."""

    def __init__(self, block_bytes):
        self.out = getattr(sys.stdout, "buffer", sys.stdout)
        self.head = bytearray(FRAME_HEADER_SIZE + 4)    # frame header + a data frame's first-sample index
        self.head[0:2] = SYNC
        self.tail = bytearray(4)
        self.seq = 0
        self.block_bytes = block_bytes

    def frame(self, kind, payload, first=-1):
        h = self.head
        h[2] = kind
        h[3] = 0
        _put32(h, 4, self.seq)
        n = len(payload) * (2 if kind == DATA else 1) + (4 if first >= 0 else 0)   # data: int16 items
        h[8] = n & 0xFF
        h[9] = n >> 8
        if first >= 0:
            _put32(h, 10, first)
            head = h
        else:
            head = memoryview(h)[:FRAME_HEADER_SIZE]
        crc = _crc32(memoryview(head)[2:])
        crc = _crc32(payload, crc, kind == DATA)
        _put32(self.tail, 0, crc)
        self.out.write(head)
        self.out.write(payload)
        self.out.write(self.tail)
        self.seq += 1


def record(label, seconds, source=None, rate=None, channels=None, to="file", path=None, board=None, block=None):
    """Record `seconds` of `source` at `rate` Hz as one labelled recording; returns (samples, late).

    source: a callable returning one sample (a tuple of `channels` ints, int16 range), paced here with ticks_us;
    or an object with read_into(buf) that writes up to len(buf) // channels whole samples into the int16 array
    buf and returns how many (0 when none is ready, None at the end of the source, which ends the recording
    early): its own FIFO paces the recording.
    rate: samples per second (default: source.rate). channels: default source.channels, else the length of the
    first sample. to: "file" appends to `path` (default recordings.pmr), "serial" streams frames on stdout.
    late counts samples taken more than one period after they were due (callable sources)."""
    from array import array
    if not isinstance(label, str):
        raise TypeError("picoml.record: label is a str (the class of the recording), not %r" % (label,))
    if source is None:
        raise ValueError("picoml.record: give a source (a callable returning a sample, or an object with read_into)")
    if to not in ("file", "serial"):
        raise ValueError("picoml.record: to must be 'file' or 'serial'")
    if sys.byteorder != "little":
        raise ValueError("picoml.record: int16 samples are written little-endian; this is a big-endian port")
    rate = rate or getattr(source, "rate", None)
    if not rate or rate <= 0:
        raise ValueError("picoml.record: give rate= (samples per second)")
    fifo = hasattr(source, "read_into")
    first = None
    channels = channels or getattr(source, "channels", None)
    if not channels:
        if fifo:
            raise ValueError("picoml.record: give channels=")
        first = source()
        try:
            channels = len(first)
        except TypeError:
            raise ValueError("picoml.record: each sample is a tuple of ints (int16 range), not %r: a source of one "
                             "value returns (v,)" % (first,))
    rate_millihz = int(rate * 1000 + 0.5)
    total = int(seconds * rate + 0.5)
    per_block = block or max(1, BLOCK_BYTES // (2 * channels))
    if not isinstance(per_block, int) or per_block < 1:
        raise ValueError("picoml.record: block is a number of samples >= 1, not %r" % (block,))
    if 4 + 2 * per_block * channels > MAX_PAYLOAD:
        raise ValueError("picoml.record: a block of %d samples is over %d bytes" % (per_block, MAX_PAYLOAD))
    buf = array("h", [0] * (per_block * channels))
    view = memoryview(buf)
    board = board or board_name()
    header = _header(label, board, rate_millihz, channels, total, 0, FLAG_INCOMPLETE)
    serial = f = None
    if to == "serial":
        serial = _Serial(per_block)
        serial.frame(START, header)
    else:
        path = path or DEFAULT_PATH
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        f.seek(0, 2)
        start = f.tell()
        f.write(header)
    # pacing: due time advances by 1e9 // rate_millihz us plus a Bresenham carry of the remainder (small ints only)
    period, rem = divmod(1000000000, rate_millihz)
    carry = 0
    late = 0
    done = 0
    crc = 0
    frames = 0
    due = ticks_us()
    try:
        while done < total:
            want = min(per_block, total - done)
            k = 0
            if fifo:
                while k < want:
                    got = source.read_into(view[k * channels:want * channels])
                    if got is None:             # the source ended: keep what came
                        total = done + k
                        break
                    k += got
            else:
                j = 0
                while k < want:
                    if first is not None:
                        s = first
                        first = None
                    else:
                        while ticks_diff(due, ticks_us()) > 0:
                            pass
                        if ticks_diff(ticks_us(), due) > period:
                            late += 1
                        s = source()
                    try:
                        for c in range(channels):
                            buf[j] = s[c]
                            j += 1
                    except (IndexError, TypeError):
                        raise ValueError("picoml.record: each sample is a tuple of %d ints (int16 range), not %r"
                                         % (channels, s))
                    k += 1
                    due = ticks_add(due, period)
                    carry += rem
                    if carry >= rate_millihz:
                        carry -= rate_millihz
                        due = ticks_add(due, 1)
            if not k:
                break
            chunk = view[:k * channels]
            crc = _crc32(chunk, crc, True)
            if serial:
                serial.frame(DATA, chunk, done)
            else:
                f.write(chunk)
            frames += 1
            done += k
    finally:
        if serial:
            tail = bytearray(16)
            struct.pack_into(END_PAYLOAD, tail, 0, done, late, crc & 0xFFFFFFFF, frames)
            serial.frame(END, tail)
        else:
            tail = bytearray(4)
            _put32(tail, 0, crc)
            f.write(tail)
            end = f.tell()
            f.seek(start)
            f.write(_header(label, board, rate_millihz, channels, done, late, 0))
            f.seek(end)
            f.close()
    return done, late
