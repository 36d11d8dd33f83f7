# picoml.report: the rarely used parts of a Model -- info(), repr(), benchmark(), metadata(), labels -- read from
# its public attributes and its .pml bytes (model.buffer, validated at load). picoml.model imports this module for
# the call and drops it again, so it takes no RAM while the model runs.
import struct

from ._layout import HEADER_FORMAT
from ._ops import OP_NAMES

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


def _header(m):
    """The header's fields as a dict (the model was validated at load)."""
    names = ("magic", "version", "header_size", "file_size", "crc", "n_tensors", "n_ops", "n_inputs", "n_outputs",
             "arena_size", "tensors_offset", "ops_offset", "ops_size", "io_offset", "metadata_offset",
             "metadata_size", "weights_offset", "weights_size", "flags")
    return dict(zip(names, struct.unpack_from(HEADER_FORMAT, m.buffer, 0)))


def metadata(m):
    """Model.metadata(): the metadata JSON as a dict."""
    h = _header(m)
    start, size = h["metadata_offset"], h["metadata_size"]
    if not size:
        return {}
    import json
    try:
        return json.loads(bytes(memoryview(m.buffer)[start:start + size]).decode())
    except ValueError:
        try:
            float
        except NameError:
            raise ValueError("picoml: this MicroPython has no floating point: it cannot read the model's metadata "
                             "(numbers with a decimal point)")
        raise


def labels(m):
    """Model.labels: the metadata's "labels" list, or None (also where this MicroPython cannot read the metadata)."""
    try:
        value = metadata(m).get("labels")
    except ValueError:
        try:
            float
        except NameError:
            return None
        raise
    return list(value) if isinstance(value, list) else None


def op_names(m):
    """The names of the model's ops, in order."""
    h = _header(m)
    pos = h["ops_offset"]
    names = []
    for _ in range(h["n_ops"]):
        code, n_in, n_out, n_params = struct.unpack_from("<4i", m.buffer, pos)
        names.append(OP_NAMES[code])
        pos += 4 * (4 + n_in + n_out + n_params)
    return names


def _shape_text(shape):
    return "x".join([str(d) for d in shape]) or "scalar"


def _io(io):
    return {"shape": io.shape, "dtype": _DTYPES[io.dtype], "scale": io.scale,
            "zero_point": io.zero_point, "float": io.float}


def info(m):
    """Model.info()."""
    h = _header(m)
    meta = metadata(m)
    labels = meta.get("labels")
    a = arch()
    return {
        "backend": m.backend,
        "backend_notes": list(m.backend_notes),
        "arch": a[0],
        "mpy_version": a[1],
        "ops": op_names(m),
        "python_ops": list(m.python_ops),
        "arena_bytes": h["arena_size"],
        "scratch_bytes": m._native.scratch() if m._native is not None else 0,
        "weights_bytes": h["weights_size"],
        "file_bytes": h["file_size"],
        "format_version": h["version"],
        "inputs": [_io(io) for io in m.inputs],
        "outputs": [_io(io) for io in m.outputs],
        "labels": labels if isinstance(labels, list) else None,
        "source": meta.get("source"),
    }


def summary(m):
    """repr(Model): one line."""
    h = _header(m)
    source = metadata(m).get("source")
    return "<picoml.Model%s: %d ops, in %s, out %s, arena %d B, weights %d B, file %d B, backend %s>" % (
        " " + source if isinstance(source, str) else "", h["n_ops"], _ios_text(m.inputs), _ios_text(m.outputs),
        h["arena_size"], h["weights_size"], h["file_size"], m.backend)


def _ios_text(ios):
    """'1x49x10x1 int8', or for several, '1x2x4,1x1x4 int8' when they share a dtype, else each its own."""
    dtypes = [_DTYPES[io.dtype] for io in ios]
    shapes = [_shape_text(io.shape) for io in ios]
    if all(d == dtypes[0] for d in dtypes):
        return ",".join(shapes) + " " + dtypes[0]
    return ",".join([s + " " + d for s, d in zip(shapes, dtypes)])


def benchmark(m, n):
    """Model.benchmark(n): mean microseconds of n predict() calls (int8 in, int8 out) on the bytes now in the
    input tensors (fed back in place: no copy of a possibly large input; an in-place op may change them between
    calls, which does not change the work); the outputs of the last prediction are put back afterwards."""
    from .clock import ticks_us, ticks_diff
    if not isinstance(n, int) or n < 1:
        raise ValueError("picoml: benchmark(n) takes a number of inferences n >= 1, not %r" % (n,))
    outputs = [bytes(io.data) for io in m.outputs]
    x = m.inputs[0].data if len(m.inputs) == 1 else [io.data for io in m.inputs]
    y = m.predict(x)
    t0 = ticks_us()
    for _ in range(n):
        m.predict(x)
    us = ticks_diff(ticks_us(), t0)
    # the tensors and the model's own output arrays (what predict returned) hold the last prediction again
    for j, arr in enumerate(y if isinstance(y, list) else [y]):
        if bytes(m.outputs[j].data) != outputs[j]:      # (an output that is a constant never changes)
            m.outputs[j].data[:] = outputs[j]
        memoryview(arr)[:] = outputs[j]
    return us // n


_INT8 = "int8 data (array('b'), bytes, bytearray, memoryview) or floats (list, tuple, array('f'))"
# The words of predict's and top's refusals: key -> (exception type, text % args).
# predict's and top's misuses, by number: picoml.model and picoml.values raise _error(N, ...)  # NAME (numbers,
# not names, so that no name is interned for them; tests/test_heap_overhead.py checks the comments)
_ERRORS = (
    (ValueError, "this model has %d inputs: give a list or tuple of one value per input"),  # 0 INPUT_LIST
    (ValueError, "this model has %d outputs: give out as a list of one buffer per output"),  # 1 OUTPUT_LIST
    (TypeError, "input %d must be " + _INT8 + ", not %s"),  # 2 INPUT_TYPE
    (ValueError, "input %d takes %d values (shape %s), got %d"),  # 3 INPUT_SIZE
    (TypeError, "input %d must be " + _INT8 + " (an int16 or int32 input: its values, IO.dtype); this array's "
     "items are not bytes"),  # 4 INPUT_ITEMS
    (ValueError, "input %d has no quantization scale; give int8 data"),  # 5 INPUT_SCALE
    (TypeError, "input %d value %d is not a number: %r"),  # 6 INPUT_NUMBER
    (ValueError, "input %d value %d is NaN"),  # 7 INPUT_NAN
    (ValueError, "output %d has %d values (shape %s); out has room for %d"),  # 8 OUTPUT_SIZE
    (TypeError, "out must be None, an array('b')/bytearray/memoryview for int8 or an array('f')/list "
     "for floats, not %s"),  # 9 OUTPUT_TYPE
    (TypeError, "out must be writable and hold bytes (array('b'), bytearray) or floats (array('f'), list); a "
     "memoryview of bytes is read-only"),  # 10 OUTPUT_ITEMS
    (ValueError, "top() needs a prediction first: call predict()"),  # 11 TOP_FIRST
    (ValueError, "this model has %d output(s): top(output) takes 0..%d"),  # 12 TOP_OUTPUT
    (TypeError, "input %d is %s: it takes integer values; value %d is %r"),  # 13 INPUT_INTEGER
    (ValueError, "input %d is %s: give its %d little-endian bytes or its %d values (e.g. an array('h') or a list), "
     "not %d bytes"),  # 14 INPUT_BYTES
    (ValueError, "output %d has no quantization scale: give out as int8 (None, array('b'), bytearray), not "
     "floats"),  # 15 OUTPUT_SCALE
    (ValueError, "top() ranks int8 scores; output %d is %s: read its values with predict(x, out=[...]) or "
     "from outputs[%d].data"),  # 16 TOP_WIDE
)
_DTYPES = ("", "int8", "int16", "int32", "uint32", "uint64")


def error(key, args):
    """The exception predict or top raises (picoml.model._error): args as the key's text takes them, a shape
    given as a tuple and the size of a shape worked out here."""
    kind, text = _ERRORS[key]
    if key in (3, 8):   # INPUT_SIZE, OUTPUT_SIZE
        n, shape, got = args[0], args[1], args[2]
        size = 1
        for d in shape:
            size *= d
        args = (n, size, _shape_text(shape), got)
    elif key == 13:     # INPUT_INTEGER: (input, dtype code, index, value)
        args = (args[0], _DTYPES[args[1]]) + tuple(args[2:])
    elif key == 16:     # TOP_WIDE: (output, dtype code)
        args = (args[0], _DTYPES[args[1]], args[0])
    elif key == 14:     # INPUT_BYTES: (input, dtype code, the input's bytes, the bytes given)
        i, dtype, nbytes, got = args
        args = (i, _DTYPES[dtype], nbytes, nbytes // (0, 1, 2, 4, 4, 8)[dtype], got)
    return kind("picoml: " + text % args)
