"""The runtimes `picoml run` can execute a .pml on. Each takes (pml bytes, list of input arrays, backend) and
returns the int8 outputs."""
from . import format, reference
from .errors import PicomlError


def run_reference(pml_bytes, inputs, backend=None):
    if backend:
        raise PicomlError("--backend applies to the micropython and qemu runtimes; the reference runtime has none")
    return reference.run(format.read(pml_bytes), inputs)


def run_micropython(pml_bytes, inputs, backend=None):
    from . import unix_port
    return unix_port.run_model(pml_bytes, [inputs], backend or "native")[0]


def run_qemu(target):
    def run(pml_bytes, inputs, backend=None):
        from . import qemu
        return qemu.run_model(pml_bytes, [inputs], target, backend or "native")[0]
    return run


RUNTIMES = {"reference": run_reference, "micropython": run_micropython,
            "qemu-m4": run_qemu("m4"), "qemu-m0": run_qemu("m0")}
