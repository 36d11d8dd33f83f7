"""The kernels' scratch in the arena's free bytes (native_module/scratch.c, at load): an op's scratch lies only over
bytes that no tensor still needs during it. Every model on every C code path gives the reference's bytes with its
scratch placed (test_runtimes.py); the models here are built so that a placement breaking one of the rule's cases
lands on the bytes that case keeps: a model output written before the op, state, an input read after it."""
import numpy as np
import pytest

from picoml import format, planner, reference
from picoml.runtimes import c as c_runtime

pytestmark = pytest.mark.fast

VARIANTS = ["c", "m4", "m4-300", "m0"]
APART = 0xFFFFFFFF


def _conv(model, rng, x, channels, name):
    """A 3x3 SAME CONV_2D of x into a new int8 tensor of `channels` channels (whose kernels take scratch on
    every code path: columns, rings or a band); returns the output's index."""
    shape = model.tensors[x].shape
    c_in = shape[3]
    filters = rng.integers(-127, 128, (channels, 3, 3, c_in)).astype(np.int8)
    constants = [filters, rng.integers(-3000, 3000, channels).astype(np.int32),
                 np.full(channels, 1 << 30, np.int32), np.full(channels, -8, np.int32)]
    inputs = [x] + [model.add_tensor(format.Tensor(c.shape, c.dtype, data=c, name="%s_%d" % (name, k)))
                    for k, c in enumerate(constants)]
    y = model.add_tensor(format.Tensor(shape[:3] + (channels,), np.int8, 0.25, 3, name=name))
    params = {"stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": 1, "pad_left": 1,
              "input_offset": 5, "output_offset": 3, "act_min": -128, "act_max": 127}
    model.ops.append(format.Op("CONV_2D", inputs, [y], params))
    return y


def _two_branches(slack=2048):
    """x into a wide output `a` (the first model output, the largest buffer: offset 0), then x into `b`: when
    b's convolution runs, a is needed only because the caller reads it. `slack` free bytes at the arena's end
    take the scratch that fits nowhere lower."""
    rng = np.random.default_rng(7)
    model = format.Model()
    x = model.add_tensor(format.Tensor((1, 6, 6, 8), np.int8, 0.5, -5, name="x"))
    a = _conv(model, rng, x, 32, "a")
    b = _conv(model, rng, x, 4, "b")
    model.inputs = [format.IO(x)]
    model.outputs = [format.IO(a), format.IO(b)]
    planner.plan(model)
    model.arena_size += slack
    return model


def _with_state_first(model, nbytes):
    """The model with a state tensor of nbytes at the arena's start (the others after it), which no op reads: the
    caller's, kept from one run to the next."""
    for t in model.tensors:
        if not t.is_constant:
            t.offset += nbytes
    model.add_tensor(format.Tensor((nbytes,), np.int8, 1.0, 0, name="kept", state=True))
    model.arena_size += nbytes
    return model


def _loaded(model, variant):
    """The model in the C runtime of that code path, asserting some op's scratch lies in the arena (else the case
    would test nothing)."""
    runtime = c_runtime.CRuntime(format.write(model), c_runtime.load(c_runtime.VARIANTS[None if variant == "c"
                                                                                      else variant]))
    assert (runtime.scratch_at != APART).any(), "no op's scratch placed"
    return runtime


def _input(model, seed):
    return np.random.default_rng(seed).integers(-128, 128, model.tensors[model.inputs[0].tensor].shape).astype(np.int8)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_model_output_written_before_the_op_keeps_its_bytes(variant):
    model = _two_branches()
    runtime = _loaded(model, variant)
    for seed in range(3):
        x = _input(model, seed)
        got = runtime.run([x])
        for g, want in zip(got, reference.run(model, [x])):
            assert np.array_equal(g, want)


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_keeps_its_bytes(variant):
    model = _with_state_first(_two_branches(), 2048)
    kept = model.tensors[-1]
    pattern = np.arange(kept.nbytes, dtype=np.uint8) * 37 % 251
    x = _input(model, 0)
    runtime = _loaded(model, variant)
    runtime.arena[kept.offset:kept.offset + kept.nbytes] = pattern
    got = runtime.run([x])
    assert np.array_equal(runtime.arena[kept.offset:kept.offset + kept.nbytes], pattern)
    for g, want in zip(got, reference.run(model, [x])):
        assert np.array_equal(g, want)


def test_the_placement_takes_the_arena_a_caller_gives(variant="m4"):
    """Bytes past the model's arena_size in a larger arena are free during every op: every scratch fits there."""
    model = _two_branches(slack=0)
    blob = format.write(model)
    lib = c_runtime.load(c_runtime.VARIANTS[variant])
    _, largest = c_runtime.check(lib, blob, model.arena_size)
    at = np.zeros(len(model.ops), np.uint32)
    status, apart = c_runtime.check(lib, blob, model.arena_size + largest, at)
    assert status == 0 and apart == 0 and largest > 0
    assert all(a != APART and a + 4 <= model.arena_size + largest for a in at)
