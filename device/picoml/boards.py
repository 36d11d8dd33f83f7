# Board definitions on the device: the boards/<name>.json files the host uses too (see boards/README.md).
#
#   import picoml.boards
#   b = picoml.boards.load("arduino_nano_rp2040_connect")     # or a path to a .json file
#   b["imu"]["part"], picoml.boards.pin(b["imu"]["sda"])       # -> "LSM6DSOX", 12
#   imu = picoml.boards.open_imu(b, odr=104)                   # on a board: power pins, machine.I2C, driver
#
# Load-time code only; nothing here runs per sample.

# where a bare board name is looked for, in order (deploy copies the board file to /boards)
DIRS = ["boards", "/boards", "/lib/boards"]

REQUIRED = ("name", "mcu", "arch", "clock_hz", "ram_bytes", "flash_bytes", "imu", "mic", "sources")


def _exists(path):
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _dirs():
    dirs = list(DIRS)
    try:    # the repository layout (the unix port, tests): <root>/device/picoml/boards.py -> <root>/boards
        here = __file__.rsplit("/", 1)[0]
        dirs.append(here + "/../../boards")
    except (NameError, AttributeError):
        pass
    return dirs


def find(name_or_path):
    """The path of a board file: name_or_path itself if it names a file, else <dir>/<name>.json."""
    if "/" in name_or_path or name_or_path.endswith(".json"):
        if _exists(name_or_path):
            return name_or_path
        raise OSError(2, "picoml.boards: no board file %s" % name_or_path)
    for d in _dirs():
        p = d + "/" + name_or_path + ".json"
        if _exists(p):
            return p
    raise OSError(2, "picoml.boards: no board %r in %s" % (name_or_path, ", ".join(_dirs())))


def load(name_or_path):
    """The board definition as a dict; ValueError naming the file if it is not JSON, not an object, or a required
    field is missing."""
    import json
    path = find(name_or_path)
    with open(path) as f:
        try:
            board = json.load(f)
        except ValueError as e:     # MicroPython: "syntax error in JSON"; CPython: its JSONDecodeError
            raise ValueError("picoml.boards: %s is not valid JSON (%s)" % (path, e))
    if not isinstance(board, dict):
        raise ValueError("picoml.boards: %s is not a board definition (a JSON object)" % path)
    missing = [k for k in REQUIRED if k not in board]
    if missing:
        raise ValueError("picoml.boards: %s lacks %s" % (path, ", ".join(missing)))
    return board


def pin(name):
    """A board pin name as machine.Pin's id: "P0.14" -> 14, "P1.08" -> 40 (nRF: port * 32 + pin),
    "GPIO12" -> 12, None -> None. ValueError for pins not on the MCU (e.g. "NINA:GPIO0")."""
    if name is None:
        return None
    try:
        if name.startswith("GPIO"):
            return int(name[4:])
        if name.startswith("P") and "." in name:
            port, p = name[1:].split(".")
            return int(port) * 32 + int(p)
    except ValueError:      # "GPIOx", "P0.1.2"
        pass
    raise ValueError("picoml.boards: pin %r is not an MCU GPIO" % name)


def imu_driver(board):
    """The driver class of the board's IMU (picoml.sensors); board: a load()ed definition, or a name or path."""
    if isinstance(board, str):
        board = load(board)
    from .sensors import driver
    return driver(board["imu"]["part"])


def open_imu(board, freq=400000, **kwargs):
    """On a MicroPython board: drive the IMU's power and pull-up enable pins high, open machine.I2C on the
    board's pins and return the driver. kwargs go to the driver (odr, accel_range, gyro_range, ...). board: a
    load()ed definition, or a name or path (open_imu("virtual") raised "string indices must be integers")."""
    if isinstance(board, str):
        board = load(board)
    imu = board["imu"]
    if imu.get("bus") == "emulated":    # the virtual board: a register-level emulation of the chip
        from emulated_chips import open_bus
        return imu_driver(board)(open_bus(imu["part"], imu["address"]), address=imu["address"], **kwargs)
    import machine
    for key in ("power_pin", "pullup_pin"):
        if imu.get(key):
            machine.Pin(pin(imu[key]), machine.Pin.OUT, value=1)
    if imu.get("power_pin"):
        import time
        time.sleep_ms(10)
    i2c = machine.I2C(imu["i2c_id"], scl=machine.Pin(pin(imu["scl"])), sda=machine.Pin(pin(imu["sda"])),
                      freq=freq)
    return imu_driver(board)(i2c, address=imu["address"], **kwargs)
