"""Ops that move bytes without arithmetic: RESHAPE / SQUEEZE / EXPAND_DIMS (views sharing their input's bytes,
no op emitted), CONCATENATION and PAD; SPLIT, SPLIT_V, UNPACK, PACK, GATHER, TRANSPOSE, TILE,
RESIZE_NEAREST_NEIGHBOR, DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, BROADCAST_TO,
GATHER_ND and REVERSE_V2 as STRIDED_SLICE and CONCATENATION ops (and a PAD)."""
import numpy as np

from ..format import MAX_DIMS, MAX_OPERANDS, Tensor
from .common import FUSED_ACTIVATIONS
from .elementwise import requantize, requantize_params
from .lut import emit_lut

# a table looked up at indices the model computes: Keras's Embedding on integer inputs
RUN_TIME_INDICES = "a table looked up at indices the model computes at run time (Keras's Embedding on integer " \
                   "inputs) does not convert: picoml gathers at constant indices only"


def lower_view(ctx, op):
    input_t, out = op.inputs[0], op.outputs[0]
    if int(np.prod(input_t.shape)) != int(np.prod(out.shape)):
        ctx.fail(op, "cannot view %s as %s" % (list(input_t.shape), list(out.shape)))
    if input_t.data is not None:
        ctx.constant(input_t.data.reshape(out.shape), out.name, out.scale, out.zero_point, key=out.index)
        return
    if (input_t.scale, input_t.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "a reshape that changes quantization parameters is not supported")
    ctx.alias(out, input_t)


def lower_concatenation(ctx, op):
    out = op.outputs[0]
    rank = len(out.shape)
    axis = op.options.get("Axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        ctx.fail(op, "axis %d is out of range for rank %d" % (op.options.get("Axis", 0), rank))
    if FUSED_ACTIVATIONS.get(op.options.get("FusedActivationFunction", 0)) != "NONE":
        ctx.fail(op, "a fused activation on CONCATENATION is not supported")
    inputs = []
    for t in op.inputs:
        if len(t.shape) != rank or any(t.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            ctx.fail(op, "input %s does not fit output %s on axis %d" % (list(t.shape), list(out.shape), axis))
        index = ctx.activation(t)
        if t.dtype != out.dtype:
            ctx.fail(op, "input %r is %s and the output %s" % (t.name, t.type_name, out.type_name))
        if (t.scale, t.zero_point) != (out.scale, out.zero_point) and out.dtype != np.int8:
            ctx.fail(op, "%s inputs of a quantization other than the output's" % out.type_name)
        if (t.scale, t.zero_point) != (out.scale, out.zero_point):
            # TFLite rescales in float here; TFLite Micro refuses. picoml requantizes in fixed point first.
            requantized = ctx.temporary(t.shape, out.scale, out.zero_point, t.name + "/requantized")
            emit_lut(ctx, op, requantize, requantize_params(t, out), index, requantized)
            index = requantized
        inputs.append(index)
    if sum(op.inputs[i].shape[axis] for i in range(len(op.inputs))) != out.shape[axis]:
        ctx.fail(op, "the inputs' sizes on axis %d do not add up to the output's" % axis)
    ctx.emit("CONCATENATION", inputs, [ctx.activation(out)], {"axis": axis}, op)


def lower_pad(ctx, op):
    input_t, paddings_t, out = op.inputs[0], op.inputs[1], op.outputs[0]
    rank = len(input_t.shape)
    if paddings_t.data is None or paddings_t.data.shape != (rank, 2):
        ctx.fail(op, "paddings must be a constant of shape [%d, 2]" % rank)
    if rank > MAX_DIMS:
        ctx.fail(op, "padding a %d-D tensor is not supported" % rank)
    if (input_t.scale, input_t.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ")
    pad_value = out.zero_point
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] is not None:
        if op.inputs[2].data is None:
            ctx.fail(op, "the pad value must be a constant")
        pad_value = int(op.inputs[2].data.reshape(-1)[0])
    pads = np.zeros((MAX_DIMS, 2), np.int64)
    pads[MAX_DIMS - rank:] = paddings_t.data
    if np.any(pads < 0) or tuple(np.add(input_t.shape, pads[MAX_DIMS - rank:].sum(1))) != out.shape:
        ctx.fail(op, "paddings %s do not turn %s into %s" % (paddings_t.data.tolist(), list(input_t.shape), list(out.shape)))
    params = {"pad_before_%d" % i: pads[i, 0] for i in range(MAX_DIMS)}
    params.update({"pad_after_%d" % i: pads[i, 1] for i in range(MAX_DIMS)})
    params["pad_value"] = pad_value
    ctx.emit("PAD", [ctx.activation(input_t)], [ctx.activation(out)], params, op)


# SPLIT, SPLIT_V, UNPACK, PACK, GATHER, TRANSPOSE, TILE, RESIZE_NEAREST_NEIGHBOR, DEPTH_TO_SPACE, SPACE_TO_DEPTH:
# TFLite Micro copies their bytes as they are (whatever the tensors' quantization), and so do these lowerings:
# STRIDED_SLICE for each piece of the input, CONCATENATION for pieces side by side, views for axes of size 1 added
# or dropped. No kernel of their own.

MAX_PIECES = 1024       # slices one op may lower to (a GATHER of scattered indices, a TRANSPOSE of a large tensor)


def _axis(ctx, op, value, rank):
    axis = int(value)
    if not -rank <= axis < rank:
        ctx.fail(op, "axis %d is out of range for rank %d" % (axis, rank))
    return axis + rank if axis < 0 else axis


def _constant_values(ctx, op, t, what):
    if t is None or t.data is None:
        ctx.fail(op, "the %s must be a constant" % what)
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _source(ctx, op, t, any_rank=False):
    """The .pml tensor of an input these ops move: an activation of at most MAX_DIMS dimensions (any_rank: of any
    rank, for an op that views it in fewer)."""
    if t is None or t.data is not None:
        ctx.fail(op, "a constant input (the converter folds these): picoml moves activations here")
    if len(t.shape) > MAX_DIMS and not any_rank:
        ctx.fail(op, "a %d-D input: the format holds at most %d dimensions" % (len(t.shape), MAX_DIMS))
    return ctx.activation(t)


def lower_reverse(ctx, op):
    """REVERSE_V2 (tf.reverse): one STRIDED_SLICE from the last element, of stride -1 along the reversed axes."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    rank = len(x.shape)
    axes = {_axis(ctx, op, a, rank) for a in _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None,
                                                              "axes")}
    if list(out.shape) != list(x.shape):    # (TFLite Micro moves the int8 values as they are, whatever their scales)
        ctx.fail(op, "output %s is not input %s reversed" % (list(out.shape), list(x.shape)))
    emit_slice(ctx, op, source, [x.shape[d] - 1 if d in axes else 0 for d in range(rank)],
               [-1 if d in axes else 1 for d in range(rank)], ctx.activation(out))


def lower_mirror_pad(ctx, op):
    """MIRROR_PAD (tf.pad's REFLECT and SYMMETRIC modes): on each padded axis, the input between its mirrored
    edges, each edge a STRIDED_SLICE of stride -1 (REFLECT leaves the edge element out, SYMMETRIC repeats it),
    joined by a CONCATENATION."""
    x, paddings_t, out = op.inputs[0], op.inputs[1], op.outputs[0]
    rank = len(x.shape)
    pads = _constant_values(ctx, op, paddings_t, "paddings")
    if len(pads) != 2 * rank:
        ctx.fail(op, "paddings must be a constant of shape [%d, 2]" % rank)
    if op.options.get("Mode", 0) not in (0, 1):
        ctx.fail(op, "mode %r is neither REFLECT (0) nor SYMMETRIC (1)" % op.options.get("Mode"))
    skip = 1 if op.options.get("Mode", 0) == 0 else 0     # REFLECT: the edge element is not repeated
    current = _source(ctx, op, x)
    shape = list(x.shape)
    for axis in range(rank):
        before, after = pads[2 * axis], pads[2 * axis + 1]
        if min(before, after) < 0 or max(before, after) > shape[axis] - skip:
            ctx.fail(op, "paddings %s of axis %d do not fit its %d elements in %s mode"
                     % ([before, after], axis, shape[axis], "REFLECT" if skip else "SYMMETRIC"))
        if before == after == 0:
            continue
        parts = []
        for count, start in ((before, before - 1 + skip), (after, shape[axis] - 1 - skip)):
            if count:
                piece_shape = shape[:axis] + [count] + shape[axis + 1:]
                piece = new_tensor(ctx, current, piece_shape, x.name + "/mirrored")
                starts = [0] * rank
                starts[axis] = start
                emit_slice(ctx, op, current, starts, [1] * axis + [-1] + [1] * (rank - axis - 1), piece)
                parts.append(piece)
        if before:
            parts.insert(1, current)
        else:
            parts.insert(0, current)
        shape[axis] += before + after
        joined = new_tensor(ctx, current, shape, x.name + "/padded")
        emit_concatenation(ctx, op, parts, axis, joined)
        current = joined
    if tuple(shape) != tuple(out.shape):
        ctx.fail(op, "paddings %s do not turn %s into %s" % (pads, list(x.shape), list(out.shape)))
    ctx.model.views[ctx.activation(out)] = current


def new_tensor(ctx, like, shape, name):
    """A new activation of `shape` with tensor `like`'s dtype and quantization."""
    t = ctx.model.tensors[like]
    return ctx.model.add_tensor(Tensor(shape, t.dtype, t.scale, t.zero_point, name=name))


def new_view(ctx, base, shape, name):
    """A new tensor of `shape` over activation `base`'s bytes."""
    view = new_tensor(ctx, base, shape, name)
    ctx.model.views[view] = base
    return view


def emit_slice(ctx, op, x, starts, strides, target):
    """STRIDED_SLICE of tensor x into tensor target, whose shape (in x's axis order) gives the counts."""
    pad = MAX_DIMS - len(starts)
    params = {"begin_%d" % i: v for i, v in enumerate([0] * pad + list(starts))}
    params.update({"stride_%d" % i: v for i, v in enumerate([1] * pad + list(strides))})
    ctx.emit("STRIDED_SLICE", [x], [target], params, op)


def emit_concatenation(ctx, op, parts, axis, target):
    """CONCATENATION of tensors `parts` along axis into target: a tree of them where the parts exceed one op's
    inputs."""
    out = ctx.model.tensors[target]
    most = MAX_OPERANDS - 1
    while len(parts) > most:
        joined = []
        for i in range(0, len(parts), most):
            shape = list(out.shape)
            shape[axis] = sum(ctx.model.tensors[p].shape[axis] for p in parts[i:i + most])
            joined.append(new_tensor(ctx, target, shape, out.name + "/joined"))
            ctx.emit("CONCATENATION", parts[i:i + most], [joined[-1]], {"axis": axis}, op)
        parts = joined
    ctx.emit("CONCATENATION", parts, [target], {"axis": axis}, op)


def lower_split(ctx, op):
    """SPLIT (axis, input) and SPLIT_V (input, sizes, axis): each output a slice of the input along the axis."""
    x, axis_t = (op.inputs[1], op.inputs[0]) if op.name == "SPLIT" else (op.inputs[0], op.inputs[2])
    source = _source(ctx, op, x)
    rank = len(x.shape)
    axis = _axis(ctx, op, _constant_values(ctx, op, axis_t, "axis")[0], rank)
    start = 0
    for out in op.outputs:
        if len(out.shape) != rank or any(out.shape[d] != x.shape[d] for d in range(rank) if d != axis) \
                or out.shape[axis] < 1:
            ctx.fail(op, "output %s is not a piece of input %s along axis %d" % (list(out.shape), list(x.shape), axis))
        starts = [0] * rank
        starts[axis] = start
        emit_slice(ctx, op, source, starts, [1] * rank, ctx.activation(out))
        start += out.shape[axis]
    if start != x.shape[axis]:
        ctx.fail(op, "the outputs' sizes along axis %d add up to %d, not the input's %d" % (axis, start, x.shape[axis]))


def lower_unpack(ctx, op):
    """UNPACK: output i is the input at index i of the axis, without that axis."""
    x = op.inputs[0]
    source = _source(ctx, op, x)
    rank = len(x.shape)
    axis = _axis(ctx, op, op.options.get("Axis", 0), rank)
    if len(op.outputs) != x.shape[axis]:
        ctx.fail(op, "%d outputs for %d entries along axis %d" % (len(op.outputs), x.shape[axis], axis))
    piece = list(x.shape)
    piece[axis] = 1
    for i, out in enumerate(op.outputs):
        if list(out.shape) != piece[:axis] + piece[axis + 1:]:
            ctx.fail(op, "output %s is not input %s without axis %d" % (list(out.shape), list(x.shape), axis))
        starts = [0] * rank
        starts[axis] = i
        target = new_tensor(ctx, source, piece, out.name + "/slice")
        emit_slice(ctx, op, source, starts, [1] * rank, target)
        ctx.model.views[ctx.activation(out)] = target


def lower_pack(ctx, op):
    """PACK: the inputs side by side along a new axis of the output."""
    out = op.outputs[0]
    rank = len(out.shape)
    if rank > MAX_DIMS:
        ctx.fail(op, "a %d-D output: the format holds at most %d dimensions" % (rank, MAX_DIMS))
    axis = _axis(ctx, op, op.options.get("Axis", 0), rank)
    expected = list(out.shape[:axis]) + list(out.shape[axis + 1:])
    if len(op.inputs) != out.shape[axis] or any(t is None or list(t.shape) != expected for t in op.inputs):
        ctx.fail(op, "its inputs %s do not stack into %s along axis %d"
                 % ([None if t is None else list(t.shape) for t in op.inputs], list(out.shape), axis))
    shape = expected[:axis] + [1] + expected[axis:]
    parts = [new_view(ctx, _source(ctx, op, t), shape, t.name + "/stacked") for t in op.inputs]
    emit_concatenation(ctx, op, parts, axis, ctx.activation(out))


def lower_tile(ctx, op):
    """TILE: the input repeated along each axis (_tile)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x, any_rank=True)
    multiples = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "multiples")
    if len(multiples) != len(x.shape) or min(multiples, default=1) < 1:
        ctx.fail(op, "multiples %s do not fit a %d-D input" % (multiples, len(x.shape)))
    if list(out.shape) != [n * m for n, m in zip(x.shape, multiples)]:
        ctx.fail(op, "output %s is not input %s tiled %s times" % (list(out.shape), list(x.shape), multiples))
    _tile(ctx, op, source, x.shape, multiples, ctx.activation(out))


def lower_broadcast_to(ctx, op):
    """BROADCAST_TO: a TILE of the input (viewed with leading axes of 1 to the output's rank) along its axes of 1."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x, any_rank=True)
    target = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "shape")
    shape = [1] * (len(target) - len(x.shape)) + list(x.shape)
    if len(shape) != len(target) or list(out.shape) != target \
            or any(n != t and n != 1 for n, t in zip(shape, target)):
        ctx.fail(op, "input %s does not broadcast to %s (output %s)" % (list(x.shape), target, list(out.shape)))
    if (x.scale, x.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ")
    _tile(ctx, op, source, shape, [t // n for n, t in zip(shape, target)], ctx.activation(out))


def _tile(ctx, op, source, shape, multiples, target):
    """Tensor source (of `shape`, any rank) repeated multiples[d] times along each axis d into tensor target: one
    CONCATENATION of copies per axis repeated. An axis repeated once joins the axis before it (its whole rows are
    what that axis repeats), so that a 5-D or 6-D TILE (Keras's UpSampling2D) fits in 4 dimensions: source and
    target viewed so."""
    if sum(multiples) - len(multiples) + 1 > MAX_PIECES:
        ctx.fail(op, "tiling %s times takes more than %d copies" % (list(multiples), MAX_PIECES))
    axes = []           # [size, multiple]
    for n, m in zip(shape, multiples):
        if axes and m == 1:
            axes[-1][0] *= n
        else:
            axes.append([n, m])
    if len(axes) > MAX_DIMS:
        ctx.fail(op, "tiling %s by %s needs %d dimensions; the format holds at most %d"
                 % (list(shape), list(multiples), len(axes), MAX_DIMS))
    shape = [n for n, _ in axes]
    name = ctx.model.tensors[target].name
    current = new_view(ctx, source, shape, name + "/tile_in")
    target = new_view(ctx, target, [n * m for n, m in axes], name + "/tile")
    repeated = [d for d, (_, m) in enumerate(axes) if m > 1] or [0]
    for d in repeated:
        shape[d] *= axes[d][1]
        step = target if d == repeated[-1] else new_tensor(ctx, current, shape, name + "/tiled")
        emit_concatenation(ctx, op, [current] * axes[d][1], d, step)
        current = step


def _runs(indices):
    """[(start, step, count)] covering indices in order: evenly spaced runs with a positive step."""
    runs = []
    for i in indices:
        if runs:
            start, step, count = runs[-1]
            if count == 1 and i > start:
                runs[-1] = (start, i - start, 2)
                continue
            if count > 1 and i == start + step * count:
                runs[-1] = (start, step, count + 1)
                continue
        runs.append((i, 1, 1))
    return runs


def lower_gather(ctx, op):
    """GATHER of constant indices along an axis (_gather)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    rank = len(x.shape)
    if op.options.get("BatchDims", 0):
        ctx.fail(op, "batch_dims %d: picoml gathers with batch_dims 0" % op.options["BatchDims"])
    axis = _axis(ctx, op, op.options.get("Axis", 0), rank)
    indices = _constant_values(ctx, op, op.inputs[1], "indices")
    if not indices or any(not 0 <= i < x.shape[axis] for i in indices):
        ctx.fail(op, "indices %s are not in [0, %d)" % (indices[:8], x.shape[axis]))
    index_shape = list(np.shape(op.inputs[1].data))
    if list(out.shape) != list(x.shape[:axis]) + index_shape + list(x.shape[axis + 1:]):
        ctx.fail(op, "output %s is not %s gathered along axis %d by indices of shape %s"
                 % (list(out.shape), list(x.shape), axis, index_shape))
    gathered = list(x.shape)
    gathered[axis] = len(indices)
    target = new_tensor(ctx, source, gathered, out.name + "/gathered")
    _gather(ctx, op, source, axis, indices, target)
    ctx.model.views[ctx.activation(out)] = target


def lower_gather_nd(ctx, op):
    """GATHER_ND of constant indices [..., k]: each index a slice of the input's first k axes, i.e. a GATHER of
    the input viewed as [the first k axes' product, the rest] along axis 0 by the flat indices."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x, any_rank=True)
    if len(op.inputs) < 2 or op.inputs[1] is None or op.inputs[1].data is None:
        ctx.fail(op, "the indices must be a constant")
    indices = np.asarray(op.inputs[1].data).astype(np.int64)
    k = indices.shape[-1] if indices.ndim else 0
    if indices.ndim < 1 or not 1 <= k <= len(x.shape) or indices.size == 0:
        ctx.fail(op, "indices of shape %s do not index input %s" % (list(indices.shape), list(x.shape)))
    if np.any(indices < 0) or np.any(indices >= np.asarray(x.shape[:k])):
        ctx.fail(op, "an index lies outside input %s" % list(x.shape))
    if list(out.shape) != list(indices.shape[:-1]) + list(x.shape[k:]):
        ctx.fail(op, "output %s is not %s gathered by indices of shape %s"
                 % (list(out.shape), list(x.shape), list(indices.shape)))
    rows, rest = int(np.prod(x.shape[:k], dtype=np.int64)), int(np.prod(x.shape[k:], dtype=np.int64))
    flat = np.ravel_multi_index(tuple(indices.reshape(-1, k).T), x.shape[:k]).tolist()
    target = new_view(ctx, ctx.activation(out), (len(flat), rest), out.name + "/rows")
    _gather(ctx, op, new_view(ctx, source, (rows, rest), x.name + "/rows"), 0, flat, target)


def _gather(ctx, op, source, axis, indices, target):
    """Tensor target = tensor source at `indices` along axis: runs of evenly spaced indices sliced, then joined."""
    runs = _runs(indices)
    if len(runs) > MAX_PIECES:
        ctx.fail(op, "%d runs of indices: picoml lowers a GATHER to at most %d slices" % (len(runs), MAX_PIECES))
    x_shape = ctx.model.tensors[source].shape
    rank = len(x_shape)
    parts = []
    for start, step, count in runs:
        shape, starts, strides = list(x_shape), [0] * rank, [1] * rank
        shape[axis], starts[axis], strides[axis] = count, start, step
        parts.append(target if len(runs) == 1 else new_tensor(ctx, source, shape, ctx.model.tensors[target].name + "/run"))
        emit_slice(ctx, op, source, starts, strides, parts[-1])
    if len(runs) > 1:
        emit_concatenation(ctx, op, parts, axis, target)


def nearest_indices(in_size, out_size, align_corners, half_pixel_centers):
    """TFLite's RESIZE_NEAREST_NEIGHBOR: the input index of each output index along one axis (its float32
    arithmetic: GetNearestNeighbor)."""
    f32 = np.float32
    scale = f32(in_size - 1) / f32(out_size - 1) if align_corners and out_size > 1 else f32(in_size) / f32(out_size)
    position = (np.arange(out_size, dtype=np.float32) + f32(0.5 if half_pixel_centers else 0.0)) * scale
    if align_corners:
        index = (np.sign(position) * np.floor(np.abs(position.astype(np.float64)) + 0.5)).astype(np.int64)
    else:
        index = np.floor(position).astype(np.int64)
    index = np.minimum(index, in_size - 1)
    return np.maximum(index, 0) if half_pixel_centers else index


def lower_resize_nearest_neighbor(ctx, op):
    """RESIZE_NEAREST_NEIGHBOR (NHWC): the rows, then the columns, at TFLite's nearest input indices: a TILE where
    every input index repeats the same number of times in order (a whole upscale), else GATHERs."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    size = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "size")
    if len(x.shape) != 4 or len(size) != 2 or list(out.shape) != [x.shape[0]] + size + [x.shape[3]] or min(size) < 1:
        ctx.fail(op, "output %s is not input %s resized to %s" % (list(out.shape), list(x.shape), size))
    flags = bool(op.options.get("AlignCorners", False)), bool(op.options.get("HalfPixelCenters", False))
    n, h, w, c = x.shape
    rows, cols = (nearest_indices(h, size[0], *flags).tolist(), nearest_indices(w, size[1], *flags).tolist())
    sh, sw = size[0] // h, size[1] // w
    if (sh * h, sw * w) == tuple(size) and rows == [i // sh for i in range(size[0])] \
            and cols == [j // sw for j in range(size[1])]:
        _tile(ctx, op, source, (n * h, 1, w, 1, c), (1, sh, 1, sw, 1), ctx.activation(out))
        return
    tall = new_tensor(ctx, source, (n, size[0], w, c), out.name + "/rows")
    _gather(ctx, op, source, 1, rows, tall)
    _gather(ctx, op, tall, 2, cols, ctx.activation(out))


def _transpose_splits(shape, perm):
    """(pieces, output axes): the output axes to take one index at a time, fewest pieces, so that the output's
    other axes (of more than one entry) keep the input's order."""
    best = None
    for mask in range(1 << len(perm)):
        split = [d for d in range(len(perm)) if mask >> d & 1 and shape[perm[d]] > 1]
        kept = [perm[d] for d in range(len(perm)) if d not in split and shape[perm[d]] > 1]
        pieces = int(np.prod([shape[perm[d]] for d in split], dtype=np.int64))
        if kept == sorted(kept) and (best is None or pieces < best[0]):
            best = (pieces, split)
    return best


def lower_transpose(ctx, op):
    """TRANSPOSE (_transpose)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    rank = len(x.shape)
    perm = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "permutation")
    if sorted(perm) != list(range(rank)):
        ctx.fail(op, "%s is not a permutation of the %d axes" % (perm, rank))
    if list(out.shape) != [x.shape[p] for p in perm]:
        ctx.fail(op, "output %s is not input %s permuted by %s" % (list(out.shape), list(x.shape), perm))
    _transpose(ctx, op, source, perm, ctx.activation(out))


def _transpose(ctx, op, source, perm, target):
    """Tensor target = tensor source with its axes in the order perm: the output taken one index at a time along
    the fewest output axes, so that each piece is a slice of the input in its own axis order (a view in the
    output's), the pieces joined."""
    shape = ctx.model.tensors[source].shape
    name = ctx.model.tensors[target].name
    rank = len(shape)
    pieces, split = _transpose_splits(shape, perm)
    if pieces > MAX_PIECES:
        ctx.fail(op, "permuting %s by %s takes %d slices; picoml lowers it to at most %d"
                 % (list(shape), list(perm), pieces, MAX_PIECES))

    def piece(part_shape, fixed, target=None):
        """The output's piece at the indices `fixed` ({output axis: index}; part_shape: 1 on those axes)."""
        if len(fixed) == len(split):
            starts, counts = [0] * rank, list(shape)
            for d, j in fixed.items():
                starts[perm[d]], counts[perm[d]] = j, 1
            sliced = new_tensor(ctx, source, counts, name + "/slice")
            emit_slice(ctx, op, source, starts, [1] * rank, sliced)
            if target is None:
                return new_view(ctx, sliced, part_shape, name + "/piece")
            ctx.model.views[sliced] = target
            return target
        d = split[len(fixed)]
        part = list(part_shape)
        part[d] = 1
        parts = [piece(part, {**fixed, d: j}) for j in range(part_shape[d])]
        target = new_tensor(ctx, source, part_shape, name + "/piece") if target is None else target
        emit_concatenation(ctx, op, parts, d, target)
        return target

    piece(list(ctx.model.tensors[target].shape), {}, target)


def lower_depth_to_space(ctx, op):
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH (NHWC, block b): one 4-D TRANSPOSE of views, swapping the block rows
    with the columns: [N H, W, b, b C] -> [N H, b, W, b C] (to space) and back (to depth)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    b = int(op.options.get("BlockSize", 0))
    deep, wide = (x, out) if op.name == "DEPTH_TO_SPACE" else (out, x)
    if len(x.shape) != 4 or len(out.shape) != 4 or b < 1 or deep.shape[3] % (b * b) or \
            list(wide.shape) != [deep.shape[0], deep.shape[1] * b, deep.shape[2] * b, deep.shape[3] // (b * b)]:
        ctx.fail(op, "output %s is not input %s with blocks of %d" % (list(out.shape), list(x.shape), b))
    n, h, w, c = deep.shape
    depth_view, space_view = (n * h, w, b, c // b), (n * h, b, w, c // b)
    x_view, out_view = (depth_view, space_view) if op.name == "DEPTH_TO_SPACE" else (space_view, depth_view)
    _transpose(ctx, op, new_view(ctx, source, x_view, x.name + "/blocks"), (0, 2, 1, 3),
               new_view(ctx, ctx.activation(out), out_view, out.name + "/blocks"))


def interleave(ctx, op, parts, part_shape, shape, name):
    """Tensors `parts` interleaved: each viewed as [a, b, 1, c] (part_shape (a, b, c)), joined on axis 2, the whole
    viewed as `shape`; a single part is itself."""
    if len(parts) == 1:
        return parts[0]
    a, b, c = part_shape
    views = [new_view(ctx, p, (a, b, 1, c), name + "/part") for p in parts]
    joined = new_tensor(ctx, parts[0], (a, b, len(parts), c), name)
    emit_concatenation(ctx, op, views, 2, joined)
    return new_view(ctx, joined, shape, name)


def _space_batch_operands(ctx, op, space, batch):
    """SPACE_TO_BATCH_ND's and BATCH_TO_SPACE_ND's tensors (space: the one with the spatial blocks, batch: the one
    with the blocks in its batch) and constants: (block [bh, bw], paddings or crops [[top, bottom], [left, right]],
    the spatial tensor's shape as [N, H, W, C]: a 3-D tensor [N, H, C] is [N, H, 1, C]; one block dimension
    over a 4-D one would have TFLite Micro read a second from beyond the block shape: refused)."""
    block = _constant_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else None, "block shape")
    edges = _constant_values(ctx, op, op.inputs[2] if len(op.inputs) > 2 else None,
                             "paddings" if op.name == "SPACE_TO_BATCH_ND" else "crops")
    rank = len(space.shape)
    if rank not in (3, 4) or len(batch.shape) != rank or len(block) != rank - 2 \
            or len(edges) != 2 * len(block) or min(block) < 1 or min(edges) < 0:
        ctx.fail(op, "block shape %s and %s %s do not fit a %d-D input: TFLite Micro takes a 3-D tensor with one "
                 "block dimension or a 4-D one with two" % (block, "paddings" if op.name == "SPACE_TO_BATCH_ND" else
                                                            "crops", edges, len(op.inputs[0].shape)))
    if rank == 3:           # [N, H, C] as [N, H, 1, C], as TFLite Micro extends it
        n, h, c = space.shape
        return block + [1], [edges, [0, 0]], [n, h, 1, c]
    return block, [edges[0:2], edges[2:4]], list(space.shape)


def lower_space_to_batch_nd(ctx, op):
    """SPACE_TO_BATCH_ND: the input padded (PAD), then per block position (sh, sw) a STRIDED_SLICE of every bh-th
    row and bw-th column from (sh, sw), the slices joined along the batch axis. The padding is the zero point, as
    TFLite pads (a real 0, what a dilated convolution written this way means); TFLite Micro pads with an output
    offset its Prepare never sets, so with whatever its persistent memory held (0 in a fresh arena, 16 after
    another model had run in the tests)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    (bh, bw), ((top, bottom), (left, right)), (n, h, w, c) = _space_batch_operands(ctx, op, x, out)
    ph, pw = h + top + bottom, w + left + right
    if ph % bh or pw % bw or int(np.prod(out.shape)) != n * ph * pw * c or out.shape[0] != n * bh * bw:
        ctx.fail(op, "output %s is not input %s padded by %s in blocks of %s"
                 % (list(out.shape), list(x.shape), [[top, bottom], [left, right]], [bh, bw]))
    if bh * bw > MAX_PIECES:
        ctx.fail(op, "blocks of %s take more than %d slices" % ([bh, bw], MAX_PIECES))
    if (x.scale, x.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ")
    padded = space = new_view(ctx, source, (n, h, w, c), x.name + "/space")
    if top or bottom or left or right:
        padded = new_tensor(ctx, source, (n, ph, pw, c), x.name + "/padded")
        params = {"pad_before_%d" % i: v for i, v in enumerate((0, top, left, 0))}
        params.update({"pad_after_%d" % i: v for i, v in enumerate((0, bottom, right, 0))})
        params["pad_value"] = out.zero_point
        ctx.emit("PAD", [space], [padded], params, op)
    target = new_view(ctx, ctx.activation(out), (n * bh * bw, ph // bh, pw // bw, c), out.name + "/batches")
    parts = []
    for sh in range(bh):
        for sw in range(bw):
            part = target if bh * bw == 1 else new_tensor(ctx, source, (n, ph // bh, pw // bw, c), out.name + "/block")
            emit_slice(ctx, op, padded, [0, sh, sw, 0], [1, bh, bw, 1], part)
            parts.append(part)
    if len(parts) > 1:
        emit_concatenation(ctx, op, parts, 0, target)


def lower_batch_to_space_nd(ctx, op):
    """BATCH_TO_SPACE_ND: the input's batch blocks (one STRIDED_SLICE each) interleaved into the rows and columns by
    CONCATENATIONs of views, then cropped (a STRIDED_SLICE)."""
    x, out = op.inputs[0], op.outputs[0]
    source = _source(ctx, op, x)
    (bh, bw), ((top, bottom), (left, right)), (n, h, w, c) = _space_batch_operands(ctx, op, out, x)
    blocks = bh * bw
    if blocks > MAX_PIECES:
        ctx.fail(op, "blocks of %s take more than %d slices" % ([bh, bw], MAX_PIECES))
    ih, iw = (h + top + bottom) // bh, (w + left + right) // bw
    if x.shape[0] != blocks * n or ih * bh != h + top + bottom or iw * bw != w + left + right \
            or int(np.prod(x.shape)) != blocks * n * ih * iw * c:
        ctx.fail(op, "output %s is not input %s in blocks of %s cropped by %s"
                 % (list(out.shape), list(x.shape), [bh, bw], [[top, bottom], [left, right]]))
    if (x.scale, x.zero_point) != (out.scale, out.zero_point):
        ctx.fail(op, "input and output quantization differ")
    batches = new_view(ctx, source, (blocks * n, ih, iw, c), x.name + "/batches")
    phases = []
    for b in range(blocks):
        phases.append(batches if blocks == 1 else new_tensor(ctx, source, (n, ih, iw, c), x.name + "/block"))
        if blocks > 1:
            emit_slice(ctx, op, batches, [b * n, 0, 0, 0], [1, 1, 1, 1], phases[-1])
    rows = [interleave(ctx, op, phases[sh * bw:(sh + 1) * bw], (n * ih, iw, c), (n, ih, iw * bw, c),
                       out.name + "/row") for sh in range(bh)]
    merged = interleave(ctx, op, rows, (n, ih, iw * bw * c), (n, ih * bh, iw * bw, c), out.name + "/space")
    if top or bottom or left or right or merged == batches:
        target = new_view(ctx, ctx.activation(out), (n, h, w, c), out.name + "/space")
        emit_slice(ctx, op, merged, [0, top, left, 0], [1, 1, 1, 1], target)
    else:
        ctx.model.views[ctx.activation(out)] = merged


def reference_concatenation(op, inputs, outputs):
    return [np.concatenate(inputs, axis=op.params["axis"])]


def reference_pad(op, inputs, outputs):
    x, = inputs
    p = op.params
    pads = [(p["pad_before_%d" % i], p["pad_after_%d" % i]) for i in range(MAX_DIMS)][MAX_DIMS - x.ndim:]
    return [np.pad(x, pads, constant_values=p["pad_value"])]


LOWER = {"RESHAPE": lower_view, "SQUEEZE": lower_view, "EXPAND_DIMS": lower_view,
         "CONCATENATION": lower_concatenation, "PAD": lower_pad, "PADV2": lower_pad, "MIRROR_PAD": lower_mirror_pad,
         "SPLIT": lower_split,
         "SPLIT_V": lower_split, "UNPACK": lower_unpack, "PACK": lower_pack, "GATHER": lower_gather,
         "TRANSPOSE": lower_transpose, "TILE": lower_tile, "RESIZE_NEAREST_NEIGHBOR": lower_resize_nearest_neighbor,
         "DEPTH_TO_SPACE": lower_depth_to_space, "SPACE_TO_DEPTH": lower_depth_to_space,
         "SPACE_TO_BATCH_ND": lower_space_to_batch_nd, "BATCH_TO_SPACE_ND": lower_batch_to_space_nd,
         "BROADCAST_TO": lower_broadcast_to, "GATHER_ND": lower_gather_nd, "REVERSE_V2": lower_reverse}
# TFLite ops of a varying number of outputs
N_OUTPUTS = {"SPLIT": None, "SPLIT_V": None, "UNPACK": None}
REFERENCE = {"CONCATENATION": reference_concatenation, "PAD": reference_pad}
