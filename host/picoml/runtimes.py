"""The runtimes `picoml run` can execute a .pml on. Each takes (pml bytes, list of input arrays, backend) and
returns the int8 outputs."""
from . import format, reference
from .errors import PicomlError


def run_reference(pml_bytes, inputs, backend=None):
    if backend:
        raise PicomlError("--backend applies to the micropython runtime; the reference runtime has none")
    return reference.run(format.read(pml_bytes), inputs)


def run_micropython(pml_bytes, inputs, backend=None):
    from . import unix_port
    return unix_port.run_model(pml_bytes, [inputs], backend or "native")[0]


RUNTIMES = {"reference": run_reference, "micropython": run_micropython}
