"""The conformance test: every model (the real ones and the generated ones) on every runtime gives the numpy
reference's bytes, through the one runtime interface (picoml.runtimes).

Each target below is a runtime with a backend and options, and how many of each model's test inputs it runs
(models.inputs: the same inputs everywhere; models.pick chooses which). Tiers, as pytest markers:
  fast      the first 4 inputs (the extremes and one random) on the C kernels (with their Cortex-M4 and Cortex-M0
            code paths in portable C) and the unix port's native backend
  slow      the rest of their inputs, and the unix port's viper and pure-Python backends
  emulated  picoml's MicroPython port on QEMU (Cortex-M4F, Cortex-M0, Xtensa dc233c with the ESP32's xtensawin
            module and viper code) and the bare-metal kernels on emulated cores (QEMU, rp2040js)
What a target measures on the way is checked too: on the bare-metal cores the instruction counts (the Cortex-M0
on QEMU and the RP2040's Cortex-M0+ on rp2040js run the same instructions) and the cycles.
"""
import dataclasses

import numpy as np
import pytest

import models
from picoml import runtimes

FAST_INPUTS = 4


@dataclasses.dataclass(frozen=True)
class Target:
    runtime: str
    backend: str = None
    options: tuple = ()         # (name, value) pairs given to runtimes.get
    real: object = 0            # inputs per real model: a number, or {name: number}
    generated: int = 0          # inputs per generated model
    tier: str = "slow"
    fast: bool = False          # the first FAST_INPUTS inputs form the fast tier

    @property
    def id(self):
        return "-".join([self.runtime] + ([self.backend] if self.backend else [])
                        + ["%s=%s" % kv for kv in self.options if kv[1] is not None])

    def count(self, name):
        if not models.is_real(name):
            return self.generated
        if isinstance(self.real, dict):
            return self.real.get(name, 0)
        return self.real


def _qemu(target):
    return [
        Target("qemu-" + target, "native", real=8, generated=4, tier="emulated"),  # in the heap where it fits
        Target("qemu-" + target, "native", (("model_in", "flash"),), real={n: 8 for n in models.FITS_BOARD_HEAP},
               tier="emulated"),                                                      # the others are there anyway
        Target("qemu-" + target, "viper", (("model_in", "flash"),),
               real={"kws_ref_model": 3, "micro_speech_quantized": 3}, generated=3, tier="emulated"),
        Target("qemu-" + target, "python", generated=2, tier="emulated"),
    ]


TARGETS = [
    Target("c", real=50, generated=20, fast=True),
    # the Cortex-M4 and Cortex-M0 code paths of the kernels, in portable C on this machine
    Target("c", options=(("variant", "m4"),), real=20, generated=20, fast=True),
    Target("c", options=(("variant", "m0"),), real=20, generated=20, fast=True),
    # the Cortex-M4's with its scratch held to 300 bytes (smaller rings and columns)
    Target("c", options=(("variant", "m4-300"),), real=4, generated=4, fast=True),
    Target("unix", "native", real=50, generated=20, fast=True),
    Target("unix", "viper", real=6, generated=4),
    # the pure-Python backend takes 0.2-1 s per inference of the larger models
    Target("unix", "python", real={"ad01_int8": 10, "kws_ref_model": 5, "str_ww_ref_model": 10, "vww_96_int8": 2,
                                   "pretrainedResnet_quant": 2, "micro_speech_quantized": 5}, generated=5),
    *_qemu("m4"),
    # the M4 firmware's option that keeps native code out of the heap (docs/memory.md)
    Target("qemu-m4", "native", (("native_code", "flash"),), real=2, generated=1, tier="emulated"),
    *_qemu("m0"),
    # the ESP32's module and viper code (xtensawin) on an emulated Xtensa dc233c core (not an ESP32)
    *_qemu("xtensa"),
    Target("bare-m4", real=4, generated=6, tier="emulated"),
    Target("bare-m0plus", real=4, generated=6, tier="emulated"),
    Target("bare-m0", real=4, generated=6, tier="emulated"),
]


def _cases():
    cases = []
    for name in models.REAL + models.GENERATED:
        for target in TARGETS:
            count = target.count(name) if name != models.MISSING else 1
            if not count:
                continue
            indices = models.pick(count)
            chunks = [(indices[:FAST_INPUTS], "fast"), (indices[FAST_INPUTS:], target.tier)] if target.fast \
                else [(indices, target.tier)]
            for chunk, tier in chunks:
                if chunk:
                    cases.append(pytest.param(name, target, tuple(chunk), marks=getattr(pytest.mark, tier),
                                              id="%s-%s-%d:%d" % (name, target.id, chunk[0], chunk[-1] + 1)))
    return cases


_runs = {}


def run(name, target, indices):
    """The Batch of the model's input sets `indices` on the target (once per session)."""
    key = (name, target.id, indices)
    if key not in _runs:
        runtime = runtimes.get(target.runtime, **{k: v for k, v in target.options if v is not None})
        batch = [models.inputs(name)[i] for i in indices]
        _runs[key] = runtime.run_batch(models.pml(name), batch, target.backend)
    return _runs[key]


@pytest.mark.parametrize("name, target, indices", _cases())
def test_same_bytes_as_the_reference(name, target, indices):
    batch = run(name, target, indices)
    assert len(batch.outputs) == len(indices)
    for index, outputs in zip(indices, batch.outputs):
        want = models.expected(name, index, first=indices[0])
        assert len(outputs) == len(want)
        for k, (got, w) in enumerate(zip(outputs, want)):
            assert got.dtype == w.dtype and got.shape == w.shape, (got.dtype, got.shape, w.dtype, w.shape)
            if not np.array_equal(got, w):
                bad = np.argwhere(got != w)
                pytest.fail("%s on %s, input %d, output %d: %d of %d values differ, first at %s: %d, the "
                            "reference %d" % (name, target.id, index, k, len(bad), got.size, bad[0].tolist(),
                                              got[tuple(bad[0])], w[tuple(bad[0])]), pytrace=False)
    if target.backend:
        assert batch.backend == target.backend
    if target.runtime.startswith("qemu-"):
        assert batch.model_in == dict(target.options).get("model_in", batch.model_in)
    if target.runtime.startswith("bare-"):
        assert len(batch.insns) == len(indices) and min(batch.insns) > 0
    if target.runtime == "bare-m0plus":
        assert len(batch.cycles) == len(indices) and all(c >= i for c, i in zip(batch.cycles, batch.insns))
    if target.runtime == "bare-m0":
        rp2040 = next(t for t in TARGETS if t.runtime == "bare-m0plus")
        assert batch.insns == run(name, rp2040, indices).insns, "QEMU's Cortex-M0 and rp2040js ran different code"
