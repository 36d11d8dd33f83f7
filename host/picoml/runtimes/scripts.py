"""The MicroPython programs the device runtimes (unix, qemu-*, boards) run, and their host side: the model and
the inputs go to files on the device, RUN loads the model as `m` with the line `load`, runs every input set and
writes the outputs to a file; BENCH times `count` inferences and measures the heap."""
from .. import format
from . import Batch, Bench, pack_inputs, unpack_outputs

# %(load)s loads the model as `m`; the input sets are read from %(inputs)r, the outputs written to %(outputs)r.
# The input buffers are allocated first, while the heap is in one piece (a 27 KB input after a large model on a
# 180 KB heap may find no hole big enough).
RUN = """
import picoml
bufs = [bytearray(n) for n in %(sizes)r]
%(load)s
src = open(%(inputs)r, 'rb')
dst = open(%(outputs)r, 'wb')
for i in range(%(count)d):
    for b in bufs:
        src.readinto(b)
    y = m.predict(bufs[0] if len(bufs) == 1 else bufs)
    for o in (y if isinstance(y, (list, tuple)) else (y,)):
        dst.write(o)
src.close()
dst.close()
print('picoml-run', m.backend)
"""

# the model loaded and run twice, then its heap in use and what one predict() allocates, with the collector off
# (-1: more than the heap had free, as the pure-Python kernels' long ints on a 32-bit board; collected between
# predictions, such a model still runs)
BENCH_HEAP = """
import gc, picoml
%(load)s
x = bytearray(%(size)d)
m.predict(x)
gc.collect()
m.predict(x)
used = gc.mem_alloc()
gc.collect()
per_inference = -1
before = 0          # (every global exists before the measured span: adding one may grow the module's dict)
gc.disable()
try:
    before = gc.mem_alloc()
    m.predict(x)
    per_inference = gc.mem_alloc() - before
except MemoryError:
    pass
gc.enable()
gc.collect()
"""

BENCH = BENCH_HEAP + """us = m.benchmark(%(count)d)
print('picoml-bench', m.backend, us, per_inference, used)
"""


def load_line(path, backend, source=None):
    """The line that loads the model file at `path` as `m` (source: an expression giving the file's bytes
    instead, e.g. a memoryview of it)."""
    return "m = picoml.load(%s, backend=%r)" % (source or repr(path), backend)


def run_source(pml_bytes, batch, load, inputs_path, outputs_path):
    """(RUN for this model and batch, the input bytes to put at inputs_path)."""
    model = format.read(pml_bytes)
    sizes = [model.tensors[e.tensor].nbytes for e in model.inputs]
    return (RUN % {"load": load, "sizes": sizes, "inputs": inputs_path, "outputs": outputs_path,
                   "count": len(batch)}, pack_inputs(model, batch))


def run_result(pml_bytes, stdout, output_bytes, count):
    """The Batch from RUN's printout and the output file's bytes."""
    backend = _last(stdout, "picoml-run")[0]
    return Batch(unpack_outputs(format.read(pml_bytes), output_bytes, count), backend=backend)


def bench_source(pml_bytes, load, count):
    model = format.read(pml_bytes)
    return BENCH % {"load": load, "size": model.tensors[model.inputs[0].tensor].nbytes, "count": count}


def bench_result(runtime, stdout):
    backend, us, per_inference, used = _last(stdout, "picoml-bench")
    return Bench(runtime, backend, us=float(us), heap_per_inference=int(per_inference), heap_used=int(used))


def _last(stdout, tag):
    for line in reversed(stdout.splitlines()):
        if line.startswith(tag + " "):
            return line.split()[1:]
    from ..errors import PicomlError
    raise PicomlError("the device printed no %r line:\n%s" % (tag, stdout[-2000:]))
