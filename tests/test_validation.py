"""Every rule a .pml model must meet (host/picoml/rules.py, checked by the native module's pml_check and by
picoml.validate), each shown by a handcrafted bad file -- a valid model with one field edited and the CRC
recomputed -- refused with the same message, naming the op, its layer and the field, by

  * the host: picoml.format.validate (the device's loader and picoml.validate, run in CPython),
  * the C checks through ctypes, plain and built with AddressSanitizer and UndefinedBehaviorSanitizer,
  * the device library in MicroPython's unix port with each backend: native, viper, python;

and the files issue 10's fuzzing found crashing or hanging the kernels (a stride of 2^30, a tensor of shape
[1, 2147483647, 0, 64], shifts above 31, ...) among them."""
import os
import pathlib
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

import genmodels
from conftest import ROOT
from picoml import format, planner, rules
from picoml.convert import convert
from picoml.errors import FormatError
from picoml.format import IO, Model, Op, Tensor
from picoml.runtimes import c as c_runtime
from picoml.runtimes.unix import run_script

GENMODELS = ROOT / "build" / "genmodels"
OFFSETS = format.header_offsets()


# ---------------------------------------------------------------------------------------------------------------
# The models edited, and the editing
# ---------------------------------------------------------------------------------------------------------------

_bases = {}


def base(name):
    """A valid model's .pml bytes: a generated model converted, or one built here (see _synthetic)."""
    if name not in _bases:
        if name in SYNTHETIC:
            _bases[name] = format.write(SYNTHETIC[name]())
        else:
            path = genmodels.build_tflite(name, GENMODELS)
            _bases[name] = format.write(convert(pathlib.Path(path).read_bytes(), name, measure_tflm=False))
    return _bases[name]


class Edit:
    """A .pml being edited: header fields, tensor table entries, op words and params, constants; bytes() gives
    the file with its CRC recomputed."""

    def __init__(self, blob):
        self.b = bytearray(blob)
        self.h = format.read_header(blob)

    def header(self, field, value):
        small = field in ("version", "header_size", "n_tensors", "n_ops", "n_inputs", "n_outputs")
        struct.pack_into("<H" if small else "<I", self.b, OFFSETS[field], value)
        self.h[field] = value

    def entry(self, t):
        return list(format.TENSOR.unpack_from(self.b, self.h["tensors_offset"] + t * format.TENSOR.size))

    def tensor(self, t, shape=None, **fields):
        """Set fields of tensor t (dtype, ndim, storage, offset, nbytes); shape= sets ndim, dims and nbytes."""
        e = self.entry(t)
        names = ("dtype", "ndim", "storage", "reserved", "offset", "nbytes")
        if shape is not None:
            e[1] = len(shape)
            e[6:10] = list(shape) + [0] * (4 - len(shape))
            e[5] = int(np.prod(shape, dtype=np.int64)) * {1: 1, 2: 2, 3: 4, 4: 4, 5: 8}[e[0]] & 0xFFFFFFFF
        for k, v in fields.items():
            e[names.index(k)] = v
        format.TENSOR.pack_into(self.b, self.h["tensors_offset"] + t * format.TENSOR.size, *e)

    def shape(self, t):
        e = self.entry(t)
        return tuple(e[6:6 + e[1]])

    def op(self, which):
        """(position, code, n_in, n_out, n_params) of op `which`: an index, or the first op of that name."""
        pos = self.h["ops_offset"]
        for i in range(self.h["n_ops"]):
            code, n_in, n_out, n_params = struct.unpack_from("<4i", self.b, pos)
            if i == which or rules.BY_CODE[code].name == which:
                return pos, code, n_in, n_out, n_params
            pos += 4 * (4 + n_in + n_out + n_params)
        raise KeyError(which)

    def word(self, which, k, value):
        """Word k of op `which` (0 code, 1 n_inputs, 2 n_outputs, 3 n_params, then operands, then params)."""
        struct.pack_into("<i", self.b, self.op(which)[0] + 4 * k, value)

    def operand(self, which, k):
        """The tensor index of operand k (inputs, then the output) of op `which`."""
        return struct.unpack_from("<i", self.b, self.op(which)[0] + 16 + 4 * k)[0]

    def output(self, which):
        return self.operand(which, self.op(which)[2])

    def param(self, which, name, value):
        pos, code, n_in, n_out, _ = self.op(which)
        index = rules.BY_CODE[code].params.index(name)
        struct.pack_into("<i", self.b, pos + 4 * (4 + n_in + n_out + index), value)

    def constant(self, t, index, value):
        """Element `index` of the int32 constant t."""
        struct.pack_into("<i", self.b, self.h["weights_offset"] + self.entry(t)[4] + 4 * index, value)

    def constant16(self, t, index, value):
        """Element `index` of the int16 constant t."""
        struct.pack_into("<h", self.b, self.h["weights_offset"] + self.entry(t)[4] + 2 * index, value)

    def bytes(self):
        struct.pack_into("<I", self.b, 12, zlib.crc32(memoryview(self.b)[16:]))
        return bytes(self.b)


# ---------------------------------------------------------------------------------------------------------------
# Models built here: what a single edit of a small model cannot reach (a lot of work, a big window)
# ---------------------------------------------------------------------------------------------------------------

def _single(name, params, inputs, output, arena_pad=0):
    """A planned model of one op: inputs are (shape, data or None) -- None an int8 activation, else a constant."""
    tensors, operands = [], []
    for shape, data in inputs:
        dtype = np.int8 if data is None or np.asarray(data).dtype == np.int8 else np.int32
        tensors.append(Tensor(shape, dtype, 0.1, 0, data=None if data is None else np.asarray(data, dtype)))
        operands.append(len(tensors) - 1)
    tensors.append(Tensor(output, np.int8, 0.1, 0))
    model = Model(tensors, [Op(name, operands, [len(tensors) - 1], params)], [IO(0)], [IO(len(tensors) - 1)])
    planner.plan(model)
    return model


def _conv_params(**kw):
    p = dict(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_top=0, pad_left=0, input_offset=0,
             output_offset=0, act_min=-128, act_max=127)
    p.update(kw)
    return p


def _big_conv():
    """A convolution of 62 * 62 * 64 * 3 * 3 * 64 = 141.7 M multiply-accumulates, more than the 134.2 M allowed."""
    return _single("CONV_2D", _conv_params(), [((1, 64, 64, 64), None),
                                              ((64, 3, 3, 64), np.ones((64, 3, 3, 64), np.int8)),
                                              ((64,), np.zeros(64, np.int32)), ((1,), [1 << 30]), ((1,), [-8])],
                   (1, 62, 62, 64))


def _wide_depthwise():
    """A depthwise convolution with a 257x256 filter (65792 taps: its int32 sums could overflow)."""
    return _single("DEPTHWISE_CONV_2D", dict(_conv_params(), depth_multiplier=1),
                   [((1, 260, 256, 1), None), ((1, 257, 256, 1), np.ones((1, 257, 256, 1), np.int8)),
                    ((1,), [0]), ((1,), [1 << 30]), ((1,), [-8])], (1, 4, 1, 1))


def _big_pool():
    """An average pool over 2900x2900 positions: its int32 sums of 8.4 million int8 values could overflow."""
    return _single("AVERAGE_POOL_2D", dict(stride_h=1, stride_w=1, filter_h=2900, filter_w=2900, pad_top=0,
                                           pad_left=0, act_min=-128, act_max=127),
                   [((1, 2900, 2900, 1), None)], (1, 1, 1, 1))


def _deep_softmax():
    return _single("SOFTMAX", {"input_multiplier": 1 << 30, "input_left_shift": 20, "diff_min": -100},
                   [((1, 4096), None)], (1, 4096))


def _wide_resize():
    """A bilinear resize to a row of 40000 columns: beyond the 32767 its int32 positions allow."""
    return _single("RESIZE_BILINEAR", {"align_corners": 0, "half_pixel_centers": 0}, [((1, 1, 4, 1), None)],
                   (1, 1, 40000, 1))


def _deep_l2():
    """An L2 normalization of rows of 40000 values: their int32 sum of squares could overflow."""
    return _single("L2_NORMALIZATION", {"input_zero_point": 0}, [((1, 40000), None)], (1, 40000))


def _frontend():
    """TFLite Micro's micro_speech audio front-end (the Signal ops, state, the int32 ops), converted."""
    path = ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite"
    return convert(path.read_bytes(), path.name, measure_tflm=False)


def _behind(model, gap, room):
    """model (of one op) with its output `gap` bytes behind its input (tensor 0; the output is tensor 5) and `room`
    bytes to move the input further on (the planner leaves a model's input as it is)."""
    x, y = model.tensors[0], model.tensors[5]
    y.offset, x.offset = 0, gap
    model.arena_size = max(t.offset + t.nbytes for t in (x, y)) + room
    return model


def _behind_depthwise():
    """A 3x3 depthwise convolution (pad 1, stride 1) 2 rows (80 bytes: the rule's gap) behind its input."""
    return _behind(_single("DEPTHWISE_CONV_2D", dict(_conv_params(pad_top=1, pad_left=1), depth_multiplier=1),
                           [((1, 6, 5, 8), None), ((1, 3, 3, 8), np.ones((1, 3, 3, 8), np.int8)),
                            ((8,), np.zeros(8, np.int32)), ((1,), [1 << 30]), ((1,), [-8])], (1, 6, 5, 8)), 80, 80)


def _behind_pointwise():
    """A 1x1 convolution of 12 channels into 12, 4 pixels (48 bytes: the rule's gap) behind its input."""
    return _behind(_single("CONV_2D", _conv_params(), [((1, 4, 5, 12), None),
                                                       ((12, 1, 1, 12), np.ones((12, 1, 1, 12), np.int8)),
                                                       ((12,), np.zeros(12, np.int32)), ((1,), [1 << 30]),
                                                       ((1,), [-8])], (1, 4, 5, 12)), 48, 48)


SYNTHETIC = {"big_conv": _big_conv, "wide_depthwise": _wide_depthwise, "big_pool": _big_pool,
             "deep_softmax": _deep_softmax, "frontend": _frontend, "wide_resize": _wide_resize, "deep_l2": _deep_l2,
             "behind_depthwise": _behind_depthwise, "behind_pointwise": _behind_pointwise}


# ---------------------------------------------------------------------------------------------------------------
# The cases: (id, base model, edit, the words every backend must use). `layer` says who speaks first: "rules"
# (pml_check and picoml.validate), "loader" (picoml.pml's io table and metadata checks, all backends),
# "header" (picoml.pml.check_header), "host" (the rules of the ops only the host runs yet: picoml.validate on
# the host; the device refuses those ops as unknown).
# ---------------------------------------------------------------------------------------------------------------

def _same_count(shape, k, factor):
    """shape with dimension k multiplied by factor and another divided by it (the same element count)."""
    s = list(shape)
    for j in range(len(s)):
        if j != k and s[j] % factor == 0:
            s[k] *= factor
            s[j] //= factor
            return tuple(s)
    raise ValueError(shape)


def case(ident, model, edit, words, layer="rules"):
    """ident: the rule's name in lower case (host/picoml/rules.py), "param-<kind>" for a parameter range, or
    what the loader checks; after a "-", what the case shows."""
    return pytest.param(model, edit, words, layer, id=ident)


def _set(field, value):
    return lambda e: e.header(field, value)


def _param(op, name, value):
    return lambda e: e.param(op, name, value)


_SS = "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION"


def _dims_kw(e, t, shape):
    e.tensor(t, shape=shape)


CASES = [
    # the sections and the tensor table
    case("weights_section", "imu_gap", lambda e: e.header("weights_size", e.h["file_size"]),
         "corrupt .pml: the weights section must lie inside the file, 4-byte aligned (got "),
    case("tensors_section", "imu_gap", _set("n_tensors", 65535),
         "corrupt .pml: the tensor table must lie inside the file, 4-byte aligned (got 64)"),
    case("io_section", "imu_gap", lambda e: e.header("io_offset", e.h["file_size"] - 2),
         "corrupt .pml: the io table must lie inside the file, 4-byte aligned"),
    case("ops_section", "imu_gap", lambda e: e.header("ops_size", e.h["ops_size"] + 2),
         "corrupt .pml: the op table must lie inside the file, 4-byte aligned, in whole words"),
    case("metadata_section", "imu_gap", lambda e: e.header("metadata_size", e.h["file_size"]),
         "corrupt .pml: the metadata must lie inside the file"),
    case("dtype", "imu_gap", lambda e: e.tensor(1, dtype=7),
         "corrupt .pml: tensor 1: dtype must be 1 (int8), 2 (int16), 3 (int32), 4 (uint32) or 5 (uint64) (got 7)"),
    case("ndim", "imu_gap", lambda e: e.tensor(1, ndim=5), "corrupt .pml: tensor 1: ndim must be 0..4 (got 5)"),
    case("storage", "imu_gap", lambda e: e.tensor(1, storage=3),
         "corrupt .pml: tensor 1: storage must be 0 (arena), 1 (weights) or 2 (state) (got 3)"),
    # the hang of issue 10: 0 bytes, passing every other check, and a 2^31-iteration loop in the pooling kernels
    case("dims-issue10_hang", "imu_gap", lambda e: (e.tensor(6, ndim=4, nbytes=0), e.b.__setitem__(
        slice(e.h["tensors_offset"] + 36 * 6 + 12, e.h["tensors_offset"] + 36 * 6 + 28),
        struct.pack("<4I", 1, 2147483647, 0, 64))),
         "corrupt .pml: tensor 6: every dimension must be 1 or more (got 0)"),
    case("count", "imu_gap", lambda e: e.tensor(6, shape=(65536, 65536), nbytes=0),
         "corrupt .pml: tensor 6: the element count must be below 2^31 (got 2147483647)"),
    case("nbytes", "imu_gap", lambda e: e.tensor(6, nbytes=e.entry(6)[5] + 1),
         "corrupt .pml: tensor 6: nbytes must be the element count times the dtype's size (got 497)"),
    case("offset_align", "imu_gap", lambda e: e.tensor(6, offset=e.entry(6)[4] + 2),
         "corrupt .pml: tensor 6: offset must be a multiple of 4"),
    case("arena_overrun", "imu_gap", lambda e: e.tensor(6, offset=e.h["arena_size"]),
         "corrupt .pml: tensor 6: overruns its arena (offset + nbytes > arena_size) (got 880)"),
    case("weights_overrun", "imu_gap", lambda e: e.tensor(5, offset=(e.h["weights_size"] + 3) & ~3),
         "corrupt .pml: tensor 5: overruns the weights (offset + nbytes > weights_size)"),
    # the op table
    case("ops_end", "imu_gap", lambda e: e.header("n_ops", 9),
         "picoml: corrupt .pml: op 8: the op table ends inside this op (got 0)"),
    case("unknown_op", "imu_gap", lambda e: e.word(0, 0, 99),
         "picoml: unknown op code 99 (op 0): this .pml needs a newer picoml"),
    case("n_params", "imu_gap", lambda e: e.word(0, 3, 3),
         "picoml: op 0 (CONV_2D, layer '%s'): n_params is not this op's parameter count (got 3)"),
    case("n_inputs", "imu_gap", lambda e: e.word("SOFTMAX", 1, 2), "n_inputs is not this op's input count (got 2)"),
    case("n_outputs", "imu_gap", lambda e: e.word("SOFTMAX", 2, 2), "n_outputs is not this op's output count (got 2)"),
    case("operand", "imu_gap", lambda e: e.word("SOFTMAX", 4, 1000),
         "an operand is not a tensor of the table (input) (got 1000)"),
    case("output_storage", "imu_gap", lambda e: e.word(0, 4 + 5, e.operand(0, 1)),
         "an output must be in the arena, not the weights or state (output) (got 1)"),
    case("stray", "imu_gap", lambda e: e.header("ops_size", e.h["ops_size"] + 4),
         "corrupt .pml: stray words after the last op (got 1)"),
    # an operand's type
    case("operand_dtype", "imu_gap", lambda e: e.word(0, 4 + 2, e.operand(0, 1)), "bias must be int32 (got 1)"),
    case("operand_rank", "imu_gap", lambda e: e.word(0, 4, e.operand("FULLY_CONNECTED", 0)),
         "input must have rank 4 (got 2)"),
    case("operand_constant", "imu_gap", lambda e: e.word(0, 4 + 1, e.operand(0, 0)),
         "filter must be a constant (in the weights) (got 0)"),
    # a parameter's range, one per kind
    case("param-ge1", "imu_gap", _param(0, "stride_w", 0), "stride_w must be 1 or more (got 0)"),
    case("param-ge0", "imu_gap", _param(0, "pad_left", -1), "pad_left must be 0 or more (got -1)"),
    case("param-int8", "imu_gap", _param(0, "output_offset", 200), "output_offset must be -128..127 (got 200)"),
    case("param-input_offset", "imu_gap", _param(0, "input_offset", -128), "input_offset must be -127..128 (got -128)"),
    case("param-shift", "residual_add", _param("ADD", "output_shift", 40), "output_shift must be -31..31 (got 40)"),
    case("param-shift_left", "imu_gap", _param("SOFTMAX", "input_left_shift", 32),
         "input_left_shift must be 0..31 (got 32)"),
    case("param-act_max", "imu_gap", _param(0, "act_max", -129), "act_max must be act_min..127 (got -129)"),
    case("param-shift_2_30_issue10", "residual_add", _param("ADD", "input1_shift", 1 << 30),
         "input1_shift must be -31..31 (got 1073741824)"),      # the 128 MiB integer of issue 10
    # the work of one inference
    case("work", "big_conv", lambda e: None, "the model's work up to this op exceeds 134217728 inner-loop "
                                             "iterations (got 134217729)"),
    # each op's own rules
    case("filter_depth", "imu_gap", lambda e: e.tensor(5, shape=(8, 1, 5, 2)),
         "the filter's depth must equal the input's channels (got 2)"),
    case("batch", "imu_gap", lambda e: e.tensor(6, shape=(2, 1, 31, 8)),
         "the output's batch must equal the input's (got 2)"),
    case("out_channels", "imu_gap", lambda e: e.tensor(6, shape=(1, 1, 31, 16)),
         "the output's channels must equal the filter's (got 16)"),
    case("pool_channels", "imu_gap", lambda e: e.tensor(7, shape=(1, 1, 62, 4)),
         "the output's channels must equal the input's (got 4)"),
    case("bias_count", "imu_gap", lambda e: e.tensor(4, shape=(7,)),
         "bias must have one value per output channel (got 7)"),
    case("multipliers_count", "imu_gap", lambda e: e.tensor(2, shape=(2,)),
         "multipliers must have one value per output channel, or one (got 2)"),
    case("shifts_count", "imu_gap", lambda e: e.tensor(3, shape=(7,)),
         "shifts must have as many values as multipliers (got 7)"),
    case("shifts_range", "imu_gap", lambda e: e.constant(3, 5, 32), "shifts must be -31..31 (got 32)"),
    case("multipliers_range", "imu_gap", lambda e: e.constant(2, 0, -(1 << 31)),
         "multipliers must not be -2147483648 (got -2147483648)"),
    # the SIGSEGV of issue 10: ox * stride_w - pad_left wrapped, the im2col column was written out of bounds
    case("reach_w-issue10_stride", "imu_gap", _param(0, "stride_w", 1 << 30),
         "stride, dilation and filter width reach beyond 2^30 (got 2147483647)"),
    case("reach_h-dilation", "residual_add", _param("DEPTHWISE_CONV_2D", "dilation_h", 1 << 29),
         "stride, dilation and filter height reach beyond 2^30 (got 1073741832)"),
    case("out_h", "residual_add", _param(0, "pad_top", 3), "the output's height does not follow from the input, "
                                                          "filter, stride, dilation and pad_top (SAME or VALID) (got 8)"),
    case("out_w", "imu_gap", _param(0, "stride_w", 3), "the output's width does not follow from the input, filter, "
                                                      "stride, dilation and pad_left (SAME or VALID) (got 62)"),
    case("dw_filter", "residual_add", lambda e: e.tensor(20, shape=(2, 3, 3, 3)),
         "the filter's first dimension must be 1 (got 2)"),
    case("dw_channels", "residual_add", _param("DEPTHWISE_CONV_2D", "depth_multiplier", 2),
         "the filter's channels must equal the input's channels times depth_multiplier (got 6)"),
    case("dw_taps", "wide_depthwise", lambda e: None,
         "the filter must have 65536 taps or fewer (height x width) (got 65792)"),
    case("fc_depth", "imu_gap", lambda e: e.tensor(19, shape=(8, 32)),
         "the input's size must be a multiple of the weights' depth (got 16)"),
    case("fc_output", "imu_gap", lambda e: e.tensor(20, shape=(1, 15)),
         "the output's size must be the input's batches times the weights' units (got 15)"),
    case("pool_window", "big_pool", lambda e: None,
         "the window inside the input must have 2^23 positions or fewer (got 8410000)"),
    case("size", "relu_standalone", lambda e: e.tensor(1, shape=(1, 15)), "the output must have the input's size"),
    case("lut_size", "relu_standalone", lambda e: e.tensor(2, shape=(255,)), "the table must have 256 values (got 255)"),
    case("softmax_depth", "deep_softmax", lambda e: None, "the last dimension must be 4095 or less (got 4096)"),
    case("broadcast1", "residual_add", lambda e: e.tensor(16, shape=(1, 4, 16, 6)),
         "input1 does not broadcast to the output's shape (got 8)"),
    case("broadcast2", "residual_add", lambda e: e.word(5, 4 + 1, 3),
         "input2 does not broadcast to the output's shape (got 4)"),
    case("axis", "concat", _param("CONCATENATION", "axis", 4), "axis must be less than the output's rank (got 4)"),
    case("concat_rank", "concat", lambda e: e.tensor(17, shape=(16, 8, 7)),
         "every input must have the output's rank (got 4)"),
    case("concat_shape", "concat", lambda e: e.tensor(17, shape=(1, 16, 7, 8)),
         "every input must have the output's shape off the axis (got 8)"),
    case("concat_sum", "concat", lambda e: e.tensor(17, shape=(1, 15, 8, 7)),
         "the inputs' sizes along the axis must add up to the output's (got 16)"),
    case("mean_mask", "imu_gap", _param("MEAN", "axis_mask", 8), "axis_mask must name axes of the input only (got 8)"),
    case("mean_output", "imu_gap", _param("MEAN", "axis_mask", 4),
         "the output's size must be the input's with the masked axes reduced (got 16)"),
    case("pad_rank", "pad_gap", lambda e: e.tensor(1, shape=(11, 11, 3)), "the output must have the input's rank (got 3)"),
    case("pad_dims", "pad_gap", _param(0, "pad_after_1", 3),
         "the output's dimensions must be the input's plus pad_before and pad_after (got 11)"),
    # the ops of the audio front-end (format version 3)
    case("operand_state", "frontend", lambda e: e.word(_SS, 4 + 1, e.operand(_SS, 0)),
         "state must be a state tensor (storage 2) (got 0)"),
    case("param-shift64", "frontend", _param(_SS, "spectral_subtraction_bits", 64),
         "spectral_subtraction_bits must be 0..63 (got 64)"),
    case("param-bool", "frontend", _param(_SS, "clamping", 2), "clamping must be 0 or 1 (got 2)"),
    case("param-act_max32", "frontend", lambda e: (e.param("ADD_INT32", "act_min", 0),
                                                   e.param("ADD_INT32", "act_max", -5)),
         "act_max must be act_min or more (got -5)"),
    case("window_size", "frontend", lambda e: e.tensor(1, shape=(479,)),
         "the input's size must be a multiple of the window's (got 480)"),
    case("rfft_length", "frontend", _param("SIGNAL_RFFT", "fft_length", 500),
         "fft_length must be a power of two from 4 to 65536 (got 500)"),
    case("rfft_input", "frontend", _param("SIGNAL_RFFT", "fft_length", 256),
         "the input's last dimension must be fft_length or less (got 480)"),
    case("rfft_output", "frontend", lambda e: e.tensor(8, shape=(512,)),
         "the output's last dimension must be fft_length + 2 (got 512)"),
    case("rfft_rows", "frontend", lambda e: e.tensor(8, shape=(2, 514)),
         "the output must have as many rows as the input (got 1028)"),
    case("rfft_twiddles", "frontend", lambda e: e.tensor(6, shape=(255, 2)),
         "twiddles must have fft_length values and super_twiddles fft_length / 2 (got 510)"),
    case("energy_range", "frontend", _param("SIGNAL_ENERGY", "end_index", 300),
         "start_index..end_index must lie inside the output (got 300)"),
    case("energy_size", "frontend", lambda e: e.tensor(9, shape=(256,)),
         "the input must have two values (a complex one) per output value (got 514)"),
    case("fb_weights", "frontend", lambda e: e.tensor(17, shape=(315,)),
         "weights and unweights must have the same size (got 315)"),
    case("fb_channels", "frontend", lambda e: e.tensor(18, shape=(40,)),
         "each channel table must have one value more than the output (got 40)"),
    case("fb_band", "frontend", lambda e: e.constant16(20, 3, 400),
         "a channel's band must lie inside the input and the weights (starts and width 0 or more) (got 400)"),
    case("pcan_lut", "frontend", lambda e: e.tensor(26, shape=(124,)), "the gain table must have 125 values (got 124)"),
    case("slice_rank", "frontend", lambda e: e.tensor(11, shape=(1, 236)),
         "the output must have the input's rank (got 2)"),
    case("slice_stride", "frontend", _param("STRIDED_SLICE", "stride_3", 0), "strides must not be 0 (got 0)"),
    case("slice_begin", "frontend", _param("STRIDED_SLICE", "begin_3", 257), "begin must lie inside the input (got 257)"),
    case("slice_end", "frontend", _param("STRIDED_SLICE", "begin_3", 30),
         "the slice's last element must lie inside the input (got 265)"),
    # BATCH_MATMUL (the first in attention: [1, 6, 8] x [1, 6, 8] with adj_y into [1, 6, 6])
    case("matmul_depth", "attention", _param("BATCH_MATMUL", "adj_y", 0),
         "lhs and rhs must have the same depth (lhs's columns, rhs's rows, after adj_x and adj_y) (got 8)"),
    case("matmul_output", "attention", lambda e: e.tensor(e.output("BATCH_MATMUL"), shape=(1, 4, 9)),
         "the output must be the batches, lhs's rows and rhs's columns, with each batch dimension of lhs and rhs 1 "
         "or the output's (got 36)"),
    # ARG_MAX (the first in arg_max: [4, 5, 1] into [4, 1]), its output viewed as [2, 2]
    case("arg_shape", "arg_max", lambda e: e.tensor(e.output("ARG_MAX"), shape=(2, 2)),
         "the output must be the input without its middle axis, which must not be empty (got 2)"),
    case("l2_depth", "deep_l2", lambda e: None,
         "the last dimension must be 33025 or less (its sum of squares an int32) (got 40000)"),
    case("resize_size", "wide_resize", lambda e: None,
         "the input's and the output's height and width must be 32767 or less (got 40000)"),
    case("param-q31", "attention", _param("BATCH_MATMUL", "output_multiplier", -2147483648),
         "output_multiplier must not be -2147483648 (got -2147483648)"),
    case("param-div_shift", "softsign", _param("DIV", "output_shift", 6), "output_shift must be 7..22 (got 6)"),
    # LSTM (lstm_sequence: [1, 12, 6] into [1, 12, 16])
    case("lstm_output", "lstm_sequence", lambda e: e.tensor(e.output("LSTM"), shape=(1, 11, 16)),
         "the output must have the input's first two dimensions (got 11)"),
    case("lstm_weights", "lstm_sequence", lambda e: e.tensor(e.operand("LSTM", 1), shape=(64, 5)),
         "input_weights must be [4 x units, the input's features] and recurrent_weights [4 x units, units] (got 5)"),
    case("lstm_constants", "lstm_sequence", lambda e: e.tensor(e.operand("LSTM", 6), shape=(255,)),
         "bias must have 4 x units values, multipliers and shifts 8 each, sigmoid_table 256 (got 255)"),
    case("lstm_state", "lstm_sequence", lambda e: e.tensor(e.operand("LSTM", 7), shape=(15,)),
         "hidden_state and cell_state must have batches x units values (got 15)"),
    case("param-tanh_multiplier", "lstm_sequence", _param("LSTM", "tanh_multiplier", 24577),
         "tanh_multiplier must be 1..24576 (got 24577)"),
    # the fuzzed file of issue 10 on which the host and the device gave different bytes: SIGNAL_WINDOW's input
    # moved 16 bytes into its output, which the kernels then read after writing it (each in its own order)
    case("alias-window", "frontend", lambda e: e.tensor(0, offset=e.entry(2)[4] - 944),
         "op 0 (SIGNAL_WINDOW, layer 'signal_window'): output must not overlap the op's other operands in the "
         "arena; it overlaps tensor (got 0)"),
    # an in-place op's output exactly over its input passes (the planner's ADD_INT32s); 4 bytes off does not
    case("alias-in_place", "frontend", lambda e: e.tensor(33, offset=e.entry(31)[4] + 4),
         "output must not overlap the op's other operands in the arena; it overlaps tensor (got 31)"),
    # a convolution's output behind its input passes from the rule's gap on, in its steps (the planned models pass:
    # test_planned_behind), not one step closer, not between steps, not for another geometry
    case("alias-behind_depthwise", "behind_depthwise", lambda e: e.tensor(5, offset=e.entry(0)[4] - 40),
         "output must not overlap the op's other operands in the arena; it overlaps tensor (got 0)"),
    case("alias-behind_step", "behind_depthwise", lambda e: e.tensor(0, offset=100),
         "output must not overlap the op's other operands in the arena; it overlaps tensor (got 0)"),
    case("alias-behind_pointwise", "behind_pointwise", lambda e: e.tensor(5, offset=e.entry(0)[4] - 36),
         "output must not overlap the op's other operands in the arena; it overlaps tensor (got 0)"),
    case("alias-behind_stride", "behind_depthwise", lambda e: e.param(0, "stride_w", 2) or e.tensor(5, shape=(1, 6, 3, 8)),
         "output must not overlap the op's other operands in the arena; it overlaps tensor (got 0)"),
    # what the loader checks, for every backend
    case("no_output", "imu_gap", _set("n_outputs", 0), "a model needs an input and an output; this one has 1 inputs "
                                                      "and 0 outputs", "loader"),
    case("io_tensor", "imu_gap", lambda e: struct.pack_into("<H", e.b, e.h["io_offset"], 1000),
         "corrupt .pml: io entry 0 names tensor 1000 with edge type 1", "loader"),
    case("io_constant", "imu_gap", lambda e: struct.pack_into("<H", e.b, e.h["io_offset"], 5),
         "corrupt .pml: model input tensor 5 is not an activation (int8 where the edge is float32)", "loader"),
    case("metadata_json", "imu_gap", lambda e: e.b.__setitem__(e.h["metadata_offset"], ord("[")),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    case("metadata_labels", "imu_gap", lambda e: _labels(e), "corrupt .pml: metadata labels is not a list", "loader"),
    # where CPython's and MicroPython's JSON parsers differ (issue 10's differential fuzzing): both refuse
    case("metadata_json-nan", "imu_gap", lambda e: _metadata(e, b'{"x":NaN}'),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    case("metadata_json-infinite", "imu_gap", lambda e: _metadata(e, b'{"x":[1e999]}'),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    case("metadata_json-control", "imu_gap", lambda e: _metadata(e, b'{"labels":["a\x1fb"]}'),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    case("metadata_json-deep", "imu_gap", lambda e: _metadata(e, b'{"a":' * 17 + b'1' + b'}' * 17),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    case("metadata_json-very_deep", "imu_gap", lambda e: _metadata(e, b'{"a":' * 3000 + b'1' + b'}' * 3000),
         "corrupt .pml: metadata is not a JSON object", "loader"),
    # and the header, first
    case("crc", "imu_gap", lambda e: None, "corrupt .pml: CRC32 mismatch", "header"),
]


def _metadata(e, text):
    """The metadata replaced by `text`: in its place padded with spaces, or when longer, at the end of the file."""
    start, size = e.h["metadata_offset"], e.h["metadata_size"]
    if len(text) > size:
        e.header("metadata_offset", len(e.b))
        e.header("metadata_size", len(text))
        e.b += text
        e.header("file_size", len(e.b))
    else:
        e.b[start:start + size] = text + b" " * (size - len(text))


def _labels(e):
    """The metadata replaced by a JSON object of the same length whose "labels" is not a list."""
    start, size = e.h["metadata_offset"], e.h["metadata_size"]
    e.b[start:start + size] = b'{"labels":7' + b" " * (size - len(b'{"labels":7}')) + b"}"


def bad_file(model, edit, layer):
    e = Edit(base(model))
    edit(e)
    data = e.bytes()
    if layer == "header":        # a flipped byte after the CRC was computed
        data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    return data


ALL = [(p.id, *p.values) for p in CASES]


def test_every_rule_has_a_case():
    """Each rule of the table, each parameter kind but ANY, is shown by a case (the table's other rules reach only
    the C checks: the header's size and an arena smaller than the header says, see test_c_checks_alone)."""
    covered = {ident.split("-")[0].upper() for ident, *_ in ALL} | {"SHORT", "ARENA", "OK"}
    missing = {name for name, _ in rules.RULES} - covered
    assert not missing, missing
    kinds = {ident.split("-")[1].upper() for ident, *_ in ALL if ident.startswith("param-")}
    used = {rules.PARAM_KINDS[k][0] for op in rules.OPS for k in rules.param_kinds(op)}
    assert used - {"ANY"} <= kinds, (used - {"ANY"}) - kinds


def _words(model, words):
    """The words, with the layer of op 0 of the model where they name it."""
    return words % format.read(base(model)).ops[0].label if "%s" in words else words


@pytest.mark.parametrize("model,edit,words,layer", CASES)
def test_host_refuses(model, edit, words, layer):
    if model not in SYNTHETIC:
        assert format.validate(base(model)) is None        # the model edited is valid
    with pytest.raises(FormatError) as e:
        format.validate(bad_file(model, edit, layer))
    assert _words(model, words) in str(e.value)


@pytest.fixture(scope="module")
def lib():
    return c_runtime.load()


@pytest.mark.parametrize("model,edit,words,layer", [p for p in CASES if p.values[3] == "rules"])
def test_c_refuses_with_the_same_rule(lib, model, edit, words, layer):
    """pml_check reports the rule picoml.validate reports, with the same operand, parameter and value."""
    data = bad_file(model, edit, layer)
    status, error = c_runtime.check(lib, data, max(Edit(data).h["arena_size"], 4))
    assert status != 0
    message = format.device_module("refusal").message(data, error)
    assert _words(model, words) in message
    with pytest.raises(FormatError, match=None) as e:
        format.validate(data)
    assert str(e.value) == message


def test_c_checks_alone(lib):
    """The two rules only the C checks meet (the device's loader checks the header and sizes the arena first)."""
    data = base("imu_gap")
    arena = Edit(data).h["arena_size"]
    assert c_runtime.check(lib, data, arena)[0] == 0
    assert c_runtime.check(lib, data, arena - 4) == (-1, (-1, -1, rules.RULE["ARENA"], -1, arena - 4))
    assert c_runtime.check(lib, data[:40], arena) == (-1, (-1, -1, rules.RULE["SHORT"], -1, 40))


SANITIZED = r"""
import sys
sys.path[:0] = %(paths)r
from picoml.runtimes import c as c_runtime
lib = c_runtime.load("libpicoml_asan.so")
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    arena = max(int.from_bytes(data[24:28], "little"), 4) if len(data) >= 64 else 4
    status, error = c_runtime.check(lib, data, arena)
    print(path, status, error, flush=True)
print("done")
"""


def test_c_checks_under_sanitizers(tmp_path):
    """The same bad files through pml_check built with AddressSanitizer and UndefinedBehaviorSanitizer: every one
    refused, nothing read out of bounds, no undefined behaviour (the models they came from run, in
    test_c_conv.py's sanitized run and the fuzzer's C target)."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    libubsan = subprocess.run(["gcc", "-print-file-name=libubsan.so"], capture_output=True, text=True).stdout.strip()
    paths = []
    for ident, model, edit, words, layer in ALL:
        if layer == "rules":
            path = tmp_path / (ident + ".pml")
            path.write_bytes(bad_file(model, edit, layer))
            paths.append(path)
    script = tmp_path / "run.py"
    script.write_text(SANITIZED % {"paths": [str(ROOT / "tests"), str(ROOT / "host")]})
    env = dict(os.environ, LD_PRELOAD="%s %s" % (libasan, libubsan), ASAN_OPTIONS="detect_leaks=0",
               PYTHONMALLOC="malloc")
    out = subprocess.run([sys.executable, str(script), *map(str, paths)], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("done"), out.stderr[-3000:]
    refused = [line for line in out.stdout.splitlines() if line.split(" ")[1:2] in (["-1"], ["-2"], ["-3"])]
    assert len(refused) == len(paths), out.stdout


DEVICE_SCRIPT = """
import picoml
for path in sys.argv[2:]:
    try:
        picoml.load(path, backend=sys.argv[1])
        print(path, "|", "LOADED")
    except (ValueError, MemoryError) as e:
        print(path, "|", type(e).__name__, "|", e)
"""


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    files = {}
    for ident, model, edit, words, layer in ALL:
        path = folder / (ident + ".pml")
        path.write_bytes(bad_file(model, edit, layer))
        files[ident] = path
    return files


@pytest.mark.parametrize("backend", ["native", "viper", "python"])
def test_device_refuses_every_bad_file_with_the_host_words(bad_files, backend):
    """picoml.load with each backend in the unix port: a ValueError with the host's words, for every case."""
    out = run_script(DEVICE_SCRIPT, heapsize="48m", args=[backend] + [str(p) for p in bad_files.values()],
              natmod=True)
    got = {}
    for line in out.splitlines():
        path, _, rest = line.partition(" | ")
        got[pathlib.Path(path).stem] = rest
    for ident, model, edit, words, layer in ALL:
        if layer == "host":     # an op the device does not run yet: unknown to it
            assert got[ident].startswith("ValueError | picoml: unknown op code 13 (op 0)"), (ident, got[ident])
            continue
        with pytest.raises(FormatError) as e:
            format.validate(bad_files[ident].read_bytes())
        assert got[ident] == "ValueError | " + str(e.value), ident


@pytest.mark.parametrize("model, moves", [("behind_depthwise", (80, 120, 160)), ("behind_pointwise", (48, 60, 96))])
def test_planned_behind(lib, model, moves):
    """The host's and C's checks pass an output the rule's gap behind its input, and further on by whole steps
    (rows, pixels)."""
    e = Edit(base(model))
    for offset in moves:
        e.tensor(0, offset=offset)
        data = e.bytes()
        assert format.validate(data) is None
        assert c_runtime.check(lib, data, e.h["arena_size"])[0] == 0


def test_native_names_the_alignment():
    """A model in a buffer at an odd address: the native module says so (the Python backends read it anyway)."""
    blob = base("imu_gap")
    out = run_script("import picoml\nbuf = bytearray(1) + open(sys.argv[1], 'rb').read()\nview = memoryview(buf)[1:]\n"
              "for backend in ('native', 'python'):\n"
              "    try:\n        print(backend, picoml.load(view, backend).backend)\n"
              "    except ValueError as e:\n        print(backend, e)\n",
              args=[_write(blob)], natmod=True)
    lines = out.splitlines()
    assert lines[0].startswith("native picoml: model and arena must be apart and 4-byte aligned (alignment)")
    assert lines[1] == "python python"


def test_native_refuses_an_arena_over_the_model():
    """_picoml.Model given an arena that overlaps its model (one buffer, two views): the kernels would write over
    the model they run after its check (a segfault at invoke, found by a device-side audit); refused at load."""
    blob = base("imu_gap")
    n = (len(blob) + 3) & ~3
    out = run_script("import _picoml\nbuf = bytearray(open(sys.argv[1], 'rb').read()) + bytearray(%d)\n"
                     "mv = memoryview(buf)\n"
                     "for model, arena in ((mv[0:%d], mv[0:%d]), (mv[0:%d], mv[%d:]), (mv[0:%d], mv[%d:])):\n"
                     "    try:\n        _picoml.Model(model, arena).invoke()\n        print('ran')\n"
                     "    except ValueError as e:\n        print(e)\n"
                     % (n + 4096, len(blob), n + 4096, len(blob), n - 4, len(blob), n),
                     args=[_write(blob)], natmod=True)
    lines = out.splitlines()
    assert len(lines) == 3, out
    for line in lines[:2]:
        assert line.startswith("picoml: model and arena must be apart and 4-byte aligned (alignment)"), out
    assert lines[2] == "ran", out


def _write(blob):
    import tempfile
    f = tempfile.NamedTemporaryFile(suffix=".pml", delete=False)
    f.write(blob)
    f.close()
    return f.name
