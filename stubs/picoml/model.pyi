from array import array
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

Int8Data = Union[bytes, bytearray, memoryview, "array[int]"]
FloatData = Union[List[float], Tuple[float, ...], "array[float]"]

class IO(NamedTuple):
    shape: Tuple[int, ...]
    size: int
    scale: float
    zero_point: int
    float: bool
    data: memoryview
    dtype: int

class Model:
    inputs: Tuple[IO, ...]
    outputs: Tuple[IO, ...]
    backend: str
    backend_notes: List[str]
    buffer: Union[bytes, bytearray, memoryview]
    python_ops: Sequence[int]
    @property
    def labels(self) -> Optional[List[str]]: ...
    def predict(self, x: Union[Int8Data, FloatData, Sequence[Union[Int8Data, FloatData]]],
                out: Any = ...) -> Any:
        """One inference: int8 data is copied in, floats are quantized. Returns the model's own array('b')
        (overwritten by the next call), or `out` filled (array('f')/list: dequantized; array('b')/bytearray: int8;
        for an output of wider integers, such as ARG_MAX's int32 indices, a list or array('i') of its values)."""
    def top(self, output: int = ...) -> Tuple[Optional[str], int]: ...
    def invoke(self) -> None: ...
    def reset(self) -> None:
        """Zero the model's state (an audio front-end's noise estimate; an LSTM's hidden and cell states, which it
        keeps from one predict to the next as TFLite Micro does), as after load."""
    def info(self) -> Dict[str, Any]: ...
    def metadata(self) -> Dict[str, Any]: ...
    def benchmark(self, n: int = ...) -> int: ...
