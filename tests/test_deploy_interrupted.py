"""`picoml deploy` stopped at random points against the virtual board (littlefs flash image): afterwards the board
always has a whole library and model -- the old pair or the new one, never a mix -- and a fresh boot of its flash
imports the library and loads the model, which gives the reference's bytes.

Slow: 100 deploys killed (SIGKILL, the transfer cut wherever it was) at uniform random times over the length of an
uninterrupted deploy (the longest of three); about 3 to 5 minutes on this machine (PICOML_INTERRUPTS=N changes
the count)."""
import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from conftest import ROOT
from picoml import format, reference, resources
from picoml.convert import convert
from picoml.deploy import SerialLink, _files_of, board_files, deploy
from picoml.virtual_board import VirtualBoard
from picoml.runtimes.unix import micropython, mpy_cross

pytestmark = pytest.mark.slow

DIST = ROOT / "dist"
CHANGED = ("__init__", "model", "stream")       # the modules build B compiles differently from build A

# A fresh boot of the flash image in another unix-port process: mount it, import the library from lib/, load
# the model, print the output of one inference and the files' CRCs.
_BOOT = r"""
import os, sys, vfs
class Image:
    def __init__(self, path):
        self.f = open(path, 'rb')
        self.f.seek(0, 2)
        self.n = self.f.tell() // 4096
    def readblocks(self, n, buf, off=0):
        self.f.seek(n * 4096 + off)
        self.f.readinto(buf)
    def writeblocks(self, n, buf, off=0):
        raise OSError(30)
    def ioctl(self, op, arg):
        return self.n if op == 4 else 4096 if op == 5 else 0
vfs.mount(Image(sys.argv[1]), '/flash', readonly=True)
os.chdir('/flash')
sys.path[:] = ['', '/flash/lib']
import picoml, picoml.model, picoml.stream, picoml.recording, picoml.audio, picoml.boards, picoml.sensors
m = picoml.load(sys.argv[2])
y = m.predict(bytes(int(sys.argv[3])))
print(m.backend, list(y))
"""


def _models(tmp_path):
    import genmodels
    out = {}
    for name in ("imu_gap", "imu6_gap"):
        path = genmodels.build_tflite(name, ROOT / "build" / "genmodels")
        model = convert(path.read_bytes(), name, measure_tflm=False)
        out[name] = tmp_path / ("%s.pml" % name)
        out[name].write_bytes(format.write(model))
    return out


def _build_b(tmp_path):
    """Build A (dist/x64_6.3) with three library modules compiled under another source name: other bytes."""
    b = tmp_path / "x64_b"
    shutil.copytree(DIST / "x64_6.3", b)
    for name in CHANGED:
        subprocess.run([mpy_cross(), "-march=x64", "-s", "b/%s.py" % name, "-o", str(b / "picoml" / (name + ".mpy")),
                        str(resources.device_package() / (name + ".py"))], check=True)
        assert (b / "picoml" / (name + ".mpy")).read_bytes() != (DIST / "x64_6.3" / "picoml" / (name + ".mpy")).read_bytes()
    return b


def test_deploy_stopped_at_random_points_leaves_the_old_or_the_new_pair(tmp_path):
    count = int(os.environ.get("PICOML_INTERRUPTS", "100"))
    models = _models(tmp_path)
    # a pair is (build, model file); on the board the model is always called model.pml
    pairs = {"A": (DIST / "x64_6.3", models["imu_gap"]), "B": (_build_b(tmp_path), models["imu6_gap"])}
    for key, (build, model) in pairs.items():
        (tmp_path / key).mkdir()
        shutil.copy(model, tmp_path / key / "model.pml")
    lib = "/flash/lib"
    expected = {}           # state -> {remote path: crc}
    for key, (build, _) in pairs.items():
        files = {remote: zlib.crc32(local.read_bytes()) for local, remote in _files_of(build, lib).items()}
        files["/flash/model.pml"] = zlib.crc32((tmp_path / key / "model.pml").read_bytes())
        expected[key] = files
    outputs = {}
    for key in pairs:
        model = format.read((tmp_path / key / "model.pml").read_bytes())
        t = model.tensors[model.inputs[0].tensor]
        outputs[key] = (t.nbytes, reference.run(model, [np.zeros(t.shape, np.int8)])[0].reshape(-1).tolist())
    paths = sorted(set(expected["A"]) | set(expected["B"]))
    image = tmp_path / "flash.img"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "host"))

    def command(key):
        build, _ = pairs[key]
        return [sys.executable, "-m", "picoml", "deploy", str(tmp_path / key / "model.pml"), "--port", board.port,
                "--build", str(build)]

    def state():
        link = SerialLink(board.port)
        try:
            got = board_files(link, paths)
        finally:
            link.close()
        found = {p: g[1] for p, g in zip(paths, got) if g is not None}
        match = [key for key, files in expected.items() if found == files]
        assert len(match) == 1, "the board holds neither pair whole: %r" % (
            {p: (found.get(p), expected["A"].get(p), expected["B"].get(p)) for p in paths},)
        key = match[0]
        size, want = outputs[key]
        boot = subprocess.run([micropython(), "-X", "heapsize=4m", "-c", _BOOT, str(image), "model.pml", str(size)],
                              capture_output=True, text=True, timeout=120)
        assert boot.returncode == 0, boot.stderr
        backend, values = boot.stdout.strip().split(" ", 1)
        assert backend == "native" and ast.literal_eval(values) == want
        return key

    outcomes = {"old": 0, "new": 0}
    stopped_in = []
    with VirtualBoard(image) as board:
        deploy(str(tmp_path / "A" / "model.pml"), board.port, build=pairs["A"][0], log=lambda s: None)
        assert state() == "A"
        times = []
        for key in "BAB":                                   # uninterrupted deploys, process start included
            start = time.monotonic()
            subprocess.run(command(key), env=env, check=True, capture_output=True, timeout=300)
            times.append(time.monotonic() - start)
            assert state() == key
        full = max(times)
        current = "B"
        rng = random.Random(1)
        for i in range(count):
            target = "A" if current == "B" else "B"
            proc = subprocess.Popen(command(target), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            at = rng.uniform(0, 1.1 * full)
            time.sleep(at)
            finished = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            now = state()
            assert now in (current, target)
            if finished:
                assert now == target
            outcomes["new" if now == target else "old"] += 1
            stopped_in.append(round(at / full, 2))
            current = now
    print("interrupted deploys: %d, full deploy %.1f s, outcomes %r, stopped at (fraction of a full deploy) %r"
          % (count, full, outcomes, sorted(stopped_in)))
    assert outcomes["old"] >= count // 20 and outcomes["new"] >= count // 20     # both ends were reached
