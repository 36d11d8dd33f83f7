# A model with two inputs and two outputs (argv: model, input 0 hex, input 1 hex): lists, tuples, out buffers,
# a wrong input count, no allocation with the heap locked, top().
import json
import sys
from array import array
from binascii import hexlify, unhexlify

import micropython
import picoml

m = picoml.load(sys.argv[1], backend="python")
xa = array("b", unhexlify(sys.argv[2]))
xb = array("b", unhexlify(sys.argv[3]))
r = {}
ys = m.predict([xa, xb])
r["outputs"] = [type(ys).__name__, len(ys), list(ys[0]), list(ys[1])]
r["same_object"] = m.predict((bytes(xa), bytearray(xb))) is ys
f = array("f", [0.0] * 8)
b = bytearray(8)
m.predict([xa, xb], out=[b, f])
r["out"] = [list(array("b", b)), hexlify(bytes(f)).decode()]
try:
    m.predict(xa)
except ValueError as e:
    r["one_input"] = str(e)
both = [xa, xb]
outs = [b, bytearray(8)]
m.predict(both)
m.predict(both, outs)
micropython.heap_lock()
try:
    m.predict(both)
    m.predict(both, outs)
    locked = "ok"
except MemoryError:
    locked = "allocates"
micropython.heap_unlock()
r["locked"] = locked
r["top"] = list(m.top(1))
print(json.dumps(r))
