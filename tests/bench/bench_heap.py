"""Benchmark (prints numbers, asserts nothing): what the MicroPython heap holds besides a model's file and arena
on picoml's MicroPython port (emulated Cortex-M4F and Cortex-M0, picoml.runtimes.qemu), part by part, and the
smallest heap that runs DS-CNN (kws_ref_model) read from a file, per board. docs/memory.md has the numbers.

    .venv/bin/python tests/bench/bench_heap.py [--targets m4,m0] [--native-code heap,flash] [--model X.tflite|.pml]
                                               [--modules default,full,nofrontend] [--no-sweep]

Every number is gc.mem_alloc() after gc.collect() in a fresh interpreter, in bytes:
  interpreter      the heap in use when the script starts (sys.path, sys.argv, the script's own objects)
  picoml           `import picoml` alone (the package: load() and its helpers)
  native module    the import of the native module the model runs on alone (its code, when it goes to the heap,
                   and its objects): _picoml_core for a model without the ops only _picoml has, else _picoml
  picoml.model     `import picoml.model` minus `import picoml`: the part of the library that stays while a model runs
  load residue     what the first picoml.load leaves behind besides the modules, the model's objects, file and
                   arena: mostly the names (qstrs) the load-time code interned, which MicroPython never frees
  model objects    a second load of the same bytes minus its arena: the Model, its IO tuples, views and buffers
  overhead         all of it: heap in use after `picoml.load(path)` and one predict, minus the interpreter's
                   start, the file, the arena and the kernels' scratch beside it (the library + native module
                   cost the issue's goal bounds)
The smallest heap is bisected to 256 bytes (tests/heap_sweep.py: load + one predict work there and on the 8
heaps above); "goal" is file + arena + 32 KB. --native-code flash: the M4 firmware's option that keeps native
code outside the heap (the M0 board's flash is not writable, so it has no such option). --modules: what
`picoml deploy` installs ("default": _picoml.mpy and _picoml_core.mpy, the library picking one for the model),
the native module with every op ("full", under both names: what a model with an op only it has, or any model
once _picoml or picoml.audio is imported, runs on) and what `picoml deploy --without-frontend` installs ("nofrontend":
the small one alone, as _picoml.mpy). A model that needs none of the ops only _picoml has, such as DS-CNN, runs on all three.
"""
import argparse
import pathlib
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import heap_sweep  # noqa: E402
from picoml import dist, format, resources  # noqa: E402
from picoml.runtimes import qemu  # noqa: E402

KWS = ROOT.parent / "shared" / "conformance" / "mlperf_tiny" / "kws_ref_model.tflite"
GOAL = 32 * 1024
BIG_HEAP = {"m4": 1000000, "m0": 230000}

MODULE = """
import gc
gc.collect()
a = gc.mem_alloc()
import %s
gc.collect()
print("MEM", gc.mem_alloc() - a)
"""

LOAD = """
import gc, sys
gc.collect()
start = gc.mem_alloc()
x = bytes(%(size)d)
data = open(%(path)r, "rb").read()
gc.collect()
base = gc.mem_alloc()
import picoml
m = picoml.load(%(path)r)
m.predict(x)
gc.collect()
first = gc.mem_alloc()
before = first
m2 = picoml.load(data)
gc.collect()
second = gc.mem_alloc() - before
import qemu
mem = qemu.mem()
print("MEM", start, first - base, second, mem[4] if len(mem) > 4 else 0, m._native.scratch() if m._native else 0,
      " ".join(sorted(sys.modules)))
"""


def measure(target, path, native_code, modules="default"):
    """{name: bytes} of the heap's parts on the target with the native modules `modules` (see the module's
    docstring)."""
    blob = path.read_bytes()
    model = format.read(blob)
    size = model.tensors[model.inputs[0].tensor].nbytes

    def run(source):
        out = qemu.run_script(source, target, heapsize=BIG_HEAP[target], native_code=native_code,
                              natmod=natmod(target, modules))
        return [line.split()[1:] for line in out.splitlines() if line.startswith("MEM ")][-1]

    parts = {}
    native = "_picoml_core" if modules != "nofrontend" and not _full_only(model) else "_picoml"
    for name in ("picoml", native, "picoml.model"):
        parts[name] = int(run(MODULE % name)[0])
    parts["picoml.model"] -= parts["picoml"]
    parts["native module"] = parts.pop(native)
    arena = model.arena_size
    base, first, second, code, scratch, *modules = run(LOAD % {"size": size, "path": str(path)})
    file_bytes = len(blob)
    # the kernels' scratch (allocated at load, a working buffer beside the arena) counts with the arena
    parts["model objects"] = int(second) - int(arena) - int(scratch)
    parts["overhead"] = int(first) - file_bytes - int(arena) - int(scratch)
    parts["load residue"] = parts["overhead"] - parts["picoml"] - parts["native module"] - parts["picoml.model"] \
        - parts["model objects"]
    parts["interpreter"] = int(base)
    parts["native code outside the heap"] = int(code)
    parts["file"], parts["arena"], parts["scratch"] = file_bytes, int(arena), int(scratch)
    parts["modules"] = " ".join(modules)
    return parts


def _full_only(model):
    from picoml.optable import FULL_ONLY_OPS
    return any(op.name in FULL_ONLY_OPS for op in model.ops)


def natmod(target, modules):
    """The folder of the native modules `modules` (see the module's docstring) for the target."""
    arch = qemu.TARGETS[target]["arch"]
    if modules == "full":       # the full module under both names, in a folder of its own (first on sys.path)
        folder = ROOT / "build" / "heap_full" / arch
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("_picoml.mpy", dist.NATIVE_CORE):
            shutil.copy(resources.natmod(arch), folder / name)
        return folder
    if modules not in ("default", "nofrontend"):
        raise ValueError("modules must be default, full or nofrontend, not %r" % modules)
    return resources.natmod_dir(arch, modules == "default")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="m4,m0")
    ap.add_argument("--native-code", default="heap,flash")
    ap.add_argument("--model", default=str(KWS))
    ap.add_argument("--modules", default="default,full,nofrontend")
    ap.add_argument("--no-sweep", action="store_true", help="only the breakdown, not the smallest heap")
    args = ap.parse_args(argv)
    path = pathlib.Path(args.model)
    with tempfile.TemporaryDirectory(prefix="picoml_heap_") as tmp:
        if path.suffix != ".pml":
            from picoml.convert import convert
            pml = pathlib.Path(tmp) / (path.stem + ".pml")
            pml.write_bytes(format.write(convert(path.read_bytes(), path.name, measure_tflm=False)))
            path = pml
        rows = []
        for target in args.targets.split(","):
            for module in args.modules.split(","):
                for where in args.native_code.split(","):
                    if where == "flash" and target != "m4":
                        continue
                    parts = measure(target, path, where, module)
                    heap = None
                    if not args.no_sweep:
                        heap = heap_sweep.smallest_heap(path, "native", target, native_code=where,
                                                        natmod=natmod(target, module))
                    rows.append(("qemu-%s, %s, code in %s" % (target, module, where), parts, heap))
    print("%s: file %d bytes, arena %d bytes; heap in use, bytes (gc.mem_alloc after gc.collect)"
          % (path.name, rows[0][1]["file"], rows[0][1]["arena"]))
    keys = ("interpreter", "picoml", "native module", "picoml.model", "load residue", "model objects", "overhead")
    print("%-34s %s %9s %9s %9s" % ("board", " ".join("%13s" % k for k in keys), "smallest", "goal", "code out"))
    for label, parts, heap in rows:
        goal = parts["file"] + parts["arena"] + GOAL
        print("%-34s %s %9s %9d %9d" % (label, " ".join("%13d" % parts[k] for k in keys),
                                        "-" if heap is None else heap, goal, parts["native code outside the heap"]))
    print("resident modules after load + predict:", rows[0][1]["modules"])


if __name__ == "__main__":
    main()
