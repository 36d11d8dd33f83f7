"""Benchmark (prints numbers, asserts nothing): the smallest MicroPython heap with which picoml.load and one
inference work, per model, target and backend.

    .venv/bin/python tests/bench/bench_memory.py [--models kws_ref_model,imu_gap] [--targets unix,m4,m0]
                                                 [--backends native,python] [--flash] [--native-code flash]

Targets: "unix" is MicroPython's unix port on x64 (the library compiled to .mpy as deployed, -X heapsize), "m4" and
"m0" picoml's MicroPython port on QEMU's Cortex-M4F and Cortex-M0 (--heap). The model file is read into the heap
(picoml.load(path)); with --flash the emulated boards also load it in place from flash (as from ROMFS), where the
heap holds only the arena and the library; with --native-code flash the M4 board keeps native code outside the
heap (its firmware's --native-code=flash, docs/memory.md; the M0 board has no such option and is left out). The
search (tests/heap_sweep.py) bisects to 256 bytes and then checks the 8 heaps above: the number is one from which
load + predict keep working. 64-bit unix objects are about twice the size of the boards' 32-bit ones. "-" means
it does not fit in the largest heap the target has (M0: ~241 KB).
Models: the MLPerf Tiny conformance models (../shared/conformance) and the generated imu_gap (needs TensorFlow).
"""
import argparse
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import heap_sweep  # noqa: E402
from picoml import format  # noqa: E402
from picoml.convert import convert  # noqa: E402

MLPERF = {p.stem: p for p in sorted((ROOT.parent / "shared" / "conformance" / "mlperf_tiny").glob("*.tflite"))}
DEFAULT_MODELS = sorted(MLPERF) + ["imu_gap"]


def tflite(name):
    if name in MLPERF:
        return MLPERF[name].read_bytes()
    import genmodels
    return genmodels.build_tflite(name, ROOT / "build" / "genmodels").read_bytes()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--targets", default="unix,m4,m0")
    ap.add_argument("--backends", default="native,python")
    ap.add_argument("--flash", action="store_true", help="also the emulated boards with the model in flash")
    ap.add_argument("--native-code", default="heap", choices=("heap", "flash"),
                    help="where the emulated boards put native code (flash: the M4 only)")
    args = ap.parse_args(argv)
    targets = args.targets.split(",")
    if args.native_code == "flash":
        targets = [t for t in targets if t != "m0"]
    backends = args.backends.split(",")
    columns = [(t, b, "ram") for t in targets for b in backends]
    if args.flash:
        columns += [(t, b, "flash") for t in targets if t != "unix" for b in backends]
    head = ["%s %s%s" % (t, b, " (flash)" if where == "flash" else "") for t, b, where in columns]
    print("smallest heap (bytes) with which picoml.load + one predict work")
    print("%-30s %8s %8s  %s" % ("model", "file", "arena", "  ".join("%15s" % h for h in head)))
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = convert(tflite(name), name, measure_tflm=False)
            path = pathlib.Path(tmp) / (name + ".pml")
            blob = format.write(model)
            path.write_bytes(blob)
            cells = []
            for target, backend, where in columns:
                try:
                    heap = heap_sweep.smallest_heap(path, backend, target, model_in=where,
                                                    native_code="heap" if target == "unix" else args.native_code)
                    cells.append("%15s" % ("-" if heap is None else "{:,}".format(heap)))
                except AssertionError as e:          # anything but a MemoryError or success: say so
                    cells.append("%15s" % "FAILED")
                    print("  %s %s %s: %s" % (name, target, backend, e), file=sys.stderr)
            print("%-30s %8d %8d  %s" % (name, len(blob), model.arena_size, "  ".join(cells)), flush=True)
    print("(%.0f s)" % (time.monotonic() - start))


if __name__ == "__main__":
    main()
