"""The numpy reference interpreter of a .pml model, bit-exact with TensorFlow Lite Micro's int8 kernels: the
oracle every other backend is compared with. It runs in a real arena laid out by the planner, so a planning
error shows up as a wrong result."""
import numpy as np

from .errors import PicomlError
from .ops import REFERENCE


def quantize(values, scale, zero_point):
    """float32 -> int8 as TFLite's AffineQuantize: round(value / scale) in float32, halves away from zero."""
    q = np.asarray(values, np.float32) / np.float32(scale)
    q = np.sign(q) * np.floor(np.abs(q.astype(np.float64)) + 0.5)
    return np.clip(q + zero_point, -128, 127).astype(np.int8)


def dequantize(values, scale, zero_point):
    """int8 -> float32 as TFLite's Dequantize: scale * (q - zero_point) in double, stored as float32."""
    return (float(scale) * (np.asarray(values, np.int64) - zero_point)).astype(np.float32)


def prepare_input(model, index, value):
    """An input in the model's input shape and dtype: values of the input's dtype are taken as they are, floats
    are quantized (an int8 input)."""
    t = model.tensors[model.inputs[index].tensor]
    value = np.asarray(value)
    if value.dtype.kind == "f" and t.dtype == np.int8:
        nan = np.flatnonzero(np.isnan(value))
        if len(nan):        # the device refuses it in the same words (picoml.values.quantize)
            raise PicomlError("input %d value %d is NaN" % (index, nan[0]))
        value = quantize(value, t.scale, t.zero_point)
    elif value.dtype != t.dtype:
        raise PicomlError("input %d is %s; give %s values%s" % (index, value.dtype, t.dtype.name,
                                                                " or floats to quantize" if t.dtype == np.int8 else ""))
    if value.size != int(np.prod(t.shape)):
        raise PicomlError("input %d has %d values; the model takes %s = %d"
                          % (index, value.size, list(t.shape), int(np.prod(t.shape))))
    return value.reshape(t.shape)


class Interpreter:
    """Runs a model op by op in its arena. State tensors (docs/format.md, storage 2) keep their bytes from one run
    to the next; they start at zero, and reset() zeroes them again."""

    def __init__(self, model):
        self.model = model
        # The bytes the activations use, each at its planned offset. A file's arena_size may claim more than
        # they reach (the device allocates it all, or refuses with MemoryError); the reference needs no more.
        used = max([t.offset + t.nbytes for t in model.tensors if not t.is_constant], default=0)
        try:
            self.arena = np.zeros(used, np.uint8)
        except MemoryError:
            raise PicomlError("running this model needs %d bytes for its activations: more than this machine "
                              "can allocate" % used)

    def reset(self):
        """Zero every state tensor, as after load."""
        for t in self.model.tensors:
            if t.state:
                self.arena[t.offset:t.offset + t.nbytes] = 0

    def _view(self, index):
        """A constant's values, a copy of an activation's, or for a state tensor a view of its bytes in the arena
        (the op updates it in place)."""
        t = self.model.tensors[index]
        if t.is_constant:
            return t.data
        raw = self.arena[t.offset:t.offset + t.nbytes]
        if t.state:
            return raw.view(t.dtype).reshape(t.shape)
        return raw.view(t.dtype).reshape(t.shape).copy()

    def _store(self, index, value):
        t = self.model.tensors[index]
        if value.shape != t.shape or value.dtype != t.dtype:
            raise AssertionError("kernel produced %s %s for tensor %d of %s %s"
                                 % (value.dtype, value.shape, index, t.dtype, list(t.shape)))
        self.arena[t.offset:t.offset + t.nbytes] = value.reshape(-1).view(np.uint8)

    def run(self, inputs, trace=None):
        """Run once; `inputs` is a list (one per model input). If `trace` is a list, each op's outputs are
        appended to it as (op index, [arrays]). Returns the outputs (int8 unless the model gives another dtype)."""
        if len(inputs) != len(self.model.inputs):
            raise PicomlError("the model takes %d inputs, got %d" % (len(self.model.inputs), len(inputs)))
        for i, value in enumerate(inputs):
            self._store(self.model.inputs[i].tensor, prepare_input(self.model, i, value))
        for i, op in enumerate(self.model.ops):
            args = [self._view(t) if t >= 0 else None for t in op.inputs]
            results = REFERENCE[op.name](op, args, [self.model.tensors[t] for t in op.outputs])
            for t, value in zip(op.outputs, results):
                self._store(t, value)
            if trace is not None:
                trace.append((i, [self._view(t) for t in op.outputs]))
        return [self._view(e.tensor) for e in self.model.outputs]


def run(model, inputs, trace=None):
    return Interpreter(model).run(inputs, trace)


def run_frames(model, frames):
    """The model run once per frame, in order, from its state at load -- the same bytes as Interpreter(model).run
    on each frame in turn -- but op by op over all the frames at once: an op with a frame-batched kernel
    (ops.BATCHED) runs once for all of them, any other once per frame in order (an op with state among them, so
    the state carries from frame to frame). frames: one model input per frame, as an array [frames, *input shape]
    (or a list). Returns the first output of every frame, [frames, *output shape]. For streams of frames, such as
    an audio front-end's (picoml.features): the per-op cost is paid once per clip, not once per frame."""
    from .ops import BATCHED
    if len(model.inputs) != 1:
        raise PicomlError("run_frames takes a model of one input; this one has %d" % len(model.inputs))
    n = len(frames)
    if any(op.inputs[k] >= 0 and model.tensors[op.inputs[k]].state and not _is_state_operand(op, k)
           for op in model.ops for k in range(len(op.inputs))):
        # a state tensor read as an ordinary operand: frame by frame (its bytes are one copy, not one per frame)
        interpreter = Interpreter(model)
        return np.array([interpreter.run([f])[0] for f in frames])
    used = max([t.offset + t.nbytes for t in model.tensors if not t.is_constant], default=0)
    arena = np.zeros((n, used), np.uint8)

    def view(index, frame=None):
        t = model.tensors[index]
        if t.is_constant:
            return t.data
        if t.state:         # one copy, in frame 0's arena, carried through the frames
            return arena[0, t.offset:t.offset + t.nbytes].view(t.dtype).reshape(t.shape)
        rows = arena[:, t.offset:t.offset + t.nbytes]
        if frame is not None:
            return rows[frame].view(t.dtype).reshape(t.shape).copy()
        return rows.view(t.dtype).reshape((n,) + t.shape).copy()

    def store(index, value, frame=None):
        t = model.tensors[index]
        shape = t.shape if frame is not None else (n,) + t.shape
        value = np.ascontiguousarray(value)
        if value.shape != shape or value.dtype != t.dtype:
            raise AssertionError("kernel produced %s %s for tensor %d of %s %s"
                                 % (value.dtype, value.shape, index, t.dtype, list(shape)))
        raw = value.reshape(-1).view(np.uint8)
        if frame is None:
            arena[:, t.offset:t.offset + t.nbytes] = raw.reshape(n, t.nbytes)
        else:
            arena[frame, t.offset:t.offset + t.nbytes] = raw

    x = np.asarray(frames)
    store(model.inputs[0].tensor, np.stack([prepare_input(model, 0, f) for f in x]) if n else
          np.zeros((0,) + model.tensors[model.inputs[0].tensor].shape, model.tensors[model.inputs[0].tensor].dtype))
    for op in model.ops:
        outputs = [model.tensors[t] for t in op.outputs]
        if op.name in BATCHED:
            results = BATCHED[op.name](op, [view(t) if t >= 0 else None for t in op.inputs], outputs, n)
            for t, value in zip(op.outputs, results):
                store(t, value)
        else:
            for f in range(n):
                results = REFERENCE[op.name](op, [view(t, f) if t >= 0 else None for t in op.inputs], outputs)
                for t, value in zip(op.outputs, results):
                    store(t, value, f)
    return view(model.outputs[0].tensor)


def _is_state_operand(op, k):
    from .rules import OPERANDS, STATE
    name = op_input_name(op, k)
    return OPERANDS.get(op.name, {}).get(name, (None, None, False))[2] == STATE


def op_input_name(op, k):
    from .optable import BY_NAME
    names = BY_NAME[op.name].inputs
    return names[0].rstrip("*") if names[0].endswith("*") else names[k]

