# Register-level IMU emulation: the common parts. MicroPython code (runs in the unix port) and CPython too.
#
# A Chip has 256 8-bit registers, a reset table, a register-address pointer that auto-increments by the chip's
# rules, and a simulated clock: advance_us(us) produces samples at the configured output data rate (no real
# time), from a source (Motion: a deterministic motion generator; Recording: a list of samples; MotionFile: a
# performance written by the host's motion generator), in physical
# units (m/s^2, deg/s) converted to raw counts with the sensitivity of the configured range. Samples go to the
# data registers and, when the FIFO is on, into the FIFO; `generated` logs every sample pushed to the FIFO as
# raw [ax, ay, az, gx, gy, gz] so a test can compare what the driver read.
#
# I2CBus is a machine.I2C-compatible object holding chips by address; BusioI2C wraps it with CircuitPython's
# busio.I2C API. A bus with no chip at the address raises OSError(ENODEV), like machine.I2C on a NACK.
import math

try:
    import errno
    ENODEV = errno.ENODEV
except (ImportError, AttributeError):
    ENODEV = 19

G = 9.80665


def clamp16(v):
    v = int(round(v))
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


class Motion:
    """Deterministic motion: a slow tilt plus vibration on the accelerometer, rotations on the gyroscope."""

    def __init__(self, amplitude=1.0):
        self.k = amplitude

    def __call__(self, n, t):
        k = self.k
        return (k * 3.0 * math.sin(2 * math.pi * 1.3 * t) + 0.5 * math.sin(2 * math.pi * 37.0 * t),
                k * 2.0 * math.cos(2 * math.pi * 0.7 * t),
                G + k * 1.5 * math.sin(2 * math.pi * 5.1 * t + 0.3),
                k * 120.0 * math.sin(2 * math.pi * 2.2 * t),
                k * 45.0 * math.cos(2 * math.pi * 3.9 * t),
                k * 200.0 * math.sin(2 * math.pi * 0.9 * t + 1.0))


class Recording:
    """Samples from a list of (ax, ay, az, gx, gy, gz) in m/s^2 and deg/s; repeats the last one at the end."""

    def __init__(self, samples):
        self.samples = samples

    def __call__(self, n, t):
        s = self.samples
        return s[n] if n < len(s) else s[-1]


class MotionFile:
    """Samples played from a motion file written by the host (picoml.motion.write_motion_file): a 16-byte header
    (b"PMOT", version 1, channels, rate as float32, frame count) then float32 frames (m/s^2, deg/s). The sample
    at time t is frame round(t * rate); after the last frame the last one is held (the performer stands still).
    Frames are read in blocks, so playing does not seek per sample."""

    BLOCK = 128

    def __init__(self, path):
        import struct
        self._struct = struct
        self.f = open(path, "rb")
        magic, version, channels, rate, frames = struct.unpack("<4sHHfI", self.f.read(16))
        if magic != b"PMOT" or version != 1 or channels != 6 or not rate > 0 or frames < 1:
            raise ValueError("%s is not a 6-channel motion file (version 1)" % path)
        self.rate = rate
        self.frames = frames
        self._first = -1
        self._block = None

    def __call__(self, n, t):
        i = int(t * self.rate + 0.5)
        if i >= self.frames:
            i = self.frames - 1
        first = i - i % self.BLOCK
        if first != self._first:
            self.f.seek(16 + 24 * first)
            count = min(self.BLOCK, self.frames - first)
            self._block = self._struct.unpack("<%df" % (6 * count), self.f.read(24 * count))
            self._first = first
        k = 6 * (i - first)
        return self._block[k:k + 6]


class Chip:
    ADDRESS = 0x00
    WHO_AM_I_REG = 0x0F
    WHO_AM_I = 0x00
    RESET = {}                  # register -> reset value (others 0)

    def __init__(self, address=None, source=None, who_am_i=None):
        self.address = self.ADDRESS if address is None else address
        self.source = source if source is not None else Motion()
        self.who_am_i = self.WHO_AM_I if who_am_i is None else who_am_i
        self.writes = []        # (register, value) in order: the init sequence a driver wrote (None: no log)
        self.generated = []     # raw samples pushed to the FIFO
        self.t_us = 0
        self.n = 0              # samples produced since the last rate change
        self.t0_us = 0
        self.rate_mhz = 0
        self.sample_index = 0
        self.reset()

    # -- registers
    def reset(self):
        self.regs = bytearray(256)
        for r, v in self.RESET.items():
            self.regs[r] = v
        self.regs[self.WHO_AM_I_REG] = self.who_am_i
        self.fifo_clear()
        self.overrun = False

    def next_addr(self, reg):
        return (reg + 1) & 0xFF

    def read(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self.read_reg(reg) & 0xFF
            reg = self.next_addr(reg)

    def write(self, reg, data):
        for b in data:
            if self.writes is not None:
                self.writes.append((reg, b))
            self.write_reg(reg, b)
            reg = self.next_addr(reg)

    def read_reg(self, reg):
        return self.regs[reg]

    def write_reg(self, reg, value):
        self.regs[reg] = value
        self.config_changed()

    # -- time and samples
    def config_changed(self):
        rate = self.rate()
        if rate != self.rate_mhz:
            self.rate_mhz = rate
            self.t0_us = self.t_us
            self.n = 0

    def rate(self):
        """Current sample rate in mHz (0 = powered down)."""
        return 0

    def advance_us(self, us):
        self.t_us += us
        if not self.rate_mhz:
            return
        target = (self.t_us - self.t0_us) * self.rate_mhz // 1000000000
        while self.n < target:
            t = (self.t0_us + self.n * 1000000000 // self.rate_mhz) / 1e6
            phys = self.source(self.sample_index, t)
            self.sample_index += 1
            raw = self.to_raw(phys)
            self.set_data(raw)
            if self.fifo_on():
                if self.generated is not None:
                    self.generated.append(raw)
                self.fifo_push(raw)
            self.n += 1

    def advance(self, seconds):
        self.advance_us(int(round(seconds * 1000000)))

    def to_raw(self, phys):
        a = self.accel_lsb_per_ms2()
        g = self.gyro_lsb_per_dps()
        return (clamp16(phys[0] * a), clamp16(phys[1] * a), clamp16(phys[2] * a),
                clamp16(phys[3] * g), clamp16(phys[4] * g), clamp16(phys[5] * g))

    # subclasses: accel_lsb_per_ms2(), gyro_lsb_per_dps(), set_data(raw), fifo_on(), fifo_push(raw), fifo_clear()
    def fifo_on(self):
        return False

    def fifo_clear(self):
        pass


def put_le(regs, reg, v):
    v &= 0xFFFF
    regs[reg] = v & 0xFF
    regs[reg + 1] = v >> 8


def put_be(regs, reg, v):
    v &= 0xFFFF
    regs[reg] = v >> 8
    regs[reg + 1] = v & 0xFF


class I2CBus:
    """machine.I2C-compatible bus of emulated chips."""

    def __init__(self, *chips):
        self.chips = {}
        for c in chips:
            self.chips[c.address] = c
        self.transactions = 0

    def _chip(self, addr):
        c = self.chips.get(addr)
        if c is None:
            raise OSError(ENODEV)
        self.transactions += 1
        return c

    def scan(self):
        return sorted(self.chips)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._chip(addr).read(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        b = bytearray(nbytes)
        self._chip(addr).read(memaddr, b)
        return bytes(b)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._chip(addr).write(memaddr, buf)

    def advance_us(self, us):
        for c in self.chips.values():
            c.advance_us(us)


class MissingI2C(I2CBus):
    """A bus where nothing answers."""

    def __init__(self):
        I2CBus.__init__(self)


class BusioI2C:
    """CircuitPython busio.I2C-style API over an I2CBus (the pointer write then read of a register access)."""

    def __init__(self, bus):
        self.bus = bus
        self.locked = False

    def try_lock(self):
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def scan(self):
        assert self.locked
        return self.bus.scan()

    def writeto(self, addr, buf, start=0, end=None):
        assert self.locked, "busio.I2C used without try_lock()"
        buf = buf[start:end]
        c = self.bus._chip(addr)
        if len(buf) > 1:
            c.write(buf[0], buf[1:])
        self._ptr = buf[0]

    def writeto_then_readfrom(self, addr, out, inp, out_start=0, out_end=None, in_start=0, in_end=None):
        assert self.locked, "busio.I2C used without try_lock()"
        c = self.bus._chip(addr)
        c.read(out[out_start], inp)


class RealTimeI2CBus(I2CBus):
    """An I2CBus whose chips' clocks follow real time: every transaction first advances them by the
    microseconds since the previous one. The virtual board's IMU bus."""

    def __init__(self, *chips, speed=1):
        I2CBus.__init__(self, *chips)
        import time
        self._time = time
        self._last = time.ticks_us()
        self.speed = speed      # the chips' clock runs `speed` times faster than real time

    def _chip(self, addr):
        now = self._time.ticks_us()
        elapsed = self._time.ticks_diff(now, self._last)
        if elapsed > 0:
            self._last = now
            self.advance_us(elapsed * self.speed)
        return I2CBus._chip(self, addr)
