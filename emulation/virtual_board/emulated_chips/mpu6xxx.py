# Emulated InvenSense MPU-6050 and TDK MPU-6886 (see device/picoml/sensors/mpu6xxx.py for the sources).
#
# Emulated: WHO_AM_I (0x75), PWR_MGMT_1 (DEVICE_RESET, SLEEP: no samples while asleep; reset 0x40 / 0x41),
# SMPLRT_DIV + CONFIG.DLPF_CFG (sample rate = 8 kHz or 1 kHz / (1 + SMPLRT_DIV)), GYRO_CONFIG/ACCEL_CONFIG
# full scale -> sensitivity, big-endian data registers 0x3B-0x48 (temperature fixed at 25 C), FIFO_EN,
# USER_CTRL (FIFO_EN, FIFO_RESET), FIFO_COUNTH/L, FIFO_R_W (a burst read pops bytes, the address does not
# increment), 1024-byte FIFO, INT_STATUS.FIFO_OFLOW_INT (cleared by reading INT_STATUS).
#   MPU-6050: FIFO_EN bits TEMP 0x80, XG 0x40, YG 0x20, ZG 0x10, ACCEL 0x08; bytes in register order
#     (accel, temp, gyro); a full FIFO overwrites its oldest bytes.
#   MPU-6886: FIFO_EN bits GYRO 0x10, ACC 0x08, the temperature goes with either (accel, temp, gyro);
#     CONFIG.FIFO_MODE (bit 6): 1 = drop new data when full, 0 = overwrite the oldest.
# Not emulated: interrupts pins, self-test, offsets, the DMP, slave I2C, accel DLPF.
from .chip import Chip, put_be, G

ACC_LSB_G = {0: 16384.0, 1: 8192.0, 2: 4096.0, 3: 2048.0}
GYR_LSB_DPS = {0: 131.0, 1: 65.5, 2: 32.8, 3: 16.4}


class _MPU(Chip):
    ADDRESS = 0x68
    WHO_AM_I_REG = 0x75
    FIFO_BYTES = 1024
    TEMP_RAW = 0

    def rate(self):
        r = self.regs
        if r[0x6B] & 0x40:          # SLEEP
            return 0
        base = 8000000 if (r[0x1A] & 0x07) in (0, 7) else 1000000      # mHz
        return base // (1 + r[0x19])

    def accel_lsb_per_ms2(self):
        return ACC_LSB_G[(self.regs[0x1C] >> 3) & 3] / G

    def gyro_lsb_per_dps(self):
        return GYR_LSB_DPS[(self.regs[0x1B] >> 3) & 3]

    def set_data(self, raw):
        r = self.regs
        put_be(r, 0x3B, raw[0])
        put_be(r, 0x3D, raw[1])
        put_be(r, 0x3F, raw[2])
        put_be(r, 0x41, self.TEMP_RAW)
        put_be(r, 0x43, raw[3])
        put_be(r, 0x45, raw[4])
        put_be(r, 0x47, raw[5])

    def next_addr(self, reg):
        return reg if reg == 0x74 else (reg + 1) & 0xFF

    def fifo_clear(self):
        self.fifo = []
        self.overrun = False

    def write_reg(self, reg, value):
        if reg == 0x6B and value & 0x80:           # DEVICE_RESET
            self.reset()
            self.config_changed()
            return
        if reg == 0x6A and value & 0x04:           # FIFO_RESET (self-clearing)
            self.fifo = []
            value &= ~0x04
        Chip.write_reg(self, reg, value)

    def fifo_on(self):
        return bool(self.regs[0x6A] & 0x40) and bool(self.packet_layout())

    def fifo_push(self, raw):
        data = []
        for item in self.packet_layout():
            if item == "accel":
                vals = raw[0:3]
            elif item == "temp":
                vals = (self.TEMP_RAW,)
            else:
                vals = (raw[3 + item],)
            for v in vals:
                v &= 0xFFFF
                data.append(v >> 8)
                data.append(v & 0xFF)
        f = self.fifo
        if len(f) + len(data) > self.FIFO_BYTES:
            self.overrun = True
            if self.drop_new_when_full():
                return
            del f[0:len(f) + len(data) - self.FIFO_BYTES]
        f.extend(data)

    def drop_new_when_full(self):
        return False

    def read_reg(self, reg):
        f = self.fifo
        if reg == 0x3A:
            v = self.regs[0x3A] | (0x10 if self.overrun else 0)
            self.overrun = False
            return v
        if reg == 0x72:
            return len(f) >> 8
        if reg == 0x73:
            return len(f) & 0xFF
        if reg == 0x74:
            return f.pop(0) if f else 0xFF
        return self.regs[reg]


class MPU6050(_MPU):
    WHO_AM_I = 0x68
    RESET = {0x6B: 0x40}             # PWR_MGMT_1: SLEEP; every other register resets to 0x00 (WHO_AM_I 0x68)
    TEMP_RAW = -3920                 # (25 C - 36.53) * 340

    def packet_layout(self):
        e = self.regs[0x23]
        out = []
        if e & 0x08:
            out.append("accel")
        if e & 0x80:
            out.append("temp")
        for bit, axis in ((0x40, 0), (0x20, 1), (0x10, 2)):
            if e & bit:
                out.append(axis)
        return out


class MPU6886(_MPU):
    WHO_AM_I = 0x19
    RESET = {0x6B: 0x41}             # PWR_MGMT_1: SLEEP | CLKSEL=1
    TEMP_RAW = 0                     # 25 C: TEMP_degC = raw / 326.8 + 25

    def packet_layout(self):
        # the temperature is written whenever accel or gyro is: accel only = 8 bytes (accel, temp), as a
        # third-party MicroPython MPU-6886 FIFO example reads them ("XXYYZZTT"); both = 14 bytes
        e = self.regs[0x23]
        out = []
        if e & 0x08:
            out.append("accel")
        if e & 0x18:
            out.append("temp")
        if e & 0x10:
            out += [0, 1, 2]
        return out

    def drop_new_when_full(self):
        return bool(self.regs[0x1A] & 0x40)
