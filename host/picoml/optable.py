"""The op set of the .pml format: one table, the single source of truth for opcode numbers, names, the order of
each op's tensor operands and int32 parameters, and the properties the planner and kernels rely on.

`python -m picoml.optable` writes the files generated from it (checked in; a test fails when one is stale):
  native_module/ops.h       op codes, one params struct per op and the X-macro list PML_OPS, from which
                            invoke.c takes its dispatch and parameter counts and picoml.h the kernel prototypes
  device/picoml/_ops.py     the device library's op constants and tables
  device/picoml/_layout.py  the record layouts of picoml.format (all the native backend's loader needs)
"""
import textwrap
from collections import namedtuple

# inputs: operand names, in order; "inputs*" is one or more. in_place: the kernel reads element i of every
# full-shaped input before writing element i of the output, so the planner may put the output over an input.
# outputs: the names of its outputs, in order. device: the device library (native module and Python kernels) runs
# it; an op the device does not run yet is an unknown op code there (and in native_module/ops.h's PML_OPS), while
# the host reads, validates and runs it. frontend: an op of the audio front-end (TFLite Micro's Signal library and the
# integer ops its graph uses). core: an op of the small native module, _picoml_core.mpy (native_module/Makefile's
# PML_FRONTEND=0), which the device library imports for a model that needs only such ops: the ops of common
# classifier networks; the audio front-end's ops and the rare MUL, CONCATENATION, PAD and SUB are only in the full
# _picoml.mpy (about 11 KB more code in a board's heap).
OpSpec = namedtuple("OpSpec", "code name inputs params in_place outputs device frontend core",
                    defaults=(False, ("output",), True, False, True))

_CONV_PARAMS = ("stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left",
                "input_offset", "output_offset", "act_min", "act_max")
_POOL_PARAMS = ("stride_h", "stride_w", "filter_h", "filter_w", "pad_top", "pad_left", "act_min", "act_max")
# ADD's, SUB's and SQUARED_DIFFERENCE's (SUB is ADD with the second rescaled input subtracted, SQUARED_DIFFERENCE
# that difference squared: the kernels share one arithmetic)
_ADD_PARAMS = ("input1_offset", "input2_offset", "output_offset", "left_shift", "input1_multiplier", "input1_shift",
               "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "act_min", "act_max")

# MUL's and DIV's
_MUL_PARAMS = ("input1_offset", "input2_offset", "output_offset", "output_multiplier", "output_shift", "act_min",
               "act_max")

OPS = (
    OpSpec(1, "CONV_2D", ("input", "filter", "bias", "multipliers", "shifts"), _CONV_PARAMS),
    OpSpec(2, "DEPTHWISE_CONV_2D", ("input", "filter", "bias", "multipliers", "shifts"),
           _CONV_PARAMS + ("depth_multiplier",)),
    OpSpec(3, "FULLY_CONNECTED", ("input", "weights", "bias", "multipliers", "shifts"),
           ("output_offset", "act_min", "act_max")),
    OpSpec(4, "AVERAGE_POOL_2D", ("input",), _POOL_PARAMS),
    OpSpec(5, "MAX_POOL_2D", ("input",), _POOL_PARAMS),
    OpSpec(6, "SOFTMAX", ("input",), ("input_multiplier", "input_left_shift", "diff_min")),
    OpSpec(7, "ADD", ("input1", "input2"), _ADD_PARAMS, in_place=True),
    OpSpec(8, "MUL", ("input1", "input2"), _MUL_PARAMS, in_place=True, core=False),
    OpSpec(9, "CONCATENATION", ("inputs*",), ("axis",), core=False),
    OpSpec(10, "LUT", ("input", "table"), (), in_place=True),
    OpSpec(11, "MEAN", ("input",),
           ("axis_mask", "input_zero_point", "output_zero_point", "multiplier", "shift")),
    OpSpec(12, "PAD", ("input",),
           ("pad_before_0", "pad_before_1", "pad_before_2", "pad_before_3",
            "pad_after_0", "pad_after_1", "pad_after_2", "pad_after_3", "pad_value"), core=False),
)
# the audio front-end's ops (frontend=True below)
_FRONTEND_OPS = (
    # TensorFlow Lite Micro's Signal library (the audio front-end): int16/int32/uint32/uint64 operands,
    # ops/signal.py
    OpSpec(13, "SIGNAL_WINDOW", ("input", "window"), ("shift",)),
    OpSpec(14, "SIGNAL_FFT_AUTO_SCALE", ("input",), (), outputs=("output", "scale_bits")),
    OpSpec(15, "SIGNAL_RFFT", ("input", "twiddles", "super_twiddles"), ("fft_length",)),
    OpSpec(16, "SIGNAL_ENERGY", ("input",), ("start_index", "end_index")),
    OpSpec(17, "SIGNAL_FILTER_BANK", ("input", "weights", "unweights", "channel_frequency_starts",
                                      "channel_weight_starts", "channel_widths"), ()),
    OpSpec(18, "SIGNAL_FILTER_BANK_SQUARE_ROOT", ("input", "scale_bits"), ()),
    OpSpec(19, "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION", ("input", "state"),
           ("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
            "smoothing_bits", "spectral_subtraction_bits", "min_signal_remaining", "clamping"),
           outputs=("output", "noise_estimate")),
    OpSpec(20, "SIGNAL_PCAN", ("input", "noise_estimate", "gain_lut"), ("snr_shift",)),
    OpSpec(21, "SIGNAL_FILTER_BANK_LOG", ("input",), ("input_correction_bits", "output_scale")),
    # integer (not quantized) element-wise and shape ops, ops/integer.py
    OpSpec(22, "CAST", ("input",), ()),
    OpSpec(23, "STRIDED_SLICE", ("input",), ("begin_0", "begin_1", "begin_2", "begin_3",
                                             "stride_0", "stride_1", "stride_2", "stride_3")),
    OpSpec(24, "MINIMUM", ("input1", "input2"), (), in_place=True),
    OpSpec(25, "MAXIMUM", ("input1", "input2"), (), in_place=True),
    OpSpec(26, "ADD_INT32", ("input1", "input2"), ("act_min", "act_max"), in_place=True),
    OpSpec(27, "MUL_INT32", ("input1", "input2"), ("act_min", "act_max"), in_place=True),
    OpSpec(28, "DIV_INT32", ("input1", "input2"), ("act_min", "act_max"), in_place=True),
)
OPS = OPS + tuple(op._replace(frontend=True, core=False) for op in _FRONTEND_OPS) + (
    # format version 4; only in the full module: in _picoml_core its kernel would take heap on every board
    OpSpec(29, "SUB", ("input1", "input2"), _ADD_PARAMS, in_place=True, core=False),
    # format version 5; only in the full module (attention and bilinear resizing are rare on these boards)
    OpSpec(30, "BATCH_MATMUL", ("lhs", "rhs"), ("lhs_offset", "rhs_offset", "output_offset", "output_multiplier",
                                                "output_shift", "act_min", "act_max", "adj_x", "adj_y"), core=False),
    OpSpec(31, "RESIZE_BILINEAR", ("input",), ("align_corners", "half_pixel_centers"), core=False),
    # ADD's params and rescaling, the difference squared (Keras's LayerNormalization)
    OpSpec(32, "SQUARED_DIFFERENCE", ("input1", "input2"), _ADD_PARAMS, in_place=True, core=False),
    # format version 6; the index of the largest (min 0) or smallest (min 1) value along the middle axis of an int8
    # [outer, axis, inner] into int32 [outer, inner]
    OpSpec(33, "ARG_MAX", ("input",), ("min",), core=False),
    # each row of an int8 [outer, depth] divided by its L2 norm, into scale 1/128 (TFLite Micro's fixed point)
    OpSpec(34, "L2_NORMALIZATION", ("input",), ("input_zero_point",), core=False),
    # SOFTMAX's exponentials and TFLite's fixed-point log, into scale 16/256, zero point 127
    OpSpec(35, "LOG_SOFTMAX", ("input",), ("input_multiplier", "input_left_shift", "reverse_scaling_divisor",
                                           "reverse_scaling_right_shift", "diff_min"), core=False),
    # int8 division (the int32 one is DIV_INT32): MUL's params, TFLite Micro's reciprocal arithmetic
    OpSpec(36, "DIV", ("input1", "input2"), _MUL_PARAMS, in_place=True, core=False),
    # format version 7; Keras's LSTM layer as TFLite Micro's integer LSTM runs it (ops/recurrent.py): int8 [batch,
    # time, features] (time_major: [time, batch, ...]) into int8 [.., .., units], the gates' weights stacked in the
    # order input, forget, cell, output; the hidden (int16, less its zero point) and cell states kept between runs
    OpSpec(37, "LSTM", ("input", "input_weights", "recurrent_weights", "bias", "multipliers", "shifts",
                        "sigmoid_table", "hidden_state", "cell_state"),
           ("time_major", "hidden_zero_point", "forget_multiplier", "forget_shift",
            "input_multiplier", "input_shift", "hidden_multiplier", "hidden_shift", "tanh_multiplier", "tanh_shift",
            "cell_clip"), core=False),
)

# A 1x1 CONV_2D's output may lie behind its input (picoml.planner.behind_gap) only up to this many weights
# (out_c * in_c): the Cortex-M0 kernel then holds every channel's weight words at once in its scratch (2 bytes each)
BEHIND_CONV_WEIGHTS = 4096

BY_CODE = {op.code: op for op in OPS}
BY_NAME = {op.name: op for op in OPS}
MAX_CODE = max(BY_CODE)
IN_PLACE_OPS = frozenset(op.name for op in OPS if op.in_place)
DEVICE_OPS = tuple(op for op in OPS if op.device)
FRONTEND_OPS = frozenset(op.name for op in OPS if op.frontend)
FULL_ONLY_OPS = frozenset(op.name for op in OPS if not op.core)   # not in _picoml_core


def n_inputs(op):
    """The op's input count; -1 for one or more."""
    return -1 if op.inputs[0].endswith("*") else len(op.inputs)


def n_outputs(op):
    return len(op.outputs)


# ---------------------------------------------------------------------------------------------------------------
# The generated files
# ---------------------------------------------------------------------------------------------------------------

GENERATED = "Generated by `python -m picoml.optable` from host/picoml/optable.py and format.py; do not edit."
# Header fields the device reads on their own (every name costs RAM on the device: an interned string).
DEVICE_PEEKS = ("file_size", "arena_size")


def c_header():
    """native_module/ops.h: op codes, one params struct per op (overlaying the op's int32 params) and PML_OPS."""
    from . import format
    lines = ["/* %s */" % GENERATED, "#ifndef PICOML_OPS_H", "#define PICOML_OPS_H", "", "#include <stdint.h>", "",
             "#define PML_FORMAT_VERSION %d" % format.VERSION,
             "#define PML_MAX_DIMS %d" % format.MAX_DIMS,
             "#define PML_MAX_OPERANDS %d    /* an op's inputs and outputs at most */" % format.MAX_OPERANDS,
             "/* a 1x1 CONV_2D's output may lie behind its input only up to this many weights (check.c) */",
             "#define PML_BEHIND_CONV_WEIGHTS %d" % BEHIND_CONV_WEIGHTS, ""]
    for op in OPS:
        lines.append("#define PML_OP_%s %d" % (op.name, op.code))
    lines += ["/* the highest op code this build runs (the ops of PML_OPS) */",
              "#define PML_OP_MAX %d" % max(op.code for op in DEVICE_OPS)]
    for op in OPS:
        lines.append("")
        if op.params:       # (C99 has no empty struct)
            lines += ["typedef struct {"] + ["    int32_t %s;" % p for p in op.params]
            lines.append("} pml_%s_params_t;" % op.name.lower())
        lines.append("#define PML_%s_N_PARAMS %d" % (op.name, len(op.params)))
        lines.append("#define PML_%s_N_OUTPUTS %d" % (op.name, n_outputs(op)))
        lines.append("#define PML_%s_IN_PLACE %d" % (op.name, int(op.in_place)))
    lines += ["", "/* Every op the device runs as X(NAME, name, code, n_params, n_inputs); n_inputs -1 means one or more",
              " * (its output count: PML_<NAME>_N_OUTPUTS; 1 in PML_<NAME>_IN_PLACE: its output may lie exactly over a",
              " * same-sized input). The kernel of op `name` is pml_<name>_s8 (picoml.h). The ops",
              " * above that are not here are not on the device yet: an unknown op code to pml_check. A build",
              " * with PML_WITHOUT_FRONTEND defined (native_module/Makefile's PML_FRONTEND=0: _picoml_core) runs",
              " * the ops of PML_CORE_OPS only: those of PML_FULL_OPS (the audio front-end's, MUL, CONCATENATION,",
              " * PAD, SUB, BATCH_MATMUL, RESIZE_BILINEAR, SQUARED_DIFFERENCE, ARG_MAX,",
              " * L2_NORMALIZATION, LOG_SOFTMAX, DIV, LSTM) are unknown op codes there. */",
              "#define PML_CORE_OPS(X) \\"]
    lines += _x_list([op for op in DEVICE_OPS if op.core])
    lines += ["#define PML_FULL_OPS(X) \\"]
    lines += _x_list([op for op in DEVICE_OPS if not op.core])
    lines += ["#ifdef PML_WITHOUT_FRONTEND", "#define PML_OPS(X) PML_CORE_OPS(X)", "#else",
              "#define PML_OPS(X) PML_CORE_OPS(X) PML_FULL_OPS(X)", "#endif", "", "#endif", ""]
    return "\n".join(lines)


def _x_list(ops):
    """The lines of an X-macro list of ops (after its #define line)."""
    entries = ["    X(%s, %s, %d, PML_%s_N_PARAMS, %d)" % (op.name, op.name.lower(), op.code, op.name, n_inputs(op))
               for op in ops]
    return [e + " \\" for e in entries[:-1]] + [entries[-1]]


def _tuple(name, strings):
    """`name = ("a", "b", ...)` wrapped to lines of at most 120 characters."""
    return "\n".join(textwrap.wrap("%s = (%s)" % (name, ", ".join('"%s"' % s for s in strings)), 118,
                                   subsequent_indent=" " * (len(name) + 4), break_on_hyphens=False))


def device_module():
    """device/picoml/_ops.py: the op constants and tables the device library reads (the record layouts are in
    _layout.py)."""
    names = [""] * (MAX_CODE + 1)
    n_params = [0] * (MAX_CODE + 1)
    inputs = [0] * (MAX_CODE + 1)
    outputs = [0] * (MAX_CODE + 1)
    device = [0] * (MAX_CODE + 1)
    in_place = [0] * (MAX_CODE + 1)
    for op in OPS:
        in_place[op.code] = int(op.in_place)
        names[op.code], n_params[op.code], inputs[op.code] = op.name, len(op.params), n_inputs(op)
        outputs[op.code], device[op.code] = n_outputs(op), int(op.device)
    lines = ["# %s" % GENERATED,
             "# The .pml op set (docs/format.md) for the device library; the record layouts are in _layout.py.", ""]
    lines += ["OP_%s = %d" % (op.name, op.code) for op in OPS]
    lines += ["", "# indexed by op code",
              _tuple("OP_NAMES", names),
              "N_PARAMS = %r" % (tuple(n_params),),
              "N_INPUTS = %r    # -1: one or more" % (tuple(inputs),),
              "N_OUTPUTS = %r" % (tuple(outputs),),
              "# 1: the device runs the op (else it is an unknown op code on the device; the host runs it)",
              "ON_DEVICE = bytes(%r)" % (device,),
              "# 1: the op's output may lie exactly over a same-sized input (it reads element i before writing it)",
              "IN_PLACE = bytes(%r)" % (in_place,),
              "# a 1x1 CONV_2D's output may lie behind its input only up to this many weights (validate._behind)",
              "BEHIND_CONV_WEIGHTS = %d" % BEHIND_CONV_WEIGHTS, ""]
    return "\n".join(lines)


def _layout_lines():
    """The .pml record layouts (header, tensor and io entries) as device-library constants."""
    from . import format
    offsets = format.header_offsets()
    lines = ["MAGIC = %r" % format.MAGIC,
             "VERSION = %d" % format.VERSION,
             "HEADER_FORMAT = %r" % format.HEADER.format,
             "HEADER_SIZE = %d" % format.HEADER.size,
             "# byte offsets of the header fields read without unpacking the header"]
    lines += ["AT_%s = %d" % (f.upper(), offsets[f]) for f in DEVICE_PEEKS]
    lines += ["TENSOR_FORMAT = %r" % format.TENSOR.format,
             "TENSOR_SIZE = %d" % format.TENSOR.size,
             "IO_FORMAT = %r" % format.IO_ENTRY.format,
             "IO_SIZE = %d" % format.IO_ENTRY.size,
             "CRC_START = %d" % format.CRC_START,
             "MAX_DIMS = %d" % format.MAX_DIMS,
             "MAX_OPERANDS = %d" % format.MAX_OPERANDS,
             "STORAGE_ARENA = %d" % format.STORAGE_ARENA,
             "STORAGE_WEIGHTS = %d" % format.STORAGE_WEIGHTS,
             "STORAGE_STATE = %d" % format.STORAGE_STATE,
             "OLDEST_VERSION = %d" % format.OLDEST_VERSION,
             "INT8_EDGE = %d" % format.INT8_EDGE,
             "FLOAT32_EDGE = %d" % format.FLOAT32_EDGE,
             "DTYPE_SIZES = %r" % (tuple(format.DTYPES[c].itemsize if c in format.DTYPES else 0
                                         for c in range(max(format.DTYPES) + 1)),), ""]
    return lines


def layout_module():
    """device/picoml/_layout.py: only the record layouts, for the native backend's load path (picoml.pml), which
    needs none of the op tables: importing _ops there would cost 5.7 KB of heap while loading and leave its names
    interned (docs/memory.md)."""
    lines = ["# %s" % GENERATED, "# The .pml record layouts (docs/format.md) for the device library's loader (the op "
             "tables: _ops.py).", ""]
    return "\n".join(lines + _layout_lines())


LOADER_BEGIN = "# -- %s --" % GENERATED
LOADER_END = "# -- end of the generated part --"


def loader_layout():
    """The generated part of device/picoml/pml.py: the record layouts again, for the loader alone. The integers as
    underscored MicroPython consts, which the compiler folds into the code, so their names take no RAM (importing
    _layout interned its names for good and held the module while loading: docs/memory.md); the strings as
    module names (CircuitPython's compiler folds only integer consts); the tuples, which the loader does not
    read, left out."""
    lines = []
    for line in _layout_lines():
        name, _, value = line.partition(" = ")
        if not value or line.startswith("#"):
            lines.append(line)
        elif value.lstrip("-").isdigit():
            lines.append("_%s = const(%s)" % (name, value))
        elif not value.startswith("("):
            lines.append("_%s = %s" % (name, value))
    mask = sum(1 << op.code for op in OPS if op.core)
    assert mask < 1 << 30, "the mask below must stay a MicroPython small int"
    depthwise = BY_NAME["DEPTHWISE_CONV_2D"]
    lines += ["# bit c: op code c is in _picoml_core (every op is in _picoml)",
              "_CORE_OPS = const(0x%x)" % mask, "_MAX_CODE = const(%d)" % MAX_CODE,
              "# DEPTHWISE_CONV_2D's code and the index of its depth_multiplier among its params",
              "_DEPTHWISE = const(%d)" % depthwise.code,
              "_DEPTH_MULTIPLIER_AT = const(%d)" % depthwise.params.index("depth_multiplier")]
    return [line for line in lines if line]


def loader_module(text):
    """device/picoml/pml.py's text with its generated part (between LOADER_BEGIN and LOADER_END) made current."""
    lines = text.split("\n")
    begin = lines.index(LOADER_BEGIN)
    end = lines.index(LOADER_END, begin)
    return "\n".join(lines[:begin + 1] + loader_layout() + lines[end:])


def generated_files():
    """{path relative to the repository: text} of every file generated from the op table (pml.py in part)."""
    from .resources import device_package
    return {"native_module/ops.h": c_header(), "device/picoml/_ops.py": device_module(),
            "device/picoml/_layout.py": layout_module(),
            "device/picoml/pml.py": loader_module((device_package() / "pml.py").read_text())}


def main():
    from .resources import checkout
    root = checkout("regenerating the op table's files")
    for path, text in generated_files().items():
        target = root / path
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print("wrote", path)


if __name__ == "__main__":
    main()
