# picoml.prepare_softmax: the load-time half of the Python backends (viper and pure Python) for SOFTMAX, LOG_SOFTMAX
# and L2_NORMALIZATION: their prepares, imported by picoml.prepare.family() for a model with one of these ops (the
# kernel interface and the helpers every family shares: picoml.prepare).
from array import array

from .prepare import INT32_MAX, _rescale, mbqm, rdbp, srdhm, table32, wrap32


# gemmlowp's exp_on_negative_values, for SOFTMAX's and LOG_SOFTMAX's tables
def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbp(x4, 2)
    poly = rdbp(wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a, integer_bits):
    """gemmlowp exp_on_negative_values: exp(a) in Q0.31 for a <= 0 with `integer_bits` integer bits."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = wrap32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(_rescale(a_mod, integer_bits, 0))
    remainder = wrap32(a_mod - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            if remainder & (1 << (fractional_bits + exponent)):
                result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        return INT32_MAX
    return result



# ---------------------------------------------------------------------------------------------------------
# SOFTMAX over the last axis. exp of each (x - row max) comes from a 256-entry table made at load.
# state = (x_buf, x_off, out_buf, out_off, rows, depth, max_diff, exps); exps[d] = exp(-d) in Q0.31
# ---------------------------------------------------------------------------------------------------------

def prepare_log_softmax(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, out_buf, out_off, rows, depth, the diffs' Q5.26 values and their exponentials in
    Q12.19 by -diff (0..255), divisor, divisor shift, diff_min)"""
    x, out = inputs[0], outputs[0]
    multiplier, left_shift, divisor, divisor_shift, diff_min = p
    rows, depth = x.shape
    scaled = table32(lambda d: mbqm(-d, multiplier, left_shift))
    exps = table32(lambda d: rdbp(exp_on_negative_values(scaled[d], 5), 12))
    return (x.buf, x.off, out.buf, out.off, rows, depth, scaled, exps, divisor, divisor_shift, diff_min)


def prepare_softmax(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    multiplier, left_shift, diff_min = p
    depth = x.shape[-1] if x.shape else 1
    # exps[d] = exp(diff) for diff = -d
    exps = table32(lambda d: exp_on_negative_values(srdhm(wrap32((-d) << left_shift), multiplier), 5))
    # valid: diff >= diff_min, i.e. d <= -diff_min
    max_diff = -diff_min
    return (x.buf, x.off, out.buf, out.off, x.size // depth if depth else 0, depth, max_diff,
            exps)



def prepare_l2_normalization(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, rows, depth, zero point, out_buf, out_off, a row's multiplier and shift)"""
    x, out = inputs[0], outputs[0]
    rows, depth = x.shape
    return (x.buf, x.off, rows, depth, p[0], out.buf, out.off, array("i", (0, 0)))


from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_SOFTMAX: prepare_softmax,
    _ops.OP_LOG_SOFTMAX: prepare_log_softmax,
    _ops.OP_L2_NORMALIZATION: prepare_l2_normalization,
}
del _ops
