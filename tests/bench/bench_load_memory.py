"""Heap in use after picoml.load (gc.mem_alloc() after a collection), per backend, on the unix port and on the
emulated Cortex-M4F (QEMU), for one model (DS-CNN, kws_ref_model, by default). Printed, not asserted: compare a
run before and after a change of the load path.

    python tests/bench/bench_load_memory.py [model.tflite|model.pml] [--heapsize 4m] [--m4-heapsize 200000]

"after load" is gc.mem_alloc() right after load() and gc.collect(); "after predict" after one inference and
another collection (what `picoml bench` prints as "heap after load"). On QEMU the model is read into the heap
(ram) when it fits, else used in place from flash as from ROMFS (flash).
"""
import argparse
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host"))

from picoml import format  # noqa: E402
from picoml.runtimes import DEVICE_BACKENDS, qemu, unix as unix_port  # noqa: E402
from picoml.convert import convert  # noqa: E402
from picoml.errors import PicomlError  # noqa: E402

SCRIPT = """
import gc, picoml
gc.collect()
base = gc.mem_alloc()
%(load)s
gc.collect()
loaded = gc.mem_alloc()
m.predict(bytearray(%(size)d))
gc.collect()
print("MEM", m.backend, loaded - base, gc.mem_alloc() - base, loaded, gc.mem_alloc())
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=str(ROOT.parent.parent / "shared" / "conformance" / "mlperf_tiny"
                                                    / "kws_ref_model.tflite"))
    ap.add_argument("--heapsize", default="4m")
    ap.add_argument("--m4-heapsize", default=None)
    args = ap.parse_args()
    path = pathlib.Path(args.model)
    if not path.exists():
        path = ROOT.parent / "shared" / "conformance" / "mlperf_tiny" / "kws_ref_model.tflite"
    data = path.read_bytes()
    blob = data if path.suffix == ".pml" else format.write(convert(data, path.name, measure_tflm=False))
    model = format.read(blob)
    size = model.tensors[model.inputs[0].tensor].nbytes
    print("%s: file %d bytes, arena %d bytes" % (path.name, len(blob), model.arena_size))
    print("%-34s %-8s %12s %14s %14s %16s" % ("where", "backend", "load delta", "+predict delta", "mem_alloc load",
                                             "mem_alloc predict"))
    with tempfile.TemporaryDirectory() as tmp:
        pml = pathlib.Path(tmp) / "model.pml"
        pml.write_bytes(blob)
        for backend in DEVICE_BACKENDS:
            load = "m = picoml.load(%r, backend=%r)" % (str(pml), backend)
            try:
                out = unix_port.run_script(SCRIPT % {"load": load, "size": size}, args.heapsize, natmod=True)
                _print("unix port x64, heap %s" % args.heapsize, out)
            except PicomlError as e:
                print("%-34s %-8s %s" % ("unix port x64", backend, str(e).strip().splitlines()[-1]))
        for backend in DEVICE_BACKENDS:
            for model_in in ("ram", "flash"):
                load = qemu._load_line(model_in, str(pml), backend)
                try:
                    out = qemu.run_script(SCRIPT % {"load": load, "size": size}, "m4", args.m4_heapsize)
                except PicomlError as e:
                    print("%-34s %-8s %s" % ("qemu m4 (%s)" % model_in, backend, str(e).strip().splitlines()[-1]))
                    continue
                _print("qemu m4, model in %s" % model_in, out)
                break


def _print(where, out):
    line = [ln for ln in out.splitlines() if ln.startswith("MEM ")][-1].split()
    print("%-34s %-8s %12s %14s %14s %16s" % (where, *line[1:]))


if __name__ == "__main__":
    main()
