"""picoml installed with pip into a fresh virtual environment outside the checkout works from any folder:
convert, inspect, run on the unix port and with the reference, bench, deploy to the virtual board and run
there, --version; and the emulators, which are developer tooling, say that they need a checkout.

Slow (a venv and pip install, about a minute with pip's cache warm). Needs the native modules built
(`make natmod`): the wheel ships what is built."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFORMANCE, ROOT
from picoml import __version__, resources

KWS = CONFORMANCE / "mlperf_tiny" / "kws_ref_model.tflite"
pytestmark = [pytest.mark.slow, pytest.mark.conformance]


def _env(home):
    """The environment of the installed picoml's commands: no PYTHONPATH to this checkout, its own caches."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(home / "cache")     # (pip's cache stays where conftest's PIP_CACHE_DIR says)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, a working folder outside the checkout, environment) of a fresh pip install of picoml."""
    for arch in ("x64", "armv6m", "armv7m", "armv7emsp"):
        resources.natmod(arch)          # the wheel ships the built native modules: `make natmod` first
    home = tmp_path_factory.mktemp("installed")
    assert ROOT not in home.parents
    venv, work = home / "venv", home / "work"
    work.mkdir()
    env = _env(home)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "%s[virtual]" % ROOT], capture_output=True, text=True, env=env, cwd=work)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv, work, env


def _picoml(installed, *args, check=True):
    venv, work, env = installed
    done = subprocess.run([str(venv / "bin" / "picoml"), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=work, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_the_package_is_the_installed_one_with_its_data(installed):
    venv, work, env = installed
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import picoml, picoml.resources as r\nprint(picoml.__file__)\nprint(r.DATA)"],
                         capture_output=True, text=True, env=env, cwd=work, check=True).stdout.split()
    assert pathlib.Path(out[0]).is_relative_to(venv) and pathlib.Path(out[1]).is_relative_to(venv)
    data = pathlib.Path(out[1])
    for path in ("device/picoml/__init__.py", "device/picoml/sensors/__init__.py", "boards/virtual.json",
                 "virtual_board/flash.py", "virtual_board/emulated_chips/chip.py", "natmod/x64/_picoml.mpy",
                 "natmod/armv6m/_picoml.mpy", "models/frontend/frontend.pml"):
        assert (data / path).is_file() and not (data / path).is_symlink(), path
    assert _picoml(installed, "--version").stdout.strip() == "picoml %s" % __version__


def test_features_with_the_shipped_frontend(installed):
    """The default front-end is package data: `picoml features` works outside the checkout."""
    venv, work, env = installed
    clip = CONFORMANCE / "micro_speech" / "yes_1000ms.wav"
    out = _picoml(installed, "features", clip, "-o", work / "yes.npy")
    assert "49 frames x 40 int8" in out.stdout
    assert np.array_equal(np.load(work / "yes.npy"), np.load(CONFORMANCE / "micro_speech" /
                                                              "yes_1000ms.features_int8.npy").reshape(49, 40))


def test_convert_inspect_run_bench(installed):
    venv, work, env = installed
    x = np.random.default_rng(3).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    np.save(work / "x.npy", x)
    _picoml(installed, "convert", KWS, "-o", "kws.pml")
    out = _picoml(installed, "inspect", "kws.pml").stdout
    assert "CONV_2D" in out and "arena" in out
    _picoml(installed, "run", "kws.pml", "--input", "x.npy", "--output", "ref.npy", "--on", "reference")
    _picoml(installed, "run", "kws.pml", "--input", "x.npy", "--output", "unix.npy", "--on", "unix")
    ref = np.load(work / "ref.npy")
    assert ref.shape == (1, 12) and np.array_equal(np.load(work / "unix.npy"), ref)
    out = _picoml(installed, "bench", "kws.pml", "--count", "2").stdout
    for backend in ("native", "viper", "python"):
        assert "unix %s " % backend in out, out


def test_deploy_and_run_on_the_virtual_board(installed):
    venv, work, env = installed
    if not (work / "kws.pml").exists():
        _picoml(installed, "convert", KWS, "-o", "kws.pml")
    x = np.random.default_rng(4).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    np.save(work / "x4.npy", x)
    out = _picoml(installed, "deploy", "kws.pml", "--port", "virtual").stdout
    assert "-> x64_6.3" in out and "verified on the board" in out
    _picoml(installed, "run", "kws.pml", "--input", "x4.npy", "--output", "board.npy", "--port", "virtual")
    _picoml(installed, "run", "kws.pml", "--input", "x4.npy", "--output", "ref4.npy", "--on", "reference")
    assert np.array_equal(np.load(work / "board.npy"), np.load(work / "ref4.npy"))
    assert (pathlib.Path(env["XDG_CACHE_HOME"]) / "picoml" / "virtual_board.img").exists()


def test_emulators_say_they_need_a_checkout(installed):
    venv, work, env = installed
    if not (work / "kws.pml").exists():
        _picoml(installed, "convert", KWS, "-o", "kws.pml")
    np.save(work / "x0.npy", np.zeros((1, 49, 10, 1), np.int8))
    for where in ("qemu-m4", "bare-m0plus", "c"):
        done = _picoml(installed, "run", "kws.pml", "--input", "x0.npy", "--on", where, check=False)
        assert done.returncode == 2 and "developer tooling that needs a checkout of picoml" in done.stderr, \
            (where, done.stderr)
