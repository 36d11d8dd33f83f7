"""The virtual board: MicroPython's unix port behind a pseudo-terminal (socat) with a littlefs image as its
flash (mounted at /flash, lib/ on sys.path), so mpremote — and `picoml deploy/run/capture/pull --port virtual` —
talk to it as to a board on a serial port. Its "hardware": boards/virtual.json (picoml.boards.load("virtual")) with a
register-level emulation of its IMU (emulation/virtual_board/emulated_chips) in real time, and mic.wav on its
flash as the microphone when one is given. Its default flash is kept per user (resources.cache_dir())."""
import os
import pathlib
import shutil
import signal
import subprocess
import time

from . import resources
from .errors import PicomlError
from .runtimes.unix import micropython

IMAGE_BYTES = 2 * 1024 * 1024


class VirtualBoard:
    """`flash` is a littlefs image file (*.img, made blank on first use) mounted as the board's filesystem, or a
    host folder (any other path) that tests can look into."""

    def __init__(self, flash=None, heapsize="4m", mic_wav=None, motion=None, time_scale=1, imu_log=False):
        self.flash = pathlib.Path(flash) if flash else resources.cache_dir() / "virtual_board.img"
        self.heapsize = heapsize
        self.mic_wav = mic_wav
        self.motion = motion            # a motion file (picoml.motion.write_motion_file) its IMU plays
        self.time_scale = int(time_scale)   # its IMU's clock runs this many times faster than real time
        self.imu_log = imu_log          # its emulated IMU keeps every sample it made (chip.generated), for tests
        self.port = str(self.flash.parent / (self.flash.stem + ".tty"))
        self.process = None

    @property
    def is_image(self):
        return self.flash.suffix == ".img"

    def _command(self):
        micro = "%s -X heapsize=%s" % (micropython(), self.heapsize)
        board_json = resources.boards_dir() / "virtual.json"
        hardware = resources.virtual_board_dir()    # flash.py and emulated_chips: not files on its flash
        if self.is_image:
            if not self.flash.exists():
                self.flash.parent.mkdir(parents=True, exist_ok=True)
                self.flash.write_bytes(b"\xff" * IMAGE_BYTES)
            args = [hardware / "flash.py", self.flash, hardware, board_json]
            return "%s -i %s" % (micro, " ".join(str(a) for a in args + ([self.mic_wav] if self.mic_wav else []))), \
                dict(os.environ), self.flash.parent
        (self.flash / "lib").mkdir(parents=True, exist_ok=True)
        (self.flash / "boards").mkdir(exist_ok=True)
        shutil.copy(board_json, self.flash / "boards" / "virtual.json")
        if self.mic_wav:
            shutil.copy(self.mic_wav, self.flash / "mic.wav")
        return micro, dict(os.environ, MICROPYPATH=":%s:%s" % (self.flash / "lib", hardware)), self.flash

    def _lock(self):
        """One command at a time per virtual board (its flash): a second is refused, not let to break the first."""
        import fcntl
        self.flash.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(str(self.flash) + ".lock", "a+")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            self._lockfile = None
            raise PicomlError("the virtual board (%s) is busy with another picoml command: wait until it ends, or "
                              "stop it (while `picoml virtual` runs, give its serial port %s as --port)"
                              % (self.flash, self.port))

    def __enter__(self):
        if not shutil.which("socat"):
            raise PicomlError("the virtual board needs socat: apt-get install socat")
        self._lock()
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self):
        command, env, cwd = self._command()
        if self.motion:
            env["PICOML_MOTION"] = str(pathlib.Path(self.motion).resolve())
        env["PICOML_TIME_SCALE"] = str(self.time_scale)
        if self.imu_log:
            env["PICOML_IMU_LOG"] = "1"
        if " " in str(resources.DATA) or " " in str(self.flash):
            raise PicomlError("the virtual board's paths must not contain spaces (socat's EXEC)")
        self.process = subprocess.Popen(
            ["socat", "PTY,link=%s,raw,echo=0" % self.port, "EXEC:%s,pty,raw,echo=0,stderr" % command],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            if os.path.exists(self.port):
                return self
            time.sleep(0.05)
        raise PicomlError("the virtual board did not start")

    def __exit__(self, *exc):
        if self.process:
            _stop(self.process)
            self.process = None
        if getattr(self, "_lockfile", None):
            self._lockfile.close()          # releases the lock
            self._lockfile = None


def _stop(process):
    """Stop socat and the board's interpreter, its child (one process group): SIGTERM, then SIGKILL when they are
    still there after 10 s (a board busy in a loop, or socat waiting for it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            pass
