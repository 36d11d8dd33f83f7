"""Projected latency of a model per board, for the training reports: measured where it can be (the unix port's
native backend, in µs on this machine; one whole predict() inside picoml's MicroPython port on the emulated
Cortex-M4F and Cortex-M0, its instructions counted exactly by class by QEMU's TCG plugin) and projected to each
board definition's clock.

The projection divides the cycles estimated from those classes (picoml.cycles: the Cortex-M4's timing table for
armv7emsp boards, the Cortex-M0+'s for armv6m ones, whose instructions QEMU's Cortex-M0 runs) by the board's clock
(boards/*.json clock_hz): an estimate, with no flash wait states or bus contention. Boards whose arch no emulated
core runs (ESP32, xtensawin) get no projection, and say so."""
from . import boards
from .errors import PicomlError

CORES = {"armv7emsp": "qemu-m4", "armv6m": "qemu-m0"}   # board arch -> the runtime whose counts stand for it


def measure(pml_bytes, count=3):
    """{"unix_us": ..., "instructions": {runtime: n}, "cycles_estimate": {runtime: n}, "boards": {name: {...}},
    "notes": [...]}: what could be measured here; a runtime that cannot run (not built, model does not fit) is
    named in "notes", not raised."""
    from . import runtimes
    result = {"unix_us": None, "instructions": {}, "cycles_estimate": {}, "boards": {}, "notes": []}
    try:
        result["unix_us"] = round(runtimes.get("unix").bench(pml_bytes, "native", count=20).us, 1)
    except (PicomlError, OSError) as e:
        result["notes"].append("unix port: %s" % _first_line(e))
    for runtime in sorted(set(CORES.values())):
        try:
            bench = runtimes.get(runtime, count_classes=True).bench(pml_bytes, "native", count=count)
            result["instructions"][runtime] = bench.instructions
            result["cycles_estimate"][runtime] = bench.cycles_estimate
        except (PicomlError, OSError) as e:
            result["notes"].append("%s: %s" % (runtime, _first_line(e)))
    for name in boards.names():
        if name == "virtual":
            continue
        board = boards.load(name, check=False)
        runtime = CORES.get(board.get("arch"))
        entry = {"arch": board.get("arch"), "clock_hz": board.get("clock_hz")}
        cycles = result["cycles_estimate"].get(runtime)
        if cycles is not None and board.get("clock_hz"):
            entry.update(measured_on=runtime, instructions=result["instructions"][runtime], cycles_estimate=cycles,
                         projected_ms=round(cycles / board["clock_hz"] * 1000, 2))
        else:
            entry["projected_ms"] = None
            entry["why_not"] = ("no emulated core for arch %s" % board.get("arch") if runtime is None
                                else "%s was not measured" % runtime)
        result["boards"][board.get("name", name)] = entry
    return result


def lines(measured):
    """Human-readable lines of measure()'s result."""
    out = []
    if measured["unix_us"] is not None:
        out.append("unix port (x64, native): %.1f us per inference" % measured["unix_us"])
    for runtime, insns in sorted(measured["instructions"].items()):
        out.append("%s: %d instructions per predict(), about %d cycles estimated"
                   % (runtime, insns, measured["cycles_estimate"][runtime]))
    for name, entry in measured["boards"].items():
        if entry["projected_ms"] is not None:
            out.append("%s: about %.2f ms (%s's estimated cycles at %d MHz)" % (
                name, entry["projected_ms"], entry["measured_on"], entry["clock_hz"] // 1000000))
    out += ["not measured: %s" % note for note in measured["notes"]]
    return out


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def refresh(pml_path):
    """Measure the model at pml_path again and rewrite the "latency" of its training report (<pml>.report.json)
    beside it: after a kernel change, without training again. Returns the new lines."""
    import json
    import pathlib
    report = pathlib.Path(str(pml_path) + ".report.json")
    summary = json.loads(report.read_text())
    summary["latency"] = measure(pathlib.Path(pml_path).read_bytes())
    report.write_text(json.dumps(summary, indent=1) + "\n")
    return lines(summary["latency"])


if __name__ == "__main__":
    import sys
    for path in sys.argv[1:]:
        print(path)
        for line in refresh(path):
            print("  " + line)
