"""Helpers for tests/test_stream.py and tests/test_audio.py: the numpy model of picoml.stream.Window's
semantics, WAV writing/reading on the host, and MicroPython source for emulated drivers (machine.I2S,
audiobusio.PDMIn) and a fake clock that the device code runs against in the unix port. None of this is
hardware: the emulations only check that the device code drives the documented driver APIs and converts their
sample formats as the drivers document them."""
import struct
import wave

import numpy as np


def expected_windows(frames, length, hop):
    """Window k holds frames k*hop .. k*hop+length-1, for every k whose window lies inside the stream:
    a list of (length, channels) arrays."""
    frames = np.asarray(frames)
    out = []
    k = 0
    while k * hop + length <= len(frames):
        out.append(frames[k * hop:k * hop + length])
        k += 1
    return out


def quantize_window(window, in_scale, zero_point, channel_scale=None):
    """The exact-arithmetic quantization Window.quantize_into approximates in fixed point:
    round_half_away(v * channel_scale / in_scale) + zero_point, clamped to int8 (float64)."""
    v = np.asarray(window, np.float64)
    if channel_scale is not None:
        v = v * np.asarray(channel_scale, np.float64)
    x = v / in_scale
    q = np.sign(x) * np.floor(np.abs(x) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def write_wav(path, samples, rate=16000, channels=1, extra_chunks=(), bits=16, tag=1, extensible=False):
    """A RIFF/WAVE file by hand (so odd chunks and formats can be made): samples int16 (frames x channels or
    flat); extra_chunks: (id, payload) written between fmt and data (odd sizes get the pad byte)."""
    data = np.asarray(samples).astype("<i2").tobytes() if bits == 16 else bytes(samples)
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0,
                          struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    for cid, payload in extra_chunks:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
    body += b"data" + struct.pack("<I", len(data)) + data
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_wav(path):
    """(rate, channels, int16 samples as frames x channels) with Python's wave module and numpy."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        rate, channels, n = w.getframerate(), w.getnchannels(), w.getnframes()
        samples = np.frombuffer(w.readframes(n), "<i2").reshape(n, channels)
    return rate, channels, samples


def inmp441_slots(samples24):
    """24-bit signed samples -> the bytes of 32-bit I2S slots as the MicroPython driver delivers them
    (little-endian int32, sample MSB-aligned, low byte 0)."""
    s = np.asarray(samples24, np.int64)
    return (s << 8).astype("<i4").tobytes()


def inmp441_to_int16(samples24, shift=16):
    """What picoml.audio should make of them: (slot >> shift) saturated to int16."""
    v = np.asarray(samples24, np.int64) >> (shift - 8)
    return np.clip(v, -32768, 32767).astype(np.int16)


# MicroPython source: a fake `machine` module with the parts of machine.I2S / machine.Pin picoml.audio uses.
# I2S.readinto(buf) copies the next bytes of the file DATA (the slots) into buf, as the blocking driver does.
FAKE_MACHINE = r"""
import sys

class Pin:
    def __init__(self, id):
        self.id = id

class I2S:
    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1
    made = []

    def __init__(self, id, sck=None, ws=None, sd=None, mode=None, bits=None, format=None, rate=None, ibuf=None):
        assert mode == I2S.RX and format == I2S.MONO and bits in (16, 32), (mode, format, bits)
        assert isinstance(sck, Pin) and isinstance(ws, Pin) and isinstance(sd, Pin)
        self.config = (id, sck.id, ws.id, sd.id, bits, rate, ibuf)
        I2S.made.append(self)
        self._f = open(DATA, 'rb')

    def readinto(self, buf):
        return self._f.readinto(buf)

    def deinit(self):
        self._f.close()

class _Module:
    pass

machine = _Module()
machine.I2S = I2S
machine.Pin = Pin
sys.modules['machine'] = machine
"""

# A fake `audiobusio` (CircuitPython) and `board`: PDMIn.record(buf, n) fills buf (must be an array('H'), as
# CircuitPython checks for bit_depth 16) with the next n offset-binary samples from the file DATA (uint16 LE).
FAKE_AUDIOBUSIO = r"""
import sys
from array import array

class PDMIn:
    made = []

    def __init__(self, clock, data, sample_rate=16000, bit_depth=8):
        assert bit_depth == 16 and sample_rate == 16000, (bit_depth, sample_rate)
        self.pins = (clock, data)
        PDMIn.made.append(self)
        self._f = open(DATA, 'rb')
        self._tmp = bytearray(2)

    def record(self, buf, n):
        assert isinstance(buf, array) and len(buf) >= n
        mv = memoryview(buf)
        got = self._f.readinto(mv[0:n]) // 2 if n < len(buf) else self._f.readinto(mv) // 2
        return got

    def deinit(self):
        self._f.close()

class _Module:
    pass

audiobusio = _Module()
audiobusio.PDMIn = PDMIn
sys.modules['audiobusio'] = audiobusio
board = _Module()
board.MICROPHONE_CLOCK = 'CLK'
board.MICROPHONE_DATA = 'DAT'
sys.modules['board'] = board
microcontroller = _Module()
microcontroller.pin = _Module()
for _name in ('P0_16', 'P0_25', 'P0_26', 'P1_00', 'P1_10', 'P0_17', 'GPIO22', 'GPIO23'):
    setattr(microcontroller.pin, _name, 'pin:' + _name)
sys.modules['microcontroller'] = microcontroller

class DigitalInOut:
    made = []
    def __init__(self, pin):
        self.pin = pin
        self.value = None
        DigitalInOut.made.append(self)
    def switch_to_output(self, value=False):
        self.value = value

digitalio = _Module()
digitalio.DigitalInOut = DigitalInOut
sys.modules['digitalio'] = digitalio
"""

# A fake clock with the time-module interface WavSource uses: time only moves when sleep_us is called (plus
# `step` microseconds per ticks_us call, to model time spent computing); records every sleep.
FAKE_CLOCK = r"""
class FakeClock:
    def __init__(self, step=0):
        self.now = 1000
        self.step = step
        self.slept = 0
        self.sleeps = 0

    def ticks_us(self):
        self.now += self.step
        return self.now

    def ticks_add(self, a, b):
        return a + b

    def ticks_diff(self, a, b):
        return a - b

    def sleep_us(self, us):
        self.now += us
        self.slept += us
        self.sleeps += 1
"""
