# A model whose arena does not fit the heap (argv: that model, a good one): the MemoryError, then the
# interpreter still runs the good model.
import json
import sys

import picoml

try:
    picoml.load(sys.argv[1], backend="python")
    error = None
except MemoryError as e:
    error = str(e)
m = picoml.load(sys.argv[2], backend="python")
print(json.dumps({"error": error, "alive": len(m.predict(bytes(64)))}))
