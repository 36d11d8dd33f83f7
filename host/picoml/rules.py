"""The validation rules of a .pml model: one table, from which the C checks (native_module/rules.h) and the
device library (device/picoml/validate.py, refusal.py) take their rule codes, each op's parameter ranges and
operand types, and the words of every refusal.

The C code reports a refusal as numbers, (op, tensor, rule, detail, value), and carries no text: a native module's
code and constants take the board's RAM. picoml.refusal words it -- for the native module's refusals as for
picoml.validate's, which raises the same numbers -- so every backend and the host refuse a file with the same
message. `python -m picoml.rules` rewrites the generated files (rules.h, and the generated parts and rule codes of
validate.py and refusal.py); a test fails when one is stale.

What a rule guards, in short: every kernel reads and writes only inside its operands with no int32 overflow in its
index arithmetic or its accumulators (the kernels check nothing at run time), and each op means what TFLite
means (SAME/VALID windows, int8 zero points, shifts a multiplier/shift pair holds). docs/format.md lists them.
"""
import pathlib
import re
import textwrap

from .optable import BY_CODE, BY_NAME, OPS

# The most work a model may ask of one inference: the sum over its ops of their kernels' inner-loop iterations
# (multiply-accumulates for the convolutions and FULLY_CONNECTED, window positions times channels for pooling,
# elements for the rest). 2^27 = 134 M is 10.7 times ResNet-8's 12.5 M MACs (the largest MLPerf Tiny model) and
# 18 times the visual wake words model's 7.5 M: every real model for these boards passes with a wide margin, while
# no file can ask for more than about 11 ResNet-8 inferences of work per predict.
MAX_WORK = 1 << 27

# Ranges of a parameter, by kind: (name, text, lowest, highest), "{}" the parameter's name in the text; a lowest
# of None is the parameter before it (act_max's range starts at act_min).
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
PARAM_KINDS = (
    ("ANY", "", INT32_MIN, INT32_MAX),
    ("GE1", "{} must be 1 or more", 1, INT32_MAX),
    ("GE0", "{} must be 0 or more", 0, INT32_MAX),
    ("INT8", "{} must be -128..127", -128, 127),
    ("INPUT_OFFSET", "{} must be -127..128", -127, 128),        # minus an int8 zero point
    ("SHIFT", "{} must be -31..31", -31, 31),                   # a multiplier/shift pair's shift
    ("SHIFT_LEFT", "{} must be 0..31", 0, 31),
    ("ACT_MAX", "{} must be act_min..127", None, 127),
    ("SHIFT64", "{} must be 0..63", 0, 63),                     # a shift of a 64-bit value
    ("BOOL", "{} must be 0 or 1", 0, 1),
    ("ACT_MAX32", "{} must be act_min or more", None, INT32_MAX),
    ("Q31", "{} must not be -2147483648", INT32_MIN + 1, INT32_MAX),    # a multiplier some kernels negate
    ("DIV_SHIFT", "{} must be 7..22", 7, 22),   # DIV's: its rounding shifts stay in 0..31 for every int8 input
    ("TANH_MULTIPLIER", "{} must be 1..24576", 1, 24576),  # the LSTM's: times an int16, it stays an int32
)
KIND = {kind[0]: i for i, kind in enumerate(PARAM_KINDS)}

_CONV = {"stride_h": "GE1", "stride_w": "GE1", "dilation_h": "GE1", "dilation_w": "GE1", "pad_top": "GE0",
         "pad_left": "GE0", "input_offset": "INPUT_OFFSET", "output_offset": "INT8", "act_min": "INT8",
         "act_max": "ACT_MAX", "depth_multiplier": "GE1"}
_POOL = {"stride_h": "GE1", "stride_w": "GE1", "filter_h": "GE1", "filter_w": "GE1", "pad_top": "GE0",
         "pad_left": "GE0", "act_min": "INT8", "act_max": "ACT_MAX"}
_ELEMENTWISE = {"input1_offset": "INPUT_OFFSET", "input2_offset": "INPUT_OFFSET", "output_offset": "INT8",
                "input_zero_point": "INT8", "output_zero_point": "INT8", "input1_shift": "SHIFT",
                "input2_shift": "SHIFT", "output_shift": "SHIFT", "shift": "SHIFT", "act_min": "INT8",
                "act_max": "ACT_MAX", "left_shift": "SHIFT_LEFT", "pad_value": "INT8", "axis": "GE0"}
_PAD = {"pad_%s_%d" % (side, i): "GE0" for side in ("before", "after") for i in range(4)}
# Kinds by op and parameter (a parameter not named is ANY: every int32 is fine, e.g. a Q31 multiplier).
PARAM_RANGES = {name: dict(_ELEMENTWISE, **_PAD) for name in BY_NAME}
PARAM_RANGES.update({"CONV_2D": _CONV, "DEPTHWISE_CONV_2D": _CONV, "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL,
                     "SOFTMAX": {"input_left_shift": "SHIFT_LEFT"}})
_INT32_ACT = {"act_max": "ACT_MAX32"}
PARAM_RANGES.update({
    "SIGNAL_WINDOW": {"shift": "SHIFT_LEFT"}, "SIGNAL_FFT_AUTO_SCALE": {}, "SIGNAL_RFFT": {"fft_length": "GE1"},
    "SIGNAL_ENERGY": {"start_index": "GE0", "end_index": "GE0"}, "SIGNAL_FILTER_BANK": {},
    "SIGNAL_FILTER_BANK_SQUARE_ROOT": {},
    "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION": {"smoothing_bits": "SHIFT_LEFT", "spectral_subtraction_bits": "SHIFT64",
                                                "clamping": "BOOL"},
    "SIGNAL_PCAN": {"snr_shift": "SHIFT64"}, "SIGNAL_FILTER_BANK_LOG": {"input_correction_bits": "SHIFT_LEFT"},
    "CAST": {}, "STRIDED_SLICE": {"begin_%d" % i: "GE0" for i in range(4)}, "MINIMUM": {}, "MAXIMUM": {},
    "ADD_INT32": _INT32_ACT, "MUL_INT32": _INT32_ACT, "DIV_INT32": _INT32_ACT,
    "BATCH_MATMUL": {"lhs_offset": "INPUT_OFFSET", "rhs_offset": "INPUT_OFFSET", "output_offset": "INT8",
                     "output_multiplier": "Q31", "output_shift": "SHIFT", "act_min": "INT8", "act_max": "ACT_MAX",
                     "adj_x": "BOOL", "adj_y": "BOOL"},
    "RESIZE_BILINEAR": {"align_corners": "BOOL", "half_pixel_centers": "BOOL"}, "ARG_MAX": {"min": "BOOL"},
    "LOG_SOFTMAX": {"input_left_shift": "SHIFT_LEFT", "reverse_scaling_right_shift": "SHIFT_LEFT",
                    "diff_min": "Q31"},        # the kernels take diff_min - 1
    "DIV": dict(_ELEMENTWISE, output_shift="DIV_SHIFT"),
    "LSTM": {"time_major": "BOOL", "hidden_zero_point": "INT8",
             "forget_multiplier": "Q31", "forget_shift": "SHIFT", "input_multiplier": "Q31", "input_shift": "SHIFT",
             "hidden_multiplier": "Q31", "hidden_shift": "SHIFT", "tanh_multiplier": "TANH_MULTIPLIER",
             "tanh_shift": "SHIFT_LEFT", "cell_clip": "GE0"}})

# Operand types: (dtype, rank or None for any, where: False, CONSTANT (its bytes in the weights blob, read and
# checked at load) or STATE (a state tensor, which the op reads and updates)). dtype ANY is any dtype, SAME the
# dtype of the op's (first) output.
ANY, I8, I16, I32, U32, U64, SAME = 0, 1, 2, 3, 4, 5, 7
CONSTANT, STATE = True, "state"
_CONV_OPERANDS = {"input": (I8, 4, False), "filter": (I8, 4, True), "output": (I8, 4, False)}
_REQUANTIZATION = {"bias": (I32, None, True), "multipliers": (I32, None, True), "shifts": (I32, None, True)}
OPERANDS = {name: {} for name in BY_NAME}
OPERANDS.update({"CONV_2D": dict(_CONV_OPERANDS, **_REQUANTIZATION),
                 "DEPTHWISE_CONV_2D": dict(_CONV_OPERANDS, **_REQUANTIZATION),
                 "FULLY_CONNECTED": dict({"weights": (I8, 2, True)}, **_REQUANTIZATION),
                 "AVERAGE_POOL_2D": {"input": (I8, 4, False), "output": (I8, 4, False)},
                 "MAX_POOL_2D": {"input": (I8, 4, False), "output": (I8, 4, False)},
                 "RESIZE_BILINEAR": {"input": (I8, 4, False), "output": (I8, 4, False)},
                 "ARG_MAX": {"input": (I8, 3, False), "output": (I32, 2, False)},
                 "L2_NORMALIZATION": {"input": (I8, 2, False), "output": (I8, 2, False)},
                 "LOG_SOFTMAX": {"input": (I8, 2, False), "output": (I8, 2, False)},
                 "LUT": {"table": (I8, None, True)},
                 "LSTM": {"input": (I8, 3, False), "input_weights": (I8, 2, CONSTANT),
                          "recurrent_weights": (I8, 2, CONSTANT), "bias": (I32, 1, CONSTANT),
                          "multipliers": (I32, 1, CONSTANT), "shifts": (I32, 1, CONSTANT),
                          "sigmoid_table": (I16, 1, CONSTANT), "hidden_state": (I16, 1, STATE),
                          "cell_state": (I16, 1, STATE), "output": (I8, 3, False)},
                 "CONCATENATION": {"inputs": (SAME, None, False), "output": (ANY, None, False)}})
_TABLE16 = (I16, 1, CONSTANT)
OPERANDS.update({
    "SIGNAL_WINDOW": {"input": (I16, None, False), "window": _TABLE16, "output": (I16, None, False)},
    "SIGNAL_FFT_AUTO_SCALE": {"input": (I16, None, False), "output": (I16, None, False), "scale_bits": (I32, 0, False)},
    "SIGNAL_RFFT": {"input": (I16, None, False), "twiddles": (I16, 2, CONSTANT), "super_twiddles": (I16, 2, CONSTANT),
                    "output": (I16, None, False)},
    "SIGNAL_ENERGY": {"input": (I16, None, False), "output": (U32, None, False)},
    "SIGNAL_FILTER_BANK": {"input": (U32, None, False), "weights": _TABLE16, "unweights": _TABLE16,
                           "channel_frequency_starts": _TABLE16, "channel_weight_starts": _TABLE16,
                           "channel_widths": _TABLE16, "output": (U64, None, False)},
    "SIGNAL_FILTER_BANK_SQUARE_ROOT": {"input": (U64, None, False), "scale_bits": (I32, 0, False),
                                       "output": (U32, None, False)},
    "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION": {"input": (U32, None, False), "state": (U32, None, STATE),
                                                "output": (U32, None, False), "noise_estimate": (U32, None, False)},
    "SIGNAL_PCAN": {"input": (U32, None, False), "noise_estimate": (U32, None, False), "gain_lut": _TABLE16,
                    "output": (U32, None, False)},
    "SIGNAL_FILTER_BANK_LOG": {"input": (U32, None, False), "output": (I16, None, False)},
    "CAST": {"input": (ANY, None, False), "output": (ANY, None, False)},
    "STRIDED_SLICE": {"input": (SAME, None, False), "output": (ANY, None, False)},
    "MINIMUM": {"input1": (SAME, None, False), "input2": (SAME, None, False), "output": (ANY, None, False)},
    "MAXIMUM": {"input1": (SAME, None, False), "input2": (SAME, None, False), "output": (ANY, None, False)}})
OPERANDS.update({name: {"input1": (I32, None, False), "input2": (I32, None, False), "output": (I32, None, False)}
                 for name in ("ADD_INT32", "MUL_INT32", "DIV_INT32")})
DEFAULT_OPERAND = (I8, None, False)     # any other operand: an int8 activation or constant

# The other rules, each a name and its words. Rules of the tables name no op (op -1) or a tensor; rules of an op
# name the op. The message adds the offending value. pml_check's status follows from the code: UNKNOWN_OP is
# PML_ERR_UNKNOWN_OP, the rules from OPERAND_DTYPE on PML_ERR_OPERANDS, the others PML_ERR_MODEL.
RULES = (
    ("OK", ""),
    # the sections (the caller checks the header first: picoml.pml.check_header, magic, version, size, CRC-32)
    ("SHORT", "the file is shorter than the 64-byte header"),
    ("ARENA", "the arena is smaller than arena_size"),
    ("WEIGHTS_SECTION", "the weights section must lie inside the file, 4-byte aligned"),
    ("TENSORS_SECTION", "the tensor table must lie inside the file, 4-byte aligned"),
    ("IO_SECTION", "the io table must lie inside the file, 4-byte aligned"),
    ("OPS_SECTION", "the op table must lie inside the file, 4-byte aligned, in whole words"),
    ("METADATA_SECTION", "the metadata must lie inside the file"),
    # a tensor
    ("DTYPE", "dtype must be 1 (int8), 2 (int16), 3 (int32), 4 (uint32) or 5 (uint64)"),
    ("NDIM", "ndim must be 0..4"),
    ("STORAGE", "storage must be 0 (arena), 1 (weights) or 2 (state)"),
    ("DIMS", "every dimension must be 1 or more"),
    ("COUNT", "the element count must be below 2^31"),
    ("NBYTES", "nbytes must be the element count times the dtype's size"),
    ("OFFSET_ALIGN", "offset must be a multiple of 4"),
    ("ARENA_OVERRUN", "overruns its arena (offset + nbytes > arena_size)"),
    ("WEIGHTS_OVERRUN", "overruns the weights (offset + nbytes > weights_size)"),
    # the op table
    ("OPS_END", "the op table ends inside this op"),
    ("UNKNOWN_OP", "unknown op code"),
    ("N_PARAMS", "n_params is not this op's parameter count"),
    ("N_INPUTS", "n_inputs is not this op's input count"),
    ("N_OUTPUTS", "n_outputs is not this op's output count"),
    ("OPERAND", "an operand is not a tensor of the table"),
    ("OUTPUT_STORAGE", "an output must be in the arena, not the weights or state"),
    ("STRAY", "stray words after the last op"),
    # an operand of an op ("{}" is the operand's name) and a parameter (see PARAM_KINDS)
    ("OPERAND_DTYPE", "{} must be {}"),
    ("OPERAND_RANK", "{} must have rank {}"),
    ("OPERAND_CONSTANT", "{} must be a constant (in the weights)"),
    ("OPERAND_STATE", "{} must be a state tensor (storage 2)"),
    ("PARAM", ""),
    ("WORK", "the model's work up to this op exceeds %d inner-loop iterations" % MAX_WORK),
    # the ops
    ("FILTER_DEPTH", "the filter's depth must equal the input's channels"),
    ("BATCH", "the output's batch must equal the input's"),
    ("OUT_CHANNELS", "the output's channels must equal the filter's"),
    ("POOL_CHANNELS", "the output's channels must equal the input's"),
    ("BIAS_COUNT", "bias must have one value per output channel"),
    ("MULTIPLIERS_COUNT", "multipliers must have one value per output channel, or one"),
    ("SHIFTS_COUNT", "shifts must have as many values as multipliers"),
    ("SHIFTS_RANGE", "shifts must be -31..31"),
    ("MULTIPLIERS_RANGE", "multipliers must not be -2147483648"),
    ("REACH_H", "stride, dilation and filter height reach beyond 2^30"),
    ("REACH_W", "stride, dilation and filter width reach beyond 2^30"),
    ("OUT_H", "the output's height does not follow from the input, filter, stride, dilation and pad_top "
              "(SAME or VALID)"),
    ("OUT_W", "the output's width does not follow from the input, filter, stride, dilation and pad_left "
              "(SAME or VALID)"),
    ("DW_FILTER", "the filter's first dimension must be 1"),
    ("DW_CHANNELS", "the filter's channels must equal the input's channels times depth_multiplier"),
    ("DW_TAPS", "the filter must have 65536 taps or fewer (height x width)"),
    ("FC_DEPTH", "the input's size must be a multiple of the weights' depth"),
    ("FC_OUTPUT", "the output's size must be the input's batches times the weights' units"),
    ("POOL_WINDOW", "the window inside the input must have 2^23 positions or fewer"),
    ("SIZE", "the output must have the input's size"),
    ("SOFTMAX_DEPTH", "the last dimension must be 4095 or less"),
    ("BROADCAST1", "input1 does not broadcast to the output's shape"),
    ("BROADCAST2", "input2 does not broadcast to the output's shape"),
    ("AXIS", "axis must be less than the output's rank"),
    ("CONCAT_RANK", "every input must have the output's rank"),
    ("CONCAT_SHAPE", "every input must have the output's shape off the axis"),
    ("CONCAT_SUM", "the inputs' sizes along the axis must add up to the output's"),
    ("MEAN_MASK", "axis_mask must name axes of the input only"),
    ("MEAN_OUTPUT", "the output's size must be the input's with the masked axes reduced"),
    ("PAD_RANK", "the output must have the input's rank"),
    ("PAD_DIMS", "the output's dimensions must be the input's plus pad_before and pad_after"),
    ("LUT_SIZE", "the table must have 256 values"),
    ("WINDOW_SIZE", "the input's size must be a multiple of the window's"),
    ("RFFT_LENGTH", "fft_length must be a power of two from 4 to 65536"),
    ("RFFT_INPUT", "the input's last dimension must be fft_length or less"),
    ("RFFT_OUTPUT", "the output's last dimension must be fft_length + 2"),
    ("RFFT_ROWS", "the output must have as many rows as the input"),
    ("RFFT_TWIDDLES", "twiddles must have fft_length values and super_twiddles fft_length / 2"),
    ("ENERGY_RANGE", "start_index..end_index must lie inside the output"),
    ("ENERGY_SIZE", "the input must have two values (a complex one) per output value"),
    ("FB_WEIGHTS", "weights and unweights must have the same size"),
    ("FB_CHANNELS", "each channel table must have one value more than the output"),
    ("FB_BAND", "a channel's band must lie inside the input and the weights (starts and width 0 or more)"),
    ("PCAN_LUT", "the gain table must have 125 values"),
    ("SLICE_RANK", "the output must have the input's rank"),
    ("SLICE_STRIDE", "strides must not be 0"),
    ("SLICE_BEGIN", "begin must lie inside the input"),
    ("SLICE_END", "the slice's last element must lie inside the input"),
    ("MATMUL_DEPTH", "lhs and rhs must have the same depth (lhs's columns, rhs's rows, after adj_x and adj_y)"),
    ("MATMUL_OUTPUT", "the output must be the batches, lhs's rows and rhs's columns, with each batch dimension of "
                      "lhs and rhs 1 or the output's"),
    ("RESIZE_SIZE", "the input's and the output's height and width must be 32767 or less"),
    ("ARG_SHAPE", "the output must be the input without its middle axis, which must not be empty"),
    ("L2_DEPTH", "the last dimension must be 33025 or less (its sum of squares an int32)"),
    ("LSTM_OUTPUT", "the output must have the input's first two dimensions"),
    ("LSTM_WEIGHTS", "input_weights must be [4 x units, the input's features] and recurrent_weights [4 x units, "
                     "units]"),
    ("LSTM_CONSTANTS", "bias must have 4 x units values, multipliers and shifts 8 each, sigmoid_table 256"),
    ("LSTM_STATE", "hidden_state and cell_state must have batches x units values"),
    # an output and the op's other operands (an in-place op's output may lie exactly over a same-sized input)
    ("ALIAS", "{} must not overlap the op's other operands in the arena; it overlaps tensor"),
)
RULE = {name: i for i, (name, _) in enumerate(RULES)}
DTYPE_NAMES = {ANY: "any", I8: "int8", I16: "int16", I32: "int32", U32: "uint32", U64: "uint64",
               SAME: "the output's dtype"}


def param_kinds(op):
    """The kind of each of the op's parameters, in order."""
    return [KIND[PARAM_RANGES[op.name].get(p, "ANY")] for p in op.params]


def operand_names(op):
    """The names of the op's inputs (one for all when it takes one or more) and of its outputs."""
    return ([op.inputs[0].rstrip("*")] if op.inputs[0].endswith("*") else list(op.inputs)) + list(op.outputs)


def operand_specs(op):
    """One byte per input (one for all when the op takes one or more) and one per output: dtype in bits 0-2 (0: any,
    7: the op's first output's), rank in bits 3-5 (7: any), constant in bit 6, state in bit 7."""
    specs = []
    for name in operand_names(op):
        dtype, rank, where = OPERANDS[op.name].get(name, DEFAULT_OPERAND)
        specs.append(dtype | (7 if rank is None else rank) << 3 | (64 if where is CONSTANT else 0)
                     | (128 if where == STATE else 0))
    return specs


GENERATED = "Generated by `python -m picoml.rules` from host/picoml/rules.py and optable.py; do not edit."
REPO = pathlib.Path(__file__).resolve().parents[2]     # only for writing the generated files into a checkout


def _by_code(fn):
    """(flat list of fn(op) for the ops in code order, offset of each code's entries, code 0 .. max + 1)."""
    flat, at = [], []
    for code in range(max(BY_CODE) + 1):
        at.append(len(flat))
        if code in BY_CODE:
            flat += fn(BY_CODE[code])
    at.append(len(flat))
    return flat, at


def _c_list(name, values):
    return textwrap.fill("#define %s {%s}" % (name, ", ".join(map(str, values))), 118, subsequent_indent="    ",
                         break_on_hyphens=False).replace("\n", " \\\n")


def c_header():
    """native_module/rules.h: the rule codes, MAX_WORK, and each op's parameter kinds and operand types."""
    kinds, kinds_at = _by_code(param_kinds)
    specs, specs_at = _by_code(operand_specs)
    ranges = []
    for _, _, lo, hi in PARAM_KINDS:
        ranges += [INT32_MIN if lo is None else lo, hi]
    lines = ["/* %s */" % GENERATED,
             "/* The rules pml_check applies (check.c); picoml.refusal words them (device/picoml/refusal.py). */",
             "#ifndef PICOML_RULES_H", "#define PICOML_RULES_H", "",
             "#define PML_MAX_WORK %d" % MAX_WORK, "", "/* Rule codes (pml_error_t.rule). */"]
    lines += ["#define PML_R_%s %d" % (name, i) for i, (name, _) in enumerate(RULES)]
    lines += ["", "/* Parameter kinds: PML_KIND_RANGES[2 * kind] .. [2 * kind + 1] is the range; the kinds whose bit is",
              " * set in PML_KINDS_FROM_PREVIOUS (ACT_MAX, ACT_MAX32) start at the parameter before it instead. */",
              "#define PML_KINDS_FROM_PREVIOUS 0x%xu" % sum(1 << i for i, k in enumerate(PARAM_KINDS) if k[2] is None),
              _c_list("PML_KIND_RANGES", ["(-2147483647 - 1)" if v == INT32_MIN else v for v in ranges]),
              "", "/* Operand types: dtype in bits 0-2 (0: any, 7: the op's first output's), rank in bits 3-5 (7: any),",
              " * constant in bit 6, state in bit 7. */",
              "#define PML_SPEC_ANY_DTYPE 0", "#define PML_SPEC_SAME_DTYPE 7",
              "#define PML_SPEC_DTYPE(s) ((s) & 7)", "#define PML_SPEC_RANK(s) (((s) >> 3) & 7)",
              "#define PML_SPEC_CONSTANT(s) (((s) >> 6) & 1)", "#define PML_SPEC_STATE(s) (((s) >> 7) & 1)", "",
              "/* Each op's parameter kinds, PML_PARAM_KINDS[PML_PARAM_KINDS_AT[code] + i] for its parameter i;",
              " * its operand types, PML_OPERAND_SPECS[PML_OPERAND_SPECS_AT[code] + k] for input k (all inputs share",
              " * the first when it takes one or more), then its outputs'. */",
              _c_list("PML_PARAM_KINDS", kinds), _c_list("PML_PARAM_KINDS_AT", kinds_at),
              _c_list("PML_OPERAND_SPECS", specs), _c_list("PML_OPERAND_SPECS_AT", specs_at),
              "", "#endif", ""]
    return "\n".join(lines)


def _py_tuple(name, values):
    return textwrap.fill("%s = %r" % (name, tuple(values)), 118, subsequent_indent="    ", break_on_hyphens=False)


def _py_bytes(name, values):
    return textwrap.fill("%s = bytes(%r)" % (name, list(values)), 118, subsequent_indent="    ",
                         break_on_hyphens=False)


def validate_tables():
    """The generated part of device/picoml/validate.py: the tables of native_module/rules.h."""
    kinds, kinds_at = _by_code(param_kinds)
    specs, specs_at = _by_code(operand_specs)
    return ["MAX_WORK = %d" % MAX_WORK,
            "# (lowest, highest) per parameter kind; None: the parameter before it",
            _py_tuple("KIND_RANGES", [(lo, hi) for _, _, lo, hi in PARAM_KINDS]),
            "# PARAM_KINDS[PARAM_KINDS_AT[code] + i]: the kind of parameter i of op `code`",
            _py_bytes("PARAM_KINDS", kinds),
            _py_tuple("PARAM_KINDS_AT", kinds_at),
            "# OPERAND_SPECS[OPERAND_SPECS_AT[code] + k]: the type of input k (all inputs share the first when the op",
            "# takes one or more), then the outputs': dtype in bits 0-2 (0: any, 7: the first output's), rank in bits 3-5",
            "# (7: any), constant in bit 6, state in bit 7",
            _py_bytes("OPERAND_SPECS", specs),
            _py_tuple("OPERAND_SPECS_AT", specs_at)]


def refusal_words():
    """The generated part of device/picoml/refusal.py: the words of every rule, parameter and operand."""
    def by_code(fn):
        return [fn(BY_CODE[c]) if c in BY_CODE else () for c in range(max(BY_CODE) + 1)]

    def types(op):
        return tuple((spec & 7, (spec >> 3) & 7) for spec in operand_specs(op))
    lines = ["# indexed by rule code", "RULE_TEXTS = ("]
    lines += ["    %r," % text for _, text in RULES]
    lines += [")", "# indexed by parameter kind", "KIND_TEXTS = ("]
    lines += ["    %r," % kind[1] for kind in PARAM_KINDS]
    lines += [")", "# indexed by op code: its parameters' names and kinds, its operands' names and (dtype, rank) (inputs,",
              "# then the output; one for all the inputs of an op taking one or more)", "PARAM_NAMES = ("]
    lines += ["    %r," % (tuple(v),) for v in by_code(lambda op: op.params)]
    lines += [")", "PARAM_KINDS = ("]
    lines += ["    %r," % (tuple(v),) for v in by_code(param_kinds)]
    lines += [")", "OPERAND_NAMES = ("]
    lines += ["    %r," % (tuple(v),) for v in by_code(operand_names)]
    lines += [")", "OPERAND_TYPES = ("]
    lines += ["    %r," % (v,) for v in by_code(types)]
    lines += [")", "DTYPE_NAMES = %r" % (tuple(DTYPE_NAMES.get(i, "") for i in range(8)),)]
    return lines


# In device/picoml/validate.py and refusal.py a rule is its code, an integer, followed on the same line by a comment
# naming it, for instance
#     _fail(14, d, tensor=i)  # DIMS
#     _need(30, f.shape[3] == x.shape[3], f.shape[3])  # FILTER_DEPTH
#     if rule == 18:  # UNKNOWN_OP
# (numbers, not names: every name would stay in the board's RAM), and the tables and words are between two marker
# lines. `python -m picoml.rules` rewrites both from this table.
_RULE_USE = re.compile(r"^(.*?(?:_fail\(|_need\(|rule == ))(\d+)(.*#\s*([A-Z][A-Z0-9_]*)\s*)$")
_BEGIN = "# -- generated by `python -m picoml.rules` from host/picoml/rules.py"
_END = "# -- end of the generated part --"


def device_source(text, block):
    """A device module's text with the generated part between its markers replaced by `block` (lines) and every
    rule code made the one its comment names."""
    lines = text.split("\n")
    begin = next(i for i, line in enumerate(lines) if line.startswith(_BEGIN))
    end = lines.index(_END)
    lines = lines[:begin + 1] + block + lines[end:]
    out = []
    for line in lines:
        m = _RULE_USE.match(line)
        if m and m.group(4) in RULE:
            line = "%s%d%s" % (m.group(1), RULE[m.group(4)], m.group(3))
        elif m:
            raise ValueError("a rule not in host/picoml/rules.py: %r in %s" % (m.group(4), line.strip()))
        out.append(line)
    return "\n".join(out)


def generated_files():
    """{path relative to the repository: text} of the files generated from this table (two device modules are
    generated in part: their generated part and their rule codes)."""
    device = REPO / "device" / "picoml"
    return {"native_module/rules.h": c_header(),
            "device/picoml/validate.py": device_source((device / "validate.py").read_text(), validate_tables()),
            "device/picoml/refusal.py": device_source((device / "refusal.py").read_text(), refusal_words())}


def main():
    for path, text in generated_files().items():
        target = REPO / path
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print("wrote", path)


if __name__ == "__main__":
    main()
