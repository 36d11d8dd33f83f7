# picoml.prepare_pool: the load-time half of the Python backends (viper and pure Python) for AVERAGE_POOL_2D,
# MAX_POOL_2D and MEAN: their prepares, imported by picoml.prepare.family() for a model with one of these ops (the
# kernel interface and the helpers every family shares: picoml.prepare).
from .prepare import requant_pair


# ---------------------------------------------------------------------------------------------------------
# Pooling: state = (x_buf, x_off, N, H, W, C, out_buf, out_off, OH, OW, stride_h, stride_w, filter_h,
# filter_w, pad_top, pad_left, act_min, act_max)
# ---------------------------------------------------------------------------------------------------------

def prepare_pool(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    n, h, w, c = x.shape
    return (x.buf, x.off, n, h, w, c, out.buf, out.off, out.shape[1], out.shape[2]) + tuple(p)


# ---------------------------------------------------------------------------------------------------------
# MEAN over the axes in axis_mask. state = (x_buf, x_off, shape4, out_strides4, out_buf, out_off, out_size,
# count, input_zero_point, output_zero_point, rq, acc), rq = requant_pair(multiplier, shift)
# ---------------------------------------------------------------------------------------------------------

def prepare_mean(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    axis_mask, in_zp, out_zp, multiplier, shift = p
    ndim = len(x.shape)
    shape4 = x.shape4()
    lead = 4 - ndim
    reduced = [False] * 4
    for i in range(ndim):
        if axis_mask >> i & 1:
            reduced[lead + i] = True
    count = 1
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if reduced[i]:
            count *= shape4[i]
        else:
            strides[i] = s
            s *= shape4[i]
    acc = ctx.scratch("acc", out.size)
    return (x.buf, x.off, shape4, tuple(strides), out.buf, out.off, out.size, count, in_zp, out_zp,
            requant_pair(multiplier, shift), acc)


from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_AVERAGE_POOL_2D: prepare_pool,
    _ops.OP_MAX_POOL_2D: prepare_pool,
    _ops.OP_MEAN: prepare_mean,
}
del _ops
