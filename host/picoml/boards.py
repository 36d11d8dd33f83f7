"""Board definitions on the host: list, load and validate boards/<name>.json (the files the device reads too).

    from picoml import boards
    boards.names()                      # ['arduino_nano_33_ble_sense_rev1', ...]
    b = boards.load("m5stickc_plus")    # dict; ValueError listing every problem if the file is invalid
    boards.validate(b)                  # [] or a list of problems
    boards.driver_for(b)                # ('mpu6xxx', 'MPU6886'): device module and class of the IMU

The IMU part names are those of PARTS in device/picoml/sensors/__init__.py (read from that file, so there is
one table). The format is described in boards/README.md.
"""
import ast
import json
import os
import pathlib
import re

from . import resources

BOARDS_DIR = pathlib.Path(os.environ.get("PICOML_BOARDS") or resources.boards_dir())
SENSORS_DIR = resources.device_package() / "sensors"

ARCHES = ("x64", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa", "xtensawin", "rv32imc")
MCU_ARCH = {"nRF52840": "armv7emsp", "RP2040": "armv6m", "ESP32": "xtensawin", "ESP32-PICO-D4": "xtensawin",
            "unix port": "x64"}
VIRTUAL_MCU = "unix port"   # the virtual board: emulated IMU bus, WAV-file microphone, no pins
REQUIRED = {"name": str, "mcu": str, "arch": str, "clock_hz": int, "ram_bytes": int, "flash_bytes": int,
            "imu": dict, "mic": dict, "sources": list}
IMU_REQUIRED = {"part": str, "bus": str, "i2c_id": int, "sda": str, "scl": str, "address": int}
EMULATED_IMU_REQUIRED = {"part": str, "bus": str, "address": int}
MIC_PINS = {"pdm": ("clk", "data"), "i2s": ("sck", "ws", "sd")}


def parts():
    """PARTS from device/picoml/sensors/__init__.py: part name -> (module, class)."""
    tree = ast.parse((SENSORS_DIR / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("no PARTS table in %s" % (SENSORS_DIR / "__init__.py"))


def names(directory=None):
    return sorted(p.stem for p in pathlib.Path(directory or BOARDS_DIR).glob("*.json"))


def path_of(name_or_path, directory=None):
    p = pathlib.Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return p
    return pathlib.Path(directory or BOARDS_DIR) / (name_or_path + ".json")


def load(name_or_path, directory=None, check=True):
    p = path_of(name_or_path, directory)
    if not p.exists():
        raise FileNotFoundError("no board %r (known: %s)" % (str(name_or_path), ", ".join(names(directory))))
    board = json.loads(p.read_text())
    if check:
        problems = validate(board)
        if problems:
            raise ValueError("%s is not a valid board file:\n  " % p + "\n  ".join(problems))
    return board


def _pin_ok(mcu, pin):
    if pin is None:
        return True
    if not isinstance(pin, str):
        return False
    if mcu == "nRF52840":
        m = re.fullmatch(r"P([01])\.(\d\d)", pin)
        return bool(m) and int(m.group(2)) < (32 if m.group(1) == "0" else 16)
    if mcu == "RP2040":
        m = re.fullmatch(r"GPIO(\d+)", pin)
        return bool(m) and int(m.group(1)) <= 29 or bool(re.fullmatch(r"NINA:GPIO\d+", pin))
    if mcu.startswith("ESP32"):
        m = re.fullmatch(r"GPIO(\d+)", pin)
        return bool(m) and int(m.group(1)) <= 39
    return False


def _get(board, dotted):
    cur = board
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            raise KeyError(dotted)
        cur = cur[k]
    return cur


def validate(board):
    """A list of problems (empty when the board definition is valid)."""
    out = []
    for key, typ in REQUIRED.items():
        if key not in board:
            out.append("missing %r" % key)
        elif not isinstance(board[key], typ) or isinstance(board[key], bool):
            out.append("%r should be %s" % (key, typ.__name__))
    if out:
        return out
    mcu = board["mcu"]
    if board["arch"] not in ARCHES:
        out.append("arch %r is not an .mpy architecture (%s)" % (board["arch"], ", ".join(ARCHES)))
    elif mcu in MCU_ARCH and MCU_ARCH[mcu] != board["arch"]:
        out.append("arch %r does not match the %s (%s)" % (board["arch"], mcu, MCU_ARCH[mcu]))
    if mcu not in MCU_ARCH:
        out.append("unknown mcu %r (known: %s)" % (mcu, ", ".join(MCU_ARCH)))
    for key in ("clock_hz", "ram_bytes", "flash_bytes"):
        if board[key] <= 0:
            out.append("%s must be positive" % key)
    imu = board["imu"]
    virtual = mcu == VIRTUAL_MCU
    for key, typ in (EMULATED_IMU_REQUIRED if virtual else IMU_REQUIRED).items():
        if key not in imu:
            out.append("imu: missing %r" % key)
        elif not isinstance(imu[key], typ):
            out.append("imu.%s should be %s" % (key, typ.__name__))
    table = parts()
    if imu.get("part") not in table:
        out.append("imu.part %r has no driver (known: %s)" % (imu.get("part"), ", ".join(sorted(table))))
    else:
        module = table[imu["part"]][0]
        if not (SENSORS_DIR / (module + ".py")).exists():
            out.append("imu.part %r: driver module picoml.sensors.%s does not exist" % (imu["part"], module))
    if imu.get("bus") != ("emulated" if virtual else "i2c"):
        out.append("imu.bus must be %r" % ("emulated" if virtual else "i2c"))
    if isinstance(imu.get("address"), int) and not 0x08 <= imu["address"] <= 0x77:
        out.append("imu.address 0x%x is not a 7-bit I2C address" % imu["address"])
    for key in ("sda", "scl", "power_pin", "pullup_pin", "interrupt_pin"):
        if key in imu and not _pin_ok(mcu, imu[key]):
            out.append("imu.%s %r is not a pin of the %s" % (key, imu[key], mcu))
    mic = board["mic"]
    if virtual:
        if mic.get("interface") != "wav" or not isinstance(mic.get("path"), str):
            out.append("the virtual board's mic must be interface 'wav' with a path")
    elif mic.get("interface") not in MIC_PINS:
        out.append("mic.interface must be 'pdm' or 'i2s', not %r" % mic.get("interface"))
    else:
        for key in MIC_PINS[mic["interface"]]:
            if key not in mic:
                out.append("mic: missing %r for %s" % (key, mic["interface"]))
            elif not _pin_ok(mcu, mic[key]):
                out.append("mic.%s %r is not a pin of the %s" % (key, mic[key], mcu))
    if "part" not in mic:
        out.append("mic: missing 'part'")
    if "power_pin" not in mic:
        out.append("mic: missing 'power_pin' (null when there is none)")
    elif not _pin_ok(mcu, mic["power_pin"]):
        out.append("mic.power_pin %r is not a pin of the %s" % (mic["power_pin"], mcu))
    for key in ("led", "button"):
        if key not in board:
            out.append("missing %r (null when there is none)" % key)
        elif not _pin_ok(mcu, board[key]):
            out.append("%s %r is not a pin of the %s" % (key, board[key], mcu))
    if not board["sources"] or not all(isinstance(s, str) and s for s in board["sources"]):
        out.append("sources must list the datasheets/schematics/board files the pins come from")
    for dotted in board.get("unverified", []):
        try:
            _get(board, dotted)
        except KeyError:
            out.append("unverified names %r, which is not a field" % dotted)
    return out


def driver_for(board):
    """(module, class) of the board's IMU driver under picoml.sensors."""
    return tuple(parts()[board["imu"]["part"]])
