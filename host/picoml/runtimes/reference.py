"""The numpy reference interpreter (picoml.reference) as a runtime: what every other runtime must equal."""
import time

from .. import format, reference
from . import Batch, Bench, Runtime, zero_inputs


class Reference(Runtime):
    name = "reference"

    def run_batch(self, pml_bytes, batch, backend=None):
        self.backend(backend)
        model = format.read(pml_bytes)
        return Batch([reference.run(model, inputs) for inputs in batch])

    def bench(self, pml_bytes, backend=None, count=20):
        self.backend(backend)
        model = format.read(pml_bytes)
        x = zero_inputs(model)
        interpreter = reference.Interpreter(model)
        interpreter.run(x)
        start = time.perf_counter()
        for _ in range(count):
            interpreter.run(x)
        return Bench(self.name, us=(time.perf_counter() - start) / count * 1e6)
