# Emulated Bosch BMI270 (see device/picoml/sensors/bmi270.py for the datasheet sources).
#
# Emulated: CHIP_ID 0x24, CMD (0xB6 soft reset, 0xB0 FIFO flush), PWR_CONF/PWR_CTRL, the initialization
# handshake (INIT_CTRL, INIT_ADDR_0/1 in 16-bit words, INIT_DATA burst writes that do not auto-increment the
# register address; INTERNAL_STATUS becomes 0x01 when exactly 8192 bytes were loaded with advanced power save
# off, 0x02 "init_err" otherwise -- the content of Bosch's file is not checked), ACC_CONF/GYR_CONF ODR,
# ACC_RANGE/GYR_RANGE sensitivity (full scale / 32768), data registers 0x0C-0x17, FIFO_LENGTH_0/1, FIFO_DATA
# (burst reads pop bytes, the address does not increment), headerless accel+gyro frames (gyro then accel),
# 2048-byte FIFO dropping its oldest frame when full. No samples before the configuration is loaded.
# Not emulated: header mode, aux, sensortime frames, downsampling, features of the config file, interrupts.
from .chip import Chip, put_le, G

ODR_MHZ = {1: 781, 2: 1562, 3: 3125, 4: 6250, 5: 12500, 6: 25000, 7: 50000, 8: 100000, 9: 200000,
           10: 400000, 11: 800000, 12: 1600000, 13: 3200000}
ACC_RANGE_G = {0: 2, 1: 4, 2: 8, 3: 16}
GYR_RANGE_DPS = {0: 2000, 1: 1000, 2: 500, 3: 250, 4: 125}


class BMI270(Chip):
    ADDRESS = 0x68
    WHO_AM_I_REG = 0x00
    WHO_AM_I = 0x24
    RESET = {0x40: 0xA8, 0x41: 0x02, 0x42: 0xA9, 0x43: 0x00, 0x44: 0x46, 0x45: 0x88, 0x47: 0x02,
             0x48: 0x02, 0x49: 0x10, 0x7C: 0x03, 0x7D: 0x00, 0x21: 0x00}
    FIFO_BYTES = 2048
    CONFIG_BYTES = 8192

    def reset(self):
        Chip.reset(self)
        self.config = bytearray(self.CONFIG_BYTES)
        self.loaded = 0
        self.init_off = 0
        self.upload_error = False

    def rate(self):
        r = self.regs
        if r[0x21] & 0x0F != 0x01 or (r[0x7D] & 0x06) != 0x06:
            return 0
        a = r[0x40] & 0x0F
        g = r[0x42] & 0x0F
        if a != g:
            return 0                                # different accel/gyro ODRs: not emulated, no samples
        return ODR_MHZ.get(a, 0)

    def accel_lsb_per_ms2(self):
        return 32768 / (ACC_RANGE_G[self.regs[0x41] & 3] * G)

    def gyro_lsb_per_dps(self):
        return 32768 / GYR_RANGE_DPS[self.regs[0x43] & 7]

    def set_data(self, raw):
        r = self.regs
        for i in range(6):
            put_le(r, 0x0C + 2 * i, raw[i])

    def next_addr(self, reg):
        return reg if reg in (0x26, 0x5E) else (reg + 1) & 0xFF

    def fifo_clear(self):
        self.fifo = []

    def write_reg(self, reg, value):
        r = self.regs
        if reg == 0x7E:
            if value == 0xB6:
                self.reset()
                self.config_changed()
            elif value == 0xB0:
                self.fifo_clear()
            return
        if reg == 0x5E:                             # INIT_DATA: into the config memory at INIT_ADDR
            if r[0x7C] & 0x01:
                self.upload_error = True            # advanced power save must be off while loading
            addr = 2 * ((r[0x5C] << 4) | (r[0x5B] & 0x0F)) + self.init_off
            if addr < self.CONFIG_BYTES:
                self.config[addr] = value
            self.init_off += 1
            self.loaded += 1
            return
        if reg in (0x5B, 0x5C):
            self.init_off = 0
        Chip.write_reg(self, reg, value)
        if reg == 0x59:
            if value == 0x00:
                self.loaded = 0
                self.upload_error = False
            elif value == 0x01:
                ok = self.loaded == self.CONFIG_BYTES and not self.upload_error
                r[0x21] = 0x01 if ok else 0x02
                self.config_changed()

    def fifo_on(self):
        c = self.regs[0x49]
        if c & 0x10:
            return False                            # header mode: not emulated
        return (c & 0xC0) == 0xC0

    def fifo_push(self, raw):
        f = self.fifo
        if len(f) + 12 > self.FIFO_BYTES:
            del f[0:12]
        for v in (raw[3], raw[4], raw[5], raw[0], raw[1], raw[2]):
            v &= 0xFFFF
            f.append(v & 0xFF)
            f.append(v >> 8)

    def read_reg(self, reg):
        f = self.fifo
        if reg == 0x24:
            return len(f) & 0xFF
        if reg == 0x25:
            return (len(f) >> 8) & 0x3F
        if reg == 0x26:
            return f.pop(0) if f else 0x80
        return self.regs[reg]
