# picoml on the device: the Model, the part of picoml that stays in RAM while a model runs.
#
# picoml.load() runs the load-time code of picoml.pml (read and validate the file, pick the backend, allocate
# the arena, prepare the kernels), which builds the Model, and drops that code again. The rarely used code
# (info, repr, benchmark, metadata) is in picoml.report, imported for the call; the conversions of floats and
# wide integers in picoml.values, imported on their first use (docs/memory.md).
# Backends, fastest first: "native" (the _picoml C module), "viper" (picoml.kernels_viper for the ops it has,
# kernels_python for the rest), "python" (picoml.kernels_python: pure Python, slow but exact).
from array import array
from collections import namedtuple

# the automatic backend choice, made once per session and native module (picoml.pml.select): {the native
# module's name: (backend name, module, notes)}
AUTO = {}

_SEQUENCES = (list, tuple)
_INT8_BUFFERS = (bytes, bytearray, memoryview, array)
_OUT_BUFFERS = (bytearray, memoryview, array)
_WIDTH = (0, 1, 2, 4, 4, 8)         # bytes per value, by dtype code

# One slice object for whole-buffer copies: MicroPython 1.23 heap-allocates the slice of `mv[:] = x` per call,
# and some ports cannot call slice() itself, so take the object a subscript builds.
class _Subscript:
    def __getitem__(self, index):
        return index


_ALL = _Subscript()[:]
del _Subscript


def _cold(name, *args):
    """Run picoml.report.<name>(*args): the rarely used code, imported for the call and dropped again so it does
    not stay in RAM."""
    from . import _forget, report
    try:
        return getattr(report, name)(*args)
    finally:
        report = None
        _forget("report")
        _forget("_ops")


_VALUES = []


def _values():
    """picoml.values: predict's conversions of real values and wide integers and its several inputs or outputs,
    imported on their first use and kept (an application of one int8 input and output never has their code in
    RAM)."""
    if not _VALUES:
        from . import values
        _VALUES.append(values)
    return _VALUES[0]


def _error(key, *args):
    """The exception for a misuse of predict or top, worded by picoml.report.error (cold: not kept in RAM); key:
    its number in report._ERRORS (the comment after each call names it)."""
    return _cold("error", key, args)


def _copy_in(mv, x, i):
    """Input i's bytes from x (a buffer of its length); its own function: the try block makes a frame larger."""
    try:
        mv[_ALL] = x
    except (TypeError, ValueError, NotImplementedError):
        raise _error(4, i)  # INPUT_ITEMS


# A model input or output (a named tuple: small in RAM):
#   shape       the tensor's shape (a tuple, batch dimension included)
#   size        its number of int8 values
#   scale, zero_point   its quantization: real = (q - zero_point) * scale
#   float       True when the source model took (gave) float32 there: predict quantizes (dequantizes) floats
#   data        a memoryview of its bytes in the model's memory: for an input, what the next predict reads;
#               for an output, the last prediction's result (later tensors may reuse an input's bytes)
#   dtype       1 int8 (size values), 2 int16, 3 int32, 4 uint32, 5 uint64 (size is then the bytes, little-endian)
IO = namedtuple("IO", ("shape", "size", "scale", "zero_point", "float", "data", "dtype"))


class Model:
    """A loaded .pml model with its arena; build it with picoml.load().

    predict(x, out=None)  run one inference; returns the output (see predict)
    top(output=0)         (label, index) of the largest value of the last prediction's output
    invoke()              run on the inputs already in inputs[i].data (no conversion, no copy)
    reset()               zero the model's state (kept from one predict to the next, e.g. an audio front-end's)
    inputs, outputs       tuples of IO: shape, size, scale, zero_point, float, data
    labels                the metadata's "labels" list, or None
    backend               "native", "viper" or "python"
    backend_notes         why faster backends were not used (a list of strings)
    buffer                the .pml bytes the model runs from (they must not change)
    info()                a dict describing the model and the backend
    benchmark(n=10)       microseconds per inference
    metadata()            the metadata JSON as a dict (parsed on each call)
    """

    python_ops = ()     # the viper backend's instances set their own

    # Built by picoml.pml.load, which sets every attribute (Model() has no __init__: its code would stay in RAM
    # while the model runs; the loader's is dropped after the load):
    #   buffer, backend, backend_notes, inputs, outputs   as above
    #   _native       the _picoml.Model (it keeps the arena), or None
    #   _steps        for the Python backends, what kernels_python.prepare turns into the (run, state) pair of each
    #                 op (they keep the arena; it also sets python_ops: the ops the viper backend leaves to it)
    #   _out, _out_view   per output, the array('b') predict returns and a memoryview of it (slice assignment into
    #                 an array allocates in MicroPython, into a memoryview of it does not)
    #   _user_out, _user_view   per output, the last `out` buffer given to predict and a memoryview of it
    #   _n_in, _n_out     the numbers of inputs and outputs
    #   _ran          False until the first prediction
    #   _labels       0 until read (then the labels or None)
    #   _state        (arena view, zeros) of each state tensor: what reset() clears

    # -- inference ---------------------------------------------------------------------------------------

    def predict(self, x, out=None):
        """Run one inference and return the output.

        x: int8 data -- array('b'), bytes, bytearray or memoryview with exactly the input's number of values --
        is copied into the arena as it is; floats -- list, tuple or array('f'); a list of ints counts as real
        values too -- are quantized with the input's scale and zero point (round half away from zero of
        x / scale computed in float32, plus the zero point, clamped to int8). An input of another integer dtype
        (an audio front-end's int16 samples: IO.dtype) takes its little-endian bytes (IO.size of them) or its values
        (an array('h'), a list or a tuple of the input's length), written value by value. A model with several
        inputs takes a list or tuple holding one such value per input.

        out: None returns the model's own array('b') holding the int8 output -- the same object on every call,
        overwritten by the next predict (a list of them for a model with several outputs); an array('f') or a
        list of the output's length is filled with dequantized floats ((q - zero_point) * scale, as float32);
        an array('b'), bytearray or memoryview is filled with the int8 values. An output of another integer
        dtype (ARG_MAX's int32 indices, IO.dtype) fills a list or an array (e.g. array('i')) of its values, or a
        buffer of its IO.size little-endian bytes; out None returns those bytes. With several outputs give a list
        or tuple of such buffers, one per output. Returns `out` when given.

        Memory: with int8 input and int8 output (out None, or the same out buffer as in the previous call)
        predict itself allocates nothing on the heap (the native backend adds whatever _picoml.invoke does), nor
        does the viper backend, nor the python kernels on 64-bit ports; on 32-bit ports their int32 products
        beyond 2**30 are temporary long ints. Tested with the heap locked (micropython.heap_lock()). The float
        paths allocate boxed floats.
        """
        # One input, one output: the common case in a frame of at most 11 words, which MicroPython keeps on the C
        # stack (a larger one is a heap block per call); several inputs or outputs in picoml.values.
        native = self._native
        if out is None and native is not None and native.predict(x, self._out[0]):
            # the native module's fast path for one input and one output (False for any other model): a buffer of
            # the input's bytes copied in, run, the output's bytes copied out
            self._ran = True
            return self._out[0]
        if self._n_in != 1 or self._n_out != 1:
            return _values().predict_many(self, x, out)
        self._put(0, x)
        self._run()
        self._ran = True
        if out is None:
            self._out_view[0][_ALL] = self.outputs[0].data
            return self._out[0]
        self._fill(0, out)
        return out

    def _run(self):
        native = self._native
        if native is not None:
            native.invoke()
            return
        for run, state in self._steps:
            run(state)

    def _put(self, i, x):
        mv = self.inputs[i].data
        if isinstance(x, _SEQUENCES) or (isinstance(x, array) and len(x) and type(x[0]) is float):
            _values().quantize(self, i, x)
            return
        if not isinstance(x, _INT8_BUFFERS):
            raise _error(2, i, type(x).__name__)  # INPUT_TYPE
        if len(x) != len(mv):
            width = _WIDTH[self.inputs[i].dtype]
            if width > 1 and len(x) * width == len(mv):
                _values().put_wide(self, i, x)   # an int16/int32 input given as values (e.g. array('h'))
                return
            raise _error(3, i, self.inputs[i].shape, len(x))  # INPUT_SIZE
        _copy_in(mv, x, i)

    def _fill(self, j, out):
        io = self.outputs[j]
        src = io.data
        n = len(src)
        if isinstance(out, list) or (isinstance(out, array) and len(out) and type(out[0]) is float) \
                or (io.dtype != 1 and isinstance(out, array) and len(out) != n):
            _values().dequantize(self, j, out)      # floats, or the values of an output of wider integers
            return
        if not isinstance(out, _OUT_BUFFERS):
            raise _error(9, type(out).__name__)  # OUTPUT_TYPE
        if len(out) != n:
            raise _error(8, j, io.shape, len(out))  # OUTPUT_SIZE
        view = self._user_view[j]
        if out is not self._user_out[j]:
            view = out if isinstance(out, memoryview) else memoryview(out)
            self._user_out[j] = out
            self._user_view[j] = view
        try:
            view[_ALL] = src
        except (TypeError, ValueError, NotImplementedError):
            raise _error(10)  # OUTPUT_ITEMS

    def invoke(self):
        """Run one inference on the inputs as they are in inputs[i].data (written there by the caller, e.g. the
        audio front-end); the outputs are left in outputs[j].data. No copies and no checks: predict() without its
        conversions."""
        self._run()
        self._ran = True

    def reset(self):
        """Zero the model's state (its state tensors: e.g. an audio front-end's noise estimate), as after load: the
        next predict starts a new stream. Nothing to do for a model without state. Allocates nothing."""
        for view, zeros in self._state:
            view[_ALL] = zeros

    # -- results and description -------------------------------------------------------------------------

    def top(self, output=0):
        """(label, index) of the largest int8 value of output `output` of the last prediction (the first one on a
        tie); label is None when the model has no "labels" metadata."""
        if not self._ran:
            raise _error(11)  # TOP_FIRST
        if not isinstance(output, int) or not 0 <= output < self._n_out:
            raise _error(12, self._n_out, self._n_out - 1)  # TOP_OUTPUT
        src = self.outputs[output]
        if src.dtype != 1:      # (its bytes are not its values: the largest byte of ARG_MAX's int32 indices)
            raise _error(16, output, src.dtype)  # TOP_WIDE
        src = src.data
        best = -1
        index = 0
        for k in range(len(src)):
            v = src[k] ^ 0x80           # same order as the signed values
            if v > best:
                best = v
                index = k
        labels = self.labels
        return (labels[index] if labels is not None and index < len(labels) else None), index

    @property
    def labels(self):
        if self._labels == 0:
            self._labels = _cold("labels", self)
        return self._labels

    def metadata(self):
        """The metadata JSON as a dict, parsed on each call (it is not kept in RAM)."""
        return _cold("metadata", self)

    def info(self):
        """A dict: backend, backend_notes (why faster backends were not used), arch and mpy_version (of this
        interpreter), ops (names, in order), python_ops (indices of the ops the viper backend leaves to
        kernels_python), arena_bytes, scratch_bytes (the buffer beside the arena, allocated at load, for what of the
        native kernels' working memory on this core the arena's free bytes cannot hold; 0 for the other backends),
        weights_bytes, file_bytes, format_version, inputs / outputs (lists of {"shape", "dtype", "scale",
        "zero_point", "float"}; float: the source model took/gave float32 there and predict quantizes/dequantizes
        floats with these parameters), labels, source (the converted file)."""
        return _cold("info", self)

    def __repr__(self):
        return _cold("summary", self)

    def benchmark(self, n=10):
        """Microseconds per inference (an int): the mean of n predict() calls (int8 in, int8 out) after one
        warm-up call, on the bytes now in the input tensors (the last input, unless the model reuses that memory
        for later tensors); the outputs of the last prediction (top(), the default output array) are restored
        afterwards. Timed by picoml.clock: time.ticks_us, or time.monotonic_ns where the port has no ticks_us."""
        return _cold("benchmark", self, n)
