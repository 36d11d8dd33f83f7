# Float input and output (argv: model, the input as a little-endian float32 file, the number of output values):
# the quantized input, the dequantized output into an array('f') and into a list, and the int8 output, as hex.
import json
import sys
from array import array
from binascii import hexlify

import picoml

m = picoml.load(sys.argv[1], backend="python")
xf = array("f", open(sys.argv[2], "rb").read())
xl = list(xf)
m._put(0, xl)
quantized = bytes(m.inputs[0].data)
n = int(sys.argv[3])
f = array("f", [0.0] * n)
m.predict(xf, out=f)
lst = [0.0] * n
m.predict(xl, out=lst)
i8 = m.predict(tuple(xl))
print(json.dumps({"quantized": hexlify(quantized).decode(), "f32": hexlify(bytes(f)).decode(),
                  "list": hexlify(bytes(array("f", lst))).decode(), "int8": hexlify(bytes(i8)).decode()}))
