# Heap bytes five predicts allocate after warm-up and a collection (argv: model, backend, input bytes).
import gc
import json
import sys

import picoml


def allocated(m, x, n):
    # locals only: a new global or a range() iterator would allocate by themselves
    m.predict(x)
    gc.collect()
    m.predict(x)        # after a collection the model object allocates 32 bytes once, whatever the backend
    gc.disable()
    i = 0
    before = gc.mem_alloc()
    while i < n:
        m.predict(x)
        i += 1
    used = gc.mem_alloc() - before
    gc.enable()
    return used


print(json.dumps(allocated(picoml.load(sys.argv[1], backend=sys.argv[2]), bytearray(int(sys.argv[3])), 5)))
