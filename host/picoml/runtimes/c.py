"""The C kernels and op-table walker (native_module/, without the MicroPython binding) built for this machine with
gcc by `make hostlib` (build/host/libpicoml.so: -O2; libpicoml_asan.so: AddressSanitizer/UBSan and the Cortex-M0
arithmetic; libpicoml_O3.so: -O3; libpicoml_m4.so / libpicoml_m0.so: the kernels' Cortex-M4 (SIMD32) / Cortex-M0
code paths in portable C, the runtime's variant "m4" / "m0"; libpicoml_m4_300.so, variant "m4-300": the M4's with
its scratch held to 300 bytes) and called through ctypes: the C code checked against the numpy reference
without MicroPython, and timed without an interpreter around it. Developer tooling of a checkout.

    lib = load()                         # the library must be newer than native_module/
    loaded = CRuntime(pml_bytes, lib)    # pml_check'ed once, then invoked with no checks
    outputs = loaded.run([x])
"""
import ctypes
import time

import numpy as np

from .. import format, reference, resources
from ..errors import FormatError, PicomlError
from . import Batch, Bench, Runtime, zero_inputs

ROOT = resources.checkout("the c runtime (the C kernels through ctypes)")
SOURCES = ROOT / "native_module"
LIBRARIES = ROOT / "build" / "host"


def kernel_sources():
    """Every C file of the runtime except the MicroPython binding (mod*.c)."""
    return sorted(p for p in SOURCES.glob("*.c") if not p.name.startswith("mod"))


class Error(ctypes.Structure):
    """pml_error_t: what pml_check found wrong."""
    _fields_ = [(name, ctypes.c_int32) for name in ("op", "tensor", "rule", "detail", "value")]


def load(name="libpicoml.so"):
    """build/host/<name> through ctypes; PicomlError naming `make hostlib` when it is missing or older than
    native_module/."""
    library = LIBRARIES / name
    newest = max(p.stat().st_mtime for p in kernel_sources() + list(SOURCES.glob("*.h")))
    if not library.exists() or library.stat().st_mtime < newest:
        raise PicomlError("%s is missing or older than native_module/: run `make hostlib`" % library)
    lib = ctypes.CDLL(str(library))
    lib.pml_check.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(Error),
                              ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p]
    lib.pml_invoke.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.pml_invoke.restype = None
    return lib


def check(lib, blob, arena_size, scratch_at=None):
    """(status, (op, tensor, rule, detail, value) or the bytes of the kernels' scratch buffer) of pml_check on the
    .pml bytes: with scratch_at (a uint32 array of an entry per op, filled in), the buffer apart from the ops' places
    in the arena; without, the largest any op needs. blob is copied into a 4-byte aligned buffer first (ctypes'
    bytes need not be)."""
    buf = aligned(blob)
    error, scratch = Error(), ctypes.c_uint32()
    status = lib.pml_check(ctypes.cast(buf.ctypes.data, ctypes.c_char_p), len(blob), arena_size, ctypes.byref(error),
                           ctypes.byref(scratch), None if scratch_at is None else scratch_at.ctypes.data)
    if status == 0:
        return 0, scratch.value
    return status, (error.op, error.tensor, error.rule, error.detail, error.value)


def scratch_apart(lib, blob, arena_size):
    """(status, error or the bytes of the kernels' scratch buffer beside the arena) of pml_check placing each op's
    scratch in an arena of arena_size bytes, as the native module does at load."""
    n_ops = format.read_header(blob)["n_ops"]
    return check(lib, blob, arena_size, np.zeros(max(n_ops, 1), np.uint32))


def aligned(blob):
    """The bytes in a numpy buffer (numpy aligns its data to at least 16 bytes)."""
    return np.frombuffer(bytes(blob), np.uint8).copy()


class CRuntime:
    """One model in the C kernels: checked with pml_check at construction, then run() per input set."""

    def __init__(self, model_or_bytes, lib=None):
        self.lib = lib or load()
        self.blob = model_or_bytes if isinstance(model_or_bytes, bytes) else format.write(model_or_bytes)
        self.model = format.read(self.blob)
        self.arena = np.zeros(max(self.model.arena_size, 4), np.uint8)
        self.buf = aligned(self.blob)
        self.scratch_at = np.zeros(max(len(self.model.ops), 1), np.uint32)
        status, found = check(self.lib, self.blob, self.arena.size, self.scratch_at)
        if status != 0:
            message = format.device_module("refusal").message(self.blob, found)
            raise FormatError("pml_check refused the model: status %d: %s" % (status, message))
        self.scratch = np.zeros(max(found, 4), np.uint8)      # numpy aligns it to at least 16 bytes

    def set_inputs(self, inputs):
        for i, value in enumerate(inputs):
            t = self.model.tensors[self.model.inputs[i].tensor]
            data = reference.prepare_input(self.model, i, value).reshape(-1).view(np.uint8)
            self.arena[t.offset:t.offset + t.nbytes] = data

    def invoke(self):
        self.lib.pml_invoke(ctypes.cast(self.buf.ctypes.data, ctypes.c_char_p), self.arena.ctypes.data,
                            self.scratch.ctypes.data, self.scratch_at.ctypes.data)

    def run(self, inputs):
        if len(inputs) != len(self.model.inputs):
            raise PicomlError("the model takes %d inputs, got %d" % (len(self.model.inputs), len(inputs)))
        self.set_inputs(inputs)
        self.invoke()
        outputs = []
        for e in self.model.outputs:
            t = self.model.tensors[e.tensor]
            outputs.append(self.arena[t.offset:t.offset + t.nbytes].view(t.dtype).reshape(t.shape).copy())
        return outputs


VARIANTS = {None: "libpicoml.so", "m4": "libpicoml_m4.so", "m4-300": "libpicoml_m4_300.so", "m0": "libpicoml_m0.so"}


class CKernels(Runtime):
    name = "c"

    def __init__(self, variant=None):
        if variant not in VARIANTS:
            raise PicomlError("no c runtime variant %r: %s" % (variant, ", ".join(v for v in VARIANTS if v)))
        self.library = VARIANTS[variant]

    def run_batch(self, pml_bytes, batch, backend=None):
        self.backend(backend)
        loaded = CRuntime(bytes(pml_bytes), load(self.library))
        return Batch([loaded.run(inputs) for inputs in batch])

    def bench(self, pml_bytes, backend=None, count=20):
        self.backend(backend)
        loaded = CRuntime(bytes(pml_bytes), load(self.library))
        loaded.set_inputs(zero_inputs(loaded.model))
        loaded.invoke()
        start = time.perf_counter()
        for _ in range(count):
            loaded.invoke()
        return Bench(self.name, us=(time.perf_counter() - start) / count * 1e6)
