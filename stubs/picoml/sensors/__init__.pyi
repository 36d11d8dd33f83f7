from typing import Any, Dict, Tuple

from .base import IMU   # (picoml.sensors.base.IMU: not a name of picoml.sensors itself)

PARTS: Dict[str, Tuple[str, str]]

def driver(part: str) -> type: ...
def open_imu(part: str, i2c: Any, **kwargs: Any) -> IMU: ...
