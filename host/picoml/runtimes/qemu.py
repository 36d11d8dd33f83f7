"""Emulated boards: picoml's own MicroPython 1.23 port (emulation/micropython) running under QEMU, with the
device library and the matching Cortex-M native module, driven from the host.

    target "m4": Cortex-M4F, QEMU mps2-an386, armv7emsp natmods, float; heap 200,000 bytes by default (what an
                 nRF52840 leaves free)
    target "m0": Cortex-M0, QEMU microbit with 256 KiB RAM and 1 MiB flash, armv6m natmods, software float (as
                 MicroPython on the RP2040 and nRF51 has); heap 180,000 bytes by default
    target "m0-nofloat": the same firmware built without float (MICROPY_FLOAT_IMPL_NONE)
    target "xtensa": QEMU's Xtensa dc233c core on its sim machine (windowed registers, as the ESP32's LX6; not an
                 ESP32: no ESP-IDF, no LX6 timing, MUL32_HIGH done in software), the same port built for it
                 (emulation/micropython with emulation/xtensa, `make qemu-xtensa`), xtensawin natmods (the ESP32's _picoml.mpy),
                 no float; heap 200,000 bytes by default; console, files and exit over QEMU's Xtensa simulator
                 calls
(machines, memory maps and default heaps: emulation/machines.mk)

The runtimes `qemu-m4` and `qemu-m0` (class Qemu: run_batch() and bench(), as every runtime in picoml.runtimes
has) run models there; run_script() runs any program. Developer tooling of a checkout: the firmware is built by `make qemu` (with the Arm
toolchain and QEMU from scripts/install-system-packages.sh); console, files, exit status and the clock go over
Arm semihosting; the script runs with QEMU's working directory set to a temporary folder.

The device library is run as .mpy by default: the build `make dist` makes for the target's arch
(dist/<arch>_6.3/, what `picoml deploy` puts on a board); compiling the .py sources on the board leaves the heap
fragmented (library="py" runs them anyway).

A model is read into the heap where it fits (picoml.load(path)), as from a filesystem; where it does not (a
MemoryError), it is copied into the board's flash outside the heap (qemu.readfile_static) and loaded from a
memoryview in place, as from ROMFS: the models larger than the heap (vww_96, ad01) run that way. model_in="ram"
or "flash" forces one.

With icount=True QEMU runs with -icount shift=0: the guest clock advances exactly one nanosecond per
instruction, so time.ticks_us() differences are thousands of instructions, exactly repeatable: bench() gives
instructions per inference.

With count_classes=True (what `picoml bench --on qemu-*` uses) bench() counts instead with the TCG plugin of the
bare-metal harness (emulation/baremetal/insn_count.c, built by `make baremetal`), exactly and by class: the script
calls time.ticks_cpu() right before and after its predict() loop, and the plugin prints what ran between two
entries into the firmware's time_ticks_cpu; the same loop without predict() is counted the same way and taken
off, so the count is predict()'s own: the interpreter's call, the device library's and the native module's code.
Cycles are estimated from the classes with picoml.cycles' timing tables (Cortex-M4; Cortex-M0+ for the armv6m
code the Cortex-M0 runs).
"""
import pathlib
import re
import subprocess
import tempfile

from .. import dist, emulation, resources
from ..errors import PicomlError
from . import DEVICE_BACKENDS, Runtime, scripts

PORT_SOURCES = ("emulation/micropython/*.[ch]", "emulation/machines.mk")
ARM_SOURCES = PORT_SOURCES + ("emulation/common/*",)
XTENSA_SOURCES = PORT_SOURCES + ("emulation/common/semihost.h", "emulation/xtensa/*", "scripts/xtensawin/*")
# make: the root Makefile's target that builds the firmware from `sources`; timing: picoml.cycles'
# table for the core (None: none, no cycle estimate)
TARGETS = {
    "m4": {"arch": "armv7emsp", "machine": "MPS2", "cpu": "Cortex-M4F", "timing": "cortex-m4",
           "make": "qemu", "sources": ARM_SOURCES},
    "m0": {"arch": "armv6m", "machine": "MICROBIT", "cpu": "Cortex-M0", "timing": "cortex-m0plus",
           "make": "qemu", "sources": ARM_SOURCES},
    "m0-nofloat": {"arch": "armv6m", "machine": "MICROBIT", "cpu": "Cortex-M0, no float", "timing": "cortex-m0plus",
                   "make": "qemu", "sources": ARM_SOURCES},
    "xtensa": {"arch": "xtensawin", "machine": "XTENSA_SIM", "cpu": "Xtensa dc233c (QEMU sim), no float",
               "timing": None, "make": "qemu-xtensa", "sources": XTENSA_SOURCES},
}
MARK = "time_ticks_cpu"     # the firmware function between whose entries the plugin counts (count_classes)

# BENCH_HEAP of picoml.runtimes.scripts (the heap figures), then predict() `count` times between marks, then the same
# loop alone between marks.
BENCH_MARKED = scripts.BENCH_HEAP + """import time
i = 0
time.ticks_cpu()
while i < %(count)d:
    m.predict(x)
    i += 1
time.ticks_cpu()
i = 0
time.ticks_cpu()
while i < %(count)d:
    i += 1
time.ticks_cpu()
print('picoml-bench', m.backend, 0, per_inference, used)
"""


def _target(target):
    name = str(target)
    if name.startswith("qemu-"):
        name = name[5:]
    if name not in TARGETS:
        raise PicomlError("unknown QEMU target %r: choose m4 (Cortex-M4F), m0 (Cortex-M0), m0-nofloat or xtensa "
                          "(Xtensa dc233c)" % (target,))
    return name


def default_heap(target):
    """The heap the target's firmware gives by default (what the board leaves free), in bytes."""
    return int(emulation.machines()[TARGETS[_target(target)]["machine"] + "_PORT_HEAP"])


def natmod_dir(target):
    """The folder holding the _picoml.mpy this target loads."""
    return resources.natmod_dir(TARGETS[_target(target)]["arch"])


def firmware(target="m4"):
    """Path of the target's firmware.elf (built by `make qemu`, `make qemu-xtensa` for xtensa)."""
    t = TARGETS[_target(target)]
    return emulation.built("build/emulation/micropython/%s/firmware.elf" % _target(target), t["make"], t["sources"])


def library_dir(target, library="mpy"):
    """The folder to put on sys.path for the device library: the device/ sources for library="py", or the
    target arch's build from `make dist` (picoml/*.mpy, as deployed) for library="mpy"."""
    if library == "py":
        return resources.device_library()
    if library != "mpy":
        raise PicomlError("library must be 'mpy' (precompiled, as deployed) or 'py' (sources compiled on the board)")
    arch = TARGETS[_target(target)]["arch"]
    return emulation.built("dist/%s/package.json" % dist.build_name(arch), "dist",
                           ["device/picoml/**/*.py", "build/natmod/%s/_picoml.mpy" % arch]).parent


def _heap_arg(heapsize, target):
    if heapsize is None:
        heapsize = default_heap(target)
    text = str(heapsize).strip().lower()
    if not re.fullmatch(r"\d+[km]?", text):
        raise PicomlError("bad heap size %r: give bytes, e.g. 200000 or 200k" % (heapsize,))
    return text


NATIVE_CODE = ("heap", "flash")


def command(target, script, heapsize=None, args=(), icount=False, plugin=None, native_code="heap"):
    """The qemu-system-arm command line running `script` (a path, relative to the working directory); plugin:
    (the plugin's argument string, the log file) to run the counting plugin; native_code: where the firmware puts
    native code (_picoml.mpy, viper): "heap" (the GC heap, as the nRF and RP2 ports do) or "flash" (outside the
    heap; the m4 board only: docs/memory.md)."""
    target = _target(target)
    if native_code not in NATIVE_CODE:
        raise PicomlError("native_code must be one of %s" % ", ".join(NATIVE_CODE))
    semi = ["enable=on", "target=native", "arg=fw", "arg=--heap=%s" % _heap_arg(heapsize, target)]
    if native_code != "heap":
        semi.append("arg=--native-code=%s" % native_code)
    semi.append("arg=%s" % script)
    semi += ["arg=%s" % a for a in args]
    for a in [script, *args]:
        if " " in str(a):
            raise PicomlError("QEMU semihosting arguments cannot hold spaces: %r" % (a,))
    cmd = emulation.qemu(TARGETS[target]["machine"])
    if icount:
        cmd += ["-icount", "shift=0"]
    if plugin:
        cmd += ["-plugin", plugin[0], "-d", "plugin", "-D", str(plugin[1])]
    cmd += ["-semihosting-config", ",".join(s.replace(",", ",,") for s in semi), "-kernel", str(firmware(target))]
    return cmd


def run_script(source, target="m4", heapsize=None, timeout=600, natmod=None, icount=False, args=(), cwd=None,
               library="mpy", marks=None, native_code="heap"):
    """Run MicroPython source on the emulated board with the device library (library: "mpy" or "py", see
    above) and the target's native module importable (natmod: another folder holding a _picoml.mpy, or False for
    none put first on sys.path: the library="mpy" build has its own); returns stdout. A non-zero exit (an
    uncaught exception: MicroPython's traceback is in the output)
    raises PicomlError with the output. marks: a list to which the plugin's counts between entries into MARK are
    appended (picoml.cycles dicts; the plugin from `make baremetal`)."""
    target = _target(target)
    folders = {"lib": library_dir(target, library)}
    if natmod is not False:
        folders = {"natmod": natmod or natmod_dir(target), **folders}
    with tempfile.TemporaryDirectory(prefix="picoml_qemu_") as tmp:
        # the library and the module imported through short links, as from a board's /lib: the paths MicroPython
        # keeps (module __file__ names) then cost the same heap wherever the checkout is
        for name, folder in folders.items():
            (pathlib.Path(tmp) / name).symlink_to(pathlib.Path(folder).resolve(), target_is_directory=True)
        paths = list(folders) if cwd is None else [str(pathlib.Path(tmp) / name) for name in folders]
        prelude = "import sys\nsys.path[:0] = %r\n" % (paths,)
        script = pathlib.Path(tmp) / "main.py"
        script.write_text(prelude + source)
        plugin = None
        if marks is not None:
            from . import bare
            syms = bare.symbols(firmware(target))
            spec = "%s,mark=%#x" % (bare.built_images().plugin, syms[MARK])
            if target == "xtensa":      # start.S's exception handlers counted apart
                spec += ",vectors=%#x:%#x" % (syms["__vectors_start"], syms["__vectors_end"])
            plugin = (spec, pathlib.Path(tmp) / "plugin.log")
        cmd = command(target, "main.py" if cwd is None else str(script), heapsize, args, icount, plugin, native_code)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp,
                                  errors="replace")
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            raise PicomlError("QEMU %s timed out after %s s:\n%s" % (target, timeout, out[-2000:]))
        if done.returncode == 0 and plugin:
            from .. import cycles
            marks += [_parse_mark(target, line[5:]) for line in plugin[1].read_text().splitlines()
                      if line.startswith("mark ")]
    if done.returncode != 0:
        raise PicomlError("MicroPython on QEMU %s (%s) failed with exit status %d:\n%s%s"
                          % (target, TARGETS[target]["cpu"], done.returncode, done.stdout[-3000:],
                             done.stderr[-2000:]))
    return done.stdout


def _parse_mark(target, text):
    """One span of the plugin's counts: picoml.cycles' classes on the Arm cores; on xtensa the instructions
    outside start.S's handlers (insns) and inside them (vectors)."""
    from .. import cycles
    if target == "xtensa":
        return {k: int(v) for k, v in (f.split("=") for f in text.split())}
    return cycles.parse(text)


MODEL_IN = ("auto", "ram", "flash")


def _load_line(model_in, path, backend):
    if model_in == "flash":
        return "import qemu\n" + scripts.load_line(path, backend, "qemu.readfile_static(%r)" % path)
    return scripts.load_line(path, backend)


class Qemu(Runtime):
    """The device library in picoml's MicroPython port on an emulated core. heapsize: the MicroPython heap
    (default: the target's, 200,000 / 180,000 bytes); model_in: "auto" (in the heap where it fits, else in
    flash), "ram" or "flash"; library: "mpy" or "py" (see above); icount: the guest clock counts instructions;
    count_classes: bench() counts instructions by class with the plugin and estimates cycles (see above); natmod:
    another folder holding the _picoml.mpy to load; native_code: "heap" or "flash" (see command())."""
    backends = DEVICE_BACKENDS
    default_backend = "native"

    def __init__(self, target="m4", heapsize=None, model_in="auto", library="mpy", timeout=600, icount=False,
                 count_classes=False, natmod=None, native_code="heap"):
        self.target = _target(target)
        self.native_code = native_code
        self.count_classes, self.natmod = count_classes, natmod
        self.name = "qemu-" + self.target
        if model_in not in MODEL_IN:
            raise PicomlError("model_in must be one of %s" % ", ".join(MODEL_IN))
        self.heapsize, self.model_in, self.library = heapsize, model_in, library
        self.timeout, self.icount = timeout, icount

    def backend(self, backend):
        backend = super().backend(backend)
        if backend == "native":
            resources.natmod(TARGETS[self.target]["arch"])
        return backend

    def _placed(self, work):
        """work(model_in) in the heap and, when it does not fit there (MemoryError) and model_in is "auto", in
        flash: (result, model_in, note)."""
        if self.model_in != "auto":
            return work(self.model_in), self.model_in, ""
        try:
            return work("ram"), "ram", ""
        except PicomlError as e:
            if "MemoryError" not in str(e):
                raise
            why = str(e).strip().splitlines()[-1]
        return work("flash"), "flash", "the model does not fit in RAM (%s): placed in flash, as in ROMFS" % why

    def _script(self, source, marks=None):
        return run_script(source, self.target, self.heapsize, self.timeout, natmod=self.natmod, icount=self.icount,
                          library=self.library, marks=marks, native_code=self.native_code)

    def run_batch(self, pml_bytes, batch, backend=None):
        backend = self.backend(backend)
        with tempfile.TemporaryDirectory(prefix="picoml_qemu_io_") as tmp:    # no spaces: semihosting's args
            tmp = pathlib.Path(tmp)
            (tmp / "model.pml").write_bytes(pml_bytes)

            def work(model_in):
                load = _load_line(model_in, str(tmp / "model.pml"), backend)
                source, data = scripts.run_source(pml_bytes, batch, load, str(tmp / "inputs.bin"),
                                                  str(tmp / "outputs.bin"))
                (tmp / "inputs.bin").write_bytes(data)
                return self._script(source)
            out, model_in, note = self._placed(work)
            result = scripts.run_result(pml_bytes, out, (tmp / "outputs.bin").read_bytes(), len(batch))
        result.model_in, result.note = model_in, note
        return result

    def bench(self, pml_bytes, backend=None, count=20):
        """Bench on the emulated board: "us" is QEMU's guest clock (host time scaled by nothing in particular);
        with icount=True `instructions` is set instead, exact and repeatable; with count_classes=True
        `instructions`, `classes` and `cycles_estimate` of one predict(), exact (xtensa: `instructions` only, the
        exception handlers' share in `note`)."""
        from .. import cycles, format
        backend = self.backend(backend)
        marks = []
        with tempfile.TemporaryDirectory(prefix="picoml_qemu_io_") as tmp:
            path = pathlib.Path(tmp) / "model.pml"
            path.write_bytes(pml_bytes)

            def work(model_in):
                load = _load_line(model_in, str(path), backend)
                if not self.count_classes:
                    return self._script(scripts.bench_source(pml_bytes, load, count))
                model = format.read(pml_bytes)
                del marks[:]
                return self._script(BENCH_MARKED % {"load": load, "count": count,
                                                    "size": model.tensors[model.inputs[0].tensor].nbytes}, marks)
            out, model_in, note = self._placed(work)
        result = scripts.bench_result(self.name, out)
        if self.count_classes:
            if len(marks) != 3:
                raise PicomlError("the plugin counted %d spans between entries into %s, not 3" % (len(marks), MARK))
            loop, _, bare_loop = marks
            if TARGETS[self.target]["timing"] is None:      # xtensa: no classes, no timing table
                per = {k: max(0, round((loop[k] - bare_loop[k]) / count)) for k in loop}
                result.instructions, result.us = per["insns"], None
                note = "; ".join(filter(None, [note, (
                    "and %d instructions in start.S's exception handlers (register-window spills and refills, "
                    "allocas, the software MUL32_HIGH, which an ESP32 does in one instruction each); no cycle "
                    "estimate: QEMU models no LX6 timing" % per["vectors"])]))
            else:
                per = cycles.scale({k: loop[k] - bare_loop[k] for k in loop}, count)
                result.classes, result.instructions, result.us = per, per["insns"], None
                result.cycles_estimate = cycles.estimate(per, TARGETS[self.target]["timing"])
        elif self.icount:     # the guest clock counted instructions, one per nanosecond
            result.instructions, result.us = round(result.us * 1000), None
        result.model_in, result.note = model_in, note
        return result
