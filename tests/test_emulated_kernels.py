"""The C kernels and the op-table walker (native_module/, built bare-metal by `make baremetal`) on emulated
Cortex-M cores (the runtimes bare-m4, bare-m0plus and bare-m0: QEMU mps2-an386, rp2040js, QEMU microbit) link
against no runtime library and refuse bad models on the core. (Every model's bytes there, and the instruction and
cycle counts: test_runtimes.py.) scripts/install-system-packages.sh installs QEMU and rp2040js."""
import subprocess

import pytest

import models
from picoml import format
from picoml.runtimes import bare

pytestmark = pytest.mark.emulated


@pytest.fixture(scope="session")
def images():
    missing = bare.missing_tools()
    if missing:
        pytest.fail("emulators missing (%s): run scripts/install-system-packages.sh" % ", ".join(missing))
    return bare.built_images()


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp"])
def test_kernels_need_no_runtime_library(images, arch):
    """The kernels link against nothing: no libgcc helper (__aeabi_lmul, __aeabi_idivmod, __gnu_thumb1_case_*,
    which a MicroPython native module cannot link on armv6m), and no memcpy/memset either."""
    archive = images.armv6m_kernels if arch == "armv6m" else images.armv7emsp_kernels
    nm = lambda *flags: subprocess.run([bare.CROSS + "nm", *flags, str(archive)], check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout
    defined = {line.split()[-1] for line in nm("--defined-only").splitlines() if len(line.split()) == 3}
    undefined = {line.split()[-1] for line in nm("-u").splitlines() if line.strip().startswith("U ")}
    assert undefined and undefined <= defined, sorted(undefined - defined)


@pytest.mark.parametrize("core", bare.CORES)
def test_check_refuses_bad_models_on_the_core(images, core):
    """pml_check runs on the core too: a truncated file and an unknown op code are refused before any invoke."""
    blob = models.pml("kws_ref_model")
    h = format.read_header(blob)
    x = models.inputs("kws_ref_model")[0][0].tobytes()
    assert bare.run_raw(core, blob, x, images) == 0
    truncated = bytearray(blob[:-4])
    truncated[8:12] = len(truncated).to_bytes(4, "little")      # a consistent file_size: the tables overrun it
    assert bare.run_raw(core, truncated, x, images) == -1
    bad = bytearray(blob)
    bad[h["ops_offset"]:h["ops_offset"] + 4] = (99).to_bytes(4, "little")
    assert bare.run_raw(core, bad, x, images) == -2


def test_profile_names_the_functions_of_every_cycle(images):
    """profile=True (tests/bench/profile_m0plus.py) sums every cycle of pml_invoke on rp2040js into the image's
    functions: they add up to the invoke's cycles, and a convolution's go mostly to the Armv6-M convolution."""
    import numpy as np
    blob = models.pml("kws_ref_model")
    model = format.read(blob)
    x = np.random.default_rng(3).integers(-128, 128, model.tensors[model.inputs[0].tensor].shape).astype(np.int8)
    result = bare.run("m0plus", blob, [x, x], images, profile=True)
    names = [name for name, _ in result.functions]
    assert sum(n for _, n in result.functions) == sum(result.cycles)
    assert names[0] == "pml_armv6m_conv_2x3" and "pml_armv6m_dw4_run" in names[:3], result.functions[:5]
    assert not any(name.startswith("$") or name == "?" for name in names), names
    with pytest.raises(Exception, match="m0plus"):
        bare.run("m4", blob, [x], images, profile=True)
