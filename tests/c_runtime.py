"""The C kernels and op-table walker built for this machine with gcc (`make hostlib`) and run through ctypes:
how the tests check the C code against the numpy reference without MicroPython."""
import ctypes
import pathlib

import numpy as np

from picoml import format, reference

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ROOT / "native_module"
LIBRARIES = ROOT / "build" / "host"


def kernel_sources():
    """Every C file of the runtime except the MicroPython binding (mod*.c)."""
    return sorted(p for p in SOURCES.glob("*.c") if not p.name.startswith("mod"))


def load(name="libpicoml.so"):
    """build/host/<name> (libpicoml.so: -O2; libpicoml_asan.so: AddressSanitizer/UBSan and the Cortex-M0
    arithmetic; libpicoml_O3.so: -O3) through ctypes; it must be newer than native_module/."""
    library = LIBRARIES / name
    newest = max(p.stat().st_mtime for p in kernel_sources() + list(SOURCES.glob("*.h")))
    if not library.exists() or library.stat().st_mtime < newest:
        raise RuntimeError("%s is missing or older than native_module/: run `make hostlib`" % library)
    lib = ctypes.CDLL(str(library))
    lib.pml_check.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32]
    lib.pml_invoke.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    return lib


class CRuntime:
    def __init__(self, model_or_bytes, lib=None):
        self.lib = lib or load()
        self.blob = model_or_bytes if isinstance(model_or_bytes, bytes) else format.write(model_or_bytes)
        self.model = format.read(self.blob)
        self.arena = np.zeros(max(self.model.arena_size, 4), np.uint8)
        status = self.lib.pml_check(self.blob, len(self.blob), self.arena.size)
        if status != 0:
            raise ValueError("pml_check refused the model: status %d" % status)

    def run(self, inputs):
        for i, value in enumerate(inputs):
            t = self.model.tensors[self.model.inputs[i].tensor]
            self.arena[t.offset:t.offset + t.nbytes] = reference.prepare_input(self.model, i, value).reshape(-1).view(np.uint8)
        status = self.lib.pml_invoke(self.blob, self.arena.ctypes.data)
        if status != 0:
            raise RuntimeError("pml_invoke failed with status %d" % status)
        outputs = []
        for e in self.model.outputs:
            t = self.model.tensors[e.tensor]
            outputs.append(self.arena[t.offset:t.offset + t.nbytes].view(t.dtype).reshape(t.shape).copy())
        return outputs
