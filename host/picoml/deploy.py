"""`picoml deploy`: ask a board what it runs, copy the matching build (native module + library) and a model
onto it with mpremote (ampy for CircuitPython), and verify every copied file by size and CRC-32 on the board."""
import ast
import os
import pathlib
import subprocess
import zlib

from . import dist
from .errors import PicomlError
from .tools import find_tool

_QUERY = ("import sys\n"
          "lib = [p for p in sys.path if p.endswith('/lib')]\n"
          "print(repr((sys.implementation.name, getattr(sys.implementation, '_mpy', 0), lib[0] if lib else '/lib')))\n")

_VERIFY = """
import os
try:
    from binascii import crc32
except ImportError:
    crc32 = None
def check(path):
    try:
        size = os.stat(path)[6]
    except OSError:
        return None
    crc = 0
    if crc32:
        buf = bytearray(512)
        with open(path, 'rb') as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                crc = crc32(memoryview(buf)[:n], crc)
    return (size, crc if crc32 else None)
print(repr([check(p) for p in %r]))
"""


def _run(command, what):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise PicomlError("%s timed out" % what)
    if done.returncode != 0:
        raise PicomlError("%s failed:\n%s" % (what, (done.stderr or done.stdout).strip()[-1500:]))
    return done.stdout


class Mpremote:
    """A MicroPython board through mpremote; `resume` keeps the board's state (no soft reset)."""

    def __init__(self, port):
        self.base = [find_tool("mpremote", "mpremote"), "connect", port, "resume"]

    def exec(self, code):
        return _run(self.base + ["exec", code], "running code on the board")

    def install(self, package_json, lib):
        _run(self.base + ["mip", "install", "--target", lib, str(package_json)], "mip install")

    def copy(self, local, remote):
        _run(self.base + ["fs", "cp", str(local), ":" + remote], "copying %s" % local)


class Ampy:
    """A CircuitPython (or MicroPython) board through adafruit-ampy, for boards where mpremote does not work."""

    def __init__(self, port):
        self.base = [find_tool("ampy", "adafruit-ampy"), "--port", port]

    def exec(self, code):
        script = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / ("picoml_ampy_%d.py" % os.getpid())
        script.write_text(code)
        try:
            return _run(self.base + ["run", str(script)], "running code on the board")
        finally:
            script.unlink()

    def install(self, folder, lib):
        _run(self.base + ["put", str(folder), lib], "copying the library")

    def copy(self, local, remote):
        _run(self.base + ["put", str(local), remote], "copying %s" % local)


def board_info(board):
    """(implementation name, sys.implementation._mpy, lib folder) of the board."""
    out = board.exec(_QUERY).strip().splitlines()
    try:
        return ast.literal_eval(out[-1])
    except (IndexError, ValueError, SyntaxError):
        raise PicomlError("the board did not answer as MicroPython does: %r" % "\n".join(out)[-300:])


def _files_of(build, lib):
    """{local file: path on the board} of a build folder."""
    if (build / "package.json").exists():
        import json
        urls = json.loads((build / "package.json").read_text())["urls"]
        return {build / source: lib + "/" + target for target, source in urls}
    return {p: lib + "/" + str(p.relative_to(build / "lib")) for p in sorted((build / "lib").rglob("*.py"))}


def verify(board, files):
    """Raise PicomlError unless every {local: remote} file is on the board with the same size and CRC-32."""
    remote = list(files.values())
    answer = board.exec(_VERIFY % (remote,)).strip().splitlines()
    found = ast.literal_eval(answer[-1])
    for (local, path), got in zip(files.items(), found):
        data = pathlib.Path(local).read_bytes()
        if got is None:
            raise PicomlError("%s is missing on the board after the copy" % path)
        size, crc = got
        if size != len(data) or (crc is not None and crc != zlib.crc32(data)):
            raise PicomlError("%s on the board differs from %s (size %d vs %d)" % (path, local, size, len(data)))


def deploy(model, port, tool=None, out_dir=dist.REPO / "dist", log=print):
    """Copy the right build and `model` (a .pml path, or None) onto the board at `port`; returns the build."""
    board = Ampy(port) if tool == "ampy" else Mpremote(port)
    name, mpy, lib = board_info(board)
    build = dist.for_board(mpy, name, out_dir)
    if not build.exists():
        raise PicomlError("the build %s is missing: run `make dist`" % build)
    log("board: %s, .mpy word %d -> %s" % (name, mpy, build.name))
    if name == "circuitpython" and tool != "ampy":
        board = Ampy(port)
    files = _files_of(build, lib)
    if isinstance(board, Ampy):
        board.install(build / "lib" / "picoml", lib + "/picoml")
    else:
        board.install(build / "package.json", lib)
    if model:
        target = os.path.dirname(lib) + "/" + os.path.basename(model)   # beside lib/: the flash's root
        board.copy(model, target)
        files[pathlib.Path(model)] = target
    verify(board, files)
    log("copied and verified %d files" % len(files))
    return build


def run_on_board(port, pml_bytes, inputs, backend=None):
    """The int8 outputs of a model run on the board at `port` (copied there first), one predict per call."""
    import tempfile

    import numpy as np

    from . import format, reference
    model = format.read(pml_bytes)
    board = Mpremote(port)
    _, _, lib = board_info(board)
    target = os.path.dirname(lib) + "/picoml_run.pml"
    with tempfile.TemporaryDirectory() as tmp:
        local = pathlib.Path(tmp) / "picoml_run.pml"
        local.write_bytes(pml_bytes)
        board.copy(local, target)
    xs = [bytes(reference.prepare_input(model, i, x).tobytes()) for i, x in enumerate(inputs)]
    out = board.exec("import picoml\nm = picoml.load(%r, backend=%r)\n"
                     "y = m.predict(%r)\nprint(repr([bytes(o) for o in (y if isinstance(y, list) else [y])]))\n"
                     % (target, backend, xs[0] if len(xs) == 1 else xs))
    raw = ast.literal_eval(out.strip().splitlines()[-1])
    tensors = [model.tensors[e.tensor] for e in model.outputs]
    return [np.frombuffer(r, np.int8).reshape(t.shape).copy() for r, t in zip(raw, tensors)]
