# picoml: int8 TinyML inside MicroPython and CircuitPython.
#
#   import picoml
#   model = picoml.load("/kws.pml")          # or a bytes/bytearray/memoryview of the .pml, used in place
#   y = model.predict(x)                     # int8 in (array('b'), bytes, ...) or floats; int8 array('b') out
#   label, index = model.top()
#
# Kept small on purpose (importing costs RAM). load() reads the file and allocates the arena first, while the
# heap is still in one piece, then imports the loader (picoml.pml), and drops the loader again once the model
# is built, so only picoml.model and the kernels stay in RAM.
__version__ = "0.1.0"


def load(source, backend=None):
    """Load a .pml model and return a picoml.model.Model.

    source: a file path (read into one bytearray of the file's size), or the model's bytes as bytes, bytearray
    or memoryview (e.g. a file in ROMFS), used in place without a copy.
    backend: None for the fastest that works ("native" _picoml module, then "viper", then "python"), or one of
    "native", "viper", "python" to force it (ImportError when it is not available).
    Raises ValueError for a file that is not a valid .pml (truncated, corrupt, newer version, unknown op) and
    MemoryError, naming the bytes wanted and free, when anything of the model (file, arena, code, tables) does
    not fit."""
    try:
        room = bytearray(1024)  # kept for the message of a MemoryError (a failed import pins what it interned)
        from . import pml
        try:
            name = pml.select(backend)[0]   # an unknown or unavailable forced backend fails here, first
            arena = None
            if isinstance(source, str):
                source, arena = _read(source)
            if name != "native":
                from . import kernels_python    # noqa: F401 -- resident code next to the big blocks
            spec = pml.load(source, backend, arena)
        finally:
            # the loader and the op constants are load-time code: drop them so they do not occupy the heap while
            # the model runs
            pml = None
            _forget("pml")
            _forget("_ops")
        from .model import Model
        return Model(spec)
    except MemoryError as e:
        room = None
        raise _no_room(e)


def _no_room(e):
    """A MemoryError from anywhere in load() as one that says what was wanted and what was free: picoml's own
    (already "picoml: ... needs N bytes ...; M bytes are free") as it is, MicroPython's ("memory allocation
    failed, allocating N bytes") with the bytes free when it failed (read before anything is collected: what
    the failed load had taken still counts as taken)."""
    text = str(e)
    if text.startswith("picoml:"):
        return e
    import gc
    free = gc.mem_free()
    try:
        return MemoryError("picoml: the model does not fit in RAM while loading (%s); %d bytes were free"
                           % (text, free))
    except MemoryError:
        return e        # not even room for the message: MicroPython's own, naming the bytes it wanted


def _forget(name):
    """Drop the submodule picoml.<name> (its code is freed once nothing else refers to it)."""
    import sys
    sys.modules.pop("picoml." + name, None)
    globals().pop(name, None)


def record(label, seconds, source=None, **options):
    """Record labelled samples to the board's filesystem or the serial link: picoml.recording.record."""
    from .recording import record as run
    return run(label, seconds, source, **options)


def fill(path, buf):
    """Read the file into buf with readinto, no second copy; ValueError if it is shorter than buf."""
    view = memoryview(buf)
    n = 0
    with open(path, "rb") as f:
        while n < len(buf):
            k = f.readinto(view[n:])
            if not k:
                break
            n += k
    if n != len(buf):
        raise ValueError("picoml: read %d of the %d bytes of %s" % (n, len(buf), path))


def _read(path):
    """(file bytes, arena or None): the file in one bytearray of its size filled with readinto, and the arena
    the header asks for, allocated right after it. Both are the big blocks; taking them first keeps the heap
    from fragmenting. Anything unexpected (no room, a damaged header) is left to the loader to report."""
    import gc
    import os
    try:
        size = os.stat(path)[6]
    except OSError as e:
        raise OSError(e.args[0], "picoml: cannot open %s" % path)
    gc.collect()
    try:
        buf = bytearray(size)
    except MemoryError:
        return path, None
    fill(path, buf)
    arena = None
    from ._ops import AT_ARENA_SIZE, AT_FILE_SIZE, HEADER_SIZE, MAGIC
    if (size >= HEADER_SIZE and buf[0:4] == MAGIC
            and int.from_bytes(buf[AT_FILE_SIZE:AT_FILE_SIZE + 4], "little") == size):
        try:
            arena = bytearray(max(int.from_bytes(buf[AT_ARENA_SIZE:AT_ARENA_SIZE + 4], "little"), 4))
        except MemoryError:
            pass
    return buf, arena
