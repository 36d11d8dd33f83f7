# Bosch BMI270 6-axis IMU over I2C.
#
# Source: Bosch BST-BMI270-DS000 datasheet: register map (sec. 5): CHIP_ID 0x00 = 0x24, DATA_8..DATA_19
# (accel x,y,z 0x0C-0x11, gyro x,y,z 0x12-0x17, little-endian), INTERNAL_STATUS 0x21 (message[3:0]: 0x1 = init
# OK), FIFO_LENGTH_0/1 0x24/0x25 (bytes, 14 bits), FIFO_DATA 0x26, ACC_CONF 0x40 (reset 0xA8), ACC_RANGE 0x41
# (reset 0x02), GYR_CONF 0x42 (reset 0xA9), GYR_RANGE 0x43 (reset 0x00), FIFO_CONFIG_0 0x48 (reset 0x02),
# FIFO_CONFIG_1 0x49 (reset 0x10: header on), INIT_CTRL 0x59, INIT_ADDR_0/1 0x5B/0x5C, INIT_DATA 0x5E,
# PWR_CONF 0x7C (reset 0x03), PWR_CTRL 0x7D, CMD 0x7E (0xB6 soft reset, 0xB0 FIFO flush); sec. 4.3
# "Initialization": PWR_CONF=0, wait 450 us, INIT_CTRL=0, burst-write the config file to INIT_DATA,
# INIT_CTRL=1, wait 20 ms, INTERNAL_STATUS must read 0x01. FIFO 2 kB.
# Sensitivity: full scale / 32768 (16384 LSB/g at +-2 g; 16.384 LSB/(deg/s) at +-2000 dps, "16.4" in the table).
#
# The configuration file: the chip needs Bosch's ~8 kB configuration blob (bmi270_config_file[] in Bosch's
# BMI270 SensorAPI, bmi270.c) uploaded at every power-up. picoml does not ship it. Pass it as
# config="/bmi270_config.bin" (a file of the 8192 raw bytes, streamed in chunks: no 8 kB buffer) or as a
# bytes/bytearray/memoryview. Without it the constructor checks CHIP_ID, soft-resets the chip and raises
# NotImplementedError saying this.
#
# FIFO: headerless mode, accel + gyro, one 12-byte frame per sample in the order gyro x,y,z then accel x,y,z
# (the datasheet's frame layout "AUX, GYR, ACC" with AUX off). The frame order is implemented in our emulation
# the same way and has not been checked on hardware.
# Overflow: the BMI270 drops the oldest frames when full (FIFO_CONFIG_0.fifo_stop_on_full = 0); the driver
# treats a FIFO that holds as many bytes as it can (length > 2048 - 12) as an overrun: it flushes and counts.
from .base import IMU, STANDARD_GRAVITY, le16, nearest, pick, sleep_ms

CHIP_ID = 0x00
ACC_X_LSB = 0x0C
INTERNAL_STATUS = 0x21
FIFO_LENGTH_0 = 0x24
FIFO_DATA = 0x26
ACC_CONF = 0x40
ACC_RANGE = 0x41
GYR_CONF = 0x42
GYR_RANGE = 0x43
FIFO_CONFIG_0 = 0x48
FIFO_CONFIG_1 = 0x49
INIT_CTRL = 0x59
INIT_ADDR_0 = 0x5B
INIT_ADDR_1 = 0x5C
INIT_DATA = 0x5E
PWR_CONF = 0x7C
PWR_CTRL = 0x7D
CMD = 0x7E
FIFO_BYTES = 2048
CONFIG_BYTES = 8192

ODR_CODES = {25: 0x06, 50: 0x07, 100: 0x08, 200: 0x09, 400: 0x0A, 800: 0x0B, 1600: 0x0C}
ACCEL_FS = {2: 0, 4: 1, 8: 2, 16: 3}
GYRO_FS = {2000: 0, 1000: 1, 500: 2, 250: 3, 125: 4}

NO_CONFIG = ("picoml.sensors: the BMI270 needs Bosch's configuration file (8192 bytes, bmi270_config_file[] in "
             "Bosch's BMI270 SensorAPI, bmi270.c) uploaded at every power-up; picoml does not ship it. Save it as "
             "raw bytes on the board and pass BMI270(i2c, config='/bmi270_config.bin')")


class BMI270(IMU):
    PART = "BMI270"
    WHO_AM_I_REG = CHIP_ID
    WHO_AM_I = 0x24
    ADDRESSES = (0x68, 0x69)    # SDO low / high
    FRAME = 12

    def __init__(self, i2c, address=0x68, accel_range=4, gyro_range=500, odr=100, fifo=True, fifo_chunk=16,
                 config=None, chunk=64):
        IMU.__init__(self, i2c, address, fifo_chunk)
        odr, odr_code = nearest(ODR_CODES, odr, "odr (Hz)", self.PART)
        afs = pick(ACCEL_FS, accel_range, "accel_range (g)", self.PART)
        gfs = pick(GYRO_FS, gyro_range, "gyro_range (dps)", self.PART)
        self.check_id()
        bus = self.bus
        bus.write_u8(CMD, 0xB6)                     # soft reset
        sleep_ms(2)
        if config is None:
            raise NotImplementedError(NO_CONFIG)
        bus.write_u8(PWR_CONF, 0x00)                # advanced power save off (needed for the upload)
        sleep_ms(1)
        bus.write_u8(INIT_CTRL, 0x00)
        self._upload(config, chunk)
        bus.write_u8(INIT_CTRL, 0x01)
        status = 0
        for _ in range(40):
            sleep_ms(1)
            status = bus.read_u8(INTERNAL_STATUS) & 0x0F
            if status == 0x01:
                break
        if status != 0x01:
            raise RuntimeError("picoml.sensors: BMI270 did not accept the configuration file (INTERNAL_STATUS "
                               "message 0x%x, expected 0x1): is it Bosch's 8192-byte bmi270_config_file?" % status)
        bus.write_u8(PWR_CTRL, 0x0E)                # acc_en | gyr_en | temp_en
        bus.write_u8(ACC_CONF, 0xA0 | odr_code)     # acc_filter_perf, bwp normal
        bus.write_u8(ACC_RANGE, afs)
        bus.write_u8(GYR_CONF, 0xA0 | odr_code)     # gyr_filter_perf, bwp normal
        bus.write_u8(GYR_RANGE, gfs)
        bus.write_u8(PWR_CONF, 0x02)                # fifo_self_wakeup, advanced power save off
        self.odr = odr
        self.accel_scale = accel_range * STANDARD_GRAVITY / 32768
        self.gyro_scale = gyro_range / 32768
        self._data = bytearray(12)
        self._len = bytearray(2)
        self._burst = bytearray(self.FRAME * fifo_chunk)
        self._views = {}
        self.fifo = fifo
        if fifo:
            self._fifo_start()

    def _upload(self, config, chunk):
        """Write the config file to INIT_DATA in chunks, setting INIT_ADDR (in 16-bit words) before each."""
        if isinstance(config, str):
            buf = bytearray(chunk)
            view = memoryview(buf)
            off = 0
            with open(config, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    self._chunk(off, view[:n])
                    off += n
            total = off
        else:
            data = memoryview(config)
            total = len(data)
            for off in range(0, total, chunk):
                self._chunk(off, data[off:off + chunk])
        if total != CONFIG_BYTES:
            raise ValueError("picoml.sensors: BMI270 configuration file must be %d bytes, got %d"
                             % (CONFIG_BYTES, total))

    def _chunk(self, off, data):
        bus = self.bus
        bus.write_u8(INIT_ADDR_0, (off >> 1) & 0x0F)
        bus.write_u8(INIT_ADDR_1, (off >> 5) & 0xFF)
        bus.write(INIT_DATA, data)

    def _fifo_start(self):
        bus = self.bus
        bus.write_u8(FIFO_CONFIG_0, 0x00)           # keep newest when full, no sensortime frame
        bus.write_u8(FIFO_CONFIG_1, 0xC0)           # gyr_en | acc_en, headerless
        bus.write_u8(CMD, 0xB0)                     # fifo_flush

    def read_raw(self, out):
        b = self._data
        self.bus.read_into(ACC_X_LSB, b)            # accel x,y,z then gyro x,y,z
        out[0] = le16(b, 0)
        out[1] = le16(b, 2)
        out[2] = le16(b, 4)
        out[3] = le16(b, 6)
        out[4] = le16(b, 8)
        out[5] = le16(b, 10)
        return out

    def fifo_available(self):
        c = self._len
        self.bus.read_into(FIFO_LENGTH_0, c)
        n = c[0] | ((c[1] & 0x3F) << 8)
        if n > FIFO_BYTES - self.FRAME:
            self.overruns += 1
            self._fifo_start()
            return 0
        return n // self.FRAME

    def _fifo_read(self, out, start, n):
        nb = self.FRAME * n
        b = self._views.get(nb)
        if b is None:
            b = memoryview(self._burst)[:nb]
            self._views[nb] = b
        self.bus.read_into(FIFO_DATA, b)            # FIFO_DATA does not auto-increment: a burst pops bytes
        j = 6 * start
        for i in range(0, nb, 12):
            out[j] = le16(b, i + 6)
            out[j + 1] = le16(b, i + 8)
            out[j + 2] = le16(b, i + 10)
            out[j + 3] = le16(b, i)
            out[j + 4] = le16(b, i + 2)
            out[j + 5] = le16(b, i + 4)
            j += 6
        return n
