"""picoml's own MicroPython 1.23 port (emulation/micropython) on emulated Cortex-M cores: the Cortex-M4F (qemu-m4,
mps2-an386, armv7emsp) and the Cortex-M0 (qemu-m0, microbit with 256 KiB RAM, armv6m), with the heap limited to
what a board leaves free (200,000 / 180,000 bytes). The firmware builds, loads the right _picoml.mpy and refuses
the wrong one; files, exit status, heap; the models larger than the heap fail in it with a MemoryError naming the
bytes wanted (from "flash", qemu.readfile_static: a memoryview outside the heap, as a file in ROMFS, they run);
the library as .py sources; exact instruction counts; no allocation per predict. (Every model's bytes on the
native, viper and pure-Python backends here: test_runtimes.py.) Needs qemu-system-arm and the Arm toolchain
(scripts/install-system-packages.sh) and `make qemu`."""
import json
import re
import subprocess
import zlib

import numpy as np
import pytest

import models
from conftest import test_inputs
from picoml import reference, rules
from picoml.errors import PicomlError
from picoml.runtimes import qemu

TARGETS = ("m4", "m0")
ARCH = {"m4": "armv7emsp", "m0": "armv6m"}
HEAP = {"m4": 200000, "m0": 180000}
LARGER_THAN_HEAP = ("vww_96_int8", "ad01_int8")      # the .pml alone is larger than the heap
pytestmark = pytest.mark.emulated

_model = models.model


def _inputs(model, count, seed=11):
    t = model.tensors[model.inputs[0].tensor]
    return [[x] for x in test_inputs(t.shape, t.zero_point, count, seed=seed)]


def _check(name, target, count, backend="native", model_in="ram", **options):
    model, blob = _model(name)
    inputs = _inputs(model, count)
    got = qemu.Qemu(target, model_in=model_in, **options).run_batch(blob, inputs, backend).outputs
    assert len(got) == len(inputs)
    for k, (outs, x) in enumerate(zip(got, inputs)):
        for ours, want in zip(outs, reference.run(model, x)):
            assert np.array_equal(ours, want), "%s on %s, input %d" % (name, target, k)


def _qemu(target, script_path, *args, heap=None):
    """Run a script file directly (not through run_script): (exit status, stdout)."""
    cmd = qemu.command(target, script_path.name, heap, args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=script_path.parent)
    return done.returncode, done.stdout


# -- the firmware and the port ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_firmware_builds(target):
    elf = qemu.firmware(target)
    data = elf.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 1 and int.from_bytes(data[18:20], "little") == 40   # 32-bit Arm
    size = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True).stdout
    text, data_ = [int(v) for v in size.splitlines()[1].split()[:2]]
    # the image fits the board's flash (mps2: 4 MiB code memory; microbit here: 1 MiB) with room for models
    assert text + data_ < (1 << 20) // 2, size
    assert qemu.run_script("print('hi')", target, library="py", natmod=False) == "hi\n"


@pytest.mark.parametrize("target", TARGETS)
def test_native_module_imports_and_names_its_arch(target):
    out = qemu.run_script(
        "import sys, gc, _picoml\n"
        "from picoml import report\n"
        "print(report.arch()[0], report.arch()[1], hex(sys.implementation._mpy), sys.platform)\n"
        "print(_picoml.__file__)\n"
        "try:\n    _picoml.Model(bytearray(10), bytearray(4))\nexcept ValueError as e:\n    print(e.args, 1.5 * 2)\n"
        "print(gc.mem_free() + gc.mem_alloc())\n", target)
    lines = out.splitlines()
    assert lines[0].split() == [ARCH[target], "6", {"m4": "0x1f06", "m0": "0x1306"}[target], "qemu-" + target]
    assert lines[1] == "natmod/_picoml.mpy"       # run_script's link to qemu.natmod_dir(target), first on sys.path
    assert lines[2] == "(-1, -1, %d, -1, 10) 3.0" % rules.RULE["SHORT"]
    # the heap is the board's, less the GC's allocation table (1/65 of it)
    assert HEAP[target] * 0.98 <= int(lines[3]) <= HEAP[target]


@pytest.fixture(scope="module")
def micro_speech_pml(tmp_path_factory):
    path = tmp_path_factory.mktemp("pml") / "micro_speech.pml"
    path.write_bytes(_model("micro_speech_quantized")[1])
    return path


def test_wrong_arch_module_refused_on_m0(micro_speech_pml):
    """An armv7emsp _picoml.mpy on the Cortex-M0: the loader refuses it, a forced native backend says which build
    this board needs, and the automatic choice falls back to viper."""
    out = qemu.run_script(
        "import picoml\n"
        "try:\n    import _picoml\nexcept ValueError as e:\n    print('IMPORT:', e)\n"
        "try:\n    picoml.load(%r, backend='native')\nexcept ImportError as e:\n    print('FORCED:', e)\n"
        "m = picoml.load(%r)\n"
        "print('AUTO:', m.backend, m.info()['backend_notes'])\n" % ((str(micro_speech_pml),) * 2),
        "m0", natmod=qemu.natmod_dir("m4"))
    assert "IMPORT: incompatible .mpy arch" in out
    forced = out.split("FORCED:", 1)[1].splitlines()[0]
    assert "arch armv6m" in forced and "incompatible .mpy arch" in forced, forced
    assert "AUTO: viper" in out


def test_m4_accepts_an_armv6m_module(micro_speech_pml):
    """By design a Cortex-M4 firmware loads armv6m native code (armv6m is a subset of armv7emsp)."""
    out = qemu.run_script("import picoml\nm = picoml.load(%r, backend='native')\nprint(m.backend)\n"
                          % str(micro_speech_pml), "m4", natmod=qemu.natmod_dir("m0"))
    assert out.split() == ["native"]


@pytest.mark.parametrize("target", TARGETS)
def test_exit_status_and_traceback(target, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n")
    assert _qemu(target, script, "7") == (7, "['7']\n")
    assert _qemu(target, script, "0") == (0, "['0']\n")
    script.write_text("def f():\n    raise ValueError('boom')\nprint('before')\nf()\n")
    status, out = _qemu(target, script)
    assert status == 1
    assert out.startswith("before\nTraceback (most recent call last):\n")
    assert 'File "s.py", line 2, in f' in out and out.endswith("ValueError: boom\n")
    with pytest.raises(PicomlError, match="ValueError: boom"):
        qemu.run_script("raise ValueError('boom')", target, natmod=False)


@pytest.mark.parametrize("target", TARGETS)
def test_heap_is_set_per_run_and_bounded(target, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import gc\nprint(gc.mem_free() + gc.mem_alloc())\n")
    status, out = _qemu(target, script, heap="64k")
    assert status == 0 and 65536 * 0.98 <= int(out) <= 65536
    status, out = _qemu(target, script, heap="8m")
    assert status == 2 and "more than the" in out


@pytest.mark.parametrize("target", TARGETS)
def test_files_and_modules_the_library_uses(target, tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 3)
    out = qemu.run_script(
        "import os, json, binascii, struct, array, time, gc, micropython\n"
        "p = 'data.bin'\n"
        "print(os.stat(p)[6], os.stat('.')[0] == 0x4000)\n"
        "b = bytearray(500)\n"
        "with open(p, 'rb') as f:\n"
        "    print(f.readinto(b), f.readinto(memoryview(b)[10:]), f.readinto(b), f.tell())\n"
        "    f.seek(3)\n"
        "    print(f.read(2), f.read(0))\n"
        "print(binascii.crc32(open(p, 'rb').read()))\n"
        "with open('out.txt', 'w') as f:\n"
        "    f.write('a\\nb\\n')\n"
        "print(open('out.txt').readlines(), [l for l in open('out.txt')])\n"
        "os.remove('out.txt')\n"
        "try:\n    open('out.txt')\nexcept OSError as e:\n    print('gone', e.args[0])\n"
        "print(json.dumps(json.loads('{\"labels\": [\"yes\", \"no\"], \"n\": -3, \"t\": true, \"z\": null}')))\n"
        "print(struct.unpack_from('<HI', b'\\x01\\x00\\x02\\x00\\x00\\x00'), array.array('b', [1, -1]))\n"
        "t = time.ticks_us()\n"
        "print(time.ticks_diff(time.ticks_us(), t) >= 0, time.ticks_diff(1, 2**30 - 1))\n"
        "micropython.heap_lock()\n"
        "try:\n    bytearray(10)\nexcept MemoryError:\n    print('locked')\n"
        "micropython.heap_unlock()\n", target, natmod=False, cwd=tmp_path)
    lines = out.splitlines()
    data = bytes(range(256)) * 3
    assert lines[0] == "768 True"
    assert lines[1] == "500 268 0 768"
    assert lines[2] == "b'\\x03\\x04' b''"
    assert int(lines[3]) == zlib.crc32(data)
    assert lines[4] == "['a\\n', 'b\\n'] ['a\\n', 'b\\n']"
    assert lines[5] == "gone 2"
    assert json.loads(lines[6]) == {"labels": ["yes", "no"], "n": -3, "t": True, "z": None}
    assert lines[7] == "(1, 2) array('b', [1, -1])"
    assert lines[8] == "True 2"
    assert lines[9] == "locked"


# -- models -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(set(models.REAL) - set(models.FITS_BOARD_HEAP)))
def test_models_larger_than_the_heap_are_refused_in_ram(name, target):
    """Loaded into the board's heap, a model whose file is larger than the heap is refused with a MemoryError
    naming the bytes wanted. The ResNet (85 KB file + 48 KB arena + the library and the 20-27 KB native module
    in the heap) is at the edge: it must run exactly or fail cleanly. (In flash, and the models that fit in RAM,
    on every backend: test_runtimes.py.)"""
    model, blob = _model(name)
    try:
        _check(name, target, 2)
    except PicomlError as e:
        text = str(e)
        assert "MemoryError: picoml:" in text, text
        wanted = [int(n) for n in re.findall(r"needs (\d+) bytes of RAM", text)]
        if name in LARGER_THAN_HEAP:
            assert wanted == [len(blob)], text
        else:
            assert wanted and wanted[0] in (len(blob), model.arena_size), text
    else:
        assert name not in LARGER_THAN_HEAP, "%s cannot fit a %d-byte heap" % (name, HEAP[target])


def test_viper_add_model_loads_on_m0_at_the_board_heap():
    """The viper ADD tables, once built as growing lists, fragmented a 180,000-byte heap ('memory allocation
    failed, allocating 1028 bytes'); filled in place (kernels_viper._byte_table) they load."""
    _check("residual_add", "m0", 1, backend="viper", model_in="flash")


@pytest.mark.parametrize("target", TARGETS)
def test_library_as_py_sources(target):
    """The .py sources compiled on the board (no mpy-cross) run too, for a model that leaves room for it."""
    _check("micro_speech_quantized", target, 3, library="py")


@pytest.mark.parametrize("target", TARGETS)
def test_bench_counts_instructions_exactly_with_icount(target):
    """-icount shift=0: the guest clock is one instruction per nanosecond, so bench's "us" is thousands of
    instructions per inference, identical from run to run."""
    blob = _model("str_ww_ref_model")[1]
    a = qemu.Qemu(target, icount=True).bench(blob, "native", 3)
    b = qemu.Qemu(target, icount=True).bench(blob, "native", 3)
    assert a == b, (a, b)
    assert a.backend == "native" and 10 ** 6 < a.instructions < 10 ** 8, a
    assert 0 < a.heap_used < HEAP[target]


@pytest.mark.parametrize("backend", ["native", "viper"])
@pytest.mark.parametrize("target", TARGETS)
def test_predict_allocates_nothing_with_the_heap_locked(target, backend, micro_speech_pml):
    """On the boards' 32-bit words too (viper: its SOFTMAX keeps every value in machine words; kernels_python's
    made long ints there)."""
    out = qemu.run_script(
        "import picoml, micropython\n"
        "m = picoml.load(%r, backend=%r)\nx = bytearray(%d)\nm.predict(x)\n"
        "micropython.heap_lock()\nm.predict(x)\nmicropython.heap_unlock()\nprint(m.backend)\n"
        % (str(micro_speech_pml), backend, _model("micro_speech_quantized")[0].tensors[
            _model("micro_speech_quantized")[0].inputs[0].tensor].nbytes), target)
    assert out.split() == [backend]


@pytest.mark.parametrize("name", ["softsign", "l2_norm", "log_softmax"])
def test_viper_row_and_division_ops_allocate_nothing_on_32_bits(name, tmp_path):
    """DIV, L2_NORMALIZATION and LOG_SOFTMAX in viper code: the heap locked around predict on the emulated M4
    (kernels_python's long ints there allocated 21 to 177 KB per inference)."""
    model, blob = _model(name)
    (tmp_path / "m.pml").write_bytes(blob)
    out = qemu.run_script(
        "import picoml, micropython\nm = picoml.load(%r, backend='viper')\nx = bytearray(%d)\nm.predict(x)\n"
        "micropython.heap_lock()\nm.predict(x)\nmicropython.heap_unlock()\nprint(m.backend, m.python_ops)\n"
        % (str(tmp_path / "m.pml"), model.tensors[model.inputs[0].tensor].nbytes), "m4", heapsize=1000000)
    assert out.split() == ["viper", "[]"]


def test_m0_without_float_loads_the_native_module():
    """The float-less Cortex-M0 build (MICROPY_FLOAT_IMPL_NONE) loads armv6m native modules."""
    out = qemu.run_script(
        "import sys, _picoml\ntry:\n    _picoml.Model(bytearray(10), bytearray(4))\nexcept ValueError as e:\n"
        "    print(hex(sys.implementation._mpy), e.args[2])\n", "m0-nofloat", natmod=qemu.natmod_dir("m0"),
        library="py")
    assert out.split() == ["0x1306", str(rules.RULE["SHORT"])]


def test_library_runs_on_m0_without_float(micro_speech_pml):
    """The float conversions live in picoml.values, imported only when floats are given: an int8 application
    loads and predicts on a port without float."""
    model = _model("micro_speech_quantized")[0]
    out = qemu.run_script("import picoml\nm = picoml.load(%r)\ny = m.predict(bytes(%d))\nprint(m.backend, len(y))\n"
                          % (str(micro_speech_pml), model.tensors[model.inputs[0].tensor].nbytes), "m0-nofloat",
                          library="py")
    assert out.split() == ["native", str(model.tensors[model.outputs[0].tensor].nbytes)]
