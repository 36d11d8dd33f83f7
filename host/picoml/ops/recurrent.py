"""UNIDIRECTIONAL_SEQUENCE_LSTM (Keras's LSTM layer as TensorFlow's converter writes it): the lowering to the .pml
op LSTM and its numpy reference, TFLite Micro's integer LSTM (kernels/lstm_eval.h: int8 activations and weights,
int16 gates and cell state, int32 biases) bit for bit.

Per batch row and time step, with h the hidden state and c the cell state of the row (both kept from one run of
the model to the next, as TFLite Micro keeps its variable tensors):
  gate_g = act_g(sat16(FC(x, W_g) + FC(h, R_g)))      g = input, forget, cell, output; each FC into Q3.12 int16
  c = sat16(forget * c  +  input * cell)               two rescaled int16 products, then optionally clipped
  h = int8(tanh(c) * output)                           the hidden state's scale and zero point
act_g is sigmoid (the cell gate's: tanh), both TFLite's int16 functions interpolating one 256-entry table of
sigmoid. The output is h at every step.

The hidden state is kept as int16 h - zero_point: zero state bytes (a model's state after load and reset) are
then the zero point, TFLite Micro's reset value of an int8 variable tensor, and the recurrent FC takes it as is.
"""
import numpy as np

from ..fixedpoint import (multiply_by_quantized_multiplier, quantize_multiplier, round_half_away, wrap_int16,
                          wrap_int32)

GATES = ("input", "forget", "cell", "output")   # the order of the gates' rows in the .pml op's weights
_INPUT_WEIGHTS, _RECURRENT_WEIGHTS, _BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
_PEEPHOLES, _PROJECTION, _LAYER_NORMS = (9, 10, 11), (16, 17), (20, 21, 22, 23)
_HIDDEN_STATE, _CELL_STATE = 18, 19
STATE_INPUTS = {"UNIDIRECTIONAL_SEQUENCE_LSTM": (_HIDDEN_STATE, _CELL_STATE)}  # variable tensors the op reads

GATE_SCALE = 2.0 ** -12            # the FCs' int16 outputs: Q3.12, the sigmoid's and tanh's input
GATE_OUTPUT_SCALE = 2.0 ** -15     # the gates' int16 outputs: Q0.15
INT16_MIN, INT16_MAX = -32768, 32767
TANH_MULTIPLIER_MAX = 24576        # 3 << 13: times an int16 plus a rounding of up to 2^30, still an int32
_TANH = 4                          # the fused activation code of the cell gate's nonlinearity

# TFLite's sigmoid_table_uint16 (kernels/internal/common.h): sigmoid(i / 24) in unsigned 0.16 fixed point, as TFLite
# rounds it; TFLite's int16 LOGISTIC and TANH interpolate between its entries. The .pml op carries it less 32768
# (every entry is at least 32768) as an int16 constant.
SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535],
    np.int64)


# ---------------------------------------------------------------------------------------------------------------
# TFLite's int16 sigmoid and tanh (reference_integer_ops::Logistic and Tanh on int16), vectorised
# ---------------------------------------------------------------------------------------------------------------

def _interpolate(table, a, fraction_bits, saturated):
    """The table (the op's: less 32768) interpolated at a >= 0, 2^fraction_bits steps per entry; `saturated` from
    the last entry on."""
    table = np.asarray(table, np.int64) + 32768
    uh = np.minimum(a >> fraction_bits, 254)
    ua, ub = table[uh], table[uh + 1]
    value = (ua << fraction_bits) + (a & ((1 << fraction_bits) - 1)) * (ub - ua)
    return np.where(a >> fraction_bits >= 255, saturated, value)


def sigmoid16(x, table):
    """int16 Q3.12 -> int16 Q0.15 (TFLite's int16 Logistic with input multiplier 3 and shift 0, as the LSTM calls
    it). table: the sigmoid table less 32768, as the op carries it. Both functions store their result as an int16,
    as TFLite does (only a damaged table leaves the int16 range)."""
    v = np.asarray(x, np.int64) * 3
    result = _interpolate(table, np.abs(v), 9, 0x7FFF << 10)
    result = np.where(v >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return wrap_int16(result >> 10)


def tanh16(x, table, multiplier=3, shift=0):
    """int16 -> int16 Q0.15 (TFLite's int16 Tanh after its input scaling: (x * multiplier + rounding) >> shift)."""
    x = np.asarray(x, np.int64)
    v = (x * multiplier + ((1 << shift) >> 1)) >> shift
    result = _interpolate(table, np.abs(v), 8, 0xFFFF << 8)
    result = np.where(v >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return wrap_int16(result >> 8)


def tanh_scaling(cell_scale_power):
    """(multiplier, shift) of the cell state's tanh for a cell state scale of 2^cell_scale_power: TFLite Micro's
    lstm_internal::Tanh and the int16 Tanh's power-of-two case as one multiply and one rounding shift."""
    left_shift = 15 + cell_scale_power - 3
    if left_shift < 0:
        return 3, -left_shift
    return 3 << left_shift, 0


def _log2_rounded(x):
    """TFLite's CheckedLog2 result: log2 in float32 arithmetic, rounded half away from zero."""
    value = np.float32(np.log(np.float32(x))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    return int(round_half_away(float(value)))


# ---------------------------------------------------------------------------------------------------------------
# Lowering
# ---------------------------------------------------------------------------------------------------------------

def _constant(ctx, op, t, what, dtype, shape):
    if t is None or t.data is None:
        ctx.fail(op, "its %s must be a constant" % what)
    if t.dtype != dtype or tuple(t.shape) != tuple(shape):
        ctx.fail(op, "its %s %r is %s %s; the LSTM needs %s %s" % (
            what, t.name, t.type_name, list(t.shape), np.dtype(dtype).name, list(shape)))
    return t


def _weights(ctx, op, t, what, shape):
    _constant(ctx, op, t, what, np.int8, shape)
    if len(t.scales) != 1 or not t.scale > 0:
        ctx.fail(op, "its %s %r must be quantized with one positive scale (TFLite Micro's LSTM takes one)"
                 % (what, t.name))
    if t.zero_point != 0:
        ctx.fail(op, "its %s %r has a zero point of %d; int8 weights must be symmetric" % (what, t.name, t.zero_point))
    return t


def _requantization(ctx, op, real_multiplier):
    try:
        return quantize_multiplier(real_multiplier)
    except ValueError as e:
        ctx.fail(op, str(e))


def _int8_activation(ctx, op, t, what):
    if t.dtype != np.int8 or not t.is_quantized or not t.scale > 0 or not -128 <= t.zero_point <= 127:
        ctx.fail(op, "its %s %r must be int8, quantized (picoml runs TFLite Micro's int8 LSTM)" % (what, t.name))


def lower_lstm(ctx, op):
    ins = op.inputs
    if len(ins) != 24:
        ctx.fail(op, "it has %d inputs; TFLite Micro's LSTM takes 24" % len(ins))
    x, out = ins[0], op.outputs[0]
    hidden, cell = ins[_HIDDEN_STATE], ins[_CELL_STATE]
    variants = [("peephole", _PEEPHOLES), ("projection", _PROJECTION), ("layer normalization", _LAYER_NORMS)]
    for what, indices in variants:
        if any(ins[i] is not None for i in indices):
            ctx.fail(op, "an LSTM with %s: picoml runs the standard LSTM (Keras's LSTM layer), as TFLite Micro's "
                         "kernel does" % what)
    if any(ins[i] is None for i in _INPUT_WEIGHTS + _RECURRENT_WEIGHTS + _BIASES):
        ctx.fail(op, "an LSTM without an input gate or a bias (CIFG): picoml runs the standard LSTM, as TFLite "
                     "Micro's kernel does")
    if hidden is None or cell is None or hidden.data is not None or cell.data is not None:
        ctx.fail(op, "its hidden and cell states must be variable tensors")
    _int8_activation(ctx, op, x, "input")
    _int8_activation(ctx, op, out, "output")
    _int8_activation(ctx, op, hidden, "hidden state")
    if cell.dtype != np.int16 or not cell.is_quantized or not cell.scale > 0:
        ctx.fail(op, "its cell state %r is %s; TFLite Micro's int8 LSTM keeps a quantized int16 cell state"
                 % (cell.name, cell.type_name))
    if len(x.shape) != 3 or len(out.shape) != 3:
        ctx.fail(op, "input %s and output %s must be 3-D (batch, time, features)" % (list(x.shape), list(out.shape)))
    time_major = int(bool(op.options.get("TimeMajor", False)))
    steps, batches = x.shape[:2] if time_major else x.shape[1::-1]
    features, units = x.shape[2], out.shape[2]
    if tuple(out.shape[:2]) != tuple(x.shape[:2]) or units < 1 or steps < 1 or batches < 1 or features < 1:
        ctx.fail(op, "input %s does not fit output %s" % (list(x.shape), list(out.shape)))
    for t in (hidden, cell):
        if int(np.prod(t.shape)) != batches * units:
            ctx.fail(op, "state %r has shape %s; it needs %d values" % (t.name, list(t.shape), batches * units))
    activation = op.options.get("FusedActivationFunction", _TANH)
    if activation != _TANH:     # (a .tflite file cannot say sigmoid here: TFLite's activation codes stop at 5)
        ctx.fail(op, "the cell gate's activation (code %d) must be tanh, the only one TFLite Micro runs" % activation)

    w = [_weights(ctx, op, ins[i], "input weights of the %s gate" % g, (units, features))
         for g, i in zip(GATES, _INPUT_WEIGHTS)]
    r = [_weights(ctx, op, ins[i], "recurrent weights of the %s gate" % g, (units, units))
         for g, i in zip(GATES, _RECURRENT_WEIGHTS)]
    biases = [_constant(ctx, op, ins[i], "bias of the %s gate" % g, np.int32, (units,))
              for g, i in zip(GATES, _BIASES)]
    # each FC as TFLite Micro's CalculateOpDataFullyConnected makes it, into scale 2^-12
    pairs = [_requantization(ctx, op, float(x.scale) * float(t.scale) / GATE_SCALE) for t in w] + \
            [_requantization(ctx, op, float(hidden.scale) * float(t.scale) / GATE_SCALE) for t in r]
    # sum_i W[u, i] (x_i - zp) + bias = sum_i W[u, i] x_i + folded bias, modulo 2^32 too
    folded = [b.data.astype(np.int64) - t.data.astype(np.int64).sum(axis=1) * x.zero_point for t, b in zip(w, biases)]

    cell_power = _log2_rounded(cell.scale)
    tanh_multiplier, tanh_shift = tanh_scaling(cell_power)
    if not 1 <= tanh_multiplier <= TANH_MULTIPLIER_MAX or tanh_shift > 31:
        ctx.fail(op, "its cell state's scale %g is outside what TFLite Micro's integer tanh takes (2^-43..2^1)"
                 % cell.scale)
    cell_clip = float(op.options.get("CellClip", 0.0))
    quantized_clip = int(min(max(cell_clip / float(cell.scale), -32768.0), 32767.0)) if cell_clip > 0 else 0
    forget_cell = _requantization(ctx, op, GATE_OUTPUT_SCALE * float(cell.scale) / float(cell.scale))
    input_cell = _requantization(ctx, op, GATE_OUTPUT_SCALE * GATE_OUTPUT_SCALE / float(cell.scale))
    hidden_pair = _requantization(ctx, op, GATE_OUTPUT_SCALE * GATE_OUTPUT_SCALE / float(hidden.scale))

    from ..format import Tensor
    hidden_state = ctx.model.add_tensor(Tensor((batches * units,), np.int16, name=op.label + "/hidden_state",
                                               state=True))
    cell_state = ctx.model.add_tensor(Tensor((batches * units,), np.int16, name=op.label + "/cell_state",
                                             state=True))
    inputs = [ctx.activation(x),
              ctx.constant(np.concatenate([t.data for t in w]), op.label + "/input_weights"),
              ctx.constant(np.concatenate([t.data for t in r]), op.label + "/recurrent_weights"),
              ctx.constant(wrap_int32(np.concatenate(folded)).astype(np.int32), op.label + "/bias"),
              ctx.constant(np.array([m for m, _ in pairs], np.int32), op.label + "/multipliers"),
              ctx.constant(np.array([s for _, s in pairs], np.int32), op.label + "/shifts"),
              ctx.constant((SIGMOID_TABLE - 32768).astype(np.int16), op.label + "/sigmoid_table"),
              hidden_state, cell_state]
    params = {"time_major": time_major, "hidden_zero_point": hidden.zero_point,
              "forget_multiplier": forget_cell[0], "forget_shift": forget_cell[1],
              "input_multiplier": input_cell[0], "input_shift": input_cell[1],
              "hidden_multiplier": hidden_pair[0], "hidden_shift": hidden_pair[1],
              "tanh_multiplier": tanh_multiplier, "tanh_shift": tanh_shift, "cell_clip": quantized_clip}
    ctx.emit("LSTM", inputs, [ctx.activation(out)], params, op)


# ---------------------------------------------------------------------------------------------------------------
# Reference
# ---------------------------------------------------------------------------------------------------------------

def _sat16(x):
    return np.clip(x, INT16_MIN, INT16_MAX)


def _fc16(acc, multiplier, shift):
    return _sat16(multiply_by_quantized_multiplier(wrap_int32(acc), multiplier, shift))


def lstm_step(p, x, h, c, weights, recurrent, bias, multipliers, shifts, table):
    """One time step of every batch row: x int8 [rows, features], h (int16, h - zero point) and c int16 [rows,
    units], updated in place; returns the int8 hidden state [rows, units]."""
    units = h.shape[1]
    in_acc = x.astype(np.int64) @ weights.astype(np.int64).T + bias.astype(np.int64)
    rec_acc = h.astype(np.int64) @ recurrent.astype(np.int64).T
    gates = []
    for g in range(4):
        cols = slice(g * units, (g + 1) * units)
        pre = _sat16(_fc16(in_acc[:, cols], multipliers[g], shifts[g]) +
                     _fc16(rec_acc[:, cols], multipliers[4 + g], shifts[4 + g]))
        gates.append(tanh16(pre, table) if GATES[g] == "cell" else sigmoid16(pre, table))
    input_gate, forget_gate, cell_gate, output_gate = gates
    kept = _sat16(multiply_by_quantized_multiplier(forget_gate * c.astype(np.int64), p["forget_multiplier"],
                                                   p["forget_shift"]))
    added = _sat16(multiply_by_quantized_multiplier(input_gate * cell_gate, p["input_multiplier"], p["input_shift"]))
    new_c = _sat16(kept + added)
    if p["cell_clip"] > 0:
        new_c = np.clip(new_c, -p["cell_clip"], p["cell_clip"])
    hidden = multiply_by_quantized_multiplier(tanh16(new_c, table, p["tanh_multiplier"], p["tanh_shift"]) *
                                              output_gate, p["hidden_multiplier"], p["hidden_shift"])
    hidden = np.clip(hidden + p["hidden_zero_point"], -128, 127)
    c[:] = new_c
    h[:] = hidden - p["hidden_zero_point"]
    return hidden.astype(np.int8)


def reference_lstm(op, inputs, outputs):
    x, weights, recurrent, bias, multipliers, shifts, table, h, c = inputs
    p = op.params
    out_shape = outputs[0].shape
    units = out_shape[2]
    # batch rows are independent: time-major [steps, batches, ...] runs step by step over all rows
    xs = x if p["time_major"] else np.swapaxes(x, 0, 1)
    h2, c2 = h.reshape(-1, units), c.reshape(-1, units)
    hs = np.empty((xs.shape[0], xs.shape[1], units), np.int8)
    for t in range(xs.shape[0]):
        hs[t] = lstm_step(p, xs[t], h2, c2, weights, recurrent, bias, multipliers.astype(np.int64),
                          shifts.astype(np.int64), table)
    out = hs if p["time_major"] else np.swapaxes(hs, 0, 1)
    return [np.ascontiguousarray(out).reshape(out_shape)]


LOWER = {"UNIDIRECTIONAL_SEQUENCE_LSTM": lower_lstm}
REFERENCE = {"LSTM": reference_lstm}
INTEGER_OPS = frozenset(LOWER)      # an int16 cell state among its operands: the lowering checks the dtypes
