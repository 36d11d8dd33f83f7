"""The .pml writer/reader against docs/format.md, and every way a bad file is refused."""
import json
import re
import struct
import zlib

import numpy as np
import pytest

import models
from conftest import ROOT
from picoml import format
from picoml.convert import convert
from picoml.errors import FormatError
from picoml.optable import OPS

SPEC = (ROOT / "docs" / "format.md").read_text()
TYPES = {"u8": "B", "u16": "H", "u32": "I", "i32": "i", "f32": "f", "char[4]": "4s", "u32[4]": "4I"}


def spec_table(heading):
    """Rows (offset, type, field) of the table under a heading of docs/format.md."""
    section = SPEC.split(heading, 1)[1].split("\n## ", 1)[0]
    return [(int(m.group(1)), m.group(2), m.group(3))
            for m in re.finditer(r"^\| (\d+) \| ([\w\[\]]+) \| (\w+) \|", section, re.M)]


def layout(rows):
    return "<" + "".join(TYPES[t] for _, t, _ in rows)


LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "silence", "unknown"]   # its 12


@pytest.fixture(scope="module")
def kws():
    path = models.tflite("kws_ref_model")
    model = convert(path.read_bytes(), path.name, labels=LABELS, measure_tflm=False)
    return model, format.write(model)


def test_header_layout_matches_spec(kws):
    rows = spec_table("## Header")
    assert layout(rows) == format.HEADER.format
    assert [o for o, _, _ in rows] == [struct.calcsize(layout(rows[:i])) for i in range(len(rows))]
    _, blob = kws
    fields = format.read_header(blob)
    assert [f for _, _, f in rows] == list(fields)


def test_tensor_and_io_layout_match_spec():
    assert layout(spec_table("## Tensor table entry")) == format.TENSOR.format
    assert layout(spec_table("## IO table entry")) == format.IO_ENTRY.format


def test_op_table_matches_spec():
    section = SPEC.split("## Op table", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (\w+) \| ([^|]+) \| ([^|]+) \|$", section, re.M)
    assert [(int(c), n, tuple(i.strip().split(", ")), tuple(p.strip().split(", ")) if p.strip() != "-" else ())
            for c, n, i, p in rows] == [(op.code, op.name, op.inputs, op.params) for op in OPS]


def test_fields_as_specified(kws):
    model, blob = kws
    h = format.read_header(blob)
    assert blob[:4] == b"PML\0" and h["version"] == format.VERSION == 8 and h["header_size"] == 64
    assert h["file_size"] == len(blob)
    assert h["crc"] == zlib.crc32(blob[16:])
    assert h["weights_offset"] % 16 == 0 and h["weights_offset"] + h["weights_size"] == len(blob)
    assert h["arena_size"] % 4 == 0 and h["ops_size"] % 4 == 0
    for t in model.tensors:
        assert t.offset % 4 == 0
    # every op record: opcode, counts, operands, params
    words = np.frombuffer(blob[h["ops_offset"]:h["ops_offset"] + h["ops_size"]], "<i4")
    assert words[0] == model.ops[0].code and words[3] == len(model.ops[0].params)
    import json
    meta = json.loads(blob[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]])
    assert meta["labels"] == LABELS and len(meta["op_labels"]) == len(model.ops)


@pytest.mark.parametrize("name", models.MLPERF)
def test_round_trip_is_exact(name):
    path = models.tflite(name)
    blob = format.write(convert(path.read_bytes(), path.name, measure_tflm=False))
    back = format.read(blob)
    assert format.write(back) == blob


def _recrc(blob):
    blob = bytearray(blob)
    struct.pack_into("<I", blob, 12, zlib.crc32(blob[16:]))
    return bytes(blob)


def test_truncated_file_is_refused(kws):
    _, blob = kws
    for n in (0, 10, 63, 64, len(blob) // 2, len(blob) - 1):
        with pytest.raises(FormatError, match="truncated|shorter than"):
            format.read(blob[:n])


def test_flipped_byte_fails_crc(kws):
    _, blob = kws
    for where in (20, 100, len(blob) - 1):
        bad = bytearray(blob)
        bad[where] ^= 0x01
        with pytest.raises(FormatError, match="CRC32 mismatch"):
            format.read(bytes(bad))


def test_bad_magic_and_newer_version(kws):
    _, blob = kws
    with pytest.raises(FormatError, match="not a .pml file: magic"):
        format.read(b"XXXX" + blob[4:])
    newer = blob[:4] + struct.pack("<H", format.VERSION + 1) + blob[6:]
    with pytest.raises(FormatError, match="format version %d.*upgrade picoml" % (format.VERSION + 1)):
        format.read(newer)


def test_version_2_files_still_load(kws):
    """Versions 3 to 6 only add to version 2 (dtypes, state, ops): a version-2 file reads and runs as it did."""
    model, blob = kws
    old = _recrc(blob[:4] + struct.pack("<H", 2) + blob[6:])
    back = format.read(old)
    assert format.write(back) == blob
    checked_in = sorted((ROOT / "models").glob("*/*.pml"))
    assert any(format.read_header(p.read_bytes())["version"] == 2 for p in checked_in)
    for path in checked_in:
        format.read(path.read_bytes())


def test_version_1_is_refused_with_reconvert(kws):
    """Version 1 had an op per element-wise function where version 2 has LUT: reconverting is the way."""
    _, blob = kws
    old = blob[:4] + struct.pack("<H", 1) + blob[6:]
    with pytest.raises(FormatError, match="format version 1, from an older picoml.*reconvert the model with "
                                          "`picoml convert`"):
        format.read(old)


def test_unknown_op_code(kws):
    _, blob = kws
    h = format.read_header(blob)
    bad = bytearray(blob)
    struct.pack_into("<i", bad, h["ops_offset"], 999)
    with pytest.raises(FormatError, match="unknown op code 999"):
        format.read(_recrc(bad))


def test_corrupt_tables_with_valid_crc(kws):
    _, blob = kws
    h = format.read_header(blob)
    bad = bytearray(blob)
    struct.pack_into("<I", bad, h["tensors_offset"] + 4, 1 << 30)   # tensor 0 offset far outside the arena
    with pytest.raises(FormatError, match="overruns"):
        format.read(_recrc(bad))
    bad = bytearray(blob)
    struct.pack_into("<I", bad, 52, len(blob) + 16)                 # weights section beyond the end
    with pytest.raises(FormatError, match="the weights section must lie inside the file"):
        format.read(_recrc(bad))
    bad = bytearray(blob)
    bad[h["metadata_offset"]] = ord("!")
    with pytest.raises(FormatError, match="metadata is not a JSON object"):
        format.read(_recrc(bad))


@pytest.mark.parametrize("raw, message", [
    (b"[1, 2]", "metadata is not a JSON object"), (b"null", "metadata is not a JSON object"),
    (b"\xff\xfe", "metadata is not a JSON object"), (b"[" * 5000 + b"]" * 5000, "metadata is not a JSON object"),
    (b'{"labels": "yes,no"}', "metadata labels is not a list"), (b'{"op_labels": 7}', "metadata op_labels is not a list"),
])
def test_metadata_the_device_refuses_the_host_refuses(kws, raw, message):
    from picoml.fuzz_mutate import replace_metadata
    with pytest.raises(FormatError, match=re.escape(message)):
        format.read(replace_metadata(kws[1], raw))


@pytest.mark.parametrize("raw", [
    b'{"labels": [1, null]}', b'{"op_labels": [[1], {}]}', b'{"input": [3]}', b'{"tflite_bytes": "x"}',
    b'{"tflm_arena": {"total": 0, "activations": 1}}', b'{"tflm_arena": 5}', b'{"source": null}',
    b'{"tflm_arena": {"total": 10}, "mine": [1, {"x": null}]}', b"",
])
def test_metadata_the_device_accepts_the_host_shows(kws, raw):
    """Keys only the host reads (source, tflite_bytes, tflm_arena, input) holding anything, labels of any
    kind: inspect shows what makes sense and leaves the rest out."""
    from picoml.fuzz_mutate import replace_metadata
    from picoml.report import op_table, summary, tensor_table
    model = format.read(replace_metadata(kws[1], raw))
    text = "\n".join(summary(model, 100) + op_table(model) + tensor_table(model))
    assert ("TFLite Micro: 10 bytes;" in text) == (b'"total": 10' in raw)
    assert model.metadata == (json.loads(raw) if raw else {})


@pytest.mark.parametrize("name", ["activations_2d", "dense_fused_acts"])
def test_constants_checked_by_count_alone_run_the_same_in_any_rank(name):
    """A convolution's or dense layer's bias, multipliers and shifts and a LUT's table are checked by their element
    count alone (rules.OPERANDS: any rank): every runtime reads them flat, so a file that gives them another rank
    gives the same bytes (a fuzzed file once made the host's reference fail on a [4, 1] multipliers tensor)."""
    from picoml import runtimes
    from picoml.optable import BY_NAME
    model = format.read(models.model(name)[1])      # a copy: the cached model stays as it is
    x = models.inputs(name)[0]
    expected = models.expected(name, 0)
    reranked = set()
    for op in model.ops:
        names = ("bias", "multipliers", "shifts") if op.name != "LUT" else ("table",)
        for operand in names:
            t = model.tensors[op.inputs[BY_NAME[op.name].inputs.index(operand)]]
            if len(t.shape) == 1 and t.shape[0] > 1 and id(t) not in reranked:
                n = t.shape[0]
                t.shape = (16, n // 16) if n % 16 == 0 else (n, 1)
                t.data = t.data.reshape(t.shape)
                reranked.add(id(t))
    assert reranked
    blob = format.write(model)
    for runtime, backend in (("reference", None), ("c", None), ("unix", "python"), ("unix", "native")):
        got = runtimes.get(runtime).run(blob, x, **({"backend": backend} if backend else {}))
        assert all(np.array_equal(g, e) for g, e in zip(got, expected)), (runtime, backend)
