"""Where picoml's files are: the one module that knows.

Package data, found through importlib.resources in `picoml/package-data/` (shipped in the wheel; in a checkout
the same names are symlinks to the checkout's folders, so a checkout and an installation read the same paths):

    device/picoml/                the device library (device/ in the checkout)
    boards/*.json                 board definitions (boards/)
    virtual_board/                the virtual board's hardware: flash.py and emulated_chips/ (emulation/virtual_board/)
    natmod/<arch>/_picoml.mpy     the native modules (build/natmod/, built by `make natmod`), and _picoml_core.mpy beside
                                  it: the same without the audio front-end's ops, MUL, CONCATENATION, PAD and SUB, also
                                  alone as _picoml.mpy in
                                  natmod/<arch>-nofrontend/ (`picoml deploy --without-frontend`)
    models/<name>/main.py         the example models' device programs (models/)
    models/frontend/frontend.pml  the default audio front-end (TFLite Micro's micro_speech one, converted), and the
                                  .tflite it comes from (audio_preprocessor_int8.tflite: `picoml train kws`)

The folder's name is not a Python identifier, so setuptools ships it as data rather than as packages
(pyproject.toml says which files). The emulators (picoml's MicroPython port on QEMU, the bare-metal kernel
images) are developer tooling: they exist only in a checkout, which checkout() finds.
"""
import os
import pathlib
from importlib.resources import files

from .errors import PicomlError

DATA = pathlib.Path(str(files("picoml"))) / "package-data"


def device_library():
    """The folder to put on MicroPython's sys.path for `import picoml` (it holds the device package)."""
    folder = DATA / "device"
    if not (folder / "picoml" / "__init__.py").exists():
        raise PicomlError("the device library is missing from this installation of picoml (%s)" % folder)
    return folder


def device_package():
    """The device package itself (device/picoml)."""
    return device_library() / "picoml"


def boards_dir():
    return DATA / "boards"


def virtual_board_dir():
    """The virtual board's hardware: flash.py (its boot script) and emulated_chips/ (its IMU)."""
    return DATA / "virtual_board"


def example_models():
    """models/: the example models' device programs (<name>/main.py)."""
    return DATA / "models"


def frontend_model(name="frontend.pml"):
    """models/frontend/frontend.pml: TFLite Micro's micro_speech audio front-end converted to .pml (name
    "audio_preprocessor_int8.tflite": the .tflite it comes from, which `picoml train kws` runs in TFLite Micro)."""
    path = DATA / "models" / "frontend" / name
    if not path.exists():
        raise PicomlError("the audio front-end is missing from this installation of picoml (%s)" % path)
    return path


def natmod_dir(arch, frontend=True):
    """The folder holding the _picoml.mpy built for `arch` (it may not be built); frontend=False: the one built
    without the ops only the full one has (optable.FULL_ONLY_OPS)."""
    return DATA / "natmod" / (arch if frontend else arch + "-nofrontend")


def natmod(arch, frontend=True):
    """The _picoml.mpy built for `arch` (frontend: see natmod_dir); PicomlError saying how to build it when it is
    not there."""
    path = natmod_dir(arch, frontend) / "_picoml.mpy"
    if not path.exists():
        raise PicomlError("the %s native module%s is not in this picoml: build it with `make natmod` in a checkout "
                          "(before `pip install .` for an installed picoml)"
                          % (arch, "" if frontend else " without the audio front-end"))
    return path


def cache_dir():
    """Per-user files picoml keeps between commands (the virtual board's flash): $XDG_CACHE_HOME/picoml."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = pathlib.Path(base) / "picoml"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checkout(what):
    """The root of the checkout this picoml runs from: the folder the package-data symlinks point into.
    PicomlError when picoml is installed rather than run from a checkout (`what` names what needs one)."""
    root = (DATA / "device").resolve().parent
    if not (root / "emulation" / "machines.mk").exists():
        raise PicomlError("%s is developer tooling that needs a checkout of picoml (git clone, then make); this "
                          "picoml is installed at %s" % (what, DATA.parent))
    return root
