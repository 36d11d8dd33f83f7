# With fakes/native_picoml.py as _picoml (argv: model, a file holding the int8 input): the native backend runs it,
# an invoke failure is reported, a module that refuses the model (status -2) makes auto fall back and forced fail.
import json
import sys
from binascii import hexlify

import _picoml
import picoml

data = open(sys.argv[1], "rb").read()
x = open(sys.argv[2], "rb").read()
r = {}
m = picoml.load(data)
r["native"] = [m.backend, hexlify(bytes(m.predict(x))).decode()]
_picoml.STATUS[0] = -3
try:
    m.predict(x)
except RuntimeError as e:
    r["invoke"] = str(e)
_picoml.STATUS[0] = -2
m = picoml.load(data)
r["refused"] = [m.backend, m.info()["backend_notes"], hexlify(bytes(m.predict(x))).decode()]
try:
    picoml.load(data, backend="native")
except ValueError as e:
    r["forced"] = str(e)
print(json.dumps(r))
