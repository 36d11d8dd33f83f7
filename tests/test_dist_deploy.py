"""Per-architecture builds (dist/), their .mpy headers and mip package files, and `picoml deploy` onto the
virtual board (the unix port behind a pty) with verification."""
import ast
import json

import numpy as np
import pytest

import models
from conftest import ROOT
from picoml import dist, format, reference, resources
from picoml.convert import convert
from picoml import runtimes
from picoml.deploy import Mpremote, deploy
from picoml.errors import PicomlError
from picoml.virtual_board import VirtualBoard

DIST = ROOT / "dist"
NATIVE_CODE = ("_picoml.mpy", dist.NATIVE_CORE, "fast.mpy")   # the files with machine code, and kernels_viper*.mpy


@pytest.mark.parametrize("arch", sorted(dist.BUILDS))
def test_build_headers_and_package(arch):
    folder = DIST / dist.build_name(arch)
    mpys = sorted(folder.rglob("*.mpy"))
    assert (folder / "_picoml.mpy").exists() == dist.BUILDS[arch]
    assert (folder / dist.NATIVE_CORE).exists() == dist.BUILDS[arch]
    assert sorted(str(p.relative_to(folder / "picoml")) for p in (folder / "picoml").rglob("*.mpy")) == \
        sorted(str(p.relative_to(resources.device_package()).with_suffix(".mpy")) for p in dist.device_sources())
    for path in mpys:
        version, sub_version, file_arch, small_int_bits = dist.mpy_header(path.read_bytes())
        assert version == 6, path
        if path.name in NATIVE_CODE or path.name.startswith("kernels_viper"):
            assert (file_arch, sub_version) == (arch, 3), path
        else:
            assert (file_arch, sub_version) == (None, 0), path     # portable bytecode
    package = json.loads((folder / "package.json").read_text())
    assert sorted(source for _, source in package["urls"]) == \
        sorted([str(p.relative_to(folder)) for p in mpys] + ["picoml/" + dist.FRONTEND])
    assert (folder / "picoml" / dist.FRONTEND).read_bytes() == resources.frontend_model().read_bytes()


def test_circuitpython_layout():
    lib = DIST / "circuitpython" / "lib" / "picoml"
    names = sorted(str(p.relative_to(lib)) for p in lib.rglob("*.py"))
    assert names == sorted(str(p.relative_to(resources.device_package())) for p in dist.device_sources()
                           if not p.name.startswith(dist.CIRCUITPYTHON_SKIP))
    for p in lib.rglob("*.py"):
        ast.parse(p.read_text())
    assert (lib / dist.FRONTEND).read_bytes() == resources.frontend_model().read_bytes()


def _mpy_word(arch, version=6, sub=3):
    return dist.ARCH_CODES[arch] << 10 | sub << 8 | version


def test_build_chosen_for_each_board():
    assert dist.arch_for_board(_mpy_word("armv7emsp")) == "armv7emsp"
    assert dist.arch_for_board(_mpy_word("xtensawin")) == "xtensawin"
    assert dist.arch_for_board(0, "circuitpython") == "circuitpython"
    with pytest.raises(PicomlError, match="no picoml build for arch rv32imc; supported are MicroPython 1.23"):
        dist.arch_for_board(_mpy_word("rv32imc"))
    with pytest.raises(PicomlError, match="loads .mpy 5.0; picoml's builds are .mpy 6.3"):
        dist.arch_for_board(_mpy_word("armv6m", version=5, sub=0))
    with pytest.raises(PicomlError, match="reports no .mpy support"):
        dist.arch_for_board(0)


@pytest.mark.slow
def test_deploy_to_the_virtual_board_and_run(tmp_path):
    kws = models.tflite("kws_ref_model")
    model = convert(kws.read_bytes(), kws.name, measure_tflm=False)
    pml = tmp_path / "kws.pml"
    pml.write_bytes(format.write(model))
    x = np.arange(490, dtype=np.int64).astype(np.int8).reshape(1, 49, 10, 1)
    with VirtualBoard(tmp_path / "flash") as board:
        log = []
        assert deploy(str(pml), board.port, log=log.append) == "x64_6.3"
        shipped = json.loads((DIST / "x64_6.3" / "package.json").read_text())["urls"]
        boards = sorted(p.name for p in resources.boards_dir().glob("*.json"))
        assert "all %d verified on the board" % (len(shipped) + len(boards) + 1) in log[-1]
        assert (tmp_path / "flash" / "lib" / "_picoml.mpy").exists()
        assert sorted(p.name for p in (tmp_path / "flash" / "boards").iterdir()) == boards
        out = Mpremote(board.port).exec(
            "import picoml\nm = picoml.load('kws.pml')\nprint(m.backend, list(m.predict(bytes(%r))))" % x.tobytes())
        on_board = runtimes.board(board.port).run(pml.read_bytes(), [x], "viper")
    backend, values = out.strip().split(" ", 1)
    assert backend == "native"
    assert ast.literal_eval(values) == reference.run(model, [x])[0].reshape(-1).tolist()
    assert np.array_equal(on_board[0], reference.run(model, [x])[0])


def test_cli_run_on_the_virtual_board(tmp_path, capsys):
    from picoml.cli import main
    kws = models.tflite("kws_ref_model")
    pml = tmp_path / "kws.pml"
    model = convert(kws.read_bytes(), kws.name, measure_tflm=False)
    pml.write_bytes(format.write(model))
    x = np.random.default_rng(5).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(pml), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                 "--port", "virtual"]) == 0
    assert np.array_equal(np.load(tmp_path / "y.npy"), reference.run(model, [x])[0])


def test_deploy_notices_a_bad_copy(tmp_path):
    from picoml.deploy import verify
    with VirtualBoard(tmp_path / "flash") as board:
        deploy(None, board.port, log=lambda s: None)
        target = tmp_path / "flash" / "lib" / "picoml" / "model.mpy"
        target.write_bytes(target.read_bytes()[:-1])
        with pytest.raises(PicomlError, match="differs"):
            verify(Mpremote(board.port), {DIST / "x64_6.3" / "picoml" / "model.mpy": str(target)})


@pytest.mark.slow
def test_virtual_board_flash_is_a_littlefs_image_that_persists(tmp_path):
    image = tmp_path / "flash.img"
    with VirtualBoard(image) as board:
        deploy(None, board.port, log=lambda s: None)
        out = Mpremote(board.port).exec("import os\nprint(os.getcwd(), sorted(os.listdir('lib')))")
    assert out.split()[0] == "/flash" and "picoml" in out
    assert image.stat().st_size == 2 * 1024 * 1024
    with VirtualBoard(image) as board:      # a second boot finds what the first wrote
        out = Mpremote(board.port).exec("import picoml.boards as B\nimu = B.open_imu(B.load('virtual'))\n"
                                        "print(imu.PART, len(open('lib/_picoml.mpy', 'rb').read()))")
    assert out.split() == ["LSM6DS3TR-C", str((DIST / "x64_6.3" / "_picoml.mpy").stat().st_size)]


@pytest.mark.slow
def test_virtual_board_microphone_plays_its_wav_at_the_real_rate(tmp_path):
    import wave
    wav = ROOT.parent / "shared" / "conformance" / "micro_speech" / "yes_1000ms.wav"
    with wave.open(str(wav)) as w:
        expected = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    with VirtualBoard(tmp_path / "flash.img", mic_wav=wav) as board:
        deploy(None, board.port, log=lambda s: None)
        out = Mpremote(board.port).exec(
            "import time, picoml.boards as B, picoml.audio as A\nfrom array import array\n"
            "mic = A.Microphone.from_board(B.load('virtual'))\nbuf = array('h', bytes(2 * 4000))\n"
            "t0 = time.ticks_ms()\ngot = []\nfor i in range(4):\n    n = mic.read_into(buf)\n    got.extend(buf[:n])\n"
            "print(mic.rate, time.ticks_diff(time.ticks_ms(), t0), repr(got))")
    rate, elapsed_ms, samples = out.strip().split(" ", 2)
    assert int(rate) == 16000
    assert 900 <= int(elapsed_ms) <= 3000          # 16,000 samples at 16 kHz: about one second, paced
    assert ast.literal_eval(samples) == expected[:16000].tolist()


# ---------------------------------------------------------------- wrong builds are refused before any copy

def _build_copy(tmp_path, arch="x64"):
    import shutil
    folder = tmp_path / dist.build_name(arch)
    shutil.copytree(DIST / dist.build_name(arch), folder)
    return folder


def _files(build):
    from picoml.deploy import _files_of
    return _files_of(build, "/lib")


@pytest.mark.parametrize("case", ["native_arch", "viper_arch", "library_version", "not_mpy", "native_sub_version"])
def test_wrong_build_files_are_refused_naming_the_file_needed(tmp_path, case):
    build = _build_copy(tmp_path)
    x64 = _mpy_word("x64")
    if case == "native_arch":          # an RP2040 native module in the x64 build
        (build / "_picoml.mpy").write_bytes((DIST / "armv6m_6.3" / "_picoml.mpy").read_bytes())
        name, what = "_picoml.mpy", "native code for armv6m"
    elif case == "viper_arch":         # the library's viper kernels compiled for the ESP32
        (build / "picoml" / "kernels_viper.mpy").write_bytes(
            (DIST / "xtensawin_6.3" / "picoml" / "kernels_viper.mpy").read_bytes())
        name, what = "picoml/kernels_viper.mpy", "native code for xtensawin"
    elif case == "library_version":    # bytecode of an older MicroPython (.mpy 5)
        path = build / "picoml" / "stream.mpy"
        path.write_bytes(b"M\x05\x00\x1f" + path.read_bytes()[4:])
        name, what = "picoml/stream.mpy", ".mpy version 5"
    elif case == "not_mpy":            # a CircuitPython .mpy (header 'C')
        path = build / "picoml" / "model.mpy"
        path.write_bytes(b"C\x06\x00\x1f" + path.read_bytes()[4:])
        name, what = "picoml/model.mpy", "is not a MicroPython .mpy"
    else:                              # native code of another .mpy sub-version
        path = build / "_picoml.mpy"
        data = bytearray(path.read_bytes())
        data[2] = (data[2] & ~3) | 2
        path.write_bytes(bytes(data))
        name, what = "_picoml.mpy", "native code of .mpy 6.2"
    with pytest.raises(PicomlError) as e:
        dist.check_files(_files(build), "micropython", x64, build)
    message = str(e.value)
    assert str(build / name) in message and what in message
    assert "dist/x64_6.3/" + name in message and "make dist" in message     # the file this board needs
    dist.check_files(_files(DIST / "x64_6.3"), "micropython", x64, DIST / "x64_6.3")  # the right build passes


def test_arm_boards_take_thumb_code_of_their_own_arch_or_older():
    assert dist.accepts("armv7emsp", "armv6m") and dist.accepts("armv7emsp", "armv7emsp")
    assert not dist.accepts("armv6m", "armv7emsp") and not dist.accepts("x64", "armv6m")
    dist.check_files(_files(DIST / "armv6m_6.3"), "micropython", _mpy_word("armv7emsp"), DIST / "armv6m_6.3")
    with pytest.raises(PicomlError, match="native code for armv7emsp"):
        dist.check_files(_files(DIST / "armv7emsp_6.3"), "micropython", _mpy_word("armv6m"), DIST / "armv7emsp_6.3")


class _RecordingBoard:
    """A board that answers board_info and records every other script it is given."""
    def __init__(self, name, mpy):
        self.answer = repr((name, mpy, "/lib"))
        self.scripts = []

    def exec(self, code):
        if "sys.implementation" in code:
            return self.answer + "\n"
        self.scripts.append(code)
        return ""

    def close(self):
        pass


def test_a_circuitpython_board_given_a_micropython_build_is_refused_before_any_copy(tmp_path):
    from picoml.deploy import _deploy
    board = _RecordingBoard("circuitpython", 0)
    with pytest.raises(PicomlError) as e:
        _deploy(board, "circuitpython", 0, "/lib", None, DIST / "armv7emsp_6.3", lambda s: None)
    assert "MicroPython .mpy, which CircuitPython cannot load" in str(e.value)
    assert "/lib/" in str(e.value) and ".py" in str(e.value) and "dist/circuitpython" in str(e.value)
    assert board.scripts == []                                 # nothing was written to the board
    dist.check_files(_files(DIST / "circuitpython"), "circuitpython", 0, DIST / "circuitpython")


def test_deploy_of_a_wrong_build_leaves_the_board_alone(tmp_path):
    build = _build_copy(tmp_path)
    (build / "_picoml.mpy").write_bytes((DIST / "armv7emsp_6.3" / "_picoml.mpy").read_bytes())
    with VirtualBoard(tmp_path / "flash") as board:
        with pytest.raises(PicomlError, match="_picoml.mpy holds native code for armv7emsp"):
            deploy(None, board.port, build=build, log=lambda s: None)
        assert list((tmp_path / "flash" / "lib").iterdir()) == []
        deploy(None, board.port, log=lambda s: None)               # the right build goes on
    assert (tmp_path / "flash" / "lib" / "_picoml.mpy").read_bytes() == (DIST / "x64_6.3" / "_picoml.mpy").read_bytes()
