# Emulated ST LSM9DS1 accelerometer/gyroscope part (see device/picoml/sensors/lsm9ds1.py for the sources).
#
# Emulated: WHO_AM_I 0x68, CTRL_REG1_G (ODR_G -> sample rate, FS_G -> sensitivity), CTRL_REG6_XL (FS_XL),
# CTRL_REG4/CTRL_REG5_XL reset 0x38, CTRL_REG8 (SW_RESET, IF_ADD_INC, reset 0x04), CTRL_REG9.FIFO_EN,
# FIFO_CTRL (bypass / continuous), FIFO_SRC (OVRN, FSS), 32-set FIFO. With the FIFO on and not empty the output
# registers 0x18-0x1D / 0x28-0x2D show the oldest set, which pops after OUT_Z_H_XL (0x2D) is read (an
# assumption; see the driver). The accelerometer runs at the gyroscope ODR (combo mode).
# Not emulated: accel-only mode, FIFO mode 001 (stop when full), thresholds, interrupts, magnetometer.
from .chip import Chip, put_le, G

ACC_MG = {0: 0.061, 1: 0.732, 2: 0.122, 3: 0.244}
GYR_MDPS = {0: 8.75, 1: 17.50, 3: 70.0}
ODR_MHZ = {1: 14900, 2: 59500, 3: 119000, 4: 238000, 5: 476000, 6: 952000}


class LSM9DS1(Chip):
    ADDRESS = 0x6B
    WHO_AM_I_REG = 0x0F
    WHO_AM_I = 0x68
    RESET = {0x1E: 0x38, 0x1F: 0x38, 0x22: 0x04}
    DEPTH = 32

    def rate(self):
        return ODR_MHZ.get(self.regs[0x10] >> 5, 0)

    def accel_lsb_per_ms2(self):
        return 1.0 / (ACC_MG[(self.regs[0x20] >> 3) & 3] * 0.001 * G)

    def gyro_lsb_per_dps(self):
        fs = (self.regs[0x10] >> 3) & 3
        if fs == 2:
            raise ValueError("emulation: FS_G = 10 is not available on the LSM9DS1")
        return 1.0 / (GYR_MDPS[fs] * 0.001)

    def set_data(self, raw):
        self.latest = raw
        if not self.fifo:
            self._show(raw)

    def _show(self, raw):
        r = self.regs
        put_le(r, 0x18, raw[3])
        put_le(r, 0x1A, raw[4])
        put_le(r, 0x1C, raw[5])
        put_le(r, 0x28, raw[0])
        put_le(r, 0x2A, raw[1])
        put_le(r, 0x2C, raw[2])

    def next_addr(self, reg):
        return (reg + 1) & 0xFF if self.regs[0x22] & 0x04 else reg

    def fifo_clear(self):
        self.fifo = []
        self.overrun = False

    def write_reg(self, reg, value):
        if reg == 0x22 and value & 0x01:
            self.reset()
            self.config_changed()
            return
        Chip.write_reg(self, reg, value)
        if reg == 0x2E and value >> 5 == 0:
            self.fifo_clear()

    def fifo_on(self):
        return bool(self.regs[0x23] & 0x02) and self.regs[0x2E] >> 5 == 0x06

    def fifo_push(self, raw):
        f = self.fifo
        if len(f) >= self.DEPTH:
            f.pop(0)
            self.overrun = True
        f.append(raw)
        self._show(f[0])

    def read_reg(self, reg):
        if reg == 0x2F:
            f = self.fifo
            return (0x40 if self.overrun else 0) | min(len(f), 32)
        v = self.regs[reg]
        if reg == 0x2D and self.fifo:
            self.fifo.pop(0)
            if self.fifo:
                self._show(self.fifo[0])
            else:
                self._show(self.latest)
        return v
