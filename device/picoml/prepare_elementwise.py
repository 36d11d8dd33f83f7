# picoml.prepare_elementwise: the load-time half of the Python backends (viper and pure Python) for ADD, SUB,
# SQUARED_DIFFERENCE, MUL, DIV and LUT: their prepares, imported by picoml.prepare.family() for a model with one of
# these ops (the kernel interface and the helpers every family shares: picoml.prepare).
from .prepare import SIGNED, _broadcast_strides, mbqm, requant_pair, wrap32


# ---------------------------------------------------------------------------------------------------------
# LUT: out[i] = table[x[i]], the 256-entry table (a constant in the model, indexed by the input's byte) computed
# on the host. state = (table_buf, table_off, in_buf, in_off, out_buf, out_off, n)
# ---------------------------------------------------------------------------------------------------------

def prepare_lut(p, inputs, outputs, ctx):
    x, table, out = inputs[0], inputs[1], outputs[0]
    return (table.buf, table.off, x.buf, x.off, out.buf, out.off, out.size)


# ---------------------------------------------------------------------------------------------------------
# ADD, SUB and MUL with NumPy broadcasting (shapes right-aligned to 4-D).
# state = (kind, a_buf, a_off, a_strides, b_buf, b_off, b_strides, out_buf, out_off, out_shape4, flat, ta, tb,
#          rq, output_offset, act_min, act_max), rq = requant_pair(output_multiplier, output_shift)
# ADD: ta[u] / tb[u] = each input byte u already offset, shifted and rescaled; out = mbqm(ta + tb). SUB: ADD with
# tb negated.
# MUL: ta[u] / tb[u] = the input byte plus its offset; out = mbqm(ta * tb).
# ---------------------------------------------------------------------------------------------------------

def _prepare_binary(inputs, outputs):
    a, b, out = inputs[0], inputs[1], outputs[0]
    shape4 = out.shape4()
    flat = a.size == out.size and b.size == out.size
    return a, b, out, shape4, _broadcast_strides(a, shape4), _broadcast_strides(b, shape4), flat


def prepare_add(p, inputs, outputs, ctx, sign=1, kind=0):
    (in1_off, in2_off, out_off, left_shift, m1, s1, m2, s2, mo, so, act_min, act_max) = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs)
    ta = ctx.table((in1_off, left_shift, m1, s1, 1), lambda u: mbqm((SIGNED[u] + in1_off) << left_shift, m1, s1))
    tb = ctx.table((in2_off, left_shift, m2, s2, sign),
                   lambda u: wrap32(sign * mbqm((SIGNED[u] + in2_off) << left_shift, m2, s2)))
    return (kind, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


def prepare_sub(p, inputs, outputs, ctx):
    """ADD with the second input's rescaled values negated in its table (wrapped as C's int32: the sum then wraps
    to C's difference), after their rounding: exact."""
    return prepare_add(p, inputs, outputs, ctx, -1)


def prepare_squared_difference(p, inputs, outputs, ctx):
    """SUB's difference squared (kind 2 of run_binary)."""
    return prepare_add(p, inputs, outputs, ctx, -1, 2)


def prepare_mul(p, inputs, outputs, ctx, kind=1):
    in1_off, in2_off, out_off, mo, so, act_min, act_max = p
    a, b, out, shape4, sa, sb, flat = _prepare_binary(inputs, outputs)
    ta = ctx.table(in1_off, lambda u: SIGNED[u] + in1_off)
    tb = ctx.table(in2_off, lambda u: SIGNED[u] + in2_off)
    return (kind, a.buf, a.off, sa, b.buf, b.off, sb, out.buf, out.off, shape4, flat, ta, tb,
            requant_pair(mo, so), out_off, act_min, act_max)


def prepare_div(p, inputs, outputs, ctx):
    return prepare_mul(p, inputs, outputs, ctx, 3)     # MUL's params and state, kind 3


from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_ADD: prepare_add,
    _ops.OP_SUB: prepare_sub,
    _ops.OP_SQUARED_DIFFERENCE: prepare_squared_difference,
    _ops.OP_MUL: prepare_mul,
    _ops.OP_DIV: prepare_div,
    _ops.OP_LUT: prepare_lut,
}
del _ops
