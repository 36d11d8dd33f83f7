"""Rewrite version-1 .pml files as version 2, in place, for files whose source model is gone (with the source,
`picoml convert` it again instead). Used once for the checked-in models and fuzz regression files.

Version 2 replaced LOGISTIC, TANH, RELU, LEAKY_RELU, HARD_SWISH and REQUANTIZE (codes 10-14, 17) by LUT (10) and
renumbered MEAN 15 -> 11, PAD 16 -> 12 (docs/format.md, "Version history").
- A file the host reader parses (with the version-1 op table): each of those ops becomes a LUT whose table is
  computed from its stored params with the same numpy functions the converter uses; every other field (arena
  offsets, operands, damaged values of a fuzz case) is kept as it was.
- Any other file (a damaged one): only the version field and the codes of MEAN and PAD are rewritten, the CRC
  recomputed if it was right before. A file with a removed op that the reader cannot parse is left alone.

    PYTHONPATH=host python scripts/pml_v1_to_v2.py FILE.pml ...
"""
import struct
import sys
import zlib

import numpy as np

from picoml import format, optable
from picoml.errors import PicomlError
from picoml.ops import elementwise, lut, nonlinear

V1_FUNCTIONS = {10: ("LOGISTIC", nonlinear.logistic, optable.OpSpec(10, "LOGISTIC", ("input",), (
                    "input_zero_point", "input_range_radius", "input_multiplier", "input_left_shift"))),
                11: ("TANH", nonlinear.tanh, optable.OpSpec(11, "TANH", ("input",), (
                    "input_zero_point", "input_range_radius", "input_multiplier", "input_left_shift"))),
                12: ("RELU", elementwise.relu, optable.OpSpec(12, "RELU", ("input",), (
                    "input_offset", "output_offset", "output_multiplier", "output_shift", "act_min", "act_max"))),
                13: ("LEAKY_RELU", elementwise.leaky_relu, optable.OpSpec(13, "LEAKY_RELU", ("input",), (
                    "input_offset", "output_offset", "alpha_multiplier", "alpha_shift", "identity_multiplier",
                    "identity_shift"))),
                14: ("HARD_SWISH", nonlinear.hard_swish, optable.OpSpec(14, "HARD_SWISH", ("input",), (
                    "input_zero_point", "output_zero_point", "reluish_multiplier_fixedpoint_int16",
                    "reluish_multiplier_exponent", "output_multiplier_fixedpoint_int16",
                    "output_multiplier_exponent"))),
                17: ("REQUANTIZE", elementwise.requantize, optable.OpSpec(17, "REQUANTIZE", ("input",), (
                    "input_offset", "output_offset", "multiplier", "shift")))}
RENUMBERED = {15: optable.BY_NAME["MEAN"].code, 16: optable.BY_NAME["PAD"].code}


def _v1_table():
    specs = [s for s in optable.OPS if s.code < 10] + [spec for _, _, spec in V1_FUNCTIONS.values()]
    specs += [optable.BY_NAME["MEAN"]._replace(code=15), optable.BY_NAME["PAD"]._replace(code=16)]
    return {s.code: s for s in specs}, {s.name: s for s in specs}


def read_v1(blob):
    """The Model of a version-1 file (old op names), by the host reader with the version-1 op table."""
    saved = format.BY_CODE, format.BY_NAME, format.VERSION
    format.BY_CODE, format.BY_NAME = _v1_table()
    format.VERSION = 1
    try:
        return format.read(blob)
    finally:
        format.BY_CODE, format.BY_NAME, format.VERSION = saved


def upgrade_model(model):
    """Turn the version-1 ops of a model read by read_v1 into LUT ops; new tables go after the weights."""
    functions = {name: fn for name, fn, _ in V1_FUNCTIONS.values()}
    end = model.weights_size
    for op in model.ops:
        if op.name in functions:
            table = lut.table(functions[op.name], op.params)
            end = (end + format.CONSTANT_ALIGN - 1) // format.CONSTANT_ALIGN * format.CONSTANT_ALIGN
            index = model.add_tensor(format.Tensor((256,), np.int8, data=table, offset=end))
            end += 256
            op.name, op.inputs, op.params = "LUT", op.inputs + [index], {}
    return model


def upgrade_bytes(blob):
    """Version field and MEAN/PAD codes only (for a file the reader refuses); None when a removed op is in it."""
    data = bytearray(blob)
    crc_was_right = len(data) >= format.HEADER_SIZE and \
        struct.unpack_from("<I", data, 12)[0] == zlib.crc32(memoryview(data)[format.CRC_START:])
    struct.pack_into("<H", data, 4, format.VERSION)
    h = dict(zip(format.HEADER_FIELDS, format.HEADER.unpack_from(data, 0)))
    pos, end = h["ops_offset"], min(h["ops_offset"] + h["ops_size"], len(data))
    for _ in range(h["n_ops"]):
        if pos + 16 > end:
            break
        code, n_in, n_out, n_params = struct.unpack_from("<4i", data, pos)
        if code in V1_FUNCTIONS:
            return None
        if code in RENUMBERED:
            struct.pack_into("<i", data, pos, RENUMBERED[code])
        if min(n_in, n_out, n_params) < 0:
            break
        pos += 4 * (4 + n_in + n_out + n_params)
    if crc_was_right:
        struct.pack_into("<I", data, 12, zlib.crc32(memoryview(data)[format.CRC_START:]))
    return bytes(data)


def upgrade(blob):
    """(version-2 bytes or None, how)."""
    if len(blob) < format.HEADER_SIZE or struct.unpack_from("<H", blob, 4)[0] != 1:
        return None, "not a version-1 file"
    try:
        model = read_v1(blob)
    except PicomlError:
        model = None
    if model is not None:
        try:
            return format.write(upgrade_model(model)), "model"
        except (PicomlError, ValueError, OverflowError, FloatingPointError) as e:
            return None, "its ops' tables cannot be computed (%s)" % e
    data = upgrade_bytes(blob)
    return data, ("bytes" if data is not None else "a removed op in a file the reader refuses")


def main(paths):
    for path in paths:
        with open(path, "rb") as f:
            blob = f.read()
        data, how = upgrade(blob)
        if data is None:
            print("%s: left alone: %s" % (path, how))
            continue
        with open(path, "wb") as f:
            f.write(data)
        print("%s: rewritten (%s)" % (path, how))


if __name__ == "__main__":
    main(sys.argv[1:])
