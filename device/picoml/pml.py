# picoml on the device: loading a .pml model (docs/format.md) in place -- the load-time half of picoml.load().
#
# Reads and checks the header (magic, version, size, CRC-32), picks the backend, allocates the arena, has the
# whole model validated once -- by the native module (_picoml.Model runs the C checks) or by picoml.validate for
# the viper and pure-Python backends, the same rules in the same words -- checks the io table and the metadata,
# prepares the Python kernels, and builds the picoml.model.Model. picoml.load() drops this module (and
# picoml.validate) afterwards so their code does not occupy the heap while the model runs.
#
# Needs only `struct` (binascii is optional: a pure-Python CRC-32 stands in). Nothing here copies the model.
# The record layouts come from picoml._layout, not _ops: the native backend's load needs no op table.
# Every refusal is a ValueError saying what is wrong, in the order the format specifies.
import struct

from ._layout import (CRC_START, FLOAT32_EDGE, HEADER_FORMAT, HEADER_SIZE, INT8_EDGE, IO_FORMAT, IO_SIZE, MAGIC,
                      OLDEST_VERSION, STORAGE_ARENA, STORAGE_STATE, STORAGE_WEIGHTS, TENSOR_FORMAT, TENSOR_SIZE,
                      VERSION)


def _crc32_py(data):
    """CRC-32 (IEEE, as zlib) in pure Python on 16-bit halves, so no long ints on 32-bit ports."""
    lo_table = []
    hi_table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        lo_table.append(c & 0xFFFF)
        hi_table.append(c >> 16)
    lo = 0xFFFF
    hi = 0xFFFF
    for b in data:
        i = (lo ^ b) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ lo_table[i]
        hi = (hi >> 8) ^ hi_table[i]
    return ((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF)


def crc32(data):
    """CRC-32 of a buffer: binascii's (or zlib's) when the port has it, else the pure-Python one."""
    try:
        from binascii import crc32 as f
    except ImportError:
        try:
            from zlib import crc32 as f
        except ImportError:
            f = None
    if f is not None:
        try:
            return f(data) & 0xFFFFFFFF
        except (TypeError, NotImplementedError):
            pass
    return _crc32_py(data)


def check_header(buf):
    """The header's fields, after the checks that come first: length, magic, version, size, CRC-32."""
    n = len(buf)
    if n < HEADER_SIZE:
        raise ValueError("not a .pml file: %d bytes is shorter than the %d-byte header" % (n, HEADER_SIZE))
    header = struct.unpack_from(HEADER_FORMAT, buf, 0)
    magic, version, header_size, file_size, crc = header[:5]
    if magic != MAGIC:
        raise ValueError("not a .pml file: magic is %r, expected %r" % (magic, MAGIC))
    if version > VERSION:
        raise ValueError("this .pml is format version %d; this picoml reads up to version %d: upgrade picoml"
                         % (version, VERSION))
    if 1 <= version < OLDEST_VERSION:
        raise ValueError("this .pml is format version %d, from an older picoml; this picoml reads versions %d to %d: "
                         "reconvert the model with `picoml convert`" % (version, OLDEST_VERSION, VERSION))
    if version < 1 or header_size != HEADER_SIZE:
        raise ValueError("corrupt .pml: version %d, header size %d" % (version, header_size))
    if file_size != n:
        raise ValueError("truncated or padded .pml: the header says %d bytes, the file has %d" % (file_size, n))
    computed = crc32(memoryview(buf)[CRC_START:])
    if computed != crc:
        raise ValueError("corrupt .pml: CRC32 mismatch (stored %08x, computed %08x)" % (crc, computed))
    return header


def arch_text():
    from .report import arch_text
    return arch_text()


def import_native():
    """(the _picoml module, None) or (None, why not)."""
    try:
        import _picoml
    except ImportError as e:
        return None, "native: no _picoml module (%s)" % e
    except ValueError as e:     # "incompatible .mpy arch" / version
        return None, "native: _picoml could not be loaded (%s); this board needs it built for %s" % (e, arch_text())
    if not hasattr(_picoml, "Model"):
        return None, "native: this _picoml is an older build (it has no Model): install the one of this picoml"
    return _picoml, None


def import_viper():
    """(picoml.kernels_viper, None) or (None, why not)."""
    try:
        from picoml import kernels_viper
    except ImportError as e:
        return None, "viper: no picoml.kernels_viper (%s)" % e
    except MemoryError:         # no room for its code: a MemoryError from load(), not a missing backend
        raise
    except Exception as e:      # incompatible .mpy arch, no viper emitter on this port, ...
        return None, "viper: picoml.kernels_viper could not be loaded (%s: %s)" % (type(e).__name__, e)
    if not isinstance(getattr(kernels_viper, "KERNELS", None), dict):
        return None, "viper: picoml.kernels_viper has no KERNELS dict"
    return kernels_viper, None


def select(backend):
    """(name, module, notes) of the backend to use; the automatic choice is made once per session and kept in
    picoml.model (this module is dropped after each load)."""
    from picoml import model
    if backend is None:
        if model.AUTO is None:
            notes = []
            module, why = import_native()
            if module is not None:
                model.AUTO = ("native", module, notes)
            else:
                notes.append(why)
                module, why = import_viper()
                if module is not None:
                    model.AUTO = ("viper", module, notes)
                else:
                    notes.append(why)
                    model.AUTO = ("python", None, notes)
        return model.AUTO
    if backend == "native":
        module, why = import_native()
        if module is None:
            raise ImportError("picoml: backend='native' needs the _picoml native module built for this board "
                              "(%s), e.g. _picoml.mpy in /lib; %s. Use backend='python' or None to fall back."
                              % (arch_text(), why))
        return "native", module, []
    if backend == "viper":
        module, why = import_viper()
        if module is None:
            raise ImportError("picoml: backend='viper' needs picoml/kernels_viper on a port with the viper "
                              "emitter (%s); %s" % (arch_text(), why))
        return "viper", module, []
    if backend == "python":
        return "python", None, []
    raise ValueError("picoml: unknown backend %r: use 'native', 'viper', 'python' or None (the fastest available)"
                     % (backend,))


def alloc(n, what):
    """bytearray(n), or a MemoryError saying how many bytes were wanted and how many are free."""
    import gc
    for attempt in (0, 1):
        try:
            return bytearray(n)
        except MemoryError:
            gc.collect()
    free = gc.mem_free() if hasattr(gc, "mem_free") else -1
    if free < 0:
        raise MemoryError("picoml: %s needs %d bytes of RAM, which is not available" % (what, n))
    raise MemoryError("picoml: %s needs %d bytes of RAM; %d bytes are free%s" % (
        what, n, free, " but not in one block" if free >= n else ""))


def load(source, backend=None, arena=None):
    """picoml.load() once the file is in memory: source is the .pml's bytes (bytes, bytearray or memoryview, used
    in place); arena one picoml.load allocated early (used if its size is right). Returns the Model."""
    # Code first (an unknown name or a forced backend that cannot be imported fails here), then the arena, once
    # the CRC has shown that the header's arena_size is what the writer meant.
    name, module, notes = select(backend)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise TypeError("picoml.load: give a file path or the .pml bytes (bytes, bytearray, memoryview), not %s"
                        % type(source).__name__)
    if name != "native":
        from . import kernels_python    # noqa: F401 -- resident code, before the load-time garbage
    buf = source
    header = check_header(buf)
    size = header[9] if header[9] > 4 else 4
    if arena is None or len(arena) != size:
        arena = None
        arena = alloc(size, "the arena")
    native = ops = None
    if name == "native":
        try:
            native = module.Model(buf, arena)
        except ValueError as e:
            if len(e.args) != 5:
                raise
            from .refusal import message
            raise ValueError(message(buf, e.args))
    else:
        from .validate import check
        ops = check(buf, len(arena))
    inputs, outputs = _io(buf, header, arena)
    _metadata(buf, header)
    # the Python kernels are prepared by picoml.load once this module is gone (kernels_python.prepare)
    steps = None if native is not None else (ops, arena, header[10], header[16], module if name == "viper" else None)
    from .model import Model
    return Model(buf, name, list(notes), native, steps, inputs, outputs, _state(buf, header, arena))


def _state(buf, header, arena):
    """The model's state tensors (storage 2, format version 3) as (memoryview of their arena bytes, as many zero
    bytes) pairs: what Model.reset() writes. Validated already: they lie inside the arena."""
    pairs = []
    view = None
    for i in range(header[5]):
        _, _, storage, _, offset, nbytes = struct.unpack_from("<BBBBII", buf, header[10] + i * TENSOR_SIZE)
        if storage == STORAGE_STATE:
            if view is None:
                view = memoryview(arena)
            pairs.append((view[offset:offset + nbytes], bytes(nbytes)))
    return tuple(pairs)


def check(buf):
    """Every check load() makes, without a backend or an arena: the header, the rules (picoml.validate, with the ops
    only the host runs yet), the io table, the metadata. ValueError naming what is wrong; nothing when the file is
    valid. The host's entry point."""
    header = check_header(buf)
    from .validate import check as rules
    rules(buf, host=True)
    _io(buf, header, None)
    _metadata(buf, header)


def _io(buf, header, arena):
    """(inputs, outputs): a picoml.model.IO per entry of the io table, after its checks (arena None: the checks
    only)."""
    n_tensors, n_inputs, n_outputs = header[5], header[7], header[8]
    if not n_inputs or not n_outputs:
        raise ValueError("picoml: corrupt .pml: a model needs an input and an output; this one has %d inputs and %d "
                         "outputs" % (n_inputs, n_outputs))
    if arena is not None:
        from .model import IO
        arena_view = memoryview(arena)
        model_view = memoryview(buf)
    ios = []
    for i in range(n_inputs + n_outputs):
        index, edge, _ = struct.unpack_from(IO_FORMAT, buf, header[13] + i * IO_SIZE)
        if index >= n_tensors or edge not in (INT8_EDGE, FLOAT32_EDGE):
            raise ValueError("picoml: corrupt .pml: io entry %d names tensor %d with edge type %d" % (i, index, edge))
        dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = \
            struct.unpack_from(TENSOR_FORMAT, buf, header[10] + index * TENSOR_SIZE)
        is_input = i < n_inputs
        if dtype < 1 or dtype > 5 or (edge == FLOAT32_EDGE and dtype != 1) or (storage != STORAGE_ARENA and is_input):
            raise ValueError("picoml: corrupt .pml: model %s tensor %d is not an activation (int8 where the edge is "
                             "float32)" % ("input" if is_input else "output", index))
        if arena is not None:
            data = arena_view[offset:offset + nbytes] if storage != STORAGE_WEIGHTS else \
                model_view[header[16] + offset:header[16] + offset + nbytes]
            ios.append(IO((d0, d1, d2, d3)[:ndim], nbytes, scale, zp, edge == FLOAT32_EDGE, data, dtype))
    return tuple(ios[:n_inputs]), tuple(ios[n_inputs:])


def _metadata(buf, header):
    """The metadata block is compact JSON (no byte below 0x20) of an object nesting at most METADATA_DEPTH levels,
    with finite numbers, whose labels and op_labels, when present, are lists. (These limits make CPython's and
    MicroPython's parsers agree where they differ: control characters in strings, NaN and infinities, depth.)"""
    start, size = header[14], header[15]
    if not size:
        return
    import json
    raw = bytes(memoryview(buf)[start:start + size])
    try:
        value = json.loads(raw.decode()) if min(raw) >= 0x20 else None
    except (ValueError, UnicodeError, RuntimeError):     # (RuntimeError: nested too deep for the parser; the
        # parsers' own words differ from port to port)
        value = None
    if not isinstance(value, dict) or not _plain(value):
        raise ValueError("picoml: corrupt .pml: metadata is not a JSON object")
    for key in ("labels", "op_labels"):
        if not isinstance(value.get(key, []), list):
            raise ValueError("picoml: corrupt .pml: metadata %s is not a list" % key)


METADATA_DEPTH = 16


def _plain(value):
    """True if the parsed value nests at most METADATA_DEPTH levels and holds no infinite or NaN number (v - v is
    0 for every finite number; no float type needed, which an integer-only port lacks)."""
    level = [value]
    for _ in range(METADATA_DEPTH + 1):
        inner = []
        for v in level:
            if isinstance(v, dict):
                inner.extend(v.values())
            elif isinstance(v, list):
                inner.extend(v)
            elif not (v is None or isinstance(v, (str, int))) and v - v != 0:
                return False
        if not inner:
            return True
        level = inner
    return False
