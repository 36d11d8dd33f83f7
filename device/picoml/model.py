# picoml on the device: the Model, the part of picoml that stays in RAM while a model runs.
#
# picoml.load() runs the load-time code in picoml.pml (validate the file, pick the backend, allocate the
# arena), drops that module and builds a Model from what it returned; the Model prepares the kernels.
# Backends, fastest first: "native" (the _picoml C module), "viper" (picoml.kernels_viper for the ops it has,
# kernels_python for the rest), "python" (picoml.kernels_python: pure Python, slow but exact).
from array import array

NATIVE_STATUS = {-1: "model inconsistent", -2: "unknown op", -3: "operands do not fit the kernel"}
AUTO = None             # the automatic backend choice, made once per session: (name, module, notes)

_SEQUENCES = (list, tuple)
_INT8_BUFFERS = (bytes, bytearray, memoryview, array)
_OUT_BUFFERS = (bytearray, memoryview, array)
_INT8_HINT = "int8 data (array('b'), bytes, bytearray, memoryview) or floats (list, tuple, array('f'))"

# One slice object for whole-buffer copies: MicroPython 1.23 heap-allocates the slice of `mv[:] = x` per call,
# and some ports cannot call slice() itself, so take the object a subscript builds.
class _Subscript:
    def __getitem__(self, index):
        return index


_ALL = _Subscript()[:]


def _shape_text(shape):
    return "x".join([str(d) for d in shape]) or "scalar"


def _cold(name, *args):
    """Run picoml.pml.<name>(*args): the rarely used code (info, repr, benchmark) lives in the loader module,
    imported for the call and dropped again so it does not stay in RAM."""
    from . import _forget, pml
    try:
        return getattr(pml, name)(*args)
    finally:
        pml = None
        _forget("pml")
        _forget("_ops")


class Model:
    """A loaded .pml model with its arena; build it with picoml.load().

    predict(x, out=None)  run one inference; returns the output (see predict)
    top(output=0)         (label, index) of the largest value of the last prediction's output
    info()                a dict describing the model and the backend
    benchmark(n=10)       microseconds per inference
    metadata()            the metadata JSON as a dict (parsed on each call)
    labels                the metadata's "labels" list, or None
    backend               "native", "viper" or "python"
    """

    def __init__(self, spec):
        # spec: what picoml.pml.load returns. inputs / outputs: (shape, scale, zero_point, float_edge, in_arena,
        # byte offset, nbytes) per tensor; ops: (code, inputs, outputs, params) per op, None for native.
        (buf, arena, backend, notes, invoke, viper, ops, tensors_offset, weights_offset, inputs, outputs,
         op_codes, sizes, arch, mpy_version, op_names) = spec
        self._buf = buf
        self._arena = arena
        self.backend = backend
        self._notes = notes
        self._native = invoke
        self._steps = None
        self._python_ops = []
        if invoke is None:
            import gc
            from . import kernels_python
            gc.collect()            # the loader's garbage, before the kernels' long-lived tables
            steps, python_ops = kernels_python.prepare_steps(ops, buf, arena, tensors_offset, weights_offset, viper,
                                                             op_names)
            self._steps = steps
            if viper is not None:
                self._python_ops = python_ops
        self._inputs = inputs
        self._outputs = outputs
        self._op_codes = op_codes
        self._sizes = sizes         # (version, file, arena, weights, metadata offset, metadata size)
        self._arch = (arch, mpy_version)
        view = memoryview(arena)
        self._in_mv = [view[io[5]:io[5] + io[6]] for io in inputs]
        model_view = memoryview(buf)
        self._out_mv = [(view if io[4] else model_view)[io[5]:io[5] + io[6]] for io in outputs]
        self._out = [array("b", bytes(io[6])) for io in outputs]
        # slice assignment into an array allocates in MicroPython, into a memoryview of it does not
        self._out_view = [memoryview(a) for a in self._out]
        self._user_out = [None] * len(outputs)
        self._user_view = [None] * len(outputs)
        self._n_in = len(inputs)
        self._n_out = len(outputs)
        self._f32 = array("f", [0.0])
        self._ran = False
        self._labels = 0            # 0: not read yet

    # -- inference ---------------------------------------------------------------------------------------

    def predict(self, x, out=None):
        """Run one inference and return the output.

        x: int8 data -- array('b'), bytes, bytearray or memoryview with exactly the input's number of values --
        is copied into the arena as it is; floats -- list, tuple or array('f'); a list of ints counts as real
        values too -- are quantized with the input's scale and zero point (round half away from zero of
        x / scale computed in float32, plus the zero point, clamped to int8). A model with several inputs takes
        a list or tuple holding one such value per input.

        out: None returns the model's own array('b') holding the int8 output -- the same object on every call,
        overwritten by the next predict (a list of them for a model with several outputs); an array('f') or a
        list of the output's length is filled with dequantized floats ((q - zero_point) * scale, as float32);
        an array('b'), bytearray or memoryview is filled with the int8 values. With several outputs give a list
        or tuple of such buffers, one per output. Returns `out` when given.

        Memory: with int8 input and int8 output (out None, or the same out buffer as in the previous call)
        predict itself allocates nothing on the heap (the native backend adds whatever _picoml.invoke does), and
        neither do the python kernels on 64-bit ports; on 32-bit ports their int32 products beyond 2**30 are
        temporary long ints. Tested with the heap locked (micropython.heap_lock()). The float paths allocate
        boxed floats.
        """
        if self._n_in == 1:
            self._put(0, x)
        else:
            if not isinstance(x, _SEQUENCES) or len(x) != self._n_in:
                raise ValueError("picoml: this model has %d inputs: give a list or tuple of %d inputs"
                                 % (self._n_in, self._n_in))
            for i in range(self._n_in):
                self._put(i, x[i])
        self._run()
        self._ran = True
        if self._n_out == 1:
            if out is None:
                view = self._out_view[0]
                view[_ALL] = self._out_mv[0]
                return self._out[0]
            self._fill(0, out)
            return out
        if out is None:
            for j in range(self._n_out):
                view = self._out_view[j]
                view[_ALL] = self._out_mv[j]
            return self._out
        if not isinstance(out, _SEQUENCES) or len(out) != self._n_out:
            raise ValueError("picoml: this model has %d outputs: give out as a list of %d buffers"
                             % (self._n_out, self._n_out))
        for j in range(self._n_out):
            self._fill(j, out[j])
        return out

    def _run(self):
        invoke = self._native
        if invoke is not None:
            status = invoke(self._buf, self._arena)
            if status:
                raise RuntimeError("picoml: the native module failed: status %d (%s)"
                                   % (status, NATIVE_STATUS.get(status, "?")))
            return
        for run, state in self._steps:
            run(state)

    def _put(self, i, x):
        mv = self._in_mv[i]
        if isinstance(x, _SEQUENCES) or (isinstance(x, array) and len(x) and type(x[0]) is float):
            self._quantize(i, x)
            return
        if not isinstance(x, _INT8_BUFFERS):
            raise TypeError("picoml: input %d must be %s, not %s" % (i, _INT8_HINT, type(x).__name__))
        if len(x) != len(mv):
            raise ValueError("picoml: input %d takes %d values (shape %s), got %d"
                             % (i, len(mv), _shape_text(self._inputs[i][0]), len(x)))
        try:
            mv[_ALL] = x
        except (TypeError, ValueError, NotImplementedError):
            raise TypeError("picoml: input %d must be %s; this array's items are not bytes" % (i, _INT8_HINT))

    def _quantize(self, i, values):
        shape, scale, zp = self._inputs[i][:3]
        mv = self._in_mv[i]
        n = len(mv)
        if len(values) != n:
            raise ValueError("picoml: input %d takes %d values (shape %s), got %d"
                             % (i, n, _shape_text(shape), len(values)))
        if not scale > 0:
            raise ValueError("picoml: input %d has no quantization scale; give int8 data" % i)
        f = self._f32
        f[0] = scale
        scale = f[0]
        for k in range(n):
            try:
                f[0] = values[k]            # as float32
            except TypeError:
                raise TypeError("picoml: input %d value %d is not a number: %r" % (i, k, values[k]))
            f[0] = f[0] / scale             # the division in float32
            q = f[0]
            if q != q:
                raise ValueError("picoml: input %d value %d is NaN" % (i, k))
            a = -q if q < 0 else q
            if a > 1000.0:
                r = 1000
            else:
                r = int(a)
                if a - r >= 0.5:            # round half away from zero
                    r += 1
            if q < 0:
                r = -r
            r += zp
            if r < -128:
                r = -128
            elif r > 127:
                r = 127
            mv[k] = r & 0xFF

    def _fill(self, j, out):
        src = self._out_mv[j]
        n = len(src)
        if isinstance(out, list) or (isinstance(out, array) and len(out) and type(out[0]) is float):
            if len(out) != n:
                raise ValueError("picoml: output %d has %d values (shape %s); out has room for %d"
                                 % (j, n, _shape_text(self._outputs[j][0]), len(out)))
            scale, zp = self._outputs[j][1:3]
            f = self._f32
            for k in range(n):
                q = src[k]
                if q > 127:
                    q -= 256
                f[0] = (q - zp) * scale     # exact in double, rounded once to float32
                out[k] = f[0]
            return
        if not isinstance(out, _OUT_BUFFERS):
            raise TypeError("picoml: out must be None, an array('b')/bytearray/memoryview for int8 or an array('f')/"
                            "list for floats, not %s" % type(out).__name__)
        if len(out) != n:
            raise ValueError("picoml: output %d has %d values (shape %s); out has room for %d"
                             % (j, n, _shape_text(self._outputs[j][0]), len(out)))
        view = self._user_view[j]
        if out is not self._user_out[j]:
            view = out if isinstance(out, memoryview) else memoryview(out)
            self._user_out[j] = out
            self._user_view[j] = view
        try:
            view[_ALL] = src
        except (TypeError, ValueError, NotImplementedError):
            raise TypeError("picoml: out must hold bytes (array('b'), bytearray) or floats (array('f'), list)")

    # -- results and description -------------------------------------------------------------------------

    def top(self, output=0):
        """(label, index) of the largest int8 value of output `output` of the last prediction (the first one on a
        tie); label is None when the model has no "labels" metadata."""
        if not self._ran:
            raise ValueError("picoml: top() needs a prediction first: call predict()")
        src = self._out_mv[output]
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
            labels = self.metadata().get("labels")
            self._labels = list(labels) if isinstance(labels, list) else None
        return self._labels

    def metadata(self):
        """The metadata JSON as a dict, parsed on each call (it is not kept in RAM)."""
        start, size = self._sizes[4], self._sizes[5]
        if not size:
            return {}
        import json
        try:
            value = json.loads(bytes(memoryview(self._buf)[start:start + size]).decode())
        except (ValueError, UnicodeError) as e:
            raise ValueError("corrupt .pml: metadata is not JSON (%s)" % e)
        if not isinstance(value, dict):
            raise ValueError("corrupt .pml: metadata is not a JSON object")
        return value

    def info(self):
        """A dict: backend, backend_notes (why faster backends were not used), arch and mpy_version (of this
        interpreter), ops (names, in order), python_ops (indices of the ops the viper backend leaves to
        kernels_python), arena_bytes, weights_bytes, file_bytes, format_version, inputs / outputs (lists of
        {"shape", "dtype", "scale", "zero_point", "float"}; float: the source model took/gave float32 there and
        predict quantizes/dequantizes floats with these parameters), labels, source (the converted file)."""
        return _cold("info", self)

    def __repr__(self):
        return _cold("summary", self)

    def benchmark(self, n=10):
        """Microseconds per inference (an int): the mean of n predict() calls (int8 in, int8 out) after one
        warm-up call, on the bytes now in the input tensors (the last input, unless the model reuses that memory
        for later tensors); the outputs of the last prediction (top(), the default output array) are restored
        afterwards. Uses time.ticks_us when the port has it, else time.monotonic_ns or time.time."""
        return _cold("benchmark", self, n)
