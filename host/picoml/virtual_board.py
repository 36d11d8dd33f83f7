"""The virtual board: MicroPython's unix port behind a pseudo-terminal (socat), its working folder standing in
for the board's flash (with lib/ on sys.path), so mpremote — and `picoml deploy --port virtual` — talk to it as
to a board on a serial port."""
import os
import pathlib
import shutil
import subprocess
import time

from .errors import PicomlError
from .unix_port import micropython

DEFAULT_FLASH = pathlib.Path(__file__).resolve().parents[2] / "build" / "virtual_board"


class VirtualBoard:
    def __init__(self, flash=DEFAULT_FLASH, heapsize="4m"):
        self.flash = pathlib.Path(flash)
        self.heapsize = heapsize
        self.port = str(self.flash.parent / (self.flash.name + ".tty"))
        self.process = None

    def __enter__(self):
        if not shutil.which("socat"):
            raise PicomlError("the virtual board needs socat: apt-get install socat")
        (self.flash / "lib").mkdir(parents=True, exist_ok=True)
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
