# top(), info(), repr() and benchmark() after one predict (argv: model, a file holding the int8 input, the backend:
# python unless given).
import json
import sys

import picoml

m = picoml.load(sys.argv[1], backend=sys.argv[3] if len(sys.argv) > 3 else "python")
m.predict(open(sys.argv[2], "rb").read())
top = m.top()
info = dict((k, repr(v)) for k, v in m.info().items())
text = repr(m)
us = m.benchmark(2)
print(json.dumps({"top": list(top), "info": info, "repr": text, "benchmark_us": us, "top_after": list(m.top())}))
