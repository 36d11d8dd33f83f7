"""The virtual board: MicroPython's unix port behind a pseudo-terminal (socat), its working folder standing in
for the board's flash (with lib/ on sys.path), so mpremote — and `picoml deploy --port virtual` — talk to it as
to a board on a serial port. Its "hardware": boards/virtual.json (picoml.boards.load("virtual")) with a
register-level emulation of its IMU (device/emulated_chips, on its flash in lib/) in real time, and mic.wav on
its flash as the microphone when one is given."""
import os
import pathlib
import shutil
import subprocess
import time

from .errors import PicomlError
from .unix_port import micropython

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_FLASH = REPO / "build" / "virtual_board"


class VirtualBoard:
    def __init__(self, flash=DEFAULT_FLASH, heapsize="4m", mic_wav=None):
        self.flash = pathlib.Path(flash)
        self.heapsize = heapsize
        self.mic_wav = mic_wav
        self.port = str(self.flash.parent / (self.flash.name + ".tty"))
        self.process = None

    def __enter__(self):
        if not shutil.which("socat"):
            raise PicomlError("the virtual board needs socat: apt-get install socat")
        (self.flash / "lib").mkdir(parents=True, exist_ok=True)
        (self.flash / "boards").mkdir(exist_ok=True)
        shutil.copy(REPO / "boards" / "virtual.json", self.flash / "boards" / "virtual.json")
        shutil.copytree(REPO / "device" / "emulated_chips", self.flash / "lib" / "emulated_chips",
                        dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        if self.mic_wav:
            shutil.copy(self.mic_wav, self.flash / "mic.wav")
        env = dict(os.environ, MICROPYPATH=":%s" % (self.flash / "lib"))
        command = "%s -X heapsize=%s" % (micropython(), self.heapsize)
        self.process = subprocess.Popen(
            ["socat", "PTY,link=%s,raw,echo=0" % self.port, "EXEC:%s,pty,raw,echo=0,stderr" % command],
            cwd=self.flash, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.port):
                return self
            time.sleep(0.05)
        self.__exit__()
        raise PicomlError("the virtual board did not start")

    def __exit__(self, *exc):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
