"""Speed of the C kernels on the DS-CNN keyword-spotting model (MLPerf Tiny kws_ref_model), built with gcc -O2 and
-O3 for this machine. Not a test: prints microseconds per inference and per layer.

    .venv/bin/python tests/bench_c_kernels.py [n_inferences]

Times `CRuntime.run` (what the tests call: input copy in Python + pml_invoke through ctypes) and bare
`pml_invoke` calls, each as the best of 5 rounds (this machine's speed varies). The model is timed without its
final SOFTMAX op (the FULLY_CONNECTED output becomes the model output), so that only these kernels count, and
whole when the SOFTMAX kernel is there. Each layer is then timed alone, on the input it sees in the model.
The libraries are `make hostlib`'s build/host/libpicoml.so (-O2) and libpicoml_O3.so."""
import copy
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import models  # noqa: E402
from picoml.runtimes import c as c_runtime  # noqa: E402
from picoml import format, planner, reference  # noqa: E402
from picoml.convert import convert  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
KWS = models.CONFORMANCE / "mlperf_tiny" / "kws_ref_model.tflite"
MY_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D")


def without_last_op(model):
    """The model up to its last op, the last op's input as the output (the plan holds for the ops left: a
    planned model has lost the views that planning again would need)."""
    m = copy.deepcopy(model)
    last = m.ops.pop()
    m.outputs = [format.IO(last.inputs[0])]
    return m


def single_op(model, op):
    m = format.Model()
    index = {}
    for t in op.inputs + op.outputs:
        index[t] = m.add_tensor(copy.deepcopy(model.tensors[t]))
    m.ops.append(format.Op(op.name, [index[t] for t in op.inputs], [index[t] for t in op.outputs], op.params))
    m.inputs, m.outputs = [format.IO(index[op.inputs[0]])], [format.IO(index[op.outputs[0]])]
    return planner.plan(m)


def best_of_5(call, n):
    """Microseconds per call: the best of 5 rounds of n / 5 calls, the one least disturbed by the machine."""
    call()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n // 5):
            call()
        best = min(best, (time.perf_counter() - t0) / (n // 5) * 1e6)
    return best


def time_run(runtime, x, n):
    return best_of_5(lambda: runtime.run([x]), n)


def time_invoke(runtime, n):
    return best_of_5(runtime.invoke, n)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    model = convert(KWS.read_bytes(), KWS.name, measure_tflm=False)
    t = model.tensors[model.inputs[0].tensor]
    x = np.random.default_rng(0).integers(-128, 128, t.shape).astype(np.int8)
    trunk = without_last_op(model)
    layers = [(i, op) for i, op in enumerate(model.ops) if op.name in MY_OPS]
    trace = []
    reference.run(model, [x], trace)
    input_of = [x] + [outputs[0] for _, outputs in trace]   # the input each op sees (the model is a chain)
    for label, library in (("-O2", "libpicoml.so"), ("-O3", "libpicoml_O3.so")):
        lib = c_runtime.load(library)
        print("gcc %s (build/host/%s, `make hostlib`)" % (label, library))
        models = [("DS-CNN without SOFTMAX", trunk)]
        try:
            c_runtime.CRuntime(model, lib).run([x])
            models.append(("DS-CNN whole model", model))
        except RuntimeError:
            pass
        warm = c_runtime.CRuntime(trunk, lib)
        best_of_5(lambda: warm.run([x]), n)     # warm up: the machine's first second is slow
        for name, m in models:
            runtime = c_runtime.CRuntime(m, lib)
            assert np.array_equal(runtime.run([x])[0], reference.run(m, [x])[0]), "C and reference differ"
            print("  %-24s CRuntime.run %7.1f us/inference   pml_invoke %7.1f us/inference"
                  % (name, time_run(runtime, x, n), time_invoke(runtime, n)))
        total = 0.0
        for i, op in layers:
            runtime = c_runtime.CRuntime(single_op(model, op), lib)
            runtime.run([input_of[i]])
            us = time_invoke(runtime, max(n, 2000))
            total += us
            shapes = " ".join("x".join(map(str, model.tensors[k].shape)) for k in op.inputs[:2])
            print("    op %2d %-18s %-24s %6.1f us" % (i, op.name, shapes, us))
        print("    sum of the layers (each timed alone, ctypes call included): %.1f us" % total)


if __name__ == "__main__":
    main()
