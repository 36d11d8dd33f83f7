"""What a user at a board needs around deploy: board definitions on the board, --model-only, one command at a time
on the virtual board, mpremote reaching it, labels in `run`'s output."""
import pathlib
import subprocess
import sys

import pytest

from picoml.cli import main
from picoml.deploy import Mpremote, deploy
from picoml.errors import PicomlError
from picoml.tools import find_tool
from picoml.virtual_board import VirtualBoard

GESTURE = pathlib.Path(__file__).resolve().parents[1] / "models" / "gesture" / "gesture.pml"


@pytest.mark.slow
def test_deploy_copies_the_board_definitions_and_a_model_alone(tmp_path):
    with VirtualBoard(flash=tmp_path / "flash.img") as board:
        deploy(None, board.port, log=lambda *a: None)
        out = Mpremote(board.port).exec("import picoml.boards as B\n"
                                        "print(B.load('seeed_xiao_nrf52840_sense')['imu']['part'])")
        assert out.strip().splitlines()[-1] == "LSM6DS3TR-C"
        deploy(str(GESTURE), board.port, library=False, log=lambda *a: None)
        out = Mpremote(board.port).exec("import picoml\nprint(picoml.load('gesture.pml').labels)")
        assert "wave" in out
        with pytest.raises(PicomlError, match="needs a model"):
            deploy(None, board.port, library=False)


def test_a_second_command_on_a_busy_virtual_board_is_refused(tmp_path):
    with VirtualBoard(flash=tmp_path / "flash.img"):
        with pytest.raises(PicomlError, match="busy with another picoml command"):
            with VirtualBoard(flash=tmp_path / "flash.img"):
                pass
    with VirtualBoard(flash=tmp_path / "flash.img"):     # free again once the first has ended
        pass


def test_mpremote_reaches_a_running_virtual_board(tmp_path):
    env = dict(__import__("os").environ, XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "picoml", "virtual"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("virtual board running: serial port ")
        port = line.split()[5]
        done = subprocess.run([find_tool("mpremote", "mpremote"), "connect", port, "resume", "exec", "print(6 * 7)"],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip().splitlines()[-1] == "42", done
    finally:
        proc.terminate()            # picoml virtual stops its board on SIGTERM as on Ctrl-C
        proc.wait(timeout=10)
    assert not pathlib.Path(port).exists(), "the virtual board outlived `picoml virtual`"


def test_run_prints_the_top_label(tmp_path, capsys):
    import numpy as np
    from picoml import motion
    x = motion.perform("wave", 1, 104, motion.people(1, seed=5)[0])[None].astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(GESTURE), "--input", str(tmp_path / "x.npy"), "--on", "reference"]) == 0
    assert "top: wave" in capsys.readouterr().out


@pytest.mark.slow
def test_capture_plot_always_leaves_a_picture(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")          # no display: the live window cannot open
    assert main(["capture", "--port", "virtual", "--imu", "virtual", "--rate", "104", "--seconds", "1",
                 "--label", "idle", "--out", str(tmp_path / "data"), "--plot"]) == 0
    assert (tmp_path / "data" / "plot.png").read_bytes()[:4] == b"\x89PNG"
