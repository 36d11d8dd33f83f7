"""The streaming soak: picoml.stream.run() with a model on windows read by picoml's IMU driver from the virtual
board's IMU (boards/virtual.json: an emulated LSM6DS3TR-C at the model's ODR), in the MicroPython unix port with
the library as deployed (.mpy) and the x64 native module, for many windows. Used by tests/test_soak.py (short)
and tests/bench/bench_soak.py (10^6).

The chip's clock, two ways:
  speed=N      the virtual board's RealTimeI2CBus: N times faster than real time. The loop must keep up; on a busy
               machine it may not, and the FIFO overflows (which the driver must report).
  lag_us=N     discrete-event time in which every bus transaction costs N us: a loop slower than the IMU on any
               machine, the FIFO overflows (which the driver must report).
  speed=None   discrete-event time: whenever the FIFO holds less than one driver burst (16 samples), the clock
               jumps to when it holds that many -- the loop never waits, the IMU still delivers exactly its ODR
               in emulated time, and the run does not depend on the machine's load.

What the chip plays: the deterministic Motion on the accelerometer and gyro x; gyro y and z carry the sample's
number in raw counts (15 + 15 bits), so every frame that reaches the Window is checked: a frame that does not
follow the previous one is a loss, counted with its size, and must coincide with a FIFO overrun the driver
reported (imu.overruns). Figures per checkpoint (every `chunk` windows): wall time per window, live heap after a
collection (the emulated chip lives in the same heap: its FIFO, a list of up to 2048 words, is recorded beside).

soak(...) returns a dict: windows, results, seconds, emulated_seconds, heap and fifo_words (per checkpoint, and at
the end), us_per_window and cpu_us_per_window (wall and CPU time, per checkpoint), overruns, lost_frames, jumps, unreported_jumps, window_dropped, frames."""
import json
import pathlib
import subprocess
import tempfile

import heap_sweep
from picoml import resources
from picoml.runtimes.unix import micropython

ROOT = pathlib.Path(__file__).resolve().parents[1]
GESTURE = ROOT / "models" / "gesture" / "gesture.pml"

DEVICE = r"""
import gc, json, sys, time
import picoml
from picoml import boards
from picoml.stream import Window, run
from emulated_chips.chip import I2CBus, Motion, RealTimeI2CBus
from emulated_chips import lsm6ds

MODEL, WINDOWS, CHUNK, SPEED, LAG_US = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                       int(sys.argv[5]))

class EventBus(I2CBus):
    # discrete-event time: a transaction that finds fewer than BURST samples in the FIFO first moves the clock to
    # when there are BURST (the loop would be waiting for them). LAG_US > 0: every transaction also costs that much
    # emulated time, a loop slower than the IMU on any machine
    BURST = 16
    def __init__(self, chip):
        I2CBus.__init__(self, chip)
        self.chip = chip
    def _chip(self, addr):
        c = self.chip
        if LAG_US:
            c.advance_us(LAG_US)
        elif c.rate_mhz and len(c.fifo) < 6 * self.BURST:
            due = c.t0_us + ((c.n + self.BURST - len(c.fifo) // 6) * 1000000000 + c.rate_mhz - 1) // c.rate_mhz
            if due > c.t_us:
                c.advance_us(due - c.t_us)
        return I2CBus._chip(self, addr)
GYRO_DPS_PER_LSB = 0.0175           # +-500 dps, the driver's default range

class Counted:
    # the sample number n in gyro y (n >> 15) and gyro z (n & 0x7FFF), raw counts offset by -16384
    def __init__(self):
        self.motion = Motion()
    def __call__(self, n, t):
        a = self.motion(n, t)
        return (a[0], a[1], a[2], a[3], ((n >> 15) - 16384) * GYRO_DPS_PER_LSB,
                ((n & 0x7FFF) - 16384) * GYRO_DPS_PER_LSB)

class Checked:
    # The IMU as a Window reader, checking that every frame follows the previous one. A jump between two
    # frames is reported when the driver's overrun count grew from the start of the read that gave the first
    # of them to the end of the read after the one that gave the second (the chip may flag an overflow during
    # a burst; the driver reads the flag at its next status check, which every read begins with).
    def __init__(self, imu):
        self.imu = imu
        self.read = imu.read_into
        self.channels = imu.channels
        self.next = -1
        self.frames = 0
        self.jumps = 0
        self.lost = 0
        self.unreported = 0
        self.last_start = 0         # overruns at the start of the last read that gave frames
        self.pending = -1           # a jump not reported yet: the overrun count it must exceed
    def read_into(self, buf):
        start = self.imu.overruns
        n = self.read(buf)
        base = -1
        j = 0
        for k in range(n):
            s = ((buf[j + 4] + 16384) << 15) | (buf[j + 5] + 16384)
            if s != self.next and self.next >= 0:
                self.jumps += 1
                self.lost += s - self.next
                if base < 0:
                    base = self.last_start if k == 0 else start
            self.next = s + 1
            j += 6
        now = self.imu.overruns
        if self.pending >= 0:
            if now == self.pending:
                self.unreported += 1
            self.pending = -1
        if base >= 0 and now == base:
            self.pending = base
        if n:
            self.last_start = start
        self.frames += n
        return n
    def finish(self):
        if self.pending >= 0 and self.imu.overruns == self.pending:
            self.unreported += 1
        self.pending = -1

board = boards.load("virtual")
m = picoml.load(MODEL)
info = m.metadata()["input"]
chip = lsm6ds.LSM6DS3TRC(address=board["imu"]["address"], source=Counted())
chip.generated = None              # as on the virtual board (emulated_chips.open_bus): no logs that grow
chip.writes = None
bus = RealTimeI2CBus(chip, speed=SPEED) if SPEED else EventBus(chip)
imu = boards.imu_driver(board)(bus, address=board["imu"]["address"],
                                odr=int(info["rate"]))
reader = Checked(imu)
w = Window(info["window"], info["channels"], info["hop"], reader=reader)
scale = tuple(info["scale"])
results = [0]
def on_result(label, index, scores):
    results[0] += 1
from array import array
checkpoints = (WINDOWS + CHUNK - 1) // CHUNK
heap = array("i", bytes(4 * (checkpoints + 1)))     # made once: the records do not grow the heap
fifo = array("i", bytes(4 * (checkpoints + 1)))     # words in the chip's FIFO then (the emulation's own list)
us = array("f", bytes(4 * checkpoints))
cpu = array("f", bytes(4 * checkpoints))            # the process's CPU time per window (the wall time follows
                                                    # the machine's load)
def cpu_ticks():
    # utime + stime of this process in clock ticks (Linux /proc; 100 per second)
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
done = 0
i = 0
gc.collect()
t_start = time.ticks_ms()
emulated_start = chip.t_us
while done < WINDOWS:
    gc.collect()
    heap[i] = gc.mem_alloc()
    fifo[i] = len(chip.fifo)
    c0 = cpu_ticks()
    t0 = time.ticks_us()
    n = run(m, w, on_result, count=min(CHUNK, WINDOWS - done), scale=scale)
    us[i] = time.ticks_diff(time.ticks_us(), t0) / n
    cpu[i] = (cpu_ticks() - c0) * 10000 / n
    done += n
    i += 1
reader.finish()
gc.collect()
heap[i] = gc.mem_alloc()
fifo[i] = len(chip.fifo)
print("SOAK " + json.dumps({
    "windows": done, "results": results[0], "seconds": time.ticks_diff(time.ticks_ms(), t_start) / 1000,
    "emulated_seconds": (chip.t_us - emulated_start) / 1e6, "heap": list(heap), "fifo_words": list(fifo),
    "us_per_window": list(us), "cpu_us_per_window": list(cpu),
    "overruns": imu.overruns, "lost_frames": reader.lost, "jumps": reader.jumps,
    "unreported_jumps": reader.unreported, "window_dropped": w.dropped, "frames": reader.frames,
    "window": info["window"], "hop": info["hop"], "rate": info["rate"], "backend": m.backend}))
"""


def soak(windows, chunk=1000, speed=None, lag_us=0, model=GESTURE, heapsize="4m", timeout=None):
    """Run the soak in the unix port; returns its figures (see the module doc). speed: None for discrete-event
    time, else the real-time bus's factor; lag_us: the emulated cost of each bus transaction (discrete-event)."""
    lib = heap_sweep.unix_library()
    with tempfile.TemporaryDirectory(prefix="picoml_soak_") as tmp:
        script = pathlib.Path(tmp) / "soak.py"
        script.write_text("import sys\nsys.path[:0] = [%r, %r, %r]\n" % (
            str(heap_sweep.NATMOD_X64), str(lib), str(resources.virtual_board_dir())) + DEVICE)
        done = subprocess.run([micropython(), "-X", "heapsize=%s" % heapsize, str(script), str(model), str(windows),
                               str(chunk), str(speed or 0), str(lag_us)], capture_output=True, text=True, timeout=timeout,
                              cwd=str(ROOT))
    line = [x for x in done.stdout.splitlines() if x.startswith("SOAK ")]
    if done.returncode != 0 or not line:
        raise RuntimeError("the soak failed (exit %d):\n%s%s" % (done.returncode, done.stdout[-2000:],
                                                                  done.stderr[-2000:]))
    return json.loads(line[-1][5:])
