"""Every place a .pml can run, behind one interface.

    from picoml import runtimes
    rt = runtimes.get("unix")                          # a name from NAMES, or runtimes.board("/dev/ttyACM0")
    outputs = rt.run(pml_bytes, [x], backend="native")  # the model's int8 outputs (numpy arrays) for one input set
    batch = rt.run_batch(pml_bytes, [[x0], [x1]])       # Batch: .outputs per input set (+ what the target measured)
    result = rt.bench(pml_bytes, backend="native")      # Bench: time or instructions, heap

Inputs are arrays in the model's input shape: int8 as is, float32 quantized with the model's input parameters.
`backend` chooses the device library's backend (native, viper, python) on the runtimes that run it; the others
take none. Options that describe the target (heap size, where the model is placed, ...) are given to get().

    reference     the numpy interpreter on this machine: the oracle every other runtime must equal
    c             the C kernels and op-table walker built for this machine (gcc) and called through ctypes
    unix          the device library in MicroPython's unix port (x64), with the x64 native module
    qemu-m4       the device library in picoml's MicroPython port on an emulated Cortex-M4F (QEMU mps2-an386,
                  armv7emsp native module, 200 KB heap as an nRF52840 leaves free)
    qemu-m0       the same on an emulated Cortex-M0 (QEMU microbit, armv6m native module, 180 KB heap, like
                  an RP2040)
    qemu-xtensa   the same port on QEMU's Xtensa dc233c core (sim machine; windowed registers as the ESP32's LX6,
                  not an ESP32), the ESP32's xtensawin native module, no float, 200 KB heap
    bare-m4       the C kernels alone, bare-metal on the emulated Cortex-M4F (QEMU), instructions counted
    bare-m0       the same armv6m kernels on QEMU's Cortex-M0 (microbit)
    bare-m0plus   the same armv6m kernels on rp2040js (the RP2040's Cortex-M0+), cycles counted
    bare-xtensa   the ESP32 module's kernel code on QEMU's Xtensa dc233c core (not an ESP32), instructions counted
    board(port)   a board on a serial port, through mpremote; port "virtual" starts the virtual board
"""
import dataclasses
import importlib

from ..errors import PicomlError

DEVICE_BACKENDS = ("native", "viper", "python")

# name: (module, class, keyword arguments)
_REGISTRY = {
    "reference": ("reference", "Reference", {}),
    "c": ("c", "CKernels", {}),
    "unix": ("unix", "UnixPort", {}),
    "qemu-m4": ("qemu", "Qemu", {"target": "m4"}),
    "qemu-m0": ("qemu", "Qemu", {"target": "m0"}),
    "qemu-xtensa": ("qemu", "Qemu", {"target": "xtensa"}),
    "bare-m4": ("bare", "BareMetal", {"core": "m4"}),
    "bare-m0": ("bare", "BareMetal", {"core": "m0"}),
    "bare-m0plus": ("bare", "BareMetal", {"core": "m0plus"}),
    "bare-xtensa": ("bare", "BareMetal", {"core": "xtensa"}),
}
NAMES = tuple(_REGISTRY)


@dataclasses.dataclass
class Batch:
    """What one run_batch() gave: the outputs per input set and what the target measured on the way."""
    outputs: list                   # per input set: the model's outputs (int8 numpy arrays)
    backend: str = None             # the device backend that ran (None where there is none)
    insns: list = None              # per input set: instructions executed (bare-metal cores)
    cycles: list = None             # per input set: cycles (rp2040js)
    model_in: str = None            # "ram" or "flash": where an emulated board held the model
    note: str = ""                  # something the user should know (e.g. why the model went to flash)


@dataclasses.dataclass
class Bench:
    """One model on one runtime and backend. Fields a runtime cannot measure stay None."""
    runtime: str
    backend: str = None
    us: float = None                # microseconds per inference, measured on this machine or the board
    instructions: int = None        # instructions per inference (emulated cores, exact)
    cycles: int = None              # cycles per inference (rp2040js)
    heap_per_inference: int = None  # heap bytes one inference allocates after warm-up (-1: more than was free)
    heap_used: int = None           # heap in use after loading and one inference
    model_in: str = None            # "ram" or "flash"
    note: str = ""
    classes: dict = None            # instructions per inference by class (QEMU's plugin; picoml.cycles)
    cycles_estimate: int = None     # cycles per inference estimated from them (picoml.cycles' timing table)
    per_op: list = None             # [(op name, counts)] per op (bare-metal runtimes, per_op=True)


class Runtime:
    """The interface every runtime implements: run_batch() and bench(); run() is one input set."""
    name = ""
    backends = ()          # the device backends it runs; () when it has none
    default_backend = None

    def backend(self, backend):
        """The backend to use: the default when None; PicomlError when this runtime has no such backend."""
        if backend is None:
            return self.default_backend
        if not self.backends:
            raise PicomlError("the %s runtime has no device backends (--backend applies to %s)"
                              % (self.name, ", ".join(n for n in NAMES if get_class(n).backends) + " and boards"))
        if backend not in self.backends:
            raise PicomlError("unknown backend %r for %s: choose from %s" % (backend, self.name,
                                                                            ", ".join(self.backends)))
        return backend

    def run(self, pml_bytes, inputs, backend=None):
        """The model's outputs for one set of inputs (one array per model input)."""
        return self.run_batch(pml_bytes, [inputs], backend).outputs[0]

    def run_batch(self, pml_bytes, batch, backend=None):
        """A Batch with the outputs for each entry of `batch` (a list of per-input array lists)."""
        raise NotImplementedError

    def bench(self, pml_bytes, backend=None, count=20):
        """A Bench of `count` inferences (after warm-up) on zero inputs."""
        raise NotImplementedError


def pack_inputs(model, batch):
    """The input sets of `batch` as the device reads them: each input's int8 bytes, input after input, set after
    set (floats quantized, shapes checked)."""
    from ..reference import prepare_input
    parts = []
    for inputs in batch:
        if len(inputs) != len(model.inputs):
            raise PicomlError("the model takes %d inputs, got %d" % (len(model.inputs), len(inputs)))
        parts += [prepare_input(model, i, x).tobytes() for i, x in enumerate(inputs)]
    return b"".join(parts)


def unpack_outputs(model, data, count):
    """`count` output sets from the bytes the device wrote (the outputs in order, set after set, each in its dtype,
    little-endian)."""
    import numpy as np
    tensors = [model.tensors[e.tensor] for e in model.outputs]
    expected = count * sum(t.nbytes for t in tensors)
    if len(data) != expected:
        raise PicomlError("the target wrote %d output bytes, expected %d" % (len(data), expected))
    pos, result = 0, []
    for _ in range(count):
        outs = []
        for t in tensors:
            outs.append(np.frombuffer(data[pos:pos + t.nbytes], np.dtype(t.dtype).newbyteorder("<")).reshape(t.shape)
                        .astype(t.dtype))
            pos += t.nbytes
        result.append(outs)
    return result


def zero_inputs(model):
    import numpy as np
    return [np.zeros(model.tensors[e.tensor].shape, model.tensors[e.tensor].dtype) for e in model.inputs]


def get_class(name):
    if name not in _REGISTRY:
        raise PicomlError("unknown runtime %r: choose from %s" % (name, ", ".join(NAMES)))
    module, cls, _ = _REGISTRY[name]
    return getattr(importlib.import_module("." + module, __name__), cls)


def get(name, **options):
    """The runtime called `name` (see NAMES), configured with `options` (e.g. heapsize="200k")."""
    _, _, fixed = _REGISTRY.get(name, (None, None, {}))
    return get_class(name)(**fixed, **options)


def board(port, **options):
    """A board on a serial port (or "virtual": the virtual board, started for each call)."""
    from .serialport import Board
    return Board(port, **options)
