# A stand-in _picoml native module: a Model that runs the model with the pure-Python kernels, or, while REFUSE[0]
# holds (op, tensor, rule, detail, value), refuses it at load as the real module's validation does.
REFUSE = [None]


class Model:
    def __init__(self, buf, arena):
        if REFUSE[0]:
            raise ValueError(*REFUSE[0])
        from picoml import prepare, pml, validate
        header = pml.check_header(buf)

        class Prepared:
            pass
        p = Prepared()
        p.buffer = buf
        p._steps = (validate.check(buf, len(arena)), arena, header[10], header[16], None)
        prepare.prepare(p)
        self.steps = p._steps

    def invoke(self):
        for run, state in self.steps:
            run(state)

    def predict(self, x, out):
        return False    # as the real module for an input it does not copy: Model.predict's Python path runs
