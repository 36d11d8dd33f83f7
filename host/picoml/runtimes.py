"""The runtimes `picoml run` can execute a .pml on. Each takes (pml bytes, list of input arrays) and returns the
int8 outputs; later runtimes (the MicroPython unix port, emulated cores) register here."""
from . import format, reference


def run_reference(pml_bytes, inputs):
    return reference.run(format.read(pml_bytes), inputs)


RUNTIMES = {"reference": run_reference}
