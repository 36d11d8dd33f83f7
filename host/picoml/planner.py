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
    needs before writing that output, and writes its outputs in the input's order (per channel), so the output may
    overwrite what no later output reads:
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


def _groups(behind, sizes, life):
    """The buffers chained by behind as groups of one block each: ({group: size}, {group: lifetime}, {buffer: (group,
    offset in it)})."""
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

    for b in sizes:
        place(b)
    low, high, glife = {}, {}, {}
    for b, (g, at) in rel.items():
        low[g] = min(low.get(g, at), at)
        high[g] = max(high.get(g, at + sizes[b]), at + sizes[b])
        first, last = glife.get(g, life[b])
        glife[g] = [min(first, life[b][0]), max(last, life[b][1])]
    where = {b: (g, at - low[g]) for b, (g, at) in rel.items()}
    return {g: high[g] - low[g] for g in low}, glife, where


def _place_behind(behind, sizes, life):
    """The buffers placed with the outputs of `behind` behind their inputs where that makes the arena smaller (a
    chain's bytes are held for all of its lifetime, so a link can cost more than it saves): every link first, then
    each left out in turn for good when the arena does not grow without it. Returns the groups' sizes, their
    offsets and each buffer's (group, offset in it)."""
    def place(links):
        group_sizes, group_life, where = _groups(links, sizes, life)
        offsets = _place(group_sizes, group_life)
        return max([offsets[g] + group_sizes[g] for g in offsets], default=0), (group_sizes, offsets, where)

    links = dict(behind)
    best, plan = place(links)
    for out in sorted(behind):
        fewer = {b: v for b, v in links.items() if b != out}
        size, fewer_plan = place(fewer)
        if size <= best:
            best, plan, links = size, fewer_plan, fewer
    return plan


def _place(sizes, life):
    """Greedy first fit, largest buffers first: {buffer: offset}."""
    offsets = {}
    order = sorted(sizes, key=lambda b: (-sizes[b], life[b][0], b))
    for b in order:
        first, last = life[b]
        busy = sorted((offsets[o], offsets[o] + sizes[o]) for o in offsets
                      if life[o][0] <= last and first <= life[o][1])
        offset = 0
        for start, end in busy:
            if offset + sizes[b] <= start:
                break
            offset = max(offset, _align(end))
        offsets[b] = offset
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
    group_sizes, offsets, where = _place_behind(_plan_behind(model, buffers, life), sizes, life)
    for i, t in enumerate(model.tensors):
        if not t.is_constant and not t.state:
            root = buffers.root(i)
            group, at = where.get(root, (None, 0))
            t.offset = state_size + offsets.get(group, 0) + at
    model.arena_size = _align(state_size + max([offsets[g] + group_sizes[g] for g in offsets], default=0))
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

