# Register-level emulations of the IMU chips picoml drives (MicroPython code: runs in the unix port, the virtual
# board's "hardware"; the tests drive them with an explicit clock).


def default_source():
    """What the virtual board's IMU plays: the motion file named by $PICOML_MOTION (picoml.motion writes it for
    `picoml capture --motion` and the demos), else the deterministic Motion generator."""
    import os
    from .chip import Motion, MotionFile
    path = os.getenv("PICOML_MOTION")
    return MotionFile(path) if path else Motion()


def open_bus(part, address=None, source=None):
    """A machine.I2C-compatible bus holding an emulation of `part` (a board file's imu.part) fed by `source`
    (default: default_source()), its clock following real time, or $PICOML_TIME_SCALE times faster."""
    import os
    from .chip import RealTimeI2CBus
    if part in ("LSM6DS3TR-C", "LSM6DSOX"):
        from . import lsm6ds
        cls = lsm6ds.LSM6DS3TRC if part == "LSM6DS3TR-C" else lsm6ds.LSM6DSOX
    elif part in ("MPU-6050", "MPU-6886"):
        from . import mpu6xxx
        cls = mpu6xxx.MPU6050 if part == "MPU-6050" else mpu6xxx.MPU6886
    elif part == "LSM9DS1":
        from . import lsm9ds1
        cls = lsm9ds1.LSM9DS1
    elif part == "BMI270":
        from . import bmi270
        cls = bmi270.BMI270
    else:
        raise ValueError("no emulation of the IMU part %r" % part)
    speed = int(os.getenv("PICOML_TIME_SCALE") or 1)
    chip = cls(address=address, source=source or default_source())
    if not os.getenv("PICOML_IMU_LOG"):
        chip.generated = None   # no log of every sample on a board that runs for hours (tests ask for one)
        chip.writes = None      # nor of every register write (each FIFO restart writes three)
    return RealTimeI2CBus(chip, speed=speed)
