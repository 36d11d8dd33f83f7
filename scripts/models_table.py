"""The example models' tables in README.md and models/README.md, written from the training reports
(models/*/*.pml.report.json, which `picoml train` writes and `make models-latency` refreshes): the reports are the
one source of these numbers. `make models` and `make models-latency` run this; tests/test_models_table.py fails
when a table is stale.

    python scripts/models_table.py [--check]
"""
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MODELS = ("gesture", "anomaly", "kws")
BEGIN = "<!-- table written by scripts/models_table.py from the training reports -->"
END = "<!-- end of table -->"


def report(name):
    return json.loads((REPO / "models" / name / (name + ".pml.report.json")).read_text())


def kb(n):
    return "%.1f KB" % (n / 1000)


def held_out(name, r):
    """(who was held out, the int8 result, the float one or None)"""
    if name == "anomaly":
        aucs = ", ".join("%s %.3f" % (fault, f["roc_auc_int8"]) for fault, f in sorted(r["faults"].items()))
        return ("%d synthetic machines" % len(r["test_machines"]), "ROC AUC " + aucs, None)
    who = "%d synthetic %s" % (len(r["test_groups"]), "speakers (espeak-ng voices)" if name == "kws" else "persons")
    return who, "%.1f%% accuracy" % (100 * r["accuracy"]["int8"]), "%.1f%%" % (100 * r["accuracy"]["float"])


def latency(r):
    lat = r["latency"]
    parts = ["%g µs unix port" % lat["unix_us"]] if lat.get("unix_us") is not None else []
    for runtime, core, timing, board, mhz in (("qemu-m4", "M4", "M4", "nRF52840", 64),
                                              ("qemu-m0", "M0", "M0+", "RP2040", 125)):
        cycles = lat["cycles_estimate"].get(runtime)
        if cycles is not None:
            parts.append("emulated %s %s instr., %s est. %s cycles (%.1f ms on the %s at %d MHz)"
                         % (core, "{:,}".format(lat["instructions"][runtime]), "{:,}".format(cycles), timing,
                            cycles / (mhz * 1000.0), board, mhz))
    return "; ".join(parts + ["not measured: " + note for note in lat.get("notes", [])])


def readme_table():
    rows = ["| model | held out | int8 | `.pml` | arena |", "|---|---|---|---|---|"]
    for name in MODELS:
        r = report(name)
        who, result, float_result = held_out(name, r)
        if float_result:
            result += " (float %s)" % float_result
        rows.append("| %s | %s | %s | %s | %s |" % (name, who, result, kb(r["pml_bytes"]), kb(r["arena_bytes"])))
    return rows


def models_table():
    rows = ["| model | held-out result | `.pml` | arena | MACs | latency, one `predict()` |",
            "|---|---|---:|---:|---:|---|"]
    for name in MODELS:
        r = report(name)
        who, result, float_result = held_out(name, r)
        result = "int8 %s%s on %s not seen in training" % (result, ", float " + float_result if float_result else "",
                                                         who)
        if name == "kws":
            result += " (%d clips; %.1f%% int8 with the front-end warmed up, as when streaming)" % (
                r["test_clips"], 100 * r["accuracy_streaming"]["int8"])
        elif name == "gesture":
            result += " (%s windows)" % "{:,}".format(r["test_windows"])
        else:
            result += "; false alarms at the threshold: %.1f%% of %d normal windows" % (
                100 * r["false_alarms_at_threshold"], r["normal_test_windows"])
        rows.append("| `%s/%s.pml` | %s | %s B | %s B | %s | %s |" % (
            name, name, result, "{:,}".format(r["pml_bytes"]), "{:,}".format(r["arena_bytes"]),
            "{:,}".format(r["macs"]), latency(r)))
    return rows


def replace(text, rows):
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + "\n".join(rows) + "\n" + text[end:]


def files():
    """{path: (text now, text with the tables written)}"""
    out = {}
    for path, rows in ((REPO / "README.md", readme_table()), (REPO / "models" / "README.md", models_table())):
        text = path.read_text()
        out[path] = (text, replace(text, rows))
    return out


if __name__ == "__main__":
    stale = [path for path, (now, new) in files().items() if now != new]
    if "--check" in sys.argv[1:]:
        for path in stale:
            print("stale: %s (python scripts/models_table.py)" % path.relative_to(REPO))
        sys.exit(1 if stale else 0)
    for path, (now, new) in files().items():
        if now != new:
            path.write_text(new)
            print("wrote " + str(path.relative_to(REPO)))
