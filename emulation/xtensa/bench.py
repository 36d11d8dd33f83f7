"""Instructions per inference of the ESP32 build of the C kernels on QEMU's Xtensa dc233c core (docs/esp32.md):
`make xtensa`, then  python emulation/xtensa/bench.py [MODEL.pml|.tflite ...]  (default: the MLPerf Tiny models,
micro_speech and models/*/*.pml). Per model: the instructions from the harness's pml_mark_begin to pml_mark_end
around one pml_invoke (MUL32_HIGH counted as the one instruction it is on the ESP32), and those start.S's handlers
executed meanwhile (window spills and refills, allocas, the software mulsh/muluh: not ESP32 cost, but for the
window handling). Exact counts of this instruction stream; an LX6's cycles are not modelled."""
import pathlib
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "emulation" / "xtensa"
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "tests")]


def symbols(elf):
    out = subprocess.run(["xtensa-lx106-elf-nm", str(elf)], check=True, capture_output=True, text=True).stdout
    return {f[2]: int(f[0], 16) for f in (line.split() for line in out.splitlines()) if len(f) == 3}


def count(blob, x):
    """(instructions, handler instructions) of one pml_invoke of the .pml `blob` on input bytes x."""
    elf = BUILD / "dc233c.elf"
    sym = symbols(elf)
    data = b"PMLX" + struct.pack("<III", len(blob), len(x), 0) + blob + bytes(-len(blob) % 16) + x
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        (work / "blob.bin").write_bytes(data)
        plugin = "%s,begin=%#x,end=%#x,vectors=%#x:%#x" % (
            BUILD / "libinsn_count_xtensa.so", sym["pml_mark_begin"], sym["pml_mark_end"],
            sym["__vectors_start"], sym["__vectors_end"])
        p = subprocess.run(["qemu-system-xtensa", "-M", "sim", "-cpu", "dc233c", "-nographic", "-semihosting",
                            "-monitor", "none", "-serial", "none", "-kernel", str(elf),
                            "-device", "loader,file=%s,addr=0x04000000,force-raw=on" % (work / "blob.bin"),
                            "-plugin", plugin, "-d", "plugin", "-D", str(work / "plugin.log")],
                           capture_output=True, text=True, timeout=600)
        if "picoml-harness status=0 samples=1" not in p.stdout:
            raise RuntimeError("harness failed: %s %s" % (p.stdout, p.stderr))
        fields = (work / "plugin.log").read_text().split()
    return int(fields[1]), int(fields[3])


def main(paths):
    from picoml import convert, cycles, format
    import models
    if not paths:
        paths = sorted((models.CONFORMANCE / "mlperf_tiny").glob("*.tflite")) + sorted(ROOT.glob("models/*/*.pml"))
    print("%-28s %12s %10s %10s" % ("model", "insns", "per MAC", "handlers"))
    for path in map(pathlib.Path, paths):
        if path.suffix == ".pml":
            blob = path.read_bytes()
        else:
            blob = format.write(convert.convert(path.read_bytes(), measure_tflm=False))
        model = format.read(blob)
        x = b"".join(np.zeros(model.tensors[e.tensor].nbytes, np.uint8).tobytes() for e in model.inputs)
        insns, handlers = count(blob, x)
        macs = cycles.model_macs(model)[1]
        print("%-28s %12d %10s %10d" % (path.stem, insns, "%.2f" % (insns / macs) if macs else "-", handlers))


if __name__ == "__main__":
    main(sys.argv[1:])
