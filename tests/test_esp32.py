"""The ESP32 (xtensawin) native module: built by `make natmod` with Debian's clang-22 standing in for Espressif's
gcc (scripts/xtensawin/, docs/esp32.md): a native .mpy for xtensawin, code for the windowed register ABI that
MicroPython's xtensawin native code calls and is called with; the same compiler's kernels bare-metal on QEMU's
Xtensa dc233c core (`make baremetal`, the runtime bare-xtensa: the module's very instructions, its MUL32_HIGH
instructions done by emulation/xtensa/start.S's exception handler), byte-identical to the reference; and the module
itself loaded by picoml's MicroPython port built for that core (`make qemu-xtensa`, emulation/micropython/, the
runtime qemu-xtensa), the device library predicting with it, byte-identical to the reference. An emulated core, not an
ESP32."""
import re
import subprocess
import tempfile

import numpy as np
import pytest

import models
from conftest import ROOT

NATMOD = ROOT / "build" / "natmod" / "xtensawin"
OBJDUMP = "/usr/lib/llvm-22/bin/llvm-objdump"
FEATURES = "+windowed,+density,+mul32,+mul32high,+div32,+sext,+nsa,+minmax,+clamps,+loop,+mac16,+bool,+fp"


def _objects():
    objects = sorted(NATMOD.glob("build/**/*.o"))
    assert len(objects) == len(list((ROOT / "native_module").glob("*.c"))), "run make natmod"
    return objects


def test_module_header_is_xtensawin():
    """'M', .mpy version 6, sub-version 3, arch xtensawin (10) in the top bits of the flags byte."""
    header = (NATMOD / "_picoml.mpy").read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == 6
    assert header[2] >> 2 == 10 and header[2] & 3 == 3


def _text_name(obj):
    """The object's code section: the stand-in names each section after its object (.text.conv), which keeps
    mpy_ld.py's GOT names apart (scripts/xtensawin/xtensa-esp32-elf-gcc)."""
    return ".text." + obj.stem


def _disassembly(obj):
    return subprocess.run([OBJDUMP, "-d", "-j", _text_name(obj), "--no-show-raw-insn", "--mattr=" + FEATURES, str(obj)],
                          check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("obj", _objects() if NATMOD.exists() else [], ids=lambda p: p.name)
def test_every_function_uses_the_windowed_abi(obj):
    """Each function opens with `entry`, returns with retw, calls with callx8; nothing of the call0 ABI."""
    text = _disassembly(obj)
    functions = re.findall(r"^[0-9a-f]+ <([^>]+)>:\n\s+[0-9a-f]+:\s+(\S+)", text, re.M)
    if not functions and obj.name.endswith(("_simd32.o", "_armv6m.o")):
        return      # a kernel file of another core (Cortex-M4, Cortex-M0) is empty here
    assert functions, text[:500]
    for name, first in functions:
        assert first == "entry", "%s: %s starts with %s" % (obj.name, name, first)
    mnemonics = set(re.findall(r"^\s+[0-9a-f]+:\s+(\S+)", text, re.M))
    assert mnemonics & {"retw", "retw.n"}
    assert not mnemonics & {"ret", "ret.n", "call0", "callx0", "call4", "callx4", "call12", "callx12"}, obj.name


def test_built_modules_exist():
    """The parametrized test above must not pass by finding nothing."""
    assert NATMOD.exists(), "run make natmod"
    assert _objects()


def run_xtensa(blob, samples):
    """The bare-metal harness on QEMU's dc233c core (the runtime bare-xtensa): [output bytes per sample]."""
    from picoml.runtimes import bare
    return [_bytes(outputs) for outputs in bare.run("xtensa", blob, samples, count_insns=False).outputs]


def _bytes(arrays):
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


def _section(obj, name):
    from elftools.elf.elffile import ELFFile
    with open(obj, "rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        return sec.data() if sec is not None else b""


def test_emulated_kernels_are_the_modules_code():
    """The kernel objects linked into the QEMU image have the very instructions of the native module's objects
    (mulsh/muluh included), so what runs byte-exact below is the module's code."""
    natmod = {p.name: p for p in _objects()}
    from picoml.runtimes import bare
    emulated = sorted((bare.built_images().build / "xtensawin").glob("*.o"))
    assert len(emulated) == len(natmod) - 1, "run make baremetal"      # all but modpicoml.o
    for obj in emulated:
        text = _section(obj, _text_name(obj))
        assert text == _section(natmod[obj.name], _text_name(obj)), obj.name
        assert text or obj.name.endswith(("_simd32.o", "_armv6m.o")), obj.name    # those: other cores' code
        literal = ".literal." + obj.stem
        assert _section(obj, literal) == _section(natmod[obj.name], literal), obj.name


@pytest.mark.emulated
@pytest.mark.parametrize("name", models.REAL)
def test_kernels_on_emulated_xtensa_give_the_reference_bytes(name):
    """Every real model, 5 inputs each, through pml_check + pml_invoke on the emulated windowed-ABI core."""
    models.require_conformance()
    count = 5
    samples = models.inputs(name)[:count]
    outputs = run_xtensa(models.pml(name), samples)
    assert len(outputs) == count
    for i in range(count):
        assert outputs[i] == _bytes(models.expected(name, i)), "%s sample %d differs from the reference" % (name, i)


@pytest.mark.emulated
@pytest.mark.parametrize("name", models.GENERATED)
def test_generated_models_on_emulated_xtensa_give_the_reference_bytes(name):
    """Every generated model (every supported op and option), 3 inputs each."""
    count = 3
    samples = models.inputs(name)[:count]
    outputs = run_xtensa(models.pml(name), samples)
    assert len(outputs) == count
    for i in range(count):
        assert outputs[i] == _bytes(models.expected(name, i)), "%s sample %d differs from the reference" % (name, i)


@pytest.mark.emulated
def test_check_refuses_bad_models_on_emulated_xtensa():
    """pml_check runs there too: a truncated file and an unknown op code are refused before any invoke."""
    models.require_conformance()
    from picoml import format
    from picoml.runtimes import bare
    blob = models.pml("kws_ref_model")
    h = format.read_header(blob)
    x = _bytes(models.inputs("kws_ref_model")[0])
    truncated = bytearray(blob[:-4])
    truncated[8:12] = len(truncated).to_bytes(4, "little")
    assert bare.run_raw("xtensa", bytes(truncated), x) == -1
    bad = bytearray(blob)
    bad[h["ops_offset"]:h["ops_offset"] + 4] = (99).to_bytes(4, "little")
    assert bare.run_raw("xtensa", bytes(bad), x) == -2


@pytest.mark.emulated
def test_instruction_counts_on_emulated_xtensa():
    """The plugin's counts on that core: the same on every run, at least one instruction per MAC, and handler
    instructions (MUL32_HIGH in software, window spills) counted apart."""
    from picoml import cycles, format, runtimes
    from picoml.runtimes import bare
    blob = (ROOT / "models" / "gesture" / "gesture.pml").read_bytes()
    model = format.read(blob)
    x = runtimes.zero_inputs(model)
    first = bare.run("xtensa", blob, [x]).classes[0]
    assert first == bare.run("xtensa", blob, [x]).classes[0]
    assert first["insns"] > cycles.model_macs(model)[1] and first["vectors"] > 0


# ---------------------------------------------------------------------------------------------------------------
# The module inside MicroPython: picoml's port on the emulated dc233c core (`make qemu-xtensa`)

def _qemu():
    from picoml.runtimes import qemu
    return qemu


@pytest.mark.emulated
def test_port_runs_on_emulated_xtensa():
    """The port boots, takes xtensawin native code, raises and catches exceptions through its windowed-ABI
    setjmp/longjmp (deep recursion included), formats messages with several arguments (its own va_arg: clang's
    is wrong for Xtensa), collects garbage with the register windows spilled, and reads and writes host files."""
    qemu = _qemu()
    with tempfile.TemporaryDirectory() as tmp:
        out = qemu.run_script(
            "import sys, gc\n"
            "print(sys.platform, sys.implementation._mpy >> 10 & 15)\n"
            "def f(n):\n"
            "    if n == 0:\n"
            "        raise KeyError('deep')\n"
            "    return f(n - 1) + 1\n"
            "try:\n"
            "    f(200)\n"
            "except KeyError as e:\n"
            "    print('caught', e.args[0])\n"
            "try:\n"
            "    (1, 2)[5]\n"
            "except IndexError as e:\n"
            "    print(e)\n"
            "keep = [bytearray(100 + i) for i in range(300)]\n"
            "for i in range(20):\n"
            "    junk = [bytes(1000) for j in range(50)]\n"
            "gc.collect()\n"
            "print(sum(len(b) for b in keep))\n"
            "with open('out.txt', 'w') as f:\n"
            "    f.write('%d %s' % (12345, 'text'))\n"
            "print(open('out.txt').read())\n", "xtensa", natmod=False, cwd=tmp)
    assert out.split("\n")[:5] == ["qemu-xtensa 10", "caught deep", "tuple index out of range",
                                   str(sum(100 + i for i in range(300))), "12345 text"]


@pytest.mark.emulated
def test_module_loads_and_refuses_bad_models_on_emulated_xtensa():
    """import _picoml loads the ESP32's module (mpy_ld's relocations of clang's objects: its qstrs, its type,
    check.c's jump tables); a truncated model is refused by the module's own check (rule SHORT), not a crash."""
    from picoml import rules
    qemu = _qemu()
    out = qemu.run_script(
        "import _picoml\nprint(_picoml.Model.__name__, sorted(k for k in _picoml.__dict__ if not k.startswith('_')))\n"
        "try:\n    _picoml.Model(bytearray(10), bytearray(4))\nexcept ValueError as e:\n    print(e.args[2])\n",
        "xtensa", library="py")
    assert out.split("\n")[:2] == ["Model ['Model']", str(rules.RULE["SHORT"])]


def _predicts(name, count):
    from picoml import runtimes
    samples = models.inputs(name)[:count]
    got = runtimes.get("qemu-xtensa").run_batch(models.pml(name), samples)
    assert got.backend == "native"
    for i in range(count):
        assert _bytes(got.outputs[i]) == _bytes(models.expected(name, i)), \
            "%s sample %d differs from the reference" % (name, i)


@pytest.mark.emulated
@pytest.mark.parametrize("name", models.REAL)
def test_real_models_in_micropython_on_emulated_xtensa(name):
    """Every real model, 3 inputs each, loaded from a file by the device library (.mpy for xtensawin) and predicted
    by the ESP32's native module inside MicroPython (the models larger than the heap from the port's flash)."""
    models.require_conformance()
    _predicts(name, 3)


@pytest.mark.emulated
@pytest.mark.parametrize("name", models.GENERATED)
def test_generated_models_in_micropython_on_emulated_xtensa(name):
    """Every generated model (every supported op and option), 2 inputs each, the same way."""
    _predicts(name, 2)


@pytest.mark.emulated
def test_predict_instructions_in_micropython_on_emulated_xtensa():
    """picoml bench --on qemu-xtensa: one whole predict() counted exactly by emulation/xtensa/insn_count.c (its
    mark= mode), the same on every run, more instructions than the model has MACs, start.S's handlers apart."""
    models.require_conformance()
    from picoml import cycles, format, runtimes
    blob = models.pml("kws_ref_model")
    rt = runtimes.get("qemu-xtensa", count_classes=True)
    first, second = rt.bench(blob, "native", 2), rt.bench(blob, "native", 2)
    assert first.instructions == second.instructions > cycles.model_macs(format.read(blob))[1]
    assert first.cycles_estimate is None and "start.S's exception handlers" in first.note


@pytest.mark.emulated
def test_model_with_float_metadata_on_the_float_less_port():
    """The emulated Xtensa port has no floating point, so its JSON parser refuses 0.5: a model whose metadata holds
    such numbers (every `picoml train` model: scale, threshold) still loads and predicts the reference's bytes there;
    Model.metadata() says why it cannot be read and Model.labels is None."""
    from picoml import format, runtimes
    path = ROOT / "models" / "gesture" / "gesture.pml"
    blob = path.read_bytes()
    model = format.read(blob)
    sample = [np.arange(np.prod(model.tensors[model.inputs[0].tensor].shape)).astype(np.int8).reshape(
        model.tensors[model.inputs[0].tensor].shape)]
    want = runtimes.get("reference").run(blob, sample)
    got = runtimes.get("qemu-xtensa").run(blob, sample)
    assert [_bytes(g) for g in got] == [_bytes(w) for w in want]
    out = _qemu().run_script(
        "import picoml\nm = picoml.load(%r)\nprint(m.labels)\ntry:\n    m.metadata()\nexcept ValueError as e:\n"
        "    print(e)\n" % str(path), "xtensa", cwd=str(ROOT))
    assert out.split("\n")[:2] == ["None", "picoml: this MicroPython has no floating point: it cannot read the "
                                           "model's metadata (numbers with a decimal point)"]
