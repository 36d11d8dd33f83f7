import os
import pathlib
import tempfile

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the real models no one here wrote: ../shared/conformance beside the checkout, or $PICOML_CONFORMANCE
CONFORMANCE = pathlib.Path(os.environ.get("PICOML_CONFORMANCE") or ROOT.parent / "shared" / "conformance")
MLPERF = sorted((CONFORMANCE / "mlperf_tiny").glob("*.tflite"))


def pytest_configure(config):
    # picoml's per-user files (the default virtual board's flash) in a folder of this run's own; pip keeps its cache
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ.setdefault("PIP_CACHE_DIR", os.path.join(cache, "pip"))
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="picoml_test_cache_")
    if not MLPERF:
        raise pytest.UsageError("the conformance models are missing: expected %s" % (CONFORMANCE / "mlperf_tiny"))


def test_inputs(shape, zero_point, count, seed=0):
    """`count` int8 inputs: uniform random, values clustered around the zero point as real data is,
    smooth low-frequency fields, and the extremes."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    inputs = [np.full(shape, v, np.int8) for v in (-128, 127, zero_point)]
    while len(inputs) < count:
        kind = len(inputs) % 3
        if kind == 0:
            x = rng.integers(-128, 128, size)
        elif kind == 1:
            x = np.rint(rng.normal(zero_point, rng.uniform(2, 40), size))
        else:
            x = np.cumsum(rng.normal(0, 4, size)) + rng.integers(-100, 100)
        inputs.append(np.clip(x, -128, 127).astype(np.int8).reshape(shape))
    return inputs[:count]


test_inputs.__test__ = False
