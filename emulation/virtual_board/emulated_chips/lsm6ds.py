# Emulated ST LSM6DS3TR-C and LSM6DSOX (see device/picoml/sensors/lsm6ds.py for the datasheet sources).
#
# Emulated: WHO_AM_I, CTRL1_XL/CTRL2_G (ODR, full scale -> sensitivity), CTRL3_C (SW_RESET, IF_INC address
# auto-increment, reset value 0x04), OUTX_L_G..OUTZ_H_XL, FIFO in continuous/bypass mode.
#   LSM6DS3TR-C: FIFO_CTRL3 (decimation 1 for both), FIFO_CTRL5 (ODR_FIFO, FIFO_MODE), FIFO_STATUS1..4
#     (DIFF_FIFO in words, OVER_RUN, FIFO_EMPTY, FIFO_PATTERN), FIFO_DATA_OUT_L/H (a word pops when the high
#     byte is read; with IF_INC the address rolls back from 0x3F to 0x3E), 2048 words (4 kB).
#   LSM6DSOX: FIFO_CTRL3 (BDR_GY, BDR_XL), FIFO_CTRL4 (FIFO_MODE), FIFO_STATUS1/2 (DIFF_FIFO in words,
#     FIFO_OVR_IA), tagged words at 0x78..0x7E (tag 0x01 gyro, 0x02 accel; a word pops when 0x7E is read and
#     the address rolls back to 0x78). FIFO depth is an emulation parameter, 512 words by default (the real
#     chip's "up to 9 kB" depth in 7-byte words was not pinned down).
# Not emulated: decimation other than 1, FIFO ODR different from the sensor ODR, gyro ODR different from the
# accel ODR (ValueError), interrupts, temperature/timestamp in the FIFO, embedded functions.
from .chip import Chip, put_le, G

ACC_MG = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}          # FS_XL bits -> mg/LSB
GYR_MDPS = {0: 8.75, 1: 17.50, 2: 35.0, 3: 70.0}            # FS_G bits -> mdps/LSB (FS_125 -> 4.375)
ODR_MHZ_DS3 = {1: 12500, 2: 26000, 3: 52000, 4: 104000, 5: 208000, 6: 416000, 7: 833000, 8: 1660000,
               9: 3330000, 10: 6660000}
ODR_MHZ_DSOX = {1: 12500, 2: 26000, 3: 52000, 4: 104000, 5: 208000, 6: 417000, 7: 833000, 8: 1667000,
                9: 3333000, 10: 6667000}


class _LSM6DS(Chip):
    ADDRESS = 0x6A
    WHO_AM_I_REG = 0x0F
    ODR_MHZ = ODR_MHZ_DS3

    def rate(self):
        xl = self.regs[0x10] >> 4
        g = self.regs[0x11] >> 4
        if xl and g and xl != g:
            raise ValueError("emulation: gyro ODR code %d != accel ODR code %d not emulated" % (g, xl))
        return self.ODR_MHZ.get(xl, 0)

    def accel_lsb_per_ms2(self):
        return 1.0 / (ACC_MG[(self.regs[0x10] >> 2) & 3] * 0.001 * G)

    def gyro_lsb_per_dps(self):
        c = self.regs[0x11]
        mdps = 4.375 if c & 0x02 else GYR_MDPS[(c >> 2) & 3]
        return 1.0 / (mdps * 0.001)

    def set_data(self, raw):
        r = self.regs
        put_le(r, 0x22, raw[3])
        put_le(r, 0x24, raw[4])
        put_le(r, 0x26, raw[5])
        put_le(r, 0x28, raw[0])
        put_le(r, 0x2A, raw[1])
        put_le(r, 0x2C, raw[2])

    def write_reg(self, reg, value):
        if reg == 0x12 and value & 0x01:        # SW_RESET: registers back to their reset values
            self.reset()
            self.config_changed()
            return
        Chip.write_reg(self, reg, value)
        self.fifo_config(reg)


class LSM6DS3TRC(_LSM6DS):
    WHO_AM_I = 0x6A
    RESET = {0x12: 0x04}            # CTRL3_C: IF_INC; all other control registers reset to 0x00
    FIFO_WORDS = 2048

    def next_addr(self, reg):
        if not self.regs[0x12] & 0x04:
            return reg
        return 0x3E if reg == 0x3F else (reg + 1) & 0xFF

    def read(self, reg, buf):
        # A burst from FIFO_DATA_OUT_L with IF_INC (0x3E, 0x3F, 0x3E, ...: every high byte pops a word) a word
        # at a time: the same bytes as the byte-wise path, several times faster (long soaks read millions).
        if reg != 0x3E or not self.regs[0x12] & 0x04 or len(buf) & 1:
            return Chip.read(self, reg, buf)
        f = self.fifo
        k = len(buf) >> 1
        if k > len(f):
            k = len(f)
        j = 0
        for i in range(k):
            w = f[i]
            buf[j] = w & 0xFF
            buf[j + 1] = (w >> 8) & 0xFF
            j += 2
        while j < len(buf):                 # an empty FIFO reads as zeros
            buf[j] = 0
            j += 1
        del f[0:k]
        self.pattern = (self.pattern + k) % 6

    def fifo_clear(self):
        self.fifo = []
        self.pattern = 0
        self.overrun = False

    def fifo_config(self, reg):
        if reg == 0x0A and (self.regs[0x0A] & 0x07) == 0:   # bypass mode empties the FIFO
            self.fifo_clear()

    def fifo_on(self):
        r = self.regs
        if (r[0x0A] & 0x07) != 0x06:
            return False
        if (r[0x0A] >> 3) & 0x0F != r[0x10] >> 4 or r[0x08] != 0x09:
            raise ValueError("emulation: only FIFO ODR = sensor ODR and decimation 1 are emulated")
        return True

    def fifo_push(self, raw):
        f = self.fifo
        if len(f) + 6 > self.FIFO_WORDS:      # continuous mode: the oldest sample is overwritten
            del f[0:6]
            self.overrun = True
        f.extend((raw[3], raw[4], raw[5], raw[0], raw[1], raw[2]))

    def read_reg(self, reg):
        f = self.fifo
        if reg == 0x3A:
            return len(f) & 0xFF
        if reg == 0x3B:
            return (0x40 if self.overrun else 0) | (0 if f else 0x10) | ((len(f) >> 8) & 0x07)
        if reg == 0x3C:
            return self.pattern & 0xFF
        if reg == 0x3D:
            return self.pattern >> 8
        if reg == 0x3E:
            return f[0] & 0xFF if f else 0
        if reg == 0x3F:
            if not f:
                return 0
            w = f.pop(0)
            self.pattern = (self.pattern + 1) % 6
            return (w >> 8) & 0xFF
        return self.regs[reg]


class LSM6DSOX(_LSM6DS):
    WHO_AM_I = 0x6C
    RESET = {0x02: 0x3F, 0x12: 0x04}  # PIN_CTRL 0x3F, CTRL3_C 0x04 (IF_INC)
    ODR_MHZ = ODR_MHZ_DSOX

    def __init__(self, address=None, source=None, who_am_i=None, fifo_words=512):
        self.FIFO_WORDS = fifo_words
        _LSM6DS.__init__(self, address, source, who_am_i)

    def next_addr(self, reg):
        if not self.regs[0x12] & 0x04:
            return reg
        return 0x78 if reg == 0x7E else (reg + 1) & 0xFF

    def fifo_clear(self):
        self.fifo = []
        self.overrun = False
        self.cnt = 0

    def fifo_config(self, reg):
        if reg == 0x0A and (self.regs[0x0A] & 0x07) == 0:
            self.fifo_clear()

    def fifo_on(self):
        r = self.regs
        if (r[0x0A] & 0x07) != 0x06:
            return False
        if r[0x09] & 0x0F != r[0x10] >> 4 or r[0x09] >> 4 != r[0x11] >> 4:
            raise ValueError("emulation: only BDR = sensor ODR is emulated")
        return True

    def _word(self, sensor, x, y, z):
        t = (sensor << 3) | ((self.cnt & 3) << 1)
        p = 0
        v = t
        while v:
            p ^= v & 1
            v >>= 1
        return (t | p, x, y, z)

    def fifo_push(self, raw):
        f = self.fifo
        if len(f) + 2 > self.FIFO_WORDS:
            del f[0:2]
            self.overrun = True
        f.append(self._word(0x01, raw[3], raw[4], raw[5]))
        f.append(self._word(0x02, raw[0], raw[1], raw[2]))
        self.cnt += 1

    def read_reg(self, reg):
        f = self.fifo
        if reg == 0x3A:
            return len(f) & 0xFF
        if reg == 0x3B:
            return (0x40 if self.overrun else 0) | ((len(f) >> 8) & 0x03)
        if 0x78 <= reg <= 0x7E:
            if not f:
                return 0
            w = f[0]
            if reg == 0x78:
                return w[0]
            i = reg - 0x79
            v = w[1 + i // 2] & 0xFFFF
            if reg == 0x7E:
                f.pop(0)
            return (v >> 8) if i & 1 else (v & 0xFF)
        return self.regs[reg]
