"""Random Keras models of the supported layers (tests/random_models.py) give TFLite Micro's bytes on the reference
and the C kernels (x64, the Cortex-M4 and Cortex-M0 paths), a few of them on the device library's three backends
in the unix port, and a few on the kernels as built for the chips, on emulated cores. Campaigns of hundreds of cases: `python tests/random_models.py --cases N --seed S`."""
import pytest

import random_models

CASES = 20          # run cases of seed 0: about a second each
DEVICE_CASES = 3    # of seed 1, also on the unix port's native, viper and pure-Python backends
EMULATED_CASES = 4  # of seed 2, also on bare-m4 (QEMU), bare-m0plus (rp2040js) and bare-xtensa (QEMU)


def _outcomes(seed, count, device, emulated=False):
    """The outcomes of the seed's cases from 0 on until `count` of them ran (TFLite Micro cannot run every drawn
    model: a case it skips is replaced by the next), at most 3 * count cases."""
    outcomes = {}
    for n in range(3 * count):
        outcomes[n] = random_models.run_case(seed, n, device, emulated=emulated)
        if sum(o[0] != "skipped" for o in outcomes.values()) == count:
            break
    return outcomes


def _assert_agreed(outcomes, count):
    bad = {n: o for n, o in outcomes.items() if o[0] not in ("agreed", "skipped")}
    assert not bad, "\n".join("case %d: %s: %s" % (n, o[0], o[1]) for n, o in bad.items())
    agreed = sum(o[0] == "agreed" for o in outcomes.values())
    assert agreed == count, "only %d of %d cases could be built and run" % (agreed, len(outcomes))


@pytest.mark.slow
def test_random_models_agree_with_tflite_micro():
    _assert_agreed(_outcomes(0, CASES, device=False), CASES)


@pytest.mark.slow
def test_random_models_agree_on_the_device_backends():
    _assert_agreed(_outcomes(1, DEVICE_CASES, device=True), DEVICE_CASES)


@pytest.mark.emulated
def test_random_models_agree_on_the_chips_kernels():
    _assert_agreed(_outcomes(2, EMULATED_CASES, device=False, emulated=True), EMULATED_CASES)
