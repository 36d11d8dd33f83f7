"""picoml.audio (device/picoml/audio.py) in the MicroPython unix port: WavSource against numpy/`wave` on the
host (sample-exact, real-time pacing with a fake clock), the RIFF parser's corner cases, and the I2S / PDM
microphone paths against EMULATED machine.I2S / audiobusio.PDMIn objects (tests/emulated_audio.py) -- no
hardware: these check the driver calls and the sample-format conversions, not the drivers."""
import json

import numpy as np
import pytest

from conftest import CONFORMANCE, ROOT
from emulated_audio import (FAKE_AUDIOBUSIO, FAKE_CLOCK, FAKE_MACHINE, expected_windows, inmp441_slots,
                            inmp441_to_int16, read_wav, write_wav)
from picoml.runtimes.unix import UnixPortError, run_script as run

YES = CONFORMANCE / "micro_speech" / "yes_1000ms.wav"


def board(name):
    """A board definition from boards/<name>.json (written by the boards work), as the device gets it."""
    return json.loads((ROOT / "boards" / (name + ".json")).read_text())

_DUMP = r"""
from array import array
from picoml.audio import WavSource
""" + FAKE_CLOCK + r"""
clock = FakeClock()
src = WavSource(PATH, clock=clock)
buf = array('h', bytes(2 * BLOCK))
out = open(OUT, 'wb')
reads = 0
while True:
    n = src.read_into(buf)
    if not n:
        break
    reads += 1
    out.write(memoryview(buf)[0:n])
    assert clock.now - 1000 == src.position // src.channels * 1000000 // src.rate, (clock.now, src.position)
out.close()
print(src.rate, src.channels, src.frames, src.position, reads, clock.slept, clock.sleeps)
"""


@pytest.mark.conformance
@pytest.mark.parametrize("block", [512, 333, 16000, 20000])
def test_wav_source_reads_yes_sample_exact(tmp_path, block):
    rate, channels, want = read_wav(YES)
    assert (rate, channels, len(want)) == (16000, 1, 16000)
    out = run("PATH = %r\nOUT = %r\nBLOCK = %d\n" % (str(YES), str(tmp_path / "o.raw"), block) + _DUMP,
              heapsize="1M")
    r, c, frames, pos, reads, slept, sleeps = [int(v) for v in out.split()]
    assert (r, c, frames, pos) == (16000, 1, 16000, 16000)
    got = np.frombuffer((tmp_path / "o.raw").read_bytes(), "<i2")
    np.testing.assert_array_equal(got, want[:, 0])
    assert reads == -(-16000 // block)
    # paced at the real rate: 1 s of audio took exactly 1 s of (fake) time, spent sleeping, no drift
    assert slept == 1000000 and sleeps == reads


@pytest.mark.conformance
def test_wav_source_pacing_counts_compute_time():
    """Time spent between reads is not slept again: with 50 us per ticks_us call the sleeps shrink, the total
    stays 1 s, and realtime=False never touches the clock."""
    script = r"""
from array import array
from picoml.audio import WavSource
""" + FAKE_CLOCK + r"""
clock = FakeClock(step=50)
src = WavSource(PATH, clock=clock)
buf = array('h', bytes(2 * 320))
while src.read_into(buf):
    pass
fast = WavSource(PATH, clock=FakeClock(), realtime=False)
n = 0
while True:
    k = fast.read_into(buf)
    if not k:
        break
    n += k
print(clock.now - 1000 - 50, clock.slept, n, fast._clock.now)
"""
    end, slept, n, untouched = [int(v) for v in run("PATH = %r\n" % str(YES) + script, heapsize="1M").split()]
    assert end == 1000000                   # the last sample is delivered at t0 + 1 s
    assert 1000000 - 50 * 100 <= slept < 1000000
    assert n == 16000 and untouched == 1000


@pytest.mark.conformance
def test_wav_source_into_window_matches_numpy():
    script = r"""
import json
from picoml.audio import WavSource
from picoml.stream import Window
""" + FAKE_CLOCK + r"""
w = Window(4000, 1, 1600, reader=WavSource(PATH, clock=FakeClock()), block=512)
for win in w.windows():
    print(json.dumps(list(win)))
"""
    lines = run("PATH = %r\n" % str(YES) + script, heapsize="1M").strip().splitlines()
    want = expected_windows(read_wav(YES)[2][:, 0], 4000, 1600)
    assert len(lines) == len(want) == 8
    for line, w in zip(lines, want):
        assert json.loads(line) == w.tolist()


@pytest.mark.conformance
def test_wav_source_no_allocation_per_block():
    script = r"""
import gc
from array import array
from picoml.audio import WavSource
from picoml.stream import Window
""" + FAKE_CLOCK + r"""
clock = FakeClock()
w = Window(1600, 1, 320, reader=WavSource(PATH, clock=clock), block=256)
w.next()
gc.collect()
gc.disable()
for count in (3, 30):           # the first measurement also counts one-time costs (first shift, first mem_alloc)
    a = gc.mem_alloc()
    n = 0
    while n < count and w.next() is not None:
        n += 1
    d = gc.mem_alloc() - a
print(n, d)
"""
    n, delta = [int(v) for v in run("PATH = %r\n" % str(YES) + script, heapsize="1M").split()]
    assert n == 30 and delta == 0


_PARSE = r"""
from array import array
from picoml.audio import WavSource
try:
    s = WavSource(PATH, realtime=False)
    buf = array('h', bytes(2 * 1000))
    vals = []
    while True:
        n = s.read_into(buf)
        if not n:
            break
        vals.extend(buf[:n * s.channels])
    print('OK', s.rate, s.channels, s.frames, ' '.join([str(v) for v in vals]))
except ValueError as e:
    print('ERR', e)
"""


def _parse(tmp_path, **kw):
    path = tmp_path / "t.wav"
    write_wav(path, **kw)
    return run("PATH = %r\n" % str(path) + _PARSE, heapsize="1M").strip()


def test_wav_parser_chunks_and_formats(tmp_path):
    rng = np.random.default_rng(5)
    s = rng.integers(-32768, 32768, 777)
    # a LIST chunk of odd size before data (pad byte), a 48 kHz rate, and stereo interleaving
    out = _parse(tmp_path, samples=s, rate=48000, extra_chunks=[(b"LIST", b"INFOabc"), (b"junk", b"")])
    assert out.split()[:4] == ["OK", "48000", "1", "777"]
    assert [int(v) for v in out.split()[4:]] == s.tolist()
    st = rng.integers(-32768, 32768, (300, 2))
    out = _parse(tmp_path, samples=st, channels=2)
    assert out.split()[:4] == ["OK", "16000", "2", "300"]
    assert [int(v) for v in out.split()[4:]] == st.reshape(-1).tolist()
    out = _parse(tmp_path, samples=s[:10], extensible=True)
    assert out.split()[:4] == ["OK", "16000", "1", "10"]
    # refused with a clear ValueError
    assert _parse(tmp_path, samples=list(range(10)), bits=8).startswith("ERR picoml.audio: WAV must be 16-bit PCM")
    assert _parse(tmp_path, samples=s[:10], tag=3).startswith("ERR picoml.audio: WAV must be 16-bit PCM")
    (tmp_path / "t.wav").write_bytes(b"RIFX" + bytes(40))
    assert run("PATH = %r\n" % str(tmp_path / "t.wav") + _PARSE).strip() == "ERR picoml.audio: not a RIFF/WAVE file"
    # damaged: a rate of 0 (which paced reads would divide by), a fmt chunk's size of 4 GB (one huge read before)
    assert _parse(tmp_path, samples=s[:10], rate=0) == "ERR picoml.audio: WAV with 1 channels at 0 Hz"
    path = tmp_path / "t.wav"
    write_wav(path, samples=s[:10])
    blob = bytearray(path.read_bytes())
    assert blob[12:16] == b"fmt "
    blob[16:20] = b"\xf0\xff\xff\xff"
    path.write_bytes(bytes(blob))
    assert run("PATH = %r\n" % str(path) + _PARSE, heapsize="1M").strip() == \
        "ERR picoml.audio: WAV file without a data chunk"


# -- microphones, against emulated drivers ----------------------------------------------------------------

_I2S = FAKE_MACHINE + r"""
from array import array
from picoml.audio import Microphone, I2SMic
mic = Microphone.from_board(BOARD, block=256, runtime_name='micropython')
assert isinstance(mic, I2SMic)
assert mic.channels == 1     # (the stub said so; the class had none: a reader's channels, for Window and record)
buf = array('h', bytes(2 * 300))
out = []
while True:
    n = mic.read_into(buf)
    if not n:
        break
    out.extend(buf[:n])
print(I2S.made[0].config)
print(' '.join([str(v) for v in out]))
"""


@pytest.mark.parametrize("shift", [16, 14, 8])
def test_i2s_inmp441_32bit_emulated(tmp_path, shift):
    rng = np.random.default_rng(shift)
    s24 = np.concatenate([[-(1 << 23), (1 << 23) - 1, 0, -1, 1, 255, 256, -256],
                          rng.integers(-(1 << 23), 1 << 23, 1000), rng.integers(-3000, 3000, 500)])
    (tmp_path / "slots.bin").write_bytes(inmp441_slots(s24))
    b = board("esp32_devkit_mpu6050_inmp441")      # INMP441 on GPIO32/25/33
    b["mic"]["shift"] = shift
    out = run("DATA = %r\nBOARD = %r\n" % (str(tmp_path / "slots.bin"), b) + _I2S, heapsize="1M")
    config, samples = out.strip().split("\n")
    assert config == "(0, 32, 25, 33, 32, 16000, 8192)"
    assert [int(v) for v in samples.split()] == inmp441_to_int16(s24, shift).tolist()


def test_i2s_16bit_emulated(tmp_path):
    s = np.random.default_rng(2).integers(-32768, 32768, 700)
    (tmp_path / "s.bin").write_bytes(s.astype("<i2").tobytes())
    board = {"mic": {"type": "i2s", "sck": 0, "ws": 1, "sd": 2, "bits": 16}}
    out = run("DATA = %r\nBOARD = %r\n" % (str(tmp_path / "s.bin"), board) + _I2S, heapsize="1M")
    config, samples = out.strip().split("\n")
    assert config == "(0, 0, 1, 2, 16, 16000, 8192)"
    assert [int(v) for v in samples.split()] == s.tolist()


def test_pdm_circuitpython_emulated(tmp_path):
    s = np.random.default_rng(4).integers(-32768, 32768, 900)
    (tmp_path / "p.bin").write_bytes((s + 32768).astype("<u2").tobytes())     # offset binary, as record() gives
    script = FAKE_AUDIOBUSIO + r"""
from array import array
from picoml.audio import Microphone, PDMMic
mic = Microphone.from_board(BOARD, block=200, runtime_name='circuitpython')
assert isinstance(mic, PDMMic)
assert mic.channels == 1
buf = array('h', bytes(2 * 128))
out = []
while True:
    n = mic.read_into(buf)
    if not n:
        break
    out.extend(buf[:n])
print(PDMIn.made[0].pins, [(d.pin, d.value) for d in DigitalInOut.made])
print(' '.join([str(v) for v in out]))
"""
    b = board("seeed_xiao_nrf52840_sense")          # PDM clk P1.00, data P0.16, mic power P1.10
    out = run("DATA = %r\nBOARD = %r\n" % (str(tmp_path / "p.bin"), b) + script, heapsize="1M")
    pins, samples = out.strip().split("\n")
    assert pins == "('pin:P1_00', 'pin:P0_16') [('pin:P1_10', True)]"
    assert [int(v) for v in samples.split()] == s.tolist()


def test_unsupported_combinations_say_so():
    script = "XIAO = %r\nCONNECT = %r\nPICO = %r\n" % (
        board("seeed_xiao_nrf52840_sense"), board("arduino_nano_rp2040_connect"), board("rpi_pico_mpu6050_inmp441"))
    script += r"""
from picoml.audio import Microphone
for board, rt in [(XIAO, 'micropython'), (CONNECT, 'micropython'), (PICO, 'circuitpython'),
                  ({'mic': {'interface': 'analog'}}, 'micropython'),
                  ({'name': 'x'}, 'micropython')]:
    try:
        Microphone.from_board(board, runtime_name=rt)
        print('no error')
    except NotImplementedError as e:
        print('NotImplementedError', e)
    except ValueError as e:
        print('ValueError', e)
"""
    lines = run(script, heapsize="1M").strip().split("\n")
    for line, mcu in zip(lines[:2], ("nRF52840", "RP2040")):
        assert line.startswith("NotImplementedError picoml.audio: ")
        assert mcu in line and "has a PDM microphone, and MicroPython has no PDM microphone driver" in line
        assert "Use CircuitPython" in line and "audiobusio.PDMIn" in line
    assert lines[2].startswith("NotImplementedError picoml.audio: CircuitPython has no I2S microphone input on ")
    assert "RP2040" in lines[2] and "machine.I2S" in lines[2]
    assert lines[3].startswith("ValueError picoml.audio: unknown microphone interface 'analog'")
    assert lines[4].startswith("ValueError picoml.audio: unknown microphone interface None")


@pytest.mark.conformance
def test_wav_board_on_the_virtual_board():
    script = r"""
from array import array
from picoml.audio import Microphone, WavSource
mic = Microphone.from_board({'mic': {'interface': 'wav', 'path': PATH}})
assert isinstance(mic, WavSource) and mic.realtime
mic.realtime = False
buf = array('h', bytes(2 * 4))
mic.read_into(buf)
print(list(buf))
"""
    out = run("PATH = %r\n" % str(YES) + script, heapsize="1M").strip()
    assert out == str(read_wav(YES)[2][:4, 0].tolist())


def test_a_wav_board_refuses_a_file_the_microphone_does_not_give(tmp_path):
    """A board's WAV at another rate or in stereo: a ValueError naming the file (not samples read at the wrong rate
    or interleaved)."""
    script = r"""
from picoml.audio import Microphone
for path in PATHS:
    try:
        Microphone.from_board({'mic': {'interface': 'wav', 'path': path}})
        print('OK')
    except ValueError as e:
        print(e)
"""
    paths = [str(tmp_path / name) for name in ("44k.wav", "stereo.wav", "ok.wav")]
    write_wav(paths[0], samples=np.zeros(10), rate=44100)
    write_wav(paths[1], samples=np.zeros((10, 2)), channels=2)
    write_wav(paths[2], samples=np.zeros(10))
    lines = run("PATHS = %r\n" % paths + script, heapsize="1M").strip().splitlines()
    assert lines[0] == ("picoml.audio: %s is 44100 Hz with 1 channel(s); the microphone gives 16000 Hz mono 16-bit "
                        "PCM (convert it, e.g. `sox IN -r 16000 -c 1 -b 16 OUT.wav`)" % paths[0])
    assert lines[1].startswith("picoml.audio: %s is 16000 Hz with 2 channel(s)" % paths[1])
    assert lines[2] == "OK"


def test_microphone_error_needs_no_driver():
    """The MicroPython unix port has no machine.I2S: an I2S board there fails with ImportError, not silently."""
    with pytest.raises(UnixPortError, match="ImportError"):
        run("from picoml.audio import Microphone\n"
            "Microphone.from_board({'mic': {'interface': 'i2s', 'sck': 0, 'ws': 1, 'sd': 2}})\n", heapsize="1M")


def test_i2s_32bit_no_allocation_per_block(tmp_path):
    s24 = np.random.default_rng(9).integers(-(1 << 23), 1 << 23, 256 * 40)
    (tmp_path / "slots.bin").write_bytes(inmp441_slots(s24))
    script = FAKE_MACHINE + r"""
import gc
from array import array
from picoml.audio import Microphone
mic = Microphone.from_board(BOARD, block=256, runtime_name='micropython')
buf = array('h', bytes(2 * 256))
mic.read_into(buf)
gc.collect()
gc.disable()
for count in (2, 30):
    a = gc.mem_alloc()
    for k in range(count):
        assert mic.read_into(buf) == 256
    d = gc.mem_alloc() - a
print(d)
"""
    b = board("rpi_pico_mpu6050_inmp441")
    assert run("DATA = %r\nBOARD = %r\n" % (str(tmp_path / "slots.bin"), b) + script, heapsize="1M").strip() == "0"


def test_wav_source_misuse_is_refused_by_name(tmp_path):
    """WavSource at the REPL (a new-user audit): read_into(array('f', 100 values)) read 400 bytes of samples into
    it and answered 200 frames (more than the buffer holds: a Window then read past its block); bytes or a list,
    "object with buffer protocol required"; a missing file, OSError without its name. Microphone.from_board took a
    board's name for a board without a microphone. Each now says what it takes."""
    write_wav(tmp_path / "a.wav", np.arange(1000))
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "mine.json").write_text(json.dumps(dict(board("virtual"), mic={
        "interface": "wav", "path": str(tmp_path / "a.wav")})))
    out = run(r"""
import json
from array import array
from picoml.audio import Microphone, WavSource
got = {}
w = WavSource(PATH + "/a.wav", realtime=False)
for name, f in (("floats", lambda: w.read_into(array("f", [0] * 100))), ("bytes", lambda: w.read_into(bytes(10))),
                ("list", lambda: w.read_into([0] * 10)), ("missing", lambda: WavSource(PATH + "/nope.wav")),
                ("good", lambda: w.read_into(array("h", [0] * 100))),
                ("board_name", lambda: Microphone.from_board("mine").read_into(array("h", [0] * 3)))):
    try:
        got[name] = f()
    except Exception as e:
        got[name] = [type(e).__name__, str(e)]
print(json.dumps(got))
""".replace("PATH", repr(str(tmp_path))), heapsize="1M", cwd=str(tmp_path))
    r = json.loads(out.strip().splitlines()[-1])
    for name, kind in (("floats", "array"), ("bytes", "bytes"), ("list", "list")):
        assert r[name] == ["TypeError", "picoml: WavSource.read_into takes an array('h') (int16 samples), not %s"
                           % kind], r[name]
    assert r["missing"] == ["OSError", "[Errno 2] ENOENT: picoml.audio: cannot open the WAV file %s/nope.wav"
                            % tmp_path]
    assert r["good"] == 100 and r["board_name"] == 3
