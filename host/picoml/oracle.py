"""TensorFlow Lite Micro (PyPI `tflite-micro`) as the oracle: outputs, every intermediate tensor, arena use."""
import os
import re
import tempfile

import tflite


def _runtime():
    try:
        from tflite_micro import runtime
    except ImportError:
        raise ImportError("the TFLite Micro runtime is not installed: pip install tflite-micro")
    return runtime


ORACLE_ARENA = 1 << 22


class Oracle:
    def __init__(self, tflite_bytes, keep_all_tensors=False):
        runtime = _runtime()
        config = runtime.InterpreterConfig.kPreserveAllTensors if keep_all_tensors else \
            runtime.InterpreterConfig.kAllocationRecording
        # the package's default arena (ten times the file) is too small for a small model with large activations
        self.interpreter = runtime.Interpreter.from_bytes(bytes(tflite_bytes), intrepreter_config=config,
                                                          arena_size=max(10 * len(tflite_bytes), ORACLE_ARENA))
        self.n_outputs = tflite.Model.GetRootAsModel(bytes(tflite_bytes), 0).Subgraphs(0).OutputsLength()

    def run(self, inputs):
        for i, x in enumerate(inputs):
            self.interpreter.set_input(x, i)
        self.interpreter.invoke()
        return [self.interpreter.get_output(i) for i in range(self.n_outputs)]

    def reset(self):
        """Every op's state back to its start (TFLite Micro's MicroInterpreter::Reset)."""
        self.interpreter.reset()

    def tensor(self, index):
        return self.interpreter.GetTensor(index, 0)["tensor_data"]


def arena_bytes(tflite_bytes):
    """(total arena bytes TFLite Micro allocates, of which non-persistent 'head' bytes for activations)."""
    runtime = _runtime()
    interpreter = runtime.Interpreter.from_bytes(bytes(tflite_bytes))
    with tempfile.TemporaryFile(mode="w+") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read()
    total = re.search(r"Arena allocation total (\d+) bytes", text)
    head = re.search(r"Arena allocation head (\d+) bytes", text)
    if not total:
        raise RuntimeError("could not read TFLite Micro's arena report:\n" + text)
    return int(total.group(1)), int(head.group(1)) if head else None
