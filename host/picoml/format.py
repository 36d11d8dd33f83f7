"""The .pml model format, version 6 (versions 2 to 5 still read): the one definition of it on the host (docs/format.md describes the bytes).

A `Model` is both what the importer builds and what `read` returns; `write(model)` serialises a planned model
and `read(write(m))` gives back an equal model (`write(read(b)) == b`).
"""
import json
import re
import struct
import zlib

import numpy as np

from .errors import FormatError
from .optable import BY_CODE, BY_NAME

MAGIC = b"PML\0"
VERSION = 8             # docs/format.md, "Version history"
OLDEST_VERSION = 2      # the oldest version readers still read (each version since 2 only adds to the one before)
HEADER = struct.Struct("<4sHHII" "HHHH" "I" "II" "I" "I" "II" "II" "I")
HEADER_FIELDS = ("magic", "version", "header_size", "file_size", "crc", "n_tensors", "n_ops", "n_inputs", "n_outputs",
                 "arena_size", "tensors_offset", "ops_offset", "ops_size", "io_offset", "metadata_offset",
                 "metadata_size", "weights_offset", "weights_size", "flags")
HEADER_SIZE = 64
TENSOR = struct.Struct("<BBBBII4Ifi")
TENSOR_FIELDS = ("dtype", "ndim", "storage", "reserved", "offset", "nbytes", "dims[0]", "dims[1]", "dims[2]", "dims[3]",
                 "scale", "zero_point")
IO_ENTRY = struct.Struct("<HBB")
IO_FIELDS = ("tensor", "edge", "reserved")
CRC_START = 16          # the CRC covers every byte after the first 16 (magic, version, sizes, the CRC itself)
WEIGHTS_ALIGN = 16      # file offset of the weights blob
CONSTANT_ALIGN = 4      # offset of each constant inside the blob
MAX_DIMS = 4
MAX_OPERANDS = 32      # an op's inputs and outputs at most (PML_MAX_OPERANDS)

DTYPES = {1: np.dtype(np.int8), 2: np.dtype(np.int16), 3: np.dtype(np.int32), 4: np.dtype(np.uint32),
          5: np.dtype(np.uint64)}
DTYPE_CODES = {dt: code for code, dt in DTYPES.items()}
FLOAT32_EDGE = 5        # io table: the model's user-facing input/output is float32, (de)quantized at the edge
INT8_EDGE = 1
STORAGE_ARENA = 0
STORAGE_WEIGHTS = 1
STORAGE_STATE = 2       # in the arena, never shared, kept from one run to the next; zeroed at load and by a reset

assert HEADER.size == HEADER_SIZE and TENSOR.size == 36


def header_offsets():
    """{header field: its byte offset}."""
    codes = re.findall(r"\d*[a-zA-Z]", HEADER.format[1:])
    return {f: struct.calcsize("<" + "".join(codes[:i])) for i, f in enumerate(HEADER_FIELDS)}


class Tensor:
    """One buffer: an activation in the arena, a constant in the weights blob (then `data` holds it), or state
    (`state`: in the arena, kept from one run of the model to the next, zeroed at load and by a reset)."""

    def __init__(self, shape, dtype=np.int8, scale=0.0, zero_point=0, data=None, name="", offset=0, state=False):
        self.shape = tuple(int(d) for d in shape)
        self.state = bool(state)
        self.dtype = np.dtype(dtype)
        self.scale = float(np.float32(scale))
        self.zero_point = int(zero_point)
        self.data = data
        self.name = name
        self.offset = offset

    @property
    def is_constant(self):
        return self.data is not None

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def storage(self):
        return STORAGE_WEIGHTS if self.is_constant else (STORAGE_STATE if self.state else STORAGE_ARENA)

    def __repr__(self):
        where = "weights" if self.is_constant else ("state" if self.state else "arena")
        return "Tensor(%s %s %s@%d scale=%g zp=%d)" % (self.dtype.name, list(self.shape), where, self.offset,
                                                      self.scale, self.zero_point)


class Op:
    def __init__(self, name, inputs, outputs, params, label=""):
        spec = BY_NAME[name]
        missing = set(spec.params) - set(params)
        extra = set(params) - set(spec.params)
        if missing or extra:
            raise ValueError("op %s: params missing %s, unexpected %s" % (name, sorted(missing), sorted(extra)))
        self.name = name
        self.inputs = list(inputs)      # tensor indices, -1 for an absent optional operand
        self.outputs = list(outputs)
        self.params = {k: int(params[k]) for k in spec.params}
        self.label = label              # the layer it came from, for messages

    @property
    def code(self):
        return BY_NAME[self.name].code

    def __repr__(self):
        return "Op(%s in=%s out=%s)" % (self.name, self.inputs, self.outputs)


class IO:
    def __init__(self, tensor, float_edge=False):
        self.tensor = tensor
        self.float_edge = float_edge


class Model:
    def __init__(self, tensors=None, ops=None, inputs=None, outputs=None, metadata=None, arena_size=0):
        self.tensors = tensors or []
        self.ops = ops or []
        self.inputs = inputs or []      # list of IO
        self.outputs = outputs or []
        self.metadata = metadata or {}
        self.arena_size = arena_size
        self.views = {}                 # import-time only: tensor -> the tensor whose bytes it reuses (reshapes)
        self.source_tensors = {}        # import-time only: tensor -> index of the TFLite tensor it stands for

    def add_tensor(self, tensor):
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    @property
    def weights_size(self):
        constants = [t for t in self.tensors if t.is_constant]
        return max([t.offset + t.nbytes for t in constants], default=0)


def _align(n, a):
    return (n + a - 1) // a * a


def _pack_ops(model):
    words = []
    for i, op in enumerate(model.ops):
        spec = BY_NAME[op.name]
        for k in spec.params:
            if not -(1 << 31) <= op.params[k] < (1 << 31):
                raise FormatError("op %d (%s, layer %r): %s = %d does not fit the format's int32"
                                  % (i, op.name, op.label, k, op.params[k]))
        words += [spec.code, len(op.inputs), len(op.outputs), len(spec.params)]
        words += op.inputs + op.outputs
        words += [op.params[k] for k in spec.params]
    return np.array(words, dtype="<i4").tobytes()


def _pack_tensor(t):
    if len(t.shape) > MAX_DIMS:
        raise FormatError("tensor %r has %d dimensions; the format holds at most %d" % (t.name, len(t.shape), MAX_DIMS))
    dims = list(t.shape) + [0] * (MAX_DIMS - len(t.shape))
    if max([t.nbytes, t.offset] + dims) >= (1 << 32) or min([t.offset] + dims) < 0:
        raise FormatError("tensor %r (shape %s, %d bytes at %d) does not fit the format's 32-bit sizes"
                          % (t.name, list(t.shape), t.nbytes, t.offset))
    if not -(1 << 31) <= t.zero_point < (1 << 31):
        raise FormatError("tensor %r has zero point %d; the format holds an int32" % (t.name, t.zero_point))
    return TENSOR.pack(DTYPE_CODES[t.dtype], len(t.shape), t.storage, 0, t.offset, t.nbytes, *dims,
                       t.scale, t.zero_point)


def write(model):
    """Serialise a planned model (arena offsets and weights offsets assigned) to .pml bytes; a FormatError when
    the model does not fit the format's fields (more than 65535 tensors or ops, sizes over 4 GiB)."""
    if max(len(model.tensors), len(model.ops), len(model.inputs), len(model.outputs)) > 0xFFFF:
        raise FormatError("the model has %d tensors and %d ops; a .pml holds at most 65535 of each"
                          % (len(model.tensors), len(model.ops)))
    if not 0 <= model.arena_size < (1 << 32):
        raise FormatError("the model needs a %d-byte arena; a .pml holds sizes up to 4 GiB" % model.arena_size)
    tensors = b"".join(_pack_tensor(t) for t in model.tensors)
    io = b"".join(IO_ENTRY.pack(e.tensor, FLOAT32_EDGE if e.float_edge else INT8_EDGE, 0)
                  for e in model.inputs + model.outputs)
    ops = _pack_ops(model)
    metadata = dict(model.metadata)
    if any(op.label for op in model.ops):
        metadata["op_labels"] = [op.label for op in model.ops]
    metadata = json.dumps(metadata, separators=(",", ":"), sort_keys=True).encode()

    tensors_offset = HEADER_SIZE
    io_offset = tensors_offset + len(tensors)
    ops_offset = _align(io_offset + len(io), 4)
    metadata_offset = ops_offset + len(ops)
    weights_offset = _align(metadata_offset + len(metadata), WEIGHTS_ALIGN)
    weights = bytearray(model.weights_size)
    for t in model.tensors:
        if t.is_constant:
            weights[t.offset:t.offset + t.nbytes] = np.ascontiguousarray(t.data, dtype=t.dtype.newbyteorder("<")).tobytes()
    file_size = weights_offset + len(weights)

    body = bytearray(file_size)
    body[tensors_offset:io_offset] = tensors
    body[io_offset:io_offset + len(io)] = io
    body[ops_offset:metadata_offset] = ops
    body[metadata_offset:metadata_offset + len(metadata)] = metadata
    body[weights_offset:] = weights
    body[0:HEADER_SIZE] = HEADER.pack(
        MAGIC, VERSION, HEADER_SIZE, file_size, 0,
        len(model.tensors), len(model.ops), len(model.inputs), len(model.outputs),
        model.arena_size, tensors_offset,
        ops_offset, len(ops), io_offset,
        metadata_offset, len(metadata), weights_offset, len(weights), 0)
    struct.pack_into("<I", body, 12, zlib.crc32(memoryview(body)[CRC_START:]))
    return bytes(body)


def read_header(data):
    """The header fields as a dict, after the device's first checks (magic, version, size, CRC-32)."""
    try:
        return dict(zip(HEADER_FIELDS, device_module("pml").check_header(bytes(data))))
    except ValueError as e:
        raise FormatError(str(e))


def read(data):
    """Parse .pml bytes into a Model, after every check the device makes when it loads them (validate): a
    FormatError with the device's words for a file the device refuses, and for the others a Model whose shapes,
    operands and parameters fit every kernel, the reference's included."""
    data = bytes(data)
    validate(data)
    h = dict(zip(HEADER_FIELDS, HEADER.unpack_from(data, 0)))
    weights = data[h["weights_offset"]:h["weights_offset"] + h["weights_size"]]
    tensors = []
    for i in range(h["n_tensors"]):
        dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = \
            TENSOR.unpack_from(data, h["tensors_offset"] + i * TENSOR.size)
        t = Tensor((d0, d1, d2, d3)[:ndim], DTYPES[dtype], scale, zp, offset=offset, state=storage == STORAGE_STATE)
        if storage == STORAGE_WEIGHTS:
            t.data = np.frombuffer(weights, DTYPES[dtype].newbyteorder("<"), t.nbytes // t.dtype.itemsize,
                                   offset).reshape(t.shape).astype(t.dtype)
        tensors.append(t)
    io = []
    for i in range(h["n_inputs"] + h["n_outputs"]):
        index, edge, _ = IO_ENTRY.unpack_from(data, h["io_offset"] + i * IO_ENTRY.size)
        io.append(IO(index, edge == FLOAT32_EDGE))
    words = np.frombuffer(data, "<i4", h["ops_size"] // 4, h["ops_offset"]).tolist()
    ops, pos = [], 0
    for i in range(h["n_ops"]):
        code, n_in, n_out, n_params = words[pos:pos + 4]
        spec = BY_CODE[code]
        operands = words[pos + 4:pos + 4 + n_in + n_out]
        params = words[pos + 4 + n_in + n_out:pos + 4 + n_in + n_out + n_params]
        pos += 4 + n_in + n_out + n_params
        ops.append(Op(spec.name, operands[:n_in], operands[n_in:], dict(zip(spec.params, params))))
    raw = data[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]]
    metadata = json.loads(raw.decode()) if raw else {}
    for op, label in zip(ops, metadata.get("op_labels", [])):
        op.label = label if isinstance(label, str) else str(label)
    return Model(tensors, ops, io[:h["n_inputs"]], io[h["n_inputs"]:], metadata, h["arena_size"])


def load(path):
    with open(path, "rb") as f:
        return read(f.read())


def device_module(name):
    """A module of the device library (device/picoml/<name>.py) imported into CPython, the device package as
    `device_picoml` beside the host's `picoml`: its code runs unchanged here."""
    import importlib
    import importlib.util
    import sys
    if "device_picoml" not in sys.modules:
        from .resources import device_package
        package = device_package()
        spec = importlib.util.spec_from_file_location("device_picoml", package / "__init__.py",
                                                      submodule_search_locations=[str(package)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["device_picoml"] = module
        spec.loader.exec_module(module)
    return importlib.import_module("device_picoml." + name)


def validate(data):
    """Every check the device makes when it loads .pml bytes (device/picoml/pml.py's check: the header, the rules
    of picoml.validate -- those of the native module's pml_check -- the io table, the metadata), run here: a
    FormatError with the device's message, naming the op, its layer and the field, for a file the device refuses."""
    try:
        device_module("pml").check(bytes(data))
    except ValueError as e:
        raise FormatError(str(e))
