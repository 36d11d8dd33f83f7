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
    """An input as int8 in the model's input shape: int8 is taken as it is, floats are quantized."""
    t = model.tensors[model.inputs[index].tensor]
    value = np.asarray(value)
    if value.dtype.kind == "f":
        value = quantize(value, t.scale, t.zero_point)
    elif value.dtype != np.int8:
        raise PicomlError("input %d is %s; give int8 values or floats to quantize" % (index, value.dtype))
    if value.size != int(np.prod(t.shape)):
        raise PicomlError("input %d has %d values; the model takes %s = %d"
                          % (index, value.size, list(t.shape), int(np.prod(t.shape))))
    return value.reshape(t.shape)


class Interpreter:
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

    def _view(self, index):
        t = self.model.tensors[index]
        if t.is_constant:
            return t.data
        raw = self.arena[t.offset:t.offset + t.nbytes]
        return raw.view(t.dtype).reshape(t.shape).copy()

    def _store(self, index, value):
        t = self.model.tensors[index]
        if value.shape != t.shape or value.dtype != t.dtype:
            raise AssertionError("kernel produced %s %s for tensor %d of %s %s"
                                 % (value.dtype, value.shape, index, t.dtype, list(t.shape)))
        self.arena[t.offset:t.offset + t.nbytes] = value.reshape(-1).view(np.uint8)

    def run(self, inputs, trace=None):
        """Run once; `inputs` is a list (one per model input). If `trace` is a list, each op's outputs are
        appended to it as (op index, [arrays]). Returns the int8 outputs."""
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
