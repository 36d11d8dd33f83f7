# A model in a small heap (argv: model, a file holding the int8 input): where the library came from, the heap
# free after load, the library modules kept in memory, and the output as hex.
import gc
import json
import sys
from binascii import hexlify

import picoml

m = picoml.load(sys.argv[1], backend="python")
gc.collect()
free = gc.mem_free()
modules = sorted([k for k in sys.modules if k.startswith("picoml")])
y = m.predict(open(sys.argv[2], "rb").read())
print(json.dumps({"module": picoml.__file__, "free": free, "modules": modules, "output": hexlify(bytes(y)).decode()}))
