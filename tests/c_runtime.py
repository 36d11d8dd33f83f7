"""The C kernels and op-table walker built for this machine with gcc and run through ctypes: how the tests
check the C code against the numpy reference without MicroPython."""
import ctypes
import pathlib
import subprocess

import numpy as np

from picoml import format, reference

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ROOT / "native_module"
LIBRARY = ROOT / "build" / "host" / "libpicoml.so"
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC"]


def kernel_sources():
    """Every C file of the runtime except the MicroPython binding (mod*.c)."""
    return sorted(p for p in SOURCES.glob("*.c") if not p.name.startswith("mod"))


def build(extra_flags=()):
    sources = kernel_sources()
    inputs = sources + list(SOURCES.glob("*.h"))
    if not LIBRARY.exists() or LIBRARY.stat().st_mtime < max(p.stat().st_mtime for p in inputs) or extra_flags:
        LIBRARY.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", *CFLAGS, *extra_flags, "-o", str(LIBRARY), *map(str, sources)], check=True)
    lib = ctypes.CDLL(str(LIBRARY))
    lib.pml_check.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32]
    lib.pml_invoke.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    return lib


class CRuntime:
    def __init__(self, model_or_bytes, lib=None):
        self.lib = lib or build()
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
