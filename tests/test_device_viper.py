"""picoml.kernels_viper (device/picoml/kernels_viper.py): the viper backend gives the numpy reference's bytes.

Two ways of running the viper code:
  * for real, in the MicroPython unix port (x64, so a viper int is 64 bits wide): every op of the MLPerf Tiny
    and generated models in viper code (their bytes on every runtime: test_runtimes.py), random and extreme
    single-op models, the (accumulator, multiplier, shift) requantizations among 200 000 it takes, and the
    module compiled to an x64 .mpy;
  * emulated in CPython on a 32-bit and on a 64-bit machine word -- the boards' and the unix port's: the viper
    functions' source runs with every integer (literals, locals, loads) a `Word` that wraps each operation to
    the word width, ptr32 loads signed (32-bit) or zero-extended (64-bit, as the x64 emitter does), shift counts
    checked to be below the width, `//` only on non-negative operands, pointers cast to and from made-up
    addresses, every pointer access bounds-checked and stores into the read-only model buffer refused. The
    small single-op models, a few whole models and the requantization edge cases must give the reference's
    bytes on both words; mutants that rely on a 64-bit product, add the output offset before clamping, or skip
    the int32 wrap are caught on the word they break.
Plus: the module compiles with mpy-cross for the boards' architectures, the requantization lines are the same
in every kernel, predict() allocates nothing, and the µs per inference of the keyword model (printed with -s)."""
import ast
import importlib
import itertools
import json
import struct
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

import models
from conftest import device, test_inputs
from picoml import format, reference
from picoml.convert import convert
from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from picoml.ops.common import output_size, same_padding
from picoml import resources
from picoml.runtimes.unix import mpy_cross

DEVICE = resources.device_library()
KV = DEVICE / "picoml" / "kernels_viper.py"         # the core; the kernels in kernels_viper_<family>.py
VIPER_FILES = sorted((DEVICE / "picoml").glob("kernels_viper*.py"))
KWS = "kws_ref_model"
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
SAME, VALID = 0, 1
# ops kernels_viper must run in viper code (all of them)
VIPER_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "SUB",
             "MUL", "CONCATENATION", "LUT", "MEAN", "PAD", "STRIDED_SLICE", "BATCH_MATMUL", "RESIZE_BILINEAR",
             "SQUARED_DIFFERENCE", "ARG_MAX", "LSTM", "SOFTMAX", "DIV", "L2_NORMALIZATION", "LOG_SOFTMAX"}
PYTHON_OPS = set()


# ---------------------------------------------------------------------------------------------------------
# The emulated machine word
# ---------------------------------------------------------------------------------------------------------

class EmulationError(AssertionError):
    pass


def make_word(bits):
    """The class of a `bits`-wide two's complement machine word: every operation wraps as the CPU's does."""
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    full = 1 << bits

    def o(x):
        if type(x) is W or type(x) is U:
            return x.v
        if type(x) is int or type(x) is bool:
            return int(x)
        raise EmulationError("viper int op with %r" % (x,))

    def shift_count(n):
        n = o(n)
        if not 0 <= n < bits:
            raise EmulationError("shift by %d on a %d-bit word: machine-dependent" % (n, bits))
        return n

    class W:
        __slots__ = ("v",)
        BITS = bits

        def __init__(self, v):
            v = o(v) & mask
            self.v = v - full if v & sign else v

        def __add__(self, b): return W(self.v + o(b))
        def __radd__(self, b): return W(o(b) + self.v)
        def __sub__(self, b): return W(self.v - o(b))
        def __rsub__(self, b): return W(o(b) - self.v)
        def __mul__(self, b): return W(self.v * o(b))
        def __rmul__(self, b): return W(o(b) * self.v)
        def __and__(self, b): return W(self.v & o(b))
        def __rand__(self, b): return W(o(b) & self.v)
        def __or__(self, b): return W(self.v | o(b))
        def __ror__(self, b): return W(o(b) | self.v)
        def __xor__(self, b): return W(self.v ^ o(b))
        def __rxor__(self, b): return W(o(b) ^ self.v)
        def __lshift__(self, b): return W(self.v << shift_count(b))
        def __rlshift__(self, b): return W(o(b) << shift_count(self))
        def __rshift__(self, b): return W(self.v >> shift_count(b))
        def __rrshift__(self, b): return W(o(b) >> shift_count(self))

        def __floordiv__(self, b):
            return W._div(self.v, o(b))

        def __rfloordiv__(self, b):
            return W._div(o(b), self.v)

        @staticmethod
        def _div(a, b):
            if a < 0 or b <= 0:     # the ports' emitters differ for negative operands: the code avoids them
                raise EmulationError("%d // %d: only non-negative division is portable" % (a, b))
            return W(a // b)

        def __mod__(self, b):
            raise EmulationError("% is not used by the viper kernels")

        def __neg__(self): return W(-self.v)
        def __pos__(self): return self
        def __invert__(self): return W(~self.v)
        def __eq__(self, b): return self.v == o(b)
        def __ne__(self, b): return self.v != o(b)
        def __lt__(self, b): return self.v < o(b)
        def __le__(self, b): return self.v <= o(b)
        def __gt__(self, b): return self.v > o(b)
        def __ge__(self, b): return self.v >= o(b)
        def __bool__(self): return self.v != 0
        def __index__(self): return self.v
        def __int__(self): return self.v
        def __hash__(self): return hash(self.v)
        def __repr__(self): return "W%d(%d)" % (bits, self.v)

    class U(W):
        """viper's uint: the same bits, an operation's result typed as its left operand (U on the left gives U),
        shifts right logical, comparisons unsigned."""
        __slots__ = ()

        def __init__(self, v):
            self.v = o(v) & mask

        def __rshift__(self, b): return U(self.v >> shift_count(b))
        def __lt__(self, b): return self.v < o(b) & mask
        def __le__(self, b): return self.v <= o(b) & mask
        def __gt__(self, b): return self.v > o(b) & mask
        def __ge__(self, b): return self.v >= o(b) & mask
        def __repr__(self): return "U%d(%d)" % (bits, self.v)

    for name in ("add", "sub", "mul", "and", "or", "xor", "lshift"):
        op = getattr(W, "__%s__" % name)
        setattr(U, "__%s__" % name, lambda self, b, op=op: U(op(W(self.v), b).v))
    W.o = staticmethod(o)
    W.U = U
    return W


class AddressSpace:
    """Made-up addresses for the buffers the emulated viper code points into (int(ptr8(buf)) and ptr8(address)):
    buffer n starts at 0x10000000 + n * 4 MiB, so addresses stay positive on a 32-bit word."""
    BASE, SPAN, SLOTS = 0x10000000, 1 << 22, 400

    def __init__(self):
        self.by_id = {}
        self.by_slot = {}
        self.n = 0

    def entry(self, buf):
        """(base address, byte view) of a buffer object."""
        e = self.by_id.get(id(buf))
        if e is None or e[2] is not buf:
            mv = memoryview(buf)
            mv = mv if mv.format == "B" else mv.cast("B")
            assert len(mv) <= self.SPAN
            slot = self.n % self.SLOTS
            self.n += 1
            old = self.by_slot.get(slot)
            if old is not None:
                self.by_id.pop(id(old[2]), None)
            e = (self.BASE + slot * self.SPAN, mv, buf)
            self.by_id[id(buf)] = self.by_slot[slot] = e
        return e[0], e[1]

    def find(self, address):
        e = self.by_slot.get((address - self.BASE) // self.SPAN)
        if e is None or not 0 <= address - e[0] <= len(e[1]):
            raise EmulationError("pointer to address %#x: no buffer there" % address)
        return e[0], e[1]


class Ptr:
    """ptr8 / ptr16 / ptr32 at a buffer or at an address in it: unsigned 8/16-bit loads; a 32-bit load is the
    word's bits (signed on a 32-bit word, zero-extended on a 64-bit one -- both what W(raw) gives); stores keep
    the low bits; int(ptr) is its address."""

    def __init__(self, W, space, target, size):
        if type(target) is W:
            self.base, self.mv = space.find(target.v)
            self.start = target.v - self.base
        elif type(target) is Ptr:       # ptr16(p8): the same address, another width
            self.base, self.mv, self.start = target.base, target.mv, target.start
        else:
            self.base, self.mv = space.entry(target)
            self.start = 0
        self.W, self.size = W, size

    def address(self):
        return self.W(self.base + self.start)

    def _at(self, i):
        a = self.start + self.W.o(i) * self.size
        if a < 0 or a + self.size > len(self.mv):
            raise EmulationError("ptr%d load/store at byte %d of a %d-byte buffer" % (8 * self.size, a, len(self.mv)))
        return a

    def __getitem__(self, i):
        a = self._at(i)
        return self.W(int.from_bytes(self.mv[a:a + self.size], "little"))

    def __setitem__(self, i, v):
        a = self._at(i)
        if self.mv.readonly:
            raise EmulationError("store into a read-only buffer")
        self.mv[a:a + self.size] = (self.W.o(v) & ((1 << (8 * self.size)) - 1)).to_bytes(self.size, "little")


def _is_viper(node):
    return any(ast.unparse(d) == "micropython.viper" for d in node.decorator_list)


class _WrapLiterals(ast.NodeTransformer):
    """Inside viper functions every int literal becomes a machine word, as the viper compiler makes it."""

    def visit_FunctionDef(self, node):
        if _is_viper(node):
            node.body = [_Literals().visit(stmt) for stmt in node.body]
        return node


class _Literals(ast.NodeTransformer):
    def visit_Constant(self, node):
        if type(node.value) is int:
            return ast.copy_location(ast.Call(ast.Name("_W_", ast.Load()), [node], []), node)
        return node


def make_viper(W):
    """An emulating @micropython.viper: the function runs with viper's builtins bound to W-emulations."""
    space = AddressSpace()
    overrides = {
        "_W_": W,
        "int": lambda x: x if type(x) is W else x.address() if type(x) is Ptr else W(x.v if type(x) is W.U else x),
        "uint": lambda x: W.U(x.address() if type(x) is Ptr else x),
        "range": lambda *a: (W(i) for i in range(*[W.o(x) for x in a])),
        "ptr8": lambda b: Ptr(W, space, b, 1),
        "ptr16": lambda b: Ptr(W, space, b, 2),
        "ptr32": lambda b: Ptr(W, space, b, 4),
    }

    def viper(f):
        module_globals = f.__globals__
        g = {}
        body = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
        names = f.__code__.co_varnames[:f.__code__.co_argcount]
        assert len(names) <= 4, "%s: viper takes at most 4 positional arguments" % f.__name__
        int_args = [f.__annotations__.get(n) is int for n in names]
        returns_int = f.__annotations__.get("return") is int

        def wrapper(*args):
            g.clear()
            g.update(module_globals)
            g.update(overrides)
            args = [W(a) if is_int else a for a, is_int in zip(args, int_args)]
            r = body(*args)
            return W.o(r) if returns_int else None if type(r) is W else r
        wrapper.__name__ = f.__name__
        wrapper.viper_source = f
        return wrapper
    return viper


_emulated = {}


def viper_sources():
    """{file name: text} of the viper modules (the core first)."""
    return {p.name: p.read_text() for p in sorted(VIPER_FILES, key=lambda p: p != KV)}


def emulated_device(bits, sources=None):
    """(prepare, kernels_viper) of device/picoml, the viper modules' viper functions emulated on a
    `bits`-bit word (`sources` as viper_sources() when given, e.g. a mutant), in a package of its own; the
    kernel families are in it (emulated_family)."""
    sources = viper_sources() if sources is None else sources
    key = (bits, tuple(sources.items()))
    if key in _emulated:
        return _emulated[key]
    W = make_word(bits)
    name = "_pmdev_%d_%d" % (bits, len(_emulated))
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(DEVICE / "picoml")]
    sys.modules[name] = pkg
    fake = types.ModuleType("micropython")
    fake.viper = make_viper(W)
    fake.native = lambda f: f
    fake.const = lambda x: x
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake
    try:
        kp = importlib.import_module(name + ".prepare")
        for file_name, source in sources.items():
            tree = _WrapLiterals().visit(ast.parse(source))
            ast.fix_missing_locations(tree)
            module = types.ModuleType(name + "." + file_name[:-3])
            module.__package__ = name
            module.__file__ = str(DEVICE / "picoml" / file_name)
            sys.modules[module.__name__] = module
            exec(compile(tree, module.__file__, "exec"), module.__dict__)
        kv = sys.modules[name + ".kernels_viper"]
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    assert kv._EXT == bits - 32
    _emulated[key] = (kp, kv)
    return _emulated[key]


def python_prepare(kp, code):
    """The pure-Python prepare of op `code`, from its family module beside the emulated package's prepare `kp`."""
    return kp.family(kp.FAMILY[code]).PREPARES[code]


def python_runs(kp):
    """picoml.kernels_python beside the emulated package's prepare `kp`."""
    return importlib.import_module(kp.__name__.rsplit(".", 1)[0] + ".kernels_python")


def emulated_family(bits, family):
    """picoml.kernels_viper_<family> on the emulated word."""
    _, kv = emulated_device(bits)
    return sys.modules[kv.__name__ + "_" + family]


class EmuTensor:
    """A tensor as the kernel interface describes it (picoml.prepare's header), over the real .pml bytes."""
    DTYPES = {np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 3}

    def __init__(self, index, t, buf, off):
        self.index = index
        self.dtype = self.DTYPES[t.dtype]
        self.shape = tuple(t.shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = t.nbytes
        self.scale = t.scale
        self.zero_point = t.zero_point
        self.is_constant = t.is_constant
        self.storage = 1 if t.is_constant else 0
        self.offset = t.offset
        self.buf = buf
        self.off = off

    def shape4(self):
        return (1,) * (4 - len(self.shape)) + self.shape

    def ints(self):
        return struct.unpack_from("<%di" % self.size, self.buf, self.off)

    def describe(self):
        return "x".join(str(d) for d in self.shape) or "scalar"


def run_emulated(blob, runs, bits, sources=None):
    """(outputs per run, names of the ops that fell back to kernels_python's run) of the model with the kernels
    on the emulated word (the viper modules from `sources` when given), walked as picoml's loader does (viper's
    kernel where it has one)."""
    kp, kv = emulated_device(bits, sources)
    blob = bytes(blob)
    model = format.read(blob)
    weights_offset = struct.unpack_from("<I", blob, 52)[0]
    arena = bytearray(max(model.arena_size, 4))
    ctx = kp.Context(arena, blob)

    def tensor(i):
        t = model.tensors[i]
        if t.is_constant:
            return EmuTensor(i, t, blob, weights_offset + t.offset)
        return EmuTensor(i, t, arena, t.offset)
    steps = []
    fallbacks = []
    for op in model.ops:
        viper = kv.kernel(op.code)
        entry = viper or (python_prepare(kp, op.code), python_runs(kp).RUNS[op.code])
        state = entry[0](tuple(op.params.values()), tuple(tensor(i) for i in op.inputs),
                         tuple(tensor(i) for i in op.outputs), ctx)
        if viper and state[0] is kv._python:
            fallbacks.append(op.name)
        steps.append((entry[1], state))
    results = []
    for xs in runs:
        for io, x in zip(model.inputs, xs):
            t = model.tensors[io.tensor]
            arena[t.offset:t.offset + t.nbytes] = np.asarray(x, np.int8).tobytes()
        for fn, state in steps:
            fn(state)
        outs = []
        for io in model.outputs:
            t = tensor(io.tensor)
            outs.append(np.frombuffer(bytes(t.buf[t.off:t.off + t.nbytes]), np.int8).reshape(t.shape))
        results.append(outs)
    return results, fallbacks


# ---------------------------------------------------------------------------------------------------------
# Running on the unix port
# ---------------------------------------------------------------------------------------------------------

def run_unix_port(tmp_path, cases, path=()):
    """cases: {name: (blob, runs)} with runs a list of per-input int8 arrays. Runs every model in one MicroPython
    process with backend="viper" (tests/device/viper_batch.py); returns {name: (outputs per run, indices of the
    ops left to kernels_python, number of ops whose viper prepare fell back to kernels_python's run)}, and at
    None the files the viper modules were imported from."""
    listing = []
    for name, (blob, runs) in cases.items():
        model = format.read(blob)
        sizes = [model.tensors[io.tensor].nbytes for io in model.inputs]
        (tmp_path / (name + ".pml")).write_bytes(blob)
        (tmp_path / (name + ".in")).write_bytes(b"".join(np.asarray(x, np.int8).tobytes() for xs in runs for x in xs))
        listing.append((name, sizes, len(runs)))
    (tmp_path / "cases.json").write_text(json.dumps(listing))
    r = device("viper_batch", tmp_path, heapsize="16M", path=path)
    results = {}
    for name, (blob, runs) in cases.items():
        backend, fallback, python_ops, fetched, families = r["cases"][name]
        assert backend == "viper"
        # kernels_python's code is in the heap while a model loads only for an op that falls back to it, and the
        # convolutions, FULLY_CONNECTED, the pools and MEAN read their operands without a picoml.prepare family
        assert fetched <= fallback, (name, fetched, fallback)
        assert fallback or not {"conv", "pool"} & set(families), (name, families)
        model = format.read(blob)
        raw = (tmp_path / (name + ".out")).read_bytes()
        outs, pos = [], 0
        for _ in runs:
            per_run = []
            for io in model.outputs:
                t = model.tensors[io.tensor]
                per_run.append(np.frombuffer(raw[pos:pos + t.nbytes], np.dtype(t.dtype).newbyteorder("<"))
                               .reshape(t.shape))
                pos += t.nbytes
            outs.append(per_run)
        assert pos == len(raw)
        results[name] = (outs, python_ops, fallback)
    results[None] = r["kernels_viper"]
    return results


def assert_matches_reference(name, blob, runs, outputs, where):
    model = format.read(blob)
    interpreter = reference.Interpreter(model)      # the runs in turn, state carried (an LSTM's) as the runners do
    for k, (xs, got) in enumerate(zip(runs, outputs)):
        expected = interpreter.run(list(xs))
        for j, (g, e) in enumerate(zip(got, expected)):
            if not np.array_equal(g, e.reshape(g.shape)):
                bad = np.argwhere(g != e.reshape(g.shape))
                op = model.ops[0]
                raise AssertionError("%s (%s) on %s: run %d output %d: %d of %d values differ, first at %s: got %d, "
                                     "reference %d; first op %s %s"
                                     % (name, where, type(g).__name__, k, j, len(bad), g.size, bad[0].tolist(),
                                        g[tuple(bad[0])], e.reshape(g.shape)[tuple(bad[0])], op.name, op.params))


# ---------------------------------------------------------------------------------------------------------
# Single-op models: random shapes and parameters, and the extremes
# ---------------------------------------------------------------------------------------------------------

def op_model(name, inputs, constants, output, params):
    """The .pml bytes of a model of one op. inputs: [(shape, zero_point)], constants: numpy arrays, output: (shape, zp)."""
    return format.write(models.single_op(name, inputs + constants, output, params))


def zero_point(rng):
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))], p=[0.3, 0.25, 0.1, 0.35]))


def activation(rng):
    kind = rng.integers(3)
    if kind == 0:
        return -128, 127
    lo = int(rng.integers(-128, 100))
    return lo, int(rng.integers(lo, 128))


def quantization(rng, channels, per_channel, extreme, negative=False):
    """Multipliers in [2^30, 2^31) and shifts mostly right, as the converter makes them; with `extreme`, also
    multipliers of any size (INT32_MAX, 0, 1, 16-bit edges) and left shifts up to 31; with `negative` too, of any
    sign (-1, INT32_MIN + 1: every one the rules let through, INT32_MIN being refused at load), which the viper
    requantization does not take (its op runs in kernels_python)."""
    n = channels if per_channel else 1
    m = rng.integers(1 << 30, 1 << 31, n)
    s = rng.integers(-14, 1, n)
    if extreme:
        special = [INT32_MAX, INT32_MAX - 1, 0, 1, 0xFFFF, 0x10000, 0x8000, 0x7FFF, 1 << 30]
        if negative:
            special += [-1, -0x8000, -0x10000, -(1 << 30), INT32_MIN + 1]
        pick = rng.random(n)
        m = np.where(pick < 0.3, rng.choice(special, n), np.where(pick < 0.6, rng.integers(
            INT32_MIN + 1 if negative else 0, INT32_MAX, n, endpoint=True), m))
        if negative:
            m[0] = -abs(int(m[0])) or -1
        s = np.where(rng.random(n) < 0.4, rng.integers(1, 32, n), rng.integers(-31, 1, n))
    return m.astype(np.int32), s.astype(np.int32)


def window(in_hw, k_hw, stride, dilation, padding):
    out = [output_size(padding, in_hw[i], k_hw[i], stride[i], dilation[i]) for i in range(2)]
    pads = [same_padding(in_hw[i], k_hw[i], stride[i], dilation[i], out[i]) if padding == SAME else 0
            for i in range(2)]
    return out, pads


def conv_case(rng, depthwise=False, small=True, extreme=False, **fixed):
    """A CONV_2D or DEPTHWISE_CONV_2D model; keyword arguments fix hw, k, stride, dilation, padding, ic, oc,
    multiplier, per_channel, in_zp, out_zp, n, wrap (a bias that makes the int32 accumulator wrap), negative
    (a negative requantization multiplier: quantization())."""
    def get(key, make):
        return fixed[key] if key in fixed else make()
    limit = 7 if small else 13
    k = get("k", lambda: tuple(int(v) for v in rng.integers(1, 5 if small else 6, 2)))
    hw = get("hw", lambda: tuple(int(v) for v in rng.integers(1, limit, 2)))
    stride = get("stride", lambda: tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2)))
    dilation = get("dilation", lambda: (1, 1) if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(1, 4, 2)))
    padding = get("padding", lambda: int(rng.integers(2)))
    if padding == VALID:
        hw = tuple(max(hw[i], (k[i] - 1) * dilation[i] + 1) for i in range(2))
    ic = get("ic", lambda: int(rng.choice([1, 2, 3, 4, 5, 7, 8] if small else [1, 3, 8, 16, 17, 32, 64])))
    if depthwise:
        multiplier = get("multiplier", lambda: int(rng.choice([1, 1, 2, 3])))
        oc = ic * multiplier
    else:
        oc = get("oc", lambda: int(rng.choice([1, 2, 3, 5, 8] if small else [1, 3, 8, 16, 33, 64])))
    n = get("n", lambda: 1 if rng.random() < 0.8 else 2)
    per_channel = get("per_channel", lambda: bool(rng.integers(2)))
    in_zp = get("in_zp", lambda: zero_point(rng))
    out_zp = get("out_zp", lambda: zero_point(rng))
    out_hw, pads = window(hw, k, stride, dilation, padding)
    shape = (1, k[0], k[1], oc) if depthwise else (oc, k[0], k[1], ic)
    filters = rng.integers(-127, 128, shape).astype(np.int8)
    if rng.random() < 0.15:
        filters[..., 0] = rng.choice([-128, 127])
    folded = filters.astype(np.int64).sum(axis=(0, 1, 2) if depthwise else (1, 2, 3)) * -in_zp
    bias = rng.integers(-5000, 5000, oc) + folded
    if get("wrap", lambda: rng.random() < 0.15):
        bias = rng.choice([INT32_MIN, INT32_MAX - 3000, INT32_MIN + 5, INT32_MAX], oc) + rng.integers(-9, 9, oc)
    bias = ((bias + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
    multipliers, shifts = quantization(rng, oc, per_channel, extreme, get("negative", lambda: False))
    act_min, act_max = activation(rng)
    params = {"stride_h": stride[0], "stride_w": stride[1], "dilation_h": dilation[0], "dilation_w": dilation[1],
              "pad_top": pads[0], "pad_left": pads[1], "input_offset": -in_zp, "output_offset": out_zp,
              "act_min": act_min, "act_max": act_max}
    if depthwise:
        params["depth_multiplier"] = multiplier
    blob = op_model("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [((n, hw[0], hw[1], ic), in_zp)],
                    [filters, bias, multipliers, shifts], ((n, out_hw[0], out_hw[1], oc), out_zp), params)
    return blob, [(n, hw[0], hw[1], ic)], [in_zp]


def fc_case(rng, small=True, extreme=False, depth=None, units=None, batches=None):
    depth = depth or int(rng.choice([1, 3, 8, 17, 40] if small else [1, 16, 64, 100, 256, 640]))
    units = units or int(rng.choice([1, 2, 5, 10, 16] if small else [1, 3, 12, 33, 64]))
    batches = batches or int(rng.choice([1, 1, 2, 3]))
    in_zp, out_zp = zero_point(rng), zero_point(rng)
    weights = rng.integers(-127, 128, (units, depth)).astype(np.int8)
    bias = rng.integers(-5000, 5000, units) + weights.astype(np.int64).sum(axis=1) * -in_zp
    if rng.random() < 0.2:
        bias = rng.choice([INT32_MIN, INT32_MAX], units) + rng.integers(-3000, 3000, units)
    bias = ((bias + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
    multipliers, shifts = quantization(rng, units, bool(rng.integers(2)), extreme)
    act_min, act_max = activation(rng)
    shape = (batches, depth) if rng.random() < 0.7 else (batches, 1, depth)
    out_shape = (batches, units)
    blob = op_model("FULLY_CONNECTED", [(shape, in_zp)], [weights, bias, multipliers, shifts], (out_shape, out_zp),
                    {"output_offset": out_zp, "act_min": act_min, "act_max": act_max})
    return blob, [shape], [in_zp]


def requant_stress_case(rng, out_zp, units=256, negative=False):
    """FULLY_CONNECTED of depth 1 whose units each test one (accumulator, multiplier, shift): the right shift
    chosen so the result lands in int8 (the requantization is then visible, not clamped away), INT32_MIN
    accumulators, multipliers of every size, and with `negative` of every sign but INT32_MIN (the rules refuse it
    for this family: the kernels' shortcut leaves out the saturating product; the viper requantization takes none
    below 0: kernels_python runs the op), left shifts with small multipliers, accumulators that wrap, results
    next to INT32_MAX / INT32_MIN that the output offset would push out of int32."""
    acc = rng.integers(INT32_MIN, INT32_MAX, units, endpoint=True)
    small = rng.random(units) < 0.3
    acc[small] = rng.integers(-70000, 70000, small.sum())
    m = rng.integers(INT32_MIN, INT32_MAX, units, endpoint=True)
    special = np.array([INT32_MIN, INT32_MAX, 0, 1, -1, 0xFFFF, 0x10000, -0x10000, 0x7FFF, 0x8000, 1 << 30])
    pick = rng.random(units) < 0.25
    m[pick] = rng.choice(special, pick.sum())
    m[m == INT32_MIN] = INT32_MIN + 1
    shifts = np.zeros(units, np.int64)
    for u in range(units):
        size = int(abs(int(acc[u]) * int(m[u]))).bit_length()
        pick = rng.random()
        if pick < 0.2:          # left shift with a multiplier small enough to keep the result in int8
            shifts[u] = rng.integers(1, 32)
            m[u] = rng.integers(-600, 600)
        elif pick < 0.3:        # a result at the edge of int32
            shifts[u] = rng.integers(0, 2)
            m[u] = rng.choice([INT32_MAX, INT32_MIN + 1, INT32_MAX - 1])
            acc[u] = rng.choice([INT32_MAX - 1, INT32_MIN + 1, INT32_MIN])
        else:
            shifts[u] = -int(np.clip(size - 31 - rng.integers(2, 9), 0, 31))
    weights = rng.integers(-127, 128, (units, 1)).astype(np.int8)
    weights[:4] = 0
    acc[:4] = [INT32_MIN, INT32_MIN, INT32_MAX, INT32_MIN]     # with zero weights these stay exact
    m[:4] = [INT32_MIN + 1, INT32_MIN + 1, INT32_MAX, INT32_MAX]
    shifts[:4] = [-31, -30, -31, 0]
    weights[4:8] = 127                                          # wrap around 2**31 for large inputs
    acc[4:8] = [INT32_MAX - 10, INT32_MIN + 10, INT32_MAX, INT32_MIN]
    bias = acc.astype(np.int32)
    if not negative:
        m = np.abs(m)
    blob = op_model("FULLY_CONNECTED", [((1, 1), 0)], [weights, bias, m.astype(np.int32), shifts.astype(np.int32)],
                    ((1, units), out_zp), {"output_offset": out_zp, "act_min": -128, "act_max": 127})
    return blob, [(1, 1)], [0]


def pool_case(rng, kind, small=True):
    fh, fw = (int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.choice([1, 2, 3], 2))
    padding = int(rng.integers(2))
    h, w = (int(v) for v in rng.integers(1, 8 if small else 14, 2))
    if padding == VALID:
        h, w = max(h, fh), max(w, fw)
    c = int(rng.choice([1, 3, 4, 7, 16] if small else [1, 8, 17, 64]))
    n = 1 if rng.random() < 0.8 else 2
    out_hw, pads = window((h, w), (fh, fw), stride, (1, 1), padding)
    act_min, act_max = activation(rng)
    zp = zero_point(rng)
    params = {"stride_h": stride[0], "stride_w": stride[1], "filter_h": fh, "filter_w": fw, "pad_top": pads[0],
              "pad_left": pads[1], "act_min": act_min, "act_max": act_max}
    blob = op_model(kind, [((n, h, w, c), zp)], [], ((n, out_hw[0], out_hw[1], c), zp), params)
    return blob, [(n, h, w, c)], [zp]


def broadcast_shapes(rng):
    out = tuple(int(v) for v in rng.integers(1, 5, 4))
    shapes = []
    for _ in range(2):
        s = [d if rng.random() < 0.6 else 1 for d in out]
        rank = int(rng.integers(1, 5))
        shapes.append(tuple(s[4 - rank:]))
    if rng.random() < 0.3:
        shapes[0] = out
    return shapes, tuple(int(d) for d in np.broadcast_shapes(*shapes))


def binary_case(rng, kind, extreme=False, mo_negative=None):
    (sa, sb), out = broadcast_shapes(rng)
    if rng.random() < 0.3:
        sa = sb = out
    za, zb, zo = zero_point(rng), zero_point(rng), zero_point(rng)
    act_min, act_max = activation(rng)
    scales = rng.uniform(0.002, 0.2, 3)
    if kind in ("ADD", "SUB"):
        twice = 2 * max(scales[0], scales[1])
        m1, s1 = quantize_multiplier(scales[0] / twice)
        m2, s2 = quantize_multiplier(scales[1] / twice)
        mo, so = quantize_multiplier(twice / ((1 << 20) * scales[2]))
        left = 20
        if extreme:
            m1, m2, mo = (int(v) for v in rng.integers(1 << 30, 1 << 31, 3))
            s1, s2 = (int(v) for v in rng.integers(-8, 3, 2))
            so = int(rng.integers(-31, 8))
            left = int(rng.choice([0, 5, 20, 24]))
        params = {"input1_offset": -za, "input2_offset": -zb, "output_offset": zo, "left_shift": left,
                  "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2, "input2_shift": s2,
                  "output_multiplier": mo, "output_shift": so, "act_min": act_min, "act_max": act_max}
    else:
        mo, so = quantize_multiplier(scales[0] * scales[1] / scales[2] * 50)
        if extreme:
            mo = int(rng.choice([INT32_MAX, 0, 1 << 30, int(rng.integers(0, INT32_MAX))]))
            so = int(rng.integers(-31, 20))
        if mo_negative is not None:
            mo = mo_negative
        if kind == "DIV":       # a / b in the output's scale: 2^6..2^9 as softsign's, or any within the format's
            # DIV_SHIFT rule (shift 7..22)
            mo, so = quantize_multiplier(2.0 ** (rng.uniform(6.5, 21.5) if extreme else rng.uniform(6.5, 9)))
            if extreme and rng.random() < 0.5:
                mo = int(rng.choice([INT32_MAX, 1 << 30, int(rng.integers(1 << 30, INT32_MAX))]))
        params = {"input1_offset": -za, "input2_offset": -zb, "output_offset": zo, "output_multiplier": mo,
                  "output_shift": so, "act_min": act_min, "act_max": act_max}
    blob = op_model(kind, [(sa, za), (sb, zb)], [], (out, zo), params)
    return blob, [sa, sb], [za, zb]


def div_all_bytes_case(rng):
    """DIV over 256 elements (the runs: every dividend byte against shuffled divisors, both signs), a softsign-like
    multiplier: each dividend's headroom with a negative divisor and a positive one."""
    shape = (1, 16, 16)
    za, zb = int(rng.integers(-64, 64)), int(rng.integers(-64, 64))
    mo, so = quantize_multiplier(2.0 ** rng.uniform(6.5, 8))
    params = {"input1_offset": -za, "input2_offset": -zb, "output_offset": 0, "output_multiplier": mo,
              "output_shift": so, "act_min": -128, "act_max": 127}
    blob = op_model("DIV", [(shape, za), (shape, zb)], [], (shape, 0), params)
    runs = [[np.arange(-128, 128).astype(np.int8).reshape(shape), (rng.permutation(256) - 128).astype(np.int8)
             .reshape(shape)] for _ in range(6)]
    return blob, runs


def l2_case(rng, depth=None, rows=None):
    """An L2_NORMALIZATION of a random [rows, depth] (depth up to the format's 33,025 when given)."""
    shape = (rows or int(rng.integers(1, 5)), depth or int(rng.integers(1, 60)))
    zi = zero_point(rng)
    return op_model("L2_NORMALIZATION", [(shape, zi)], [], (shape, 0), {"input_zero_point": zi}), [shape], [zi]


def mean_case(rng):
    rank = int(rng.integers(2, 5))
    shape = tuple(int(v) for v in rng.integers(1, 6, rank))
    mask = int(rng.integers(1, 1 << rank))
    out = tuple(d for i, d in enumerate(shape) if not mask >> i & 1) or (1,)
    zi, zo = zero_point(rng), zero_point(rng)
    count = int(np.prod([shape[i] for i in range(rank) if mask >> i & 1]))
    m, s = quantize_multiplier(1.0 / count * rng.uniform(0.5, 3))
    if rng.random() < 0.3:      # any multiplier a converter writes (>= 0: the negative ones are the named cases')
        m, s = int(rng.integers(0, INT32_MAX)), int(rng.integers(-31, 32))
    params = {"axis_mask": mask, "input_zero_point": zi, "output_zero_point": zo, "multiplier": m, "shift": s}
    return op_model("MEAN", [(shape, zi)], [], (out, zo), params), [shape], [zi]


def pad_case(rng):
    rank = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 5, rank))
    before = [0] * (4 - rank) + [int(v) for v in rng.integers(0, 3, rank)]
    after = [0] * (4 - rank) + [int(v) for v in rng.integers(0, 3, rank)]
    out = tuple(shape[i] + before[4 - rank + i] + after[4 - rank + i] for i in range(rank))
    zp = zero_point(rng)
    params = {"pad_before_%d" % i: before[i] for i in range(4)}
    params.update({"pad_after_%d" % i: after[i] for i in range(4)})
    params["pad_value"] = zp
    return op_model("PAD", [(shape, zp)], [], (out, zp), params), [shape], [zp]


def concat_case(rng):
    rank = int(rng.integers(1, 5))
    base = [int(v) for v in rng.integers(1, 4, rank)]
    axis = int(rng.integers(rank))
    shapes = []
    for _ in range(int(rng.integers(1, 4))):
        s = list(base)
        s[axis] = int(rng.integers(1, 4))
        shapes.append(tuple(s))
    out = list(base)
    out[axis] = sum(s[axis] for s in shapes)
    zp = zero_point(rng)
    return (op_model("CONCATENATION", [(s, zp) for s in shapes], [], (tuple(out), zp), {"axis": axis}), shapes,
            [zp] * len(shapes))


def lut_case(rng):
    """A LUT with a random table, on a random shape."""
    shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(1, 5))))
    zi = zero_point(rng)
    table = rng.integers(-128, 128, 256).astype(np.int8)
    return op_model("LUT", [(shape, zi)], [table], (shape, zero_point(rng)), {}), [shape], [zi]


def softmax_case(rng, depth=None, scalar=False):
    """A SOFTMAX over a random shape (last axis `depth` when given; of one value, a 0-D tensor, when `scalar`) with
    TFLite's constants for a random beta and input scale: multipliers from just above one to saturated, left
    shifts 0 to 31."""
    from picoml.ops.nonlinear import softmax_params
    rank = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 5, rank - 1)) + (depth or int(rng.integers(1, 40)),)
    if scalar:
        shape = ()
    params = None
    while params is None:
        params = softmax_params(float(rng.uniform(0.05, 2)), float(10 ** rng.uniform(-4, 1.5)))
    m, shift, diff_min = params
    zi = zero_point(rng)
    return op_model("SOFTMAX", [(shape, zi)], [], (shape, -128),
                    {"input_multiplier": m, "input_left_shift": shift, "diff_min": diff_min}), [shape], [zi]


def log_softmax_case(rng, depth=None, rows=None):
    """A LOG_SOFTMAX of a random [rows, depth] with TFLite's constants for a random input scale."""
    from picoml.ops.nonlinear import log_softmax_params
    shape = (rows or int(rng.integers(1, 5)), depth or int(rng.integers(1, 40)))
    params = None
    while params is None:
        params = log_softmax_params(float(10 ** rng.uniform(-4, 1.5)))
    names = ("input_multiplier", "input_left_shift", "reverse_scaling_divisor", "reverse_scaling_right_shift",
             "diff_min")
    zi = zero_point(rng)
    return op_model("LOG_SOFTMAX", [(shape, zi)], [], (shape, 127), dict(zip(names, params))), [shape], [zi]


def runs_for(rng, shapes, zero_points, count=3):
    """Per run, one int8 array per input: uniform, near the zero point, then the extremes."""
    runs = []
    for k in range(count):
        xs = []
        for shape, zp in zip(shapes, zero_points):
            if k == 0:
                x = rng.integers(-128, 128, shape)
            elif k == 1:
                x = np.clip(np.rint(rng.normal(zp, 25, shape)), -128, 127)
            else:
                x = np.full(shape, [-128, 127][(k + len(xs)) % 2])
            xs.append(x.astype(np.int8))
        runs.append(xs)
    return runs


def lstm_case(rng, i):
    """An LSTM (test_lstm.lstm_model): batch-major, time-major of 2 batches, a clipped cell, a cell scale of 2^-10."""
    from test_lstm import lstm_model
    batches, steps, features, units = (1, 3, 5, 6) if i != 1 else (2, 2, 4, 5)
    data = lstm_model(rng, batches, steps, features, units, time_major=i == 1, cell_clip=1.0 if i == 2 else 0.0,
                      cell_power=-10 if i == 3 else -14)
    model = convert(data, "lstm", measure_tflm=False)
    x = model.tensors[model.inputs[0].tensor]
    return format.write(model), [x.shape], [x.zero_point]


def edge_cases(small=True, seed=0):
    """{name: (blob, runs)}: the single-op models (small enough to emulate when `small`)."""
    rng = np.random.default_rng(seed)
    cases = {}

    def add(name, made, count=3):
        blob, shapes, zps = made
        cases[name] = (blob, runs_for(rng, shapes, zps, count))

    n_random = 20 if small else 16
    for i in range(n_random):
        add("conv%d" % i, conv_case(rng, small=small, extreme=i % 3 == 2))
        add("dw%d" % i, conv_case(rng, depthwise=True, small=small, extreme=i % 3 == 2))
    for i in range(8):
        add("fc%d" % i, fc_case(rng, small=small, extreme=i % 2 == 1))
        add("avg%d" % i, pool_case(rng, "AVERAGE_POOL_2D", small))
        add("max%d" % i, pool_case(rng, "MAX_POOL_2D", small))
    if small:
        # the named extremes
        add("conv_zp_-128_same_dilated", conv_case(rng, hw=(5, 6), k=(3, 3), stride=(2, 1), dilation=(2, 2),
                                                   padding=SAME, ic=3, oc=5, in_zp=-128, out_zp=127))
        add("conv_zp_127_kernel_over_input", conv_case(rng, hw=(2, 3), k=(4, 4), stride=(1, 2), dilation=(1, 1),
                                                       padding=SAME, ic=7, oc=3, in_zp=127, out_zp=-128))
        add("conv_per_tensor_saturating", conv_case(rng, extreme=True, per_channel=False, ic=5, oc=3, wrap=True))
        add("conv_per_channel_saturating_batch2", conv_case(rng, extreme=True, per_channel=True, n=2, ic=3, oc=7))
        add("conv_1x1", conv_case(rng, k=(1, 1), hw=(4, 4), stride=(1, 1), dilation=(1, 1), padding=VALID, ic=8,
                                  oc=8))
        add("dw_multiplier3_dilated_same", conv_case(rng, depthwise=True, hw=(6, 5), k=(3, 2), dilation=(2, 3),
                                                     padding=SAME, ic=3, multiplier=3, in_zp=127))
        add("dw_per_tensor_saturating", conv_case(rng, depthwise=True, extreme=True, per_channel=False, ic=5,
                                                  wrap=True))
        add("dw_stride3_kernel_over_input", conv_case(rng, depthwise=True, hw=(3, 2), k=(4, 4), stride=(3, 3),
                                                      dilation=(1, 1), padding=SAME, ic=7, in_zp=-128))
        # depth multipliers of 4 and more: the sums of an input channel 4 a step, then the rest one at a time
        add("dw_multiplier4_strided", conv_case(rng, depthwise=True, hw=(3, 9), k=(1, 5), stride=(1, 2),
                                                dilation=(1, 1), padding=VALID, ic=3, multiplier=4))
        add("dw_multiplier9", conv_case(rng, depthwise=True, extreme=True, k=(2, 3), ic=2, multiplier=9))
        add("dw_multiplier6_per_tensor", conv_case(rng, depthwise=True, per_channel=False, ic=2, multiplier=6,
                                                   in_zp=-128))
        add("fc_requant_stress", requant_stress_case(rng, 100), count=6)
        add("fc_requant_stress_2", requant_stress_case(rng, -100), count=6)
        add("fc_requant_stress_3", requant_stress_case(rng, 3), count=6)
        # negative requantization multipliers: kernels_python runs these ops (falls_back), with the same bytes
        add("fc_requant_stress_negative", requant_stress_case(rng, 5, negative=True), count=6)
        add("conv_negative_multiplier", conv_case(rng, extreme=True, negative=True, ic=3, oc=4))
        add("dw_negative_multiplier", conv_case(rng, depthwise=True, extreme=True, negative=True, ic=4))
        add("mul_negative_multiplier", binary_case(rng, "MUL", extreme=True, mo_negative=-(1 << 30)))
        for i in range(6):
            add("add%d" % i, binary_case(rng, "ADD", extreme=i >= 3))
            add("mul%d" % i, binary_case(rng, "MUL", extreme=i >= 3))
            add("sub%d" % i, binary_case(rng, "SUB", extreme=i >= 3))
            add("div%d" % i, binary_case(rng, "DIV", extreme=i >= 3))
        cases["div_all_bytes"] = div_all_bytes_case(rng)
        for i in range(4):
            add("mean%d" % i, mean_case(rng))
            add("pad%d" % i, pad_case(rng))
            add("concat%d" % i, concat_case(rng))
        for i in range(2):
            add("lut%d" % i, lut_case(rng))
        for i in range(4):
            add("lstm%d" % i, lstm_case(rng, i))
        for i in range(8):
            add("softmax%d" % i, softmax_case(rng))
        add("softmax_depth_1", softmax_case(rng, depth=1))
        add("softmax_many_rows", softmax_case(rng, depth=10))
        for i in range(6):
            add("l2_%d" % i, l2_case(rng))
        add("l2_depth_1", l2_case(rng, depth=1))
        add("l2_many_rows", l2_case(rng, depth=6, rows=200))     # many sums: the Newton steps' roundings
        for i in range(8):
            add("log_softmax%d" % i, log_softmax_case(rng))
        add("log_softmax_depth_1", log_softmax_case(rng, depth=1))
        add("log_softmax_many_rows", log_softmax_case(rng, depth=12, rows=200))
        add("softmax_scalar", softmax_case(rng, scalar=True))   # validate and the C kernels take a 0-D SOFTMAX
    else:
        # the widest row TFLite's int32 sum takes (4095 exps of up to 2^19: with equal inputs the sum's headroom
        # is 0 and every output -128)
        add("softmax_depth_4095", softmax_case(rng, depth=4095), count=4)
        # the deepest row the format takes: a sum of squares up to 33025 * 255^2, just under 2^31
        add("l2_depth_33025", l2_case(rng, depth=33025), count=4)
        add("log_softmax_depth_4095", log_softmax_case(rng, depth=4095), count=4)
    return cases


# ---------------------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "armv7m", "armv7emsp", "rv32imc", "x64"])
def test_compiles_for_the_boards(arch, tmp_path):
    for path in VIPER_FILES:
        mpy = tmp_path / path.with_suffix(".mpy").name
        subprocess.run([mpy_cross(), "-march=%s" % arch, "-o", str(mpy), str(path)], check=True, capture_output=True,
                       text=True)
        assert mpy.stat().st_size > 1000


def _viper_functions():
    trees = [ast.parse(text) for text in viper_sources().values()]
    return [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and _is_viper(node)]


def test_viper_code_avoids_word_size_traps():
    """No integer literal reaches 2**30 (an object on 32-bit boards), constant shifts stay below 32, at most 4
    positional arguments, no %."""
    functions = _viper_functions()
    assert len(functions) >= 10
    for f in functions:
        assert len(f.args.args) <= 4, f.name
        for node in ast.walk(f):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                assert abs(node.value) < (1 << 30), (f.name, node.value)
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, (ast.LShift, ast.RShift)):
                count = node.right if isinstance(node, ast.BinOp) else node.value
                if isinstance(count, ast.Constant):
                    assert count.value < 32, (f.name, ast.unparse(node))
            if isinstance(node, (ast.BinOp, ast.AugAssign)):
                assert not isinstance(node.op, ast.Mod), (f.name, ast.unparse(node))


def _blocks(begin, end):
    lines = "\n".join(viper_sources().values()).splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip().startswith(begin):
            j = i
            while not lines[j].strip().startswith(end):
                j += 1
            blocks.append(textwrap.dedent("\n".join(lines[i:j + 1])))
    return blocks


def test_requantization_lines_are_the_same_in_every_kernel():
    """The requantization tested directly through _requant_array is, to the character, the one in every kernel
    (conv and fully connected, depthwise, the element-wise ops, batch matmul, LSTM, L2 normalization, log
    softmax: the template writes it once, picoml.viper_source)."""
    blocks = _blocks("# requantize acc", "# end requantize")
    assert len(blocks) >= 9 and all(b == blocks[0] for b in blocks)
    clamps = _blocks("# clamp: act_min - offset", "o[out] = v")
    assert len(clamps) >= 6 and all(c == clamps[0] for c in clamps)


def requant_cases(rng, n):
    """(acc, multiplier, shift) triples: random ones of every size and the edges, crossed."""
    edges_acc = [0, 1, -1, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1, 1 << 30, -(1 << 30), 0xFFFF, 0x10000,
                 -0x10000, -0xFFFF, 0x8000, -0x8000, 0x7FFF, 12345, -12345]
    edges_m = [INT32_MIN, INT32_MAX, 0, 1, -1, 1 << 30, (1 << 30) + 1, -(1 << 30), 0xFFFF, 0x10000, 0x8000, -0x8000,
               0x7FFF, INT32_MIN + 1, 1518500250]
    edges_s = [-31, -30, -17, -16, -15, -1, 0, 1, 2, 15, 16, 30, 31]
    crossed = np.array(list(itertools.product(edges_acc, edges_m, edges_s)), np.int64)
    if n <= len(crossed):
        crossed = crossed[rng.choice(len(crossed), n, replace=False)]
    k = n - len(crossed)
    bits = rng.integers(1, 33, (k, 2))
    acc = rng.integers(INT32_MIN, INT32_MAX, k, endpoint=True) >> (32 - bits[:, 0])
    m = rng.integers(INT32_MIN, INT32_MAX, k, endpoint=True) >> (32 - bits[:, 1])
    typical = rng.random(k) < 0.4
    m[typical] = rng.integers(1 << 30, 1 << 31, typical.sum())
    s = rng.integers(-31, 32, k)
    cases = np.concatenate([crossed, np.stack([acc, m, s], axis=1)])
    return cases[:, 0], cases[:, 1], cases[:, 2]


def requant_records(m, s):
    """The records of the (multiplier, shift) pairs as the device library writes them (kernels_viper._pair),
    _RECORD uint16 each."""
    kv = emulated_device(64)[1]
    return np.array([kv._pair(int(a), int(b)) for a, b in zip(m, s)], np.int64).astype("<u2")


def takeable_requant_cases(rng, n):
    """requant_cases with the multipliers the requantization takes (>= 0: _pair refuses the others)."""
    acc, m, s = requant_cases(rng, n)
    keep = m >= 0
    return acc[keep], m[keep], s[keep]


def test_requantization_records_refuse_what_the_lines_do_not_take():
    """_pair refuses a negative multiplier and a shift outside [-31, 31] (the op then runs in kernels_python), and
    its records hold the multiplier's 11-bit pieces and the shift: 9 - s for the shortcut's s in [-22, -1], else
    63 + s."""
    kv = emulated_device(64)[1]
    assert kv._pair(-1, 0) is None and kv._pair(INT32_MIN, -3) is None
    assert kv._pair(1 << 30, 32) is None and kv._pair(1 << 30, -32) is None
    assert kv._pair(INT32_MAX, -31) == [2047, 2047, 511, 32]
    m = 1518500250
    assert kv._pair(m, 5) == [m & 0x7FF, (m >> 11) & 0x7FF, m >> 22, 68]
    assert [kv._pair(m, s)[3] for s in (-23, -22, -1, 0)] == [40, 31, 10, 63]
    assert len(kv._pair(0, -1)) == kv._RECORD


def expected_requant(acc, m, s):
    return multiply_by_quantized_multiplier(acc, m, s).astype(np.int64)


def test_requantization_on_the_unix_port(tmp_path):
    """The requantizations among 200 000 (every edge crossed with every edge, and random sizes) whose multiplier
    the viper code takes (>= 0) give TFLite's MultiplyByQuantizedMultiplier."""
    acc, m, s = takeable_requant_cases(np.random.default_rng(5), 200000)
    (tmp_path / "acc.bin").write_bytes(acc.astype("<i4").tobytes())
    (tmp_path / "q.bin").write_bytes(requant_records(m, s).tobytes())
    device("viper_requantize", tmp_path, len(acc), heapsize="32M")
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), "<i4").astype(np.int64)
    expected = expected_requant(acc, m, s)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), "%d differ, e.g. acc %d m %d shift %d: %d, expected %d" % (
        len(bad), acc[bad[0]], m[bad[0]], s[bad[0]], got[bad[0]], expected[bad[0]])


def emulated_requant(bits, acc, m, s, sources=None):
    _, kv = emulated_device(bits, sources)
    pool = sys.modules[kv.__name__ + "_pool"]
    n = len(acc)
    a = bytearray(acc.astype("<i4").tobytes())
    out = bytearray(4 * n)
    pool._requant_array(a, out, ((0, 0, 0, 0, 0, 0, 2 * kv._RECORD, 1), bytearray(requant_records(m, s).tobytes())), n)
    return np.frombuffer(bytes(out), "<i4").astype(np.int64)


@pytest.mark.parametrize("bits", [32, 64])
def test_requantization_emulated(bits):
    """Every edge crossed with every edge and random sizes, on an emulated 32- and 64-bit word."""
    acc, m, s = takeable_requant_cases(np.random.default_rng(6), 6000)
    got = emulated_requant(bits, acc, m, s)
    expected = expected_requant(acc, m, s)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), "%d-bit: %d differ, e.g. acc %d m %d shift %d: %d, expected %d" % (
        bits, len(bad), acc[bad[0]], m[bad[0]], s[bad[0]], got[bad[0]], expected[bad[0]])


@pytest.mark.parametrize("bits", [32, 64])
def test_srdhm_words_emulated(bits):
    """_srdhm_words (SOFTMAX's and L2_NORMALIZATION's per-row fixed point) is gemmlowp's
    SaturatingRoundingDoublingHighMul for every edge crossed with every edge and random sizes."""
    from picoml.fixedpoint import saturating_rounding_doubling_high_mul
    a, b, _ = requant_cases(np.random.default_rng(7), 3000)
    softmax = emulated_family(bits, "softmax")
    words = bytearray(12)
    got = []
    for x, y in zip(a.tolist(), b.tolist()):
        words[:8] = np.array([x, y], "<i4").tobytes()
        softmax._srdhm_words(words)
        got.append(int(np.frombuffer(bytes(words[8:]), "<i4")[0]))
    expected = [int(v) for v in saturating_rounding_doubling_high_mul(a, b)]
    bad = [i for i in range(len(a)) if got[i] != expected[i]]
    assert not bad, "%d-bit: %d differ, e.g. srdhm(%d, %d) = %d, expected %d" % (
        bits, len(bad), a[bad[0]], b[bad[0]], got[bad[0]], expected[bad[0]])


def _words_function(bits, family, name, slot, values, size):
    """The int32 that the emulated viper function `name` of kernels_viper_<family> leaves in word `slot` of a
    `size`-word array holding each of `values` there."""
    module = emulated_family(bits, family)
    words = bytearray(4 * size)
    got = []
    for x in values:
        words[4 * slot:4 * slot + 4] = np.array([x], "<i4").tobytes()
        getattr(module, name)(words)
        got.append(int(np.frombuffer(bytes(words[4 * slot:4 * slot + 4]), "<i4")[0]))
    return got


@pytest.mark.parametrize("bits", [32, 64])
def test_reciprocal_and_log_words_emulated(bits):
    """_reciprocal_words (SOFTMAX's and LOG_SOFTMAX's 1 / (1 + x)) and _log_words (LOG_SOFTMAX's log of the row's
    sum) are kernels_python's, value for value: every int32 edge and random values for the reciprocal, sums from 0
    to 4095 * 2^19 (the deepest row) for the log. Their roundings move an int8 output only rarely, so the models
    alone would not show an error in them."""
    kp, _ = emulated_device(bits)
    rng = np.random.default_rng(8)
    edges = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, INT32_MAX - 1, 1 << 30, -(1 << 30)]
    values = edges + [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 1500, endpoint=True)]
    assert _words_function(bits, "softmax", "_reciprocal_words", 3, values, 4) == [
        kp.one_over_one_plus_x_for_x_in_0_1(v) for v in values]
    sums = [0, 1, 1 << 19, (1 << 19) + 1, 4095 << 19, (1 << 31) - 1] + [1 << k for k in range(31)] + \
        [int(v) for v in rng.integers(1 << 19, 4095 << 19, 1500)] + [int(v) for v in rng.integers(0, 1 << 22, 300)]
    assert _words_function(bits, "normalize", "_log_words", 4, sums, 5) == [python_runs(kp).log_of_sum(v)
                                                                           for v in sums]


def mutant(replace):
    """viper_sources() with each line whose stripped text is a key of `replace` replaced by its value's lines."""
    sources = viper_sources()
    mutated = {}
    for name, text in sources.items():
        out = []
        for line in text.splitlines():
            stripped = line.strip()
            indent = line[:len(line) - len(stripped)]
            new = replace.get(stripped, None)
            out += [line] if new is None else [indent + n for n in new]
        mutated[name] = "\n".join(out) + "\n"
    assert mutated != sources
    return mutated


def test_the_emulation_catches_a_64_bit_product():
    """A mutant whose high multiply is the naive (acc * m + 2**30) >> 31 passes on the 64-bit word and fails on
    the 32-bit one: the emulation tells the two apart."""
    high_word = "v = ((ah * bh) << 1) + (hx >> 15) + (rt >> 15)"
    sources = mutant({high_word: ["v = (acc * ((bh << 16) + bl) + (1 << 30)) >> 31"]})
    acc, m, s = takeable_requant_cases(np.random.default_rng(7), 3000)
    expected = expected_requant(acc, m, s)
    assert np.array_equal(emulated_requant(64, acc, m, s, sources), expected)
    assert not np.array_equal(emulated_requant(32, acc, m, s, sources), expected)


MUTANTS = {
    # the output offset added before clamping: v + offset leaves int32 on a 32-bit word only
    "offset_then_clamp": ({"if v < lo:": ["v += ooff", "if v < amin:"], "elif v > hi:": ["elif v > amax:"],
                           "v += ooff": ["v += 0"]}, 32),
    # no wrap of the accumulator to int32: only a 64-bit word keeps the excess
    "no_int32_wrap": ({"acc = (acc << ext) >> ext": ["acc = acc"]}, 64),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_emulation_catches_word_size_bugs(small_cases, name):
    """Each mutant fails on the word it is wrong for and passes on the other."""
    replace, wrong_on = MUTANTS[name]
    sources = mutant(replace)
    picked = {k: v for k, v in small_cases.items() if k.startswith(("fc", "conv", "dw"))}
    failures = {}
    for bits in (32, 64):
        failures[bits] = []
        for case, (blob, runs) in picked.items():
            outputs, _ = run_emulated(blob, runs, bits, sources)
            try:
                assert_matches_reference(case, blob, runs, outputs, "mutant")
            except AssertionError:
                failures[bits].append(case)
    right_on = 96 - wrong_on
    assert failures[wrong_on] and not failures[right_on], failures


@pytest.fixture(scope="module")
def small_cases():
    return edge_cases(small=True)


def falls_back(name):
    """Whether the single-op case `name` is one whose op the viper code does not take (kernels_python runs it)."""
    return "negative" in name


@pytest.mark.parametrize("bits", [32, 64])
def test_single_op_models_emulated(small_cases, bits):
    """Every small single-op model on the emulated word gives the reference's bytes, in viper code (no op falls
    back to kernels_python but those with a negative multiplier)."""
    t0 = time.time()
    for name, (blob, runs) in small_cases.items():
        outputs, fallbacks = run_emulated(blob, runs, bits)
        assert (fallbacks != []) == falls_back(name), name
        assert_matches_reference(name, blob, runs, outputs, "emulated %d-bit viper" % bits)
    print("%d single-op models emulated on a %d-bit word in %.1f s" % (len(small_cases), bits, time.time() - t0))


def test_single_op_models_on_the_unix_port(small_cases, tmp_path):
    cases = dict(small_cases)
    cases.update({"large_" + k: v for k, v in edge_cases(small=False, seed=1).items()})
    results = run_unix_port(tmp_path, cases)
    for name, (blob, runs) in cases.items():
        outputs, python_ops, fallback = results[name]
        assert python_ops == [] and (fallback != 0) == falls_back(name), (name, python_ops, fallback)
        assert_matches_reference(name, blob, runs, outputs, "unix port viper")


def _model_runs(blob, count, seed):
    model = format.read(blob)
    return [[x] for x in test_inputs(model.tensors[model.inputs[0].tensor].shape,
                                    model.tensors[model.inputs[0].tensor].zero_point, count, seed=seed)]


def test_every_op_but_python_ops_runs_in_viper_code(tmp_path):
    """On every real and generated model, no op but PYTHON_OPS' is left to kernels_python and no
    viper prepare falls back to it (one input each; every model's bytes on this backend: test_runtimes.py)."""
    cases = {name: (models.pml(name), _model_runs(models.pml(name), 1, seed=3))
             for name in sorted(models.GENERATED + models.MLPERF)}
    results = run_unix_port(tmp_path, cases)
    seen = set()
    for name, (blob, runs) in cases.items():
        outputs, python_ops, fallback = results[name]
        model = format.read(blob)
        assert fallback == 0, name
        assert {model.ops[i].name for i in python_ops} <= PYTHON_OPS, name
        seen |= {op.name for op in model.ops}
        assert_matches_reference(name, blob, runs, outputs, "unix port viper")
    assert VIPER_OPS <= seen


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense_fused_acts", "activations_1d", "residual_add", "multiply", "concat",
                                  "pad_gap", "ad01_int8"])
def test_models_emulated_32_bit(name):
    blob = models.pml(name)
    runs = _model_runs(blob, 1 if models.is_real(name) else 2, seed=4)
    outputs, fallbacks = run_emulated(blob, runs, 32)
    assert fallbacks == []
    assert_matches_reference(name, blob, runs, outputs, "emulated 32-bit viper")


@pytest.mark.parametrize("name", ["kws_ref_model", "pretrainedResnet_quant", "concat", "pad_gap", "multiply",
                                  "activations_2d"])
def test_predict_allocates_nothing(name, tmp_path):
    """On the 64-bit unix port (on 32-bit boards too: no viper value ever becomes a Python int on the way)."""
    blob = models.pml(name)
    model = format.read(blob)
    (tmp_path / "m.pml").write_bytes(blob)
    assert device("allocated", tmp_path / "m.pml", "viper", model.tensors[model.inputs[0].tensor].nbytes) == 0


def test_benchmark_kws(tmp_path):
    (tmp_path / "kws.pml").write_bytes(models.pml(KWS))
    us = device("benchmark", tmp_path / "kws.pml", "viper:20", "python:2")
    print("kws_ref_model on the unix port (x64): viper %d us per inference, python %d us (%.1fx)"
          % (us["viper"], us["python"], us["python"] / max(us["viper"], 1)))


def test_the_compiled_mpy_gives_the_same_bytes(tmp_path):
    """kernels_viper*.mpy from mpy-cross -march=x64 (how boards get them, for their arch) in place of the
    sources."""
    package = tmp_path / "lib" / "picoml"
    package.mkdir(parents=True)
    for src in (DEVICE / "picoml").glob("*.py"):
        if src not in VIPER_FILES:
            (package / src.name).write_text(src.read_text())
    for src in VIPER_FILES:
        subprocess.run([mpy_cross(), "-march=x64", "-o", str(package / src.with_suffix(".mpy").name), str(src)],
                       check=True, capture_output=True, text=True)
    rng = np.random.default_rng(12)
    cases = {"kws": (models.pml(KWS), _model_runs(models.pml(KWS), 3, seed=5)),
             "conv": (lambda made: (made[0], runs_for(rng, made[1], made[2])))(conv_case(rng, extreme=True)),
             "dw": (lambda made: (made[0], runs_for(rng, made[1], made[2])))(conv_case(rng, depthwise=True))}
    results = run_unix_port(tmp_path, cases, path=[tmp_path / "lib"])
    assert len(results[None]) >= 2 and all(f.endswith(".mpy") for f in results[None]), results[None]
    for name, (blob, runs) in cases.items():
        assert_matches_reference(name, blob, runs, results[name][0], "x64 .mpy")


DROPS_PYTHON = r"""
import gc, sys, picoml
def resident():
    gc.collect()
    return [name in sys.modules for name in ("picoml.prepare", "picoml.kernels_python", "picoml.kernels_audio",
                                             "picoml._ops")]
m = picoml.load(%(viper)r, backend="viper")
print(*resident())
f = picoml.load(%(frontend)r, backend="viper")        # every op of the audio front-end in viper code too
print(*resident(), f.python_ops)
k = picoml.load(%(python)r, backend="viper")          # its SOFTMAX in kernels_python: kernels_viper_softmax is missing
print(*resident(), k.python_ops)
m2 = picoml.load(%(viper)r, backend="viper")
print(*resident(), m2.predict(m2.inputs[0].data) is not None)
"""


def test_a_model_all_in_viper_code_leaves_no_pure_python_kernels(tmp_path):
    """Once a model whose every op runs in viper code is loaded (the audio front-end too), the pure-Python kernels'
    load-time half (prepare, and kernels_audio: load-time there) and the op codes are dropped, and their
    runs (kernels_python) were never imported; a model that runs any of them keeps them for good (dropping them
    then would leave their code alive beside a second copy on the next load)."""
    import shutil
    from picoml.runtimes.unix import run_script
    package = tmp_path / "partial"
    shutil.copytree(DEVICE / "picoml", package / "picoml")
    (package / "picoml" / "kernels_viper_softmax.py").unlink()
    (tmp_path / "m.pml").write_bytes(models.pml("dense_fused_acts"))
    (tmp_path / "k.pml").write_bytes(models.pml(KWS))
    out = run_script(DROPS_PYTHON % {"viper": str(tmp_path / "m.pml"), "frontend": str(resources.frontend_model()),
                                     "python": str(tmp_path / "k.pml")}, path=[package])
    softmax = [i for i, op in enumerate(format.read(models.pml(KWS)).ops) if op.name == "SOFTMAX"]
    assert out.splitlines() == ["False False False False", "False False False False []",
                                "True True False False %s" % softmax, "True True False False True"]


FAMILIES = r"""
import sys, picoml
m = picoml.load(%(model)r, backend="viper")
xs = [bytearray(len(i.data)) for i in m.inputs]
y = m.predict(xs[0] if len(xs) == 1 else xs)
print(" ".join(sorted(n[len("picoml.kernels_viper_"):] for n in sys.modules if n.startswith("picoml.kernels_viper_"))))
print(" ".join(str(i) for i in m.python_ops), bytes(y[0] if isinstance(y, list) else y).hex())
"""


def _family_of_ops():
    """{op name: family} from the core's table (written by picoml.viper_source from the families' KERNELS)."""
    import re
    return dict(re.findall(r'^    _ops\.OP_(\w+): "(\w+)",$', KV.read_text(), re.M))


@pytest.mark.parametrize("name", ["kws_ref_model", "concat", "dense_fused_acts"])
def test_a_model_loads_only_the_viper_families_of_its_ops(tmp_path, name):
    """The family modules imported are those of the model's ops; with one of them missing from the board (a partial
    copy) its ops run in kernels_python, with the same bytes."""
    import shutil
    from picoml.runtimes.unix import run_script
    blob = models.pml(name)
    model = format.read(blob)
    (tmp_path / "m.pml").write_bytes(blob)
    family = _family_of_ops()
    wanted = sorted({family[op.name] for op in model.ops if op.name in family})
    loaded, rest = run_script(FAMILIES % {"model": str(tmp_path / "m.pml")}).splitlines()
    assert loaded.split() == wanted and rest.split()[:-1] == []
    zeros = [np.zeros(model.tensors[io.tensor].shape, np.int8) for io in model.inputs]
    expected = reference.run(model, zeros)[0].tobytes().hex()
    assert rest.split()[-1] == expected

    package = tmp_path / "partial"
    shutil.copytree(DEVICE / "picoml", package / "picoml")
    missing = wanted[-1]
    (package / "picoml" / ("kernels_viper_%s.py" % missing)).unlink()
    loaded, rest = run_script(FAMILIES % {"model": str(tmp_path / "m.pml")}, path=[package]).splitlines()
    assert loaded.split() == [f for f in wanted if f != missing]
    python_ops = [int(i) for i in rest.split()[:-1]]
    assert python_ops == [i for i, op in enumerate(model.ops) if family.get(op.name) == missing] != []
    assert rest.split()[-1] == expected


def test_every_python_prepare_has_its_run():
    """prepare.FAMILY and kernels_python.RUNS name the same ops (the two halves of each pure-Python kernel), each
    family module's PREPARES holds exactly the ops FAMILY gives it, and kernels_viper has a kernel for each."""
    kp, kv = emulated_device(64)
    assert set(kp.FAMILY) == set(python_runs(kp).RUNS) and len(kp.FAMILY) >= 20
    for name in set(kp.FAMILY.values()):
        assert set(kp.family(name).PREPARES) == {code for code, f in kp.FAMILY.items() if f == name}, name
    assert all(kv.kernel(code) is not None for code in kp.FAMILY)
