"""What `picoml inspect` prints: ops, shapes, quantization, MACs, arena and weights bytes."""
import numpy as np


def macs(model, op):
    """Multiply-accumulates of one op."""
    out = model.tensors[op.outputs[0]]
    n_out = int(np.prod(out.shape))
    if op.name == "CONV_2D":
        f = model.tensors[op.inputs[1]].shape
        return n_out * f[1] * f[2] * f[3]
    if op.name == "DEPTHWISE_CONV_2D":
        f = model.tensors[op.inputs[1]].shape
        return n_out * f[1] * f[2]
    if op.name == "FULLY_CONNECTED":
        return n_out * model.tensors[op.inputs[1]].shape[1]
    return 0


def _shape(t):
    return "x".join(str(d) for d in t.shape) or "scalar"


def _quant(t):
    return "s=%.6g zp=%d" % (t.scale, t.zero_point)


def summary(model, file_size):
    weights = model.weights_size
    total_macs = sum(macs(model, op) for op in model.ops)
    meta = model.metadata
    lines = ["model       %s" % (meta.get("source") or "?"),
             "file        %d bytes (.pml)" % file_size]
    if meta.get("tflite_bytes"):
        lines[-1] += ", %d bytes (.tflite), ratio %.3f" % (meta["tflite_bytes"], file_size / meta["tflite_bytes"])
    lines.append("weights     %d bytes" % weights)
    arena = "arena       %d bytes" % model.arena_size
    tflm = meta.get("tflm_arena")
    if tflm:
        arena += " (TFLite Micro: %d bytes%s; ratio %.2f)" % (
            tflm["total"], "" if tflm.get("activations") is None else ", of which %d for activations"
            % tflm["activations"], model.arena_size / tflm["total"])
    lines.append(arena)
    lines.append("ops         %d, %d MACs" % (len(model.ops), total_macs))
    for kind, entries in (("input", model.inputs), ("output", model.outputs)):
        for e in entries:
            t = model.tensors[e.tensor]
            lines.append("%-11s %s int8 %s%s" % (kind, _shape(t), _quant(t), " (float32 at the edge)" if e.float_edge else ""))
    if meta.get("labels"):
        lines.append("labels      %s" % ", ".join(meta["labels"]))
    if meta.get("input"):
        lines.append("input info  %s" % ", ".join("%s=%s" % kv for kv in sorted(meta["input"].items())))
    return lines


def op_table(model):
    lines = ["%3s  %-18s %-22s %-16s %-24s %10s  %s" % ("#", "op", "inputs", "output", "output quant", "MACs", "layer")]
    for i, op in enumerate(model.ops):
        ins = [model.tensors[t] for t in op.inputs if t >= 0 and not model.tensors[t].is_constant]
        out = model.tensors[op.outputs[0]]
        lines.append("%3d  %-18s %-22s %-16s %-24s %10d  %s" % (
            i, op.name, ",".join(_shape(t) for t in ins), _shape(out), _quant(out), macs(model, op), op.label))
    return lines


def tensor_table(model):
    lines = ["%3s  %-6s %-16s %-8s %8s %8s  %s" % ("#", "dtype", "shape", "storage", "offset", "bytes", "quant")]
    for i, t in enumerate(model.tensors):
        lines.append("%3d  %-6s %-16s %-8s %8d %8d  %s" % (i, t.dtype.name, _shape(t),
                                                           "weights" if t.is_constant else "arena",
                                                           t.offset, t.nbytes, _quant(t)))
    return lines
