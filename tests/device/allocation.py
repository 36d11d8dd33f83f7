# Heap allocated by predict after warm-up, int8 in and out (argv: backend, model paths...):
# {file name: [bytes allocated over the repetitions, "ok" or "allocates" with the heap locked]}.
import gc
import json
import sys
from array import array

import micropython
import picoml


def measure(m, x, outb, reps):
    # locals only: a new global would allocate by itself
    m.predict(x)
    m.predict(x, outb)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(reps):
        m.predict(x)
        m.predict(x, outb)
    after = gc.mem_alloc()
    micropython.heap_lock()
    try:
        m.predict(x)
        m.predict(x, outb)
        locked = "ok"
    except MemoryError:
        locked = "allocates"
    micropython.heap_unlock()
    gc.enable()
    return [after - before, locked]


result = {}
for path in sys.argv[2:]:
    m = picoml.load(path, backend=sys.argv[1])
    shape = m.info()["inputs"][0]["shape"]
    n = 1
    for d in shape:
        n *= d
    x = array("b", [((i * 37) & 0xFF) - 128 for i in range(n)])
    outb = bytearray(len(m.predict(x)))
    result[path.split("/")[-1]] = measure(m, x, outb, 2 if n > 400 else 10)
print(json.dumps(result))
