""".tflite -> .pml: import, plan, record what TFLite Micro would need, serialise."""
import os

from . import format, planner
from .tflite_import import import_tflite


def tflm_arena(tflite_bytes):
    """TFLite Micro's arena bytes for the model, or None when its runtime cannot load it."""
    from .oracle import arena_bytes
    try:
        total, head = arena_bytes(tflite_bytes)
    except Exception:
        return None
    return {"total": total, "activations": head}


def convert(tflite_bytes, name="", labels=None, measure_tflm=True, input_info=None):
    """A planned Model from .tflite bytes."""
    model = import_tflite(tflite_bytes, os.path.basename(name))
    planner.plan(model)
    model.metadata["tflite_bytes"] = len(tflite_bytes)
    if labels:
        model.metadata["labels"] = list(labels)
    if input_info:
        model.metadata["input"] = dict(input_info)
    if measure_tflm:
        arena = tflm_arena(tflite_bytes)
        if arena:
            model.metadata["tflm_arena"] = arena
    return model


def convert_file(src, dst, labels=None, input_info=None):
    with open(src, "rb") as f:
        data = f.read()
    model = convert(data, src, labels, input_info=input_info)
    blob = format.write(model)
    with open(dst, "wb") as f:
        f.write(blob)
    return model, blob
