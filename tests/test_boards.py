"""boards/*.json: every file loads and validates on the host and in the device loader (unix port), names an
IMU driver that exists, and the validator catches the mistakes it is there for."""
import copy
import json

import pytest

from picoml import boards
from conftest import ROOT
from picoml.runtimes.unix import run_script as run

REQUIRED_BOARDS = {
    "arduino_nano_33_ble_sense_rev1": ("LSM9DS1", "MP34DT05", "pdm", "armv7emsp"),
    "arduino_nano_33_ble_sense_rev2": ("BMI270", "MP34DT06JTR", "pdm", "armv7emsp"),
    "seeed_xiao_nrf52840_sense": ("LSM6DS3TR-C", "MSM261D3526H1CPM", "pdm", "armv7emsp"),
    "rpi_pico_mpu6050_inmp441": ("MPU-6050", "INMP441", "i2s", "armv6m"),
    "arduino_nano_rp2040_connect": ("LSM6DSOX", "MP34DT06JTR", "pdm", "armv6m"),
    "m5stickc_plus": ("MPU-6886", "SPM1423", "pdm", "xtensawin"),
    "esp32_devkit_mpu6050_inmp441": ("MPU-6050", "INMP441", "i2s", "xtensawin"),
}


def test_required_boards_exist():
    assert set(REQUIRED_BOARDS) <= set(boards.names())


@pytest.mark.parametrize("name", boards.names())
def test_board_loads_and_validates_on_host(name):
    b = boards.load(name)
    assert boards.validate(b) == []
    module, cls = boards.driver_for(b)
    assert (ROOT / "device" / "picoml" / "sensors" / (module + ".py")).exists()
    if name in REQUIRED_BOARDS:
        part, mic, interface, arch = REQUIRED_BOARDS[name]
        assert (b["imu"]["part"], b["mic"]["part"], b["mic"]["interface"], b["arch"]) == (part, mic, interface, arch)
    assert b["sources"]
    if b.get("user_wired"):
        assert "tutorial" in (b["notes"] + b["imu"].get("notes", "")).lower() or "user wiring" in b["imu"]["notes"]


def test_xiao_mic_power_pin_and_imu_power_pin():
    b = boards.load("seeed_xiao_nrf52840_sense")
    assert b["mic"]["power_pin"] == "P1.10" and b["imu"]["power_pin"] == "P1.08"


def test_boards_load_on_the_device():
    """The device loader (picoml.boards in the unix port) reads the same files, resolves pins and drivers."""
    out = run("""
import json
import picoml.boards as B
res = {}
for name in %r:
    b = B.load(name)
    imu = b["imu"]
    res[name] = [b["arch"], imu["part"], imu["address"], B.pin(imu.get("sda")), B.pin(imu.get("scl")),
                 B.pin(imu.get("power_pin")), B.imu_driver(b).__name__]
print(json.dumps(res))
""" % boards.names(), heapsize="1M")
    res = json.loads(out.strip().splitlines()[-1])
    for name in boards.names():
        b = boards.load(name)
        arch, part, address, sda, scl, power, cls = res[name]
        assert (arch, part, address) == (b["arch"], b["imu"]["part"], b["imu"]["address"])
        assert cls == boards.driver_for(b)[1]
        for got, pin in ((sda, b["imu"].get("sda")), (scl, b["imu"].get("scl")), (power, b["imu"].get("power_pin"))):
            if pin is None:
                assert got is None
            elif pin.startswith("P"):
                port, p = pin[1:].split(".")
                assert got == int(port) * 32 + int(p)
            else:
                assert got == int(pin[4:])


def test_device_loader_errors(tmp_path):
    damaged = [tmp_path / "cut.json", tmp_path / "list.json"]
    damaged[0].write_text(json.dumps(boards.load("virtual"))[:40])
    damaged[1].write_text("[1, 2]")
    out = run("""
import picoml.boards as B
for arg in ("no_such_board", "/nonexistent/x.json") + DAMAGED:
    try:
        B.load(arg)
        print("loaded")
    except OSError as e:
        print("OSError", e.args[1] if len(e.args) > 1 else e)
    except ValueError as e:
        print("ValueError", e)
for p in ("NINA:GPIO0", "GPIOx", "P0.1.2"):
    try:
        B.pin(p)
    except ValueError as e:
        print("ValueError", e)
""".replace("DAMAGED", repr(tuple(str(p) for p in damaged))), heapsize="1M")
    lines = out.strip().splitlines()
    assert lines[0].startswith("OSError") and "no_such_board" in lines[0]
    assert lines[1].startswith("OSError") and "/nonexistent/x.json" in lines[1]
    assert lines[2].startswith("ValueError picoml.boards: %s is not valid JSON" % damaged[0])
    assert lines[3] == "ValueError picoml.boards: %s is not a board definition (a JSON object)" % damaged[1]
    assert lines[4:] == ["ValueError picoml.boards: pin %r is not an MCU GPIO" % p
                         for p in ("NINA:GPIO0", "GPIOx", "P0.1.2")]


@pytest.mark.parametrize("change,problem", [
    (lambda b: b.update(arch="armv7m"), "does not match"),
    (lambda b: b.update(arch="z80"), "not an .mpy architecture"),
    (lambda b: b["imu"].update(part="ICM-42688"), "has no driver"),
    (lambda b: b["imu"].update(sda="GPIO45"), "imu.sda"),
    (lambda b: b["imu"].update(address=0x100), "7-bit"),
    (lambda b: b["mic"].update(interface="analog"), "mic.interface"),
    (lambda b: b["mic"].pop("clk"), "missing 'clk'"),
    (lambda b: b.pop("sources"), "missing 'sources'"),
    (lambda b: b.update(unverified=["mic.nothing"]), "not a field"),
])
def test_validator_catches(change, problem):
    b = copy.deepcopy(boards.load("arduino_nano_rp2040_connect"))
    change(b)
    problems = boards.validate(b)
    assert any(problem in p for p in problems), problems


def test_unverified_fields_exist_and_are_listed():
    for name in boards.names():
        b = boards.load(name)
        assert isinstance(b.get("unverified", []), list)


def test_open_imu_takes_a_board_name_too():
    """picoml.boards.open_imu("virtual") (the name, as picoml.boards.load takes it) raised TypeError "string indices
    must be integers" from inside open_imu (a new-user audit); a name or path is now loaded first."""
    out = run("""
import picoml.boards as B
imu = B.open_imu("virtual", odr=104)
print(type(imu).__name__, imu.rate, B.imu_driver("virtual").__name__)
""", heapsize="4M", hardware=True)
    part = boards.driver_for(boards.load("virtual"))[1]
    assert out.split() == [part, "104", part]
