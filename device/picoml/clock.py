# picoml.clock: microsecond ticks for pacing and timing -- MicroPython's time.ticks_us, ticks_add, ticks_diff and
# sleep_us, or the same over time.monotonic_ns where the port has no ticks_us (CircuitPython): ticks that wrap at
# 2^30 as MicroPython's do, so ticks_diff and ticks_add are the only arithmetic on them. Allocates long ints there
# (fine for pacing). Used by the recorder, the WAV microphone's pacing, Model.benchmark() and the device scripts.
import time

try:
    from time import ticks_us, ticks_add, ticks_diff, sleep_us
except ImportError:
    _MASK = 0x3FFFFFFF
    _HALF = 0x20000000

    def ticks_us():
        return (time.monotonic_ns() // 1000) & _MASK

    def ticks_add(t, delta):
        return (t + delta) & _MASK

    def ticks_diff(t1, t0):
        return ((t1 - t0 + _HALF) & _MASK) - _HALF

    def sleep_us(us):
        time.sleep(us / 1000000)
