"""Five-dimensional tensors inside a model, folded to four before lowering (the format holds at most four). Keras
3's GroupNormalization views [N, H, W, C] as [N, H, W, groups, C / groups] for its MEAN over (H, W, C / groups) and
the element-wise arithmetic around it; TFLite Micro runs that. Merging two neighbouring axes of every 5-D tensor
changes no value an op computes when, for every op that touches one, the two axes behave as one: both reduced or
both kept by a MEAN or SUM, both broadcast or neither in an element-wise op, and anything for a reshape or a
function of one value. The first such pair is merged (a constant operand of lower rank is padded to five axes and
merged with the others); a model with no such pair, a 5-D model input or output, or a 5-D tensor any other op
touches is left as it is, and the lowering refuses it as before."""
import copy

import numpy as np

from .format import MAX_DIMS
from .ops.float_island import FUNCTIONS
from .ops.mean import resolve_axes

RANK = MAX_DIMS + 1
VIEW_OPS = frozenset(("RESHAPE", "SQUEEZE", "EXPAND_DIMS"))
BROADCAST_OPS = frozenset(("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"))
ONE_VALUE_OPS = frozenset(("QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1",
                           "RELU_0_TO_1", "LEAKY_RELU", "HARD_SWISH", "ABS", "RSQRT", "ELU")) | frozenset(FUNCTIONS)
REDUCE_OPS = frozenset(("MEAN", "SUM"))


def _padded(shape):
    return (1,) * (RANK - len(shape)) + tuple(shape)


def _merged(shape, i):
    s = _padded(shape)
    return s[:i] + (s[i] * s[i + 1],) + s[i + 2:]


def _reduced_axes(op):
    axes_t = op.inputs[1] if len(op.inputs) > 1 else None
    if axes_t is None or axes_t.data is None:
        return None
    return resolve_axes(axes_t.data, len(op.inputs[0].shape))


def _mergeable(op, i):
    """Whether op computes the same values with axes i and i + 1 of its 5-D tensors merged."""
    if op.name in VIEW_OPS:
        return True
    if not op.inputs or not op.outputs or op.inputs[0] is None or op.outputs[0] is None:
        return False        # a damaged op: left as it is, for its lowering to refuse by name
    tensors = [t for t in op.inputs + op.outputs if t is not None]
    if op.name in ONE_VALUE_OPS:
        return len({tuple(t.shape) for t in tensors}) == 1
    if op.name in BROADCAST_OPS:
        out = op.outputs[0]
        if len(out.shape) != RANK:
            return False
        for t in op.inputs:
            if t is None or (len(t.shape) < RANK and t.data is None):
                return False
            s = _padded(t.shape)      # (an axis where the output has 1 goes with either kind of the other)
            if 1 not in (out.shape[i], out.shape[i + 1]) and \
                    (s[i] == out.shape[i]) != (s[i + 1] == out.shape[i + 1]):
                return False          # one axis broadcast, the other not
        return True
    if op.name in REDUCE_OPS:
        axes = _reduced_axes(op)
        return axes is not None and len(op.inputs[0].shape) == RANK and (i in axes) == (i + 1 in axes)
    return False


def _merge(op, i, high):
    """Fold axes i, i + 1 of op's operands: 5-D tensors in place (every op then sees them folded), a lower-rank
    constant of an element-wise op as a copy of its own, a reduction's axes remapped in a copy."""
    if op.name in BROADCAST_OPS:
        op.inputs = [t if t.index in high else _folded_constant(t, i) for t in op.inputs]
    if op.name in REDUCE_OPS:
        axes = _reduced_axes(op)
        kept = [a - (a > i) for a in axes if a != i + 1]
        axes_t = copy.copy(op.inputs[1])
        axes_t.data = np.array(kept, np.int32)
        axes_t.shape = (len(kept),)
        op.inputs = [op.inputs[0], axes_t] + list(op.inputs[2:])


def _folded_constant(t, i):
    folded = copy.copy(t)
    folded.shape = _merged(t.shape, i)
    folded.data = np.ascontiguousarray(t.data).reshape(folded.shape)
    return folded


def fold_high_ranks(ops, inputs, outputs):
    """Merge two neighbouring axes of every 5-D tensor of the parsed graph where that changes nothing (the module's
    docstring); the TfliteTensor and TfliteOp objects are updated in place."""
    high = {t.index: t for op in ops for t in op.inputs + op.outputs if t is not None and len(t.shape) == RANK}
    if not high or any(t.index in high for t in list(inputs) + list(outputs)):
        return
    touching = [op for op in ops if any(t is not None and t.index in high for t in op.inputs + op.outputs)]
    for i in range(RANK - 1):
        if all(_mergeable(op, i) for op in touching):
            for op in touching:
                _merge(op, i, high)
            for t in high.values():
                t.shape = _merged(t.shape, i)
                if t.data is not None:
                    t.data = np.ascontiguousarray(t.data).reshape(t.shape)
            return
