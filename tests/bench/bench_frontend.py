"""Benchmark (prints numbers, asserts nothing): the audio front-end's cost per 20 ms hop.

    .venv/bin/python tests/bench/bench_frontend.py [--clip yes_1000ms]

For the micro_speech front-end (models/frontend/frontend.pml) on a shared clip, per hop of 320 samples:
  - the C kernels alone (one pml_invoke, bare metal): instructions on QEMU's Cortex-M4F (mps2-an386, counted by the
    TCG plugin emulation/baremetal/insn_count.c) and rp2040js cycles on the Cortex-M0+;
  - picoml.audio.Frontend.feed() in MicroPython on the emulated Cortex-M4F with the native module (QEMU -icount
    shift=0: one instruction per nanosecond of guest time, so ticks_us differences are thousands of
    instructions), and Model.invoke() alone there;
  - Frontend.feed() in MicroPython's unix port (this machine, x64; a loaded machine inflates it), per backend.
The millisecond and percent columns are estimates: M4 instructions / 64 MHz (one instruction per cycle; a real
Cortex-M4 takes more cycles per instruction), RP2040 cycles / 125 MHz, against the 20 ms of audio per hop.
Needs `make natmod dist qemu baremetal`.
"""
import argparse
import pathlib
import sys
import tempfile
import wave

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]

from picoml import format, resources  # noqa: E402
from picoml.runtimes import bare, qemu, unix  # noqa: E402

CLIPS = ROOT.parent / "shared" / "conformance" / "micro_speech"
HOP_MS = 20.0

FEED = r"""
import picoml, time
from array import array
from picoml import audio
m = picoml.load("frontend.pml", backend=%(backend)r)
fe = audio.Frontend(m)
x = array("h", open("clip.raw", "rb").read())
fe.feed(x, 0, 480)                      # the first frame
hops = 0
t = 0
i = 480
while i + 320 <= len(x):
    t0 = time.ticks_us()
    fe.feed(x, i, i + 320)
    t += time.ticks_diff(time.ticks_us(), t0)
    hops += 1
    i += 320
t0 = time.ticks_us()
for k in range(hops):
    m.invoke()
inv = time.ticks_diff(time.ticks_us(), t0)
print(m.backend, hops, t / hops, inv / hops)
"""


def feed(run, tmp, backend):
    backend_name, hops, per_hop, per_invoke = run(FEED % {"backend": backend}, str(tmp)).split()
    return backend_name, int(hops), float(per_hop), float(per_invoke)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default="yes_1000ms")
    args = parser.parse_args()
    blob = resources.frontend_model().read_bytes()
    model = format.read(blob)
    with wave.open(str(CLIPS / (args.clip + ".wav"))) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)
    frames = [samples[i:i + 480].reshape(1, 480) for i in range(0, len(samples) - 479, 320)]
    print("micro_speech front-end (%d ops, %d-byte .pml, %d-byte arena), clip %s: %d hops"
          % (len(model.ops), len(blob), model.arena_size, args.clip, len(frames)))

    m4 = bare.run("m4", blob, frames, model=model)
    m0 = bare.run("m0plus", blob, frames, model=model)
    insns = float(np.mean(m4.insns))
    cycles = float(np.mean(m0.cycles))
    print("\nC kernels alone, one pml_invoke per hop (bare metal):")
    print("  Cortex-M4F (QEMU): %8.0f instructions  ~ %.2f ms at 64 MHz = %.1f%% of the hop"
          % (insns, insns / 64e3, insns / 64e3 / HOP_MS * 100))
    print("  Cortex-M0+ (rp2040js): %8.0f cycles    ~ %.2f ms at 125 MHz = %.1f%% of the hop"
          % (cycles, cycles / 125e3, cycles / 125e3 / HOP_MS * 100))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "frontend.pml").write_bytes(blob)
        (tmp / "clip.raw").write_bytes(samples.astype("<i2").tobytes())
        print("\nIn MicroPython, Frontend.feed() of 320 samples (one hop) and Model.invoke() alone:")
        _, hops, per_hop, per_invoke = feed(lambda s, cwd: qemu.run_script(s, "m4", cwd=cwd, icount=True), tmp,
                                            "native")
        print("  emulated Cortex-M4F, native: feed %6.0f k instructions (~ %.2f ms at 64 MHz = %.1f%%), invoke "
              "%6.0f k" % (per_hop, per_hop / 64, per_hop / 64 / HOP_MS * 100, per_invoke))
        for backend in ("native", "viper", "python"):
            name, hops, per_hop, per_invoke = feed(
                lambda s, cwd: unix.run_script(s, natmod=True, cwd=cwd), tmp, backend)
            print("  unix port (x64), %-6s: feed %8.1f us per hop, invoke %8.1f us" % (name, per_hop, per_invoke))


if __name__ == "__main__":
    sys.exit(main())
