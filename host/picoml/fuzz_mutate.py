"""The mutators of `picoml fuzz`: structure-aware edits of a valid .pml or .tflite file (docs/fuzzing.md).

`mutate_pml(blob, rng)` knows every field of the format (header, tensor table, io table, op table with each op's
operands and named params, metadata, weights) and edits them the way a damaged or hostile file would: extreme
values (0, -1, 2**30, 2**31-1, -2**31, ...), small steps, NaN/inf scales, shapes changed together with their byte
counts so the edit gets past the first checks, operands pointing at other tensors, op codes swapped, bit flips,
truncations; then, almost always, the CRC and the file size are recomputed so the edit reaches the parser.
`mutate_tflite(blob, rng)` does the same for the fields of a .tflite flatbuffer that picoml reads (shapes,
types, quantization, operands, op codes, options). Both return (new bytes, list of what was done).
"""
import json
import math
import struct
import zlib

from . import format
from .optable import BY_CODE, OPS

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
EXTREMES = (0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, -128, -127, -31, -32,
            1 << 15, (1 << 15) - 1, 1 << 16, (1 << 16) - 1, 1 << 24, 1 << 30, (1 << 30) + 1, I32_MAX, I32_MIN,
            I32_MIN + 1, -(1 << 30), 1 << 31, (1 << 32) - 1)
FLOATS = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e-45, 1e-38, 1e-20, 1e-10, 1.0, -1.0, 0.5, 256.0,
          1e10, 1e20, 3.4e38, -3.4e38)
BAD_METADATA = (b"", b"[]", b"1", b"null", b'"text"', b"{", b"}", b"\xff\xfe\xfd", b'{"labels": 5}',
                b'{"labels": [1, 2, null]}', b'{"labels": "yes,no"}', b'{"op_labels": 7}', b'{"op_labels": [[1], {}]}',
                b'{"input": 3}', b'{"input": {"a": [1, {"b": null}]}}', b'{"input": []}', b'{"tflm_arena": 5}',
                b'{"tflm_arena": {"total": 0, "activations": null}}', b'{"tflm_arena": {}}', b'{"tflite_bytes": 0}',
                b'{"tflite_bytes": "x"}', b'{"tflite_bytes": -1}', b'{"source": 5}', b'{"source": null}',
                b'{"labels": ["a"], "labels": 3}', b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
                b'{"x": 1e999, "y": NaN}', b'{"labels": ["\\ud800"]}', b'{"\\u0000": "\\u0000"}')
SCALAR_FORMATS = {"u8": "<B", "u16": "<H", "u32": "<I", "i32": "<i", "f32": "<f", "i64": "<q", "i8": "<b"}
BITS = {"u8": 8, "i8": 8, "u16": 16, "u32": 32, "i32": 32, "f32": 32, "i64": 64}


class Field:
    """One value in the file: where it is, its type, what it is (for the case description), its group."""

    def __init__(self, offset, kind, name, group):
        self.offset = offset
        self.kind = kind
        self.name = name
        self.group = group

    def inside(self, data):
        return self.offset + struct.calcsize(SCALAR_FORMATS[self.kind]) <= len(data)

    def get(self, data):
        """The value (0 when an earlier mutation cut the file before it)."""
        if not self.inside(data):
            return 0
        return struct.unpack_from(SCALAR_FORMATS[self.kind], data, self.offset)[0]

    def set(self, data, value):
        if not self.inside(data):
            return
        if self.kind == "f32":
            struct.pack_into("<f", data, self.offset, value)
            return
        bits = BITS[self.kind]
        value = int(value) & ((1 << bits) - 1)
        fmt = SCALAR_FORMATS[self.kind].upper() if self.kind[0] == "i" else SCALAR_FORMATS[self.kind]
        struct.pack_into(fmt, data, self.offset, value)


def _int_value(rng, old, kind, peers=()):
    r = rng.random()
    if r < 0.45:
        return rng.choice(EXTREMES)
    if r < 0.65:
        return old + rng.choice((-1, 1, -2, 2, -4, 4, 8, -8, 16, 64, -64))
    if r < 0.75:
        return old * rng.choice((2, 3, 4, 16, 256, 1 << 16, -1))
    if r < 0.85 and peers:
        return rng.choice(peers)
    if r < 0.93:
        return rng.randrange(-64, 300)
    return rng.getrandbits(BITS[kind])


def _float_value(rng, old):
    if rng.random() < 0.7 or not math.isfinite(old):
        return rng.choice(FLOATS)
    return old * rng.choice((2.0, 0.5, 1 << 20, 1.0 / (1 << 20), -1.0, 1e30, 1e-30))


def edit_field(data, field, rng, peers=()):
    """Give `field` a new value; returns the description."""
    if not field.inside(data):
        return "%s: beyond the end of the file" % field.name
    old = field.get(data)
    if field.kind == "f32":
        value = _float_value(rng, old)
    else:
        value = _int_value(rng, old, field.kind, peers)
    try:
        field.set(data, value)
    except (struct.error, OverflowError):
        field.set(data, 0)
        value = 0
    return "%s: %r -> %r" % (field.name, old, field.get(data))


# ---------------------------------------------------------------------------------------------------------
# .pml
# ---------------------------------------------------------------------------------------------------------

class PmlLayout:
    """Every field of a valid .pml, grouped: header, tensor, io, opcode, counts, operand, param."""

    def __init__(self, blob):
        h = format.read_header(blob)
        self.header = h
        self.fields = []
        kinds = {"H": "u16", "I": "u32"}
        codes = dict(zip(format.HEADER_FIELDS, format.HEADER.format[1:].replace("4s", "s")))
        for name, offset in format.header_offsets().items():
            if codes[name] in kinds:
                self.fields.append(Field(offset, kinds[codes[name]], "header %s" % name, "header"))
        self.tensors = []
        tkinds = ("u8", "u8", "u8", "u8", "u32", "u32", "u32", "u32", "u32", "u32", "f32", "i32")
        toffsets = (0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32)
        for i in range(h["n_tensors"]):
            base = h["tensors_offset"] + i * format.TENSOR.size
            entry = {name: Field(base + o, k, "tensor %d %s" % (i, name), "tensor")
                     for name, o, k in zip(format.TENSOR_FIELDS, toffsets, tkinds)}
            self.tensors.append(entry)
            self.fields += entry.values()
        for i in range(h["n_inputs"] + h["n_outputs"]):
            base = h["io_offset"] + i * format.IO_ENTRY.size
            for name, o, k in zip(format.IO_FIELDS, (0, 2, 3), ("u16", "u8", "u8")):
                self.fields.append(Field(base + o, k, "io %d %s" % (i, name), "io"))
        self.ops = []           # per op: {"code", "counts": [...], "operands": [...], "params": {name: Field}}
        pos = h["ops_offset"]
        for i in range(h["n_ops"]):
            code, n_in, n_out, n_params = struct.unpack_from("<4i", blob, pos)
            spec = BY_CODE[code]
            op = {"spec": spec, "code": Field(pos, "i32", "op %d (%s) code" % (i, spec.name), "opcode"),
                  "counts": [Field(pos + 4 * k, "i32", "op %d (%s) %s" % (i, spec.name, what), "counts")
                             for k, what in ((1, "n_inputs"), (2, "n_outputs"), (3, "n_params"))],
                  "operands": [Field(pos + 16 + 4 * k, "i32", "op %d (%s) %s %d" % (
                      i, spec.name, "input" if k < n_in else "output", k if k < n_in else k - n_in), "operand")
                      for k in range(n_in + n_out)],
                  "params": {}}
            base = pos + 16 + 4 * (n_in + n_out)
            for k, name in enumerate(spec.params):
                op["params"][name] = Field(base + 4 * k, "i32", "op %d (%s) %s" % (i, spec.name, name), "param")
            self.ops.append(op)
            self.fields += [op["code"]] + op["counts"] + op["operands"] + list(op["params"].values())
            pos = base + 4 * n_params
        self.groups = {}
        for f in self.fields:
            self.groups.setdefault(f.group, []).append(f)


def fix_crc(data):
    struct.pack_into("<I", data, 12, zlib.crc32(memoryview(data)[format.CRC_START:]))


def _tensor_nbytes(data, entry):
    dtype, ndim = entry["dtype"].get(data), entry["ndim"].get(data)
    size = {1: 1, 2: 2, 3: 4}.get(dtype, 1)
    for k in range(min(ndim, 4)):
        size *= entry["dims[%d]" % k].get(data)
    return size


def _m_field(data, layout, rng):
    group = rng.choice(("header", "tensor", "tensor", "io", "counts", "operand", "param", "param"))
    fields = layout.groups.get(group) or layout.fields
    field = rng.choice(fields)
    peers = ()
    if group == "operand":
        peers = tuple(range(-1, len(layout.tensors) + 1))
    elif group == "header":
        peers = tuple(f.get(data) for f in layout.groups["header"])
    return [edit_field(data, field, rng, peers)]


def _m_param(data, layout, rng):
    ops = [op for op in layout.ops if op["params"]]
    if not ops:
        return _m_field(data, layout, rng)
    op = rng.choice(ops)
    done = []
    for _ in range(1 if rng.random() < 0.7 else rng.randrange(2, 4)):
        field = rng.choice(list(op["params"].values()))
        done.append(edit_field(data, field, rng, tuple(f.get(data) for f in op["params"].values())))
    return done


def _m_shape(data, layout, rng):
    """A tensor's shape changed together with its byte count (and the arena grown to hold it), so the edit
    passes the table checks and reaches the ops."""
    if not layout.tensors:
        return _m_field(data, layout, rng)
    i = rng.randrange(len(layout.tensors))
    entry = layout.tensors[i]
    ndim = min(entry["ndim"].get(data), format.MAX_DIMS)
    done = []
    if rng.random() < 0.2:
        ndim = rng.randrange(0, 5)
        entry["ndim"].set(data, ndim)
        done.append("tensor %d ndim -> %d" % (i, ndim))
    if ndim and rng.random() < 0.25:
        # the hang: a zero dimension next to a huge one is 0 bytes and passes every size check
        dims = [1] * 4
        dims[rng.randrange(ndim)] = 0
        dims[rng.randrange(ndim)] = rng.choice((I32_MAX, 1 << 30, 1 << 24, 65535))
        for k in range(4):
            entry["dims[%d]" % k].set(data, dims[k] if k < ndim else 0)
        done.append("tensor %d dims -> %s" % (i, dims[:ndim]))
    elif ndim:
        k = rng.randrange(ndim)
        done.append(edit_field(data, entry["dims[%d]" % k], rng, (0, 1, 2, 3, 7, 64, 256, I32_MAX)))
    nbytes = _tensor_nbytes(data, entry)
    if nbytes < (1 << 32):
        entry["nbytes"].set(data, nbytes)
        done.append("tensor %d nbytes -> %d" % (i, nbytes))
        end = entry["offset"].get(data) + nbytes
        if entry["storage"].get(data) == format.STORAGE_ARENA and end > layout.header["arena_size"] \
                and end < (1 << 22) and rng.random() < 0.8:
            arena = (end + 3) // 4 * 4
            struct.pack_into("<I", data, 24, arena)
            done.append("header arena_size -> %d" % arena)
    return done


def _m_operand(data, layout, rng):
    ops = [op for op in layout.ops if op["operands"]]
    if not ops or not layout.tensors:
        return _m_field(data, layout, rng)
    field = rng.choice(rng.choice(ops)["operands"])
    old = field.get(data)
    new = rng.randrange(len(layout.tensors)) if rng.random() < 0.85 else rng.choice((-1, len(layout.tensors), I32_MAX))
    field.set(data, new)
    return ["%s: %d -> %d" % (field.name, old, new)]


def _m_opcode(data, layout, rng):
    if not layout.ops:
        return _m_field(data, layout, rng)
    op = rng.choice(layout.ops)
    old = op["code"].get(data)
    same = [s.code for s in OPS if len(s.params) == len(op["spec"].params) and s.code != old]
    if same and rng.random() < 0.7:
        new = rng.choice(same)
    else:
        new = rng.choice((0, -1, max(BY_CODE) + 1, 255, I32_MAX) + tuple(c for c in BY_CODE if c != old))
    op["code"].set(data, new)
    return ["%s: %d -> %d" % (op["code"].name, old, new)]


def _m_copy_entry(data, layout, rng):
    """One tensor entry copied over another, or one op's params over another op of the same code."""
    if rng.random() < 0.5 and len(layout.tensors) > 1:
        a, b = rng.sample(range(len(layout.tensors)), 2)
        src, dst = layout.tensors[a]["dtype"].offset, layout.tensors[b]["dtype"].offset
        data[dst:dst + format.TENSOR.size] = data[src:src + format.TENSOR.size]
        return ["tensor %d entry copied over tensor %d" % (a, b)]
    by_code = {}
    for op in layout.ops:
        by_code.setdefault(op["spec"].code, []).append(op)
    pairs = [ops for ops in by_code.values() if len(ops) > 1 and ops[0]["params"]]
    if not pairs:
        return _m_param(data, layout, rng)
    a, b = rng.sample(rng.choice(pairs), 2)
    for name, field in a["params"].items():
        b["params"][name].set(data, field.get(data))
    return ["params of %s copied to %s" % (a["code"].name, b["code"].name)]


def _m_bits(data, layout, rng):
    done = []
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        if rng.random() < 0.7:      # the tables rather than the weights
            end = min(len(data), layout.header["weights_offset"])
            pos = rng.randrange(format.CRC_START, max(format.CRC_START + 1, end))
        else:
            pos = rng.randrange(format.CRC_START, len(data))
        bit = rng.randrange(8)
        data[pos] ^= 1 << bit
        done.append("bit %d of byte %d flipped" % (bit, pos))
    return done


def _m_bytes(data, layout, rng):
    pos = rng.randrange(len(data))
    n = rng.choice((1, 2, 4, 4, 8))
    value = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    data[pos:pos + n] = bytes([value]) * len(data[pos:pos + n])
    return ["%d bytes at %d set to %02x" % (n, pos, value)]


def _m_metadata(data, layout, rng):
    """New metadata bytes (a bad variant, or the JSON with one value changed), the weights moved after it."""
    h = layout.header
    old = bytes(data[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]])
    if rng.random() < 0.6:
        new = rng.choice(BAD_METADATA)
        what = "metadata -> %r" % new[:40]
    else:
        try:
            meta = json.loads(old.decode())
        except (ValueError, RecursionError):    # an earlier mutation's bytes: not JSON, or nested too deep
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        key = rng.choice(("labels", "op_labels", "input", "tflm_arena", "tflite_bytes", "source", "extra"))
        value = rng.choice((None, 0, -1, 1e300, "", "x" * 300, [], {}, [None], {"a": None}, [1, "a"],
                            ["a"] * rng.randrange(0, 2000), list(range(10))))
        meta[key] = value
        new = json.dumps(meta).encode()
        what = "metadata %s -> %r" % (key, value if not isinstance(value, (list, str)) or len(value) < 20 else
                                      type(value).__name__ + " of %d" % len(value))
    data[:] = replace_metadata(data, new)
    return [what]


def replace_metadata(blob, raw):
    """A .pml (valid apart from its metadata) with `raw` as its metadata bytes: the weights moved after them,
    the header's offsets, size and CRC updated."""
    h = dict(zip(format.HEADER_FIELDS, format.HEADER.unpack_from(blob)))
    start = min(h["metadata_offset"], len(blob))     # (an earlier mutation may have sent it anywhere)
    weights = bytes(blob[h["weights_offset"]:h["weights_offset"] + h["weights_size"]])
    weights_offset = (start + len(raw) + format.WEIGHTS_ALIGN - 1) // format.WEIGHTS_ALIGN * format.WEIGHTS_ALIGN
    data = bytearray(blob[:start]) + raw + bytes(weights_offset - start - len(raw)) + weights
    offsets = format.header_offsets()
    struct.pack_into("<I", data, offsets["metadata_offset"], start)
    struct.pack_into("<I", data, offsets["metadata_size"], len(raw))
    struct.pack_into("<I", data, offsets["weights_offset"], weights_offset)
    struct.pack_into("<I", data, offsets["file_size"], len(data))
    fix_crc(data)
    return bytes(data)


def _m_truncate(data, layout, rng):
    n = rng.choice((rng.randrange(len(data)), rng.randrange(format.HEADER_SIZE), len(data) - rng.randrange(1, 64)))
    n = max(0, n)
    del data[n:]
    return ["truncated to %d bytes" % n]


def _m_extend(data, layout, rng):
    n = rng.choice((1, 3, 4, 16, 1000))
    data += bytes(rng.randrange(256) for _ in range(n))
    return ["%d bytes appended" % n]


PML_MUTATIONS = ((_m_field, 24), (_m_param, 24), (_m_shape, 14), (_m_operand, 8), (_m_opcode, 5),
                 (_m_copy_entry, 4), (_m_bits, 9), (_m_bytes, 4), (_m_metadata, 4), (_m_truncate, 3),
                 (_m_extend, 1))


def _pick(rng, weighted):
    total = sum(w for _, w in weighted)
    r = rng.random() * total
    for item, w in weighted:
        r -= w
        if r < 0:
            return item
    return weighted[-1][0]


def mutate_pml(blob, rng, layout=None):
    """(mutated bytes, descriptions) of a valid .pml: 1 to 4 mutations, then the file size and CRC recomputed
    (each left stale now and then, so those checks are exercised too)."""
    layout = layout or PmlLayout(blob)
    data = bytearray(blob)
    done = []
    n = 1
    while n < 4 and rng.random() < 0.35:
        n += 1
    for _ in range(n):
        mutation = _pick(rng, PML_MUTATIONS)
        if len(data) < format.HEADER_SIZE and mutation not in (_m_extend,):
            break
        done += mutation(data, layout, rng)
    if len(data) >= format.HEADER_SIZE:
        if len(data) != struct.unpack_from("<I", data, 8)[0]:
            if rng.random() < 0.97:
                struct.pack_into("<I", data, 8, len(data))
            else:
                done.append("file_size left as it was")
        if rng.random() < 0.97:
            fix_crc(data)
        else:
            done.append("CRC left as it was")
    return bytes(data), done


# ---------------------------------------------------------------------------------------------------------
# .tflite
# ---------------------------------------------------------------------------------------------------------

# vtable slots (byte offsets into the vtable) of the fields picoml reads, from TFLite's schema.fbs
_TENSOR = {"shape": 4, "type": 6, "buffer": 8, "quantization": 12}
_QUANT = {"scale": 8, "zero_point": 10, "quantized_dimension": 16}
_OPERATOR = {"opcode_index": 4, "inputs": 6, "outputs": 8, "builtin_options_type": 10, "builtin_options": 12}
_OPCODE = {"deprecated_builtin_code": 4, "version": 8, "builtin_code": 10}
_SUBGRAPH = {"tensors": 4, "inputs": 6, "outputs": 8, "operators": 10}


def _vector(tab, slot, kind, name, group):
    o = tab.Offset(slot)
    if not o:
        return []
    start, n = tab.Vector(o), tab.VectorLen(o)
    size = struct.calcsize(SCALAR_FORMATS[kind])
    return [Field(start + k * size, kind, "%s[%d]" % (name, k), group) for k in range(min(n, 64))]


def _scalar(tab, slot, kind, name, group):
    o = tab.Offset(slot)
    return [Field(tab.Pos + o, kind, name, group)] if o else []


def _table_scalars(table, name, group):
    """Every present scalar field of a flatbuffer table (builtin options). The schema's field sizes are not
    needed: each is offered as a byte (bools, enums) and as an int32 (strides, axes; a byte field edited as 4
    bytes also shakes its neighbours, which is fine for a fuzzer)."""
    fields = []
    vtable = table.Pos - struct.unpack_from("<i", table.Bytes, table.Pos)[0]
    size = struct.unpack_from("<H", table.Bytes, vtable)[0]
    for slot in range(4, size, 2):
        o = struct.unpack_from("<H", table.Bytes, vtable + slot)[0]
        if o:
            fields.append(Field(table.Pos + o, "u8", "%s field %d (byte)" % (name, slot), group))
            fields.append(Field(table.Pos + o, "i32", "%s field %d (int32)" % (name, slot), group))
    return fields


class TfliteLayout:
    """The fields of a .tflite that picoml's importer reads, found through the flatbuffer's own tables."""

    def __init__(self, blob):
        import tflite
        model = tflite.Model.GetRootAsModel(blob, 0)
        self.fields = []
        add = self.fields.extend
        for c in range(model.OperatorCodesLength()):
            tab = model.OperatorCodes(c)._tab
            for name, slot in _OPCODE.items():
                add(_scalar(tab, slot, "i8" if name == "deprecated_builtin_code" else "i32", "opcode %d %s" % (c, name),
                            "opcode"))
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            add(_vector(graph._tab, _SUBGRAPH["inputs"], "i32", "subgraph inputs", "io"))
            add(_vector(graph._tab, _SUBGRAPH["outputs"], "i32", "subgraph outputs", "io"))
            for i in range(graph.TensorsLength()):
                t = graph.Tensors(i)
                add(_vector(t._tab, _TENSOR["shape"], "i32", "tensor %d shape" % i, "shape"))
                add(_scalar(t._tab, _TENSOR["type"], "i8", "tensor %d type" % i, "type"))
                add(_scalar(t._tab, _TENSOR["buffer"], "u32", "tensor %d buffer" % i, "type"))
                q = t.Quantization()
                if q is not None:
                    add(_vector(q._tab, _QUANT["scale"], "f32", "tensor %d scale" % i, "scale"))
                    add(_vector(q._tab, _QUANT["zero_point"], "i64", "tensor %d zero_point" % i, "quant"))
                    add(_scalar(q._tab, _QUANT["quantized_dimension"], "i32", "tensor %d quantized_dimension" % i,
                                "quant"))
            for i in range(graph.OperatorsLength()):
                op = graph.Operators(i)
                add(_scalar(op._tab, _OPERATOR["opcode_index"], "u32", "op %d opcode_index" % i, "operator"))
                add(_vector(op._tab, _OPERATOR["inputs"], "i32", "op %d inputs" % i, "operand"))
                add(_vector(op._tab, _OPERATOR["outputs"], "i32", "op %d outputs" % i, "operand"))
                add(_scalar(op._tab, _OPERATOR["builtin_options_type"], "u8", "op %d options type" % i, "operator"))
                options = op.BuiltinOptions()
                if options is not None:
                    add(_table_scalars(options, "op %d options" % i, "options"))
        self.fields = [f for f in self.fields if f.offset + struct.calcsize(SCALAR_FORMATS[f.kind]) <= len(blob)]
        self.groups = {}
        for f in self.fields:
            self.groups.setdefault(f.group, []).append(f)


def _t_field(data, layout, rng):
    group = rng.choice(("shape", "shape", "scale", "scale", "quant", "type", "operand", "operator", "options",
                        "options", "opcode", "io"))
    fields = layout.groups.get(group) or layout.fields
    return [edit_field(data, rng.choice(fields), rng)]


def _t_bits(data, layout, rng):
    done = []
    for _ in range(rng.choice((1, 2, 4, 8))):
        pos = rng.randrange(8, len(data))
        bit = rng.randrange(8)
        data[pos] ^= 1 << bit
        done.append("bit %d of byte %d flipped" % (bit, pos))
    return done


def _t_word(data, layout, rng):
    pos = rng.randrange(8, max(9, len(data) - 4)) & ~3
    old = struct.unpack_from("<i", data, pos)[0]
    value = _int_value(rng, old, "i32") & 0xFFFFFFFF
    struct.pack_into("<I", data, pos, value)
    return ["word at %d: %d -> %d" % (pos, old, struct.unpack_from("<i", data, pos)[0])]


def _t_truncate(data, layout, rng):
    n = rng.randrange(len(data))
    del data[n:]
    return ["truncated to %d bytes" % n]


TFLITE_MUTATIONS = ((_t_field, 60), (_t_bits, 15), (_t_word, 20), (_t_truncate, 5))


def mutate_tflite(blob, rng, layout=None):
    """(mutated bytes, descriptions) of a valid .tflite: 1 to 4 edits of the fields picoml reads, bit flips,
    word edits or a truncation (a flatbuffer has no checksum to recompute)."""
    layout = layout or TfliteLayout(blob)
    data = bytearray(blob)
    done = []
    n = 1
    while n < 4 and rng.random() < 0.35:
        n += 1
    for _ in range(n):
        if len(data) < 16:
            break
        done += _pick(rng, TFLITE_MUTATIONS)(data, layout, rng)
    return bytes(data), done
