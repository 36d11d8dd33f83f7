"""The device library (device/picoml) with its pure-Python backend, run in the MicroPython unix port.

Models are converted on the host, written to a temporary directory, loaded on the "virtual board" with
backend="python", and their outputs compared byte for byte with the numpy reference interpreter."""
import importlib.util
import pathlib
import shutil
import struct
import time
import zlib

import numpy as np
import pytest

import genmodels
from conftest import MLPERF, ROOT, test_inputs
from picoml import format, reference, rules
from picoml.convert import convert
from picoml.fixedpoint import quantize_multiplier
from unix_port import DEVICE, UnixPortError, compile_mpy, mpy_cross, run

NATMOD_X64 = ROOT / "build" / "natmod" / "x64"

# Inputs per MLPerf Tiny model: the pure-Python backend is slow (see the timings printed with -s).
MLPERF_INPUTS = {"ad01_int8": 10, "kws_ref_model": 5, "str_ww_ref_model": 10, "vww_96_int8": 2,
                 "pretrainedResnet_quant": 2}
GENERATED_INPUTS = 5
GENERATED = genmodels.build_all(ROOT / "build" / "genmodels")
KWS = next(p for p in MLPERF if p.stem == "kws_ref_model")
KWS_LABELS = ["silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]

_blobs = {}


def blob_of(path, labels=None):
    """The .pml bytes of a .tflite file (converted once per session)."""
    key = (str(path), tuple(labels or ()))
    if key not in _blobs:
        _blobs[key] = format.write(convert(pathlib.Path(path).read_bytes(), pathlib.Path(path).name, labels=labels,
                                           measure_tflm=False))
    return _blobs[key]


def patched(blob, offset, fmt, value, fix_crc=True):
    """`blob` with one header/table field replaced (and the CRC recomputed, so only that field is wrong)."""
    data = bytearray(blob)
    struct.pack_into(fmt, data, offset, value)
    if fix_crc:
        struct.pack_into("<I", data, 12, zlib.crc32(bytes(data[16:])))
    return bytes(data)


def input_tensor(model, i=0):
    return model.tensors[model.inputs[i].tensor]


# The script every conformance test runs: load, predict each int8 input of a binary file, write the outputs.
RUN_SCRIPT = """
import picoml, time
model_path, inputs_path, outputs_path = sys.argv[1], sys.argv[2], sys.argv[3]
m = picoml.load(model_path, backend="python")
shape = m.info()["inputs"][0]["shape"]
n = 1
for d in shape:
    n *= d
data = open(inputs_path, "rb").read()
times = []
with open(outputs_path, "wb") as f:
    for i in range(len(data) // n):
        x = memoryview(data)[i * n:(i + 1) * n]
        t0 = time.ticks_us()
        y = m.predict(x)
        times.append(time.ticks_diff(time.ticks_us(), t0))
        f.write(bytes(y))
print("backend", m.backend)
print("us", " ".join([str(t) for t in times]))
"""


def run_and_compare(tmp_path, blob, inputs):
    model = format.read(blob)
    (tmp_path / "model.pml").write_bytes(blob)
    (tmp_path / "inputs.bin").write_bytes(b"".join(np.asarray(x, np.int8).tobytes() for x in inputs))
    out = run(RUN_SCRIPT, args=[tmp_path / "model.pml", tmp_path / "inputs.bin", tmp_path / "outputs.bin"])
    assert "backend python" in out
    got = (tmp_path / "outputs.bin").read_bytes()
    size = int(np.prod(model.tensors[model.outputs[0].tensor].shape))
    assert len(got) == size * len(inputs)
    for k, x in enumerate(inputs):
        expected = reference.run(model, [x])[0].reshape(-1).tobytes()
        assert got[k * size:(k + 1) * size] == expected, "input %d differs" % k
    times = [int(t) for t in out.split("us", 1)[1].split()]
    return times


@pytest.mark.parametrize("path", MLPERF, ids=lambda p: p.stem)
def test_mlperf_model_matches_reference(path, tmp_path):
    blob = blob_of(path)
    model = format.read(blob)
    t = input_tensor(model)
    count = MLPERF_INPUTS[path.stem]
    candidates = test_inputs(t.shape, t.zero_point, max(count, 8), seed=7)
    # with few inputs, prefer the varied ones (random, clustered, smooth) over the constant extremes
    inputs = (candidates[3:] + candidates[:3])[:count] if count < 5 else candidates[:count]
    times = run_and_compare(tmp_path, blob, inputs)
    print("%s: pure-Python backend %d us per inference (median of %d)"
          % (path.stem, sorted(times)[len(times) // 2], len(times)))


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_model_matches_reference(name, tmp_path):
    blob = blob_of(GENERATED[name])
    t = input_tensor(format.read(blob))
    run_and_compare(tmp_path, blob, test_inputs(t.shape, t.zero_point, GENERATED_INPUTS, seed=3))


def two_in_two_out_model():
    """A hand-made model with two inputs (one broadcast) and two outputs: ADD and MUL."""
    T = format.Tensor
    a = T((1, 2, 4), np.int8, 0.05, 3, offset=0)
    b = T((1, 1, 4), np.int8, 0.03, -2, offset=8)
    s = T((1, 2, 4), np.int8, 0.07, -5, offset=12)
    p = T((1, 2, 4), np.int8, 0.01, 1, offset=20)
    twice = 2 * max(a.scale, b.scale)
    m1, s1 = quantize_multiplier(a.scale / twice)
    m2, s2 = quantize_multiplier(b.scale / twice)
    mo, so = quantize_multiplier(twice / ((1 << 20) * s.scale))
    add = format.Op("ADD", [0, 1], [2], {
        "input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": s.zero_point,
        "left_shift": 20, "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2,
        "input2_shift": s2, "output_multiplier": mo, "output_shift": so, "act_min": -128, "act_max": 127})
    mm, ms = quantize_multiplier(a.scale * b.scale / p.scale)
    mul = format.Op("MUL", [0, 1], [3], {
        "input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": p.zero_point,
        "output_multiplier": mm, "output_shift": ms, "act_min": -100, "act_max": 100})
    return format.Model([a, b, s, p], [add, mul], [format.IO(0), format.IO(1)],
                        [format.IO(2), format.IO(3, float_edge=True)], {"labels": ["a", "b"]}, arena_size=28)


def test_two_inputs_two_outputs(tmp_path):
    model = two_in_two_out_model()
    blob = format.write(model)
    (tmp_path / "m.pml").write_bytes(blob)
    rng = np.random.default_rng(1)
    xa = rng.integers(-128, 128, (1, 2, 4)).astype(np.int8)
    xb = rng.integers(-128, 128, (1, 1, 4)).astype(np.int8)
    expected = reference.run(format.read(blob), [xa, xb])
    script = """
import picoml
from array import array
m = picoml.load(sys.argv[1], backend="python")
xa = array('b', %r)
xb = array('b', %r)
ys = m.predict([xa, xb])
print("int8", type(ys).__name__, len(ys), list(ys[0]), list(ys[1]))
same = m.predict((bytes(xa), bytearray(xb)))
print("same object", same is ys)
f = array('f', [0.0] * 8)
b = bytearray(8)
r = m.predict([xa, xb], out=[b, f])
print("out", list(array('b', b)), list(f))
try:
    m.predict(xa)
except ValueError as e:
    print("error", e)
import micropython
both = [xa, xb]
outs = [b, bytearray(8)]
m.predict(both)
m.predict(both, outs)
micropython.heap_lock()
try:
    m.predict(both)
    m.predict(both, outs)
    locked = "ok"
except MemoryError:
    locked = "allocates"
micropython.heap_unlock()
print("locked", locked)
print("top", m.top(1))
""" % (xa.reshape(-1).tolist(), xb.reshape(-1).tolist())
    out = run(script, args=[tmp_path / "m.pml"])
    lines = out.splitlines()
    assert lines[0] == "int8 list 2 %s %s" % (expected[0].reshape(-1).tolist(), expected[1].reshape(-1).tolist())
    assert lines[1] == "same object True"
    floats = reference.dequantize(expected[1], model.tensors[3].scale, model.tensors[3].zero_point)
    got = lines[2].split("] [")
    assert got[0] == "out " + str(expected[0].reshape(-1).tolist())[:-1]
    assert np.array_equal(np.array(eval("[" + got[1]), np.float32), floats.reshape(-1))
    assert "this model has 2 inputs" in lines[3]
    assert lines[4] == "locked ok"
    index = int(np.argmax(expected[1]))
    assert lines[5] == "top %r" % ((("a", "b")[index] if index < 2 else None, index),)


def test_errors_are_clear_and_the_interpreter_survives(tmp_path):
    blob = blob_of(KWS)
    h = struct.unpack_from(format.HEADER.format, blob, 0)
    ops_offset = h[11]
    bad = {
        "short": blob[:40],
        "magic": b"XML\0" + blob[4:],
        "truncated": blob[:-100],
        "flipped": blob[:5000] + bytes([blob[5000] ^ 0x01]) + blob[5001:],
        "newer": patched(blob, 4, "<H", 3),
        "older": patched(blob, 4, "<H", 1),
        "unknown_op": patched(blob, ops_offset, "<i", 99),
        "param_count": patched(blob, ops_offset + 12, "<i", 3),
        "overrun": patched(blob, 24, "<I", 1000),
    }
    for name, data in bad.items():
        (tmp_path / (name + ".pml")).write_bytes(data)
    (tmp_path / "good.pml").write_bytes(blob)
    script = """
import picoml
from array import array
d = sys.argv[1]
def attempt(name, f):
    try:
        f()
        print(name, "NO ERROR")
    except Exception as e:
        print(name, "|", type(e).__name__, "|", e)
for name in %r:
    attempt(name, lambda: picoml.load(d + "/" + name + ".pml", backend="python"))
attempt("from_buffer", lambda: picoml.load(open(d + "/flipped.pml", "rb").read(), backend="python"))
attempt("native", lambda: picoml.load(d + "/good.pml", backend="native"))
attempt("backend_name", lambda: picoml.load(d + "/good.pml", backend="cuda"))
attempt("source_type", lambda: picoml.load(42))
m = picoml.load(d + "/good.pml", backend="python")
attempt("top_first", lambda: m.top())
attempt("short_input", lambda: m.predict(bytes(10)))
attempt("long_list", lambda: m.predict([0.5] * 491))
attempt("int16_input", lambda: m.predict(array('h', [0] * 490)))
attempt("int_input", lambda: m.predict(7))
attempt("str_input", lambda: m.predict("x" * 490))
attempt("nan_input", lambda: m.predict([float("nan")] * 490))
attempt("bad_out", lambda: m.predict(bytes(490), out=array('h', [0] * 12)))
attempt("short_out", lambda: m.predict(bytes(490), out=bytearray(5)))
y = m.predict(bytes(490))
print("ALIVE", len(y))
view = memoryview(open(d + "/good.pml", "rb").read())
m2 = picoml.load(view, backend="python")
print("VIEW", m2.buffer is view, bytes(m2.predict(bytes(490))) == bytes(y))
""" % (list(bad),)
    out = run(script, args=[tmp_path])
    results = {}
    for line in out.splitlines():
        if "|" in line:
            name, kind, message = [s.strip() for s in line.split("|", 2)]
            results[name] = (kind, message)
    expected = {
        "short": ("ValueError", "shorter than the 64-byte header"),
        "magic": ("ValueError", "not a .pml file: magic"),
        "truncated": ("ValueError", "truncated or padded .pml: the header says %d bytes, the file has %d"
                      % (len(blob), len(blob) - 100)),
        "flipped": ("ValueError", "corrupt .pml: CRC32 mismatch"),
        "from_buffer": ("ValueError", "corrupt .pml: CRC32 mismatch"),
        "newer": ("ValueError", "format version 3; this picoml reads up to version 2: upgrade picoml"),
        "older": ("ValueError", "format version 1, from an older picoml; this picoml reads version 2: reconvert the "
                                "model with `picoml convert`"),
        "unknown_op": ("ValueError", "unknown op code 99 (op 0): this .pml needs a newer picoml"),
        "param_count": ("ValueError", "n_params is not this op's parameter count (got 3)"),
        "overrun": ("ValueError", "overruns its arena"),
        "native": ("ImportError", "backend='native' needs the _picoml native module built for this board "
                                  "(arch x64, .mpy version 6)"),
        "backend_name": ("ValueError", "unknown backend 'cuda'"),
        "source_type": ("TypeError", "give a file path or the .pml bytes"),
        "top_first": ("ValueError", "call predict()"),
        "short_input": ("ValueError", "input 0 takes 490 values (shape 1x49x10x1), got 10"),
        "long_list": ("ValueError", "input 0 takes 490 values (shape 1x49x10x1), got 491"),
        "int16_input": ("TypeError", "items are not bytes"),
        "int_input": ("TypeError", "must be int8 data"),
        "str_input": ("TypeError", "must be int8 data"),
        "nan_input": ("ValueError", "value 0 is NaN"),
        "bad_out": ("TypeError", "out must hold bytes"),
        "short_out": ("ValueError", "output 0 has 12 values (shape 1x12); out has room for 5"),
    }
    for name, (kind, fragment) in expected.items():
        assert name in results, "%s raised nothing:\n%s" % (name, out)
        assert results[name][0] == kind and fragment in results[name][1], (name, results[name])
    assert "ALIVE 12" in out
    assert "VIEW True True" in out          # a memoryview is used in place


ALLOCATION_SCRIPT = """
import gc, micropython, picoml
from array import array
for path in sys.argv[2:]:
    m = picoml.load(path, backend=sys.argv[1])
    shape = m.info()["inputs"][0]["shape"]
    n = 1
    for d in shape:
        n *= d
    x = array('b', [((i * 37) & 0xFF) - 128 for i in range(n)])
    outb = bytearray(len(m.predict(x)))
    m.predict(x)
    m.predict(x, outb)
    reps = 2 if n > 400 else 10
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(reps):
        m.predict(x)
        m.predict(x, outb)
    after = gc.mem_alloc()
    micropython.heap_lock()
    try:
        m.predict(x)
        m.predict(x, outb)
        locked = "ok"
    except MemoryError:
        locked = "allocates"
    micropython.heap_unlock()
    gc.enable()
    print("ALLOC", path.split("/")[-1], after - before, locked)
"""


@pytest.mark.parametrize("backend", ["python", "viper", "native"])
def test_predict_allocates_nothing_after_warm_up(backend, tmp_path):
    """int8 in, int8 out: no heap allocation per predict, for every op (all generated models and kws), on
    every backend; the predict calls even run with the heap locked."""
    paths = []
    for name, src in sorted(GENERATED.items()):
        paths.append(tmp_path / (name + ".pml"))
        paths[-1].write_bytes(blob_of(src))
    paths.append(tmp_path / "kws.pml")
    paths[-1].write_bytes(blob_of(KWS))
    out = run(ALLOCATION_SCRIPT, args=[backend] + paths, mpy_dir=NATMOD_X64)
    lines = [line.split() for line in out.splitlines() if line.startswith("ALLOC")]
    assert len(lines) == len(paths)
    for _, name, delta, locked in lines:
        assert (delta, locked) == ("0", "ok"), (name, delta, locked)


@pytest.mark.parametrize("name", ["conv_float_io", "imu_float_io"])
def test_float_input_and_output(name, tmp_path):
    blob = blob_of(GENERATED[name])
    model = format.read(blob)
    t = input_tensor(model)
    o = model.tensors[model.outputs[0].tensor]
    assert model.inputs[0].float_edge and model.outputs[0].float_edge
    size = int(np.prod(t.shape))
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1.5, size).astype(np.float32)
    # exact halves of a step, zero, huge values (clamped), negative halves
    special = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.0, 1e9, -1e9, 1e-9], np.float32) * np.float32(t.scale)
    special[7:9] = [1e9, -1e9]
    x[:len(special)] = special
    (tmp_path / "m.pml").write_bytes(blob)
    (tmp_path / "x.f32").write_bytes(x.astype("<f4").tobytes())
    script = """
import picoml
from array import array
m = picoml.load(sys.argv[1], backend="python")
raw = open(sys.argv[2], "rb").read()
xf = array('f', raw)
xl = list(xf)
m._put(0, xl)
print("QUANT", bytes(m.inputs[0].data).hex())
outs = []
f = array('f', [0.0] * %d)
m.predict(xf, out=f)
lst = [0.0] * %d
m.predict(xl, out=lst)
i8 = m.predict(tuple(xl))
print("F32", bytes(f).hex())
print("LIST", bytes(array('f', lst)).hex())
print("I8", bytes(i8).hex())
""" % (o.nbytes, o.nbytes)
    out = run(script, args=[tmp_path / "m.pml", tmp_path / "x.f32"])
    fields = dict(line.split(" ", 1) for line in out.splitlines())
    quantized = reference.quantize(x, t.scale, t.zero_point)
    assert bytes.fromhex(fields["QUANT"]) == quantized.tobytes()
    expected = reference.run(model, [x.reshape(t.shape)])[0]
    assert bytes.fromhex(fields["I8"]) == expected.tobytes()
    floats = reference.dequantize(expected, o.scale, o.zero_point).astype("<f4").tobytes()
    assert bytes.fromhex(fields["F32"]) == floats
    assert bytes.fromhex(fields["LIST"]) == floats


def test_top_info_repr_benchmark(tmp_path):
    blob = blob_of(KWS, KWS_LABELS)
    model = format.read(blob)
    t = input_tensor(model)
    x = test_inputs(t.shape, t.zero_point, 5, seed=11)[4]
    expected = reference.run(model, [x])[0].reshape(-1)
    (tmp_path / "kws.pml").write_bytes(blob)
    script = """
import picoml
m = picoml.load(sys.argv[1], backend="python")
m.predict(bytes(%r))
print("TOP", repr(m.top()))
info = m.info()
for k in sorted(info):
    print("INFO", k, repr(info[k]))
print("REPR", repr(m))
print("BENCH", m.benchmark(2))
print("TOP2", repr(m.top()))
""" % (x.tobytes(),)
    out = run(script, args=[tmp_path / "kws.pml"])
    lines = out.splitlines()
    index = int(np.argmax(expected))
    assert lines[0] == "TOP %r" % ((KWS_LABELS[index], index),)
    info = {}
    for line in lines:
        if line.startswith("INFO "):
            _, key, value = line.split(" ", 2)
            info[key] = value
    assert info["backend"] == "'python'"
    assert info["ops"] == repr([op.name for op in model.ops])
    assert info["arena_bytes"] == "16000" and info["file_bytes"] == str(len(blob))
    assert info["weights_bytes"] == str(struct.unpack_from("<I", blob, 56)[0])
    assert info["labels"] == repr(KWS_LABELS)
    assert info["source"] == "'kws_ref_model.tflite'"
    assert info["arch"] == "'x64'"
    assert "(1, 49, 10, 1)" in info["inputs"] and "'zero_point': %d" % t.zero_point in info["inputs"]
    assert "(1, 12)" in info["outputs"] and "'scale': 0.00390625" in info["outputs"]
    assert "no _picoml module" in info["backend_notes"] or info["backend_notes"] == "[]"
    repr_line = next(line for line in lines if line.startswith("REPR "))
    assert repr_line == ("REPR <picoml.Model kws_ref_model.tflite: 12 ops, in 1x49x10x1 int8, out 1x12 int8, "
                         "arena 16000 B, weights %s B, file %d B, backend python>" % (info["weights_bytes"], len(blob)))
    bench = int(next(line for line in lines if line.startswith("BENCH ")).split()[1])
    assert 1000 < bench < 20_000_000
    assert lines[-1] == "TOP2 %r" % ((KWS_LABELS[index], index),)   # benchmark re-ran the same input
    print("kws_ref_model: benchmark() says %d us per inference (pure Python, unix port)" % bench)


def test_arena_that_does_not_fit_raises_memory_error(tmp_path):
    """The arena is allocated at load: too big for the heap -> MemoryError with the bytes wanted and free."""
    blob = blob_of(GENERATED["dense_fused_acts"])
    huge = patched(blob, 24, "<I", 3_000_000)
    (tmp_path / "huge.pml").write_bytes(huge)
    (tmp_path / "ok.pml").write_bytes(blob)
    script = """
import picoml
try:
    picoml.load(sys.argv[1], backend="python")
    print("NO ERROR")
except MemoryError as e:
    print("MemoryError:", e)
m = picoml.load(sys.argv[2], backend="python")
print("ALIVE", len(m.predict(bytes(64))))
"""
    out = run(script, heapsize="512k", args=[tmp_path / "huge.pml", tmp_path / "ok.pml"])
    line = out.splitlines()[0]
    assert line.startswith("MemoryError: picoml: the arena needs 3000000 bytes of RAM; ")
    assert line.endswith(" bytes are free")
    free = int(line.split("; ")[1].split()[0])
    assert 0 < free < 512 * 1024
    assert "ALIVE 6" in out


def test_every_device_module_compiles_with_mpy_cross(tmp_path):
    """mpy-cross accepts every module, as the boards' own settings too (31-bit small ints on the 32-bit ones)."""
    modules = sorted(p.stem for p in (DEVICE / "picoml").glob("*.py"))
    assert {"__init__", "pml", "model", "kernels_python"} <= set(modules)
    for arch in (None, "armv6m", "armv7emsp", "xtensawin"):     # None: the unix port's own arch
        extra = [] if arch is None else ["-march=%s" % arch, "-msmall-int-bits=31"]
        out = tmp_path / (arch or "host")
        built = compile_mpy(out, extra_args=extra)
        assert sorted(p.stem for p in built) == modules
        assert all(p.stat().st_size > 0 for p in built)


# Heap for kws, in multiples of its .pml: what stays in RAM (file, arena, code, prepared kernels) is about 3x
# the file on the x64 unix port (objects are twice their 32-bit size here); loading needs more for a moment
# (the loader, fragmentation) and 4x proved too tight to be repeatable, so 5x. The emulated 32-bit boards
# (tests/test_qemu_micropython.py) check the real budgets.
SMALL_HEAP_FACTOR = 5


def test_kws_runs_from_mpy_in_a_small_heap(tmp_path):
    blob = blob_of(KWS)
    heap = SMALL_HEAP_FACTOR * len(blob)
    compile_mpy(tmp_path / "lib")
    model = format.read(blob)
    t = input_tensor(model)
    x = test_inputs(t.shape, t.zero_point, 4, seed=2)[3]
    (tmp_path / "kws.pml").write_bytes(blob)
    script = """
import gc, picoml
print("module", picoml.__file__)
m = picoml.load(sys.argv[1], backend="python")
gc.collect()
print("free", gc.mem_free())
print("modules", ",".join(sorted([k for k in sys.modules if k.startswith("picoml")])))
y = m.predict(bytes(%r))
print("OUT", bytes(y).hex())
""" % (x.tobytes(),)
    out = run(script, heapsize=str(heap), mpy_dir=tmp_path / "lib", args=[tmp_path / "kws.pml"])
    fields = dict(line.split(" ", 1) for line in out.splitlines())
    assert fields["module"].endswith(".mpy")
    assert fields["modules"] == "picoml,picoml.kernels_python,picoml.model"     # the loader was dropped
    assert bytes.fromhex(fields["OUT"]) == reference.run(model, [x])[0].tobytes()
    print("kws_ref_model in a %d-byte heap (%d x %d): %s bytes free after load, so %d bytes in use"
          % (heap, SMALL_HEAP_FACTOR, len(blob), fields["free"], heap - int(fields["free"])))


def test_pure_python_crc32_matches_binascii(tmp_path):
    blob = blob_of(GENERATED["dense_fused_acts"])
    (tmp_path / "m.pml").write_bytes(blob)
    script = """
from picoml import pml
import binascii
data = open(sys.argv[1], "rb").read()
print(pml._crc32_py(memoryview(data)[16:]), binascii.crc32(memoryview(data)[16:]), pml._crc32_py(b""))
"""
    a, b, empty = run(script, args=[tmp_path / "m.pml"]).split()
    assert int(a) == int(b) == zlib.crc32(blob[16:]) and int(empty) == 0


def package_copy(tmp_path, viper_source=None):
    """A copy of the device package, without kernels_viper or with the given source as kernels_viper; the
    directory to put first on sys.path."""
    root = tmp_path / ("with_fake_viper" if viper_source else "without_viper")
    shutil.copytree(DEVICE / "picoml", root / "picoml", ignore=shutil.ignore_patterns("kernels_viper.py"))
    if viper_source:
        (root / "picoml" / "kernels_viper.py").write_text(viper_source)
    return root


def test_backend_selection_native_and_viper_fallbacks(tmp_path):
    """Auto mode without _picoml and kernels_viper uses python and says why; an _picoml built for another arch
    is caught in auto mode and named when forced; a native module that refuses the model is reported; a
    kernels_viper module supplies the ops it has and kernels_python the rest."""
    blob = blob_of(KWS)
    model = format.read(blob)
    (tmp_path / "kws.pml").write_bytes(blob)
    x = test_inputs(input_tensor(model).shape, input_tensor(model).zero_point, 4, seed=9)[3]
    expected = reference.run(model, [x])[0].tobytes().hex()

    # a _picoml.mpy for armv7emsp: importing it on x64 raises ValueError("incompatible .mpy arch")
    wrong = package_copy(tmp_path)
    (tmp_path / "_picoml.py").write_text("import micropython\n@micropython.native\ndef check(b, n):\n    return 0\n")
    import subprocess
    subprocess.run([mpy_cross(), "-march=armv7emsp", "-o", str(wrong / "_picoml.mpy"), str(tmp_path / "_picoml.py")],
                   check=True)
    script = """
import picoml
m = picoml.load(sys.argv[1])
print("AUTO", m.backend, m.info()["backend_notes"])
try:
    picoml.load(sys.argv[1], backend="native")
except ImportError as e:
    print("FORCED", e)
"""
    out = run(script, mpy_dir=wrong, args=[tmp_path / "kws.pml"])
    assert "AUTO python" in out and "incompatible .mpy arch" in out and "this board needs it built for arch x64" in out
    assert "FORCED picoml: backend='native' needs the _picoml native module built for this board (arch x64, " \
           ".mpy version 6)" in out and "incompatible .mpy arch" in out

    # a native module that accepts the model (running the python kernels) and one that refuses it: its
    # ValueError(op, tensor, rule, detail, value) is worded by picoml.validate as the Python backends word it
    fake = package_copy(tmp_path / "n")
    (fake / "_picoml.py").write_text("""
REFUSE = [None]
class Model:
    def __init__(self, buf, arena):
        if REFUSE[0]:
            raise ValueError(*REFUSE[0])
        from picoml import kernels_python, pml, validate
        header = pml.check_header(buf)
        class Prepared:
            pass
        p = Prepared()
        p.buffer = buf
        p._steps = (validate.check(buf, len(arena)), arena, header[10], header[16], None)
        kernels_python.prepare(p)
        self.steps = p._steps
    def invoke(self):
        for run, state in self.steps:
            run(state)
""")
    script = """
import picoml, _picoml
data = open(sys.argv[1], "rb").read()
x = bytes.fromhex(%r)
m = picoml.load(data)
print("NATIVE", m.backend, bytes(m.predict(x)).hex())
_picoml.REFUSE[0] = (0, -1, %d, -1, 5)
for backend in (None, "native"):
    try:
        picoml.load(data, backend)
    except ValueError as e:
        print("REFUSED", e)
""" % (x.tobytes().hex(), rules.RULE["FILTER_DEPTH"])
    out = run(script, mpy_dir=fake, args=[tmp_path / "kws.pml"])
    lines = out.splitlines()
    assert lines[0] == "NATIVE native " + expected
    refused = "the filter's depth must equal the input's channels (got 5)"
    assert lines[1].startswith("REFUSED picoml: op 0 (CONV_2D, layer ") and lines[1].endswith(refused), lines[1]
    assert lines[2] == lines[1]

    # a kernels_viper supplying SOFTMAX only
    package = package_copy(tmp_path, """
from picoml import kernels_python
calls = [0]
def run_softmax(state):
    calls[0] += 1
    kernels_python.run_softmax(state)
KERNELS = {6: (kernels_python.prepare_softmax, run_softmax)}
""")
    script = """
import picoml
from picoml import kernels_viper
m = picoml.load(sys.argv[1])
y = m.predict(bytes.fromhex(%r))
info = m.info()
print("VIPER", m.backend, kernels_viper.calls[0], info["python_ops"], bytes(y).hex())
print("NOTES", info["backend_notes"])
print("FORCED", picoml.load(sys.argv[1], backend="viper").backend)
""" % (x.tobytes().hex(),)
    out = run(script, mpy_dir=package, args=[tmp_path / "kws.pml"])
    lines = out.splitlines()
    assert lines[0] == "VIPER viper 1 %s %s" % (list(range(11)), expected)
    assert "no _picoml module" in lines[1]
    assert lines[2] == "FORCED viper"
