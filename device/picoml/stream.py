# picoml.stream: overlapping windows from a stream of samples, and a loop that runs a model on them.
#
#   from picoml.stream import Window, run
#   w = Window(128, channels=3, hop=32)            # 128 frames of 3 int16 values, a new window every 32 frames
#   if w.push((ax, ay, az)):                       # or w.extend(block, start, end) with interleaved values
#       y = m.predict(w.window_into(m, scale=1 / 4096))   # raw counts -> g -> the model's int8 input
#   run(m, Window(128, 6, 32, reader=imu), print, smoothing=3, threshold=0.8, scale=SCALES)
#       # imu: a picoml.sensors driver; its FIFO is read into the window (frames of ax ay az gx gy gz counts)
#   run(m, Window(128, 3, 32, reader=read_xyz), print)   # or a callable returning one (x, y, z) frame
#
# Readers, one convention (picoml.sensors, picoml.audio, picoml.recording.SyntheticFifo): read_into(buf) writes
# whole frames and returns how many -- 0 when none is ready yet (an empty FIFO: ask again), None at the end.
#
# Only what MicroPython and CircuitPython both have. Nothing here allocates per window once set up (int16 'h'
# and int8 'b' windows; float 'f' windows box floats on ports that box them); tested with gc.mem_alloc() deltas
# in the unix port.
#
# Storage (why not a ring with a memoryview slice per window): a MicroPython memoryview slice is a new heap
# object, and copying from a ring at a varying offset needs one. So the window is kept time-ordered in place:
# the buffer holds `length` frames (the window) followed by a staging area of min(hop, length) frames where
# new frames go. When the staging area is full the buffer is shifted left by its size and the next window is
# complete at the front. The shift is done in pieces no larger than the staging area, so source and
# destination never overlap (some MicroPython and CircuitPython versions copy slices with memcpy, not
# memmove), through memoryviews made once in __init__ (two per piece, 16 bytes each on a 32-bit port, plus a
# tuple). When there would be more than MAX_PIECES pieces and their views would take over ~1/8 of the buffer
# (a hop much smaller than the length, e.g. hop 1), the shift is a plain Python loop over the window instead.
# E.g. 1 s of 16 kHz audio every 20 ms: 50 pieces (~2.4 KB of views and tuples next to the 32.6 KB buffer),
# each shift 50 memmoves. window() returns the same memoryview of the front of the buffer every time:
# contiguous, oldest frame first, valid until the push that completes the next window (frames arriving in
# between go to the staging area). Memory: (length + min(hop, length)) * channels values.
from array import array

MAX_PIECES = 16


class _Slice:
    def __getitem__(self, s):
        return s


# One whole-buffer slice object, made once: `dst[:] = src` heap-allocates its slice object per call on older
# MicroPython releases (1.23) and CircuitPython; `dst[_ALL] = src` does not. slice(None) cannot be called on
# every port, so the object comes from a subscript.
_ALL = _Slice()[:]
del _Slice
_ITEMSIZE = {"h": 2, "b": 1, "f": 4}
_MAXABS = {"h": 32768, "b": 128}


class Window:
    """Overlapping windows of `length` frames of `channels` values, one every `hop` frames.

    Window k (k = 0, 1, ...) holds frames k*hop .. k*hop + length - 1 of the stream: the first is complete after
    `length` frames, then one every `hop` frames; with hop > length the frames between windows are skipped.
    dtype: 'h' (int16, e.g. raw sensor counts, audio), 'b' (int8) or 'f' (float32).
    reader: optional source for next()/windows()/run(): an object with read_into(buf) that writes whole frames
    (`channels` interleaved values each) into buf and returns how many frames it wrote -- 0 when none is ready
    yet (next() then asks again: a live sensor's FIFO is often empty), None when the stream has ended (the end
    of a file) -- e.g. an IMU driver (picoml.sensors), picoml.audio.Microphone / WavSource, read `block`
    frames at a time; a reader with a `channels` attribute must give this Window's number of channels. Or a
    callable returning one frame (a number, or a sequence of `channels` values) or None at the end.
    """

    def __init__(self, length, channels=1, hop=None, dtype="h", reader=None, block=256):
        if hop is None:
            hop = length
        for v in (length, channels, hop):
            if not isinstance(v, int) or v < 1:
                raise ValueError("picoml: Window needs length, channels and hop whole numbers >= 1, not %r" % (v,))
        if dtype not in _ITEMSIZE:
            raise ValueError("picoml: Window dtype must be 'h', 'b' or 'f', not %r" % (dtype,))
        self.length = length
        self.channels = channels
        self.hop = hop
        self.dtype = dtype
        stage = hop if hop < length else length
        self._n = length * channels                     # values in a window
        self._stagev = stage * channels
        self._buf = array(dtype, bytes((length + stage) * channels * _ITEMSIZE[dtype]))
        mv = memoryview(self._buf)
        self._view = mv[0:self._n]
        pieces = []
        npieces = (length + stage - 1) // stage
        if npieces <= MAX_PIECES or npieces <= (length + stage) * channels * _ITEMSIZE[dtype] // 256:
            a = 0
            while a < self._n:
                b = a + self._stagev
                if b > self._n:
                    b = self._n
                pieces.append((mv[a:b], mv[a + self._stagev:b + self._stagev]))
                a = b
        self._pieces = pieces
        self._skipv = (hop - stage) * channels          # values dropped between windows when hop > length
        self._q = None                                  # quantization: key, (M, shift, half, clamp) per channel
        self._qout = None
        self._reader_fn = None
        self._read_into = None
        self._block = None
        self.reset()
        if reader is not None:
            self.attach(reader, block)

    def reset(self):
        """Forget the stream: the next window is complete after `length` more frames."""
        self._w = 0                 # next value index in the buffer
        self._end = self._n         # the value index at which the next window is complete
        self._skip = 0              # values still to drop
        self._ready = False
        self._bpos = 0              # reader block: next value, values in it
        self._bn = 0
        self.windows_done = 0       # windows completed so far
        self.dropped = 0            # windows overwritten before window()/next() took them

    # -- feeding -------------------------------------------------------------------------------------------

    def push(self, sample):
        """Add one frame: a number (channels == 1) or a sequence of `channels` values. True when it completed a
        window (take it with window()). Do not push while an extend() has left a partial frame."""
        if self._skip:
            self._skip -= self.channels
            return False
        b = self._buf
        w = self._w
        t = type(sample)
        if (t is int or t is float) and self.channels == 1:
            b[w] = sample
            w += 1
        else:
            try:
                if len(sample) != self.channels:
                    raise IndexError
                for c in range(self.channels):
                    b[w] = sample[c]
                    w += 1
            except (IndexError, TypeError):     # nothing of the frame counted: w is stored below only
                raise _frame_error(self, sample)
        self._w = w
        if w == self._end:
            self._complete()
            return True
        return False

    def extend(self, src, start=0, end=None):
        """Add the interleaved values src[start:end] (end None: len(src)); frames may span calls. Stops right
        after a value that completes a window, so none is lost: returns the index of the next value to give
        (== end when all were taken). Typical use:
            i = 0
            while i < n:
                i = w.extend(block, i, n)
                if w.ready(): use(w.window())"""
        if end is None:
            end = len(src)
        b = self._buf
        i = start
        while i < end:
            skip = self._skip
            if skip:
                k = end - i
                if k > skip:
                    k = skip
                self._skip = skip - k
                i += k
                continue
            w = self._w
            k = self._end - w
            if k > end - i:
                k = end - i
            d = i - w
            for j in range(w, w + k):
                b[j] = src[j + d]
            i += k
            w += k
            self._w = w
            if w == self._end:
                self._complete()
                return i
        return i

    def _complete(self):
        if self._end == self._n:
            self._end = self._n + self._stagev      # first window: from now on frames go to the staging area
        else:
            pieces = self._pieces
            if pieces:
                for dst, src in pieces:
                    dst[_ALL] = src
            else:
                b = self._buf
                d = self._stagev
                for j in range(self._n):
                    b[j] = b[j + d]
            self._w = self._n
        if self._ready:
            self.dropped += 1
        self._ready = True
        self._skip = self._skipv
        self.windows_done += 1

    # -- taking windows ------------------------------------------------------------------------------------

    def ready(self):
        """True when a completed window has not been taken yet."""
        return self._ready

    def window(self):
        """The current window: a memoryview of length*channels values (interleaved frames, oldest first), the
        same object every time; marks it taken. Valid until the push that completes the next window."""
        self._ready = False
        return self._view

    def attach(self, reader, block=256):
        """Set the reader used by next() (see the class doc); block: frames per read_into call."""
        self._read_into = None
        self._reader_fn = None
        try:
            self._read_into = reader.read_into      # bound once here: looking it up per call allocates
        except AttributeError:
            if not callable(reader):
                raise TypeError("picoml: a Window reader has read_into(buf) or is a callable returning frames")
            self._reader_fn = reader
        if self._read_into is not None:
            if not isinstance(block, int) or block < 1:
                # (a block of 0 frames: read_into(empty) answers 0, "none ready", and next() asked for ever)
                raise ValueError("picoml: a Window's reader block is a number of frames >= 1, not %r" % (block,))
            got = getattr(reader, "channels", self.channels)
            if got != self.channels:
                raise ValueError("picoml: the reader gives %s channels per frame, the Window has %d"
                                 % (got, self.channels))
            n = block * self.channels
            if self._block is None or len(self._block) != n:
                self._block = array(self.dtype, bytes(n * _ITEMSIZE[self.dtype]))
        self._bpos = self._bn = 0

    def next(self):
        """Read from the reader until a window is complete; return it (as window()) or None when the reader
        says the stream has ended (read_into returned None, the callable returned None). A reader with nothing
        ready yet (read_into returned 0) is asked again: next() waits for the window (Ctrl-C stops it)."""
        if self._ready:
            return self.window()
        read = self._read_into
        if read is not None:
            blk = self._block
            while True:
                if self._bpos < self._bn:
                    self._bpos = self.extend(blk, self._bpos, self._bn)
                    if self._ready:
                        return self.window()
                n = read(blk)
                if n is None:
                    return None
                self._bpos = 0
                self._bn = n * self.channels
        frame = self._reader_fn
        if frame is None:
            raise ValueError("picoml: this Window has no reader: Window(..., reader=...) or attach(reader)")
        while True:
            s = frame()
            if s is None:
                return None
            if self.push(s):
                return self.window()

    def windows(self):
        """Iterator over the windows from the reader: `for win in w.windows(): ...` (one generator object is
        allocated when it starts, nothing per window)."""
        while True:
            v = self.next()
            if v is None:
                return
            yield v

    # -- conversion to a model's input ---------------------------------------------------------------------

    def quantize_into(self, out, in_scale, zero_point, scale=None):
        """Quantize the current window into `out` (bytearray / array('b') of length*channels values, written as
        int8): q = round(v * scale_c / in_scale) + zero_point, half away from zero, clamped to -128..127.
        scale: None (the values are already in real units), a number, or one per channel (e.g. raw int16
        accelerometer counts -> g: 1/4096 for +-8 g). For 'h' and 'b' windows this is integer fixed point
        (multiplier and shift computed once per (in_scale, zero_point, scale) objects): no floats, no
        allocation; the result is that of exact arithmetic except, rarely, 1 off where v*scale_c/in_scale is
        within ~2**-13 relative of a rounding boundary. 'f' windows use float arithmetic. The constants are
        recomputed only when in_scale, zero_point or scale compare unequal to the last call's (keep the scale
        tuple in a variable: building it per call allocates it)."""
        q = self._q
        if q is None or q[0] != in_scale or q[1] != zero_point or q[2] != scale:
            q = self._q = (in_scale, zero_point, scale, _fixed_point(self, in_scale, scale))
        consts = q[3]
        n = self._n
        if len(out) != n:
            raise ValueError("picoml: the window has %d values, out has %d" % (n, len(out)))
        b = self._buf
        C = self.channels
        zp = zero_point
        if self.dtype == "f":
            for c in range(C):
                f = consts[c]
                k = c
                while k < n:
                    x = b[k] * f
                    r = int(x + 0.5) if x >= 0 else -int(0.5 - x)
                    r += zp
                    if r < -128:
                        r = -128
                    elif r > 127:
                        r = 127
                    out[k] = r & 0xFF
                    k += C
            return out
        for c in range(C):
            m, s, half, lim = consts[c]
            k = c
            while k < n:
                v = b[k]
                if v > lim:
                    v = lim
                elif v < -lim:
                    v = -lim
                p = v * m
                if p >= 0:
                    r = (p + half) >> s
                else:
                    r = -((half - p) >> s)
                r += zp
                if r < -128:
                    r = -128
                elif r > 127:
                    r = 127
                out[k] = r & 0xFF
                k += C
        return out

    def window_into(self, model, scale=None):
        """Quantize the current window into the model's (first) input with its scale and zero point and return
        the int8 buffer to give to model.predict: a bytearray allocated once per Window and model. scale as in
        quantize_into. Marks the window taken."""
        self._ready = False
        if self._qout is None or self._qout[0] is not model:
            io = model.inputs[0]
            if io.scale is None or not io.scale > 0:
                raise ValueError("picoml: the model's input has no quantization scale")
            if io.size != self._n:
                raise ValueError("picoml: the model takes %d input values, the window has %d" % (io.size, self._n))
            self._qout = (model, bytearray(self._n), io.scale, io.zero_point)
        m = self._qout
        return self.quantize_into(m[1], m[2], m[3], scale)


def _frame_error(w, sample):
    """push()'s refusal of a frame that is not `channels` numbers (a number into a window of several channels used
    to fill one value of the frame: every later frame shifted by one)."""
    return ValueError("picoml: Window.push takes a frame of %d %s values (%s), not %r" % (
        w.channels, {"h": "int16", "b": "int8", "f": "float"}[w.dtype],
        "a number" if w.channels == 1 else "a tuple, list or array", sample))


def _fixed_point(w, in_scale, scale):
    """Per channel: (multiplier, shift, half, clamp) with v*scale_c/in_scale ~= v*multiplier / 2**shift, every
    product below 2**29 (a small int on 32-bit ports: no long ints, no allocation), |v| clamped first to where
    int8 saturates anyway; float factors for 'f' windows."""
    C = w.channels
    if not in_scale > 0:
        raise ValueError("picoml: in_scale must be > 0 (the model input's scale), not %r" % (in_scale,))
    if scale is None:
        scales = [1.0] * C
    elif isinstance(scale, (int, float)):
        scales = [scale] * C
    else:
        scales = list(scale)
        if len(scales) != C:
            raise ValueError("picoml: %d channel scales for %d channels" % (len(scales), C))
    consts = []
    for sc in scales:
        f = sc / in_scale
        if w.dtype == "f":
            consts.append(f)
            continue
        if not f > 0:
            raise ValueError("picoml: channel scales must be > 0")
        lim = _MAXABS[w.dtype]
        sat = int(300 / f) + 1          # |v| beyond this saturates int8 whatever the zero point
        if sat < lim:
            lim = sat
        s = 0
        m = int(f + 0.5)
        while s < 40:
            m2 = int(f * (1 << (s + 1)) + 0.5)
            if m2 * lim >= (1 << 29):
                break
            s += 1
            m = m2
        consts.append((m, s, (1 << (s - 1)) if s else 0, lim))
    return tuple(consts)


def run(model, source, on_result, every=None, smoothing=None, threshold=None, count=None, holdoff=None,
        scale=None, ignore=()):
    """Run `model` on each window from `source` and report results; returns the number of windows read.

    source: a Window with a reader (Window(..., reader=...)): each window is quantized into the model's input
    (window_into, with `scale` as there); or an object with read_into(buf) filling a preallocated int8 buffer
    of the model's input size (returns a true value when it filled it, 0 when nothing is ready yet -- asked
    again --, None at the end); or a callable returning the next int8 input buffer (or None at the end).
    every: run the model on one window in `every` (default 1: each window).
    smoothing: average the scores over the last N results (None: the current result only).
    threshold: a real score (e.g. 0.8 for a softmax output) the top class's smoothed score must reach;
    on_result(label, index, score) is then called only when it does, score being the smoothed top score in
    the output's int8 units (real = (score - zero_point) * scale), and then not again for `holdoff` results
    (default: smoothing or 1). Classes in `ignore` (indices, e.g. silence/unknown) never trigger.
    Without threshold: on_result(label, index, scores) after every result, scores an array('b') of the
    smoothed int8 scores (the model's own output array when smoothing is None), reused.
    label: model.labels[index], or None when the model has no labels. Stops after `count` windows, at the
    end of the source, or on KeyboardInterrupt (Ctrl-C at the REPL). Allocates nothing per window (pure-Python
    parts; predict itself is allocation-free with int8 data)."""
    labels = model.labels
    out_io = model.outputs[0]
    K = out_io.size
    N = smoothing or 1
    every = every or 1
    if not isinstance(N, int) or N < 1:
        raise ValueError("picoml: run's smoothing is a number of results >= 1 (or None), not %r" % (smoothing,))
    if isinstance(ignore, int):
        ignore = (ignore,)
    ring = array("h", bytes(2 * N * K))
    sums = array("i", [0] * K)
    avg = array("b", bytes(K))
    thr = None
    if threshold is not None:
        oscale, ozp = out_io.scale, out_io.zero_point
        if not oscale or not oscale > 0:
            raise ValueError("picoml: threshold needs a quantized output (scale > 0)")
        t = (threshold / oscale + ozp) * 256
        thr = int(t)
        if thr < t:
            thr += 1                     # ceil: sum * 256 >= m * thr  <=>  mean >= threshold
        if holdoff is None:
            holdoff = N
    holdoff = holdoff or 0
    read_into = None
    xbuf = None
    window = None
    if isinstance(source, Window):
        window = source
    else:
        try:
            read_into = source.read_into
            xbuf = bytearray(model.inputs[0].size)
        except AttributeError:
            if not callable(source):
                raise TypeError("picoml: run's source is a Window, has read_into(buf) or is a callable")
    n = 0
    skip = 0
    pos = 0
    m = 0
    hold = 0
    try:
        while count is None or n < count:
            if window is not None:
                if window.next() is None:
                    break
            elif read_into is not None:
                got = read_into(xbuf)
                while got == 0:
                    got = read_into(xbuf)
                if got is None:
                    break
            else:
                x = source()
                if x is None:
                    break
            n += 1
            skip += 1
            if skip < every:
                continue
            skip = 0
            if window is not None:
                x = window.window_into(model, scale)
            elif read_into is not None:
                x = xbuf
            y = model.predict(x)
            base = pos * K
            best = -32768 * N
            bi = 0
            for k in range(K):
                v = y[k]
                s = sums[k] + v - ring[base + k]
                ring[base + k] = v
                sums[k] = s
                if s > best:
                    best = s
                    bi = k
            pos += 1
            if pos == N:
                pos = 0
            if m < N:
                m += 1
            label = labels[bi] if labels is not None and bi < len(labels) else None
            if thr is None:
                if N == 1:
                    on_result(label, bi, y)
                else:
                    for k in range(K):
                        avg[k] = sums[k] // m
                    on_result(label, bi, avg)
            elif hold:
                hold -= 1
            elif best * 256 >= m * thr and bi not in ignore:
                on_result(label, bi, best // m)
                hold = holdoff
    except KeyboardInterrupt:
        pass
    return n
