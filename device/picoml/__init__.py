# picoml: int8 TinyML inside MicroPython and CircuitPython.
#
#   import picoml
#   model = picoml.load("/kws.pml")          # or a bytes/bytearray/memoryview of the .pml, used in place
#   y = model.predict(x)                     # int8 in (array('b'), bytes, ...) or floats; int8 array('b') out
#   label, index = model.top()
#
# Kept small on purpose (importing costs RAM). load() imports the loader (picoml.pml) and the backend's code,
# has the loader read the file into one block, check it, allocate the arena, validate the model and build it,
# and drops the loader again, so only picoml.model and the kernels stay in RAM.
__version__ = "0.1.0"


def load(source, backend=None):
    """Load a .pml model and return a picoml.model.Model.

    source: a file path (read into one bytes object of the file's size, which nothing can change), or the model's
    bytes as bytes, bytearray or memoryview (e.g. a file in ROMFS), used in place without a copy: it must not
    change while the model is in use (it was validated once, at load).
    backend: None for the fastest that works ("native" module, then "viper", then "python"), or one of
    "native", "viper", "python" to force it (ImportError when it is not available). The native module is
    _picoml_core (about 11 KB less code in the heap) for a model that needs none of the ops only _picoml has
    (picoml.pml.native), unless _picoml or picoml.audio is loaded already; else _picoml.
    Raises ValueError for a file that is not a valid .pml (truncated, corrupt, newer version, unknown op, an op
    whose operands or parameters do not fit it: the message names the op, its layer and the field) and
    MemoryError, naming the bytes wanted and free, when anything of the model (file, arena, code, tables) does
    not fit."""
    try:
        room = bytearray(1024)  # kept for the message of a MemoryError (a failed import pins what it interned)
        from . import pml
        try:
            # the code first (the native module for the model's ops, or the kernels), then the big blocks
            backend = pml.select(backend, pml.native(source))
            if backend[0] == "viper":
                # the viper kernel families of the model's ops imported now, where the heap is still in one piece;
                # at prepare time, after the loader's garbage, one's code may find no hole its size (models/gesture
                # on qemu-m4: 1,928 bytes not found with 48 KB free)
                pml.native(source, backend[1].kernel)
            if isinstance(source, str):
                source = pml.read(source)
            loading = pml.begin(source, backend)     # (header, arena, the metadata's refusal)
            # The big blocks are in place, ours to drop should a later allocation fail (below): the room is given
            # back now, for the kernels' scratch (its 1 KB in one piece, where the heap is otherwise in small
            # pieces between the loaded code, docs/memory.md).
            room = None
            model = pml.load(source, backend, *loading)
        finally:
            # load-time code: dropped so it does not occupy the heap while the model runs
            pml = None
            for name in ("pml", "validate", "refusal", "_ops", "_layout"):
                _forget(name)
        if model.backend != "native":
            from .prepare import prepare
            # the Python kernels' states, once the loader's code is gone; then what only the load needed
            for name in prepare(model):
                _forget(name)
            _forget("_ops")         # imported again by the kernel modules, for their tables of op codes
        return model
    except MemoryError as e:
        room = source = loading = model = None  # room for the message (a file read here is dropped with it)
        raise _no_room(e)


def _no_room(e):
    """A MemoryError from anywhere in load() as one that says what was wanted and what there is: picoml's own
    (already "picoml: ... needs N bytes ...; M bytes are free") as it is, MicroPython's ("memory allocation
    failed, allocating N bytes") with the bytes free once what the failed load took is collected, and the heap's
    size. (The bytes free when it failed cannot be read: the exception's unwinding allocates, and so collects.)"""
    import gc
    for attempt in (0, 1):
        try:
            gc.collect()
            text = str(e)
            if text.startswith("picoml:"):
                return e
            free = gc.mem_free()
            return MemoryError("picoml: the model does not fit in RAM while loading (%s); %d bytes are free once "
                               "the load is dropped, of a %d-byte heap" % (text, free, free + gc.mem_alloc()))
        except MemoryError:     # no room for the message: once more
            pass
    return e        # still no room: MicroPython's own, naming the bytes it wanted


def _forget(name):
    """Drop the submodule picoml.<name> (its code is freed once nothing else refers to it)."""
    import sys
    sys.modules.pop("picoml." + name, None)
    globals().pop(name, None)


def record(label, seconds, source=None, **options):
    """Record labelled samples to the board's filesystem or the serial link: picoml.recording.record."""
    from .recording import record as run
    return run(label, seconds, source, **options)

