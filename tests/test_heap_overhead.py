"""What the library and the native module take of the MicroPython heap on the emulated Cortex-M4 (picoml's port,
qemu-m4), held to issue 13's bounds: at most 32 KB besides a model's file, its arena and the kernels' scratch,
with the firmware's --native-code=flash, which keeps the native module's code out of the heap (docs/memory.md),
and with its code in the heap, as on the nRF and RP2 firmware, as `picoml deploy` installs it: DS-CNN needs none
of the audio front-end's ops, so the library runs it on _picoml_core (the full _picoml's code in the heap is
about 10 KB more; the margin depends on MicroPython's name pools: docs/memory.md); and DS-CNN (kws_ref_model)
read from a file running in a heap of file + arena + 32 KB with the code in flash (with the code in the heap the
smallest heap is above that goal: docs/memory.md). tests/bench/bench_heap.py prints every part and both boards.
About a minute (the smallest heap is bisected)."""
import pathlib
import sys

import pytest

import heap_sweep
import models
from picoml import format
from picoml.errors import PicomlError
from picoml.runtimes import qemu

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "bench"))
import bench_heap  # noqa: E402

pytestmark = pytest.mark.emulated
GOAL = 32 * 1024


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    path = tmp_path_factory.mktemp("heap") / "kws_ref_model.pml"
    path.write_bytes(models.pml("kws_ref_model"))
    return path


@pytest.fixture(scope="module")
def parts(kws):
    return {where: bench_heap.measure("m4", kws, where) for where in qemu.NATIVE_CODE}


def test_library_and_native_module_take_at_most_32_kb_with_the_code_in_flash(parts):
    flash = parts["flash"]
    assert flash["overhead"] <= GOAL, flash
    assert flash["native code outside the heap"] > 10000, flash     # the module's code did go there


def test_library_and_native_module_take_at_most_32_kb_with_the_code_in_the_heap(parts):
    heap = parts["heap"]
    assert heap["native code outside the heap"] == 0
    assert heap["overhead"] <= GOAL, heap


def test_native_code_in_the_heap_costs_exactly_its_size(parts):
    heap, flash = parts["heap"], parts["flash"]
    assert heap["native code outside the heap"] == 0
    code = flash["native code outside the heap"]
    assert abs(heap["overhead"] - flash["overhead"] - code) <= 64, (heap, flash)


def test_only_the_run_time_modules_stay_resident(parts):
    """load() drops its loader, validation and refusal code; predict with int8 bytes needs no other module; a model
    that needs none of the ops only _picoml has runs on _picoml_core."""
    for where in parts:
        assert parts[where]["modules"].split() == ["_picoml_core", "picoml", "picoml.model"], parts[where]


def test_ds_cnn_from_a_file_runs_in_file_plus_arena_plus_32_kb(kws):
    model = format.read(kws.read_bytes())
    heap = heap_sweep.smallest_heap(kws, "native", "m4", native_code="flash")
    print("smallest heap for kws_ref_model on qemu-m4, native code in flash: %s bytes" % heap)
    assert heap is not None and heap <= kws.stat().st_size + model.arena_size + GOAL


def test_native_code_in_flash_is_refused_where_flash_is_not_writable():
    with pytest.raises(PicomlError, match="not writable"):
        qemu.run_script("print(1)", "m0", native_code="flash")
    with pytest.raises(PicomlError, match="native_code must be"):
        qemu.run_script("print(1)", "m4", native_code="rom")


def test_error_numbers_name_their_words():
    """picoml.model and picoml.values raise _error(N, ...)  # NAME, N the number of its words in picoml.report's
    _ERRORS (numbers, not names: a name would be interned for good on the board)."""
    import re
    from picoml.format import device_module
    report = device_module("report")
    device = pathlib.Path(report.__file__).parent
    names = re.findall(r"# (\d+) ([A-Z_]+)\n", (device / "report.py").read_text())
    assert [int(n) for n, _ in names] == list(range(len(report._ERRORS))), names
    calls = re.findall(r"_error\((\d+)[,)].*# ([A-Z_]+)$",
                       (device / "model.py").read_text() + (device / "values.py").read_text(), re.M)
    assert len(calls) >= 15 and {name for _, name in calls} == {name for _, name in names}
    for number, name in calls:
        assert names[int(number)][1] == name, (number, name)
