"""Memory planning of an imported model: constants packed into the weights blob, state tensors (kept from one run
to the next) each given arena bytes of its own at the start of the arena, never shared, activations after them
given arena offsets from their lifetimes (greedy by size, like TFLite Micro's planner), in place where an
element-wise op's input dies at that op, behind it where a convolution's does (behind_gap), and reshapes as views
sharing their input's bytes."""
from .errors import UnsupportedModelError
from .format import CONSTANT_ALIGN
from .optable import BEHIND_CONV_WEIGHTS, IN_PLACE_OPS

ARENA_ALIGN = 4


def _align(n, a=ARENA_ALIGN):
    return (n + a - 1) // a * a


class _Buffers:
    """Union-find over activation tensors: tensors in one set share bytes."""

    def __init__(self, model):
        self.parent = {}
        for view, base in model.views.items():
            self.parent[view] = base

    def root(self, t):
        seen = 0
        while t in self.parent:
            t = self.parent[t]
            seen += 1
            if seen > len(self.parent):
                raise UnsupportedModelError("tensor %d is a view of itself: the graph loops" % t)
        return t

    def merge(self, t, into):
        self.parent[self.root(t)] = self.root(into)


def _lifetimes(model, buffers):
    """{root tensor: [first op index, last op index]} of every activation buffer."""
    life = {}

    def touch(t, i):
        r = buffers.root(t)
        first, last = life.get(r, (i, i))
        life[r] = [min(first, i), max(last, i)]

    for e in model.inputs:
        touch(e.tensor, -1)
    for i, op in enumerate(model.ops):
        for t in op.inputs + op.outputs:
            if t >= 0 and not model.tensors[t].is_constant and not model.tensors[t].state:
                touch(t, i)
    for e in model.outputs:
        touch(e.tensor, len(model.ops))
    return life


def _check_written(model, buffers):
    """Every activation an op reads is a model input's bytes, a state tensor or what an earlier op wrote (through
    views): a lowering that left a view unlinked would have an op read bytes no op writes, right or wrong by where
    the planner happened to put them."""
    def activation(t):
        return t >= 0 and not model.tensors[t].is_constant and not model.tensors[t].state

    written = {buffers.root(e.tensor) for e in model.inputs}
    for i, op in enumerate(model.ops):
        for t in op.inputs:
            if activation(t) and buffers.root(t) not in written:
                raise UnsupportedModelError("op %d (%s) reads tensor %d, which no op before it writes (a fault of "
                                            "picoml's lowering: please report the model)" % (i, op.name, t))
        written.update(buffers.root(t) for t in op.outputs)
    for e in model.outputs:
        if buffers.root(e.tensor) not in written:
            raise UnsupportedModelError("the model's output tensor %d is written by no op (a fault of picoml's "
                                        "lowering: please report the model)" % e.tensor)


def _plan_in_place(model, buffers):
    life = _lifetimes(model, buffers)
    for i, op in enumerate(model.ops):
        if op.name not in IN_PLACE_OPS:
            continue
        out = model.tensors[op.outputs[0]]
        for t in op.inputs:
            tensor = model.tensors[t]
            root = buffers.root(t)
            if (not tensor.is_constant and not tensor.state and tensor.shape == out.shape
                    and tensor.dtype == out.dtype
                    and life[root][1] == i and root != buffers.root(op.outputs[0])):
                out_life = life.pop(buffers.root(op.outputs[0]))
                buffers.merge(op.outputs[0], t)
                life[root] = [life[root][0], out_life[1]]
                break


def behind_gap(op, tensors):
    """(gap, unit) when op's output may lie behind its input in the arena, `gap` bytes or more before it in steps
    of `unit` (the rest of the two overlapping), else None. Every kernel of these ops reads the input bytes an output
    needs before writing that output, and writes each channel's outputs in the input's order or from rings of input
    lines it has already read, so the output may overwrite what no later output reads:
      DEPTHWISE_CONV_2D, depth multiplier 1, stride 1, output shaped as its input: whole rows (unit: a row's bytes),
        pad_top + 1 rows behind (the row output row y is written to lies before the rows y - pad_top on that
        later outputs read; 3x3 kernels that keep their input's lines in rings write into lines already read);
      CONV_2D 1x1, stride 1, no padding, in_c == out_c, out_c * in_c <= BEHIND_CONV_WEIGHTS: 4 pixels behind (the
        kernels' blocks of pixels; unit: a pixel's bytes).
    The same rule in native_module/check.c and device/picoml/validate.py."""
    if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return None
    p = op.params
    x, f, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    if (len(x.shape) != 4 or x.shape != y.shape or x.dtype != y.dtype or len(f.shape) != 4
            or p["stride_h"] != 1 or p["stride_w"] != 1):
        return None
    _, _, w, c = x.shape
    if op.name == "DEPTHWISE_CONV_2D":
        return ((p["pad_top"] + 1) * w * c, w * c) if p["depth_multiplier"] == 1 else None
    if f.shape[1] == 1 and f.shape[2] == 1 and p["pad_top"] == 0 and p["pad_left"] == 0 \
            and f.shape[0] * f.shape[3] <= BEHIND_CONV_WEIGHTS:
        return 4 * c, c
    return None


def _plan_behind(model, buffers, life):
    """{output buffer: (input buffer, gap)} for the convolutions whose output may lie behind their input
    (behind_gap) where the input dies at them and is not the model's (its bytes stay what the caller wrote) and the
    two overlap: the output `gap` bytes before the input."""
    behind = {}
    inputs = {buffers.root(e.tensor) for e in model.inputs}
    for i, op in enumerate(model.ops):
        rule = behind_gap(op, model.tensors)
        if rule is None:
            continue
        t = op.inputs[0]
        x, out = buffers.root(t), buffers.root(op.outputs[0])
        tensor = model.tensors[t]
        gap, unit = rule
        while gap % ARENA_ALIGN:
            gap += unit     # (the output's offset stays aligned)
        if (not tensor.is_constant and not tensor.state and x != out and x not in inputs and life[x][1] == i
                and life[out][0] == i and gap < model.tensors[op.outputs[0]].nbytes):
            behind[out] = (x, gap)
    return behind


def _groups(behind, sizes):
    """The buffers chained by behind as groups placed as one: {group: [(buffer, offset in the group)]}, each
    group's offsets from 0 up."""
    rel = {}

    def place(b):
        if b not in rel:
            if b in behind:
                x, gap = behind[b]
                g, at = place(x)
                rel[b] = (g, at - gap)
            else:
                rel[b] = (b, 0)
        return rel[b]

    groups = {}
    for b in sorted(sizes):
        g, at = place(b)
        groups.setdefault(g, []).append((b, at))
    for g, members in groups.items():
        low = min(at for _, at in members)
        groups[g] = [(b, at - low) for b, at in members]
    return groups


def _place_behind(behind, sizes, life):
    """{buffer: offset} with the outputs of `behind` behind their inputs where that makes the arena smaller (a
    link fixes two buffers' places relative to each other, which can cost more than it saves): every link first,
    then each left out in turn for good when the arena does not grow without it."""
    def place(links):
        offsets = _place(_groups(links, sizes), sizes, life)
        return max([offsets[b] + sizes[b] for b in offsets], default=0), offsets

    links = dict(behind)
    best, plan = place(links)
    for out in sorted(behind):
        fewer = {b: v for b, v in links.items() if b != out}
        size, fewer_plan = place(fewer)
        if size <= best:
            best, plan, links = size, fewer_plan, fewer
    return plan


def _place(groups, sizes, life):
    """Greedy first fit, largest groups first, each group's buffers at fixed places relative to each other: {buffer:
    offset}. A group's buffers only take their bytes for their own lifetimes."""
    offsets = {}
    placed = []     # (first, last, start, end) of every buffer placed

    def extent(g):
        return max(at + sizes[b] for b, at in groups[g])

    order = sorted(groups, key=lambda g: (-extent(g), min(life[b][0] for b, _ in groups[g]), g))
    for g in order:
        members = groups[g]
        offset = 0
        while True:
            # the lowest end of a conflicting buffer, past which the group is tried next
            clash = None
            for b, at in members:
                first, last = life[b]
                lo, hi = offset + at, offset + at + sizes[b]
                for f, l, start, end in placed:
                    if f <= last and first <= l and start < hi and lo < end:
                        clash = end - at if clash is None else min(clash, end - at)     # (> offset: lo < end)
            if clash is None:
                break
            offset = _align(clash)
        for b, at in members:
            offsets[b] = offset + at
            placed.append((life[b][0], life[b][1], offset + at, offset + at + sizes[b]))
    return offsets


def pack_weights(model):
    """The constants' offsets in the weights blob, in order (plan's first step; alone, for a planned model whose
    constants changed size: a model read from a file has lost the views that plan() needs)."""
    weights_offset = 0
    for t in model.tensors:
        if t.is_constant:
            t.offset = weights_offset
            weights_offset = _align(weights_offset + t.nbytes, CONSTANT_ALIGN)


def plan(model):
    """Assign weights offsets and arena offsets in place; returns the model."""
    pack_weights(model)
    state_size = 0
    for t in model.tensors:
        if t.state:
            t.offset = state_size
            state_size = _align(state_size + t.nbytes)

    buffers = _Buffers(model)
    _check_written(model, buffers)
    _plan_in_place(model, buffers)
    life = _lifetimes(model, buffers)
    sizes = {b: model.tensors[b].nbytes for b in life}
    offsets = _place_behind(_plan_behind(model, buffers, life), sizes, life)
    for i, t in enumerate(model.tensors):
        if not t.is_constant and not t.state:
            t.offset = state_size + offsets.get(buffers.root(i), 0)
    model.arena_size = _align(state_size + max([offsets[b] + sizes[b] for b in offsets], default=0))
    model.views = {}
    _drop_unused(model)
    return model


def _drop_unused(model):
    """Leave out the tensors that no op and no model input or output names: views that only other views went
    through (a 5-D reshape on the way to a 4-D one, which the format could not hold)."""
    used = sorted({t for op in model.ops for t in op.inputs + op.outputs if t >= 0}
                  | {e.tensor for e in model.inputs + model.outputs})
    if len(used) == len(model.tensors):
        return
    index = {old: new for new, old in enumerate(used)}
    model.tensors = [model.tensors[t] for t in used]
    for op in model.ops:
        op.inputs = [index[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [index[t] for t in op.outputs]
    for e in model.inputs + model.outputs:
        e.tensor = index[e.tensor]
    model.source_tensors = {index[t]: s for t, s in model.source_tensors.items() if t in index}

