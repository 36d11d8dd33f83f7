# picoml.audio: microphone input as signed 16-bit samples at 16 kHz, behind one interface:
#
#   mic.read_into(buf) -> n     fill buf (an array('h')) with up to len(buf) new samples; n samples were written
#
#   from picoml import audio
#   from picoml.stream import Window, run
#   mic = audio.Microphone.from_board(board)         # the board's dict (boards/<board>), see from_board
#   win = Window(16000, hop=8000, reader=mic, block=512)   # int16 ring of 1 s, a window every 0.5 s
#   src = audio.WavSource("yes.wav")                 # the virtual board / tests: a WAV file at its real rate
#
# Every difference between MicroPython and CircuitPython lives in this module:
# - MicroPython: machine.I2S in RX mode (ESP32, RP2040, STM32, i.MX RT). MicroPython has no PDM microphone
#   driver, so the PDM microphones of the nRF52840 boards (and PDM on RP2040) are not available there:
#   Microphone raises NotImplementedError pointing at CircuitPython.
# - CircuitPython: audiobusio.PDMIn (nRF52840, RP2040, SAMD51): record(buffer, n) into an array('H') of
#   offset-binary samples (0..65535, silence near 32768), converted to signed int16 here. CircuitPython has no
#   I2S input on these chips, so an I2S microphone there is a NotImplementedError pointing at MicroPython.
# - I2S microphones with 24-bit samples in 32-bit slots (INMP441, ICS-43434, SPH0645): read with bits=32;
#   each slot is little-endian in memory, the sample MSB-aligned, so the top 16 bits are bytes 2..3 of the slot.
#   shift (default 16) selects which bits become the int16 sample: shift 16 keeps the top 16 bits, shift 14
#   is 4x gain (the INMP441's full scale is far above speech levels), saturating. Only the top 3 bytes are
#   read (24-bit values, small ints even on 32-bit ports): no heap allocation per block. Mono format reads one
#   slot per frame; with the INMP441 that is the left one: tie its L/R pin to GND.
# - Nothing in the I2S / PDM paths has run on hardware; they run in the unix port against emulated
#   machine.I2S / audiobusio objects (tests/test_audio.py). WavSource runs for real in the unix port.
import sys
from array import array

RATE = 16000
_BIG_ENDIAN = getattr(sys, "byteorder", "little") != "little"     # WAV is little-endian, as every board is


class _Subscript:
    def __getitem__(self, s):
        return s


_ALL = _Subscript()[:]          # one whole-buffer slice, made once (`dst[:] = src` allocates one per call on 1.23)
del _Subscript


def runtime():
    """'circuitpython' or 'micropython' (anything else counts as micropython)."""
    return "circuitpython" if sys.implementation.name == "circuitpython" else "micropython"


class Microphone:
    """A microphone giving int16 samples through read_into(buf) -> n. Build it with Microphone.from_board(board)
    or with the I2SMic / PDMMic / WavSource classes directly."""

    @staticmethod
    def from_board(board, rate=RATE, block=512, runtime_name=None):
        """The microphone of a board definition (boards/<name>.json, picoml.boards.load(name)): board["mic"]
        (or the dict itself) with
            "interface": "i2s" | "pdm" | "wav"   ("type" is accepted too)
            i2s: "sck", "ws", "sd" pins, optional "id" (I2S peripheral, default 0), "bits" (16 or 32, default
                 32), "shift" (32-bit only, default 16), "ibuf" (driver buffer bytes, default 8192)
            pdm: "clk" (or "clock"), "data" pins
            wav: "path" (a 16-bit PCM WAV: the virtual board)
            "power_pin": driven high first when not null (e.g. the XIAO nRF52840 Sense's mic power)
        Pins as the board files write them ("GPIO16", "P0.26"; see picoml.boards.pin), or machine.Pin ids /
        CircuitPython pin objects. board "name" / "mcu" only make error messages precise.
        block: the most samples one read_into takes (sizes the raw buffer).
        runtime_name: force "micropython" / "circuitpython" (tests); None detects.
        board may also be a board's name or path (picoml.boards.load's argument)."""
        if isinstance(board, str):      # (a name was told the board has no microphone description)
            from .boards import load
            board = load(board)
        mic = board.get("mic", board) if isinstance(board, dict) else board
        if not isinstance(mic, dict):
            raise ValueError("picoml.audio: the board has no microphone description (board['mic'])")
        kind = mic.get("interface", mic.get("type"))
        where = board.get("name") or board.get("mcu") or "this board"
        if board.get("mcu") and board.get("mcu") not in where:
            where = "%s (%s)" % (where, board["mcu"])
        rt = runtime_name or runtime()
        if kind == "wav":
            src = WavSource(mic["path"])
            if src.rate != rate or src.channels != 1:
                src.close()
                raise ValueError("picoml.audio: %s is %d Hz with %d channel(s); the microphone gives %d Hz mono "
                                 "16-bit PCM (convert it, e.g. `sox IN -r %d -c 1 -b 16 OUT.wav`)"
                                 % (mic["path"], src.rate, src.channels, rate, rate))
            return src
        if kind == "pdm":
            if rt != "circuitpython":
                raise NotImplementedError(
                    "picoml.audio: %s has a PDM microphone, and MicroPython has no PDM microphone driver "
                    "(not on the nRF52840, the RP2040 or the ESP32). Use CircuitPython, whose "
                    "audiobusio.PDMIn reads it, or an I2S microphone (e.g. INMP441) through machine.I2S." % where)
            power = _power_on(mic.get("power_pin"), rt)
            m = PDMMic(mic.get("clk", mic.get("clock")), mic["data"], rate, block)
            m.power = power
            return m
        if kind == "i2s":
            if rt == "circuitpython":
                raise NotImplementedError(
                    "picoml.audio: CircuitPython has no I2S microphone input on %s; use MicroPython's "
                    "machine.I2S (ESP32, RP2040), or a PDM microphone with audiobusio.PDMIn." % where)
            power = _power_on(mic.get("power_pin"), rt)
            m = I2SMic(mic["sck"], mic["ws"], mic["sd"], mic.get("id", 0), rate, mic.get("bits", 32),
                       mic.get("shift", 16), block, mic.get("ibuf", 8192))
            m.power = power
            return m
        raise ValueError("picoml.audio: unknown microphone interface %r (expected 'i2s', 'pdm' or 'wav')" % (kind,))


def _mp_pin(p):
    """A MicroPython machine.Pin id: board-file names through picoml.boards.pin, ints and others as they are."""
    if isinstance(p, str):
        from .boards import pin
        try:
            return pin(p)
        except ValueError:
            return p        # a port's own pin name, e.g. "X5" on a pyboard
    return p


def _power_on(p, rt):
    """Drive the microphone's power pin high (None: nothing); returns the pin object, to be kept."""
    if p is None:
        return None
    if rt == "circuitpython":
        import digitalio
        d = digitalio.DigitalInOut(_pin(p))
        d.switch_to_output(value=True)
    else:
        from machine import Pin
        d = Pin(_mp_pin(p), Pin.OUT, value=1)
    import time
    time.sleep(0.01)
    return d


class I2SMic:
    """MicroPython machine.I2S in RX mode, mono. bits=16: samples are read straight into the caller's buffer.
    bits=32 (INMP441 and other 24-bit mics): read into a raw buffer of `block` slots and reduced to int16 with
    `shift` (see the module doc). read_into blocks until the samples are there."""

    channels = 1        # mono: what picoml.stream.Window and picoml.record read of a reader

    def __init__(self, sck, ws, sd, i2s_id=0, rate=RATE, bits=32, shift=16, block=512, ibuf=8192):
        from machine import I2S, Pin
        if bits not in (16, 32):
            raise ValueError("picoml.audio: I2S bits must be 16 or 32")
        if not 8 <= shift <= 16:
            raise ValueError("picoml.audio: shift must be 8..16")
        if not isinstance(sck, Pin):
            sck, ws, sd = Pin(_mp_pin(sck)), Pin(_mp_pin(ws)), Pin(_mp_pin(sd))
        self.rate = rate
        self.bits = bits
        self._i2s = I2S(i2s_id, sck=sck, ws=ws, sd=sd, mode=I2S.RX, bits=bits, format=I2S.MONO, rate=rate,
                        ibuf=ibuf)
        self._down = shift - 8          # applied to the 24-bit value of the top three bytes
        self._raw = bytearray(4 * block) if bits == 32 else None
        self._rawmv = memoryview(self._raw) if bits == 32 else None
        self._block = block

    def read_into(self, buf):
        if self.bits == 16:
            return self._i2s.readinto(buf) >> 1
        n = len(buf)
        raw = self._raw
        if n >= self._block:
            n = self._block
            got = self._i2s.readinto(raw)
        else:
            got = self._i2s.readinto(self._rawmv[0:4 * n])     # a short request: one small view
        return convert32(raw, got >> 2, buf, self._down)

    def deinit(self):
        self._i2s.deinit()


def convert32(raw, n, out, down=8):
    """n 32-bit little-endian I2S slots in raw (bytes) -> n int16 samples in out: the slot's top 24 bits
    (bytes 1..3) as a signed value >> down, saturated to int16. Returns n."""
    j = 0
    for k in range(n):
        v = raw[j + 1] | (raw[j + 2] << 8) | (raw[j + 3] << 16)
        if v & 0x800000:
            v -= 0x1000000
        v >>= down
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        out[k] = v
        j += 4
    return n


class PDMMic:
    """CircuitPython audiobusio.PDMIn at 16 kHz, 16 bits: record() into an array('H') of `block` samples,
    converted to signed int16 (v - 32768). read_into blocks for the recording time."""

    channels = 1        # mono

    def __init__(self, clock, data, rate=RATE, block=512):
        try:
            from audiobusio import PDMIn
        except ImportError:
            raise NotImplementedError("picoml.audio: this CircuitPython build has no audiobusio.PDMIn")
        self.rate = rate
        clock = _pin(clock)
        data = _pin(data)
        self._pdm = PDMIn(clock, data, sample_rate=rate, bit_depth=16)
        self._raw = array("H", bytes(2 * block))
        self._block = block

    def read_into(self, buf):
        n = len(buf)
        if n > self._block:
            n = self._block
        raw = self._raw
        n = self._pdm.record(raw, n)
        for k in range(n):
            buf[k] = raw[k] - 32768
        return n

    def deinit(self):
        self._pdm.deinit()


def _pin(p):
    """A CircuitPython pin: a pin object as it is; a board-file name ("P0.26", "GPIO23") from
    microcontroller.pin (P0_26, GPIO23); any other name (e.g. "MICROPHONE_CLOCK") from the board module."""
    if not isinstance(p, str):
        return p
    import microcontroller
    mcu = getattr(microcontroller.pin, p.replace(".", "_"), None)
    if mcu is not None:
        return mcu
    import board
    return getattr(board, p)


class WavSource:
    """Samples from a 16-bit PCM WAV file (RIFF parsed here: MicroPython has no wave module), delivered at the
    file's real rate: read_into returns no earlier than the time the last sample it gives would have been
    recorded, counted from the first read. realtime=False delivers as fast as it is asked.
    clock: an object with ticks_us(), ticks_add(a, b), ticks_diff(a, b) and sleep_us(us) -- picoml.clock (the
    default: MicroPython's time functions, or the same over time.monotonic_ns on CircuitPython) or a fake one in
    tests. Attributes: rate, channels, frames (samples per channel), position (values read).
    read_into(buf) -> frames read (whole frames, `channels` interleaved values each; None at the end of the
    file), the reader convention of picoml.stream.Window."""

    def __init__(self, path, clock=None, realtime=True):
        try:
            self._f = open(path, "rb") if isinstance(path, str) else path
        except OSError as e:    # (MicroPython's own words do not name the file)
            raise OSError(e.args[0], "picoml.audio: cannot open the WAV file %s" % path)
        self.rate, self.channels, self._start, nbytes = _parse_wav(self._f)
        self.frames = nbytes // (2 * self.channels)
        self._nvalues = self.frames * self.channels
        self.position = 0
        self.realtime = realtime
        if clock is None and realtime:
            from . import clock
        self._clock = clock
        self._t0 = None
        self._rem = 0                   # microseconds owed, times rate (exact pacing, no drift)
        self._last = None
        self._mv = None

    def read_into(self, buf):
        left = self._nvalues - self.position
        n = len(buf) - len(buf) % self.channels
        if n > left:
            n = left
        if left <= 0:
            return None
        if n <= 0:
            raise ValueError("picoml: WavSource.read_into needs room for one frame of %d values" % self.channels)
        clock = self._clock
        if self.realtime and self._t0 is None:
            self._t0 = clock.ticks_us()
        if buf is not self._last:
            try:
                mv = memoryview(buf)            # made once per caller buffer: memoryview() allocates
            except TypeError:
                mv = b""
            if len(bytes(mv[0:1])) != 2:
                # (an array('f') of 100 was filled with 200 samples' bytes and 200 frames reported)
                raise TypeError("picoml: WavSource.read_into takes an array('h') (int16 samples), not %s"
                                % type(buf).__name__)
            self._last = buf
            self._mv = mv
        mv = self._mv if n == len(buf) else self._mv[0:n]   # a short read: at the end only
        got = _readfull(self._f, mv, 2 * n) >> 1
        got -= got % self.channels                   # a file cut short: whole frames only
        if _BIG_ENDIAN:
            _swap16(buf, got)
        self.position += got
        if not got:
            self.position = self._nvalues           # nothing more in the file: the end
            return None
        got //= self.channels
        if self.realtime:
            a = got * 1000000 + self._rem
            us = a // self.rate
            self._rem = a - us * self.rate
            self._t0 = clock.ticks_add(self._t0, us)
            wait = clock.ticks_diff(self._t0, clock.ticks_us())
            if wait > 0:
                clock.sleep_us(wait)
        return got

    def rewind(self):
        self._f.seek(self._start)
        self.position = 0
        self._t0 = None
        self._rem = 0

    def close(self):
        self._f.close()


def _readfull(f, mv, nbytes):
    got = f.readinto(mv)
    if got is None:
        got = 0
    while got < nbytes:                 # files return everything at once; streams may not
        k = f.readinto(mv[got:])
        if not k:
            break
        got += k
    return got


def _swap16(buf, n):
    for k in range(n):
        v = buf[k] & 0xFFFF
        v = ((v & 0xFF) << 8) | (v >> 8)
        buf[k] = v - 65536 if v > 32767 else v


def _parse_wav(f):
    """(rate, channels, data offset, data bytes) of a 16-bit PCM WAV; f is left at the first sample."""
    head = f.read(12)
    if len(head) < 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("picoml.audio: not a RIFF/WAVE file")
    pos = 12
    fmt = None
    while True:
        h = f.read(8)
        if len(h) < 8:
            raise ValueError("picoml.audio: WAV file without a data chunk")
        cid = h[0:4]
        size = int.from_bytes(h[4:8], "little")
        pos += 8
        if cid == b"fmt ":
            body = f.read(size if size < 40 else 40)   # (a damaged size must not become one huge read)
            if len(body) < 16:
                raise ValueError("picoml.audio: truncated WAV fmt chunk")
            tag = int.from_bytes(body[0:2], "little")
            channels = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            bits = int.from_bytes(body[14:16], "little")
            if tag == 0xFFFE and len(body) >= 26:          # WAVE_FORMAT_EXTENSIBLE: the subformat's tag
                tag = int.from_bytes(body[24:26], "little")
            if tag != 1 or bits != 16:
                raise ValueError("picoml.audio: WAV must be 16-bit PCM (format %d, %d bits)" % (tag, bits))
            if channels < 1 or rate < 1:
                raise ValueError("picoml.audio: WAV with %d channels at %d Hz" % (channels, rate))
            fmt = (rate, channels)
            pos += size + (size & 1)
            f.seek(pos)
        elif cid == b"data":
            if fmt is None:
                raise ValueError("picoml.audio: WAV data chunk before its fmt chunk")
            return fmt[0], fmt[1], pos, size
        else:
            skip = size + (size & 1)        # chunks are word aligned
            f.seek(pos + skip)
            pos += skip


# -- the front-end: samples to features ------------------------------------------------------------------------

FRONTEND = "frontend.pml"       # the default front-end's file, beside the library (picoml/frontend.pml)
FRAME = 480                     # micro_speech: 30 ms frames of 16 kHz audio...
HOP = 320                       # ...every 20 ms


def default_frontend():
    """The path of the default front-end, TFLite Micro's micro_speech one converted (picoml deploy copies it
    beside the library)."""
    here = __file__
    cut = here.rfind("/")
    return (here[:cut + 1] if cut >= 0 else "") + FRONTEND


_copy16 = None      # picoml.fast.copy16 (viper) or _copy16_py, chosen by the first Frontend


def _copy16_py(dst, d, src, s, n):
    """copy16 without viper: dst (bytes) at 16-bit index d on, from the int16 values src[s:s + n]."""
    o = 2 * d
    for j in range(s, s + n):
        v = src[j]
        dst[o] = v & 0xFF
        dst[o + 1] = (v >> 8) & 0xFF
        o += 2


class Frontend:
    """The audio front-end, streaming: 16-bit samples in, in blocks of any size (a microphone's DMA blocks), one
    int8 feature row per hop out (micro_speech: 40 features per 20 ms of audio, from 30 ms frames) into a ring of
    the last `rows` rows, kept in the shape of a keyword model's input (rows x features, oldest row first).

        fe = audio.Frontend()                    # micro_speech's front-end (picoml/frontend.pml)
        new = fe.feed(block, 0, n)               # samples block[0:n] (an array('h')): how many rows it completed
        kws.predict(fe.features())               # rows x features int8 values, oldest row first

    model: a picoml Model of a front-end (an int16 input of one frame, an int8 output of one feature row, its
    state carried from frame to frame), the path of its .pml, or None for the default (default_frontend()).
    rows: the ring's length (49: micro_speech's 1 s of features). hop: samples between frames; None reads the
    model's metadata ("input": {"hop": ...}) or takes 320. The frame is the model's input size.

    The first frame is complete after `frame` samples, then one every `hop` (samples between frames are skipped
    when hop > frame). The front-end's state (noise estimate, gain) carries from frame to frame as in TFLite
    Micro; reset() clears it with the ring. Nothing is allocated per call or per hop (the Python kernels' long
    ints on 32-bit ports aside). MicroPython moves the samples with picoml.fast (viper); CircuitPython, which has
    no viper, value by value in Python (slower, the same bytes).
    Attributes: model, frame, hop, width (features per row), rows, rows_done (rows since the last reset)."""

    def __init__(self, model=None, rows=49, hop=None, backend=None):
        if model is None or isinstance(model, str):
            import picoml
            model = picoml.load(model or default_frontend(), backend)
        self.model = model
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError("picoml.audio: a front-end has one input and one output, this model has %d and %d"
                             % (len(model.inputs), len(model.outputs)))
        inp, out = model.inputs[0], model.outputs[0]
        frame = 1
        for d in inp.shape:
            frame *= d
        if len(inp.data) != 2 * frame or len(out.data) < 1:
            raise ValueError("picoml.audio: a front-end takes int16 samples; this model's input %s is not"
                             % (inp.shape,))
        if hop is None:
            hop = HOP
            try:
                hop = model.metadata().get("input", {}).get("hop", HOP)
            except (ValueError, AttributeError, MemoryError):
                pass
        if rows < 1 or hop < 1:
            raise ValueError("picoml.audio: Frontend needs rows and hop >= 1")
        self.frame = frame
        self.hop = hop
        self.width = len(out.data)
        self.rows = rows
        # the samples of the frame being filled, in order: _fill of them; after a frame the last frame - hop move
        # to the front (a memmove through two views made here), or, when hop > frame, hop - frame samples are
        # skipped. Every method on the way of a hop keeps its Python state within 11 words, which MicroPython
        # holds on the C stack (a larger one is a heap block per call: gc_alloc's search of the heap per hop).
        self._buf = bytearray(2 * frame)
        self._input = inp.data
        self._output = out.data
        self._predict = model.backend == "native"
        keep = frame - hop if hop < frame else 0
        mv = memoryview(self._buf)
        self._keep = keep
        self._gap = hop - frame if hop > frame else 0
        self._keep_to = mv[:2 * keep]
        self._keep_from = mv[2 * (frame - keep):]
        global _copy16
        if _copy16 is None:
            try:
                from .fast import copy16 as _copy16
            except (ImportError, SyntaxError, NotImplementedError, ValueError):
                _copy16 = _copy16_py            # CircuitPython (no viper): a Python loop
        # the features: every row twice (rows r and r + rows), so the last `rows` rows are always one slice
        n = rows * self.width
        self._ring = bytearray(2 * n)
        mv = memoryview(self._ring)
        self._row = [mv[r * self.width:(r + 1) * self.width] for r in range(2 * rows)]
        self._view = [mv[r * self.width:r * self.width + n] for r in range(rows)]
        self._zero = bytes(self.width)
        self._checked = None        # the last samples buffer feed() checked (_check)
        self.reset()

    def reset(self):
        """Forget the audio: the front-end's state (model.reset()), the partial frame and the feature rows."""
        self.model.reset()
        zero = self._zero
        for r in self._row:
            r[_ALL] = zero
        self._fill = 0              # samples in the frame so far
        self._skip = 0              # samples to skip before the next frame starts (hop > frame)
        self._pos = 0
        self.rows_done = 0

    def feed(self, samples, start=0, end=None):
        """Take the samples samples[start:end] (an array('h') -- or, without viper, anything indexable giving int16
        values; end None: len(samples)); returns the number of feature rows they completed (each completed frame
        runs the model)."""
        if end is None:
            end = len(samples)
        if samples is not self._checked or start < 0 or end > len(samples):
            self._check(samples, start, end)
        done = 0
        while start < end:
            start = self._take(samples, start, end)
            if self._fill == self.frame:
                self._frame()
                done += 1
        return done

    def _check(self, samples, start, end):
        """feed()'s arguments, once per caller buffer (and whenever start or end lies outside it): viper's copy reads
        the samples' memory unchecked, so a range beyond the buffer, or a buffer of other than 2-byte items (bytes,
        array('f')), read past its end or gave wrong samples."""
        n = len(samples)
        if start < 0 or end > n:
            raise ValueError("picoml.audio: feed(samples, start, end) takes 0 <= start and end <= len(samples) (%d), "
                             "not %d and %d" % (n, start, end))
        if _copy16 is not _copy16_py:
            try:
                width = len(bytes(memoryview(samples)[0:1])) if n else 2     # the bytes of one item
            except TypeError:
                width = 0
            if width != 2:
                raise TypeError("picoml.audio: feed takes int16 samples, an array('h') (2-byte items), not %s"
                                % type(samples).__name__)
        self._checked = samples

    def _take(self, samples, i, end):
        """Samples from samples[i:end] into the frame, up to its end (after skipping those between frames);
        returns the index after the last one taken."""
        k = self._skip
        if k:
            if k > end - i:
                k = end - i
            self._skip -= k
            return i + k
        k = self.frame - self._fill
        if k > end - i:
            k = end - i
        _copy16(self._buf, self._fill, samples, i, k)
        self._fill += k
        return i + k

    def _frame(self):
        """The frame is complete: into the model's input, run, its features into the ring of rows; the samples the
        next frame shares with this one to the front."""
        if self._predict:
            self.model.predict(self._buf)       # the native module's fast path: copy in, run, in one call
        else:
            self._input[_ALL] = self._buf
            self.model.invoke()
        p = self._pos
        self._row[p][_ALL] = self._output               # the features into the ring...
        self._row[p + self.rows][_ALL] = self._output   # ...and their second copy
        p += 1
        self._pos = 0 if p == self.rows else p
        self.rows_done += 1
        if self._keep:
            self._keep_to[_ALL] = self._keep_from
        self._fill = self._keep
        self._skip = self._gap

    def features(self):
        """The last `rows` feature rows, oldest first: a memoryview of rows * width int8 values (as bytes), the
        model input of a keyword model (e.g. 49 x 40); rows not computed yet are 0. Valid until the next feed."""
        return self._view[self._pos]

    def latest(self):
        """The newest feature row (a memoryview of `width` int8 values as bytes)."""
        p = self._pos - 1
        return self._row[self.rows - 1 if p < 0 else p]
