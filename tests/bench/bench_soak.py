"""Benchmark (prints numbers, asserts nothing): the streaming soak -- picoml.stream.run() with the gesture model
(models/gesture) on windows that picoml's LSM6DS3TR-C driver reads from the virtual board's emulated IMU at the
model's 104 Hz, in the MicroPython unix port (x64 native module, library as .mpy). The chip's clock is
discrete-event time by default (it jumps ahead whenever the loop would wait: as fast as the loop runs, whatever
the machine's load), or --speed N times real time (the virtual board's own bus). See tests/soak.py for what is
checked per frame.

    .venv/bin/python tests/bench/bench_soak.py [--windows 1000000] [--chunk 10000] [--speed N] [--json FILE]

Prints: windows and results; wall and emulated time; the live heap after a collection at the start, the end and
its range over the checkpoints (the emulated chip's FIFO list lives in the same heap: its fill is printed too);
microseconds per window (wall time, and the process's CPU time from /proc, which the machine's load does not
inflate) for the first and last tenth of the checkpoints, the median and the slowest checkpoint; FIFO
overruns the driver reported, frames lost, jumps in the frame numbers and jumps no overrun report explains;
windows the Window dropped. Timings move with the load on this shared machine.
"""
import argparse
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import soak  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=1000000)
    ap.add_argument("--chunk", type=int, default=10000, help="windows per checkpoint")
    ap.add_argument("--speed", type=int, help="the emulated IMU's clock, times real time (default: discrete-event "
                                               "time)")
    ap.add_argument("--json", help="also write every checkpoint's figures to this file")
    args = ap.parse_args(argv)
    r = soak.soak(args.windows, chunk=args.chunk, speed=args.speed)
    if args.json:
        import json
        pathlib.Path(args.json).write_text(json.dumps(r, indent=1))
    us = r["us_per_window"]
    tenth = max(1, len(us) // 10)
    heap = r["heap"]
    print("streaming soak: %s, %d-frame windows every %d frames at %g Hz, 6 channels, backend %s; IMU clock: %s"
          % (soak.GESTURE.relative_to(soak.ROOT), r["window"], r["hop"], r["rate"], r["backend"],
             "%dx real time" % args.speed if args.speed else "discrete-event"))
    print("windows          %d (results %d, frames read %d)" % (r["windows"], r["results"], r["frames"]))
    print("time             %.0f s wall, %.0f s of emulated IMU time (%.1fx real time)"
          % (r["seconds"], r["emulated_seconds"], r["emulated_seconds"] / r["seconds"]))
    print("heap (live)      start %d, end %d bytes; over %d checkpoints %d..%d (FIFO fill %d..%d words)"
          % (heap[0], heap[-1], len(heap), min(heap), max(heap), min(r["fifo_words"]), max(r["fifo_words"])))
    print("heap after warm-up  %d at checkpoint 2, %d at the end" % (heap[min(2, len(heap) - 1)], heap[-1]))
    cpu = r["cpu_us_per_window"]
    for what, v in (("wall", us), ("CPU", cpu)):
        print("us per window    %-4s first tenth %.0f, last tenth %.0f, median %.0f, slowest checkpoint %.0f"
              % (what, statistics.mean(v[:tenth]), statistics.mean(v[-tenth:]), statistics.median(v), max(v)))
    print("lost             %d FIFO overruns reported, %d frames lost in %d jumps, %d jumps unreported; "
          "%d windows dropped by the Window" % (r["overruns"], r["lost_frames"], r["jumps"], r["unreported_jumps"],
                                                r["window_dropped"]))


if __name__ == "__main__":
    main()
