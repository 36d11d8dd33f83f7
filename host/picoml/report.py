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
    if op.name == "BATCH_MATMUL":
        lhs = model.tensors[op.inputs[0]].shape
        return n_out * lhs[-2 if op.params["adj_x"] else -1]
    if op.name == "LSTM":      # per output value (a unit at a step), four gates' input and recurrent FCs
        return n_out * (model.tensors[op.inputs[1]].shape[0] // out.shape[2]) * \
            (model.tensors[op.inputs[1]].shape[1] + out.shape[2])
    return 0


def _shape(t):
    return "x".join(str(d) for d in t.shape) or "scalar"


def _quant(t):
    return "s=%.6g zp=%d" % (t.scale, t.zero_point)


def _count(value):
    """value if it is a positive integer (a count picoml wrote into the metadata), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def summary(model, file_size):
    """The lines of inspect's summary. The metadata is only what the device checks (a JSON object, labels and
    op_labels lists): keys picoml writes holding something else are shown as they are or left out."""
    weights = model.weights_size
    total_macs = sum(macs(model, op) for op in model.ops)
    meta = model.metadata
    lines = ["model       %s" % (meta.get("source") or "?"),
             "file        %d bytes (.pml)" % file_size]
    tflite_bytes = _count(meta.get("tflite_bytes"))
    if tflite_bytes:
        lines[-1] += ", %d bytes (.tflite), ratio %.3f" % (tflite_bytes, file_size / tflite_bytes)
    lines.append("weights     %d bytes" % weights)
    arena = "arena       %d bytes" % model.arena_size
    tflm = meta.get("tflm_arena")
    total = _count(tflm.get("total")) if isinstance(tflm, dict) else None
    if total:
        activations = tflm.get("activations")
        arena += " (TFLite Micro: %d bytes%s; ratio %.2f)" % (
            total, ", of which %d for activations" % activations if _count(activations) else "",
            model.arena_size / total)
    lines.append(arena)
    lines.append("ops         %d, %d MACs" % (len(model.ops), total_macs))
    for kind, entries in (("input", model.inputs), ("output", model.outputs)):
        for e in entries:
            t = model.tensors[e.tensor]
            lines.append("%-11s %s %s %s%s" % (kind, _shape(t), t.dtype.name, _quant(t),
                                               " (float32 at the edge)" if e.float_edge else ""))
    if meta.get("labels"):
        lines.append("labels      %s" % ", ".join(str(label) for label in meta["labels"]))
    info = meta.get("input")
    if info:
        lines.append("input info  %s" % (", ".join("%s=%s" % kv for kv in sorted(info.items()))
                                         if isinstance(info, dict) else info))
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
                                                           "weights" if t.is_constant else
                                                           ("state" if t.state else "arena"),
                                                           t.offset, t.nbytes, _quant(t)))
    return lines
