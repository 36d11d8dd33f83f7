"""Memory planning of an imported model: constants packed into the weights blob, state tensors (kept from one run
to the next) each given arena bytes of its own at the start of the arena, never shared, activations after them
given arena offsets from their lifetimes (greedy by size, like TFLite Micro's planner), in place where an
element-wise op's input dies at that op, and reshapes as views sharing their input's bytes."""
from .errors import UnsupportedModelError
from .format import CONSTANT_ALIGN
from .optable import IN_PLACE_OPS

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
    offsets = _place(sizes, life)
    for i, t in enumerate(model.tensors):
        if not t.is_constant and not t.state:
            root = buffers.root(i)
            t.offset = state_size + offsets.get(root, 0)
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

