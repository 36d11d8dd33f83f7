# picoml.prepare_layout: the load-time half of the Python backends (viper and pure Python) for CONCATENATION,
# STRIDED_SLICE, PAD, RESIZE_BILINEAR, ARG_MAX and BATCH_MATMUL: their prepares, imported by picoml.prepare.family()
# for a model with one of these ops (the kernel interface and the helpers every family shares: picoml.prepare).
from .prepare import _prod


# ---------------------------------------------------------------------------------------------------------
# CONCATENATION, any one dtype: state = (parts, outer, out_buf, out_off, out_chunk) with parts = ((buf, off,
# chunk), ...), chunks in bytes
# ---------------------------------------------------------------------------------------------------------

# STRIDED_SLICE: any one dtype, byte copies. state = (x_buf, out_buf, (first, out_off, size, D0, D1, D2, D3, s0,
# s1, s2, s3)): output value (i0, i1, i2, i3) is the `size` bytes at first + i0 s0 + i1 s1 + i2 s2 + i3 s3.
def prepare_strided_slice(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    size = out.nbytes // out.size
    a = x.shape4()
    strides = (a[1] * a[2] * a[3], a[2] * a[3], a[3], 1)
    first = x.off
    steps = []
    for d in range(4):
        first += size * p[d] * strides[d]
        steps.append(size * p[4 + d] * strides[d])
    return (x.buf, out.buf, (first, out.off, size) + tuple(out.shape4()) + tuple(steps))


def prepare_concatenation(p, inputs, outputs, ctx):
    out = outputs[0]
    axis = p[0]
    size = out.nbytes // out.size
    outer = _prod(out.shape[:axis])
    parts = []
    total = 0
    for t in inputs:
        chunk = _prod(t.shape[axis:]) * size
        parts.append((t.buf, t.off, chunk))
        total += chunk
    return (tuple(parts), outer, out.buf, out.off, total)


# ---------------------------------------------------------------------------------------------------------
# PAD: state = (x_buf, x_off, in_shape4, out_buf, out_off, out_shape4, before4, pad_byte)
# ---------------------------------------------------------------------------------------------------------

def prepare_pad(p, inputs, outputs, ctx):
    x, out = inputs[0], outputs[0]
    return (x.buf, x.off, x.shape4(), out.buf, out.off, out.shape4(), tuple(p[0:4]), p[8] & 0xFF)


def resize_axis(out, size, align, half):
    """RESIZE_BILINEAR along one axis: per output position (first, second input position, distance past the first
    in 1/1024ths), as picoml.ops.resize.axis_positions on the host."""
    scale = ((1 << 10) * size + (out >> 1)) // out
    if align and out > 1:
        scale = ((1 << 10) * (size - 1) + ((out - 1) >> 1)) // (out - 1)
    positions = []
    for v in range(out):
        s = v * scale + ((scale >> 1) - 512 if half else 0)
        first = s >> 10 if s >= 0 else -((-s) >> 10)
        first = 0 if first < 0 else (size - 1 if first > size - 1 else first)
        second = (s + 1023) >> 10 if s + 1023 >= 0 else -((-s - 1023) >> 10)
        positions.append((first, size - 1 if second > size - 1 else second, s - (first << 10)))
    return tuple(positions)


def prepare_resize_bilinear(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, N, H, W, C, out_buf, out_off, rows, cols): rows and cols from resize_axis."""
    x, out = inputs[0], outputs[0]
    align, half = p
    n, h, w, c = x.shape4()
    oh, ow = out.shape4()[1:3]
    return (x.buf, x.off, n, h, w, c, out.buf, out.off, resize_axis(oh, h, align, half),
            resize_axis(ow, w, align, half))


def prepare_arg_max(p, inputs, outputs, ctx):
    """state = (x_buf, x_off, outer, n, inner, out_buf, out_off, flip): the raw bytes ^ flip order as the int8
    values (flip 0x80) or in reverse (0x7F, ARG_MIN)."""
    x, out = inputs[0], outputs[0]
    outer, n, inner = x.shape
    return (x.buf, x.off, outer, n, inner, out.buf, out.off, 0x7F if p[0] else 0x80)



def prepare_batch_matmul(p, inputs, outputs, ctx):
    """state = (lhs_buf, rhs_buf, out_buf, out_off, matrices, rows, cols, depth, lhs row step, lhs k step, rhs
    column step, rhs k step, lhs_offset, rhs_offset, multiplier, shift, output_offset, act_min, act_max); matrices:
    per output matrix the byte offsets of its lhs and rhs matrices (the batch axes broadcast)."""
    a, b, out = inputs[0], inputs[1], outputs[0]
    lo, ro, ooff, mo, so, act_min, act_max, adj_x, adj_y = p
    sa, sb, o = a.shape4(), b.shape4(), out.shape4()
    rows, cols = o[2], o[3]
    depth = sa[2] if adj_x else sa[3]
    mats = []
    for b0 in range(o[0]):
        for b1 in range(o[1]):
            ia = ((b0 if sa[0] > 1 else 0) * sa[1] + (b1 if sa[1] > 1 else 0)) * rows * depth
            ib = ((b0 if sb[0] > 1 else 0) * sb[1] + (b1 if sb[1] > 1 else 0)) * depth * cols
            mats.append((a.off + ia, b.off + ib))
    return (a.buf, b.buf, out.buf, out.off, tuple(mats), rows, cols, depth, 1 if adj_x else depth,
            rows if adj_x else 1, depth if adj_y else 1, 1 if adj_y else cols, lo, ro, mo, so, ooff, act_min, act_max)


from . import _ops  # noqa: E402

PREPARES = {
    _ops.OP_CONCATENATION: prepare_concatenation,
    _ops.OP_STRIDED_SLICE: prepare_strided_slice,
    _ops.OP_PAD: prepare_pad,
    _ops.OP_RESIZE_BILINEAR: prepare_resize_bilinear,
    _ops.OP_ARG_MAX: prepare_arg_max,
    _ops.OP_BATCH_MATMUL: prepare_batch_matmul,
}
del _ops
