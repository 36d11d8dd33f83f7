"""RESIZE_BILINEAR: lowering and numpy reference, TFLite Micro's int8 arithmetic (ResizeBilinearInteger): per output
row and column the two nearest input positions and the distance past the first in 1/1024ths (scales in 1/1024ths,
rounded), the four products summed in 1/2^20ths and rounded half away from zero, on the raw int8 values (TFLite
Micro keeps the input's quantization whatever the output's)."""
import numpy as np


def lower_resize_bilinear(ctx, op):
    x, out = op.inputs[0], op.outputs[0]
    size_t = op.inputs[1] if len(op.inputs) > 1 else None
    if size_t is None or size_t.data is None:
        ctx.fail(op, "the size must be a constant")
    size = [int(v) for v in np.asarray(size_t.data).reshape(-1)]
    if len(x.shape) != 4 or len(size) != 2 or list(out.shape) != [x.shape[0]] + size + [x.shape[3]] or min(size) < 1:
        ctx.fail(op, "output %s is not input %s resized to %s" % (list(out.shape), list(x.shape), size))
    if max(list(x.shape[1:3]) + size) > 32767:
        ctx.fail(op, "sizes %s and %s: picoml resizes up to 32767 rows and columns" % (list(x.shape[1:3]), size))
    align, half = int(bool(op.options.get("AlignCorners", False))), int(bool(op.options.get("HalfPixelCenters", False)))
    if align and half:
        ctx.fail(op, "align_corners and half_pixel_centers together (TFLite Micro refuses them)")
    for axis, what in ((0, "rows"), (1, "columns")):
        if _toward_zero(_scaled_positions(size[axis], x.shape[1 + axis], align, half), 10).max() >= x.shape[1 + axis]:
            ctx.fail(op, "%d %s resized to %d: TFLite Micro's scales reach past the input there and its kernel reads "
                     "beyond the tensor (bytes no one can match); a size 2, 3, 4, 7 or 8 times the input's "
                     "converts" % (x.shape[1 + axis], what, size[axis]))
    ctx.emit("RESIZE_BILINEAR", [ctx.activation(x)], [ctx.activation(out)],
             {"align_corners": align, "half_pixel_centers": half}, op)


def _toward_zero(a, shift):
    """C's a / 2^shift (truncating toward zero) of int64 arrays."""
    return np.sign(a) * (np.abs(a) >> shift)


def _scaled_positions(out_size, in_size, align, half):
    """Each output position along one axis in 1/1024ths of an input position, as TFLite Micro computes it."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    scaled = np.arange(out_size, dtype=np.int64) * scale
    return scaled + (scale // 2 - (1 << 9) if half else 0)


def axis_positions(out_size, in_size, align, half):
    """(first, second, distance past the first in 1/1024ths) of each output position along one axis."""
    scaled = _scaled_positions(out_size, in_size, align, half)
    # (the first kept inside the input, for the kernels' safety: the converter refuses the sizes where it is not)
    first = np.minimum(np.maximum(_toward_zero(scaled, 10), 0), in_size - 1)
    second = np.minimum(_toward_zero(scaled + (1 << 10) - 1, 10), in_size - 1)
    return first, second, scaled - (first << 10)


def reference_resize_bilinear(op, inputs, outputs):
    x, = inputs
    p = op.params
    _, h, w, _ = x.shape
    _, oh, ow, _ = outputs[0].shape
    y0, y1, fy = axis_positions(oh, h, p["align_corners"], p["half_pixel_centers"])
    x0, x1, fx = axis_positions(ow, w, p["align_corners"], p["half_pixel_centers"])
    v = x.astype(np.int64)
    wy0, wy1 = ((1 << 10) - fy)[:, None, None], fy[:, None, None]
    wx0, wx1 = ((1 << 10) - fx)[None, :, None], fx[None, :, None]
    total = (v[:, y0][:, :, x0] * wy0 * wx0 + v[:, y1][:, :, x0] * wy1 * wx0 +
             v[:, y0][:, :, x1] * wy0 * wx1 + v[:, y1][:, :, x1] * wy1 * wx1)
    total += np.where(total > 0, 1 << 19, -(1 << 19))
    return [_toward_zero(total, 20).astype(np.int8)]


LOWER = {"RESIZE_BILINEAR": lower_resize_bilinear}
REFERENCE = {"RESIZE_BILINEAR": reference_resize_bilinear}
