from typing import Any, Callable, Optional, Tuple, Union

from .model import Model

__version__: str

Buffer = Union[bytes, bytearray, memoryview]

def load(source: Union[str, Buffer], backend: Optional[str] = ...) -> Model:
    """Load a .pml (a path, read into one buffer; or bytes used in place). backend: None (fastest available),
    "native", "viper" or "python". ValueError for a bad file, MemoryError naming the bytes wanted and free."""
def record(label: str, seconds: float, source: Any = ..., **options: Any) -> Tuple[int, int]:
    """Record labelled samples to the board's filesystem or the serial link (picoml.recording.record)."""
