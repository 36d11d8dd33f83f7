"""picoml.stream (device/picoml/stream.py) in the MicroPython unix port: Window's overlap semantics against a
numpy model, no heap allocation per window, quantization into a model's input, and run() with a real converted
model (imu_gap) and with a scripted fake model for smoothing / threshold / hold-off."""
import json
from fractions import Fraction

import numpy as np
import pytest

from conftest import ROOT
from emulated_audio import expected_windows, quantize_window
from picoml import resources
from picoml.runtimes.unix import mpy_cross, run_script as run

import subprocess

DEVICE = resources.device_library()

# (length, channels, hop): hop=1, hop<length, hop=length, hop>length, channels 1..6
CASES = [(1, 1, 1), (5, 1, 1), (5, 2, 2), (8, 3, 3), (4, 4, 4), (6, 5, 6), (3, 6, 7), (3, 1, 10), (7, 2, 5),
         (16, 3, 4), (10, 1, 3), (32, 6, 40), (40, 1, 1), (4000, 1, 200)]   # the last: 20 shift pieces

_SEMANTICS = r"""
import json
from array import array
from picoml.stream import Window

cases = json.load(open(ARGS))
for c in cases:
    L, C, H, dt = c['length'], c['channels'], c['hop'], c['dtype']
    vals = array(dt, c['values'])
    T = len(vals) // C
    res = {}
    # push, one frame at a time (a tuple, or a number for one channel)
    w = Window(L, C, H, dt)
    got = []
    for t in range(T):
        frame = vals[t * C] if C == 1 else tuple(vals[t * C:(t + 1) * C])
        if w.push(frame):
            assert w.ready()
            got.append(list(w.window()))
            assert not w.ready()
    res['push'] = got
    # extend, in blocks of odd sizes (frames split across blocks)
    w = Window(L, C, H, dt)
    got = []
    pos = 0
    for b in c['blocks']:
        end = pos + b
        i = pos
        while i < end:
            i = w.extend(vals, i, end)
            if w.ready():
                got.append(list(w.window()))
        pos = end
    res['extend'] = got
    res['done'] = w.windows_done
    # iterator over a read_into reader, and next() over a frame callable
    class Reader:
        def __init__(self):
            self.p = 0
        def read_into(self, buf):
            n = min(len(buf), len(vals) - self.p)
            if not n:
                return None
            for k in range(n):
                buf[k] = vals[self.p + k]
            self.p += n
            return n // C
    w = Window(L, C, H, dt, reader=Reader(), block=3)
    res['iter'] = [list(x) for x in w.windows()]
    state = [0]
    def frame():
        t = state[0]
        if t >= T:
            return None
        state[0] = t + 1
        return [vals[t * C + k] for k in range(C)]
    w = Window(L, C, H, dt, reader=frame)
    got = []
    while True:
        x = w.next()
        if x is None:
            break
        got.append(list(x))
    res['next'] = got
    print(json.dumps(res))
"""


def _stream(rng, length, channels, hop, dtype, windows=6):
    T = length + hop * (windows - 1) + int(rng.integers(0, max(hop, 2)))
    if dtype == "h":
        v = rng.integers(-32768, 32768, T * channels)
    elif dtype == "b":
        v = rng.integers(-128, 128, T * channels)
    else:
        v = rng.integers(-4000, 4000, T * channels) / 8.0     # exact in float32
    blocks = []
    left = T * channels
    while left:
        b = int(min(left, rng.integers(1, 2 * channels * max(hop, 2) + 3)))
        blocks.append(b)
        left -= b
    return v, T, blocks


def test_window_overlap_semantics(tmp_path):
    rng = np.random.default_rng(1)
    cases = []
    for (L, C, H) in CASES:
        for dtype in ("h", "b", "f") if (L, C, H) in ((5, 2, 2), (3, 6, 7), (16, 3, 4)) else ("h",):
            v, T, blocks = _stream(rng, L, C, H, dtype)
            cases.append({"length": L, "channels": C, "hop": H, "dtype": dtype, "values": v.tolist(),
                          "blocks": blocks, "T": T})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = run("ARGS = %r\n" % str(tmp_path / "cases.json") + _SEMANTICS, heapsize="8M")
    lines = out.strip().splitlines()
    assert len(lines) == len(cases)
    for c, line in zip(cases, lines):
        res = json.loads(line)
        frames = np.asarray(c["values"]).reshape(c["T"], c["channels"])
        want = [w.reshape(-1).tolist() for w in expected_windows(frames, c["length"], c["hop"])]
        assert len(want) >= 5, c
        for mode in ("push", "extend", "iter", "next"):
            assert res[mode] == want, (mode, c["length"], c["channels"], c["hop"], c["dtype"])
        assert res["done"] == len(want)


_NO_ALLOC = r"""
import gc
from array import array
from picoml.stream import Window

L, C, H = 128, 3, 16
src = array('h', [(k * 37) % 2001 - 1000 for k in range(C * 2000)])

class Reader:                       # pure Python, allocation-free: copies from src, wraps around
    def __init__(self):
        self.p = 0
    def read_into(self, buf):
        n = len(buf)
        p = self.p
        for k in range(n):
            buf[k] = src[p + k]
        p += n
        if p + n > len(src):
            p = 0
        self.p = p
        return n // C

w = Window(L, C, H, reader=Reader(), block=50)
out = bytearray(L * C)
scales = (1 / 4096, 1 / 4096, 1 / 2048)
ins = 0.02
zp = -3
frame = [1, 2, 3]
wb = Window(64, 1, 1, 'b')

def exercise(n):
    count = 0
    i = 0
    end = len(src)
    while i < end and count < n:                  # extend + ready/window + quantize_into
        i = w.extend(src, i, end)
        if w.ready():
            w.window()
            w.quantize_into(out, ins, zp, scales)
            count += 1
    for k in range(n):                            # next() through the reader
        w.next()
    it = w.windows()
    for k in range(n):                            # the iterator
        next(it)
    for k in range(n * H):                        # push of a list frame
        frame[0] = k & 1023
        w.push(frame)
    for k in range(n * 4):                        # hop 1, one channel, int8: the loop shift
        wb.push(k & 63)
    return count

exercise(20)
gc.collect()
gc.disable()
before = gc.mem_alloc()
n = exercise(100)
after = gc.mem_alloc()
gc.enable()
print(n, w.windows_done, after - before)
"""


def test_no_allocation_per_window():
    out = run(_NO_ALLOC, heapsize="2M")
    n, done, delta = [int(v) for v in out.split()]
    assert n == 100 and done > 300
    assert delta < 200          # the one generator object from w.windows(), nothing per window


def test_no_allocation_strict():
    """Per window, strictly: the same work for 10 and for 110 windows allocates the same."""
    script = _NO_ALLOC.replace("n = exercise(100)\nafter = gc.mem_alloc()",
                               "exercise(10)\nmid = gc.mem_alloc()\nn = exercise(110)\nafter = gc.mem_alloc()"
                               "\nbefore = mid + (mid - before)")
    n, done, delta = [int(v) for v in run(script, heapsize="2M").split()]
    # allocation of exercise(110) minus that of exercise(10): only per-call constants cancel out
    assert delta == 0


_QUANT = r"""
import json
from array import array
from picoml.stream import Window
c = json.load(open(ARGS))
for case in c:
    w = Window(case['length'], case['channels'], case['length'], case['dtype'])
    vals = array(case['dtype'], case['values'])
    w.extend(vals)
    out = bytearray(len(vals))
    w.quantize_into(out, case['in_scale'], case['zp'], case['scale'])
    print(json.dumps([b - 256 if b > 127 else b for b in out]))
"""


def test_quantize_into_matches_exact_arithmetic(tmp_path):
    rng = np.random.default_rng(7)
    cases = []
    for dtype, C, in_scale, zp, scale in [
            ("h", 3, 0.0625, -5, [1 / 4096, 1 / 4096, 1 / 2048]),      # accel counts -> g
            ("h", 1, 8.0, 0, None),                                       # audio-ish, one channel
            ("h", 2, 0.01, 100, 0.5),                                     # most saturate
            ("h", 6, 0.1, -128, [0.001, 0.002, 0.003, 0.01, 0.02, 0.03]),
            ("b", 2, 0.5, 3, None),
            ("b", 1, 1.0, -1, 1.0),                                       # identity-ish: exact halves none
            ("f", 3, 0.05, 2, [0.5, 1.0, 2.0])]:
        L = 400
        if dtype == "h":
            v = rng.integers(-32768, 32768, L * C)
            v[:8] = [-32768, 32767, 0, 1, -1, 2048, -2048, 4096][:8]
        elif dtype == "b":
            v = rng.integers(-128, 128, L * C)
        else:
            v = rng.integers(-400, 400, L * C) / 4.0
        cases.append({"length": L, "channels": C, "dtype": dtype, "values": v.tolist(), "in_scale": in_scale,
                      "zp": zp, "scale": scale})
    (tmp_path / "q.json").write_text(json.dumps(cases))
    lines = run("ARGS = %r\n" % str(tmp_path / "q.json") + _QUANT, heapsize="4M").strip().splitlines()
    for case, line in zip(cases, lines):
        got = np.array(json.loads(line))
        frames = np.asarray(case["values"]).reshape(case["length"], case["channels"])
        want = quantize_window(frames, case["in_scale"], case["zp"], case["scale"]).reshape(-1)
        diff = np.abs(got - want)
        assert diff.max() <= 1, case["dtype"]
        assert (diff == 0).mean() >= 0.995, (case["dtype"], (diff != 0).sum())


# -- run() -----------------------------------------------------------------------------------------------

_FAKE_MODEL = r"""
from array import array
from picoml.stream import run

class IO:
    def __init__(self, size, scale, zero_point):
        self.shape = (size,)
        self.size = size
        self.scale = scale
        self.zero_point = zero_point

class FakeModel:
    # what run() uses of a picoml Model: predict, labels, inputs, outputs
    def __init__(self, seq, K, scale, zp):
        self.inputs = (IO(4, 0.1, 0),)
        self.outputs = (IO(K, scale, zp),)
        self.labels = ['c%d' % k for k in range(K)]
        self.seq = seq
        self.K = K
        self.i = 0
        self.out = array('b', bytes(K))
    def predict(self, x):
        base = self.i * self.K
        for k in range(self.K):
            self.out[k] = self.seq[base + k]
        self.i += 1
        return self.out

x = bytearray(4)
calls = []
def source():
    return x
def on_result(label, index, score):
    if isinstance(score, int):
        calls.append([label, index, score])
    else:
        calls.append([label, index, list(score)])
"""


def _host_run(outputs, N, threshold, scale, zp, holdoff, every, count, ignore=()):
    """The documented semantics of run(), in plain Python (exact fractions)."""
    K = len(outputs[0])
    calls, hist, hold = [], [], 0
    if threshold is not None and holdoff is None:
        holdoff = N
    holdoff = holdoff or 0
    it = iter(outputs)
    for n in range(count):
        if (n + 1) % every:
            continue
        y = next(it)
        hist = (hist + [list(y)])[-N:]
        sums = [sum(h[k] for h in hist) for k in range(K)]
        m = len(hist)
        bi = int(np.argmax(sums))
        if threshold is None:
            calls.append(["c%d" % bi, bi, list(y) if N == 1 else [s // m for s in sums]])
        elif hold:
            hold -= 1
        elif Fraction(sums[bi], m) >= Fraction(threshold) / Fraction(scale) + zp and bi not in ignore:
            calls.append(["c%d" % bi, bi, sums[bi] // m])
            hold = holdoff
    return calls


@pytest.mark.parametrize("N, threshold, holdoff, every, ignore", [
    (None, None, None, 1, ()), (4, None, None, 1, ()), (3, None, None, 2, ()),
    (None, 0.75, 0, 1, ()), (3, 0.75, None, 1, ()), (5, 0.5, 2, 1, (1,)), (2, 0.9, 0, 3, ())])
def test_run_smoothing_threshold(N, threshold, holdoff, every, ignore):
    rng = np.random.default_rng(N or 0)
    K, count = 4, 60
    scale, zp = 1 / 256, -128
    # bursts: one class high for a few results, noise otherwise
    outs = []
    for i in range(count):
        y = rng.integers(-128, -60, K)
        if (i // 6) % 2:
            y[(i // 12) % K] = rng.integers(40, 127)
        outs.append(y.tolist())
    script = _FAKE_MODEL + (
        "m = FakeModel(%r, %d, %r, %d)\n"
        "n = run(m, source, on_result, every=%d, smoothing=%r, threshold=%r, count=%d, holdoff=%r, ignore=%r)\n"
        "import json\nprint(n)\nprint(json.dumps(calls))\n") % (
        [v for y in outs for v in y], K, scale, zp, every, N, threshold, count, holdoff, ignore)
    out = run(script, heapsize="2M").strip().splitlines()
    assert int(out[0]) == count
    want = _host_run(outs, N or 1, threshold, scale, zp, holdoff, every, count, ignore)
    assert json.loads(out[1]) == want
    if threshold is not None:
        assert 0 < len(want) < count // 2


def test_run_stops_on_keyboard_interrupt_and_end():
    script = _FAKE_MODEL + r"""
m = FakeModel([1, 2] * 100, 2, 1 / 256, -128)
k = [0]
def interrupted():
    k[0] += 1
    if k[0] == 8:
        raise KeyboardInterrupt
    return x
print(run(m, interrupted, on_result))
left = [5]
def finite():
    left[0] -= 1
    return x if left[0] >= 0 else None
print(run(m, finite, on_result))
class R:                            # filled, nothing yet, filled, ..., the end
    def __init__(self):
        self.n = 6
    def read_into(self, buf):
        self.n -= 1
        if self.n < 0:
            return None
        return len(buf) if self.n % 2 else 0
print(run(m, R(), on_result), len(calls))
"""
    assert run(script, heapsize="2M").split() == ["7", "5", "3", "15"]


# -- run() with a real model -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def imu_model():
    import genmodels
    from picoml import format
    from picoml.convert import convert
    path = genmodels.build_tflite("imu_gap", ROOT / "build" / "genmodels")
    model = convert(path.read_bytes(), "imu_gap", labels=["a", "b", "c", "d", "e", "f"], measure_tflm=False)
    return format.write(model)


_REAL = r"""
import gc, json, picoml
from array import array
from picoml.stream import Window, run

m = picoml.load(MODEL, backend=BACKEND)
src = array('h', json.load(open(DATA)))

class Reader:
    def __init__(self):
        self.p = 0
    def read_into(self, buf):
        n = len(buf)
        if n > len(src) - self.p:
            n = len(src) - self.p
        if not n:
            return None
        for k in range(n):
            buf[k] = src[self.p + k]
        self.p += n
        return n // 3

SCALES = (1 / 4096, 1 / 4096, 1 / 2048)
# the quantized inputs, for the host to run its reference on
w = Window(128, 3, 32, reader=Reader(), block=40)
for win in w.windows():
    print('X', json.dumps([b - 256 if b > 127 else b for b in w.window_into(m, SCALES)]))
# run(): every result, no smoothing
def show(label, index, scores):
    print('R', label, index, json.dumps(list(scores)))
n = run(m, Window(128, 3, 32, reader=Reader(), block=40), show, scale=SCALES)
print('N', n)
# allocation per window inside run(), with a quiet callback; the source wraps around
class Loop(Reader):
    def read_into(self, buf):
        if self.p + len(buf) > len(src):
            self.p = 0
        return Reader.read_into(self, buf)
hits = [0]
def quiet(label, index, score):
    hits[0] += 1
w = Window(128, 3, 32, reader=Loop(), block=40)
gc.collect()
gc.disable()
d = []
for cnt in (5, 10, 110):
    a = gc.mem_alloc()
    run(m, w, quiet, smoothing=3, threshold=0.0, count=cnt, scale=SCALES)
    d.append(gc.mem_alloc() - a)
gc.enable()
print('A', d[2] - d[1], hits[0], d[1])
"""


@pytest.mark.parametrize("backend", ["python", "native"])
def test_run_with_imu_model(imu_model, tmp_path, backend):
    from picoml import format, reference
    if backend == "native" and not (ROOT / "build" / "natmod" / "x64" / "_picoml.mpy").exists():
        pytest.skip("x64 native module not built")
    rng = np.random.default_rng(3)
    T = 128 + 32 * 7 + 5
    t = np.arange(T)
    frames = np.stack([4096 * np.sin(t / 9.0), 2000 * np.cos(t / 5.0), 1024 + 900 * np.sin(t / 3.0)], 1)
    frames = np.clip(frames + rng.normal(0, 300, frames.shape), -32768, 32767).astype(np.int16)
    (tmp_path / "m.pml").write_bytes(imu_model)
    (tmp_path / "d.json").write_text(json.dumps(frames.reshape(-1).tolist()))
    script = "MODEL = %r\nDATA = %r\nBACKEND = %r\n" % (str(tmp_path / "m.pml"), str(tmp_path / "d.json"),
                                                        backend) + _REAL
    out = run(script, heapsize="4M", natmod=backend == "native").splitlines()
    xs = [json.loads(line[2:]) for line in out if line.startswith("X ")]
    rs = [line.split(" ", 3) for line in out if line.startswith("R ")]
    model = format.read(imu_model)
    t_in = model.tensors[model.inputs[0].tensor]
    windows = expected_windows(frames, 128, 32)
    assert len(xs) == len(rs) == len(windows) == 8
    assert [line for line in out if line.startswith("N ")] == ["N 8"]
    for x, win, r in zip(xs, windows, rs):
        exact = quantize_window(win, t_in.scale, t_in.zero_point, [1 / 4096, 1 / 4096, 1 / 2048]).reshape(-1)
        assert np.abs(np.array(x) - exact).max() <= 1
        y = reference.run(model, [np.array(x, np.int8).reshape(t_in.shape)])[0].reshape(-1)
        assert json.loads(r[3]) == y.tolist()
        top = int(np.argmax(y))
        assert r[1:3] == ["abcdef"[top], str(top)]
    alloc = [line.split() for line in out if line.startswith("A ")][0]
    assert int(alloc[1]) == 0            # 100 more windows through run() allocate nothing more
    assert int(alloc[2]) > 0
    assert int(alloc[3]) < 2000          # run()'s own setup (its smoothing arrays, the bound reader)


def test_device_modules_compile_for_cortex_m4(tmp_path):
    for name in ("stream.py", "audio.py"):
        proc = subprocess.run([mpy_cross(), "-march=armv7emsp", "-o", str(tmp_path / (name + ".mpy")),
                               str(DEVICE / "picoml" / name)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


# -- the IMU drivers as readers, against their chip emulations -------------------------------------------

PARTS = ["LSM6DS3TR-C", "LSM6DSOX", "MPU-6050", "MPU-6886", "LSM9DS1", "BMI270"]
ODR = {"LSM6DS3TR-C": 104, "LSM6DSOX": 104, "MPU-6050": 100, "MPU-6886": 100, "LSM9DS1": 119, "BMI270": 100}
G = 9.80665


def played(n):
    """The motion every chip plays, sample n: [ax, ay, az] m/s^2, [gx, gy, gz] deg/s, each channel its own
    shape so that any exchange of channels shows."""
    return (0.5 * G * np.sin(2 * np.pi * n / 97), -0.25 * G + 0.01 * G * (n % 37), G + 0 * n,
            100.0 * np.sin(2 * np.pi * n / 53), -40.0 + 0 * n, 3.0 * (n % 29))


_DRIVER = r"""
import json, math
from array import array
from emulated_chips.chip import I2CBus
from emulated_chips import lsm6ds as E6, mpu6xxx as EM, lsm9ds1 as E9, bmi270 as EB
from picoml.sensors import open_imu
from picoml.stream import Window, run
import picoml

CHIPS = {"LSM6DS3TR-C": E6.LSM6DS3TRC, "LSM6DSOX": E6.LSM6DSOX, "MPU-6050": EM.MPU6050,
         "MPU-6886": EM.MPU6886, "LSM9DS1": E9.LSM9DS1, "BMI270": EB.BMI270}
G = 9.80665

def played(n, t):
    return (0.5 * G * math.sin(2 * math.pi * n / 97), -0.25 * G + 0.01 * G * (n % 37), G,
            100.0 * math.sin(2 * math.pi * n / 53), -40.0, 3.0 * (n % 29))

class SteppedBus(I2CBus):
    # simulated time: every transaction advances the chip's clock by STEP us, so the FIFO is empty at most reads
    def _chip(self, addr):
        self.advance_us(STEP)
        return I2CBus._chip(self, addr)

def board():
    chip = CHIPS[PART](source=played)
    extra = {"config": bytes(8192)} if PART == "BMI270" else {}
    imu = open_imu(PART, SteppedBus(chip), odr=ODR, **extra)
    return chip, imu

class Counting:
    # the driver as reader, counting the reads that found the FIFO empty
    def __init__(self, imu):
        self.imu = imu
        self.channels = imu.channels
        self.empty = 0
    def read_into(self, buf):
        n = self.imu.read_into(buf)
        if n == 0:
            self.empty += 1
        return n

chip, imu = board()
reader = Counting(imu)
w = Window(128, 6, 32, reader=reader, block=BLOCK)
wins = []
for win in w.windows():
    wins.append(list(win))
    if len(wins) == 5:
        break
print(json.dumps({"windows": wins, "generated": [list(x) for x in chip.generated], "empty": reader.empty,
                  "accel_scale": imu.accel_scale, "gyro_scale": imu.gyro_scale, "overruns": imu.overruns,
                  "dropped": w.dropped, "done": w.windows_done}))

# run() with the driver itself as the reader: what predict got, what run() reported
chip, imu = board()
m = picoml.load(MODEL, backend=BACKEND)
class Spy:
    def __init__(self, m):
        self.m = m
        self.labels = m.labels
        self.inputs = m.inputs
        self.outputs = m.outputs
        self.xs = []
    def predict(self, x):
        self.xs.append([b - 256 if b > 127 else b for b in x])
        return self.m.predict(x)
spy = Spy(m)
a = imu.accel_scale / G
g = imu.gyro_scale / 100
scales = (a, a, a, g, g, g)
results = []
def show(label, index, scores):
    results.append([label, index, list(scores)])
w = Window(128, 6, 32, reader=imu, block=BLOCK)
n = run(spy, w, show, count=4, scale=scales)
print(json.dumps({"n": n, "xs": spy.xs, "results": results, "generated": [list(x) for x in chip.generated],
                  "scales": list(scales), "overruns": imu.overruns}))
"""


@pytest.fixture(scope="module")
def imu6_model():
    import genmodels
    from picoml import format
    from picoml.convert import convert
    path = genmodels.build_tflite("imu6_gap", ROOT / "build" / "genmodels")
    model = convert(path.read_bytes(), "imu6_gap", labels=["idle", "wave", "circle", "punch", "shake"],
                    measure_tflm=False)
    return format.write(model)


@pytest.mark.parametrize("part", PARTS)
def test_window_and_run_with_each_imu_driver(part, imu6_model, tmp_path):
    """Window(128, 6, 32, reader=imu) and run() with picoml's own driver reading its emulated chip's FIFO: the
    FIFO is empty at most reads (the chip's clock advances 300 us per I2C transaction), the windows are the
    frames the chip played, channel by channel, and run() gives the reference's scores on them."""
    from picoml import format, reference
    (tmp_path / "m.pml").write_bytes(imu6_model)
    block = 7 if part == "LSM9DS1" else 20          # frames per read: windows straddle reads
    script = ("PART = %r\nODR = %d\nSTEP = 300\nBLOCK = %d\nMODEL = %r\nBACKEND = 'native'\n"
              % (part, ODR[part], block, str(tmp_path / "m.pml"))) + _DRIVER
    out = run(script, heapsize="4M", natmod=True, hardware=True).strip().splitlines()
    first, second = json.loads(out[-2]), json.loads(out[-1])

    # the windows: overlapping, hop 32, of the frames the chip put into its FIFO, in order
    gen = np.array(first["generated"])
    assert len(first["windows"]) == 5 and first["empty"] > 100 and first["overruns"] == 0
    assert first["dropped"] == 0 and first["done"] == 5
    for k, win in enumerate(first["windows"]):
        assert np.array_equal(np.array(win).reshape(128, 6), gen[32 * k:32 * k + 128]), k
    # channel order against the motion played: counts times the driver's scale are the played values
    frames = np.array(first["windows"][0]).reshape(128, 6)
    lsb = np.array([first["accel_scale"]] * 3 + [first["gyro_scale"]] * 3)
    physical = frames * lsb
    n0 = [n for n in range(400) if np.all(np.abs(np.array(played(n)) - physical[0]) <= 0.51 * lsb)]
    assert len(n0) == 1, n0                     # the first frame is one sample of the motion, and only one
    want = np.stack(played(np.arange(n0[0], n0[0] + 128)), 1)
    assert np.all(np.abs(physical - want) <= 0.51 * lsb + 1e-9), part

    # run(): 4 windows, each quantized into the model's input and scored as the reference does
    model = format.read(imu6_model)
    t_in = model.tensors[model.inputs[0].tensor]
    gen = np.array(second["generated"])
    assert second["n"] == 4 and len(second["xs"]) == len(second["results"]) == 4 and second["overruns"] == 0
    for k, (x, (label, index, scores)) in enumerate(zip(second["xs"], second["results"])):
        exact = quantize_window(gen[32 * k:32 * k + 128], t_in.scale, t_in.zero_point, second["scales"])
        assert np.abs(np.array(x) - exact.reshape(-1)).max() <= 1
        assert len(set(x)) > 20                     # not saturated: the comparison means something
        y = reference.run(model, [np.array(x, np.int8).reshape(t_in.shape)])[0].reshape(-1)
        assert scores == y.tolist()
        assert index == int(np.argmax(y)) and label == ["idle", "wave", "circle", "punch", "shake"][index]


_EMPTY = r"""
import json
from array import array
from picoml.stream import Window
C = 6
src = array('h', [(k * 7919) % 4001 - 2000 for k in range(C * 700)])
class Reader:
    # whole frames from src, `pattern` frames per call in turn (0: nothing ready yet), None at the end
    def __init__(self, pattern):
        self.pattern = pattern
        self.i = 0
        self.p = 0
        self.zeros = 0
    def read_into(self, buf):
        if self.p == len(src):
            return None
        n = self.pattern[self.i % len(self.pattern)]
        self.i += 1
        n = min(n, len(buf) // C, (len(src) - self.p) // C)
        if n == 0:
            self.zeros += 1
        for k in range(n * C):
            buf[k] = src[self.p + k]
        self.p += n * C
        return n
res = []
for pattern in ([50], [0, 0, 3, 0, 17, 0, 0, 0, 1, 40], [0] * 30 + [64]):
    r = Reader(pattern)
    w = Window(128, C, 32, reader=r, block=64)
    res.append([[list(x) for x in w.windows()], r.zeros])
print(json.dumps(res))
"""


def test_window_waits_through_empty_reads():
    """A reader with nothing ready (0) is asked again; only None ends the stream: the same windows whatever
    the pattern of empty and short reads."""
    from emulated_audio import expected_windows
    res = json.loads(run(_EMPTY, heapsize="4M").strip().splitlines()[-1])
    src = np.array([(k * 7919) % 4001 - 2000 for k in range(6 * 700)]).reshape(700, 6)
    want = [w.reshape(-1).tolist() for w in expected_windows(src, 128, 32)]
    assert len(want) == 18
    for (windows, zeros), min_zeros in zip(res, (0, 50, 300)):
        assert windows == want
        assert zeros >= min_zeros


def test_a_reader_with_other_channels_is_refused():
    out = run(r"""
from picoml.stream import Window
class Six:
    channels = 6
    def read_into(self, buf):
        return 0
try:
    Window(128, 3, 32, reader=Six())
except ValueError as e:
    print(e)
""", heapsize="1M")
    assert "the reader gives 6 channels per frame, the Window has 3" in out


_MISUSE = r"""
import json
from array import array
from picoml.stream import Window, run

got = {}


def attempt(name, f):
    try:
        got[name] = f()
    except Exception as e:
        got[name] = [type(e).__name__, str(e)]


def numbers_into_three_channels():
    w = Window(4, channels=3)
    return [w.push(1) for _ in range(12)]


class Model:                # what window_into and run read of a model: one int8 input of 6 values, one output
    IO = None
    def __init__(self):
        io = type("IO", (), {})()
        io.size, io.scale, io.zero_point = 6, 0.5, 0
        out = type("IO", (), {})()
        out.size, out.scale, out.zero_point = 2, 1 / 256, -128
        self.inputs, self.outputs, self.labels = [io], [out], None
    def predict(self, x):
        return array("b", [x[0], 0])


m = Model()
attempt("number_into_3_channels", numbers_into_three_channels)
attempt("short_frame", lambda: Window(4, channels=3).push((1, 2)))
attempt("long_frame", lambda: Window(4, channels=3).push((1, 2, 3, 4)))
attempt("none_frame", lambda: Window(4).push(None))
attempt("float_length", lambda: Window(128.0))
w = Window(4)
for k in range(4):
    w.push(k)
attempt("window_into_first", lambda: len(w.window_into(m)))
attempt("window_into_again", lambda: len(w.window_into(m)))
attempt("in_scale_0", lambda: Window(6).quantize_into(bytearray(6), 0, 0))
from picoml.recording import SyntheticFifo
attempt("block_0", lambda: Window(8, 3, 4, reader=SyntheticFifo(3, rate=100000), block=0).next())
attempt("smoothing_negative", lambda: run(m, lambda: bytes(6), print, count=2, smoothing=-1))
attempt("smoothing_float", lambda: run(m, lambda: bytes(6), print, count=2, smoothing=2.5))
fired = []
attempt("ignore_int", lambda: run(m, lambda: b"\x7f" + bytes(5), lambda *a: fired.append(a[1]), count=3,
                                  threshold=0.1, ignore=0))
got["fired"] = fired
print(json.dumps(got))
"""


def test_misuse_is_refused_by_name():
    """Mistakes a new user makes with Window and run, each refused naming what was wrong (found at the REPL): a
    number pushed into a 3-channel Window used to fill one value of a frame (every later frame shifted, no error);
    a frame of the wrong length filled part of one (IndexError) or was cut short silently; window_into with a model
    of another input size refused once, then returned the Window's 4-value buffer; in_scale 0 raised
    ZeroDivisionError; smoothing=-1 an empty ValueError, 2.5 "'float' object isn't iterable"; ignore=0 (one class)
    "unsupported types for : 'int', 'int'" (it now means (0,))."""
    r = json.loads(run(_MISUSE, heapsize="1M", timeout=60).strip().splitlines()[-1])
    frame = "picoml: Window.push takes a frame of 3 int16 values (a tuple, list or array), not "
    assert r["number_into_3_channels"] == ["ValueError", frame + "1"]
    assert r["short_frame"] == ["ValueError", frame + "(1, 2)"]
    assert r["long_frame"] == ["ValueError", frame + "(1, 2, 3, 4)"]
    assert r["none_frame"] == ["ValueError", "picoml: Window.push takes a frame of 1 int16 values (a number), not None"]
    assert r["float_length"][0] == "ValueError" and "whole numbers >= 1, not 128.0" in r["float_length"][1]
    mismatch = ["ValueError", "picoml: the model takes 6 input values, the window has 4"]
    assert r["window_into_first"] == r["window_into_again"] == mismatch
    assert r["in_scale_0"] == ["ValueError", "picoml: in_scale must be > 0 (the model input's scale), not 0"]
    # (next() asked read_into(an empty block) for ever: it answers 0 frames, "none ready yet")
    assert r["block_0"] == ["ValueError", "picoml: a Window's reader block is a number of frames >= 1, not 0"]
    assert r["smoothing_negative"] == ["ValueError", "picoml: run's smoothing is a number of results >= 1 (or None), "
                                                     "not -1"]
    assert r["smoothing_float"][0] == "ValueError" and "not 2.5" in r["smoothing_float"][1]
    assert r["ignore_int"] == 3 and r["fired"] == []    # class 0 tops every result, and is ignored
