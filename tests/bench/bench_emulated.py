"""Benchmark (prints numbers, asserts nothing): the C kernels per inference on emulated Cortex-M cores.

    .venv/bin/python tests/bench/bench_emulated.py [--samples N] [--models kws_ref_model,imu_gap,...]

For each model: rp2040js cycles of one pml_invoke on the Cortex-M0+ (RP2040), and instructions executed by the
same call on QEMU's Cortex-M4F (mps2-an386, the nRF52840's compiler flags) counted by the TCG plugin
emulation/baremetal/insn_count.c; averaged over N inputs (random int8; the counts vary by a few hundred with the data).
The millisecond columns are ROUGH ESTIMATES, not measurements:
  - RP2040 ms = rp2040js cycles / 125 MHz. rp2040js models no flash wait states and no bus contention (the model
    is read from XIP flash here; a real Pico's 16 KB XIP cache misses cost more).
  - nRF52840 ms = M4 instructions / 64 MHz, i.e. one instruction per cycle. A real Cortex-M4 takes 2 cycles for
    most loads, more for taken branches and flash wait states: expect the real time to be higher.
Needs scripts/install-system-packages.sh and `make baremetal`; the generated models (imu_gap, ...) need TensorFlow.
"""
import argparse
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from picoml import format, reference, report  # noqa: E402
from picoml.runtimes import bare as baremetal  # noqa: E402
from picoml.convert import convert  # noqa: E402

SHARED = ROOT.parent / "shared" / "conformance"
REAL = {p.stem: p for p in sorted((SHARED / "mlperf_tiny").glob("*.tflite"))}
REAL["micro_speech_quantized"] = SHARED / "micro_speech" / "micro_speech_quantized.tflite"
DEFAULT_MODELS = sorted(REAL) + ["imu_gap"]
RP2040_HZ = 125e6
NRF52840_HZ = 64e6


def tflite_path(name):
    if name in REAL:
        return REAL[name]
    import genmodels
    return genmodels.build_tflite(name, ROOT / "build" / "genmodels")


def measure(images, name, n_samples):
    path = tflite_path(name)
    model = convert(path.read_bytes(), path.name, measure_tflm=False)
    blob = format.write(model)
    model = format.read(blob)
    t = model.tensors[model.inputs[0].tensor]
    rng = np.random.default_rng(1)
    samples = [rng.integers(-128, 128, t.shape).astype(np.int8) for _ in range(n_samples)]
    want = [reference.run(model, [x]) for x in samples]
    row = {"model": name, "macs": sum(report.macs(model, op) for op in model.ops), "bytes": len(blob),
           "arena": model.arena_size}
    for core in ("m0plus", "m4"):
        r = baremetal.run(core, blob, samples, images, model=model)
        exact = all(np.array_equal(o, w) for ours, theirs in zip(r.outputs, want) for o, w in zip(ours, theirs))
        row[core + "_exact"] = exact
        row[core + "_insns"] = float(np.mean(r.insns))
        if r.cycles:
            row[core + "_cycles"] = float(np.mean(r.cycles))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2, help="inputs per model (default 2)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model names")
    args = parser.parse_args()
    images = baremetal.built_images()
    rows = []
    for name in args.models.split(","):
        try:
            rows.append(measure(images, name, args.samples))
        except ImportError as e:       # a generated model without TensorFlow
            print("skipped %s: %s" % (name, e), file=sys.stderr)
            continue
        print("measured %s" % name, file=sys.stderr)
    print("Per pml_invoke (one inference), mean of %d random int8 inputs; outputs checked byte for byte against "
          "the numpy reference." % args.samples)
    print("M0+ = Cortex-M0+ on rp2040js (cycles from its model); M4 = Cortex-M4F on QEMU mps2-an386 (instructions "
          "from a TCG plugin).")
    print("'est.' columns are rough estimates: RP2040 = M0+ cycles / 125 MHz (no flash wait states modelled); "
          "nRF52840 = M4 instructions / 64 MHz (assumes 1 instruction per cycle; real M4 code needs more).\n")
    print("| model | MACs | M0+ instructions | M0+ cycles | M0+ cycles/MAC | est. RP2040 ms @125 MHz | "
          "M4 instructions | M4 instr/MAC | est. nRF52840 ms @64 MHz | exact |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        macs = max(r["macs"], 1)
        print("| %s | %s | %s | %s | %.1f | %.2f | %s | %.2f | %.2f | %s |" % (
            r["model"], format_int(r["macs"]), format_int(r["m0plus_insns"]), format_int(r["m0plus_cycles"]),
            r["m0plus_cycles"] / macs, r["m0plus_cycles"] / RP2040_HZ * 1e3, format_int(r["m4_insns"]),
            r["m4_insns"] / macs,
            r["m4_insns"] / NRF52840_HZ * 1e3, "yes" if r["m0plus_exact"] and r["m4_exact"] else "NO"))


def format_int(x):
    return "{:,}".format(int(round(x)))


if __name__ == "__main__":
    main()
