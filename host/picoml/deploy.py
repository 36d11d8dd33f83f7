"""`picoml deploy`: ask a board what it runs, check the matching build (native module + library) against it,
copy the build and a model onto it over its REPL (mpremote's transport; ampy for CircuitPython) into a staging
folder, verify every file by size and CRC-32 on the board, then switch to them in one step (see deploy())."""
import ast
import base64
import os
import pathlib
import subprocess
import tempfile
import zlib

from . import dist, resources
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

    def fetch(self, remote, local):
        _run(self.base + ["fs", "cp", ":" + remote, str(local)], "copying %s from the board" % remote)


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

    def write(self, remote, data):
        local = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / ("picoml_ampy_%d.bin" % os.getpid())
        local.write_bytes(data)
        try:
            self.copy(local, remote)
        finally:
            local.unlink()

    def close(self):
        pass


class SerialLink:
    """A MicroPython board over its serial REPL, one connection held in this process (mpremote's transport, raw
    REPL, no soft reset), for deploy's many small steps. Files are written in chunks, each chunk one complete
    `with open(...)` script: a transfer killed at any moment leaves no file open on the board (mpremote's
    `fs cp` leaves one open in the REPL's globals, to be flushed whenever it is collected)."""

    CHUNK = 2048

    def __init__(self, port):
        try:
            from mpremote.transport import TransportError
            from mpremote.transport_serial import SerialTransport
        except ImportError:
            raise PicomlError("deploy needs mpremote: pip install mpremote")
        self._errors = (TransportError, OSError)
        self._b64 = None
        try:
            self._t = SerialTransport(port, baudrate=115200)
        except self._errors as e:
            raise PicomlError("cannot open %s: %s" % (port, e))
        try:
            self._t.enter_raw_repl(soft_reset=False)
        except self._errors as e:
            self._t.close()
            raise PicomlError("no MicroPython REPL answers on %s: %s" % (port, e))

    def exec(self, code, timeout=300):
        try:
            out, err = self._t.exec_raw(code, timeout=timeout)
        except self._errors as e:
            raise PicomlError("the board stopped answering: %s" % e)
        if err:
            raise PicomlError("running code on the board failed:\n%s" % err.decode(errors="replace").strip()[-1500:])
        return out.decode(errors="replace")

    def write(self, remote, data):
        """Write bytes to the file `remote` on the board (replacing it), sent in base64 where the board has
        binascii (a third of the bytes that repr() of binary data takes)."""
        if self._b64 is None:
            self._b64 = "True" in self.exec("try:\n    from binascii import a2b_base64 as _b64\n    print(True)\n"
                                             "except ImportError:\n    print(False)\n")
        mode = "wb"
        for i in range(0, max(len(data), 1), self.CHUNK):
            chunk = bytes(data[i:i + self.CHUNK])
            text = "_b64(%r)" % base64.b64encode(chunk).decode() if self._b64 else repr(chunk)
            self.exec("with open(%r, %r) as f:\n    f.write(%s)\n" % (remote, mode, text))
            mode = "ab"

    def close(self):
        try:
            self._t.exit_raw_repl()
            self._t.close()
        except self._errors:
            pass


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
    return {p: lib + "/" + str(p.relative_to(build / "lib")) for p in sorted((build / "lib").rglob("*"))
            if p.suffix in (".py", ".pml")}


def board_files(board, remote):
    """[(size, CRC-32 or None where the port has no crc32) or None when missing] of the files `remote`."""
    answer = board.exec(_VERIFY % (list(remote),)).strip().splitlines()
    return ast.literal_eval(answer[-1])


def _same(got, data):
    return got is not None and got[0] == len(data) and got[1] is not None and got[1] == zlib.crc32(data)


def verify(board, files):
    """Raise PicomlError unless every {local: remote} file is on the board with the same size and CRC-32."""
    for (local, path), got in zip(files.items(), board_files(board, files.values())):
        data = pathlib.Path(local).read_bytes()
        if got is None:
            raise PicomlError("%s is missing on the board after the copy" % path)
        size, crc = got
        if size != len(data) or (crc is not None and crc != zlib.crc32(data)):
            raise PicomlError("%s on the board differs from %s (size %d vs %d)" % (path, local, size, len(data)))


# One script on the board: a transfer stopped after it was sent cannot stop it half way (and a new
# connection's Ctrl-C is held off with kbd_intr where the port has it). It moves the verified files from the
# staging folder over the ones in use -- a rename replaces its target in one step on littlefs and POSIX
# (MicroPython's FAT removes the target first) --, then removes what the previous library had that the new
# one has not (a stale .py would shadow a new .mpy), then the staging folder.
_TREE = """
import os
def _walk(path, out):
    for name in os.listdir(path):
        p = path + '/' + name
        if os.stat(p)[0] & 0x4000:
            _walk(p, out)
            out.append(p + '/')
        else:
            out.append(p)
    return out
def _dirs(path):
    parts = path.split('/')
    for i in range(2, len(parts)):
        try:
            os.mkdir('/'.join(parts[:i]))
        except OSError:
            pass
def _clear(path):
    try:
        for p in _walk(path, []):
            if p.endswith('/'):
                os.rmdir(p[:-1])
            else:
                os.remove(p)
        os.rmdir(path)
    except OSError:
        pass
"""

_COMMIT = _TREE + """
try:
    import micropython
    micropython.kbd_intr(-1)
except (ImportError, AttributeError):
    micropython = None
try:
    for src, dst in %(moves)r:
        _dirs(dst)
        os.rename(src, dst)
    keep = %(keep)r
    try:
        old = _walk(%(package)r, []) if %(package)r else []
    except OSError:
        old = []
    for p in old:
        if not p.endswith('/') and p not in keep:
            os.remove(p)
    for p in %(drop)r:
        try:
            os.remove(p)
        except OSError:
            pass
    _clear(%(stage)r)
finally:
    if micropython:
        micropython.kbd_intr(3)
print('committed')
"""


def deploy(model, port, tool=None, build=None, log=print, library=True, frontend=True):
    """Copy the right build (or the build folder `build`) and `model` (a .pml path, or None) onto the board at
    `port`; returns the build's name. The right build is made for the board from the package data
    (dist.build_for_board), in a temporary folder.

    Nothing the board uses is touched until everything new is on it: the files that differ from the board's
    are written into a staging folder (lib/.picoml-new), checked by size and CRC-32 on the board, and only then
    moved over the ones in use by one script running on the board; the previous model stays until the new one
    has verified. A deploy stopped at any point leaves the board with the old files or the new ones (the next
    deploy clears what a stopped one staged). Every .mpy is first checked against the board's architecture and
    .mpy version (dist.check_files). The board definitions go to boards/ at the flash's root, where
    picoml.boards.load(name) finds them. library=False copies the model alone.

    The native modules: _picoml.mpy and _picoml_core.mpy, the same without the audio front-end's ops and the rare
    MUL, CONCATENATION, PAD and SUB (optable.FULL_ONLY_OPS), which the library imports for a model that needs none of
    them: about 11 KB less code in the board's heap (docs/memory.md). frontend=False installs only the latter, as
    _picoml.mpy (38-42 KB less flash), for an application that does not use picoml.audio; refused, before the
    board is touched, for a model that needs one of those ops."""
    if not frontend:
        if build is not None or not library:
            raise PicomlError("--without-frontend chooses the native module of the build picoml makes: not with "
                              "--build or --model-only")
        needed = _full_only_op(model) if model else None
        if needed:
            raise PicomlError("%s needs %s (op %d), which the native module --without-frontend leaves out (it has "
                              "none of the audio front-end's ops, MUL, CONCATENATION, PAD, SUB): deploy without "
                              "--without-frontend" % (model, needed[1], needed[0]))
    board = Ampy(port) if tool == "ampy" else SerialLink(port)
    try:
        name, mpy, lib = board_info(board)
        if name == "circuitpython" and tool != "ampy":
            board.close()
            board = Ampy(port)
        if not library:
            if not model:
                raise PicomlError("nothing to deploy: --model-only needs a model")
            return _deploy(board, name, mpy, lib, model, None, log)
        if build is not None:
            return _deploy(board, name, mpy, lib, model, build, log)
        with tempfile.TemporaryDirectory(prefix="picoml_dist_") as tmp:
            if not frontend:
                log("only the small native module, without the audio front-end's ops, MUL, CONCATENATION, PAD and SUB "
                    "(picoml.audio cannot run with it)")
            return _deploy(board, name, mpy, lib, model, dist.build_for_board(mpy, name, tmp, frontend), log)
    finally:
        board.close()


def _full_only_op(model):
    """(index, name) of the first op the .pml at `model` needs that only the full native module has, or None."""
    from . import format
    from .optable import FULL_ONLY_OPS
    ops = format.read(pathlib.Path(model).read_bytes()).ops
    return next(((i, op.name) for i, op in enumerate(ops) if op.name in FULL_ONLY_OPS), None)


def _deploy(board, name, mpy, lib, model, build, log):
    files = {}
    if build is not None:
        build = pathlib.Path(build)
        if not build.is_dir():
            raise PicomlError("the build %s is not a folder" % build)
        log("board: %s, .mpy word %d -> %s" % (name, mpy, build.name))
        files = _files_of(build, lib)
        dist.check_files(files, name, mpy, build)
        root = os.path.dirname(lib)
        files.update({p: root + "/boards/" + p.name for p in sorted(resources.boards_dir().glob("*.json"))})
    if model:
        from . import format
        format.read(pathlib.Path(model).read_bytes())               # refuse a file that is not a valid .pml
        files[pathlib.Path(model)] = os.path.dirname(lib) + "/" + os.path.basename(model)   # the flash's root
    stage = lib + "/.picoml-new"
    board.exec(_TREE + "_clear(%r)\n_dirs(%r)\n" % (stage, stage + "/-"))   # and what a stopped deploy left
    moves, staged = [], {}
    for (local, remote), got in zip(files.items(), board_files(board, files.values())):
        if not _same(got, pathlib.Path(local).read_bytes()):
            staged[local] = "%s/%d" % (stage, len(moves))
            moves.append((staged[local], remote))
    log("copying %d of %d files (the others are on the board already)" % (len(moves), len(files)))
    for local, temp in staged.items():
        board.write(temp, pathlib.Path(local).read_bytes())
    verify(board, staged)
    package = lib + "/picoml" if build is not None else None      # the model alone: the library stays as it is
    keep = [remote for remote in files.values() if package and remote.startswith(package + "/")]
    # a _picoml_core.mpy of an earlier deploy would be imported beside a new _picoml.mpy built without it
    drop = [p for p in [lib + "/" + dist.NATIVE_CORE] if package and p not in files.values()]
    out = board.exec(_COMMIT % {"moves": moves, "keep": keep, "package": package, "stage": stage, "drop": drop})
    if "committed" not in out:
        raise PicomlError("the board did not confirm the switch to the new files: %r" % out[-300:])
    verify(board, files)
    log("copied %d files; all %d verified on the board" % (len(moves), len(files)))
    return build.name if build is not None else None
