"""Where the Cortex-M0+ spends its cycles: one inference of a model's C kernels on rp2040js (the bare-metal image,
no MicroPython), every instruction's cycles summed per function of the image. Not a test: prints the functions,
most cycles first, with their share (what the Armv6-M kernels were tuned with).

    .venv/bin/python tests/bench/profile_m0plus.py MODEL.tflite|MODEL.pml [--top N] [--annotate FUNCTION]

--annotate prints a function's disassembly (arm-none-eabi-objdump) with each instruction's cycles in front: where
an assembly kernel's loops and bookkeeping spend them.

The input is random int8 (the kernels' paths do not depend on the values, except for the requantization's rare
general case). `make emulation` builds the image."""
import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "host"))
from picoml import format  # noqa: E402
from picoml.convert import convert  # noqa: E402
from picoml.runtimes import bare  # noqa: E402


def profile(path):
    """(cycles of the inference, [(function, cycles)], [(address, cycles)])"""
    data = pathlib.Path(path).read_bytes()
    blob = format.write(convert(data, str(path))) if str(path).endswith(".tflite") else data
    model = format.read(blob)
    rng = np.random.default_rng(0)
    sample = [rng.integers(-128, 128, model.tensors[io.tensor].shape).astype(model.tensors[io.tensor].dtype)
              for io in model.inputs]
    result = bare.run("m0plus", blob, [sample], profile=True)
    return result.cycles[0], result.functions, result.addresses


def annotate(function, addresses):
    """The lines of `function`'s disassembly in the rp2040js image, each with its instruction's cycles."""
    import subprocess
    elf = bare.built_images().rp2040.with_suffix(".elf")
    text = subprocess.run([bare.CROSS + "objdump", "-d", "--no-show-raw-insn", str(elf)], check=True,
                          capture_output=True, text=True).stdout
    cycles = dict(addresses)
    lines, inside = [], False
    for line in text.splitlines():
        if line.endswith(">:"):
            inside = line.endswith("<%s>:" % function)
        elif inside and ":" in line:
            address = line.split(":")[0].strip()
            n = cycles.get(int(address, 16), 0) if address and all(c in "0123456789abcdef" for c in address) else 0
            lines.append("%10s %s" % (n or "", line))
    if not lines:
        raise SystemExit("no function %r in %s" % (function, elf))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--annotate", metavar="FUNCTION", help="also print this function's disassembly with cycles")
    args = parser.parse_args(argv)
    cycles, functions, addresses = profile(args.model)
    print("%s: %d cycles (rp2040js, the kernels alone)" % (args.model, cycles))
    for name, n in functions[:args.top]:
        print("%12d %6.1f%%  %s" % (n, 100.0 * n / cycles, name))
    rest = sum(n for _, n in functions[args.top:])
    if rest:
        print("%12d %6.1f%%  (%d other functions)" % (rest, 100.0 * rest / cycles, len(functions) - args.top))
    if args.annotate:
        print("\n".join(annotate(args.annotate, addresses)))


if __name__ == "__main__":
    main()
