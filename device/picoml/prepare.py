# picoml.prepare: the load-time half of the Python backends (viper and pure Python): the Tensor and Context an
# op's prepare is given, prepare(model), which builds a model's steps, and the fixed-point helpers both halves
# use. Each op's prepare (its constants decoded, its state) is in a family module,
# picoml.prepare_<family> (FAMILY, below), imported on first use, so that a model loads only the prepares of its
# ops. The runs of the pure-Python backend are in picoml.kernels_python, imported only for a model that runs one
# of them: a model whose every op runs in viper code needs these modules only while it loads (picoml.load drops
# them then), and the families are dropped after every load.
#
# Kernel interface (shared with picoml.kernels_viper, which may supply faster versions of some ops)
# ----------------------------------------------------------------------------------------------
# An op's kernel is a pair (prepare, run): family(FAMILY[op_code]).PREPARES = {op_code: prepare} and
# kernels_python.RUNS = {op_code: run} (op codes as in docs/format.md), kernels_viper.kernel(op_code) and
# kernels_audio.KERNELS the pair.
#
#   state = prepare(params, inputs, outputs, ctx)     called once per op, at load; may allocate
#   run(state)                                        called once per op per inference; must not allocate
#
#   params   tuple of the op's int32 params, in the order of docs/format.md (picoml._ops.N_PARAMS).
#   inputs   tuple of Tensor (below), outputs likewise (always one output). A Tensor has
#            .index, .dtype (1 int8, 2 int16, 3 int32), .shape (tuple), .shape4() (right-aligned to 4-D),
#            .size (elements), .nbytes, .scale, .zero_point, .storage (0 arena, 1 weights, 2 state), and .buf / .off:
#            the buffer holding its bytes and the byte offset of element 0 in it -- the arena bytearray for
#            activations, the model buffer (bytes, bytearray or a memoryview of a ROMFS file) for constants.
#            .ints() decodes an int32 constant into a tuple of ints; .describe() is "1x49x10x1".
#   ctx      Context (below): ctx.arena (the arena bytearray), ctx.model (the model buffer) and
#            ctx.scratch(slot, n) -> a list of exactly n ints shared by every op asking for the same (slot, n):
#            ops run one after the other, so a kernel may use its scratch lists freely during run().
#   state    anything; the walker keeps (run, state) per op and calls run(state). A prepare checks nothing:
#            the model was validated before (picoml.validate: every operand's dtype, rank and shape fit the op).
#
# prepare() below builds the walker's step list; Tensor objects exist only while their op is prepared.
#
# Values are int8 stored as bytes: a kernel reads an unsigned byte and sign-extends it (SIGNED[u] below or
# (u ^ 0x80) - 0x80) and writes (value & 0xFF). Activations may share arena bytes: the in-place ops (ADD, MUL,
# LUT: docs/format.md) may find their output over a full-shaped input, so read element i of every input before
# writing element i of the output.
#
# picoml.kernels_viper provides kernel(op_code) -> (prepare, run), or None, for the ops it accelerates (each
# family of them in a module of its own, imported on first use); prepare() takes its pair when there is one and
# the family's prepare with kernels_python's run otherwise, so it may cover any subset of the ops. Its prepare can
# call the family's prepare (the decoded constants) and build its own state from the returned tuple,
# or keep (kernels_python's run, that state) for an op it cannot take: the state layouts documented at each
# prepare are part of this interface -- change them together with kernels_viper.
# All targets are little-endian (int32 constants are copied from the model bytes as they are).
#
# Arithmetic: MicroPython ints are arbitrary precision, so every place where the C code (and the reference,
# via wrap_int32) wraps an int32 wraps explicitly here. On 64-bit ports every intermediate value is a small int
# (no heap allocation); on 32-bit ports values beyond +-2**30 become long ints, which allocate temporarily.
import struct
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

INT32_MIN = const(-2147483648)
INT32_MAX = const(2147483647)
_NUDGE = const(1073741824)              # 1 << 30
_NUDGE_NEG = const(1073741823)          # (1 << 30) - 1

# SIGNED[u] is the int8 value of the byte u.
SIGNED = array("b", bytes(range(256)))     # the bytes 0..255 read as int8


# ---------------------------------------------------------------------------------------------------------
# Scalar integer arithmetic, as TFLite Micro's reference kernels (gemmlowp rounding).
# ---------------------------------------------------------------------------------------------------------

def wrap32(x):
    """Two's complement wrap into int32, as a C int32 overflow does."""
    if INT32_MIN <= x <= INT32_MAX:
        return x
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    if ab >= 0:
        return (ab + _NUDGE) >> 31
    return -((_NUDGE_NEG - ab) >> 31)


def rdbp(x, exponent):
    """gemmlowp RoundingDivideByPOT (exponent >= 0)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = mask >> 1
    if x < 0:
        threshold += 1
    x >>= exponent
    if remainder > threshold:
        return x + 1
    return x


def mbqm(x, multiplier, shift):
    """TFLite MultiplyByQuantizedMultiplier: x wrapped to int32 (after shifting it left when shift > 0), the
    rounding doubling high multiply, then a rounding right shift when shift < 0. One function, no calls: the
    kernels use it once per output value."""
    if shift > 0:
        x <<= shift
    if x > 2147483647 or x < -2147483648:
        x = ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    if x == -2147483648 and multiplier == -2147483648:
        x = 2147483647
    else:
        x *= multiplier
        if x >= 0:
            x = (x + 1073741824) >> 31
        else:
            x = -((1073741823 - x) >> 31)
    if shift < 0:
        mask = (1 << -shift) - 1
        r = x & mask
        x >>= -shift
        if r > ((mask >> 1) + 1 if x < 0 else mask >> 1):
            x += 1
    return x


def requant_pair(multiplier, shift):
    """(multiplier, left shift, right shift, mask, mask >> 1) of a multiplier/shift pair: the form in which
    per-op requantization constants appear in the states (ADD, MUL, MEAN)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    mask = (1 << right) - 1
    return (multiplier, left, right, mask, mask >> 1)


def _sat_left_shift(x, n):
    x <<= n
    if x > INT32_MAX:
        return INT32_MAX
    if x < INT32_MIN:
        return INT32_MIN
    return x


def _rescale(x, src_integer_bits, dst_integer_bits):
    exponent = src_integer_bits - dst_integer_bits
    if exponent > 0:
        return _sat_left_shift(x, exponent)
    if exponent < 0:
        return rdbp(x, -exponent)
    return x


def _rounding_half_sum(a, b):
    s = a + b
    s = s + 1 if s >= 0 else s - 1
    return s >> 1 if s >= 0 else -((-s) >> 1)


def _newton_reciprocal_of_half_denominator(a):
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap32((1 << 29) - half_denominator_times_x)
        x = wrap32(x + _rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    return _rescale(_newton_reciprocal_of_half_denominator(a), 1, 0)


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def table32(fn):
    """array('i') of fn(u) for the 256 byte values u, filled in place (no big temporary list)."""
    t = array("i", range(256))     # sized from len(range): one block, no temporary
    for u in range(256):
        t[u] = fn(u)
    return t


def int32s(t, n):
    """An int32 constant as array('i') of n values, copied straight from the model's bytes (all targets are
    little-endian); a single value is repeated n times."""
    if t.size == n:
        return array("i", bytes(memoryview(t.buf)[t.off:t.off + 4 * n]))    # raw copy from bytes
    a = array("i", range(n))
    v = t.ints()[0]
    for i in range(n):
        a[i] = v
    return a



def _clz32(u):
    n = 0
    if u == 0:
        return 32
    while not u & 0x80000000:
        u <<= 1
        n += 1
    return n



def _broadcast_strides(t, out_shape4):
    """Element strides of t's shape right-aligned to 4-D, 0 along the axes it is broadcast on."""
    shape = t.shape4()
    strides = [0, 0, 0, 0]
    s = 1
    for i in (3, 2, 1, 0):
        if shape[i] == out_shape4[i] and shape[i] > 1:
            strides[i] = s
        s *= shape[i]
    return tuple(strides)



class Tensor:
    """An operand as prepare sees it (one tensor table entry, docs/format.md)."""

    def __init__(self, index, buf, tensors_offset, weights_offset, arena):
        dtype, ndim, storage, _, offset, nbytes, d0, d1, d2, d3, scale, zp = \
            struct.unpack_from("<BBBBII4Ifi", buf, tensors_offset + 36 * index)
        self.index = index
        self.dtype = dtype
        self.storage = storage
        self.offset = offset
        self.nbytes = nbytes
        self.shape = (d0, d1, d2, d3)[:ndim]
        self.scale = scale
        self.zero_point = zp
        self.size = _prod(self.shape)
        if storage == 1:    # the weights; an activation or state (2) is in the arena
            self.buf = buf
            self.off = weights_offset + offset
        else:
            self.buf = arena
            self.off = offset

    def shape4(self):
        """The shape right-aligned to 4 dimensions, leading dimensions 1."""
        return (1,) * (4 - len(self.shape)) + self.shape

    def ints(self):
        """An int32 constant's values as a tuple of ints."""
        return struct.unpack_from("<%di" % self.size, self.buf, self.off)

    def describe(self):
        return "x".join([str(d) for d in self.shape]) or "scalar"


class Context:
    """What a kernel's prepare gets besides its operands."""

    def __init__(self, arena, model):
        self.arena = arena
        self.model = model
        self._scratch = {}
        self._shared = {}

    def shared(self, key, make):
        """make(), once for all the ops that ask with the same key (a GRU's steps share their constants)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def table(self, key, fn):
        """table32(fn), one array for all the ops whose key is the same."""
        return self.shared(key, lambda: table32(fn))

    def scratch(self, slot, n):
        key = (slot, n)
        lst = self._scratch.get(key)
        if lst is None:
            lst = [0] * n
            self._scratch[key] = lst
        return lst


def family(name):
    """picoml.prepare_<name>: the prepares of a family of ops (FAMILY), imported on first use, so that a model loads
    only the prepares of its ops."""
    import sys
    name = __name__ + "_" + name
    __import__(name)
    return sys.modules[name]


def prepare(model):
    """The last step of picoml.load for the viper and pure-Python backends, once the loader's code is gone:
    model._steps, (ops, arena, tensors_offset, weights_offset, viper module or None) from picoml.pml -- the ops as
    (code, inputs, outputs, params) tuples, validated by picoml.validate -- becomes one (run, state) pair per op,
    the viper module's kernel where it has one; model.python_ops lists the ops left to the pure-Python kernels
    (viper). Returns the names of the modules picoml.load may drop now: the families of prepares (load-time only),
    and this module, kernels_python and kernels_audio too when nothing the model runs is in the pure-Python kernels
    (every op in viper code) and no model kept them."""
    import gc
    ops, arena, tensors_offset, weights_offset, viper = model._steps
    model._steps = None
    buf = model.buffer
    steps = [None] * len(ops)
    order = range(len(ops))
    for attempt in (0, 1):
        ctx = Context(arena, buf)
        python_ops = []
        n = 0
        try:
            for n in order:
                # the loader's and each op's garbage gone before the next op's tables, which then fill the holes it
                # left: the states lie together, not spread over all of the load's garbage (models/kws with viper
                # on qemu-m4: the largest free piece after the load 5 KB -> 45 KB, 75 KB free; load time +4% on
                # the unix port)
                gc.collect()
                code, ins, outs, params = ops[n]
                entry = viper.kernel(code) if viper is not None else None
                if entry is None:
                    if code in FAMILY:
                        from .kernels_python import RUNS
                        entry = (family(FAMILY[code]).PREPARES[code], RUNS[code])
                    else:           # an audio front-end's op: its kernels are imported only for such a model
                        from .kernels_audio import KERNELS as audio
                        entry = audio[code]
                    python_ops.append(n)
                # Tensor objects live for one op only (they are big next to what the kernels keep)
                inputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in ins])
                outputs = tuple([Tensor(i, buf, tensors_offset, weights_offset, arena) for i in outs])
                steps[n] = (entry[1], entry[0](params, inputs, outputs, ctx))
            break
        except MemoryError:
            if attempt or n == 0:
                raise
            # The heap in pieces too small for a table of op n, between the states of the ops before it (DS-CNN's
            # SOFTMAX and its 1 KB table with viper, on some heaps up to 134 KB on qemu-xtensa): once, all of them
            # dropped and op n prepared first, while the heap is in one piece. With it (and the collections)
            # every heap from 118,656 bytes loads DS-CNN with viper on qemu-xtensa (from 134,528 without), from
            # 120,704 on qemu-m4 (132,480).
            for k in order:
                steps[k] = None
            ctx = inputs = outputs = entry = None
            order = [n] + [k for k in range(len(ops)) if k != n]
    python_ops.sort()
    model._steps = steps
    if viper is not None:
        model.python_ops = python_ops
    runs_in_viper = getattr(viper, "runs_in_viper", None)     # (a stand-in viper module may not say)
    if runs_in_viper is None or not runs_in_viper(steps):
        _KEPT.append(1)
    drop = ["prepare_" + name for name in set(FAMILY.values())]
    if not _KEPT:
        drop += ["prepare", "kernels_python", "kernels_audio"]
    return drop


# Non-empty once a prepared model runs pure-Python kernels (kernels_python's or kernels_audio's, which refer to this
# module): until then a viper model needs this module only while it loads, and prepare() says picoml.load may drop
# it; once kept, it is never dropped (a model still running them would keep their code alive beside a second copy).
_KEPT = []


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

# The family of prepares (module picoml.prepare_<family>) of each op but the audio front-end's (kernels_audio)
FAMILY = {
    _ops.OP_CONV_2D: "conv",
    _ops.OP_DEPTHWISE_CONV_2D: "conv",
    _ops.OP_FULLY_CONNECTED: "conv",
    _ops.OP_AVERAGE_POOL_2D: "pool",
    _ops.OP_MAX_POOL_2D: "pool",
    _ops.OP_MEAN: "pool",
    _ops.OP_SOFTMAX: "softmax",
    _ops.OP_LOG_SOFTMAX: "softmax",
    _ops.OP_L2_NORMALIZATION: "softmax",
    _ops.OP_ADD: "elementwise",
    _ops.OP_SUB: "elementwise",
    _ops.OP_SQUARED_DIFFERENCE: "elementwise",
    _ops.OP_MUL: "elementwise",
    _ops.OP_DIV: "elementwise",
    _ops.OP_LUT: "elementwise",
    _ops.OP_CONCATENATION: "layout",
    _ops.OP_STRIDED_SLICE: "layout",
    _ops.OP_PAD: "layout",
    _ops.OP_RESIZE_BILINEAR: "layout",
    _ops.OP_ARG_MAX: "layout",
    _ops.OP_BATCH_MATMUL: "layout",
}
del _ops
