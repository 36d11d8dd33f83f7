from typing import Any, Dict, List, Union

DIRS: List[str]
REQUIRED: tuple

def find(name_or_path: str) -> str: ...
def load(name_or_path: str) -> Dict[str, Any]:
    """A board definition (boards/<name>.json): arch, clock, RAM, the IMU and microphone with their pins."""
def pin(name: Any) -> Any: ...
def imu_driver(board: Union[Dict[str, Any], str]) -> type: ...
def open_imu(board: Union[Dict[str, Any], str], freq: int = ..., **kwargs: Any) -> Any:
    """The board's IMU driver, on its I2C pins (or the virtual board's emulated chip). kwargs: odr, accel_range,
    gyro_range, ... A picoml.sensors IMU: read_raw, read_si, read_fifo, read_into (a Window reader)."""
