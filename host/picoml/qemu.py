"""Emulated boards: picoml's own MicroPython 1.23 port (emulation/micropython) running under QEMU, with the
device library and the matching Cortex-M native module, driven from the host.

    target "m4": Cortex-M4F, QEMU mps2-an386, armv7emsp natmods, float; heap 200,000 bytes by default (what an
                 nRF52840 leaves free)
    target "m0": Cortex-M0, QEMU microbit with 256 KiB RAM and 1 MiB flash, armv6m natmods, software float (as
                 MicroPython on the RP2040 and nRF51 has); heap 180,000 bytes by default
    target "m0-nofloat": the same firmware built without float (MICROPY_FLOAT_IMPL_NONE)
(machines, memory maps and default heaps: emulation/machines.mk)

`picoml run --runtime qemu-m4|qemu-m0` and `picoml bench` use run_model() and bench(), which mirror
picoml.unix_port's. Developer tooling of a checkout: the firmware is built by `make qemu` (with the Arm
toolchain and QEMU from scripts/install-system-packages.sh); console, files, exit status and the clock go over
Arm semihosting; the script runs with QEMU's working directory set to a temporary folder.

The device library is run as .mpy by default: the build `make dist` makes for the target's arch
(dist/<arch>_6.3/, what `picoml deploy` puts on a board); compiling the .py sources on the board leaves the heap
fragmented (library="py" runs them anyway).

A model is read into the heap by default (picoml.load(path)), as from a filesystem. With model_in="flash" it is
copied into the board's flash outside the heap (qemu.readfile_static) and loaded from a memoryview in place,
as from ROMFS: the models larger than the heap (vww_96, ad01) run that way.

With icount=True QEMU runs with -icount shift=0: the guest clock advances exactly one nanosecond per
instruction, so time.ticks_us() differences (and bench()'s "us") are thousands of instructions, exactly
repeatable.
"""
import pathlib
import re
import shutil
import subprocess
import tempfile

from . import dist, emulation, format, resources
from .errors import PicomlError
from .unix_port import BENCH_SCRIPT, run_batches

BACKENDS = ("native", "viper", "python")
TARGETS = {
    "m4": {"arch": "armv7emsp", "machine": "MPS2", "cpu": "Cortex-M4F"},
    "m0": {"arch": "armv6m", "machine": "MICROBIT", "cpu": "Cortex-M0"},
    "m0-nofloat": {"arch": "armv6m", "machine": "MICROBIT", "cpu": "Cortex-M0, no float"},
}
FIRMWARE_SOURCES = ("emulation/micropython/*.[ch]", "emulation/common/*", "emulation/machines.mk")


def _target(target):
    name = str(target)
    if name.startswith("qemu-"):
        name = name[5:]
    if name not in TARGETS:
        raise PicomlError("unknown QEMU target %r: choose m4 (Cortex-M4F), m0 (Cortex-M0) or m0-nofloat"
                          % (target,))
    return name


def default_heap(target):
    """The heap the target's firmware gives by default (what the board leaves free), in bytes."""
    return int(emulation.machines()[TARGETS[_target(target)]["machine"] + "_PORT_HEAP"])


def natmod_dir(target):
    """The folder holding the _picoml.mpy this target loads."""
    return resources.natmod_dir(TARGETS[_target(target)]["arch"])


def qemu_system_arm():
    exe = shutil.which("qemu-system-arm")
    if not exe:
        raise PicomlError("qemu-system-arm is not installed: run scripts/install-system-packages.sh "
                          "(apt-get install qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return exe


def firmware(target="m4"):
    """Path of the target's firmware.elf (built by `make qemu`)."""
    return emulation.built("build/emulation/micropython/%s/firmware.elf" % _target(target), "qemu",
                           FIRMWARE_SOURCES)


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


def command(target, script, heapsize=None, args=(), icount=False):
    """The qemu-system-arm command line running `script` (a path, relative to the working directory)."""
    target = _target(target)
    semi = ["enable=on", "target=native", "arg=fw", "arg=--heap=%s" % _heap_arg(heapsize, target), "arg=%s" % script]
    semi += ["arg=%s" % a for a in args]
    for a in [script, *args]:
        if " " in str(a):
            raise PicomlError("QEMU semihosting arguments cannot hold spaces: %r" % (a,))
    cmd = [qemu_system_arm(), *emulation.qemu_machine(TARGETS[target]["machine"]), "-nographic", "-monitor", "none",
           "-serial", "none"]
    if icount:
        cmd += ["-icount", "shift=0"]
    cmd += ["-semihosting-config", ",".join(s.replace(",", ",,") for s in semi), "-kernel", str(firmware(target))]
    return cmd


def run_script(source, target="m4", heapsize=None, timeout=600, natmod=None, icount=False, args=(), cwd=None,
               library="mpy"):
    """Run MicroPython source on the emulated board with the device library (library: "mpy" or "py", see
    above) and the target's native module importable (natmod: another folder holding a _picoml.mpy, or False for
    none put first on sys.path: the library="mpy" build has its own); returns stdout. A non-zero exit (an
    uncaught exception: MicroPython's traceback is in the output)
    raises PicomlError with the output."""
    target = _target(target)
    paths = [str(library_dir(target, library))]
    if natmod is not False:
        paths.insert(0, str(natmod or natmod_dir(target)))
    prelude = "import sys\nsys.path[:0] = %r\n" % (paths,)
    with tempfile.TemporaryDirectory(prefix="picoml_qemu_") as tmp:
        script = pathlib.Path(tmp) / "main.py"
        script.write_text(prelude + source)
        cmd = command(target, "main.py" if cwd is None else str(script), heapsize, args, icount)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp,
                                  errors="replace")
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            raise PicomlError("QEMU %s timed out after %s s:\n%s" % (target, timeout, out[-2000:]))
    if done.returncode != 0:
        raise PicomlError("MicroPython on QEMU %s (%s) failed with exit status %d:\n%s%s"
                          % (target, TARGETS[target]["cpu"], done.returncode, done.stdout[-3000:],
                             done.stderr[-2000:]))
    return done.stdout


def _check_backend(backend, target):
    if backend not in BACKENDS:
        raise PicomlError("unknown backend %r: choose from %s" % (backend, ", ".join(BACKENDS)))
    if backend == "native":
        resources.natmod(TARGETS[_target(target)]["arch"])


def _load_line(model_in, path, backend):
    if model_in == "ram":
        return "m = picoml.load(%r, backend=%r)" % (path, backend)
    if model_in == "flash":
        return "import qemu\nm = picoml.load(qemu.readfile_static(%r), backend=%r)" % (path, backend)
    raise PicomlError("model_in must be 'ram' (read into the heap) or 'flash' (in place, outside the heap)")


def run_model(pml_bytes, inputs_per_run, target="m4", backend="native", heapsize=None, model_in="ram",
              timeout=600, library="mpy"):
    """Outputs (int8 arrays) of the model on the emulated board, for each entry of `inputs_per_run` (a list of
    per-input arrays). heapsize: the MicroPython heap (default: the target's, 200,000 / 180,000 bytes);
    model_in: "ram" (picoml.load(path): the file is read into the heap) or "flash" (in place, outside the
    heap, as from ROMFS)."""
    target = _target(target)
    _check_backend(backend, target)
    return run_batches(pml_bytes, inputs_per_run, lambda path: _load_line(model_in, path, backend),
                       lambda script: run_script(script, target, heapsize, timeout, library=library))


def bench(pml_bytes, backend, count=20, heapsize=None, target="m4", model_in="ram", icount=False, timeout=600,
          library="mpy"):
    """{'backend', 'us', 'heap_per_inference', 'heap_used'} of the model on the emulated board. "us" is QEMU's
    guest clock: host time scaled by nothing in particular, or, with icount=True, thousands of instructions
    (one instruction per nanosecond)."""
    target = _target(target)
    _check_backend(backend, target)
    model = format.read(pml_bytes)
    size = model.tensors[model.inputs[0].tensor].nbytes
    with tempfile.TemporaryDirectory(prefix="picoml_qemu_io_") as tmp:
        path = pathlib.Path(tmp) / "model.pml"
        path.write_bytes(pml_bytes)
        out = run_script(BENCH_SCRIPT % {"load": _load_line(model_in, str(path), backend), "size": size,
                                   "count": count}, target, heapsize, timeout, icount=icount,
                         library=library)
    name, us, per_inference, used = out.split()[-4:]
    return {"backend": name, "us": float(us), "heap_per_inference": int(per_inference), "heap_used": int(used)}
