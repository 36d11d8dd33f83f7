# ST LSM6DS3TR-C and LSM6DSOX 6-axis IMUs (accelerometer + gyroscope) over I2C.
#
# Sources (register addresses, bit fields, reset values, sensitivities):
#   ST DS11937 "LSM6DS3TR-C" datasheet: register map (sec. 8-9), Table 3 mechanical characteristics,
#     FIFO_CTRL1..5 (0x06-0x0A), FIFO_STATUS1..4 (0x3A-0x3D), FIFO_DATA_OUT_L/H (0x3E/0x3F). ST AN5130 (FIFO).
#   ST DS12814 "LSM6DSOX" datasheet: register map, FIFO_CTRL1..4 (0x07-0x0A), FIFO_STATUS1/2 (0x3A/0x3B),
#     tagged FIFO output FIFO_DATA_OUT_TAG..Z_H (0x78-0x7E); ST AN5272 (LSM6DSOX FIFO, tags).
#   Burst reads of the FIFO output (the register address rolls back to the first FIFO output register) follow
#   what Linux drivers/iio/imu/st_lsm6dsx/st_lsm6dsx_buffer.c does (one block read of several words), and a
#   third-party MicroPython LSM6DS3 driver reads n * 12 bytes from FIFO_DATA_OUT_L in one readfrom_mem_into;
#   here it is exercised against our emulation only, not yet on hardware.
# Both chips share WHO_AM_I at 0x0F (0x6A LSM6DS3TR-C, 0x6C LSM6DSOX), CTRL1_XL/CTRL2_G/CTRL3_C at
# 0x10/0x11/0x12, OUTX_L_G..OUTZ_H_XL at 0x22-0x2D, and the same full-scale codes and sensitivities.
from array import array
from .base import IMU, STANDARD_GRAVITY, le16, nearest, pick, sleep_ms

WHO_AM_I_REG = 0x0F
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
OUTX_L_G = 0x22
FIFO_STATUS1 = 0x3A

# ODR codes (CTRL1_XL[7:4], CTRL2_G[7:4], FIFO ODR/BDR fields); 12.5 Hz is given as 12 or 13
ODR_CODES = {12: 1, 13: 1, 26: 2, 52: 3, 104: 4, 208: 5, 416: 6, 417: 6, 833: 7, 1660: 8, 1666: 8, 1667: 8}
# full scale -> (FS bits for CTRL1_XL[3:2], sensitivity mg/LSB)  (datasheet Table 3, LA_So)
ACCEL_FS = {2: (0, 0.061), 4: (2, 0.122), 8: (3, 0.244), 16: (1, 0.488)}
# full scale dps -> (CTRL2_G[3:1] bits incl. FS_125, sensitivity mdps/LSB)  (datasheet Table 3, G_So)
GYRO_FS = {125: (0x02, 4.375), 250: (0x00, 8.75), 500: (0x04, 17.50), 1000: (0x08, 35.0), 2000: (0x0C, 70.0)}


class _LSM6DS(IMU):
    ADDRESSES = (0x6A, 0x6B)    # SA0 low / high

    def __init__(self, i2c, address=0x6A, accel_range=4, gyro_range=500, odr=104, fifo=True, fifo_chunk=16):
        IMU.__init__(self, i2c, address, fifo_chunk)
        self._configure(accel_range, gyro_range, odr, fifo)

    def _configure(self, accel_range, gyro_range, odr, fifo):
        odr, odr_code = nearest(ODR_CODES, odr, "odr (Hz)", self.PART)
        afs, asens = pick(ACCEL_FS, accel_range, "accel_range (g)", self.PART)
        gfs, gsens = pick(GYRO_FS, gyro_range, "gyro_range (dps)", self.PART)
        self.check_id()
        bus = self.bus
        bus.write_u8(CTRL3_C, 0x01)                 # SW_RESET
        for _ in range(20):
            if not bus.read_u8(CTRL3_C) & 0x01:
                break
            sleep_ms(1)
        bus.write_u8(CTRL3_C, 0x44)                 # BDU | IF_INC
        bus.write_u8(CTRL1_XL, (odr_code << 4) | (afs << 2))
        bus.write_u8(CTRL2_G, (odr_code << 4) | gfs)
        self.odr = odr
        self._odr_code = odr_code
        self.accel_scale = asens * 0.001 * STANDARD_GRAVITY
        self.gyro_scale = gsens * 0.001
        self.fifo = fifo
        if fifo:
            self._fifo_start()

    def read_raw(self, out):
        """One sample now (not from the FIFO) into out: array('h') [ax, ay, az, gx, gy, gz]."""
        b = self._raw
        self.bus.read_into(OUTX_L_G, b)             # gyro x,y,z then accel x,y,z
        out[0] = le16(b, 6)
        out[1] = le16(b, 8)
        out[2] = le16(b, 10)
        out[3] = le16(b, 0)
        out[4] = le16(b, 2)
        out[5] = le16(b, 4)
        return out

    def _view(self, nbytes):
        """A memoryview of the first nbytes of the burst buffer, made once per size and kept."""
        v = self._views.get(nbytes)
        if v is None:
            v = memoryview(self._burst)[:nbytes]
            self._views[nbytes] = v
        return v


class LSM6DS3TRC(_LSM6DS):
    """LSM6DS3TR-C. FIFO: pattern mode, 16-bit words gx gy gz ax ay az per sample, 4 kB (2048 words)."""
    PART = "LSM6DS3TR-C"
    WHO_AM_I = 0x6A
    FIFO_CTRL3 = 0x08
    FIFO_CTRL5 = 0x0A
    FIFO_DATA_OUT_L = 0x3E

    def _fifo_start(self):
        if not hasattr(self, "_burst"):
            self._burst = bytearray(12 * self.fifo_chunk)
            self._views = {}
            self._status = bytearray(4)
        bus = self.bus
        bus.write_u8(self.FIFO_CTRL5, 0x00)                       # bypass: empties the FIFO
        bus.write_u8(self.FIFO_CTRL3, 0x09)                       # gyro and accel in the FIFO, no decimation
        bus.write_u8(self.FIFO_CTRL5, (self._odr_code << 3) | 0x06)   # FIFO ODR, continuous mode

    def fifo_available(self):
        """Whole samples waiting in the FIFO (0 after an overflow, which restarts it: see self.overruns)."""
        s = self._status
        self.bus.read_into(FIFO_STATUS1, s)       # FIFO_STATUS1..4: DIFF_FIFO, flags, FIFO_PATTERN
        if s[1] & 0x40:                           # OVER_RUN
            self.overruns += 1
            self._fifo_start()
            return 0
        words = s[0] | ((s[1] & 0x07) << 8)
        pattern = s[2] | ((s[3] & 0x03) << 8)
        if pattern:                               # next word is not gx: drop the rest of the broken sample
            skip = 6 - pattern
            if skip > words:
                return 0
            self.bus.read_into(self.FIFO_DATA_OUT_L, self._view(2 * skip))
            words -= skip
        return words // 6

    def _fifo_read(self, out, start, n):
        b = self._view(12 * n)
        self.bus.read_into(self.FIFO_DATA_OUT_L, b)
        j = 6 * start
        for i in range(0, 12 * n, 12):
            out[j] = le16(b, i + 6)
            out[j + 1] = le16(b, i + 8)
            out[j + 2] = le16(b, i + 10)
            out[j + 3] = le16(b, i)
            out[j + 4] = le16(b, i + 2)
            out[j + 5] = le16(b, i + 4)
            j += 6
        return n


class LSM6DSOX(_LSM6DS):
    """LSM6DSOX. FIFO: tagged 7-byte words (tag, x, y, z); tag 0x01 = gyro, 0x02 = accel (TAG_SENSOR[7:3])."""
    PART = "LSM6DSOX"
    WHO_AM_I = 0x6C
    FIFO_CTRL3 = 0x09
    FIFO_CTRL4 = 0x0A
    FIFO_DATA_OUT_TAG = 0x78

    def _fifo_start(self):
        if not hasattr(self, "_burst"):
            self._burst = bytearray(14 * self.fifo_chunk)
            self._views = {}
            self._status = bytearray(2)
            self._pend = array("h", (0, 0, 0, 0, 0, 0))
        self._have = 0                                             # bit0 accel pending, bit1 gyro pending
        bus = self.bus
        bus.write_u8(self.FIFO_CTRL4, 0x00)                        # bypass: empties the FIFO
        bus.write_u8(self.FIFO_CTRL3, (self._odr_code << 4) | self._odr_code)   # BDR_GY | BDR_XL
        bus.write_u8(self.FIFO_CTRL4, 0x06)                        # continuous mode

    def fifo_available(self):
        s = self._status
        self.bus.read_into(FIFO_STATUS1, s)
        if s[1] & 0x40:                           # FIFO_OVR_IA
            self.overruns += 1
            self._fifo_start()
            return 0
        words = s[0] | ((s[1] & 0x03) << 8)
        return words // 2

    def _fifo_read(self, out, start, n):
        """Reads 2n words; emits at most n samples (a half sample can stay pending for the next call)."""
        nw = 2 * n
        b = self._view(7 * nw)
        self.bus.read_into(self.FIFO_DATA_OUT_TAG, b)
        p = self._pend
        have = self._have
        j = 6 * start
        done = 0
        for i in range(0, 7 * nw, 7):
            tag = b[i] >> 3
            if tag == 0x02:
                k = 0
                have |= 1
            elif tag == 0x01:
                k = 3
                have |= 2
            else:
                continue                          # temperature, timestamp, ...: not enabled, skipped
            p[k] = le16(b, i + 1)
            p[k + 1] = le16(b, i + 3)
            p[k + 2] = le16(b, i + 5)
            if have == 3:
                out[j] = p[0]
                out[j + 1] = p[1]
                out[j + 2] = p[2]
                out[j + 3] = p[3]
                out[j + 4] = p[4]
                out[j + 5] = p[5]
                j += 6
                done += 1
                have = 0
        self._have = have
        return done
