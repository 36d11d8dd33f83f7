"""The native module's optimisation level per arch: code size of _picoml.mpy against speed, for -Os, -O2, -O3 and
"shipped" (native_module/opt.mk's choice: -O2, the files that run once per load or op at -Os; the README's table is
this script's output). Builds each level into build/natmod_opt/<level>/ (the native modules, and the bare-metal
images with the same level) and measures:

    x64        µs per predict() on the unix port, the best and the median of --repeat runs (the machine is shared
               and loaded: the µs move run to run; the best is the least disturbed)
    armv7emsp  instructions and estimated Cortex-M4 cycles of one whole predict() inside MicroPython on qemu-m4
    armv6m     instructions (and estimated Cortex-M0+ cycles) of one predict() inside MicroPython on qemu-m0, and
               rp2040js cycles of the kernels alone (bare-m0plus)
    armv7m     instructions and estimated Cortex-M4 cycles inside MicroPython on qemu-m4 (a Cortex-M4 runs armv7m
               code; no board of ours is armv7m: for the record)

    nice -n 19 .venv/bin/python tests/bench/bench_natmod_opt.py [--levels -Os,-O2,-O3,shipped] [--models a,b]
        [--repeat 5]
Prints a markdown table; asserts nothing.
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import models  # noqa: E402
from picoml import format, report  # noqa: E402
from picoml.convert import convert  # noqa: E402
from picoml.runtimes import bare, qemu, scripts, unix, zero_inputs  # noqa: E402

ARCHS = ("x64", "armv7emsp", "armv6m", "armv7m")
MODELS = ("kws_ref_model", "str_ww_ref_model", "ad01_int8")


def build(level, out):
    """The native modules (every arch of ARCHS) and the bare-metal images at optimisation `level` under `out`;
    {arch: why} for the builds that failed (e.g. a helper of libgcc called, which a native module has not)."""
    env = dict(os.environ, PATH="%s:%s" % (ROOT / ".venv" / "bin", os.environ["PATH"]))
    opt = [] if level == "shipped" else ["PML_OPT=" + level]
    shutil.rmtree(out, ignore_errors=True)      # from scratch: make does not rebuild for other flags
    failed = {}
    for arch in ARCHS:
        folder = out / arch
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Makefile").write_text("include %s/native_module/Makefile\n" % ROOT)
        done = subprocess.run(["make", "--no-print-directory", "-s", "-C", str(folder), "ARCH=" + arch,
                               "MPY_DIR=%s" % (ROOT / "build" / "natkit" / "micropython"), *opt],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            failed[arch] = [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line][0]
    subprocess.run(["make", "--no-print-directory", "-s", "-C", str(ROOT / "emulation"), "baremetal",
                    "BUILD=%s" % (out / "baremetal"), *opt], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return failed


def model_blob(name):
    for path in list((models.CONFORMANCE / "mlperf_tiny").glob("*.tflite")) + [
            models.CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite"]:
        if path.stem == name:
            return format.write(convert(path.read_bytes(), path.name))
    for path in (ROOT / "models").glob("*/*.pml"):
        if path.stem == name:
            return path.read_bytes()
    raise SystemExit("no model %s" % name)


def unix_us(blob, natmod, repeat, count=20):
    runs = []
    with tempfile.TemporaryDirectory(prefix="picoml_opt_") as tmp:
        path = pathlib.Path(tmp) / "model.pml"
        path.write_bytes(blob)
        source = scripts.bench_source(blob, scripts.load_line(str(path), "native"), count)
        for _ in range(repeat):
            runs.append(scripts.bench_result("unix", unix.run_script(source, natmod=str(natmod))).us)
    return min(runs), statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="-Os,-O2,-O3,shipped")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeat", type=int, default=5, help="unix-port runs per model and level")
    parser.add_argument("--no-build", action="store_true", help="measure what build/natmod_opt holds")
    args = parser.parse_args()
    levels = args.levels.split(",")
    names = args.models.split(",")
    blobs = {name: model_blob(name) for name in names}
    rows = []
    failures = {}
    for level in levels:
        out = ROOT / "build" / "natmod_opt" / level
        if not args.no_build:
            print("building %s" % level, file=sys.stderr)
            failures[level] = build(level, out)
        mpy = {arch: out / arch / "_picoml.mpy" for arch in ARCHS}
        sizes = {arch: path.stat().st_size if path.exists() else None for arch, path in mpy.items()}
        images = bare.Images(out / "baremetal")
        for name, blob in blobs.items():
            print("measuring %s %s" % (level, name), file=sys.stderr)
            model = format.read(blob)
            macs = sum(report.macs(model, op) for op in model.ops)
            best, median = unix_us(blob, out / "x64", args.repeat)
            m4 = qemu.Qemu("m4", natmod=out / "armv7emsp", count_classes=True).bench(blob, "native", count=1)
            m0 = None
            if sizes["armv6m"]:
                m0 = qemu.Qemu("m0", natmod=out / "armv6m", count_classes=True).bench(blob, "native", count=1)
            k0 = bare.run("m0plus", blob, [zero_inputs(model)], images).cycles[0]
            m7 = qemu.Qemu("m4", natmod=out / "armv7m", count_classes=True).bench(blob, "native", count=1)
            rows.append((level, name, macs, sizes, best, median, m4, m0, k0, m7))
    c = lambda v: "–" if v is None else "{:,}".format(v)  # noqa: E731
    print("| level | model | x64 .mpy | x64 µs best / median | armv7emsp .mpy | M4 instructions | M4 est. cycles "
          "| armv6m .mpy | M0 instructions | M0+ est. cycles | M0+ kernels cycles (rp2040js) | armv7m .mpy "
          "| its M4 est. cycles |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for level, name, macs, sizes, best, median, m4, m0, k0, m7 in rows:
        print("| %s | %s | %s | %.0f / %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            level, name, c(sizes["x64"]), best, median, c(sizes["armv7emsp"]), c(m4.instructions),
            c(m4.cycles_estimate), c(sizes["armv6m"]), c(m0 and m0.instructions), c(m0 and m0.cycles_estimate),
            c(k0), c(sizes["armv7m"]), c(m7.cycles_estimate)))
    for level, failed in failures.items():
        for arch, why in failed.items():
            print("%s %s: not built: %s" % (level, arch, why))


if __name__ == "__main__":
    main()
