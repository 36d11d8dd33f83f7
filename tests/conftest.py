"""What the tests share: the models (models.py), the device-side programs (device/), and the tiers.

Tiers, as markers registered in pyproject.toml: `emulated` (runs on emulated cores: QEMU, rp2040js), `slow`
(long runs on the host) and `fast`, which every other test gets here: `pytest -m fast` (make test-fast) runs
those, `pytest` (make test) everything. A test marked `conformance` needs ../shared/conformance (see models.py):
without it, it skips naming the folder, as does any test that meets a FileNotFoundError in that folder.
"""
import json
import os
import shutil
import tempfile

import pytest

import models
from models import CONFORMANCE, ROOT, test_inputs  # noqa: F401  (what the tests import from here)

DEVICE_PROGRAMS = ROOT / "tests" / "device"
MLPERF = [models.tflite(name) for name in models.MLPERF] if models.MLPERF != [models.MISSING] else []


def pytest_configure(config):
    # picoml's per-user files (the default virtual board's flash) in a folder of this run's own; pip keeps its cache
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ.setdefault("PIP_CACHE_DIR", os.path.join(cache, "pip"))
    os.environ["XDG_CACHE_HOME"] = config._picoml_cache = tempfile.mkdtemp(prefix="picoml_test_cache_")


def pytest_unconfigure(config):
    if getattr(config, "_picoml_cache", None):
        shutil.rmtree(config._picoml_cache, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not (item.get_closest_marker("slow") or item.get_closest_marker("emulated")):
            item.add_marker(pytest.mark.fast)


def pytest_runtest_setup(item):
    if item.get_closest_marker("conformance"):
        models.require_conformance()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that reads a file of an absent conformance folder skips as a marked one does."""
    try:
        return (yield)
    except FileNotFoundError as e:
        if str(e.filename or "").startswith(str(models.CONFORMANCE)):
            models.require_conformance()
        raise


def device(program, *args, **options):
    """Run tests/device/<program>.py in the unix port with `args` (options: heapsize, path, natmod, hardware, cwd;
    see picoml.runtimes.unix.run_file) and return the JSON object it printed last."""
    from picoml.runtimes import unix
    out = unix.run_file(DEVICE_PROGRAMS / (program + ".py"), args, **options)
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def conformance():
    """The conformance folder; the test skips (fails under $PICOML_REQUIRE_CONFORMANCE=1) when it is absent."""
    return models.require_conformance()
