# An int16 input and an int8 output without a scale (argv: the audio front-end's .pml, the backend): its samples as
# a list, a tuple and an array('h') give the same features (the state reset before each); the mistakes refused:
# half its bytes as bytes (they used to be taken as 480 samples of 0..255), floats, too many values, and floats out
# of an output that has no scale (they used to be all zeros). {case: output hex or [exception type, message]}.
import json
import sys
from array import array

import picoml

m = picoml.load(sys.argv[1], backend=sys.argv[2])
n = len(m.inputs[0].data) // 2
samples = [(k * 37) % 2000 - 1000 for k in range(n)]
got = {}


def attempt(name, f):
    m.reset()
    try:
        got[name] = bytes(f()).hex()
    except Exception as e:  # noqa: BLE001
        got[name] = [type(e).__name__, str(e)]


attempt("array", lambda: m.predict(array("h", samples)))
attempt("list", lambda: m.predict(samples))
attempt("tuple", lambda: m.predict(tuple(samples)))
attempt("bytes", lambda: m.predict(bytes(array("h", samples))))
attempt("half_bytes", lambda: m.predict(bytes(n)))
attempt("half_bytearray", lambda: m.predict(bytearray(n)))
attempt("floats", lambda: m.predict([0.5] * n))
attempt("float_array", lambda: m.predict(array("f", [0.5] * n)))
attempt("too_many", lambda: m.predict([0] * (2 * n)))
attempt("floats_out", lambda: m.predict(array("h", samples), out=array("f", [0.0] * m.outputs[0].size)))
attempt("list_out", lambda: m.predict(array("h", samples), out=[0] * m.outputs[0].size))
got["repr"] = repr(m)
print(json.dumps(got))
