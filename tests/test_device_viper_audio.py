"""picoml.kernels_viper_audio (device/picoml/kernels_viper_audio.py): the audio front-end's ops in viper code give
kernels_audio's bytes (so TFLite Micro's).

  * emulated in CPython on a 32-bit and a 64-bit machine word (test_device_viper's emulation: every operation
    wrapped to the word, ptr32 loads signed or zero-extended, shift counts below the width, no store into the
    model's constants): each op on random and extreme operands and every parameter value that matters, the whole
    arena compared with kernels_audio's after each run (so no stray write goes unseen); the front-end models op by
    op against the numpy reference; mutants that are wrong on one word only are caught there;
  * for real in the MicroPython unix port (x64): the front-end and its variants (other options, longer FFTs),
    every feature row the reference's, no op left to Python, nothing allocated per frame, and the time per frame
    against kernels_audio's (printed with -s); picoml.audio.Frontend fed every clip, TFLite Micro's features;
  * compiled by mpy-cross for the Cortex-M4's, the Cortex-M0's and the ESP32's arch and run on those cores in
    QEMU (a real 32-bit word): the reference's features, nothing allocated per frame, the instructions per frame.
(test_device_viper.py checks the word-size rules of every viper module's source, this one's too.)"""
import importlib
import struct
import subprocess
import sys

import numpy as np
import pytest

from picoml import format, optable, reference, resources
from picoml.convert import convert
from picoml.ops.signal import rfft_twiddles
from picoml.runtimes import unix
from picoml.runtimes.unix import mpy_cross
from test_device_viper import EmuTensor, emulated_device, python_prepare, python_runs, viper_sources
from test_frontend_device import edgy16
from test_signal import VARIANTS, frames, frontend_variant, frontend_with_fft, synthesized_clips

DEVICE = resources.device_library()
KVA = DEVICE / "picoml" / "kernels_viper_audio.py"
NP = {1: "<i1", 2: "<i2", 3: "<i4", 4: "<u4", 5: "<u8"}
U32_EDGES = [0, 1, 2, 3, 0x7FFF, 0x8000, 0xFFFF, 0x10000, (1 << 31) - 1, 1 << 31, (1 << 31) + 1, (1 << 32) - 1]


# ---------------------------------------------------------------------------------------------------------
# The module on the emulated word
# ---------------------------------------------------------------------------------------------------------

def emulated(bits, source=None):
    """(prepare, kernels_viper, kernels_audio, kernels_viper_audio) on the emulated word; the last from
    `source` (a mutant) when given."""
    sources = None
    if source is not None:
        sources = dict(viper_sources())
        sources[KVA.name] = source
    kp, kv = emulated_device(bits, sources)
    package = kv.__name__.rsplit(".", 1)[0]
    return kp, kv, importlib.import_module(package + ".kernels_audio"), sys.modules[package + ".kernels_viper_audio"]


class Tensor(EmuTensor):
    """An operand as the kernel interface describes it (picoml.prepare's header), from its buffer and offset."""

    def __init__(self, buf, off, shape, dtype, storage, index=0):
        self.buf, self.off, self.shape, self.dtype, self.storage = buf, off, tuple(shape), dtype, storage
        self.index = index
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = self.size * (8 if dtype == 5 else int(NP[dtype][-1]))


class Case:
    """One op's operands: activations in an arena of random bytes (4-byte aligned, as the planner places them),
    constants in a read-only model buffer."""

    def __init__(self, rng, code, params):
        self.rng, self.code, self.params = rng, code, tuple(int(p) for p in params)
        self.arena, self.model = bytearray(), bytearray(rng.integers(0, 256, 4 * int(rng.integers(0, 4)), np.uint8))
        self.inputs, self.outputs = [], []

    def _place(self, store, data):
        while len(store) % 4:
            store.append(int(self.rng.integers(0, 256)))
        store += data
        return len(store) - len(data)

    def input(self, values, dtype, shape=None, const=False):
        values = np.asarray(values)
        data = np.asarray(values.astype(np.int64) if dtype != 5 else values, NP[dtype]).tobytes()
        shape = values.shape if shape is None else shape
        where = "model" if const else "arena"
        self.inputs.append((where, self._place(self.model if const else self.arena, data), shape, dtype))
        return self

    def output(self, shape, dtype, at=None):
        """An output of random bytes, or over input `at` (an in-place op)."""
        if at is not None:
            self.outputs.append(("arena",) + self.inputs[at][1:2] + (shape, dtype))
            return self
        n = int(np.prod(shape, dtype=np.int64)) * (8 if dtype == 5 else int(NP[dtype][-1]))
        self.outputs.append(("arena", self._place(self.arena, bytes(self.rng.integers(0, 256, n, np.uint8))),
                             shape, dtype))
        return self

    def tensors(self, arena, model):
        def make(spec):
            where, off, shape, dtype = spec
            return Tensor(arena if where == "arena" else model, off, shape, dtype, 0 if where == "arena" else 1)
        return tuple(make(s) for s in self.inputs), tuple(make(s) for s in self.outputs)


def check(case, bits, runs=1, source=None):
    """The op on kernels_audio and on the emulated viper kernel, each over its own copy of the arena: the same bytes
    after every run (a stateful op's state carried), and the viper kernel's run in viper code."""
    kp, kv, ka, kva = emulated(bits, source)
    model = bytes(case.model)
    arenas = [bytearray(case.arena), bytearray(case.arena)]
    states = []
    for arena, kernels in zip(arenas, (ka.KERNELS, kva.KERNELS)):
        ins, outs = case.tensors(arena, model)
        prepare, run = kernels[case.code]
        states.append((run, prepare(case.params, ins, outs, kp.Context(arena, model))))
    assert states[1][0] is kv._run and states[1][1][0] is not kv._python, "viper kernel fell back"
    for k in range(runs):
        for run, state in states:
            run(state)
        if arenas[0] != arenas[1]:
            a, b = np.frombuffer(arenas[0], np.uint8), np.frombuffer(arenas[1], np.uint8)
            first = int(np.flatnonzero(a != b)[0])
            raise AssertionError("%d-bit, op %d params %s, run %d: %d bytes differ, first at %d (operands %s -> %s)"
                                 % (bits, case.code, case.params, k, int((a != b).sum()), first, case.inputs,
                                    case.outputs))


def u32(rng, n):
    """uint32 values of every size, the edges mixed in."""
    v = rng.integers(0, 1 << 32, n, dtype=np.uint64) >> rng.integers(0, 33, n).astype(np.uint64)
    k = max(1, n // 8)
    v[rng.integers(0, n, k)] = rng.choice(U32_EDGES, k)
    return v.astype(np.uint64)


def u64(rng, n):
    """uint64 values of every size: random bit lengths, squares and their neighbours, the edges."""
    v = rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    v >>= rng.integers(0, 64, n).astype(np.uint64)
    roots = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    squares = roots * roots + rng.choice(np.array([0, 1, -1, 2], np.int64), n).astype(np.uint64) + \
        roots * rng.integers(0, 3, n).astype(np.uint64)
    pick = rng.random(n)
    v = np.where(pick < 0.3, squares, v)
    edges = np.array([0, 1, 2, 3, 0xFFFF * 0xFFFF, 0xFFFF * 0xFFFF + 0xFFFF, 0xFFFF * 0xFFFF + 0x10000, 0xFFFFFFFF,
                      1 << 32, (1 << 32) + 1, 0xFFFFFFFF * 0xFFFFFFFF, 0xFFFFFFFF * 0xFFFFFFFF + 0xFFFFFFFF,
                      0xFFFFFFFF * 0xFFFFFFFF + 0xFFFFFFFF + 1, (1 << 64) - 1, 1 << 63, (1 << 62) - 1],
                     np.uint64)
    k = max(1, n // 6)
    v[rng.integers(0, n, k)] = rng.choice(edges, k)
    return v


def i32(rng, n):
    v = rng.integers(-(1 << 31), 1 << 31, n) >> rng.integers(0, 32, n)
    k = max(1, n // 6)
    v[rng.integers(0, n, k)] = rng.choice([0, 1, -1, 2, -2, (1 << 31) - 1, -(1 << 31), -(1 << 31) + 1, 7, -7], k)
    return v


# ---------------------------------------------------------------------------------------------------------
# Cases per op
# ---------------------------------------------------------------------------------------------------------

def window_cases(rng):
    for shift in range(32):
        nw = int(rng.choice([1, 3, 16, 480]))
        n = nw * int(rng.integers(1, 3)) if nw < 480 else 480
        yield Case(rng, 13, [shift]).input(edgy16(rng, n, 40000), 2, const=shift == 3) \
            .input(edgy16(rng, nw, 40000), 2, const=True).output((n,), 2)


def auto_scale_cases(rng):
    for k in range(24):
        n = int(rng.integers(1, 500))
        x = edgy16(rng, n, int(rng.choice([1, 2, 5, 100, 3000, 40000]))) >> int(rng.integers(0, 16))
        if k % 5 == 0:
            x[rng.integers(0, n)] = -32768
        if k % 7 == 0:
            x[:] = 0
        if k % 6 == 1:
            x[:] = -32768
        if k % 6 == 2:
            x[:] = rng.choice([0, 1, -1, 2 ** int(rng.integers(0, 15))])
        yield Case(rng, 14, []).input(x, 2, const=k == 3).output((n,), 2).output((), 3)


def rfft_cases(rng, lengths=(4, 8, 16, 32, 64, 128, 256, 512)):
    for nfft in lengths:
        for extreme in (False, True):
            n_in = int(rng.choice([nfft, 1, max(1, nfft - 1), int(rng.integers(1, nfft + 1))]))
            rows = int(rng.choice([1, 1, 2]))
            tw, sup = rfft_twiddles(nfft)
            if extreme:         # any int16 twiddles the file may hold, -32768 too: the products leave int32
                tw, sup = edgy16(rng, nfft).reshape(-1, 2), edgy16(rng, nfft // 2).reshape(-1, 2)
                tw[0] = (-32768, -32768)
                sup[: len(sup) // 2] = -32768
            x = edgy16(rng, rows * n_in, 40000)
            if extreme:
                x[: len(x) // 2] = rng.choice([-32768, 32767], len(x) // 2)
            yield Case(rng, 15, [nfft]).input(x.reshape(rows, n_in), 2, const=nfft == 32).input(tw, 2, const=True) \
                .input(sup, 2, const=True).output((rows, nfft + 2), 2)


def energy_cases(rng):
    for k in range(12):
        bins = int(rng.integers(1, 300))
        start = int(rng.integers(0, bins + 1))
        end = int(rng.integers(start, bins + 1))
        x = edgy16(rng, 2 * bins, 40000)
        if k == 0:
            x[:] = -32768
        yield Case(rng, 16, [start, end]).input(x, 2, const=k == 1).output((bins,), 4)


def filter_bank_cases(rng, long_band=False):
    for k in range(10 if not long_band else 1):
        channels = int(rng.integers(1, 48))
        widths = rng.integers(0, 12, channels + 1)
        if long_band:       # a band of 30,000 bins: its sums' carries moved up along the way
            widths[1] = 30000
        n_bins = int(widths.max()) + int(rng.integers(1, 60))
        freq = np.array([rng.integers(0, n_bins - wd + 1) for wd in widths])
        n_weights = int(widths.sum()) + 3
        starts = np.array([rng.integers(0, n_weights - wd + 1) for wd in widths])
        weights, unweights = edgy16(rng, n_weights, 40000), edgy16(rng, n_weights, 40000)
        if k == 0:
            weights[:] = rng.choice([-32768, 32767], n_weights)
            unweights[:] = -32768
        power = u32(rng, n_bins)
        if k % 3 == 0:
            power[:] = rng.choice([(1 << 32) - 1, 1 << 31], n_bins)
        if long_band:       # each term's middle limb at its largest: 32767 * 0xFFFF >> 16 plus 32767 * 32769 & 0xFFFF
            power[:] = 0x8001FFFF
            weights[:] = unweights[:] = 32767
        case = Case(rng, 17, []).input(power, 4, const=k == 1)
        for table in (weights, unweights, freq, starts, widths):
            case.input(table, 2, const=True)
        yield case.output((channels,), 5)


def sqrt_cases(rng):
    shifts = [0, 1, 7, 15, 16, 17, 31, 32, 40, -1, -7, (1 << 31) - 1, -(1 << 31)] + list(range(2, 31, 3))
    for shift in shifts:
        n = int(rng.integers(1, 80))
        yield Case(rng, 18, []).input(u64(rng, n), 5, const=shift == 7).input([shift], 3, shape=(), const=shift < 0) \
            .output((n,), 4)


def spectral_cases(rng):
    frontend = [409, 15975, 983, 15401, 10, 14, 819, 0]
    yield frontend
    for variant in VARIANTS.values():
        o = variant.get("SignalFilterBankSpectralSubtraction")
        if o:
            p = dict(zip(("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
                          "smoothing_bits", "spectral_subtraction_bits", "min_signal_remaining", "clamping"),
                         frontend))
            p.update(o)
            yield [int(v) for v in p.values()]
    for k in range(16):
        int32 = lambda: int(rng.choice([rng.integers(-(1 << 31), 1 << 31), rng.integers(0, 1 << 15), -1, 0,
                                        -(1 << 31), (1 << 31) - 1]))
        yield [int32(), int32(), int32(), int32(), int(rng.integers(0, 32)), int(rng.choice([0, 14, 31, 32, 47,
                                                                                              48, 63,
                                                                                              rng.integers(0, 64)])),
               int32(), k & 1]


def spectral_subtraction_cases(rng):
    for k, params in enumerate(spectral_cases(rng)):
        n = int(rng.integers(1, 50))
        yield Case(rng, 19, params).input(u32(rng, n), 4, const=k == 2).input(u32(rng, n), 4).output((n,), 4) \
            .output((n,), 4)


def pcan_cases(rng):
    for snr_shift in range(64):
        n = int(rng.integers(1, 50))
        noise = u32(rng, n)
        noise[: min(n, 3)] = [0, 1, 2][: min(n, 3)]
        lut = edgy16(rng, 125, 40000)
        yield Case(rng, 20, [snr_shift]).input(u32(rng, n), 4, const=snr_shift == 1) \
            .input(noise, 4, const=snr_shift == 2).input(lut, 2, const=True) \
            .output((n,), 4)


def log_cases(rng):
    scales = [64, 96, 4000, 0, 1, -1, (1 << 31) - 1, -(1 << 31), 65535, 65536, 12345678]
    for bits in range(32):
        n = int(rng.integers(1, 50))
        scale = int(rng.choice(scales)) if bits % 2 else int(rng.integers(-(1 << 31), 1 << 31))
        yield Case(rng, 21, [bits, scale]).input(u32(rng, n), 4, const=bits == 1).output((n,), 2)


def broadcast_pair(rng):
    out = tuple(int(d) for d in rng.integers(1, 5, int(rng.integers(1, 5))))
    a = tuple(d if rng.random() < 0.6 else 1 for d in out)
    b = tuple(d if rng.random() < 0.6 else 1 for d in out)
    if rng.random() < 0.3:
        b = (1,)
    return out, a, b


def values(rng, dtype, shape):
    n = int(np.prod(shape))
    if dtype == 5:
        return u64(rng, n).reshape(shape)
    if dtype == 4:
        return u32(rng, n).reshape(shape)
    if dtype == 3:
        return i32(rng, n).reshape(shape)
    bound = 1 << (8 * int(NP[dtype][-1]) - 1)
    v = rng.integers(-bound, bound, n)
    v[rng.integers(0, n, max(1, n // 4))] = rng.choice([-bound, bound - 1, 0, -1], max(1, n // 4))
    return v.reshape(shape)


def integer_cases(rng):
    for src in range(1, 6):
        for dst in range(1, 6):
            n = int(rng.integers(1, 30))
            yield Case(rng, 22, []).input(values(rng, src, (n,)), src, const=src == dst).output((n,), dst)
    for code in (24, 25):
        for dtype in range(1, 6):
            for k in range(3):
                out, a, b = broadcast_pair(rng)
                case = Case(rng, code, []).input(values(rng, dtype, a), dtype)
                case.input(values(rng, dtype, b), dtype, const=k == 1)
                yield case.output(out, dtype, at=0 if k == 2 and a == out else None)
    for code in (26, 27, 28):
        for k in range(8):
            out, a, b = broadcast_pair(rng)
            lo, hi = ((-(1 << 31), (1 << 31) - 1) if k % 2 == 0 else
                      sorted(int(v) for v in rng.integers(-(1 << 31), 1 << 31, 2)))
            x, y = i32(rng, int(np.prod(a))).reshape(a), i32(rng, int(np.prod(b))).reshape(b)
            if code == 28 and k == 0:        # every sign and edge against every other
                edges = [0, 1, -1, 2, -2, 7, -7, (1 << 31) - 1, -(1 << 31), -(1 << 31) + 1]
                out = a = b = (len(edges) ** 2,)
                x = np.repeat(edges, len(edges))
                y = np.tile(edges, len(edges))
            case = Case(rng, code, [lo, hi]).input(x, 3).input(y, 3, const=k == 3)
            yield case.output(out, 3, at=0 if a == out and k % 3 == 2 else None)


CASES = {
    "window": window_cases, "auto_scale": auto_scale_cases, "rfft": rfft_cases, "energy": energy_cases,
    "filter_bank": filter_bank_cases, "sqrt": sqrt_cases, "spectral_subtraction": spectral_subtraction_cases,
    "pcan": pcan_cases, "log": log_cases, "integer": integer_cases,
}


def test_every_front_end_op_but_strided_slice_is_here():
    """The audio front-end's ops (STRIDED_SLICE is kernels_viper_layout's): kernels_audio's but LSTM."""
    _, _, ka, kva = emulated(64)
    codes = {op.code for op in optable.OPS if op.frontend and op.name != "STRIDED_SLICE"}
    assert set(kva.KERNELS) == codes == set(ka.KERNELS) - {optable.BY_NAME["LSTM"].code}


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("op", sorted(CASES))
def test_each_op_emulated(op, bits):
    """Every kernel on random and extreme operands (activations given as constants too), on the 32- and 64-bit
    word: kernels_audio's arena bytes (the stateful spectral subtraction over three runs)."""
    rng = np.random.default_rng(sorted(CASES).index(op) * 2 + bits)
    count = 0
    for case in CASES[op](rng):
        check(case, bits, runs=3 if case.code == 19 else 1)
        count += 1
    assert count >= 10


@pytest.mark.parametrize("bits", [32, 64])
def test_long_bands_and_long_ffts_emulated(bits):
    """A filter-bank band of 30,000 bins (its sums' carries moved up every 8192 terms), FFTs of 1024 and 2048
    points (a radix-2 stage under four and five radix-4 ones)."""
    rng = np.random.default_rng(40 + bits)
    for case in filter_bank_cases(rng, long_band=True):
        check(case, bits)
    for case in rfft_cases(rng, (1024, 2048)):
        check(case, bits)


# ---------------------------------------------------------------------------------------------------------
# Mutants: each wrong on one word only
# ---------------------------------------------------------------------------------------------------------

def mutant(old, new):
    text = KVA.read_text()
    assert text.count(old) >= 1, old
    return text.replace(old, new)


MUTANTS = {
    # the filter bank's carries never moved up within a band: the middle limb overflows a 32-bit word
    "filter_bank_no_chunks": ("if chunk > 8192:", "if chunk > 65536:", "long_band", 32),
    # the log's ln 2 product in one piece: 45426 * log2 leaves a 32-bit word
    "log_one_product": ("t = 45426 * (t >> 16) + (((t & 0xFFFF) * 22713 + 16384) >> 15)",
                        "t = (45426 * t + 32768) >> 16", "log", 32),
    # a uint32's high half as a shift alone: negative on a 32-bit word from 2^31 up
    "spectral_high_half": ("nh = (v >> 16) & 0xFFFF", "nh = v >> 16", "spectral_subtraction", 32),
    # KISS FFT's int16 wrap written for a 64-bit word
    "rfft_wrap_for_64_bits": ("e16 = int(_EXT) + 16", "e16 = 48", "rfft", 32),
    # the shifted value of the log not wrapped to 32 bits: a 64-bit word keeps the bits shifted out
    "log_no_wrap": ("xs = ((x[xo + i] << bits) << ext) >> ext", "xs = x[xo + i] << bits", "log", 64),
    # one digit step too many in a single word: the remainder reaches 2^31
    "sqrt_one_step_too_many": ("last = p - 28", "last = p - 29", "sqrt", 32),
    # the square root's int32 shift read without its wrap: negative ones zero-extended on a 64-bit word
    "sqrt_shift_no_wrap": ("shift = (sb[int(g[2])] << int(_EXT)) >> int(_EXT)", "shift = sb[int(g[2])]", "sqrt",
                           64),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_emulation_catches_word_size_bugs(name):
    """Each mutant fails on the word it is wrong for and passes on the other."""
    old, new, cases, wrong_on = MUTANTS[name]
    source = mutant(old, new)
    failed = {}
    for bits in (32, 64):
        rng = np.random.default_rng(7)
        failed[bits] = False
        made = filter_bank_cases(rng, long_band=True) if cases == "long_band" else CASES[cases](rng)
        for case in made:
            try:
                check(case, bits, source=source)
            except AssertionError:
                failed[bits] = True
                break
    assert failed[wrong_on] and not failed[96 - wrong_on], failed


def test_a_wrong_rounding_fails():
    """The real-FFT split's halving rounded up: wrong on both words."""
    source = mutant("o[f] = (f1r + tr) >> 1", "o[f] = (f1r + tr + 1) >> 1")
    for bits in (32, 64):
        with pytest.raises(AssertionError):
            for case in rfft_cases(np.random.default_rng(3), (64,)):
                check(case, bits, source=source)


# ---------------------------------------------------------------------------------------------------------
# Whole front-end models, op by op on the emulated word
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def frontend_blob():
    return resources.frontend_model().read_bytes()


@pytest.fixture(scope="module")
def frontends(frontend_blob):
    """{name: .pml bytes}: the front-end, its variants with other options (test_signal.py) and with longer FFTs."""
    blobs = {"frontend": frontend_blob}
    for variant, options in sorted(VARIANTS.items()):
        blobs[variant] = format.write(convert(frontend_variant(options), variant, measure_tflm=False))
    for n in (1024, 2048):
        blobs["fft%d" % n] = format.write(convert(frontend_with_fft(n), "fft%d" % n, measure_tflm=False))
    return blobs


def run_model_emulated(blob, inputs, bits):
    """The model's outputs per input, the ops run by the viper kernels (kernels_viper's families, then this
    module's), the rest by kernels_python / kernels_audio; and the names of ops not run in viper code."""
    kp, kv, ka, kva = emulated(bits)
    model = format.read(blob)
    weights_offset = struct.unpack_from("<I", blob, 52)[0]
    arena = bytearray(max(model.arena_size, 4))
    ctx = kp.Context(arena, blob)

    def tensor(i):
        t = model.tensors[i]
        where = (blob, weights_offset + t.offset, 1) if t.is_constant else (arena, t.offset, 0)
        return Tensor(where[0], where[1], t.shape, format.DTYPE_CODES[t.dtype], where[2], i)
    steps, python = [], []
    for op in model.ops:
        entry = kv.kernel(op.code)
        if entry is None:
            python.append(op.name)
            entry = ((python_prepare(kp, op.code), python_runs(kp).RUNS[op.code]) if op.code in kp.FAMILY
                     else ka.KERNELS[op.code])
        state = entry[0](tuple(op.params.values()), tuple(tensor(i) for i in op.inputs),
                         tuple(tensor(i) for i in op.outputs), ctx)
        if entry[1] is kv._run and state[0] is kv._python:
            python.append(op.name)
        steps.append((entry[1], state))
    outputs = []
    for x in inputs:
        t = model.tensors[model.inputs[0].tensor]
        arena[t.offset:t.offset + t.nbytes] = np.asarray(x, t.dtype).tobytes()
        for run, state in steps:
            run(state)
        t = model.tensors[model.outputs[0].tensor]
        outputs.append(np.frombuffer(bytes(arena[t.offset:t.offset + t.nbytes]), t.dtype).reshape(t.shape))
    return outputs, python


def reference_outputs(blob, inputs):
    interpreter = reference.Interpreter(format.read(blob))
    return [interpreter.run([np.asarray(x)])[0] for x in inputs]


def some_frames(count, seed):
    """Frames of synthesized clips, the loud and quiet ones, as the model's [1, 480] inputs."""
    clips = synthesized_clips(12, seed=seed)
    picked = [f for _, samples in clips for f in frames(samples)[:3]]
    rng = np.random.default_rng(seed)
    return [picked[i].reshape(1, 480) for i in rng.choice(len(picked), count, replace=False)]


@pytest.mark.parametrize("bits", [32, 64])
def test_frontends_emulated(frontends, bits):
    """The front-ends, frame after frame (the noise estimate carried), every op but STRIDED_SLICE and
    CONCATENATION (kernels_viper's) in this module: the reference's features on the emulated word."""
    for k, (name, blob) in enumerate(sorted(frontends.items())):
        inputs = some_frames(4, seed=bits + k)
        outputs, python = run_model_emulated(blob, inputs, bits)
        assert python == [], name
        for j, (got, want) in enumerate(zip(outputs, reference_outputs(blob, inputs))):
            assert np.array_equal(got, want.reshape(got.shape)), (name, bits, j)


# ---------------------------------------------------------------------------------------------------------
# The unix port
# ---------------------------------------------------------------------------------------------------------

# RUN: each model (the list below) on the viper backend, then on the pure-Python kernels for comparison: every frame's output as
# hex, the ops left to Python, whether a frame allocated, and the µs per frame of each.
RUN = r"""
import gc, time, micropython, picoml
frame = bytearray(960)
allocated = 0                   # (a global's first store, under the heap lock, would grow the globals' dict)
for name, count in %(models)r:
    for backend in ("viper", "python"):
        m = picoml.load(name + ".pml", backend=backend)
        f = open(name + ".in", "rb")
        rows = []
        spent = 0
        for k in range(count):
            f.readinto(frame)
            m.inputs[0].data[:] = frame
            t = time.ticks_us()
            m.invoke()
            spent += time.ticks_diff(time.ticks_us(), t)
            rows.append(bytes(m.outputs[0].data).hex())
        f.close()
        m.reset()
        f = open(name + ".in", "rb")
        f.readinto(frame)
        f.close()
        m.inputs[0].data[:] = frame
        m.invoke()
        gc.collect()
        micropython.heap_lock()
        try:
            m.invoke()
            allocated = 0
        except MemoryError:
            allocated = 1
        micropython.heap_unlock()
        print(name, backend, m.info()["python_ops"], allocated, spent // count, " ".join(rows))
"""


def run_in_unix_port(tmp_path, models):
    """{(name, backend): (python ops, allocated, µs per frame, outputs)} for {name: (blob, frames)}."""
    for name, (blob, inputs) in models.items():
        (tmp_path / (name + ".pml")).write_bytes(blob)
        (tmp_path / (name + ".in")).write_bytes(b"".join(np.asarray(x, "<i2").tobytes() for x in inputs))
    out = unix.run_script(RUN % {"models": [(name, len(inputs)) for name, (_, inputs) in models.items()]},
                          heapsize="8M", cwd=str(tmp_path), timeout=1800)
    results = {}
    for line in out.strip().splitlines():
        name, backend, rest = line.split(" ", 2)
        python_ops, rest = rest[:rest.index("]") + 1], rest[rest.index("]") + 2:].split()
        results[name, backend] = (eval(python_ops), int(rest[0]), int(rest[1]),
                                  [np.frombuffer(bytes.fromhex(h), np.int8) for h in rest[2:]])
    return results


def test_frontends_in_the_unix_port(tmp_path, frontends):
    """The front-end, its variants (other options) and longer FFTs with the viper kernels in MicroPython (x64): every
    frame the reference's, every op in viper code, nothing allocated per frame; the time per frame against the
    pure-Python kernels' (printed with -s)."""
    blobs = frontends
    clip = np.concatenate([s for _, s in synthesized_clips(16, seed=5)])
    models = {}
    for k, (name, blob) in enumerate(blobs.items()):
        picked = frames(clip)[k::4][:60]         # all kinds of sound, one after the other
        models[name] = (blob, [f.reshape(1, 480) for f in picked])
    results = run_in_unix_port(tmp_path, models)
    for name, (blob, inputs) in models.items():
        python_ops, allocated, us, outputs = results[name, "viper"]
        assert python_ops == [] and allocated == 0, (name, python_ops, allocated)
        want = reference_outputs(blob, inputs)
        for k, (got, expected) in enumerate(zip(outputs, want)):
            assert np.array_equal(got, expected.reshape(-1)), (name, k)
        assert np.array_equal(results[name, "python"][3], outputs), name
        print("%s: viper %d us per frame, kernels_audio %d us" % (name, us, results[name, "python"][2]))


# On an emulated core (QEMU, icount: one nanosecond per instruction), the library compiled for its arch: each
# frame's features as hex, the ops left to Python, and the instructions (in thousands) of ten more frames, run with
# the heap locked.
ON_CORE = r"""
import gc, time, micropython, picoml
m = picoml.load("fe.pml", backend="viper")
f = open("frames.bin", "rb")
frame = bytearray(960)
rows = []
t = 0
for k in range(%(count)d):
    f.readinto(frame)
    m.inputs[0].data[:] = frame
    m.invoke()
    rows.append(bytes(m.outputs[0].data).hex())
gc.collect()
micropython.heap_lock()
t = time.ticks_us()
for k in range(10):
    m.invoke()
t = time.ticks_diff(time.ticks_us(), t)
micropython.heap_unlock()
print(m.info()["python_ops"], t, " ".join(rows))
"""


@pytest.mark.emulated
@pytest.mark.parametrize("target", ["m4", "m0", "xtensa"])
def test_frontend_on_emulated_cores(tmp_path, frontend_blob, target):
    """The front-end with the library compiled by mpy-cross for the Cortex-M4's, the Cortex-M0's and the ESP32's
    arch (viper code on a real 32-bit word) in the heap the board leaves free: every frame the reference's,
    nothing allocated by a frame (the heap locked), and its instructions (printed with -s)."""
    from picoml.runtimes import qemu
    lib = tmp_path / "lib" / "picoml"
    lib.mkdir(parents=True)
    for src in (DEVICE / "picoml").glob("*.py"):
        subprocess.run([mpy_cross(), "-march=%s" % qemu.TARGETS[target]["arch"], "-o", str(lib / (src.stem + ".mpy")),
                        str(src)], check=True, capture_output=True, text=True)
    clip = np.concatenate([s for _, s in synthesized_clips(16, seed=9)])
    inputs = [f.reshape(1, 480) for f in frames(clip)[::9][:40]]
    (tmp_path / "fe.pml").write_bytes(frontend_blob)
    (tmp_path / "frames.bin").write_bytes(b"".join(np.asarray(x, "<i2").tobytes() for x in inputs))
    (tmp_path / "main.py").write_text("import sys\nsys.path[:0] = ['lib']\n" + ON_CORE % {"count": len(inputs)})
    done = subprocess.run(qemu.command(target, "main.py", icount=True), capture_output=True, text=True,
                          cwd=tmp_path, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    python_ops, rest = done.stdout.strip().split("] ")
    thousands, rows = rest.split(" ", 1)
    assert python_ops == "[" and len(rows.split()) == len(inputs)
    for k, (row, want) in enumerate(zip(rows.split(), reference_outputs(frontend_blob, inputs))):
        assert np.array_equal(np.frombuffer(bytes.fromhex(row), np.int8), want.reshape(-1)), (target, k)
    print("%s: %d instructions per frame" % (target, 100 * int(thousands)))
