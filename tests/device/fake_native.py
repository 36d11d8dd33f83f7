# With fakes/native_picoml.py as _picoml (argv: model, a file holding the int8 input, the refusal's rule number):
# the native backend runs it; a module that refuses the model at load is worded by picoml.validate as the Python
# backends word it, whether the backend was chosen automatically or forced.
import json
import sys
from binascii import hexlify

import _picoml
import picoml

data = open(sys.argv[1], "rb").read()
x = open(sys.argv[2], "rb").read()
r = {"refused": []}
m = picoml.load(data)
r["native"] = [m.backend, hexlify(bytes(m.predict(x))).decode()]
_picoml.REFUSE[0] = (0, -1, int(sys.argv[3]), -1, 5)
for backend in (None, "native"):
    try:
        picoml.load(data, backend)
    except ValueError as e:
        r["refused"].append(str(e))
print(json.dumps(r))
