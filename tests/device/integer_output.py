# An int32 output (ARG_MAX's indices; argv: model, the input as an int8 file, the backend): predict's bytes (out
# None), its values into a list and into an array('i'), and a wrong-sized array and top() refused.
import json
import sys
from array import array
from binascii import hexlify

import picoml

m = picoml.load(sys.argv[1], backend=sys.argv[3])
x = array("b", open(sys.argv[2], "rb").read())
raw = bytes(m.predict(x))
n = len(raw) // 4
values = [0] * n
m.predict(x, out=values)
ints = array("i", [0] * n)
m.predict(x, out=ints)
try:
    m.predict(x, out=array("i", [0] * (n + 1)))
    refused = ""
except ValueError as e:
    refused = str(e)
try:
    top = list(m.top())
except ValueError as e:
    top = str(e)
print(json.dumps({"raw": hexlify(raw).decode(), "list": values, "array": list(ints), "refused": refused, "top": top}))
