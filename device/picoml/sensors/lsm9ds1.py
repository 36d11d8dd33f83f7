# ST LSM9DS1 accelerometer + gyroscope part (the magnetometer is a separate I2C device, 0x1C/0x1E, not driven
# here) over I2C.
#
# Source: ST DS10727 "LSM9DS1" datasheet: register map (Table 21): WHO_AM_I 0x0F = 0x68, CTRL_REG1_G 0x10
# (ODR_G[7:5], FS_G[4:3]), OUT_X_L_G 0x18..0x1D, CTRL_REG4 0x1E (reset 0x38), CTRL_REG5_XL 0x1F (reset 0x38),
# CTRL_REG6_XL 0x20 (ODR_XL[7:5], FS_XL[4:3]), CTRL_REG8 0x22 (reset 0x04: IF_ADD_INC; BDU bit 6, SW_RESET bit 0),
# CTRL_REG9 0x23 (FIFO_EN bit 1), OUT_X_L_XL 0x28..0x2D, FIFO_CTRL 0x2E (FMODE[7:5]: 000 bypass, 110
# continuous), FIFO_SRC 0x2F (OVRN bit 6, FSS[5:0] unread samples). Table 3: linear acceleration sensitivity
# 0.061/0.122/0.244/0.732 mg/LSB (+-2/4/8/16 g), angular rate 8.75/17.50/70 mdps/LSB (245/500/2000 dps).
# With both sensors on, the accelerometer runs at the gyroscope ODR (datasheet sec. 7.12 / Table 9); the
# FIFO (32 samples) holds gyro+accel sets.
#
# FIFO read: one 22-byte burst per sample from OUT_X_L_G (0x18) through OUT_Z_H_XL (0x2D) (the 10 registers in
# between are read and ignored). When the FIFO is on, the output registers show the oldest FIFO set, which
# advances after the accelerometer output is read -- the order the SparkFun and Arduino libraries use
# (gyro, then accel). That trigger is what our emulation implements; it has not been checked on hardware.
from .base import IMU, STANDARD_GRAVITY, le16, nearest, pick, sleep_ms

CTRL_REG1_G = 0x10
OUT_X_L_G = 0x18
CTRL_REG6_XL = 0x20
CTRL_REG8 = 0x22
CTRL_REG9 = 0x23
OUT_X_L_XL = 0x28
FIFO_CTRL = 0x2E
FIFO_SRC = 0x2F

# ODR code (CTRL_REG1_G[7:5]; the same codes in CTRL_REG6_XL give 119/238/476/952 Hz): 14.9 and 59.5 Hz
# are given as 15 and 60
ODR_CODES = {15: 1, 60: 2, 119: 3, 238: 4, 476: 5, 952: 6}
ACCEL_FS = {2: (0, 0.061), 4: (2, 0.122), 8: (3, 0.244), 16: (1, 0.732)}     # g -> (FS_XL, mg/LSB)
GYRO_FS = {245: (0, 8.75), 500: (1, 17.50), 2000: (3, 70.0)}                  # dps -> (FS_G, mdps/LSB)


class LSM9DS1(IMU):
    PART = "LSM9DS1"
    WHO_AM_I = 0x68
    ADDRESSES = (0x6B, 0x6A)    # accel/gyro: SDO_A/G high (Nano 33 BLE Sense) / low
    FIFO_DEPTH = 32

    def __init__(self, i2c, address=0x6B, accel_range=4, gyro_range=500, odr=119, fifo=True, fifo_chunk=16):
        IMU.__init__(self, i2c, address, fifo_chunk)
        odr, odr_code = nearest(ODR_CODES, odr, "odr (Hz)", self.PART)
        afs, asens = pick(ACCEL_FS, accel_range, "accel_range (g)", self.PART)
        gfs, gsens = pick(GYRO_FS, gyro_range, "gyro_range (dps)", self.PART)
        self.check_id()
        bus = self.bus
        bus.write_u8(CTRL_REG8, 0x05)               # SW_RESET | IF_ADD_INC
        for _ in range(20):
            if not bus.read_u8(CTRL_REG8) & 0x01:
                break
            sleep_ms(1)
        bus.write_u8(CTRL_REG8, 0x44)               # BDU | IF_ADD_INC
        bus.write_u8(CTRL_REG1_G, (odr_code << 5) | (gfs << 3))
        bus.write_u8(CTRL_REG6_XL, (odr_code << 5) | (afs << 3))
        self.odr = odr
        self.accel_scale = asens * 0.001 * STANDARD_GRAVITY
        self.gyro_scale = gsens * 0.001
        self._set = bytearray(22)
        self.fifo = fifo
        if fifo:
            self._fifo_start()

    def _fifo_start(self):
        bus = self.bus
        bus.write_u8(FIFO_CTRL, 0x00)               # bypass: empties the FIFO, clears OVRN
        bus.write_u8(CTRL_REG9, 0x02)               # FIFO_EN
        bus.write_u8(FIFO_CTRL, 0xC0)               # continuous mode

    def read_raw(self, out):
        """One sample into out [ax, ay, az, gx, gy, gz]. With the FIFO on this is the oldest FIFO set (and
        pops it); use fifo=False for plain polling."""
        b = self._set
        self.bus.read_into(OUT_X_L_G, b)
        out[0] = le16(b, 16)
        out[1] = le16(b, 18)
        out[2] = le16(b, 20)
        out[3] = le16(b, 0)
        out[4] = le16(b, 2)
        out[5] = le16(b, 4)
        return out

    def fifo_available(self):
        s = self.bus.read_u8(FIFO_SRC)
        if s & 0x40:                                # OVRN
            self.overruns += 1
            self._fifo_start()
            return 0
        return s & 0x3F

    def _fifo_read(self, out, start, n):
        b = self._set
        bus = self.bus
        j = 6 * start
        for _ in range(n):
            bus.read_into(OUT_X_L_G, b)
            out[j] = le16(b, 16)
            out[j + 1] = le16(b, 18)
            out[j + 2] = le16(b, 20)
            out[j + 3] = le16(b, 0)
            out[j + 4] = le16(b, 2)
            out[j + 5] = le16(b, 4)
            j += 6
        return n
