# Common code of the IMU drivers: the I2C adapter and the IMU base class.
#
# Every driver talks to the chip through Bus, which accepts either
#   - a machine.I2C-style object (MicroPython): readfrom_mem_into(addr, reg, buf), writeto_mem(addr, reg, buf)
#   - a busio.I2C-style object (CircuitPython): try_lock(), unlock(), writeto(addr, buf),
#     writeto_then_readfrom(addr, out, in)
# and turns "the chip did not answer" into one OSError naming the part, the address and what to check.
#
# Sample layout everywhere: six int16 channels per sample, [ax, ay, az, gx, gy, gz], raw counts in an
# array('h'); read_si() converts to m/s^2 and deg/s into an array('f'). No method allocates per sample:
# the byte buffers are made once in the constructor.

STANDARD_GRAVITY = 9.80665   # m/s^2 per g


class Bus:
    """Register access to one I2C device, over machine.I2C or busio.I2C."""

    def __init__(self, i2c, address, part):
        self.i2c = i2c
        self.address = address
        self.part = part
        self._busio = not hasattr(i2c, "readfrom_mem_into")
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._reg = bytearray(1)

    def _fail(self, e):
        code = e.args[0] if e.args else 0
        raise OSError(code, "picoml.sensors: %s does not answer at I2C address 0x%02x (errno %s): check "
                      "wiring, pull-ups, the sensor's power pin and the address" % (self.part, self.address, code))

    def _lock(self):
        i2c = self.i2c
        while not i2c.try_lock():
            pass

    def read_into(self, reg, buf):
        """Burst-read len(buf) bytes starting at register reg into buf (bytearray or memoryview)."""
        try:
            if self._busio:
                self._reg[0] = reg
                self._lock()
                try:
                    self.i2c.writeto_then_readfrom(self.address, self._reg, buf)
                finally:
                    self.i2c.unlock()
            else:
                self.i2c.readfrom_mem_into(self.address, reg, buf)
        except OSError as e:
            self._fail(e)

    def read_u8(self, reg):
        self.read_into(reg, self._one)
        return self._one[0]

    def write_u8(self, reg, value):
        try:
            if self._busio:
                b = self._two
                b[0] = reg
                b[1] = value
                self._lock()
                try:
                    self.i2c.writeto(self.address, b)
                finally:
                    self.i2c.unlock()
            else:
                self._one[0] = value
                self.i2c.writeto_mem(self.address, reg, self._one)
        except OSError as e:
            self._fail(e)

    def write(self, reg, data):
        """Write several bytes starting at reg (init-time only: the busio path copies data once)."""
        try:
            if self._busio:
                b = bytearray(len(data) + 1)
                b[0] = reg
                b[1:] = data
                self._lock()
                try:
                    self.i2c.writeto(self.address, b)
                finally:
                    self.i2c.unlock()
            else:
                self.i2c.writeto_mem(self.address, reg, data)
        except OSError as e:
            self._fail(e)


def le16(b, i):
    """Signed little-endian int16 at b[i]."""
    v = b[i] | (b[i + 1] << 8)
    return v - 65536 if v & 0x8000 else v


def be16(b, i):
    """Signed big-endian int16 at b[i]."""
    v = (b[i] << 8) | b[i + 1]
    return v - 65536 if v & 0x8000 else v


def pick(table, value, what, part):
    """table[value], or a ValueError listing the allowed values."""
    if value not in table:
        raise ValueError("picoml.sensors: %s %s must be one of %s, not %r"
                         % (part, what, sorted(table), value))
    return table[value]


def nearest(table, value, what, part):
    """The key of table nearest to value (an output data rate the chip has), and its entry."""
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("picoml.sensors: %s %s must be a positive number (one of %s), not %r"
                         % (part, what, sorted(table), value))
    best = None
    for k in table:
        if best is None or abs(k - value) < abs(best - value):
            best = k
    return best, table[best]


def sleep_ms(ms):
    try:
        import time
        time.sleep_ms(ms)
    except AttributeError:      # CircuitPython: no sleep_ms
        import time
        time.sleep(ms / 1000)


class IMU:
    """Base of the drivers. Subclasses set PART, WHO_AM_I_REG, WHO_AM_I and implement
    _configure(), read_raw(out), fifo_available(), _fifo_read(out, n)."""
    PART = "IMU"
    WHO_AM_I_REG = 0x0F
    WHO_AM_I = 0
    ODRS = ()

    def __init__(self, i2c, address, fifo_chunk):
        if not isinstance(fifo_chunk, int) or fifo_chunk < 1:
            # (0 made read_fifo loop for ever once the FIFO held a sample: bursts of 0 samples)
            raise ValueError("picoml.sensors: %s fifo_chunk is a number of samples >= 1, not %r"
                             % (self.PART, fifo_chunk))
        self.bus = Bus(i2c, address, self.PART)
        self.address = address
        self.accel_scale = 0.0   # m/s^2 per LSB, set by configure()
        self.gyro_scale = 0.0    # deg/s per LSB
        self.odr = 0
        self.overruns = 0        # FIFO overflows seen (samples were lost)
        self.fifo_chunk = fifo_chunk
        self._raw = bytearray(12)
        self._sample = None

    @property
    def rate(self):
        """Samples per second: the output data rate the chip runs at (the nearest it has to the one asked)."""
        return self.odr

    def check_id(self):
        found = self.bus.read_u8(self.WHO_AM_I_REG)
        if found != self.WHO_AM_I:
            raise ValueError("picoml.sensors: expected %s (WHO_AM_I 0x%02x at register 0x%02x) at I2C address "
                             "0x%02x, found WHO_AM_I 0x%02x" % (self.PART, self.WHO_AM_I, self.WHO_AM_I_REG,
                                                               self.address, found))
        return found

    def read_si(self, out, raw=None):
        """Read one sample now and write [ax, ay, az] in m/s^2 and [gx, gy, gz] in deg/s into out (array('f')
        of 6). raw: optional array('h') of 6 that receives the raw counts (else an internal one is used)."""
        if raw is None:
            if self._sample is None:
                from array import array
                self._sample = array("h", (0, 0, 0, 0, 0, 0))
            raw = self._sample
        self.read_raw(raw)
        a = self.accel_scale
        g = self.gyro_scale
        out[0] = raw[0] * a
        out[1] = raw[1] * a
        out[2] = raw[2] * a
        out[3] = raw[3] * g
        out[4] = raw[4] * g
        out[5] = raw[5] * g
        return out

    def read_fifo(self, out, max_samples=None):
        """Read up to max_samples whole samples (default: as many as fit in out, 6 int16 per sample) from the
        chip's FIFO into out (array('h')), oldest first, in bursts of at most fifo_chunk samples. Returns the
        number of samples written. After an overflow the FIFO is restarted, self.overruns is incremented and
        the samples read so far are returned."""
        room = len(out) // 6
        if max_samples is not None and max_samples < room:
            room = max_samples
        done = 0
        while done < room:
            n = self.fifo_available()    # 0 also right after an overflow (the FIFO was restarted)
            if n == 0:
                break
            if n > room - done:
                n = room - done
            if n > self.fifo_chunk:
                n = self.fifo_chunk
            got = self._fifo_read(out, done, n)
            done += got
            if got < n:
                break
        return done

    channels = 6    # a FIFO sample: ax, ay, az, gx, gy, gz

    def read_into(self, buf):
        """The reader form of read_fifo, for picoml.stream.Window(..., reader=imu) and picoml.record(...,
        source=imu): whole samples into buf, returns how many (0 while the FIFO is empty; never None, a
        sensor does not end)."""
        return self.read_fifo(buf)

    def to_si(self, raw, out, n=1):
        """Convert n raw samples (array('h'), 6 per sample) to physical units into out (array('f'))."""
        a = self.accel_scale
        g = self.gyro_scale
        for i in range(0, 6 * n, 6):
            out[i] = raw[i] * a
            out[i + 1] = raw[i + 1] * a
            out[i + 2] = raw[i + 2] * a
            out[i + 3] = raw[i + 3] * g
            out[i + 4] = raw[i + 4] * g
            out[i + 5] = raw[i + 5] * g
        return out
