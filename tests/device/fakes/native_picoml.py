# A stand-in _picoml native module: check() and invoke() return STATUS[0]; invoke runs the model with the
# pure-Python kernels.
STATUS = [0]
_models = {}


def check(buf, arena_size):
    return STATUS[0]


def invoke(buf, arena):
    import picoml
    m = _models.get(id(buf))
    if m is None:
        m = _models[id(buf)] = picoml.load(buf, "python")
    m._arena[:] = arena
    m._run()
    arena[:] = m._arena
    return STATUS[0]
