"""picoml.load under a heap stepped from far too small to enough, on the unix port and on the emulated
Cortex-M4F and Cortex-M0 boards: every step ends in a working model or a MemoryError naming the bytes wanted
and the bytes free -- never another exception, a crash or a hang. (tests/bench/bench_memory.py prints the
smallest heap that works per model.) The emulated-board cases take about 3 minutes, the unix port's about 1.
Also `picoml bench` going on past a backend that does not fit."""
import pytest

import heap_sweep
import models as test_models

STEP = 4096
BACKENDS = {"unix": ("native", "viper", "python"), "m4": ("native", "viper", "python"), "m0": ("native", "python")}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """models[name]: the model's .pml file, written on first use (a real model skips, or fails in CI, without the
    conformance folder)."""
    tmp = tmp_path_factory.mktemp("models")

    class Files(dict):
        def __missing__(self, name):
            path = tmp / (name + ".pml")
            path.write_bytes(test_models.pml(name))
            self[name] = path
            return path
    return Files()


def sweep(path, backend, target):
    """[(heap, kind, text)] from 4 KiB up in 4 KiB steps to two heaps past the first that works."""
    steps, works = [], 0
    heap = STEP
    while works < 2:
        kind, text = heap_sweep.try_heap(path, backend, target, heap)
        steps.append((heap, kind, text))
        if kind == "failed":
            break
        works += kind == "ok"
        heap += STEP
        assert heap < 1024 * 1024, steps[-3:]
    return steps


def _case(target, *rest):
    return pytest.param(target, *rest, marks=[pytest.mark.emulated] if target != "unix" else [])


@pytest.mark.parametrize("target, backend", [_case(t, b) for t in BACKENDS for b in BACKENDS[t]])
@pytest.mark.parametrize("model", ["kws_ref_model", "imu_gap"])
def test_load_under_a_heap_stepped_from_far_too_small_to_enough(models, model, target, backend):
    steps = sweep(models[model], backend, target)
    kinds = [kind for _, kind, _ in steps]
    for heap, kind, text in steps:
        assert kind in ("nostart", "memory", "ok"), (heap, kind, text)
        if kind == "memory":
            numbers = heap_sweep.memory_numbers(text)
            assert numbers is not None, (heap, text)         # the bytes wanted and the bytes free, named
            wanted, free = numbers
            assert 0 < wanted and 0 <= free < heap, (heap, text)
    assert kinds.count("memory") >= 3, kinds                 # the sweep did start far too small
    first_ok = kinds.index("ok")
    assert "nostart" not in kinds[first_ok:] and kinds[-1] == "ok"


@pytest.mark.parametrize("on, heap", [_case("unix", "160k"), _case("qemu-m4", "72k")])
def test_bench_goes_on_when_a_backend_does_not_fit(models, on, heap, capsys):
    """`picoml bench` with a heap that holds the model for some backends only: each backend gets its line --
    numbers, or "does not fit" with the MemoryError -- and the command finishes."""
    from picoml.cli import main
    assert main(["bench", str(models["kws_ref_model"]), "--on", on, "--heapsize", heap, "--count", "2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith(on + " ")}
    assert set(rows) == {"native", "viper", "python"}, out
    assert any("does not fit" in line and "bytes" in line for line in rows.values()), out
    assert any("does not fit" not in line for line in rows.values()), out


@pytest.mark.emulated
def test_a_viper_load_leaves_the_heap_in_large_pieces():
    """models/kws with viper on the emulated M4 in a 200,000-byte heap (75 KB free once it is loaded): a 24 KB
    block -- an application's buffers, the audio front-end's model -- still fits after the load. Without a
    collection before each op's prepare, the ops' states lay spread over the load's garbage and the largest free
    piece was 5 KB (docs/esp32.md)."""
    from conftest import ROOT
    from picoml.runtimes import qemu
    script = """
import gc, picoml
m = picoml.load(%r, backend="viper")
gc.collect()
free = gc.mem_free()
try:
    b = bytearray(24576)
    print("FITS", free)
except MemoryError:
    print("NO ROOM", free)
""" % str(ROOT / "models" / "kws" / "kws.pml")
    out = qemu.run_script(script, "m4", heapsize=200000).strip().splitlines()[-1]
    assert out.startswith("FITS"), out
