# Register-level emulations of the IMU chips picoml drives (MicroPython code: runs in the unix port, the virtual
# board's "hardware"; the tests drive them with an explicit clock).


def open_bus(part, address=None, source=None):
    """A machine.I2C-compatible bus, in real time, holding an emulation of `part` (a board file's imu.part),
    fed by `source` (default: the deterministic Motion generator)."""
    from .chip import Motion, RealTimeI2CBus
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
    return RealTimeI2CBus(cls(address=address, source=source or Motion()))
