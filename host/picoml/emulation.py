"""The emulation tree of a checkout (emulation/, built by Make into build/): the machines' parameters and the
built images, each checked to exist and to be newer than its sources, else a PicomlError naming the make target
that builds it. Developer tooling: an installed picoml has none of it (resources.checkout() says so)."""
import re
import shlex
import shutil

from . import resources
from .errors import PicomlError

_machines = {}


def machines():
    """{NAME: value} of emulation/machines.mk (also read by the Makefiles), with $(NAME) references expanded."""
    path = resources.checkout("emulation") / "emulation" / "machines.mk"
    if path not in _machines:
        values = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, equals, value = line.partition("=")
            if not equals or not re.fullmatch(r"[A-Z0-9_]+", name.strip()):
                raise PicomlError("%s:%d: expected NAME = value" % (path, number))
            values[name.strip()] = re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], value.strip())
        _machines[path] = values
    return _machines[path]


def qemu(machine):
    """The QEMU command line that runs `machine` (MPS2, MICROBIT, XTENSA_SIM) with no display, monitor or serial
    port; the emulator checked to be installed."""
    cmd = shlex.split(machines()[machine + "_QEMU"])
    if not shutil.which(cmd[0]):
        raise PicomlError("%s is not installed: run scripts/install-system-packages.sh (apt-get install qemu-system-arm "
                          "qemu-system-misc gcc-arm-none-eabi libnewlib-arm-none-eabi)" % cmd[0])
    return cmd + ["-nographic", "-monitor", "none", "-serial", "none"]


def built(relative, make_target, sources):
    """The checkout's file `relative` (under build/ or dist/), checked to exist and to be newer than every file
    matching the glob patterns `sources` (relative to the checkout)."""
    root = resources.checkout("emulation")
    path = root / relative
    if not path.exists():
        raise PicomlError("%s is not built: run `make %s`" % (relative, make_target))
    built_at = path.stat().st_mtime
    for pattern in sources:
        for source in root.glob(pattern):
            if source.is_file() and source.stat().st_mtime > built_at:
                raise PicomlError("%s is older than %s: run `make %s`" % (relative, source.relative_to(root),
                                                                           make_target))
    return path
