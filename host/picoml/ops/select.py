"""Comparisons of an int8 activation with a constant (EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL),
the logical ops on their results (LOGICAL_NOT, LOGICAL_AND, LOGICAL_OR) and the SELECT_V2 / SELECT choosing
between that activation and constants: Keras's ReLU(threshold=...), tf.where(x > t, x, c). No op of their own.

TFLite Micro compares int8 values rescaled to a common scale (reference_ops::ComparisonWithScaling: each value
less its zero point, shifted left by 8, times its scale as a Q31 multiplier with QuantizeMultiplierSmallerThanOneExp,
rounded) into a bool tensor, and SELECT_V2 copies the chosen int8 values as they are. picoml keeps a comparison's
result as a predicate on the 256 values of the compared activation (Lowering.predicates; no tensor), combines
predicates on one activation through the logical ops, and writes the SELECT as one LUT of that activation. A
comparison result used any other way (a model output, another op's input) is refused, naming the tensor."""
import operator

import numpy as np

from ..fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from .lut import BYTE_VALUES, emit_lut
from .shape import RUN_TIME_INDICES

COMPARISONS = {"EQUAL": operator.eq, "NOT_EQUAL": operator.ne, "GREATER": operator.gt, "GREATER_EQUAL": operator.ge,
               "LESS": operator.lt, "LESS_EQUAL": operator.le}
HINT = "picoml runs a comparison of an int8 activation with a constant whose result only a SELECT_V2 (or a " \
        "logical op) uses, choosing between that activation and constants (Keras's ReLU(threshold=...), " \
        "tf.where(x > t, x, c))"


def _constant_value(t):
    """The one int8 value of a constant whose values are all equal (a scalar, broadcast), else None."""
    if t is None or t.data is None or t.dtype != np.int8 or t.data.size == 0:
        return None
    values = np.unique(t.data)
    return int(values[0]) if values.size == 1 else None


def _rescaled(ctx, op, values, t):
    """TFLite Micro's ComparisonWithScaling of int8 values of tensor t."""
    if not t.is_quantized or not 0 < t.scale < 1:
        ctx.fail(op, "tensor %r has scale %g: TFLite Micro compares int8 scales between 0 and 1" % (t.name, t.scale))
    multiplier, shift = quantize_multiplier(float(t.scale))
    return multiply_by_quantized_multiplier((np.asarray(values, np.int64) - t.zero_point) << 8, multiplier, shift)


def _bool_output(ctx, op):
    out = op.outputs[0]
    if out.dtype != np.bool_:
        ctx.fail(op, "its output %r is %s, not BOOL" % (out.name, out.type_name))
    return out


def lower_comparison(ctx, op):
    a, b = op.inputs[0], op.inputs[1] if len(op.inputs) > 1 else None
    out = _bool_output(ctx, op)
    for t in (a, b):
        if t is not None and t.data is None and t.dtype != np.int8:
            ctx.fail(op, "it compares the %s activation %r: picoml compares int8 activations (with a constant) "
                         "only; %s" % (t.type_name, t.name, RUN_TIME_INDICES))
    constant_a, constant_b = _constant_value(a), _constant_value(b)
    if (constant_a is None) == (constant_b is None) or b is None:
        ctx.fail(op, HINT)
    x, c = (b, a) if constant_a is not None else (a, b)
    if x.dtype != np.int8 or c.dtype != np.int8:
        ctx.fail(op, "it compares %s with %s; " % (x.type_name, c.type_name) + HINT)
    if tuple(out.shape) != tuple(x.shape):
        ctx.fail(op, "output %s is not the shape of the compared activation %s" % (list(out.shape), list(x.shape)))
    values = _rescaled(ctx, op, BYTE_VALUES, x)
    constant = _rescaled(ctx, op, [_constant_value(c)], c)[0]
    compare = COMPARISONS[op.name]
    ctx.predicates[out.index] = (x, compare(values, constant) if x is a else compare(constant, values))


def _predicate(ctx, op, t):
    if t is None or t.index not in ctx.predicates:
        ctx.fail(op, "its condition %r is not a comparison picoml folds; %s" % (t.name if t else None, HINT))
    return ctx.predicates[t.index]


def lower_logical(ctx, op):
    out = _bool_output(ctx, op)
    x, p = _predicate(ctx, op, op.inputs[0])
    if op.name == "LOGICAL_NOT":
        ctx.predicates[out.index] = (x, ~p)
        return
    y, q = _predicate(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None)
    if y.index != x.index:
        ctx.fail(op, "it combines comparisons of two activations (%r, %r); %s" % (x.name, y.name, HINT))
    ctx.predicates[out.index] = (x, p & q if op.name == "LOGICAL_AND" else p | q)


def select_table(table, x):
    """The LUT's function: the chosen int8 value for each value of the compared activation."""
    return table[np.asarray(x).view(np.uint8)]


def lower_select(ctx, op):
    if len(op.inputs) != 3:
        ctx.fail(op, "it takes a condition and two values")
    cond, a, b = op.inputs
    out = op.outputs[0]
    x, p = _predicate(ctx, op, cond)
    chosen = []
    for t in (a, b):
        if t is not None and t.index == x.index:
            chosen.append(BYTE_VALUES.astype(np.int64))
        elif _constant_value(t) is not None:
            chosen.append(np.full(256, _constant_value(t), np.int64))
        else:
            ctx.fail(op, "it chooses from %r, neither the compared activation %r nor a constant; %s"
                     % (t.name if t else None, x.name, HINT))
    if out.dtype != np.int8 or tuple(out.shape) != tuple(x.shape):
        ctx.fail(op, "output %s %s is not int8 of the compared activation's shape %s"
                 % (out.type_name, list(out.shape), list(x.shape)))
    table = np.where(p, chosen[0], chosen[1]).astype(np.int8)
    emit_lut(ctx, op, select_table, table, ctx.activation(x), ctx.activation(out))


LOWER = dict({name: lower_comparison for name in COMPARISONS},
             LOGICAL_NOT=lower_logical, LOGICAL_AND=lower_logical, LOGICAL_OR=lower_logical,
             SELECT_V2=lower_select, SELECT=lower_select)
REFERENCE = {}
SELF_CHECKED_OPS = frozenset(LOWER)     # bool tensors among their operands: the lowerings check every dtype
