"""Compare the reference interpreter with TFLite Micro, op by op, so a mismatch names the first op that differs."""
import numpy as np

from picoml import format, reference
from picoml.convert import convert
from picoml.oracle import Oracle


def converted(tflite_bytes, name=""):
    """(model as read back from its .pml bytes, .pml bytes, source tensor map)."""
    model = convert(tflite_bytes, name, measure_tflm=False)
    blob = format.write(model)
    back = format.read(blob)
    assert format.write(back) == blob, "write(read(b)) != b"
    return back, blob, model.source_tensors


def first_difference(model, source_tensors, oracle, inputs):
    """None if every op's output equals TFLite Micro's tensor, else a message naming the first op that differs."""
    trace = []
    reference.run(model, inputs, trace)
    for i, outputs in trace:
        op = model.ops[i]
        for t, ours in zip(op.outputs, outputs):
            if t not in source_tensors:
                continue    # a tensor picoml made (REDUCE_MAX's pools): the ops reading it or the outputs compare it
            theirs = oracle.tensor(source_tensors[t]).reshape(-1)
            if not np.array_equal(theirs, ours.reshape(-1)):
                diff = np.abs(theirs.astype(np.int32) - ours.reshape(-1).astype(np.int32))
                return "op %d %s (layer %r) differs in %d of %d values, by up to %d" % (
                    i, op.name, op.label, int((diff > 0).sum()), diff.size, int(diff.max()))
    return None


def check_model(tflite_bytes, inputs_for, n_inputs, name=""):
    """Run n_inputs through both and assert identical outputs; every 10th input also compares intermediates."""
    model, _, sources = converted(tflite_bytes, name)
    oracle = Oracle(tflite_bytes, keep_all_tensors=True)
    in_tensors = [model.tensors[e.tensor] for e in model.inputs]
    per_input = [inputs_for(t, n_inputs) for t in in_tensors]
    for k in range(n_inputs):
        oracle.reset()      # each input from the state at load, as reference.run takes it (an LSTM keeps state)
        xs = [per_input[j][k] for j in range(len(in_tensors))]
        feed = [reference.dequantize(x, t.scale, t.zero_point) if e.float_edge else x
                for x, t, e in zip(xs, in_tensors, model.inputs)]
        want = oracle.run(feed)
        got = reference.run(model, feed)
        for w, g, e in zip(want, got, model.outputs):
            t = model.tensors[e.tensor]
            if e.float_edge:
                g = reference.dequantize(g, t.scale, t.zero_point)
            if not np.array_equal(np.asarray(w).reshape(-1), g.reshape(-1)) or k % 10 == 0:
                where = first_difference(model, sources, oracle, feed)
                assert where is None, "%s input %d: %s" % (name, k, where)
                assert np.array_equal(np.asarray(w).reshape(-1), g.reshape(-1)), "%s input %d: outputs differ" % (name, k)
    return model


def op_by_op_differences(model, source_tensors, oracle, skip=lambda op: False):
    """Each op run on TFLite Micro's own input tensors, compared with its output tensor (after oracle.run).
    Returns messages for the ops that differ; ops touching picoml-made tensors or `skip(op)` are left out."""
    from picoml.ops import REFERENCE
    problems = []
    for i, op in enumerate(model.ops):
        operands = [t for t in op.inputs + op.outputs if t >= 0 and not model.tensors[t].is_constant]
        if skip(op) or any(t not in source_tensors for t in operands):
            continue
        args = []
        for t in op.inputs:
            tensor = model.tensors[t] if t >= 0 else None
            if tensor is None:
                args.append(None)
            elif tensor.is_constant:
                args.append(tensor.data)
            else:
                args.append(oracle.tensor(source_tensors[t]).reshape(tensor.shape))
        results = REFERENCE[op.name](op, args, [model.tensors[t] for t in op.outputs])
        for t, ours in zip(op.outputs, results):
            theirs = oracle.tensor(source_tensors[t]).reshape(-1)
            if not np.array_equal(theirs, ours.reshape(-1)):
                problems.append("op %d %s (layer %r)" % (i, op.name, op.label))
    return problems


def rescaling_relus(tflite_bytes, model):
    """The LUT ops of `model` that stand for a TFLite RELU family op whose input and output quantization differ:
    the one known departure from TFLite Micro, whose int8 RELU6 ignores the output scale (picoml follows TFLite;
    docs/format.md, tests/test_relu6.py)."""
    from picoml.tflite_import import parse
    labels = {op.label for op in parse(tflite_bytes)[0] if op.name.startswith("RELU")}
    found = set()
    for i, op in enumerate(model.ops):
        if op.name == "LUT" and op.label in labels:
            a, b = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
            if (a.scale, a.zero_point) != (b.scale, b.zero_point):
                found.add(i)
    return found
