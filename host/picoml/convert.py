""".tflite -> .pml: import, plan, record what TFLite Micro would need, serialise."""
import math
import os
import pathlib
import subprocess
import sys
import tempfile

from . import format, planner
from .errors import FormatError, PicomlError, UnsupportedModelError
from .tflite_import import import_tflite


# Run in a child process: TFLite Micro does not verify the flatbuffer it is given, and a damaged or hostile
# .tflite can crash it (`picoml fuzz --target convert` found segfaults). In a child, that is only a missing
# measurement; the file has also passed picoml's own import first.
_MEASURE = ("import sys\nfrom picoml.oracle import arena_bytes\n"
            "total, head = arena_bytes(open(sys.argv[1], 'rb').read())\nprint(total, -1 if head is None else head)\n")


def tflm_arena(tflite_bytes, timeout=120):
    """TFLite Micro's arena bytes for the model ({"total", "activations"}), measured by its runtime in a child
    process, or None when that runtime cannot load the model (or fails in any way)."""
    package_root = str(pathlib.Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root] + [p for p in sys.path if p]))
    with tempfile.TemporaryDirectory(prefix="picoml_tflm_") as tmp:
        path = os.path.join(tmp, "model.tflite")
        with open(path, "wb") as f:
            f.write(tflite_bytes)
        try:
            done = subprocess.run([sys.executable, "-c", _MEASURE, path], capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return None
    try:
        total, head = (int(v) for v in done.stdout.split())
    except ValueError:          # the child failed or crashed: no measurement
        return None
    return {"total": total, "activations": None if head < 0 else head}


def convert(tflite_bytes, name="", labels=None, measure_tflm=True, input_info=None):
    """A planned Model from .tflite bytes, which the device's checks accept (an UnsupportedModelError names the
    rule otherwise: a damaged .tflite can have, say, scales whose multiplier no shift holds); TFLite Micro's
    arena is measured (in a child process) only once picoml has accepted the file."""
    model = import_tflite(tflite_bytes, os.path.basename(name))
    planner.plan(model)
    try:
        format.validate(format.write(model))
    except FormatError as e:
        raise UnsupportedModelError("the converted model breaks a rule of the .pml format: %s" % e)
    model.metadata["tflite_bytes"] = len(tflite_bytes)
    if labels:
        _check_labels(model, labels)
        model.metadata["labels"] = list(labels)
    if input_info:
        model.metadata["input"] = dict(input_info)
    if measure_tflm:
        arena = tflm_arena(tflite_bytes)
        if arena:
            model.metadata["tflm_arena"] = arena
    return model


def _check_labels(model, labels):
    """One label per class: an output of the model has as many values as there are labels (top() and `picoml run`
    name the largest value of an output by its label)."""
    shapes = [list(model.tensors[o.tensor].shape) for o in model.outputs]
    if len(labels) not in [math.prod(shape) for shape in shapes]:
        raise PicomlError("%d labels given, but the model's output%s %s: give one label per class (per value of "
                          "the output)" % (len(labels), "s" * (len(shapes) > 1), " and ".join(
                              "%s has %d values" % (shape, math.prod(shape)) for shape in shapes)))
