# InvenSense/TDK MPU-6050 and MPU-6886 6-axis IMUs over I2C (same register family).
#
# Sources:
#   InvenSense RM-MPU-6000A-00 "MPU-6000/MPU-6050 Register Map and Descriptions" rev 4.2: SMPLRT_DIV 0x19,
#     CONFIG 0x1A (DLPF_CFG: gyro output rate 8 kHz for 0/7, else 1 kHz), GYRO_CONFIG 0x1B, ACCEL_CONFIG
#     0x1C, FIFO_EN 0x23, INT_STATUS 0x3A (FIFO_OFLOW_INT bit 4), ACCEL_XOUT_H 0x3B.., USER_CTRL 0x6A,
#     PWR_MGMT_1 0x6B (reset value 0x40), FIFO_COUNTH/L 0x72/0x73, FIFO_R_W 0x74, WHO_AM_I 0x75 = 0x68.
#     Sensitivities (PS-MPU-6000A-00 product spec, sec. 6.1/6.2): 16384/8192/4096/2048 LSB/g,
#     131/65.5/32.8/16.4 LSB/(deg/s). Data registers are big-endian.
#   TDK DS-000193 "MPU-6886" datasheet: same addresses for the registers above, WHO_AM_I = 0x19,
#     PWR_MGMT_1 reset 0x41, FIFO_EN 0x23 with GYRO_FIFO_EN bit 4 and ACC_FIFO_EN bit 3; the temperature is
#     written to the FIFO along with them, so with both a packet is accel(6) temp(2) gyro(6) = 14 bytes. A
#     third-party MicroPython MPU-6886 FIFO example reads accel-only packets as 8 bytes "XXYYZZTT", which
#     agrees. The 14-byte layout is checked against our emulation only, not yet on hardware.
from .base import IMU, STANDARD_GRAVITY, be16, pick, sleep_ms

SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
FIFO_EN = 0x23
INT_STATUS = 0x3A
ACCEL_XOUT_H = 0x3B
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
FIFO_COUNTH = 0x72
FIFO_R_W = 0x74
WHO_AM_I_REG = 0x75
FIFO_BYTES = 1024

ACCEL_FS = {2: (0, 16384.0), 4: (1, 8192.0), 8: (2, 4096.0), 16: (3, 2048.0)}   # g -> (AFS_SEL, LSB/g)
GYRO_FS = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}  # dps -> (FS_SEL, LSB/dps)


class _MPU(IMU):
    WHO_AM_I_REG = WHO_AM_I_REG
    ADDRESSES = (0x68, 0x69)    # AD0 low / high
    PACKET = 12                 # FIFO bytes per sample
    FIFO_EN_BITS = 0x78
    ACCEL_AT = 0                # offsets of accel x and gyro x in a FIFO packet / data block
    GYRO_AT = 6

    def __init__(self, i2c, address=0x68, accel_range=4, gyro_range=500, odr=100, fifo=True, fifo_chunk=16):
        IMU.__init__(self, i2c, address, fifo_chunk)
        self._configure(accel_range, gyro_range, odr, fifo)

    def _configure(self, accel_range, gyro_range, odr, fifo):
        afs, alsb = pick(ACCEL_FS, accel_range, "accel_range (g)", self.PART)
        gfs, glsb = pick(GYRO_FS, gyro_range, "gyro_range (dps)", self.PART)
        if not isinstance(odr, (int, float)) or not odr > 0:
            raise ValueError("picoml.sensors: %s odr must be a positive number of Hz (1000 / n, n = 1..256), not %r"
                             % (self.PART, odr))
        divider = min(256, max(1, int(1000 / odr + 0.5)))       # the nearest rate the chip has: 1 kHz / n
        self.check_id()
        bus = self.bus
        bus.write_u8(PWR_MGMT_1, 0x80)              # DEVICE_RESET
        for _ in range(100):
            sleep_ms(1)
            if not bus.read_u8(PWR_MGMT_1) & 0x80:
                break
        bus.write_u8(PWR_MGMT_1, 0x01)              # awake, clock = PLL on gyro X
        bus.write_u8(CONFIG, 0x01)                  # DLPF_CFG=1: ~184 Hz bandwidth, 1 kHz internal rate
        bus.write_u8(SMPLRT_DIV, divider - 1)       # sample rate = 1 kHz / (1 + SMPLRT_DIV)
        bus.write_u8(GYRO_CONFIG, gfs << 3)
        bus.write_u8(ACCEL_CONFIG, afs << 3)
        self.odr = 1000 // divider if 1000 % divider == 0 else 1000 / divider
        self.accel_scale = STANDARD_GRAVITY / alsb
        self.gyro_scale = 1.0 / glsb
        self._data = bytearray(14)
        self.fifo = fifo
        self._burst = bytearray(self.PACKET * self.fifo_chunk)
        self._views = {}
        self._count = bytearray(2)
        if fifo:
            self._fifo_start()

    def _fifo_start(self):
        bus = self.bus
        bus.write_u8(USER_CTRL, 0x04)               # FIFO_RESET (FIFO disabled)
        bus.write_u8(FIFO_EN, self.FIFO_EN_BITS)
        bus.read_u8(INT_STATUS)                     # clears FIFO_OFLOW_INT
        bus.write_u8(USER_CTRL, 0x40)               # FIFO_EN

    def read_raw(self, out):
        b = self._data
        self.bus.read_into(ACCEL_XOUT_H, b)         # accel xyz, temp, gyro xyz (big-endian)
        out[0] = be16(b, 0)
        out[1] = be16(b, 2)
        out[2] = be16(b, 4)
        out[3] = be16(b, 8)
        out[4] = be16(b, 10)
        out[5] = be16(b, 12)
        return out

    def fifo_available(self):
        bus = self.bus
        if bus.read_u8(INT_STATUS) & 0x10:          # FIFO_OFLOW_INT (cleared by this read)
            self.overruns += 1
            self._fifo_start()
            return 0
        c = self._count
        bus.read_into(FIFO_COUNTH, c)
        return ((c[0] << 8) | c[1]) // self.PACKET

    def _fifo_read(self, out, start, n):
        nb = self.PACKET * n
        b = self._views.get(nb)
        if b is None:
            b = memoryview(self._burst)[:nb]
            self._views[nb] = b
        self.bus.read_into(FIFO_R_W, b)             # FIFO_R_W does not auto-increment: a burst pops bytes
        a = self.ACCEL_AT
        g = self.GYRO_AT
        step = self.PACKET
        j = 6 * start
        i = 0
        while i < nb:       # (a for-range with a variable step would allocate a range object)
            out[j] = be16(b, i + a)
            out[j + 1] = be16(b, i + a + 2)
            out[j + 2] = be16(b, i + a + 4)
            out[j + 3] = be16(b, i + g)
            out[j + 4] = be16(b, i + g + 2)
            out[j + 5] = be16(b, i + g + 4)
            j += 6
            i += step
        return n


class MPU6050(_MPU):
    """MPU-6050: FIFO packet accel(6) gyro(6) = 12 bytes (FIFO_EN = XG|YG|ZG|ACCEL = 0x78)."""
    PART = "MPU-6050"
    WHO_AM_I = 0x68


class MPU6886(_MPU):
    """MPU-6886: FIFO packet accel(6) temp(2) gyro(6) = 14 bytes (FIFO_EN = GYRO_FIFO_EN|ACC_FIFO_EN = 0x18)."""
    PART = "MPU-6886"
    WHO_AM_I = 0x19
    PACKET = 14
    FIFO_EN_BITS = 0x18
    GYRO_AT = 8
