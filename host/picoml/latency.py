"""Projected latency of a model per board, for the training reports: measured where it can be (the unix port's
native backend, in µs on this machine; instructions of one whole predict() inside picoml's MicroPython port on
the emulated Cortex-M4F and Cortex-M0, counted by QEMU's -icount clock to the nearest 1,000) and projected to each board definition's clock.

The projection divides instructions by the board's clock (boards/*.json clock_hz): one cycle per instruction, a
lower bound on a real core (loads, multiplies and taken branches can take more; the M0 count stands in for the
RP2040's M0+). Boards whose arch no emulated core runs (ESP32, xtensawin) get no projection, and say so."""
from . import boards
from .errors import PicomlError

CORES = {"armv7emsp": "qemu-m4", "armv6m": "qemu-m0"}   # board arch -> the runtime whose instructions stand for it


def measure(pml_bytes, count=3):
    """{"unix_us": ..., "instructions": {runtime: n}, "boards": {name: {...}}, "notes": [...]}: what could be
    measured here; a runtime that cannot run (not built, model does not fit) is named in "notes", not raised."""
    from . import runtimes
    result = {"unix_us": None, "instructions": {}, "boards": {}, "notes": []}
    try:
        result["unix_us"] = round(runtimes.get("unix").bench(pml_bytes, "native", count=20).us, 1)
    except (PicomlError, OSError) as e:
        result["notes"].append("unix port: %s" % _first_line(e))
    for runtime in sorted(set(CORES.values())):
        try:
            bench = runtimes.get(runtime, icount=True).bench(pml_bytes, "native", count=count)
            result["instructions"][runtime] = bench.instructions
        except (PicomlError, OSError) as e:
            result["notes"].append("%s: %s" % (runtime, _first_line(e)))
    for name in boards.names():
        if name == "virtual":
            continue
        board = boards.load(name, check=False)
        runtime = CORES.get(board.get("arch"))
        entry = {"arch": board.get("arch"), "clock_hz": board.get("clock_hz")}
        insns = result["instructions"].get(runtime)
        if insns is not None and board.get("clock_hz"):
            entry.update(measured_on=runtime, instructions=insns,
                         projected_ms=round(insns / board["clock_hz"] * 1000, 2))
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
        out.append("%s: %d instructions per predict()" % (runtime, insns))
    for name, entry in measured["boards"].items():
        if entry["projected_ms"] is not None:
            out.append("%s: >= %.2f ms (%s at %d MHz)" % (name, entry["projected_ms"], entry["measured_on"],
                                                          entry["clock_hz"] // 1000000))
    out += ["not measured: %s" % note for note in measured["notes"]]
    return out


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
