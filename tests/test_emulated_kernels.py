"""The C kernels and the op-table walker (native_module/, built bare-metal by `make baremetal`) on emulated
Cortex-M cores give the numpy reference's bytes, on real models and on the op-coverage models:

  m4      Cortex-M4F (nRF52840's flags), QEMU -M mps2-an386
  m0plus  Cortex-M0+ (armv6m, RP2040), rp2040js
  m0      the same armv6m objects on QEMU -M microbit (Cortex-M0): must execute exactly as many instructions
          per pml_invoke as on rp2040js (the same instruction stream)

Every model runs on every core: the model and the inputs sit in the emulated flash (as a ROMFS file would), only
the arena and the outputs in the RAM (emulation/machines.mk: the microbit's 256 KiB, the RP2040's 264 KB SRAM
which also holds the image). scripts/install-system-packages.sh installs QEMU and rp2040js."""
import functools
import subprocess

import numpy as np
import pytest

import genmodels
from conftest import CONFORMANCE, MLPERF, ROOT, test_inputs
from picoml import format, reference
from picoml.runtimes import bare as baremetal
from picoml.convert import convert

REAL = {p.stem: p for p in MLPERF + [CONFORMANCE / "micro_speech" / "micro_speech_quantized.tflite"]}
GENERATED = sorted(genmodels.MODELS)
REAL_SAMPLES = 4        # -128, 127, the zero point, one random: the big models take seconds each on rp2040js
GENERATED_SAMPLES = 6


@pytest.fixture(scope="session")
def images():
    missing = baremetal.missing_tools()
    if missing:
        pytest.fail("emulators missing (%s): run scripts/install-system-packages.sh" % ", ".join(missing))
    return baremetal.built_images()


@functools.lru_cache(maxsize=None)
def _generated_paths():
    return genmodels.build_all(ROOT / "build" / "genmodels")


@functools.lru_cache(maxsize=None)
def _case(name):
    """(model, .pml bytes, input samples, the reference's outputs) for a real or generated model."""
    if name in REAL:
        path, count = REAL[name], REAL_SAMPLES
    else:
        path, count = _generated_paths()[name], GENERATED_SAMPLES
    model = convert(path.read_bytes(), path.name, measure_tflm=False)
    blob = format.write(model)
    model = format.read(blob)
    assert len(model.inputs) == 1, "multi-input model: extend this test"
    t = model.tensors[model.inputs[0].tensor]
    samples = test_inputs(t.shape, t.zero_point, count, seed=7)
    want = [reference.run(model, [x]) for x in samples]
    return model, blob, samples, want


@functools.lru_cache(maxsize=None)
def _result(images, core, name):
    model, blob, samples, _ = _case(name)
    return baremetal.run(core, blob, samples, images, model=model)


def _check(images, core, name):
    model, _, samples, want = _case(name)
    r = _result(images, core, name)
    for i, (ours, theirs) in enumerate(zip(r.outputs, want)):
        for o, w in zip(ours, theirs):
            assert o.dtype == w.dtype and o.shape == w.shape
            assert np.array_equal(o, w), "%s on %s, sample %d: %s != %s" % (name, core, i, o.ravel()[:16], w.ravel()[:16])
    assert len(r.insns) == len(samples) and min(r.insns) > 0
    if core == "m0plus":
        assert len(r.cycles) == len(samples) and min(r.cycles) >= min(r.insns)
    if core == "m0":
        assert r.insns == _result(images, "m0plus", name).insns, "microbit and rp2040js ran different instructions"


@pytest.mark.parametrize("core", baremetal.CORES)
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_model(images, core, name):
    _check(images, core, name)


@pytest.mark.parametrize("core", baremetal.CORES)
@pytest.mark.parametrize("name", GENERATED)
def test_generated_model(images, core, name):
    _check(images, core, name)


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp"])
def test_kernels_need_no_runtime_library(images, arch):
    """The kernels link against nothing: no libgcc helper (__aeabi_lmul, __aeabi_idivmod, __gnu_thumb1_case_*,
    which a MicroPython native module cannot link on armv6m), and no memcpy/memset either."""
    archive = images.armv6m_kernels if arch == "armv6m" else images.armv7emsp_kernels
    nm = lambda *flags: subprocess.run([baremetal.CROSS + "nm", *flags, str(archive)], check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout
    defined = {line.split()[-1] for line in nm("--defined-only").splitlines() if len(line.split()) == 3}
    undefined = {line.split()[-1] for line in nm("-u").splitlines() if line.strip().startswith("U ")}
    assert undefined and undefined <= defined, sorted(undefined - defined)


@pytest.mark.parametrize("core", baremetal.CORES)
def test_check_refuses_bad_models_on_the_core(images, core):
    """pml_check runs on the core too: a truncated file and an unknown op code are refused before any invoke."""
    model, blob, samples, _ = _case("kws_ref_model")
    h = format.read_header(blob)
    x = samples[0].tobytes()
    assert baremetal.run_raw(core, blob, x, images) == 0
    truncated = bytearray(blob[:-4])
    truncated[8:12] = len(truncated).to_bytes(4, "little")      # a consistent file_size: the tables overrun it
    assert baremetal.run_raw(core, truncated, x, images) == -1
    bad = bytearray(blob)
    bad[h["ops_offset"]:h["ops_offset"] + 4] = (99).to_bytes(4, "little")
    assert baremetal.run_raw(core, bad, x, images) == -2
