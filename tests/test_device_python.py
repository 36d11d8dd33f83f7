"""The device library (device/picoml) in the MicroPython unix port, mostly with its pure-Python backend: several
inputs and outputs, errors, allocation per predict, floats at the edges, info/top/benchmark, small heaps, mpy-cross,
backend selection and fallbacks. The device side of each test is a program in tests/device/. (Every model's bytes on
every backend: test_runtimes.py.)"""
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

import models
from conftest import DEVICE_PROGRAMS, ROOT, device, test_inputs
from picoml import format, optable, reference, rules
from picoml.convert import convert
from picoml.fixedpoint import quantize_multiplier
from picoml import resources
from picoml.runtimes.unix import compile_library, mpy_cross

DEVICE = resources.device_library()

KWS = "kws_ref_model"
KWS_LABELS = ["silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def patched(blob, offset, fmt, value, fix_crc=True):
    """`blob` with one header/table field replaced (and the CRC recomputed, so only that field is wrong)."""
    data = bytearray(blob)
    struct.pack_into(fmt, data, offset, value)
    if fix_crc:
        struct.pack_into("<I", data, 12, zlib.crc32(bytes(data[16:])))
    return bytes(data)


def input_tensor(model, i=0):
    return model.tensors[model.inputs[i].tensor]


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
    r = device("two_inputs_two_outputs", tmp_path / "m.pml", xa.tobytes().hex(), xb.tobytes().hex())
    assert r["outputs"] == ["list", 2, expected[0].reshape(-1).tolist(), expected[1].reshape(-1).tolist()]
    assert r["same_object"] is True
    floats = reference.dequantize(expected[1], model.tensors[3].scale, model.tensors[3].zero_point)
    assert r["out"][0] == expected[0].reshape(-1).tolist()
    assert bytes.fromhex(r["out"][1]) == floats.astype("<f4").tobytes()
    assert "this model has 2 inputs" in r["one_input"]
    assert r["locked"] == "ok"
    index = int(np.argmax(expected[1]))
    assert r["top"] == [("a", "b")[index] if index < 2 else None, index]


def test_errors_are_clear_and_the_interpreter_survives(tmp_path):
    blob = models.pml(KWS)
    h = struct.unpack_from(format.HEADER.format, blob, 0)
    ops_offset = h[11]
    bad = {
        "short": blob[:40],
        "magic": b"XML\0" + blob[4:],
        "truncated": blob[:-100],
        "flipped": blob[:5000] + bytes([blob[5000] ^ 0x01]) + blob[5001:],
        "newer": patched(blob, 4, "<H", format.VERSION + 1),
        "older": patched(blob, 4, "<H", 1),
        "unknown_op": patched(blob, ops_offset, "<i", 99),
        "param_count": patched(blob, ops_offset + 12, "<i", 3),
        "overrun": patched(blob, 24, "<I", 1000),
    }
    for name, data in bad.items():
        (tmp_path / (name + ".pml")).write_bytes(data)
    (tmp_path / "good.pml").write_bytes(blob)
    r = device("load_errors", tmp_path, *bad)
    results = {name: error for name, error in r["errors"].items()}
    expected = {
        "short": ("ValueError", "shorter than the 64-byte header"),
        "magic": ("ValueError", "not a .pml file: magic"),
        "truncated": ("ValueError", "truncated or padded .pml: the header says %d bytes, the file has %d"
                      % (len(blob), len(blob) - 100)),
        "flipped": ("ValueError", "corrupt .pml: CRC32 mismatch"),
        "from_buffer": ("ValueError", "corrupt .pml: CRC32 mismatch"),
        "newer": ("ValueError", "format version %d; this picoml reads up to version %d: upgrade picoml"
                  % (format.VERSION + 1, format.VERSION)),
        "older": ("ValueError", "format version 1, from an older picoml; this picoml reads versions 2 to %d: "
                                "reconvert the model with `picoml convert`" % format.VERSION),
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
        "bad_out": ("TypeError", "out must be writable and hold bytes"),
        # (a read-only out was told it "must hold bytes", which it does)
        "read_only_out": ("TypeError", "out must be writable and hold bytes (array('b'), bytearray) or floats "
                                       "(array('f'), list); a memoryview of bytes is read-only"),
        "short_out": ("ValueError", "output 0 has 12 values (shape 1x12); out has room for 5"),
        # (these raised TypeError from inside top(): "unsupported types for __le__: 'int', 'str'")
        "top_str": ("ValueError", "this model has 1 output(s): top(output) takes 0..0"),
        "top_float": ("ValueError", "this model has 1 output(s): top(output) takes 0..0"),
    }
    for name, (kind, fragment) in expected.items():
        assert results[name] is not None, "%s raised nothing" % name
        assert results[name][0] == kind and fragment in results[name][1], (name, results[name])
    assert r["alive"] == 12
    assert r["in_place"] and r["same"]          # a memoryview is used in place


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["python", "viper", "native"])
def test_predict_allocates_nothing_after_warm_up(backend, tmp_path):
    """int8 in, int8 out: no heap allocation per predict, for every op (all generated models and kws), on
    every backend; the predict calls even run with the heap locked."""
    paths = []
    for name in models.GENERATED + [KWS]:
        paths.append(tmp_path / (name + ".pml"))
        paths[-1].write_bytes(models.pml(name))
    r = device("allocation", backend, *paths, natmod=True)
    assert sorted(r) == sorted(p.name for p in paths)
    for name, (delta, locked) in r.items():
        assert (delta, locked) == (0, "ok"), (name, delta, locked)


@pytest.mark.parametrize("name", ["conv_float_io", "imu_float_io"])
def test_float_input_and_output(name, tmp_path):
    blob = models.pml(name)
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
    r = device("float_io", tmp_path / "m.pml", tmp_path / "x.f32", int(np.prod(o.shape)))
    quantized = reference.quantize(x, t.scale, t.zero_point)
    assert bytes.fromhex(r["quantized"]) == quantized.tobytes()
    expected = reference.run(model, [x.reshape(t.shape)])[0]
    assert bytes.fromhex(r["int8"]) == expected.tobytes()
    floats = reference.dequantize(expected, o.scale, o.zero_point).astype("<f4").tobytes()
    assert bytes.fromhex(r["f32"]) == floats
    assert bytes.fromhex(r["list"]) == floats


def test_top_info_repr_benchmark(tmp_path):
    path = models.tflite(KWS)
    blob = format.write(convert(path.read_bytes(), path.name, labels=KWS_LABELS, measure_tflm=False))
    model = format.read(blob)
    t = input_tensor(model)
    x = test_inputs(t.shape, t.zero_point, 5, seed=11)[4]
    expected = reference.run(model, [x])[0].reshape(-1)
    (tmp_path / "kws.pml").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    r = device("describe", tmp_path / "kws.pml", tmp_path / "x.bin")
    index = int(np.argmax(expected))
    assert r["top"] == [KWS_LABELS[index], index]
    info = r["info"]
    assert info["backend"] == "'python'"
    assert info["ops"] == repr([op.name for op in model.ops])
    assert info["arena_bytes"] == str(model.arena_size) and info["file_bytes"] == str(len(blob))
    assert info["weights_bytes"] == str(struct.unpack_from("<I", blob, 56)[0])
    assert info["labels"] == repr(KWS_LABELS)
    assert info["source"] == "'kws_ref_model.tflite'"
    assert info["arch"] == "'x64'"
    assert "(1, 49, 10, 1)" in info["inputs"] and "'zero_point': %d" % t.zero_point in info["inputs"]
    assert "(1, 12)" in info["outputs"] and "'scale': 0.00390625" in info["outputs"]
    assert "no _picoml module" in info["backend_notes"] or info["backend_notes"] == "[]"
    assert r["repr"] == ("<picoml.Model kws_ref_model.tflite: 12 ops, in 1x49x10x1 int8, out 1x12 int8, "
                         "arena %d B, weights %s B, file %d B, backend python>"
                         % (model.arena_size, info["weights_bytes"], len(blob)))
    bench = r["benchmark_us"]
    assert 1000 < bench < 20_000_000
    assert r["top_after"] == [KWS_LABELS[index], index]   # benchmark re-ran the same input
    print("kws_ref_model: benchmark() says %d us per inference (pure Python, unix port)" % bench)


def test_arena_that_does_not_fit_raises_memory_error(tmp_path):
    """The arena is allocated at load: too big for the heap -> MemoryError with the bytes wanted and free."""
    blob = models.pml("dense_fused_acts")
    huge = patched(blob, 24, "<I", 3_000_000)
    (tmp_path / "huge.pml").write_bytes(huge)
    (tmp_path / "ok.pml").write_bytes(blob)
    r = device("arena_too_big", tmp_path / "huge.pml", tmp_path / "ok.pml", heapsize="512k")
    error = r["error"]
    assert error.startswith("picoml: the arena needs 3000000 bytes of RAM; ")
    assert error.endswith(" bytes are free")
    free = int(error.split("; ")[1].split()[0])
    assert 0 < free < 512 * 1024
    assert r["alive"] == 6


def test_a_file_that_does_not_fit_raises_memory_error_naming_its_size(tmp_path):
    """The file is read into one bytes object (immutable, test_device_native.py): a file larger than the heap is
    a MemoryError naming the file and its size, as when it was read into a bytearray."""
    (tmp_path / "huge.pml").write_bytes(bytes(600_000))
    (tmp_path / "ok.pml").write_bytes(models.pml("dense_fused_acts"))
    r = device("arena_too_big", tmp_path / "huge.pml", tmp_path / "ok.pml", heapsize="512k")
    assert r["error"].startswith("picoml: the model file %s needs 600000 bytes of RAM; " % (tmp_path / "huge.pml"))
    assert r["alive"]


def test_every_device_module_compiles_with_mpy_cross(tmp_path):
    """mpy-cross accepts every module, as the boards' own settings too (31-bit small ints on the 32-bit ones)."""
    modules = sorted(p.relative_to(DEVICE).with_suffix("").as_posix() for p in (DEVICE / "picoml").rglob("*.py"))
    assert {"picoml/__init__", "picoml/pml", "picoml/model", "picoml/prepare", "picoml/kernels_python"} <= \
        set(modules)
    for arch in (None, "armv6m", "armv7emsp", "xtensawin"):     # None: the unix port's own arch
        extra = [] if arch is None else ["-march=%s" % arch, "-msmall-int-bits=31"]
        out = tmp_path / (arch or "host")
        built = compile_library(out, extra_args=extra)
        assert sorted(p.relative_to(out).with_suffix("").as_posix() for p in built) == modules
        assert all(p.stat().st_size > 0 for p in built)


# Heap for kws, in multiples of its .pml: what stays in RAM (file, arena, code, prepared kernels) is about 3x
# the file on the x64 unix port (objects are twice their 32-bit size here); loading needs more for a moment
# (the loader, fragmentation) and 4x proved too tight to be repeatable, so 5x. The emulated 32-bit boards
# (tests/test_qemu_micropython.py) check the real budgets.
SMALL_HEAP_FACTOR = 5


def test_kws_runs_from_mpy_in_a_small_heap(tmp_path):
    blob = models.pml(KWS)
    heap = SMALL_HEAP_FACTOR * len(blob)
    compile_library(tmp_path / "lib")
    model = format.read(blob)
    t = input_tensor(model)
    x = test_inputs(t.shape, t.zero_point, 4, seed=2)[3]
    (tmp_path / "kws.pml").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    r = device("small_heap", tmp_path / "kws.pml", tmp_path / "x.bin", heapsize=str(heap), path=[tmp_path / "lib"])
    assert r["module"].endswith(".mpy")
    # the loader was dropped; the kernels' load-time half stays with their runs (they share its helpers)
    assert r["modules"] == ["picoml", "picoml.kernels_python", "picoml.model", "picoml.prepare"]
    assert bytes.fromhex(r["output"]) == reference.run(model, [x])[0].tobytes()
    print("kws_ref_model in a %d-byte heap (%d x %d): %s bytes free after load, so %d bytes in use"
          % (heap, SMALL_HEAP_FACTOR, len(blob), r["free"], heap - r["free"]))


def test_a_prepare_short_of_memory_is_tried_once_more_first(tmp_path):
    """A MemoryError in an op's prepare (its table finding no hole its size between the other ops' states): every op
    prepared again once, that op first, the same bytes out; a second MemoryError, or one in the first op's, is the
    load's."""
    blob = models.pml(KWS)
    model = format.read(blob)
    codes = [optable.BY_NAME[op.name].code for op in model.ops]
    softmax, conv = optable.BY_NAME["SOFTMAX"].code, optable.BY_NAME["CONV_2D"].code
    assert codes[-1] == softmax and codes[0] == conv
    t = input_tensor(model)
    (tmp_path / "kws.pml").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(test_inputs(t.shape, t.zero_point, 1, seed=5)[0].tobytes())

    def run(code, failures):
        return device("prepare_retry", tmp_path / "kws.pml", tmp_path / "x.bin", code, failures)

    r = run(softmax, 1)
    assert r == {"same": True, "calls": codes + [softmax] + codes[:-1]}, r
    r = run(softmax, 2)
    assert r["calls"] == codes + [softmax] and "allocating 1024 bytes" in r["refused"], r
    r = run(conv, 1)
    assert r["calls"] == [conv] and "allocating 1024 bytes" in r["refused"], r


def test_pure_python_crc32_matches_binascii(tmp_path):
    blob = models.pml("dense_fused_acts")
    (tmp_path / "m.pml").write_bytes(blob)
    a, b, empty = device("crc32", tmp_path / "m.pml")
    assert a == b == zlib.crc32(blob[16:]) and empty == 0


def package_copy(folder, viper=None):
    """A copy of the device package in `folder`, without the viper kernels or with the file `viper` as
    kernels_viper; returns `folder`, to put first on sys.path."""
    shutil.copytree(DEVICE / "picoml", folder / "picoml", ignore=shutil.ignore_patterns("kernels_viper*.py"))
    if viper:
        shutil.copy(viper, folder / "picoml" / "kernels_viper.py")
    return folder


def test_backend_selection_native_and_viper_fallbacks(tmp_path):
    """Auto mode without _picoml and kernels_viper uses python and says why; an _picoml built for another arch
    is caught in auto mode and named when forced; a native module that refuses the model is reported; a
    kernels_viper module supplies the ops it has and kernels_python the rest."""
    blob = models.pml(KWS)
    model = format.read(blob)
    (tmp_path / "kws.pml").write_bytes(blob)
    x = test_inputs(input_tensor(model).shape, input_tensor(model).zero_point, 4, seed=9)[3]
    expected = reference.run(model, [x])[0].tobytes().hex()
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    fakes = DEVICE_PROGRAMS / "fakes"

    # a _picoml.mpy for armv7emsp: importing it on x64 raises ValueError("incompatible .mpy arch")
    wrong = package_copy(tmp_path / "wrong_arch")
    subprocess.run([mpy_cross(), "-march=armv7emsp", "-o", str(wrong / "_picoml.mpy"),
                    str(fakes / "wrong_arch_picoml.py")], check=True)
    r = device("backend_choice", tmp_path / "kws.pml", path=[wrong])
    backend, notes = r["auto"]
    assert backend == "python" and "incompatible .mpy arch" in str(notes)
    assert "this board needs it built for arch x64" in str(notes)
    assert r["forced"].startswith("picoml: backend='native' needs the _picoml native module built for this board "
                                  "(arch x64, .mpy version 6)") and "incompatible .mpy arch" in r["forced"]

    # a native module that accepts the model (running the python kernels) and one that refuses it: its
    # ValueError(op, tensor, rule, detail, value) is worded by picoml.validate as the Python backends word it
    fake = package_copy(tmp_path / "fake_native")
    shutil.copy(fakes / "native_picoml.py", fake / "_picoml.py")
    r = device("fake_native", tmp_path / "kws.pml", tmp_path / "x.bin", rules.RULE["FILTER_DEPTH"], path=[fake])
    assert r["native"] == ["native", expected]
    refused = "the filter's depth must equal the input's channels (got 5)"
    assert r["refused"][0].startswith("picoml: op 0 (CONV_2D, layer ") and r["refused"][0].endswith(refused), r
    assert r["refused"][1] == r["refused"][0]

    # a kernels_viper supplying SOFTMAX only
    package = package_copy(tmp_path / "fake_viper", viper=fakes / "kernels_viper.py")
    r = device("fake_viper", tmp_path / "kws.pml", tmp_path / "x.bin", path=[package])
    assert [r["backend"], r["viper_calls"], r["python_ops"], r["output"]] == ["viper", 1, list(range(11)), expected]
    assert r["early"] == len(model.ops)     # every op's kernel looked up before the file was read (its family imported)
    assert "no _picoml module" in str(r["notes"])
    assert r["forced"] == "viper"


@pytest.mark.parametrize("backend", ["python", "native"])
def test_int32_output_as_bytes_or_values(backend, tmp_path):
    """The generated arg_max model's int32 indices: predict's little-endian bytes, or its values into a list or
    an array('i'); an out of the wrong length refused, and top() (a new-user audit: it used to answer the index of
    the largest byte)."""
    blob = models.pml("arg_max")
    model = format.read(blob)
    t = input_tensor(model)
    x = test_inputs(t.shape, t.zero_point, 3, seed=4)[2]
    (tmp_path / "m.pml").write_bytes(blob)
    (tmp_path / "x.i8").write_bytes(x.tobytes())
    r = device("integer_output", tmp_path / "m.pml", tmp_path / "x.i8", backend, natmod=backend == "native")
    expected = reference.run(model, [x])[0].reshape(-1)
    assert expected.dtype == np.int32
    assert bytes.fromhex(r["raw"]) == expected.astype("<i4").tobytes()
    assert r["list"] == r["array"] == expected.tolist()
    assert "has room for %d" % (expected.size + 1) in r["refused"]
    # top() ranked the int32 indices' bytes as int8 scores (a byte's index, no error): refused, naming where to look
    assert r["top"] == ("picoml: top() ranks int8 scores; output 0 is int32: read its values with predict(x, "
                        "out=[...]) or from outputs[0].data")


@pytest.mark.parametrize("backend", ["python", "native"])
def test_an_int16_input_takes_its_values_and_refuses_half_its_bytes(backend, tmp_path):
    """The audio front-end's int16 input and scale-less int8 output, as a new user meets them at the REPL: a list
    of samples was refused with "input 0 takes 480 values (shape 1x480), got 480"; 480 bytes were taken as 480
    samples of 0..255 (half the input's 960 bytes: no error, wrong features); out=array('f') gave 40 zeros. A list
    or tuple of samples now runs as the array('h') does, the rest is refused naming what the input takes."""
    (tmp_path / "fe.pml").write_bytes((ROOT / "models" / "frontend" / "frontend.pml").read_bytes())
    r = device("wide_input", tmp_path / "fe.pml", backend, natmod=backend == "native")
    assert isinstance(r["array"], str) and r["list"] == r["tuple"] == r["array"], r
    assert r["bytes"] == r["array"]      # its 960 little-endian bytes
    for name in ("half_bytes", "half_bytearray"):
        assert r[name] == ["ValueError", "picoml: input 0 is int16: give its 960 little-endian bytes or its 480 "
                                         "values (e.g. an array('h') or a list), not 480 bytes"], r[name]
    for name in ("floats", "float_array"):
        assert r[name] == ["TypeError", "picoml: input 0 is int16: it takes integer values; value 0 is 0.5"], r[name]
    assert r["too_many"] == ["ValueError", "picoml: input 0 takes 480 values (shape 1x480), got 960"]
    for name in ("floats_out", "list_out"):
        assert r[name][0] == "ValueError" and "output 0 has no quantization scale" in r[name][1], r[name]
    assert ", in 1x480 int16, out 40 int8, " in r["repr"], r["repr"]       # (repr said "in 1x480 int8")
