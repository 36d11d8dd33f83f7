# picoml on the device: reading, validating and loading a .pml model (docs/format.md) in place.
#
# Load-time and cold code: picoml.load() imports it, gets from load() what picoml.model.Model (the part that
# stays in RAM) is built from, and drops this module from sys.modules so its code does not occupy the heap
# while the model runs; Model.info(), repr(Model) and Model.benchmark() import it again for the call.
#
# Needs only `struct` (binascii is optional: a pure-Python CRC-32 stands in). Nothing here copies the model:
# `Pml(buf)` checks the bytes and keeps offsets into `buf`. Every refusal is a ValueError saying what is wrong,
# in the order the format specifies (the same checks as host/picoml/format.py).
import struct

from ._ops import (CRC_START, DTYPE_SIZES, FLOAT32_EDGE, HEADER_FORMAT, HEADER_SIZE, INT8_EDGE, IO_FORMAT,
                   IO_SIZE, MAGIC, MAX_DIMS, N_INPUTS, N_PARAMS, OP_NAMES, STORAGE_ARENA, STORAGE_WEIGHTS,
                   TENSOR_FORMAT, TENSOR_SIZE, VERSION)


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
    if 1 <= version < VERSION:
        raise ValueError("this .pml is format version %d, from an older picoml; this picoml reads version %d: "
                         "reconvert the model with `picoml convert`" % (version, VERSION))
    if version < 1 or header_size != HEADER_SIZE:
        raise ValueError("corrupt .pml: version %d, header size %d" % (version, header_size))
    if file_size != n:
        raise ValueError("truncated or padded .pml: the header says %d bytes, the file has %d" % (file_size, n))
    computed = crc32(memoryview(buf)[CRC_START:])
    if computed != crc:
        raise ValueError("corrupt .pml: CRC32 mismatch (stored %08x, computed %08x)" % (crc, computed))
    return header


class Pml:
    """A validated .pml in a buffer (bytes, bytearray or memoryview), read in place.

    Attributes: the header fields (version, file_size, n_tensors, n_ops, n_inputs, n_outputs, arena_size,
    tensors_offset, ops_offset, ops_size, io_offset, metadata_offset, metadata_size, weights_offset,
    weights_size, flags), `inputs` / `outputs` (tuples of (tensor index, float edge flag)) and `ops` (tuple of
    (code, input indices, output indices, params) tuples, decoded once here)."""

    def __init__(self, buf, header=None):
        (magic, version, header_size, file_size, crc, n_tensors, n_ops, n_inputs, n_outputs, arena_size,
         tensors_offset, ops_offset, ops_size, io_offset, metadata_offset, metadata_size, weights_offset,
         weights_size, flags) = header or check_header(buf)
        self.buf = buf
        self.version = version
        self.file_size = file_size
        self.n_tensors = n_tensors
        self.n_ops = n_ops
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.arena_size = arena_size
        self.tensors_offset = tensors_offset
        self.ops_offset = ops_offset
        self.ops_size = ops_size
        self.io_offset = io_offset
        self.metadata_offset = metadata_offset
        self.metadata_size = metadata_size
        self.weights_offset = weights_offset
        self.weights_size = weights_size
        self.flags = flags

        self._section(weights_offset, weights_size, "weights")
        self._section(tensors_offset, n_tensors * TENSOR_SIZE, "tensor table")
        for i in range(n_tensors):
            self._check_tensor(i)
        self._section(io_offset, (n_inputs + n_outputs) * IO_SIZE, "io table")
        io = []
        for i in range(n_inputs + n_outputs):
            index, edge, _ = struct.unpack_from(IO_FORMAT, buf, io_offset + i * IO_SIZE)
            if index >= n_tensors or edge not in (INT8_EDGE, FLOAT32_EDGE):
                raise ValueError("corrupt .pml: io entry %d names tensor %d with edge type %d" % (i, index, edge))
            io.append((index, edge == FLOAT32_EDGE))
        self.inputs = tuple(io[:n_inputs])
        self.outputs = tuple(io[n_inputs:])
        self._section(ops_offset, ops_size, "op table")
        if ops_size % 4:
            raise ValueError("corrupt .pml: the op table is %d bytes, not a multiple of 4" % ops_size)
        self.ops = self._read_ops()
        self._section(metadata_offset, metadata_size, "metadata")

    def _section(self, offset, size, what):
        if offset + size > self.file_size or (offset < HEADER_SIZE and size):
            raise ValueError("corrupt .pml: the %s section (offset %d, %d bytes) lies outside the file"
                             % (what, offset, size))

    def _check_tensor(self, i):
        dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = self.entry(i)
        if dtype < 1 or dtype > 3 or ndim > MAX_DIMS or storage > STORAGE_WEIGHTS:
            raise ValueError("corrupt .pml: tensor %d has dtype %d, %d dims, storage %d" % (i, dtype, ndim, storage))
        size = DTYPE_SIZES[dtype]
        dims = (d0, d1, d2, d3)
        for k in range(ndim):
            size *= dims[k]
        if size != nbytes:
            raise ValueError("corrupt .pml: tensor %d is %d bytes by its shape but %d by the table" % (i, size, nbytes))
        limit = self.weights_size if storage == STORAGE_WEIGHTS else self.arena_size
        if offset + nbytes > limit:
            raise ValueError("corrupt .pml: tensor %d (%d bytes at %d) overruns its %s"
                             % (i, nbytes, offset, "weights" if storage else "arena"))

    def _read_ops(self):
        buf = self.buf
        pos = self.ops_offset
        end = pos + self.ops_size
        n_tensors = self.n_tensors
        ops = []
        for i in range(self.n_ops):
            if pos + 16 > end:
                raise ValueError("corrupt .pml: the op table ends inside op %d" % i)
            code, n_in, n_out, n_params = struct.unpack_from("<4i", buf, pos)
            if code < 1 or code >= len(OP_NAMES):
                raise ValueError("unknown op code %d (op %d): this .pml needs a newer picoml" % (code, i))
            name = OP_NAMES[code]
            if n_params != N_PARAMS[code]:
                raise ValueError("corrupt .pml: op %d (%s) has %d params, expected %d"
                                 % (i, name, n_params, N_PARAMS[code]))
            pos += 16
            count = n_in + n_out + n_params
            if n_in < 0 or n_out < 0 or pos + 4 * count > end:
                raise ValueError("corrupt .pml: op %d (%s) has bad operands or is cut short" % (i, name))
            words = struct.unpack_from("<%di" % count, buf, pos)
            pos += 4 * count
            for j in words[:n_in + n_out]:
                if j >= n_tensors or j < -1:
                    raise ValueError("corrupt .pml: op %d (%s) has bad operands or is cut short" % (i, name))
            expected = N_INPUTS[code]
            if n_out != 1 or (n_in != expected if expected >= 0 else n_in < 1):
                raise ValueError("corrupt .pml: op %d (%s) has %d inputs and %d outputs, expected %s and 1"
                                 % (i, name, n_in, n_out, expected if expected >= 0 else "1 or more"))
            if -1 in words[:n_in + n_out]:
                raise ValueError("corrupt .pml: op %d (%s) has an absent operand (-1); no op has one"
                                 % (i, name))
            ops.append((code, words[:n_in], words[n_in:n_in + n_out], words[n_in + n_out:]))
        if pos != end:
            raise ValueError("corrupt .pml: %d stray words after the op table" % ((end - pos) // 4))
        return tuple(ops)

    def entry(self, i):
        """Tensor table entry i: (dtype, ndim, storage, reserved, offset, nbytes, d0, d1, d2, d3, scale, zero_point)."""
        return struct.unpack_from(TENSOR_FORMAT, self.buf, self.tensors_offset + i * TENSOR_SIZE)


# ---------------------------------------------------------------------------------------------------------
# Backends and loading
# ---------------------------------------------------------------------------------------------------------

ARCH_NAMES = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
              "xtensawin", "rv32imc")


def arch():
    """(architecture name, .mpy version) of this interpreter from sys.implementation._mpy -- what a native
    module must be built for; (None, None) when the port does not say."""
    import sys
    mpy = getattr(sys.implementation, "_mpy", None)
    if mpy is None:
        return None, None
    a = (mpy >> 10) & 0x0F
    return (ARCH_NAMES[a] if a < len(ARCH_NAMES) else "arch%d" % a), mpy & 0xFF


def arch_text():
    name, version = arch()
    if name is None:
        return "an unknown architecture (sys.implementation has no _mpy)"
    return "arch %s, .mpy version %d" % (name, version)


def import_native():
    """(the _picoml module, None) or (None, why not)."""
    try:
        import _picoml
    except ImportError as e:
        return None, "native: no _picoml module (%s)" % e
    except ValueError as e:     # "incompatible .mpy arch" / version
        return None, "native: _picoml could not be loaded (%s); this board needs it built for %s" % (e, arch_text())
    if not (hasattr(_picoml, "check") and hasattr(_picoml, "invoke")):
        return None, "native: _picoml has no check()/invoke()"
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
    try:
        return bytearray(n)
    except MemoryError:
        pass
    gc.collect()
    try:
        return bytearray(n)
    except MemoryError:
        pass
    free = gc.mem_free() if hasattr(gc, "mem_free") else -1
    if free < 0:
        raise MemoryError("picoml: %s needs %d bytes of RAM, which is not available" % (what, n))
    raise MemoryError("picoml: %s needs %d bytes of RAM; %d bytes are free%s" % (
        what, n, free, " but not in one block" if free >= n else ""))


def read_file(path):
    """The file in one bytearray of its size, filled with readinto (no second copy)."""
    import gc
    import os
    size = os.stat(path)[6]
    gc.collect()
    buf = alloc(size, "the model file %s" % path)
    from . import fill
    fill(path, buf)
    return buf


NATIVE_STATUS = {-1: "model inconsistent", -2: "unknown op", -3: "operands do not fit the kernel"}


def load(source, backend=None, arena=None):
    """The load-time half of picoml.load(): read and validate the model, pick the backend, allocate the arena,
    let a native module check the model. Returns the spec picoml.model.Model is built from (a plain tuple, so
    nothing of this module stays referenced once the model exists). `arena`: one picoml.load allocated early
    (it is used if its size is right)."""
    # Code first (an unknown name or a forced backend that cannot be imported fails here), then the two big
    # blocks, file and arena, one after the other while the heap is least fragmented; the arena only once the
    # CRC has shown that the header's arena_size is what the writer meant.
    name, module, notes = select(backend)
    notes = list(notes)
    if isinstance(source, str):
        buf = read_file(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        buf = source
    else:
        raise TypeError("picoml.load: give a file path or the .pml bytes (bytes, bytearray, memoryview), not %s"
                        % type(source).__name__)
    header = check_header(buf)
    size = header[9] if header[9] > 4 else 4
    if arena is None or len(arena) != size:
        arena = None
        arena = alloc(size, "the arena")
    p = Pml(buf, header)
    invoke = None
    if name == "native":
        status = module.check(buf, len(arena))
        if status == 0:
            invoke = module.invoke
        else:
            why = "the native module refused this model: status %d (%s)" % (status, NATIVE_STATUS.get(status, "?"))
            if backend == "native":
                raise ValueError("picoml: " + why)
            notes.append("native: " + why)
            module, viper_why = import_viper()
            name = "viper" if module is not None else "python"
            if module is None:
                notes.append(viper_why)
    ios = []
    for entries in (p.inputs, p.outputs):
        described = []
        for index, float_edge in entries:
            dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = p.entry(index)
            if dtype != 1 or (storage != STORAGE_ARENA and entries is p.inputs):
                raise ValueError("picoml: model %s tensor %d is not an int8 activation"
                                 % ("input" if entries is p.inputs else "output", index))
            start = offset if storage == STORAGE_ARENA else p.weights_offset + offset
            described.append(((d0, d1, d2, d3)[:ndim], scale, zp, float_edge, storage == STORAGE_ARENA, start,
                              nbytes))
        ios.append(tuple(described))
    a = arch()
    return (buf, arena, name, notes, invoke, module if name == "viper" else None,
            None if invoke is not None else p.ops, p.tensors_offset, p.weights_offset, ios[0], ios[1],
            bytes([op[0] for op in p.ops]),
            (p.version, p.file_size, p.arena_size, p.weights_size, p.metadata_offset, p.metadata_size), a[0], a[1],
            OP_NAMES)


# ---------------------------------------------------------------------------------------------------------
# Cold Model methods (picoml.model imports this module for the call and drops it again)
# ---------------------------------------------------------------------------------------------------------

def _shape_text(shape):
    return "x".join([str(d) for d in shape]) or "scalar"


def _io(io):
    return {"shape": io[0], "dtype": "int8", "scale": io[1], "zero_point": io[2], "float": io[3]}


def info(m):
    """Model.info()."""
    meta = m.metadata()
    labels = meta.get("labels")
    return {
        "backend": m.backend,
        "backend_notes": list(m._notes),
        "arch": m._arch[0],
        "mpy_version": m._arch[1],
        "ops": [OP_NAMES[c] if c < len(OP_NAMES) else str(c) for c in m._op_codes],
        "python_ops": list(m._python_ops),
        "arena_bytes": m._sizes[2],
        "weights_bytes": m._sizes[3],
        "file_bytes": m._sizes[1],
        "format_version": m._sizes[0],
        "inputs": [_io(io) for io in m._inputs],
        "outputs": [_io(io) for io in m._outputs],
        "labels": labels if isinstance(labels, list) else None,
        "source": meta.get("source"),
    }


def summary(m):
    """repr(Model): one line."""
    try:
        source = m.metadata().get("source")
    except ValueError:
        source = None
    return "<picoml.Model%s: %d ops, in %s int8, out %s int8, arena %d B, weights %d B, file %d B, backend %s>" % (
        " " + source if source else "", len(m._op_codes), ",".join([_shape_text(io[0]) for io in m._inputs]),
        ",".join([_shape_text(io[0]) for io in m._outputs]), m._sizes[2], m._sizes[3], m._sizes[1], m.backend)


def benchmark(m, n):
    """Model.benchmark(n): mean microseconds of n predict() calls (int8 in, int8 out) on the bytes now in the
    input tensors (fed back in place: no copy of a possibly large input; an in-place op may change them between
    calls, which does not change the work); the outputs of the last prediction are put back afterwards."""
    import time
    outputs = [bytes(mv) for mv in m._out_mv]
    x = m._in_mv[0] if len(m._in_mv) == 1 else list(m._in_mv)
    m.predict(x)
    if hasattr(time, "ticks_us"):
        t0 = time.ticks_us()
        for _ in range(n):
            m.predict(x)
        us = time.ticks_diff(time.ticks_us(), t0)
    elif hasattr(time, "monotonic_ns"):
        t0 = time.monotonic_ns()
        for _ in range(n):
            m.predict(x)
        us = (time.monotonic_ns() - t0) // 1000
    else:
        t0 = time.time()
        for _ in range(n):
            m.predict(x)
        us = int((time.time() - t0) * 1000000)
    for j in range(len(outputs)):
        m._out_mv[j][:] = outputs[j]
        m._out_view[j][:] = outputs[j]
    return us // n
