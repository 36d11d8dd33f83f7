"""The audio front-end on the device side: its C kernels (through ctypes, and built with AddressSanitizer/UBSan and
the Cortex-M0 arithmetic), the native module, viper and pure-Python backends in MicroPython's unix port and on the
emulated Cortex-M4, and picoml.audio.Frontend fed blocks of any size -- byte for byte TFLite Micro's features on
every frame of the four shared clips and of 56 synthesized ones, the state reset at each clip's start.

The expected features are TFLite Micro's runtime's (PyPI tflite-micro) for the synthesized clips and the shared
*.features_int8.npy for the shared ones (test_signal.py holds the numpy reference to the same)."""
import ctypes
import json
import math
import os
import subprocess
import sys
import wave

import numpy as np
import pytest

from conftest import CONFORMANCE, ROOT
from picoml import format
from picoml.convert import convert
from picoml.ops import signal
from picoml.oracle import Oracle
from picoml.runtimes import c as c_runtime
from picoml.runtimes import qemu, unix

FRONTEND = ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite"
MICRO_SPEECH = CONFORMANCE / "micro_speech"
FRAME, HOP, WIDTH = 480, 320, 40
CHUNKS = (1, 7, 160, 320, 333, 512, 1000)      # microphone blocks of any size, cycled through


def read_wav(path):
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)


def frames(samples):
    return [samples[i:i + FRAME] for i in range(0, len(samples) - FRAME + 1, HOP)]


@pytest.fixture(scope="module")
def pml():
    return format.write(convert(FRONTEND.read_bytes(), FRONTEND.name, measure_tflm=False))


@pytest.fixture(scope="module")
def clips():
    """[(name, int16 samples, TFLite Micro's int8 features [frames, 40])]: the shared clips, then synthesized ones."""
    out = []
    for path in sorted(MICRO_SPEECH.glob("*.wav")):
        out.append((path.stem, read_wav(path), np.load(path.with_name(path.stem + ".features_int8.npy"))
                    .reshape(-1, WIDTH)))
    from test_signal import synthesized_clips
    oracle = Oracle(FRONTEND.read_bytes())
    for name, samples in synthesized_clips():
        oracle.reset()
        expected = [oracle.run([f.reshape(1, FRAME)])[0] for f in frames(samples)]
        out.append((name, samples, np.array(expected, np.int8).reshape(-1, WIDTH)))
    return out


def test_the_clips(clips):
    assert sum(1 for name, _, _ in clips if name.endswith("1000ms")) == 4
    assert len(clips) - 6 >= 50
    assert sum(len(f) for _, _, f in clips) > 1400     # frames compared


# -- the C kernels ------------------------------------------------------------------------------------------------

def run_c(lib, blob, samples):
    loaded = c_runtime.CRuntime(blob, lib)      # a fresh arena: the state at zero
    return np.array([loaded.run([f.reshape(1, FRAME)])[0] for f in frames(samples)]).reshape(-1, WIDTH)


# the host build of the kernels, and of their Cortex-M4 code paths (SIMD32 in portable C: fft.c's butterflies)
LIBRARIES = ["libpicoml.so", "libpicoml_m4.so"]


@pytest.mark.parametrize("library", LIBRARIES)
def test_c_kernels_give_tflite_micros_features(pml, clips, library):
    lib = c_runtime.load(library)
    for name, samples, expected in clips:
        assert np.array_equal(run_c(lib, pml, samples), expected), name


def _p(a):
    return a.ctypes.data_as(ctypes.c_void_p)


class SpectralSubtraction(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("smoothing", "one_minus_smoothing", "alternate_smoothing",
                                                "alternate_one_minus_smoothing", "min_signal_remaining")] + \
               [(n, ctypes.c_int32) for n in ("smoothing_bits", "spectral_subtraction_bits", "clamping")]


def edgy16(rng, n, scale=None):
    """int16 values with the extremes (-32768, 32767, 0) mixed in."""
    scale = scale or int(rng.choice([3, 300, 30000, 40000]))
    x = np.clip(rng.normal(0, scale, n), -32768, 32767).astype(np.int16)
    k = max(1, n // 20)
    x[rng.integers(0, n, k)] = rng.choice([-32768, 32767, 0, -1, 1], k)
    return x


def check_kernels(lib, seed, cases):
    """Each signal kernel of native_module/ (called as a plain C function) against the numpy reference
    (picoml.ops.signal) on random inputs and options, extreme values included."""
    rng = np.random.default_rng(seed)
    for case in range(cases):
        n = int(rng.integers(1, 600))
        x = edgy16(rng, n)
        w = edgy16(rng, n)
        shift = int(rng.integers(0, 32))
        y = np.zeros(n, np.int16)
        lib.pml_signal_window(_p(x), _p(w), n, shift, _p(y))
        assert np.array_equal(y, signal.window(x, w, shift)), ("window", case)

        if case % 4 == 0:
            x[rng.integers(0, n)] = -32768          # MaxAbs16's wraparound
        y = np.zeros(n, np.int16)
        bits = lib.pml_signal_fft_auto_scale(_p(x), n, _p(y))
        want, want_bits = signal.fft_auto_scale(x)
        assert bits == want_bits and np.array_equal(y, want), ("fft_auto_scale", case)

        fft_length = 1 << int(rng.integers(2, 11))
        n_in = int(rng.integers(1, fft_length + 1))
        x = edgy16(rng, n_in)
        tw, sup = signal.rfft_twiddles(fft_length)
        tw, sup = np.ascontiguousarray(tw), np.ascontiguousarray(sup)
        y = np.zeros(fft_length + 2, np.int16)
        lib.pml_signal_rfft_q15(_p(x), n_in, fft_length, _p(tw), _p(sup), _p(y))
        assert np.array_equal(y, signal.rfft(x, fft_length, tw, sup)), ("rfft", fft_length, n_in, case)

        bins = int(rng.integers(1, 300))
        spectrum = edgy16(rng, 2 * bins)
        start = int(rng.integers(0, bins + 1))
        end = int(rng.integers(start, bins + 1))
        e = np.full(bins, 7, np.uint32)
        lib.pml_signal_energy(_p(spectrum), bins, start, end, _p(e))
        assert np.array_equal(e, signal.energy(spectrum, start, end, bins)), ("energy", case)

        channels = int(rng.integers(1, 48))
        widths = rng.integers(0, 12, channels + 1).astype(np.int16)
        n_bins = int(widths.max()) + int(rng.integers(1, 60))
        freq = np.array([rng.integers(0, n_bins - wd + 1) for wd in widths], np.int16)
        n_weights = int(widths.sum()) + 3
        wstart = np.array([rng.integers(0, n_weights - wd + 1) for wd in widths], np.int16)
        weights, unweights = edgy16(rng, n_weights), edgy16(rng, n_weights)
        power = rng.integers(0, 1 << 32, n_bins, dtype=np.uint64).astype(np.uint32)
        fb = np.zeros(channels, np.uint64)
        lib.pml_signal_filter_bank(_p(power), _p(weights), _p(unweights), _p(freq), _p(wstart), _p(widths), channels,
                                   _p(fb))
        assert np.array_equal(fb, signal.filter_bank(power, weights, unweights, freq, wstart, widths)), \
            ("filter_bank", case)

        big = rng.integers(0, 1 << 63, channels, dtype=np.uint64) >> rng.integers(0, 64, channels).astype(np.uint64)
        scale_bits = int(rng.integers(-3, 40))
        root = np.zeros(channels, np.uint32)
        lib.pml_signal_filter_bank_sqrt(_p(big), channels, scale_bits, _p(root))
        assert np.array_equal(root, signal.filter_bank_square_root(big, scale_bits)), ("sqrt", case)

        o = dict(smoothing=int(rng.integers(0, 1 << 32)), one_minus_smoothing=int(rng.integers(0, 1 << 32)),
                 alternate_smoothing=int(rng.integers(0, 1 << 15)),
                 alternate_one_minus_smoothing=int(rng.integers(0, 1 << 15)),
                 smoothing_bits=int(rng.integers(0, 32)), spectral_subtraction_bits=int(rng.integers(0, 64)),
                 min_signal_remaining=int(rng.integers(0, 1 << 32)), clamping=int(rng.integers(0, 2)))
        signal_in = rng.integers(0, 1 << 32, channels, dtype=np.uint64).astype(np.uint32) >> \
            rng.integers(0, 32, channels).astype(np.uint32)
        noise = rng.integers(0, 1 << 32, channels, dtype=np.uint64).astype(np.uint32)
        want_out, want_noise = signal.spectral_subtraction(signal_in, noise, **o)
        out = np.zeros(channels, np.uint32)
        lib.pml_signal_spectral_subtraction(ctypes.byref(SpectralSubtraction(**o)), _p(signal_in), channels,
                                            _p(noise), _p(out))
        assert np.array_equal(out, want_out) and np.array_equal(noise, want_noise), ("spectral_subtraction", case)

        lut = edgy16(rng, 125)
        snr_shift = int(rng.integers(0, 64))
        out = np.zeros(channels, np.uint32)
        lib.pml_signal_pcan(_p(signal_in), _p(noise), _p(lut), channels, snr_shift, _p(out))
        assert np.array_equal(out, signal.pcan(signal_in, noise, lut, snr_shift)), ("pcan", case)

        scale, correction = int(rng.integers(-(1 << 31), 1 << 31)), int(rng.integers(0, 32))
        out16 = np.zeros(channels, np.int16)
        lib.pml_signal_filter_bank_log(_p(signal_in), channels, scale, correction, _p(out16))
        assert np.array_equal(out16, signal.filter_bank_log(signal_in, scale, correction)), ("log", case)


@pytest.mark.parametrize("library", LIBRARIES)
def test_each_kernel_against_the_reference(library):
    check_kernels(c_runtime.load(library), 1, 150)


def test_log_table_is_the_formula():
    """The Q16 correction table of native_module/filter_bank.c (and kernels_audio.LOG2_CORRECTION) is
    round((log2(1 + k/128) - k/128) * 65536), k = 0..128, and a final 0."""
    from picoml.format import device_module
    table = list(device_module("kernels_audio").LOG2_CORRECTION)
    assert table == [round((math.log2(1 + k / 128) - k / 128) * 65536) for k in range(129)] + [0]
    text = (ROOT / "native_module" / "filter_bank.c").read_text()
    body = text[text.index("LOG2_CORRECTION[130] = {") + 24:]
    assert [int(v) for v in body[:body.index("}")].replace("\n", " ").split(",")] == table


SANITIZED_RUN = r"""
import sys
sys.path.insert(0, %(tests)r)
import numpy as np
import test_frontend_device as t
from picoml.runtimes import c as c_runtime
lib = c_runtime.load("libpicoml_asan.so")
t.check_kernels(lib, 2, 60)
blob = open(%(pml)r, "rb").read()
for path in sorted(t.MICRO_SPEECH.glob("*.wav")):
    want = np.load(path.with_name(path.stem + ".features_int8.npy")).reshape(-1, 40)
    assert np.array_equal(t.run_c(lib, blob, t.read_wav(path)), want), path
print("ok")
"""


def test_kernels_under_address_sanitizer(tmp_path, pml):
    """The kernels and the whole front-end with the library built with AddressSanitizer and UBSan (no access
    outside the buffers, no undefined behaviour) and the Cortex-M0 arithmetic (PML_NO_LIBGCC: 64-bit products
    from 16-bit halves, shifts from 32-bit words, division bit by bit): the same bytes."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    libubsan = subprocess.run(["gcc", "-print-file-name=libubsan.so"], capture_output=True, text=True).stdout.strip()
    assert os.path.isabs(libasan) and os.path.isabs(libubsan), "gcc has no sanitizer runtimes"
    (tmp_path / "frontend.pml").write_bytes(pml)
    script = tmp_path / "run.py"
    script.write_text(SANITIZED_RUN % {"tests": str(ROOT / "tests"), "pml": str(tmp_path / "frontend.pml")})
    env = dict(os.environ, LD_PRELOAD="%s %s" % (libasan, libubsan), ASAN_OPTIONS="detect_leaks=0",
               PYTHONMALLOC="malloc")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


# -- picoml.audio.Frontend in MicroPython ------------------------------------------------------------------------

# Feeds each clip (raw int16 files) through one Frontend in blocks of the sizes CHUNKS cycles through, reset at
# each clip, and prints every completed feature row as hex: "name rows hex...".
FEED = r"""
import picoml
from array import array
from picoml import audio
m = picoml.load("frontend.pml", backend=%(backend)r)
fe = audio.Frontend(m)
%(copy)s
print("backend", m.backend, audio._copy16 is not audio._copy16_py)
buf = array("h", bytes(2 * 1000))
chunks = %(chunks)r
for name in %(names)r:
    fe.reset()
    f = open(name + ".raw", "rb")
    rows = []
    c = 0
    while True:
        want = chunks[c %% len(chunks)]
        c += 1
        got = f.readinto(memoryview(buf)[0:want]) if want < len(buf) else f.readinto(buf)
        if not got:
            break
        done = fe.feed(buf, 0, got // 2)
        if done:
            rows.append(bytes(fe.features()[(fe.rows - done) * fe.width:]).hex())
    f.close()
    print(name, fe.rows_done, "".join(rows))
"""


def feed_clips(run, tmp_path, pml, clips, backend, copy=""):
    """{name: int8 features [rows, 40]} from FEED run by `run(script, cwd)` (copy: a line run after the Frontend
    is made)."""
    (tmp_path / "frontend.pml").write_bytes(pml)
    for name, samples, _ in clips:
        (tmp_path / (name + ".raw")).write_bytes(samples.astype("<i2").tobytes())
    out = run(FEED % {"backend": backend, "chunks": CHUNKS, "names": [name for name, _, _ in clips], "copy": copy},
              str(tmp_path))
    lines = out.split("\n")
    assert lines[0].split()[1] == backend, lines[0]
    got = {}
    for line in lines[1:]:
        if line.strip():
            parts = line.split()
            rows = np.frombuffer(bytes.fromhex(parts[2] if len(parts) > 2 else ""), np.int8).reshape(-1, WIDTH)
            assert len(rows) == int(parts[1])
            got[parts[0]] = rows
    return got, lines[0]


def in_unix_port(script, cwd):
    return unix.run_script(script, natmod=True, cwd=cwd, timeout=1800)


@pytest.mark.parametrize("backend", ["native", "python", "viper"])
def test_frontend_in_the_unix_port(tmp_path, pml, clips, backend):
    """Every clip through picoml.audio.Frontend on the virtual board, the samples in blocks of 1 to 1000: every
    feature row TFLite Micro's, with the native module, the viper backend (every op in viper code:
    kernels_viper_audio for the front-end's, test_device_viper_audio.py) and the pure-Python fallback."""
    got, head = feed_clips(in_unix_port, tmp_path, pml, clips, backend)
    assert head.endswith("True")      # the samples moved with picoml.fast (viper)
    for name, _, expected in clips:
        assert np.array_equal(got[name], expected), (backend, name)


def test_frontend_without_viper_in_the_unix_port(tmp_path, pml, clips):
    """The samples moved by the Python loop CircuitPython takes (no viper): the same features."""
    got, head = feed_clips(in_unix_port, tmp_path, pml, clips, "native", "audio._copy16 = audio._copy16_py")
    assert head.endswith("False")
    for name, _, expected in clips:
        assert np.array_equal(got[name], expected), name


HEAP_LOCKED = r"""
import picoml, micropython
from array import array
from picoml import audio
m = picoml.load("frontend.pml", backend=%(backend)r)
fe = audio.Frontend(m)
buf = array("h", range(-500, 500))
fe.feed(buf, 0, 1000)
done = k = 0                    # (a global's first store grows the globals' dict)
micropython.heap_lock()
for k in range(6):
    done += fe.feed(buf, 0, 333 + 100 * k)
    fe.features()
micropython.heap_unlock()
fe.reset()
print("rows", done)
"""


@pytest.mark.parametrize("backend", ["native", "viper", "python"])
def test_frontend_allocates_nothing_per_hop(tmp_path, pml, backend):
    """feed() runs hop after hop with the heap locked (a MicroPython heap allocation would raise MemoryError)."""
    (tmp_path / "frontend.pml").write_bytes(pml)
    out = in_unix_port(HEAP_LOCKED % {"backend": backend}, str(tmp_path))
    assert out.split() == ["rows", str((1000 + sum(333 + 100 * k for k in range(6)) - FRAME) // HOP + 1 - 2)]


RESET = r"""
import picoml
from array import array
from picoml import audio
fe = audio.Frontend("frontend.pml", rows=4, hop=%(hop)d)
a = array("h", open("a.raw", "rb").read())
b = array("h", open("b.raw", "rb").read())
fe.feed(b)
alone = bytes(fe.features())
fe.reset()
fe.feed(a)
after = bytes(fe.features())
fe.reset()
fe.feed(b)
print(alone == bytes(fe.features()), after != alone, fe.rows_done, alone.hex())
"""


@pytest.mark.parametrize("hop", [320, 160, 700])
def test_reset_and_hops(tmp_path, pml, clips, hop):
    """reset() clears the state: a clip after another gives other features than alone, and after reset() the
    same as alone. Hops shorter and longer than the frame: the frames are those starting every `hop` samples."""
    (tmp_path / "frontend.pml").write_bytes(pml)
    by_name = {name: samples for name, samples, _ in clips}
    a, b = by_name["noise_1000ms"], by_name["yes_1000ms"]
    (tmp_path / "a.raw").write_bytes(a.astype("<i2").tobytes())
    (tmp_path / "b.raw").write_bytes(b.astype("<i2").tobytes())
    same, differs, rows, alone = in_unix_port(RESET % {"hop": hop}, str(tmp_path)).split()
    oracle = Oracle(FRONTEND.read_bytes())
    starts = range(0, len(b) - FRAME + 1, hop)
    want = np.array([oracle.run([b[i:i + FRAME].reshape(1, FRAME)])[0] for i in starts]).reshape(-1, WIDTH)
    assert same == "True" and differs == "True" and int(rows) == len(want)
    assert np.array_equal(np.frombuffer(bytes.fromhex(alone), np.int8).reshape(-1, WIDTH), want[-4:])


MISUSE = r"""
import json, picoml
from array import array
from picoml import audio
fe = audio.Frontend("frontend.pml", backend=%(backend)r)
got = {}
cases = (("end_past", (array("h", [5] * 16), 0, 4000000)), ("start_negative", (array("h", [5] * 512), -100000, 10)),
         ("bytes", (bytes(512),)), ("floats", (array("f", [0.5] * 1000),)), ("int32", (array("i", [9] * 1000),)),
         ("list", ([1, 2, 3] * 200,)))
for name, args in cases:
    try:
        got[name] = fe.feed(*args)
    except Exception as e:
        got[name] = [type(e).__name__, str(e)]
got["rows_done"] = fe.rows_done
got["good"] = fe.feed(array("h", [100, -100] * 400))
got["view"] = fe.feed(memoryview(array("h", [100, -100] * 400))[0:320])
print(json.dumps(got))
"""


@pytest.mark.parametrize("backend", ["native", "python"])
def test_feed_refuses_what_viper_would_read_past(tmp_path, pml, backend):
    """picoml.fast.copy16 (viper) reads the samples' memory unchecked: feed(samples, 0, end) with end past the
    buffer, or a negative start, killed the interpreter (SIGSEGV); bytes, array('f') and array('i') were read as
    the wrong samples (bytes past their end). Now a ValueError or TypeError naming what feed takes, nothing fed."""
    (tmp_path / "frontend.pml").write_bytes(pml)
    r = json.loads(in_unix_port(MISUSE % {"backend": backend}, str(tmp_path)).strip().splitlines()[-1])
    for name in ("end_past", "start_negative"):
        assert r[name][0] == "ValueError" and "end <= len(samples)" in r[name][1], r[name]
    for name in ("bytes", "floats", "int32", "list"):
        assert r[name][0] == "TypeError" and "array('h')" in r[name][1], r[name]
    assert r["rows_done"] == 0 and r["good"] == 2 and r["view"] == 1     # (a memoryview of int16 samples is fine)

# -- on the emulated Cortex-M4 ------------------------------------------------------------------------------------

def on_m4(script, cwd):
    return qemu.run_script(script, "m4", cwd=cwd, timeout=1800)


@pytest.mark.emulated
def test_frontend_on_the_emulated_cortex_m4(tmp_path, pml, clips):
    """picoml's MicroPython on QEMU's Cortex-M4F (mps2-an386, the nRF52840's core and arch armv7emsp) with the
    heap a board leaves free: the native module's features are TFLite Micro's on every clip."""
    got, head = feed_clips(on_m4, tmp_path, pml, clips, "native")
    assert head.endswith("True")
    for name, _, expected in clips:
        assert np.array_equal(got[name], expected), name


@pytest.mark.emulated
def test_python_fallback_on_the_emulated_cortex_m4(tmp_path, pml, clips):
    """The pure-Python kernels on a 32-bit core (values beyond 2^30 are long ints there): a second of speech and a
    short clip (about 20 s of QEMU: the Python kernels take ~0.4 s of emulated time per frame)."""
    shared = [c for c in clips if c[0] in ("yes_1000ms", "no_30ms")]
    got, _ = feed_clips(on_m4, tmp_path, pml, shared, "python")
    for name, _, expected in shared:
        assert np.array_equal(got[name], expected), name


DEFAULT = r"""
from array import array
from picoml import audio
fe = audio.Frontend()
print(audio.default_frontend(), fe.model.backend, fe.hop)
fe.feed(array("h", open("yes.raw", "rb").read()))
print(bytes(fe.features()).hex())
"""


def test_the_default_frontend_ships_with_the_library(tmp_path, clips):
    """audio.Frontend() loads picoml/frontend.pml, which every build (dist, what deploy copies) holds beside the
    library, its hop from the model's metadata."""
    yes = next(samples for name, samples, _ in clips if name == "yes_1000ms")
    (tmp_path / "yes.raw").write_bytes(yes.astype("<i2").tobytes())
    path, backend, hop, features = on_m4(DEFAULT, str(tmp_path)).split()
    assert path.endswith("picoml/frontend.pml") and backend == "native" and hop == "320"
    expected = next(f for name, _, f in clips if name == "yes_1000ms")
    assert np.array_equal(np.frombuffer(bytes.fromhex(features), np.int8).reshape(-1, WIDTH), expected)
