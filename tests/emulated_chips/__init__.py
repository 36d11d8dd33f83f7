# Register-level emulations of the IMU chips picoml drives (MicroPython code: runs in the unix port).
