# IMU drivers for picoml: one module per chip family, imported only when used.
#
#   from picoml.sensors import open_imu
#   imu = open_imu("LSM6DSOX", i2c, odr=104)          # machine.I2C or busio.I2C
#   imu.read_raw(raw)             # raw: array('h', [0]*6) -> [ax, ay, az, gx, gy, gz] counts
#   imu.read_si(out)              # out: array('f', [0]*6) -> m/s^2, deg/s
#   n = imu.read_fifo(buf)        # buf: array('h', [0]*6*N) -> n samples, oldest first
#
# PARTS is the one table from part name to (module, class); boards/*.json name parts from it and the host
# validator (host/picoml/boards.py) reads it from this file.
PARTS = {
    "LSM6DS3TR-C": ("lsm6ds", "LSM6DS3TRC"),
    "LSM6DSOX": ("lsm6ds", "LSM6DSOX"),
    "MPU-6050": ("mpu6xxx", "MPU6050"),
    "MPU-6886": ("mpu6xxx", "MPU6886"),
    "LSM9DS1": ("lsm9ds1", "LSM9DS1"),
    "BMI270": ("bmi270", "BMI270"),
}


def driver(part):
    """The driver class for a part name (see PARTS)."""
    if part not in PARTS:
        raise ValueError("picoml.sensors: no driver for %r; known parts: %s" % (part, ", ".join(sorted(PARTS))))
    mod, cls = PARTS[part]
    m = __import__("picoml.sensors." + mod, None, None, [cls])
    return getattr(m, cls)


def open_imu(part, i2c, **kwargs):
    return driver(part)(i2c, **kwargs)
