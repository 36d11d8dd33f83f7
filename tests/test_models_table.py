"""The example models' tables in README.md and models/README.md are written from the training reports
(scripts/models_table.py): they must be what the reports say now."""
import importlib.util
import json
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]


def _tables_module():
    spec = importlib.util.spec_from_file_location("models_table", REPO / "scripts" / "models_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tables_are_those_of_the_reports():
    stale = [str(path.relative_to(REPO)) for path, (now, new) in _tables_module().files().items() if now != new]
    assert not stale, "run python scripts/models_table.py: %s" % stale


def test_a_report_changed_changes_the_tables(monkeypatch):
    tables = _tables_module()
    real = tables.report

    def report(name):
        r = real(name)
        if name == "kws":
            r = json.loads(json.dumps(r))
            r["accuracy"]["int8"] = 0.5
            r["latency"]["cycles_estimate"]["qemu-m4"] = 6400000
        return r

    monkeypatch.setattr(tables, "report", report)
    readme = "\n".join(tables.readme_table())
    models = "\n".join(tables.models_table())
    assert "50.0% accuracy" in readme and "int8 50.0% accuracy" in models
    assert "6,400,000 est. M4 cycles (100.0 ms on the nRF52840 at 64 MHz)" in models
